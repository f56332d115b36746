//! Activations: RELU, RELU6, LEAKY_RELU, PRELU, HARD_SWISH, LOGISTIC, TANH.
//!
//! What LiteRT's `BUILTIN_REF` resolver runs (`kernels/register_ref.cc`,
//! `kernels/activations.cc`), and what this file follows step by step:
//! - RELU, RELU6 (`Register_RELU`/`Register_RELU6`, there is no `_REF` variant): float
//!   clamps; quantized `ReluX` (`reference/reference_ops.h`):
//!   `clamp(zp_out + MBQM(x - zp_in, s_in/s_out), act_min, act_max)` with
//!   `act_min = max(qmin, zp_out + roundf(0 / s_out))`, `act_max = qmax` (RELU) or
//!   `min(qmax, zp_out + roundf(6 / s_out))`; the multiplier is `s_in / s_out` divided in
//!   float. int16 needs zero points 0.
//! - LEAKY_RELU (`Register_LEAKY_RELU_REF`): float `x > 0 ? x : x * alpha`; quantized
//!   `reference_ops::QuantizeLeakyRelu` with two multipliers, identity `s_in/s_out` and
//!   alpha `s_in*alpha/s_out` (both products in float); a negative alpha multiplier is
//!   applied as `-MBQM(x, |m|)`.
//! - PRELU (`Register_PRELU_REF`): float `x >= 0 ? x : x * alpha`; quantized
//!   `reference_ops::Prelu`/`BroadcastPrelu4DSlow`: `MBQM(x - zp_in, s_in/s_out)` for
//!   `x >= zp_in`, else `MBQM((x - zp_in)(a - zp_a), s_in*s_a/s_out)`; alpha broadcasts.
//! - HARD_SWISH (`Register_HARD_SWISH_REF`): float `x * min(6, max(0, x + 3)) / 6`;
//!   quantized `reference_ops::HardSwish` in 16-bit fixed point (`HardSwishPrepare`:
//!   multipliers `s_in/128/s_out` and `s_in/128 / (3/32768)` in float, `QuantizeMultiplier`
//!   then rounded to Q15).
//! - LOGISTIC, TANH (`Register_LOGISTIC_REF`, `Register_TANH_REF`): float
//!   `1/(1+expf(-clamp(x, ±100)))` and `tanhf`; int8/uint8 take the `kReference` branch of
//!   `SigmoidPrepare`/`TanhPrepare`: a 256-entry table built at prepare by `LUTPopulate`
//!   (`kernels/internal/common.h`, float arithmetic: dequantize, transform, `round(y / s_out)
//!   + zp_out` truncated, clamped), looked up at run time. LOGISTIC requires
//!   `s_out == 1/256` exactly. int16 (a different fixed-point algorithm) is unsupported.

use crate::model::{self, DType};
use crate::quant::fixedpoint::{
    downscale_int32_to_int16_multiplier, multiply_by_quantized_multiplier, quantize_multiplier,
    rounding_divide_by_pot_i16, saturating_doubling_high_mul_i16, saturating_left_shift_i16,
    srdhm_i16, QuantizedMultiplier,
};
use crate::{Buf, Error, Result, Tensor};

use super::common::{broadcast_map, broadcast_shape, qrange, shape_of};
use super::{Kernel, OpCtx};

// ───────────────────────────── shared prepare/run helpers ─────────────────────────────

/// The single input and output of a unary activation: same dtype, same shape.
fn unary_io<'a>(ctx: &OpCtx<'a>) -> Result<(&'a model::Tensor, &'a model::Tensor)> {
    if ctx.num_inputs() != 1 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!(
            "takes 1 input and 1 output, has {} and {}",
            ctx.num_inputs(),
            ctx.op.outputs.len()
        )));
    }
    let input = ctx.input(0)?;
    let output = ctx.output(0)?;
    if input.dtype != output.dtype {
        return Err(ctx.unsupported("input and output dtypes differ"));
    }
    if shape_of(input) != shape_of(output) {
        return Err(ctx.invalid(format!(
            "output shape {:?} differs from input shape {:?}",
            output.shape, input.shape
        )));
    }
    Ok((input, output))
}

/// Per-tensor (scale, zero point) with a positive, finite scale.
fn quant_params(ctx: &OpCtx, t: &model::Tensor) -> Result<(f32, i32)> {
    let (scale, zp) = ctx.per_tensor(t)?;
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(ctx.unsupported(format!(
            "tensor '{}' has scale {scale}, not a positive finite number",
            t.name
        )));
    }
    Ok((scale, zp))
}

/// `QuantizeMultiplier` of a real multiplier, refusing shifts `MultiplyByQuantizedMultiplier`
/// cannot apply (a left shift past 30 overflows every input).
fn multiplier(ctx: &OpCtx, real: f64, what: &str) -> Result<QuantizedMultiplier> {
    let m = quantize_multiplier(real);
    if m.shift > 30 {
        return Err(ctx.unsupported(format!(
            "the {what} multiplier {real} is too large to apply"
        )));
    }
    Ok(m)
}

fn first<'t>(inputs: &[Option<&'t Tensor>], label: &str) -> Result<&'t Tensor> {
    inputs
        .first()
        .copied()
        .flatten()
        .ok_or_else(|| Error::InvalidModel(format!("{label}: input 0 has no value")))
}

fn mismatch(label: &str, input: &Tensor, output: &Tensor) -> Error {
    Error::Shape(format!(
        "{label}: cannot map {} {:?} to {} {:?}",
        input.dtype(),
        input.shape(),
        output.dtype(),
        output.shape()
    ))
}

/// Apply `f` to every element of a float tensor.
fn map_f32(
    label: &str,
    inputs: &[Option<&Tensor>],
    outputs: &mut [Tensor],
    f: impl Fn(f32) -> f32,
) -> Result<()> {
    let input = first(inputs, label)?;
    let output = outputs
        .first_mut()
        .ok_or_else(|| Error::InvalidModel(format!("{label}: no output")))?;
    let done = match (input.buf(), output.buf_mut()) {
        (Buf::F32(x), Buf::F32(y)) if x.len() == y.len() => {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = f(x);
            }
            true
        }
        _ => false,
    };
    if done {
        Ok(())
    } else {
        Err(mismatch(label, input, &outputs[0]))
    }
}

/// Apply `f` to every element of an int8/uint8/int16 tensor; `f` returns a value already
/// clamped to the dtype's range.
fn map_q(
    label: &str,
    inputs: &[Option<&Tensor>],
    outputs: &mut [Tensor],
    f: impl Fn(i32) -> i32,
) -> Result<()> {
    let input = first(inputs, label)?;
    let output = outputs
        .first_mut()
        .ok_or_else(|| Error::InvalidModel(format!("{label}: no output")))?;
    let done = match (input.buf(), output.buf_mut()) {
        (Buf::I8(x), Buf::I8(y)) if x.len() == y.len() => {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = f(x as i32) as i8;
            }
            true
        }
        (Buf::U8(x), Buf::U8(y)) if x.len() == y.len() => {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = f(x as i32) as u8;
            }
            true
        }
        (Buf::I16(x), Buf::I16(y)) if x.len() == y.len() => {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = f(x as i32) as i16;
            }
            true
        }
        _ => false,
    };
    if done {
        Ok(())
    } else {
        Err(mismatch(label, input, &outputs[0]))
    }
}

/// A float elementwise kernel.
struct FloatMap<F> {
    label: String,
    f: F,
}

impl<F: Fn(f32) -> f32 + Send> Kernel for FloatMap<F> {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        map_f32(&self.label, inputs, outputs, &self.f)
    }
}

fn float_kernel(ctx: &OpCtx, f: impl Fn(f32) -> f32 + Send + 'static) -> Box<dyn Kernel> {
    Box::new(FloatMap {
        label: ctx.label(),
        f,
    })
}

/// An integer elementwise op: one input value (as `i32`) to one output value.
trait QuantOp: Send + 'static {
    fn apply(&self, x: i32) -> i32;
}

struct QuantMap<P> {
    label: String,
    params: P,
}

impl<P: QuantOp> Kernel for QuantMap<P> {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        map_q(&self.label, inputs, outputs, |x| self.params.apply(x))
    }
}

fn quant_kernel(ctx: &OpCtx, params: impl QuantOp) -> Box<dyn Kernel> {
    Box::new(QuantMap {
        label: ctx.label(),
        params,
    })
}

// ───────────────────────────────────── RELU, RELU6 ─────────────────────────────────────

/// `ReluX` parameters (`QuantizedReluX` in `activations.cc`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ReluXParams {
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    pub multiplier: QuantizedMultiplier,
    pub act_min: i32,
    pub act_max: i32,
}

/// `reference_ops::ReluX` on one element.
pub(crate) fn relu_x(x: i32, p: &ReluXParams) -> i32 {
    let clamped = p
        .output_zero_point
        .wrapping_add(multiply_by_quantized_multiplier(
            x.wrapping_sub(p.input_zero_point),
            p.multiplier,
        ));
    clamped.max(p.act_min).min(p.act_max)
}

impl QuantOp for ReluXParams {
    fn apply(&self, x: i32) -> i32 {
        relu_x(x, self)
    }
}

pub(super) fn prepare_relu(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    prepare_relu_x(ctx, 0.0, f32::INFINITY)
}

pub(super) fn prepare_relu6(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    prepare_relu_x(ctx, 0.0, 6.0)
}

fn prepare_relu_x(ctx: &OpCtx, act_min: f32, act_max: f32) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        DType::F32 => Ok(if act_max.is_infinite() {
            float_kernel(ctx, move |x: f32| x.max(act_min))
        } else {
            // std::min(std::max(0.f, x), 6.f)
            float_kernel(ctx, move |x: f32| {
                let lo = if act_min < x { x } else { act_min };
                if act_max < lo {
                    act_max
                } else {
                    lo
                }
            })
        }),
        DType::I8 | DType::U8 | DType::I16 => {
            let (s_in, zp_in) = quant_params(ctx, input)?;
            let (s_out, zp_out) = quant_params(ctx, output)?;
            if input.dtype == DType::I16 && (zp_in != 0 || zp_out != 0) {
                return Err(ctx.unsupported("int16 needs zero points 0"));
            }
            let (qmin, qmax) = qrange(input.dtype).unwrap_or((i32::MIN, i32::MAX));
            // Float division, then widened (ReluPrepare).
            let m = multiplier(ctx, (s_in / s_out) as f64, "input/output")?;
            let act_min = qmin.max(zp_out.wrapping_add((act_min / s_out).round() as i32));
            let act_max = if act_max == f32::INFINITY {
                qmax
            } else {
                qmax.min(zp_out.wrapping_add((act_max / s_out).round() as i32))
            };
            Ok(quant_kernel(
                ctx,
                ReluXParams {
                    input_zero_point: zp_in,
                    output_zero_point: zp_out,
                    multiplier: m,
                    act_min,
                    act_max,
                },
            ))
        }
        _ => Err(ctx.unsupported("only float32, int8, uint8 and int16 are supported")),
    }
}

// ───────────────────────────────────── LEAKY_RELU ──────────────────────────────────────

/// `QuantizeLeakyRelu` parameters (`LeakyReluPrepare`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LeakyReluParams {
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    pub identity: QuantizedMultiplier,
    /// The alpha multiplier as `QuantizeMultiplier` gives it (negative for alpha < 0).
    pub alpha: QuantizedMultiplier,
    pub qmin: i32,
    pub qmax: i32,
}

/// `reference_ops::QuantizeLeakyRelu` on one element.
pub(crate) fn leaky_relu_q(x: i32, p: &LeakyReluParams) -> i32 {
    let input_value = x.wrapping_sub(p.input_zero_point);
    let mut unclamped = p.output_zero_point;
    if input_value >= 0 {
        unclamped =
            unclamped.wrapping_add(multiply_by_quantized_multiplier(input_value, p.identity));
    } else {
        // A negative multiplier is applied as the negation of its magnitude's product
        // (C++ negates the int32, wrapping at INT32_MIN).
        let negative = p.alpha.multiplier < 0;
        let safe = QuantizedMultiplier {
            multiplier: p.alpha.multiplier.wrapping_abs(),
            shift: p.alpha.shift,
        };
        let scaled = multiply_by_quantized_multiplier(input_value, safe);
        unclamped = unclamped.wrapping_add(if negative {
            scaled.wrapping_neg()
        } else {
            scaled
        });
    }
    unclamped.max(p.qmin).min(p.qmax)
}

impl QuantOp for LeakyReluParams {
    fn apply(&self, x: i32) -> i32 {
        leaky_relu_q(x, self)
    }
}

pub(super) fn prepare_leaky_relu(ctx: &OpCtx, alpha: f32) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        // reference_ops::LeakyRelu: alpha may be > 1 or < 0, so not max(x, alpha x).
        DType::F32 => Ok(float_kernel(
            ctx,
            move |x: f32| if x > 0.0 { x } else { x * alpha },
        )),
        DType::I8 | DType::U8 | DType::I16 => {
            let (s_in, zp_in) = quant_params(ctx, input)?;
            let (s_out, zp_out) = quant_params(ctx, output)?;
            if input.dtype == DType::I16 && (zp_in != 0 || zp_out != 0) {
                return Err(ctx.unsupported("int16 needs zero points 0"));
            }
            let (qmin, qmax) = qrange(input.dtype).unwrap_or((i32::MIN, i32::MAX));
            // Products and quotients in float, then widened (LeakyReluPrepare).
            let alpha_m = multiplier(ctx, (s_in * alpha / s_out) as f64, "alpha")?;
            let identity = multiplier(ctx, (s_in / s_out) as f64, "identity")?;
            Ok(quant_kernel(
                ctx,
                LeakyReluParams {
                    input_zero_point: zp_in,
                    output_zero_point: zp_out,
                    identity,
                    alpha: alpha_m,
                    qmin,
                    qmax,
                },
            ))
        }
        _ => Err(ctx.unsupported("only float32, int8, uint8 and int16 are supported")),
    }
}

// ──────────────────────────────────────── PRELU ────────────────────────────────────────

/// `PreluParams` (`PreluPrepare`/`PreluEval`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PreluParams {
    pub input_zero_point: i32,
    pub alpha_zero_point: i32,
    pub output_zero_point: i32,
    /// `s_in / s_out`, for `x >= zp_in`.
    pub multiplier_1: QuantizedMultiplier,
    /// `s_in * s_alpha / s_out`, for `x < zp_in`.
    pub multiplier_2: QuantizedMultiplier,
    pub qmin: i32,
    pub qmax: i32,
}

/// `reference_ops::Prelu` on one element and its alpha.
pub(crate) fn prelu_q(x: i32, alpha: i32, p: &PreluParams) -> i32 {
    let input_value = x.wrapping_sub(p.input_zero_point);
    let output_value = if input_value >= 0 {
        multiply_by_quantized_multiplier(input_value, p.multiplier_1)
    } else {
        let alpha_value = alpha.wrapping_sub(p.alpha_zero_point);
        multiply_by_quantized_multiplier(input_value.wrapping_mul(alpha_value), p.multiplier_2)
    };
    output_value
        .wrapping_add(p.output_zero_point)
        .max(p.qmin)
        .min(p.qmax)
}

struct Prelu {
    label: String,
    /// For each output (= input) element, the flat index of its alpha.
    alpha_index: Vec<usize>,
    /// `None` for float32.
    quant: Option<PreluParams>,
}

impl Kernel for Prelu {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let label = &self.label;
        let input = first(inputs, label)?;
        let alpha = inputs
            .get(1)
            .copied()
            .flatten()
            .ok_or_else(|| Error::InvalidModel(format!("{label}: alpha has no value")))?;
        let output = outputs
            .first_mut()
            .ok_or_else(|| Error::InvalidModel(format!("{label}: no output")))?;
        let n = self.alpha_index.len();
        let alpha_len = alpha.len();
        let bad = || Error::Shape(format!("{label}: input, alpha or output do not fit"));
        if input.len() != n || output.len() != n || self.alpha_index.iter().any(|&i| i >= alpha_len)
        {
            return Err(bad());
        }
        let idx = &self.alpha_index;
        match (input.buf(), alpha.buf(), output.buf_mut(), &self.quant) {
            (Buf::F32(x), Buf::F32(a), Buf::F32(y), None) => {
                for i in 0..n {
                    let (x, a) = (x[i], a[idx[i]]);
                    y[i] = if x >= 0.0 { x } else { x * a };
                }
            }
            (Buf::I8(x), Buf::I8(a), Buf::I8(y), Some(p)) => {
                for i in 0..n {
                    y[i] = prelu_q(x[i] as i32, a[idx[i]] as i32, p) as i8;
                }
            }
            (Buf::U8(x), Buf::U8(a), Buf::U8(y), Some(p)) => {
                for i in 0..n {
                    y[i] = prelu_q(x[i] as i32, a[idx[i]] as i32, p) as u8;
                }
            }
            _ => return Err(bad()),
        }
        Ok(())
    }
}

pub(super) fn prepare_prelu(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!(
            "takes 2 inputs and 1 output, has {} and {}",
            ctx.num_inputs(),
            ctx.op.outputs.len()
        )));
    }
    let input = ctx.input(0)?;
    let alpha = ctx.input(1)?;
    let output = ctx.output(0)?;
    if input.dtype != alpha.dtype || input.dtype != output.dtype {
        return Err(ctx.unsupported("input, alpha and output dtypes must be equal"));
    }
    let in_shape = shape_of(input);
    let alpha_shape = shape_of(alpha);
    // The broadcast of input and alpha must be the input's shape, and the output's.
    if broadcast_shape(&in_shape, &alpha_shape).as_deref() != Some(in_shape.as_slice())
        || shape_of(output) != in_shape
    {
        return Err(ctx.invalid(format!(
            "alpha {:?} does not broadcast to input {:?} (output {:?})",
            alpha.shape, input.shape, output.shape
        )));
    }
    if in_shape != alpha_shape && in_shape.len() > 4 {
        return Err(ctx.unsupported("broadcasting PRELU is limited to 4-D"));
    }
    let alpha_index = broadcast_map(&alpha_shape, &in_shape)
        .ok_or_else(|| ctx.invalid("alpha does not broadcast"))?;
    let quant = match input.dtype {
        DType::F32 => None,
        DType::I8 | DType::U8 => {
            let (s_in, zp_in) = quant_params(ctx, input)?;
            let (s_a, zp_a) = quant_params(ctx, alpha)?;
            let (s_out, zp_out) = quant_params(ctx, output)?;
            let (qmin, qmax) = qrange(input.dtype).unwrap_or((i32::MIN, i32::MAX));
            // Float arithmetic, then widened (PreluPrepare).
            Some(PreluParams {
                input_zero_point: zp_in,
                alpha_zero_point: zp_a,
                output_zero_point: zp_out,
                multiplier_1: multiplier(ctx, (s_in / s_out) as f64, "input/output")?,
                multiplier_2: multiplier(ctx, (s_in * s_a / s_out) as f64, "alpha")?,
                qmin,
                qmax,
            })
        }
        _ => return Err(ctx.unsupported("only float32, int8 and uint8 are supported")),
    };
    Ok(Box::new(Prelu {
        label: ctx.label(),
        alpha_index,
        quant,
    }))
}

// ────────────────────────────────────── HARD_SWISH ─────────────────────────────────────

/// `HardSwishParams` (`HardSwishPrepare`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HardSwishParams {
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    /// Q15 multiplier from the hi-res input scale to the output scale, and its exponent
    /// (`<= 0`).
    pub output_multiplier_fixedpoint_int16: i16,
    pub output_multiplier_exponent: i32,
    /// Q15 multiplier from the hi-res input scale to the "relu-ish" scale (3.0 ↦ 32768).
    pub reluish_multiplier_fixedpoint_int16: i16,
    pub reluish_multiplier_exponent: i32,
    pub qmin: i32,
    pub qmax: i32,
}

/// `reference_ops::HardSwish` (quantized) on one element, in its 16-bit steps.
pub(crate) fn hard_swish_q(x: i32, p: &HardSwishParams) -> i32 {
    let input_value = x.wrapping_sub(p.input_zero_point) as i16;
    let input_value_on_hires_input_scale = (input_value as i32 * (1 << 7)) as i16;
    let input_value_on_preshift_output_scale = srdhm_i16(
        input_value_on_hires_input_scale,
        p.output_multiplier_fixedpoint_int16,
    );
    let mut reluish_value = input_value_on_hires_input_scale;
    if p.reluish_multiplier_exponent > 0 {
        reluish_value = saturating_left_shift_i16(reluish_value, p.reluish_multiplier_exponent - 1);
    }
    reluish_value = srdhm_i16(reluish_value, p.reluish_multiplier_fixedpoint_int16);
    if p.reluish_multiplier_exponent > 0 {
        reluish_value = saturating_left_shift_i16(reluish_value, 1);
    }
    if p.reluish_multiplier_exponent < 0 {
        reluish_value = rounding_divide_by_pot_i16(reluish_value, -p.reluish_multiplier_exponent);
    }
    // [-1, 1] → [0, 1] in Q0.15.
    reluish_value = ((reluish_value as i32 + (1 << 15)) >> 1) as i16;
    let preshift_output_value =
        saturating_doubling_high_mul_i16(reluish_value, input_value_on_preshift_output_scale);
    let mut output_value =
        rounding_divide_by_pot_i16(preshift_output_value, -p.output_multiplier_exponent);
    output_value = (output_value as i32).wrapping_add(p.output_zero_point) as i16;
    (output_value as i32).max(p.qmin).min(p.qmax)
}

impl QuantOp for HardSwishParams {
    fn apply(&self, x: i32) -> i32 {
        hard_swish_q(x, self)
    }
}

/// `HardSwishPrepare`'s parameters from the tensors' scales and zero points.
pub(crate) fn hard_swish_params(
    dtype: DType,
    (s_in, zp_in): (f32, i32),
    (s_out, zp_out): (f32, i32),
) -> std::result::Result<HardSwishParams, String> {
    let (qmin, qmax) = qrange(dtype).ok_or("not a quantized dtype")?;
    // All in float, as HardSwishPrepare computes them.
    let hires_input_scale = (1.0f32 / 128.0) * s_in;
    let reluish_scale = 3.0f32 / 32768.0;
    let output_multiplier = hires_input_scale / s_out;
    let out_m = quantize_multiplier(output_multiplier as f64);
    if out_m.shift > 0 {
        return Err(format!(
            "output multiplier {output_multiplier} is above 1 (TFLite requires exponent <= 0)"
        ));
    }
    let reluish_multiplier = hires_input_scale / reluish_scale;
    let reluish_m = quantize_multiplier(reluish_multiplier as f64);
    if !(-31..=31).contains(&reluish_m.shift) || -out_m.shift > 31 {
        return Err(format!(
            "multiplier exponents {} and {} are out of range",
            reluish_m.shift, out_m.shift
        ));
    }
    Ok(HardSwishParams {
        input_zero_point: zp_in,
        output_zero_point: zp_out,
        output_multiplier_fixedpoint_int16: downscale_int32_to_int16_multiplier(out_m.multiplier),
        output_multiplier_exponent: out_m.shift,
        reluish_multiplier_fixedpoint_int16: downscale_int32_to_int16_multiplier(
            reluish_m.multiplier,
        ),
        reluish_multiplier_exponent: reluish_m.shift,
        qmin,
        qmax,
    })
}

pub(super) fn prepare_hard_swish(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        // reference_ops::HardSwish<float>: in * min(6, max(0, in + 3)) / 6.
        DType::F32 => Ok(float_kernel(ctx, |x: f32| {
            let plus3 = x + 3.0;
            let relu = if 0.0 < plus3 { plus3 } else { 0.0 };
            let relu6 = if relu < 6.0 { relu } else { 6.0 };
            x * relu6 / 6.0
        })),
        DType::I8 | DType::U8 => {
            let p = hard_swish_params(
                input.dtype,
                quant_params(ctx, input)?,
                quant_params(ctx, output)?,
            )
            .map_err(|why| ctx.unsupported(why))?;
            Ok(quant_kernel(ctx, p))
        }
        _ => Err(ctx.unsupported("only float32, int8 and uint8 are supported")),
    }
}

// ──────────────────────────────────── LOGISTIC, TANH ───────────────────────────────────

/// `LUTPopulate<int8_t/uint8_t>`: for each input value `qmin..=qmax` (index `x - qmin`),
/// the output value, in float arithmetic as TFLite builds it.
pub(crate) fn lut_populate(
    dtype: DType,
    (s_in, zp_in): (f32, i32),
    (s_out, zp_out): (f32, i32),
    transform: impl Fn(f32) -> f32,
) -> Vec<i32> {
    let (minval, maxval) = qrange(dtype).unwrap_or((0, -1));
    let inverse_scale = 1.0f32 / s_out;
    (minval..=maxval)
        .map(|val| {
            let dequantized = s_in * (val - zp_in) as f32;
            let transformed = transform(dequantized);
            let rescaled = (transformed * inverse_scale).round();
            let quantized = (rescaled + zp_out as f32) as i32;
            quantized.min(maxval).max(minval)
        })
        .collect()
}

/// A 256-entry table lookup (`LookupTable`).
struct Lut {
    qmin: i32,
    table: Vec<i32>,
}

impl QuantOp for Lut {
    fn apply(&self, x: i32) -> i32 {
        // Prepare builds an entry for every value of the dtype (the fallback is unreachable).
        usize::try_from(x - self.qmin)
            .ok()
            .and_then(|i| self.table.get(i).copied())
            .unwrap_or(self.qmin)
    }
}

/// `1 / (1 + exp(-x))` as LiteRT's LUT builds it (float).
fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub(super) fn prepare_logistic(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        // reference_ops::Logistic<float>: clamp to [-100, 100] (NaN passes through).
        DType::F32 => Ok(float_kernel(ctx, |x: f32| {
            let clamped = if x.is_nan() {
                x
            } else {
                (-100.0f32).max(100.0f32.min(x))
            };
            1.0 / (1.0 + (-clamped).exp())
        })),
        DType::I8 | DType::U8 => {
            let qin = quant_params(ctx, input)?;
            let qout = quant_params(ctx, output)?;
            if qout.0 as f64 != 1.0 / 256.0 {
                return Err(
                    ctx.unsupported(format!("the output scale must be 1/256, is {}", qout.0))
                );
            }
            let table = lut_populate(input.dtype, qin, qout, sigmoid_f32);
            let qmin = qrange(input.dtype).map_or(0, |r| r.0);
            Ok(quant_kernel(ctx, Lut { qmin, table }))
        }
        _ => Err(ctx.unsupported("only float32, int8 and uint8 are supported")),
    }
}

pub(super) fn prepare_tanh(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        DType::F32 => Ok(float_kernel(ctx, f32::tanh)),
        DType::I8 | DType::U8 => {
            let qin = quant_params(ctx, input)?;
            let qout = quant_params(ctx, output)?;
            let table = lut_populate(input.dtype, qin, qout, f32::tanh);
            let qmin = qrange(input.dtype).map_or(0, |r| r.0);
            Ok(quant_kernel(ctx, Lut { qmin, table }))
        }
        _ => Err(ctx.unsupported("only float32, int8 and uint8 are supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::test_support::{run_alone_everywhere, Compare};

    #[test]
    fn relu_x_requantizes_and_clamps() {
        // Same scale: identity above the zero point, clamped at it below.
        let p = ReluXParams {
            input_zero_point: -10,
            output_zero_point: -10,
            multiplier: quantize_multiplier(1.0),
            act_min: -10,
            act_max: 127,
        };
        assert_eq!(relu_x(-128, &p), -10);
        assert_eq!(relu_x(-11, &p), -10);
        assert_eq!(relu_x(-9, &p), -9);
        assert_eq!(relu_x(127, &p), 127);
        // Halving scale: (x - zp) * 2, rounded, saturating at 127.
        let p = ReluXParams {
            input_zero_point: 0,
            output_zero_point: -128,
            multiplier: quantize_multiplier(2.0),
            act_min: -128,
            act_max: 127,
        };
        assert_eq!(relu_x(100, &p), 72);
        assert_eq!(relu_x(127, &p), 126);
        assert_eq!(relu_x(-1, &p), -128);
    }

    #[test]
    fn leaky_relu_uses_the_alpha_multiplier_below_the_zero_point() {
        let p = LeakyReluParams {
            input_zero_point: 5,
            output_zero_point: 0,
            identity: quantize_multiplier(1.0),
            alpha: quantize_multiplier(0.25),
            qmin: -128,
            qmax: 127,
        };
        assert_eq!(leaky_relu_q(5, &p), 0);
        assert_eq!(leaky_relu_q(6, &p), 1);
        assert_eq!(leaky_relu_q(1, &p), -1); // -4 * 0.25
        assert_eq!(leaky_relu_q(-1, &p), -2); // -6 * 0.25 = -1.5 → -2 (half away)
        assert_eq!(leaky_relu_q(-128, &p), -33); // -133 / 4 = -33.25
                                                 // Negative alpha: -MBQM(x, |m|).
        let neg = LeakyReluParams {
            alpha: quantize_multiplier(-0.5),
            ..p
        };
        assert!(neg.alpha.multiplier < 0);
        assert_eq!(leaky_relu_q(-1, &neg), 3); // -6 * -0.5
                                               // -5 * -0.5 = 2.5: SRDHM rounds a negative half toward zero (-2), negated: 2.
        assert_eq!(leaky_relu_q(0, &neg), 2);
    }

    #[test]
    fn prelu_multiplies_by_the_centred_alpha() {
        let p = PreluParams {
            input_zero_point: 0,
            alpha_zero_point: 2,
            output_zero_point: 3,
            multiplier_1: quantize_multiplier(0.5),
            multiplier_2: quantize_multiplier(0.125),
            qmin: -128,
            qmax: 127,
        };
        assert_eq!(prelu_q(10, 100, &p), 8);
        assert_eq!(prelu_q(-10, 10, &p), -7); // -80 / 8 + 3
        assert_eq!(prelu_q(-128, 127, &p), -128); // -128*125/8 = -2000, clamped
    }

    /// The quantized HARD_SWISH against the real function on a sweep of inputs: within
    /// about one output step (its fixed-point steps are approximations).
    #[test]
    fn hard_swish_tracks_the_real_function() {
        for &(s_in, zp_in, s_out, zp_out) in &[
            (0.033_247_937_f32, -8, 0.019_055_73_f32, -108),
            (0.1, 0, 0.05, -100),
            (0.02, 20, 0.01, -128),
            (0.5, -3, 0.4, -120),
        ] {
            let p = hard_swish_params(DType::I8, (s_in, zp_in), (s_out, zp_out)).unwrap();
            for x in -128..=127 {
                let r = s_in * (x - zp_in) as f32;
                let want = r * (r + 3.0).clamp(0.0, 6.0) / 6.0;
                let want_q = ((want / s_out).round() as i32 + zp_out).clamp(-128, 127);
                let got = hard_swish_q(x, &p);
                assert!(
                    (got - want_q).abs() <= 1,
                    "s_in {s_in} x {x}: got {got} want {want_q}"
                );
            }
        }
        // A large input scale (left-shifting reluish multiplier, saturating).
        let p = hard_swish_params(DType::I8, (0.5, 0), (0.5, 0)).unwrap();
        assert!(p.reluish_multiplier_exponent > 0);
        assert_eq!(hard_swish_q(20, &p), 20); // 10 >= 3: x
        assert_eq!(hard_swish_q(-20, &p), 0); // -10 <= -3: 0
        assert_eq!(hard_swish_q(0, &p), 0);
        // The output multiplier must not exceed 1.
        assert!(hard_swish_params(DType::I8, (1.0, 0), (1.0 / 256.0, 0)).is_err());
    }

    #[test]
    fn lut_follows_lutpopulate() {
        // Logistic at the fixture's input params; output (1/256, -128).
        let t = lut_populate(DType::I8, (0.25, 0), (1.0 / 256.0, -128), sigmoid_f32);
        assert_eq!(t.len(), 256);
        assert_eq!(t[128], 0); // x = 0 → 0.5 → 128 - 128
        assert_eq!(t[0], -128); // sigmoid(-32) → 0
        assert_eq!(t[255], 127); // 256 - 128 clamped
                                 // uint8 tanh with (1/128, 128) output.
        let t = lut_populate(DType::U8, (0.1, 128), (1.0 / 128.0, 128), f32::tanh);
        assert_eq!(t[128], 128);
        assert_eq!(t[255], 255);
        assert_eq!(t[0], 0);
        // Truncation toward zero after adding the zero point: 0.5 step values.
        let t = lut_populate(DType::I8, (1.0, 0), (2.0, 0), |x| x);
        assert_eq!(t[(3 + 128) as usize], 2); // round(1.5) = 2
        assert_eq!(t[(-3 + 128) as usize], -2); // round(-1.5) = -2
    }

    /// Every activation of the fixtures, alone on LiteRT's recorded inputs.
    #[test]
    fn activation_ops_match_their_goldens() {
        let r = run_alone_everywhere(
            &[
                "RELU",
                "RELU6",
                "LEAKY_RELU",
                "PRELU",
                "HARD_SWISH",
                "LOGISTIC",
                "TANH",
            ],
            Compare::Tolerance,
        );
        assert!(r.failures.is_empty(), "{}", r.failures.join("\n"));
        println!(
            "checked {} activation op instances against their goldens",
            r.ops
        );
        assert!(
            r.ops >= 16,
            "only {} activation ops found in the fixtures",
            r.ops
        );
    }
}
