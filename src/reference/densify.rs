//! Sparse constants: DENSIFY, and which ops may read a sparse tensor.
//!
//! LiteRT keeps a sparse constant compressed (its bytes are the stored values) and expands
//! it in exactly two places: the DENSIFY kernel (`kernels/densify.cc`: float32, float16 and
//! int8, once, into a persistent output) and the reference FULLY_CONNECTED with float32
//! sparse weights (`reference_ops::FullyConnectedSparseWeight`: densify, then the dense
//! kernel). Both run `FormatConverter::SparseToDense` ([`crate::model::sparsity::densify`]).
//!
//! Here every sparse constant is densified once at prepare ([`constants`], charged to the
//! memory budget), and a DENSIFY output is a constant from then on, which the ops reading
//! it see as the dense weights they are in LiteRT after the first DENSIFY. Every other op
//! that reads a sparse tensor is refused by name ([`check_sparse_inputs`]): LiteRT would read
//! the compressed bytes as if dense.

use super::{dims, Kernel, OpCtx};
use crate::model::{self, sparsity, DType, Op, Subgraph};
use crate::{Buf, Error, Result, Tensor};

/// The builtin code of DENSIFY (not a typed op: it has no options).
pub(crate) const DENSIFY: i32 = 124;

/// Whether `op` is DENSIFY.
pub(crate) fn is_densify(op: &model::Operator) -> bool {
    matches!(&op.op, Op::Other(o) if o.code == DENSIFY)
}

/// The decoded constant values of subgraph `si`, by tensor index: dense constants as
/// stored, sparse ones densified (their dense size charged to `budget`), and the output of
/// every DENSIFY whose input is a sparse constant given that input's dense value.
pub(crate) fn constants(
    si: usize,
    sg: &Subgraph,
    budget: &crate::memory::Budget,
) -> Result<Vec<Option<Tensor>>> {
    let mut consts = Vec::with_capacity(sg.tensors.len());
    for (ti, t) in sg.tensors.iter().enumerate() {
        consts.push(constant_value(si, ti, t, budget)?);
    }
    for op in sg.operators.iter().filter(|op| is_densify(op)) {
        if let (Some(i), Some(&o)) = (op.input(0), op.outputs.first()) {
            let Ok(o) = usize::try_from(o) else { continue };
            let input = &sg.tensors[i];
            let output = &sg.tensors[o];
            // Only when the kernel's prepare would accept it (checked there with the reason).
            if input.sparsity.is_some()
                && output.data.is_none()
                && output.dtype == input.dtype
                && output.shape == input.shape
            {
                consts[o] = consts[i].clone();
            }
        }
    }
    Ok(consts)
}

/// Decode a constant tensor's data into a value (a sparse one densified, its dense size
/// charged to `budget`). `Ok(None)` for activations and for data of types that are kept
/// undecoded (only ops that read them would fail, at prepare).
pub(crate) fn constant_value(
    si: usize,
    ti: usize,
    t: &model::Tensor,
    budget: &crate::memory::Budget,
) -> Result<Option<Tensor>> {
    let Some(data) = &t.data else { return Ok(None) };
    if t.sparsity.is_some() {
        budget.charge(t.dense_bytes(), || {
            format!(
                "the dense contents of sparse tensor {ti} ('{}', {} {:?}) of subgraph {si}",
                t.name, t.dtype, t.shape
            )
        })?;
        let dense = sparsity::densify(t)
            .map_err(|e| Error::InvalidModel(format!("subgraph {si} tensor {ti}: {e}")))?;
        return Buf::from_le_bytes(t.dtype, &dense)
            .map(|buf| Tensor::new(&dims(t), buf))
            .transpose();
    }
    let Some(buf) = Buf::from_le_bytes(t.dtype, data) else {
        return Ok(None);
    };
    Tensor::new(&dims(t), buf).map(Some)
}

/// Refuse an op that reads a sparse tensor where LiteRT's kernel does not expand it.
/// Allowed: DENSIFY's input, and the weights of a float32 FULLY_CONNECTED (the reference
/// kernel densifies them). int8 sparse FULLY_CONNECTED weights run LiteRT's optimized 1x16
/// block kernel even under BUILTIN_REF, and hybrid ones its sparse hybrid kernel; neither
/// is implemented here, so they are refused with that reason.
pub(crate) fn check_sparse_inputs(ctx: &OpCtx) -> Result<()> {
    for (k, t) in ctx.op.inputs.iter().enumerate() {
        let Ok(t) = usize::try_from(*t) else { continue };
        let tensor = &ctx.sg.tensors[t];
        if tensor.sparsity.is_none() {
            continue;
        }
        if is_densify(ctx.op) && k == 0 {
            continue;
        }
        if let Op::FullyConnected(_) = ctx.op.op {
            let input_f32 = ctx.opt_input(0).is_some_and(|x| x.dtype == DType::F32);
            if k == 1 && tensor.dtype == DType::F32 && input_f32 {
                continue;
            }
            if k == 1 {
                return Err(ctx.unsupported(format!(
                    "its weights, tensor {t} ('{}', {}), are stored sparse: LiteRT runs sparse \
                     {} FULLY_CONNECTED weights with its optimized sparse kernels only (int8: \
                     1x16 blocks; hybrid: a ledger of blocks), even under BUILTIN_REF, and \
                     litequant has no kernel for them; only float32 sparse weights are read \
                     directly (or any weights through DENSIFY)",
                    tensor.name,
                    tensor.dtype,
                    if input_f32 { "hybrid" } else { "int8" }
                )));
            }
        }
        return Err(ctx.unsupported(format!(
            "input {k}, tensor {t} ('{}'), is stored sparse, and only DENSIFY and \
             FULLY_CONNECTED's float32 weights read sparse tensors (LiteRT's kernels would \
             read the compressed values as if dense)",
            tensor.name
        )));
    }
    Ok(())
}

/// DENSIFY: the dense value of its sparse constant input, computed at prepare (LiteRT
/// computes it on the first run and keeps it).
pub(crate) struct DensifyKernel {
    pub dense: Tensor,
}

impl Kernel for DensifyKernel {
    fn run(&self, _inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        outputs[0] = self.dense.clone();
        Ok(())
    }
}

/// LiteRT's checks (`densify.cc` Prepare/Eval): one input and one output; the input a
/// sparse constant of float32, float16 or int8; the output of its type and shape.
pub(crate) fn prepare_densify(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 1 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!(
            "DENSIFY takes 1 input and 1 output, has {} and {}",
            ctx.num_inputs(),
            ctx.op.outputs.len()
        )));
    }
    let input = ctx.input(0)?;
    let output = ctx.output(0)?;
    if input.data.is_none() || input.sparsity.is_none() {
        return Err(ctx.invalid(format!(
            "DENSIFY's input '{}' must be a sparse constant",
            input.name
        )));
    }
    if !matches!(input.dtype, DType::F32 | DType::F16 | DType::I8) {
        return Err(ctx.unsupported(format!(
            "LiteRT's DENSIFY takes FLOAT32, FLOAT16 or INT8, not {}",
            input.dtype
        )));
    }
    if output.dtype != input.dtype || output.shape != input.shape {
        return Err(ctx.invalid(format!(
            "DENSIFY's output '{}' ({} {:?}) must have its input's type and shape ({} {:?})",
            output.name, output.dtype, output.shape, input.dtype, input.shape
        )));
    }
    let dense = ctx
        .const_input(0)
        .ok_or_else(|| ctx.unsupported("DENSIFY's input could not be decoded"))?;
    Ok(Box::new(DensifyKernel {
        dense: dense.clone(),
    }))
}
