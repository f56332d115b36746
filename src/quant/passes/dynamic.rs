//! Dynamic-range quantization: what the converter does for `Optimize.DEFAULT` without a
//! representative dataset (`PrepareDynamicRangeQuantizePass` + `QuantizePass`, TF 2.21).
//!
//! Rules (`prepare_quantize_dynamic_range.cc`, `tfl_ops.td`, checked on the fixtures):
//! - The weight operand (input 1) of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
//!   BATCH_MATMUL and TRANSPOSE_CONV, when it is a float32 constant with at least
//!   [`DynamicOptions::min_elements`] elements, becomes a symmetric int8 constant
//!   ([`crate::quant::weights::symmetric_int8`]): per channel on axis 0 (CONV_2D,
//!   FULLY_CONNECTED, TRANSPOSE_CONV) or 3 (DEPTHWISE_CONV_2D), per tensor for BATCH_MATMUL.
//! - The operator then runs its hybrid kernel on the int8 weight directly (no DEQUANTIZE);
//!   FULLY_CONNECTED and BATCH_MATMUL get `asymmetric_quantize_inputs = true`.
//! - Biases and every other constant stay float32. A constant that other operators also
//!   read stays in the model for them, beside its int8 copy; operators sharing one weight
//!   share one int8 tensor.
//! - The int8 tensor keeps the constant's location name (`tfl.pseudo_qconst` for
//!   constants without one); operator versions follow (CONV_2D 5, DEPTHWISE_CONV_2D 6,
//!   FULLY_CONNECTED 12 per channel, BATCH_MATMUL 4, TRANSPOSE_CONV 2 or 3 with a bias);
//!   `CONVERSION_METADATA` records
//!   `PTQ_DYNAMIC_RANGE`.
//!
//! Not handled (they stay float, where the converter would quantize them): the weights of
//! ops litequant keeps opaque (EMBEDDING_LOOKUP, LSTM/RNN/SVDF family,
//! CONV_3D, custom ops with a quantization spec), and sparse constants.

use crate::model::{DType, Op, QuantParams, Tensor};
use crate::quant::options::DynamicOptions;
use crate::quant::weights::{f32_values, symmetric_int8};
use crate::{Model, Result};

use super::layout::Item;
use super::{finish_with_maps, finished_twins, metadata, prepare, working_twins, Twins, Working};

/// Dynamic-range quantization of a float model, as the TFLite converter does it for
/// `Optimize.DEFAULT` without a dataset.
pub fn quantize_dynamic(model: &Model, options: &DynamicOptions) -> Result<Model> {
    quantize_dynamic_with_twins(model, options).map(|(m, _)| m)
}

/// [`quantize_dynamic`], also saying which tensor of `model` each int8 weight holds.
pub(crate) fn quantize_dynamic_with_twins(
    model: &Model,
    options: &DynamicOptions,
) -> Result<(Model, Twins)> {
    // Sparse float weights are quantized as the dense weights they stand for.
    let densified = super::sparse::densified(model)?;
    let model = densified.as_ref().map_or(model, |d| &d.model);
    let (mut works, naming) = prepare(model)?;
    if let Some(d) = &densified {
        d.forget_dropped(&mut works);
    }
    for w in &mut works {
        quantize_subgraph(w, options)?;
    }
    let twins = working_twins(model, &works);
    let (out, maps) = finish_with_maps(model, works, naming, metadata::PTQ_DYNAMIC_RANGE, false)?;
    Ok((out, finished_twins(twins, &maps)))
}

/// The quantizable weight slot of an operator and its per-channel axis (`None`: per
/// tensor), or `None` for operators without one.
fn weight_slot(op: &Op, options: &DynamicOptions) -> Option<(usize, Option<usize>)> {
    let pc = options.per_channel;
    match op {
        Op::Conv2D(_) => Some((1, pc.then_some(0))),
        Op::DepthwiseConv2D(_) => Some((1, pc.then_some(3))),
        // Weights `[O, H, W, I]`: per channel on axis 0, run by the hybrid kernel.
        Op::TransposeConv(_) => Some((1, pc.then_some(0))),
        Op::FullyConnected(_) => Some((1, (pc && options.per_channel_dense).then_some(0))),
        Op::BatchMatMul(_) => Some((1, None)),
        _ => None,
    }
}

fn quantize_subgraph(w: &mut Working, options: &DynamicOptions) -> Result<()> {
    let constants: std::collections::HashSet<usize> = w.body_constants().into_iter().collect();
    // (constant, axis) → the (operator, input slot) pairs that read it, in operator order.
    type Uses = Vec<(usize, usize)>;
    let mut plan: Vec<(usize, Option<usize>, Uses)> = Vec::new();
    for (k, op) in w.ops.iter().enumerate() {
        let Some((slot, axis)) = weight_slot(&op.op, options) else {
            continue;
        };
        let Some(t) = op.input(slot) else {
            continue;
        };
        let tensor = &w.tensors[t];
        let eligible = constants.contains(&t)
            && tensor.dtype == DType::F32
            && tensor.sparsity.is_none()
            && tensor.num_elements().is_some_and(|n| n >= options.min_elements as u64)
            // A per-axis type needs the axis (else the converter leaves the weight float).
            && axis.is_none_or(|a| a < tensor.shape.len());
        if !eligible {
            continue;
        }
        match plan.iter_mut().find(|(c, a, _)| *c == t && *a == axis) {
            Some((_, _, uses)) => uses.push((k, slot)),
            None => plan.push((t, axis, vec![(k, slot)])),
        }
    }

    let mut created: Vec<(usize, usize)> = Vec::new(); // (constant, int8 tensor)
    for (c, axis, uses) in plan {
        let float = &w.tensors[c];
        let shape: Vec<usize> = float.shape.iter().map(|&d| d as usize).collect();
        let values = f32_values(float.data.as_deref().unwrap_or_default());
        let q = symmetric_int8(&values, &shape, axis).map_err(|e| {
            crate::Error::InvalidModel(format!("tensor {c} ('{}'): {e}", float.name))
        })?;
        let n = q.scales.len();
        let tensor = Tensor {
            name: String::new(),
            dtype: DType::I8,
            shape: float.shape.clone(),
            shape_signature: float.shape_signature.clone(),
            quant: Some(QuantParams {
                scale: q.scales,
                zero_point: vec![0; n],
                quantized_dimension: axis.unwrap_or(0) as i32,
                ..Default::default()
            }),
            data: Some(
                q.values
                    .iter()
                    .map(|&v| v as u8)
                    .collect::<Vec<u8>>()
                    .into(),
            ),
            is_variable: false,
            sparsity: None,
            has_rank: float.has_rank,
            variant_tensors: Vec::new(),
            external_buffer: 0,
        };
        let base = w.location(c).unwrap_or("tfl.pseudo_qconst").to_string();
        let qt = w.add_twin(tensor, base, c);
        for (k, slot) in uses {
            let op = &mut w.ops[k];
            op.inputs[slot] = qt as i32;
            match &mut op.op {
                Op::FullyConnected(o) => o.asymmetric_quantize_inputs = true,
                Op::BatchMatMul(o) => o.asymmetric_quantize_inputs = true,
                _ => {}
            }
        }
        created.push((c, qt));
    }

    // Body: each int8 constant takes the place of its `tfl.quantize`, right after the
    // float constant (a second one for the same constant lands before the first); the
    // float constant stays only while something still reads it.
    let mut done = Vec::new();
    for &(c, _) in &created {
        if done.contains(&c) {
            continue;
        }
        done.push(c);
        let mut replacement = Vec::new();
        if w.is_used(c) {
            replacement.push(Item::Const {
                tensor: c,
                foldable: true,
            });
        }
        for &(_, qt) in created.iter().rev().filter(|(cc, _)| *cc == c) {
            replacement.push(Item::Const {
                tensor: qt,
                foldable: false,
            });
        }
        w.replace_const(c, replacement);
    }
    Ok(())
}
