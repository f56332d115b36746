//! The 16x8 paths of the convolutions: int16 activations (zero point 0), int8 per-channel
//! weights, int64 bias, an int64 accumulator and TFLite's int64
//! `MultiplyByQuantizedMultiplier` with the multiplier reduced to 16 bits
//! (`kernels/internal/common.cc`).
//!
//! - CONV_2D: `conv.cc` `EvalQuantizedPerChannel16x8` → `reference_integer_ops::
//!   ConvPerChannel` (int16 overload, `reference/integer_ops/conv.h`) whenever the bias is
//!   int64, in every kernel type.
//! - DEPTHWISE_CONV_2D: `depthwise_conv.cc` `EvalQuantizedPerChannel16x8` →
//!   `reference_integer_ops::DepthwiseConvPerChannel` (int16 overload,
//!   `reference/integer_ops/depthwise_conv.h`).
//! - TRANSPOSE_CONV: `transpose_conv.cc` `EvalQuantizedPerChannel16x8` →
//!   `reference_integer_ops::TransposeConv` (int16 overload,
//!   `reference/integer_ops/transpose_conv.h`): an int64 scratch buffer, the bias after.
//!
//! None of these loops reads a zero point: `Prepare` requires 0 on the input and output
//! (`TF_LITE_ENSURE_EQ(context, input->params.zero_point, 0)`), and so does litequant. The
//! per-channel multipliers are the int8 ones, `QuantizeMultiplier((double)s_in ·
//! (double)s_w[c] / (double)s_out)` (`PopulateConvolutionQuantizationParams`); the clamp is
//! the fused activation's range in int16.

use crate::model::{self, Activation, DType};
use crate::quant::fixedpoint::{
    multiply_by_quantized_multiplier_i64, quantize_multiplier, ReducedMultiplier,
};
use crate::{Buf, Error, Result, Tensor};

use super::super::common::quantized_activation_range;
use super::super::{Kernel, OpCtx};
use super::transpose_conv::TconvShape;
use super::{check_bias_at, filter_scales, Operands};

/// The 16x8 requantization: `+ bias`, the int64 `MultiplyByQuantizedMultiplier`, the clamp
/// (no zero points).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Epilogue16 {
    /// Per output channel (zeros when the op has no bias).
    pub bias: Vec<i64>,
    /// Per output channel.
    pub multipliers: Vec<ReducedMultiplier>,
    pub act_min: i32,
    pub act_max: i32,
}

impl Epilogue16 {
    #[inline]
    pub fn apply(&self, acc: i64, channel: usize) -> i16 {
        let acc = acc.wrapping_add(self.bias[channel]);
        let scaled = multiply_by_quantized_multiplier_i64(acc, self.multipliers[channel]);
        scaled.max(self.act_min).min(self.act_max) as i16
    }
}

/// Zero points 0 on a 16x8 op's int16 activations, as `Prepare` requires.
pub(crate) fn check_zero_points(ctx: &OpCtx, tensors: &[&model::Tensor]) -> Result<()> {
    for t in tensors {
        let (_, zp) = ctx.per_tensor(t)?;
        if zp != 0 {
            return Err(ctx.unsupported(format!(
                "int16 tensor '{}' has zero point {zp}: TFLite's 16x8 kernels need 0",
                t.name
            )));
        }
    }
    Ok(())
}

/// The int64 bias of a 16x8 op (input `index`), or zeros; an int32 bias (TFLite's
/// 16x8-with-32-bit-bias variant, which the converter does not write by default) is refused.
pub(crate) fn int64_bias(ctx: &OpCtx, index: usize, out_c: usize) -> Result<Vec<i64>> {
    if let Some(b) = ctx.opt_input(index) {
        if b.dtype != DType::I64 {
            return Err(ctx.unsupported(format!(
                "bias '{}' is {}: the 16x8 kernels here take an int64 bias",
                b.name, b.dtype
            )));
        }
    }
    match check_bias_at(ctx, index, DType::I64, out_c)? {
        None => Ok(vec![0; out_c]),
        Some(b) => {
            if let Some(q) = &b.quant {
                if q.zero_point.iter().any(|&z| z != 0) {
                    return Err(ctx.unsupported("the bias has a non-zero zero point"));
                }
            }
            Ok(ctx
                .require_const(index, "the int64 bias")?
                .as_i64()
                .ok_or_else(|| ctx.invalid("the bias data is not int64"))?
                .to_vec())
        }
    }
}

/// The per-channel int64-path multipliers of `s_in · s_w[c] / s_out`.
pub(crate) fn reduced_multipliers(
    ctx: &OpCtx,
    s_in: f32,
    scales: &[f32],
    s_out: f32,
    out_c: usize,
) -> Result<Vec<ReducedMultiplier>> {
    (0..out_c)
        .map(|c| {
            let s_w = if scales.len() == 1 {
                scales[0]
            } else {
                scales[c]
            };
            let real = f64::from(s_in) * f64::from(s_w) / f64::from(s_out);
            let m = quantize_multiplier(real);
            ReducedMultiplier::new(m).ok_or_else(|| {
                ctx.unsupported(format!(
                    "channel {c}: requantization multiplier {real} needs shift {}, outside \
                     what TFLite's int64 MultiplyByQuantizedMultiplier defines",
                    m.shift
                ))
            })
        })
        .collect()
}

/// The 16x8 parameters of an op whose operands are at `at`: the int8 filter and the
/// epilogue.
pub(super) fn int16_params_at(
    ctx: &OpCtx,
    at: Operands,
    out_c: usize,
    act: Activation,
) -> Result<(Vec<i8>, Epilogue16)> {
    let input = ctx.input(at.input)?;
    let filter = ctx.input(at.filter)?;
    let output = ctx.output(0)?;
    check_zero_points(ctx, &[input, output])?;
    let (s_in, _) = ctx.per_tensor(input)?;
    let (s_out, _) = ctx.per_tensor(output)?;
    let scales = filter_scales(ctx, filter, out_c)?;
    let weights = ctx
        .require_const(at.filter, "the int8 filter")?
        .as_i8()
        .ok_or_else(|| ctx.invalid("the filter's data is not int8"))?
        .to_vec();
    let bias = int64_bias(ctx, at.bias, out_c)?;
    let multipliers = reduced_multipliers(ctx, s_in, scales, s_out, out_c)?;
    let (act_min, act_max) = quantized_activation_range(act, DType::I16, s_out, 0)
        .ok_or_else(|| ctx.unsupported(format!("fused activation {act:?}")))?;
    Ok((
        weights,
        Epilogue16 {
            bias,
            multipliers,
            act_min,
            act_max,
        },
    ))
}

/// Input `i` as `n` int16 values.
pub(crate) fn i16_arg<'t>(
    inputs: &[Option<&'t Tensor>],
    i: usize,
    n: usize,
    label: &str,
    what: &str,
) -> Result<&'t [i16]> {
    let t = inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| Error::Shape(format!("{label}: input {i} was not given")))?;
    match t.buf() {
        Buf::I16(v) if v.len() == n => Ok(v),
        _ => Err(Error::Shape(format!(
            "{label}: {what} must be int16 with {n} elements, got {} {:?}",
            t.dtype(),
            t.shape()
        ))),
    }
}

/// Output 0 as `n` int16 values.
pub(crate) fn i16_out<'t>(
    outputs: &'t mut [Tensor],
    n: usize,
    label: &str,
) -> Result<&'t mut [i16]> {
    match outputs.first_mut().map(|t| t.buf_mut()) {
        Some(Buf::I16(v)) if v.len() == n => Ok(v),
        _ => Err(Error::Shape(format!(
            "{label}: the output must be int16 with {n} elements"
        ))),
    }
}

/// `reference_integer_ops::TransposeConv` (int16 input, int8 weights, int64 bias).
pub(crate) struct TconvI16 {
    pub(crate) label: String,
    pub(crate) shape: TconvShape,
    pub(crate) filter: Vec<i8>,
    pub(crate) epilogue: Epilogue16,
}

impl TconvI16 {
    pub(super) fn prepare(
        ctx: &OpCtx,
        shape: TconvShape,
        at: Operands,
        act: Activation,
    ) -> Result<TconvI16> {
        let (filter, epilogue) = int16_params_at(ctx, at, shape.out_c, act)?;
        Ok(TconvI16 {
            label: ctx.label(),
            shape,
            filter,
            epilogue,
        })
    }
}

impl Kernel for TconvI16 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let s = &self.shape;
        super::transpose_conv::check_output_shape(inputs, s, &self.label)?;
        let input = i16_arg(inputs, 2, s.input_len(), &self.label, "the input")?;
        let output = i16_out(outputs, s.output_len(), &self.label)?;
        let filter = &self.filter;
        s.for_each_output(|at, i| {
            let mut acc: i64 = 0;
            s.for_each_tap(at, |x, w| {
                acc += i64::from(input[x]) * i64::from(filter[w]);
            });
            output[i] = self.epilogue.apply(acc, at.3);
        });
        Ok(())
    }
}
