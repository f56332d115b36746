//! Prepare-time constants computed from the tensor shapes: SHAPE's output (the engines know
//! every shape at prepare), and the int32/int64 tensors computed from such values and the
//! model's constants alone (`STRIDED_SLICE`, `PACK`, `CONCATENATION`, `GATHER`, `CAST`, ...
//! of a SHAPE: what the converter writes for a dynamic batch). LiteRT evaluates these in
//! its `Prepare` too (SHAPE's output and constant-input GATHERs are persistent read-only
//! tensors), and FILL, BROADCAST_TO and RESHAPE read them as shapes. Each value is computed
//! by the op's own reference kernel, so it is what the run computes; both engines then treat
//! it as a constant (the kernels still run on the reference engine; the GPU engine uploads
//! the value).

use crate::model::{DType, Op, Subgraph};
use crate::{Result, Tensor};

use super::{FloatOrder, OpCtx};

/// Largest folded tensor (elements): shape arithmetic, not data.
const MAX_FOLDED: usize = 1 << 16;

/// Extend `consts` with the values computable at prepare (see the module docs), in operator
/// order. An op that cannot be prepared or run here is left to the normal path (which
/// reports it).
pub(crate) fn fold_shape_values(
    sg: &Subgraph,
    consts: &mut [Option<Tensor>],
    float_order: FloatOrder,
    budget: &crate::memory::Budget,
) -> Result<()> {
    let mut folded = vec![false; consts.len()];
    for (index, op) in sg.operators.iter().enumerate() {
        let outs: Vec<usize> = op.output_tensors().collect();
        if outs.iter().any(|&t| consts[t].is_some()) {
            continue;
        }
        let small_ints = outs.iter().all(|&t| {
            let x = &sg.tensors[t];
            matches!(x.dtype, DType::I32 | DType::I64)
                && super::dims(x).iter().product::<usize>() <= MAX_FOLDED
        });
        if !small_ints {
            continue;
        }
        let is_shape = matches!(op.op, Op::Shape { .. });
        let from_folded = op.input_tensors().any(|t| folded[t])
            && op.input_tensors().all(|t| consts[t].is_some());
        if !is_shape && !from_folded {
            continue;
        }
        let values = {
            let ctx = OpCtx {
                index,
                op,
                sg,
                consts,
                float_order,
                budget,
            };
            let Ok(kernel) = super::prepare_op(&ctx) else {
                continue;
            };
            let ins: Vec<Option<&Tensor>> = op
                .inputs
                .iter()
                .map(|&t| usize::try_from(t).ok().and_then(|t| consts[t].as_ref()))
                .collect();
            let mut outs_v = Vec::with_capacity(outs.len());
            for &t in &outs {
                let x = &sg.tensors[t];
                match Tensor::try_zeros(x.dtype, &super::dims(x))? {
                    Some(z) => outs_v.push(z),
                    None => break,
                }
            }
            if outs_v.len() != outs.len() || kernel.run(&ins, &mut outs_v).is_err() {
                continue;
            }
            outs_v
        };
        for (&t, v) in outs.iter().zip(values) {
            consts[t] = Some(v);
            folded[t] = true;
        }
    }
    Ok(())
}

/// Operator `oi`'s int32/int64 outputs computed by its reference kernel from `known` values
/// and the model's constants (for shape propagation, `Model::with_input_shapes_evaluated`);
/// `None` when an input is neither or the op cannot be prepared or run here.
pub(crate) fn evaluate(
    sg: &Subgraph,
    oi: usize,
    known: &[Option<Vec<i64>>],
) -> Option<Vec<Vec<i64>>> {
    let op = sg.operators.get(oi)?;
    let budget = crate::memory::Budget::new(None);
    let mut consts: Vec<Option<Tensor>> = vec![None; sg.tensors.len()];
    for t in op.input_tensors() {
        let x = &sg.tensors[t];
        consts[t] = match &known[t] {
            Some(v) => {
                let buf = match x.dtype {
                    DType::I32 => crate::Buf::I32(v.iter().map(|&a| a as i32).collect()),
                    DType::I64 => crate::Buf::I64(v.clone()),
                    _ => return None,
                };
                Some(Tensor::new(&super::dims(x), buf).ok()?)
            }
            None => super::densify::constant_value(0, t, x, &budget).ok()?,
        };
    }
    let ctx = OpCtx {
        index: oi,
        op,
        sg,
        consts: &consts,
        float_order: FloatOrder::Reference,
        budget: &budget,
    };
    let kernel = super::prepare_op(&ctx).ok()?;
    let ins: Vec<Option<&Tensor>> = op
        .inputs
        .iter()
        .map(|&t| usize::try_from(t).ok().and_then(|t| consts[t].as_ref()))
        .collect();
    let mut outs = Vec::new();
    for t in op.output_tensors() {
        let x = &sg.tensors[t];
        if super::dims(x).iter().product::<usize>() > MAX_FOLDED {
            return None;
        }
        outs.push(Tensor::try_zeros(x.dtype, &super::dims(x)).ok()??);
    }
    kernel.run(&ins, &mut outs).ok()?;
    outs.iter()
        .map(|t| match t.buf() {
            crate::Buf::I32(v) => Some(v.iter().map(|&a| a as i64).collect()),
            crate::Buf::I64(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}
