//! CONCATENATION: `kernels/concatenation.cc` (Prepare's checks) and `reference/concatenation.h`
//! (`Concatenation`, uint8 `ConcatenationWithScaling`).

use crate::model::{self, Activation, DType};
use crate::Result;

use super::kernels::{ConcatKernel, Requant};
use super::{check_output_shape, legacy_params, shape_of, Kernel, OpCtx};

pub(in crate::reference) fn prepare_concatenation(
    ctx: &OpCtx,
    axis: i32,
    activation: Activation,
) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() < 1 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("needs at least one input and one output"));
    }
    // `TF_LITE_ENSURE_EQ(context, params->activation, kTfLiteActNone)`: LiteRT refuses a
    // fused activation (the Eval ignores it), so a model with one never runs there.
    if activation != Activation::None {
        return Err(ctx.unsupported(format!(
            "fused activation {activation:?}: TFLite's CONCATENATION accepts only NONE"
        )));
    }
    let inputs: Vec<&model::Tensor> = (0..ctx.num_inputs())
        .map(|i| ctx.input(i))
        .collect::<Result<_>>()?;
    let y = ctx.output(0)?;
    let t0 = inputs[0];
    let dtype = t0.dtype;
    if !matches!(
        dtype,
        DType::F32
            | DType::F16
            | DType::U8
            | DType::I8
            | DType::I16
            | DType::I32
            | DType::I64
            | DType::Bool
    ) {
        return Err(ctx.unsupported(format!("{dtype} tensors are not supported")));
    }
    if y.dtype != dtype || inputs.iter().any(|t| t.dtype != dtype) {
        return Err(ctx.unsupported("inputs and output must share one dtype"));
    }
    let mut shapes: Vec<Vec<usize>> = inputs.iter().map(|t| shape_of(t)).collect();
    let rank = shapes[0].len();
    let mut axis = if axis < 0 { axis + rank as i32 } else { axis };
    if rank == 0 && axis == 0 {
        // Scalars concatenate only when all are constants (computed at prepare in TFLite):
        // the output is [num_inputs].
        if (0..inputs.len()).any(|i| ctx.const_input(i).is_none()) {
            return Err(ctx.unsupported("concatenation of non-constant scalars"));
        }
        shapes = vec![vec![1]; inputs.len()];
        axis = 0;
    }
    let rank = shapes[0].len();
    let axis = usize::try_from(axis)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| ctx.invalid(format!("axis {axis} is out of range for rank {rank}")))?;
    let mut out_shape = shapes[0].clone();
    for s in &shapes[1..] {
        if s.len() != rank || (0..rank).any(|d| d != axis && s[d] != shapes[0][d]) {
            return Err(ctx.invalid(format!(
                "input shapes {shapes:?} do not concatenate along axis {axis}"
            )));
        }
        out_shape[axis] += s[axis];
    }
    check_output_shape(ctx, y, &out_shape)?;

    let (out_scale, out_zp) = legacy_params(y);
    let mut requant = vec![None; inputs.len()];
    match dtype {
        DType::I8 => {
            // "Make sure there is no re-scaling needed for Int8 quantized kernel."
            for (i, t) in inputs.iter().enumerate() {
                let (s, z) = legacy_params(t);
                if s != out_scale || z != out_zp {
                    return Err(ctx.unsupported(format!(
                        "int8 input {i} has scale {s} and zero point {z}, the output {out_scale} \
                         and {out_zp}: TFLite's int8 CONCATENATION does not requantize (the \
                         converter puts a QUANTIZE in front instead)"
                    )));
                }
            }
        }
        DType::I16 if out_zp != 0 || inputs.iter().any(|t| legacy_params(t).1 != 0) => {
            return Err(ctx.unsupported("int16 inputs and output need zero point 0"));
        }
        DType::U8 => {
            // ConcatenationWithScaling: copy when the parameters match, else requantize in
            // float with `1.f / output_scale`.
            for (i, t) in inputs.iter().enumerate() {
                let (s, z) = legacy_params(t);
                if z == out_zp && s == out_scale {
                    continue;
                }
                if !(out_scale > 0.0 && out_scale.is_finite()) {
                    return Err(ctx.unsupported(format!(
                        "uint8 input {i} needs requantization to an output without a scale"
                    )));
                }
                let inverse_output_scale = 1.0f32 / out_scale;
                let scale = s * inverse_output_scale;
                requant[i] = Some(Requant {
                    scale,
                    bias: (-z) as f32 * scale,
                    output_zero_point: out_zp,
                });
            }
        }
        _ => {}
    }
    let outer: usize = out_shape[..axis].iter().product();
    let inner: usize = out_shape[axis + 1..].iter().product();
    Ok(Box::new(ConcatKernel {
        what: ctx.label(),
        outer,
        copy: shapes.iter().map(|s| s[axis] * inner).collect(),
        requant,
    }))
}
