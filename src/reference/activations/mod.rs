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
//!   `s_out == 1/256` exactly. int16 is `reference_integer_ops::Logistic`/`Tanh`'s fixed-point
//!   interpolation in `sigmoid_table_uint16` (`sigmoid16.rs`).

pub(crate) mod hard_swish;
pub(crate) mod lut;
pub(crate) mod prelu;
pub(crate) mod relu;
pub(crate) mod sigmoid16;

pub(super) use hard_swish::prepare_hard_swish;
pub(super) use lut::{prepare_logistic, prepare_tanh};
pub(super) use prelu::prepare_prelu;
pub(super) use relu::{prepare_leaky_relu, prepare_relu, prepare_relu6};

use crate::model::{self, DType};
use crate::quant::fixedpoint::{quantize_multiplier, QuantizedMultiplier};
use crate::{Buf, Error, Result, Tensor};

use super::common::{qrange, shape_of, QInt};
use super::{eigen_math, Kernel, OpCtx};

// ───────────────────────────── shared prepare/run helpers ─────────────────────────────

/// The input and output of an op that takes one of each (also SOFTMAX's).
pub(super) fn one_in_one_out<'a>(
    ctx: &OpCtx<'a>,
) -> Result<(&'a model::Tensor, &'a model::Tensor)> {
    if ctx.num_inputs() != 1 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!(
            "takes 1 input and 1 output, has {} and {}",
            ctx.num_inputs(),
            ctx.op.outputs.len()
        )));
    }
    Ok((ctx.input(0)?, ctx.output(0)?))
}

/// The single input and output of a unary activation: same dtype, same shape.
pub(super) fn unary_io<'a>(ctx: &OpCtx<'a>) -> Result<(&'a model::Tensor, &'a model::Tensor)> {
    let (input, output) = one_in_one_out(ctx)?;
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

/// The quantization of a requantizing unary op.
struct Requant {
    /// (scale, zero point) of the input and of the output.
    input: (f32, i32),
    output: (f32, i32),
    /// The dtype's `[qmin, qmax]`.
    range: (i32, i32),
}

/// The input's and output's (scale, zero point) of a requantizing unary op (int16 needs
/// zero points 0), and the dtype's range.
fn requant_params(ctx: &OpCtx, input: &model::Tensor, output: &model::Tensor) -> Result<Requant> {
    let (s_in, zp_in) = quant_params(ctx, input)?;
    let (s_out, zp_out) = quant_params(ctx, output)?;
    if input.dtype == DType::I16 && (zp_in != 0 || zp_out != 0) {
        return Err(ctx.unsupported("int16 needs zero points 0"));
    }
    Ok(Requant {
        input: (s_in, zp_in),
        output: (s_out, zp_out),
        range: qrange(input.dtype).unwrap_or((i32::MIN, i32::MAX)),
    })
}

/// `QuantizeMultiplier` of a real multiplier, refusing shifts `MultiplyByQuantizedMultiplier`
/// cannot apply (a left shift past 30 overflows every input).
fn multiplier(ctx: &OpCtx, real: f64, what: &str) -> Result<QuantizedMultiplier> {
    let m = quantize_multiplier(real);
    if m.shift > 30 {
        return Err(ctx.unsupported(format!(
            "the {what} multiplier {real} is too large to apply: LiteRT's \
             MultiplyByQuantizedMultiplier would shift left by {} bits (past 30 the product \
             overflows int32 for every input, and `1 << shift` past 31 is undefined \
             behaviour)",
            m.shift
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

/// Input 0 and output 0 of a run of a one-input, one-output op (also SOFTMAX's).
pub(super) fn unary_run_io<'t, 'o>(
    label: &str,
    inputs: &[Option<&'t Tensor>],
    outputs: &'o mut [Tensor],
) -> Result<(&'t Tensor, &'o mut Tensor)> {
    let input = first(inputs, label)?;
    let output = outputs
        .first_mut()
        .ok_or_else(|| Error::InvalidModel(format!("{label}: no output")))?;
    Ok((input, output))
}

pub(super) fn mismatch(label: &str, input: &Tensor, output: &Tensor) -> Error {
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
    let (input, output) = unary_run_io(label, inputs, outputs)?;
    match (input.buf(), output.buf_mut()) {
        (Buf::F32(x), Buf::F32(y)) if x.len() == y.len() => {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = f(x);
            }
            Ok(())
        }
        _ => Err(mismatch(label, input, output)),
    }
}

/// `y[i] = f(x[i])` on the values widened to `i32`; `f` returns a value already clamped to
/// the dtype's range.
fn map_values<T: QInt>(x: &[T], y: &mut [T], f: impl Fn(i32) -> i32) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = T::from_i32(f(x.to_i32()));
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
    let (input, output) = unary_run_io(label, inputs, outputs)?;
    match (input.buf(), output.buf_mut()) {
        (Buf::I8(x), Buf::I8(y)) if x.len() == y.len() => map_values(x, y, f),
        (Buf::U8(x), Buf::U8(y)) if x.len() == y.len() => map_values(x, y, f),
        (Buf::I16(x), Buf::I16(y)) if x.len() == y.len() => map_values(x, y, f),
        _ => return Err(mismatch(label, input, output)),
    }
    Ok(())
}

/// The float activations as data (not closures), so that the GPU engine can tell which one
/// a prepared kernel computes. `apply` is the reference's element function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FloatFn {
    /// RELU: `std::max(x, min)` (a NaN passes through).
    Max { min: f32 },
    /// RELU6: `std::min(std::max(x, min), max)` with the C++ comparisons.
    ClampCpp { min: f32, max: f32 },
    /// LEAKY_RELU: `x > 0 ? x : x * alpha`.
    LeakyRelu { alpha: f32 },
    /// HARD_SWISH: `x * min(6, max(0, x + 3)) / 6`.
    HardSwish,
    /// LOGISTIC: `1 / (1 + exp(-clamp(x, ±100)))`.
    Logistic,
    /// TANH: `tanhf`.
    Tanh,
    /// LOGISTIC in the converter's calibrator (`optimized_ops::Logistic`: Eigen's
    /// `scalar_logistic_op<float>` packet form, `eigen_math::logistic`).
    LogisticConverter,
    /// TANH in the converter's calibrator (`optimized_ops::Tanh`: Eigen's fast-math
    /// `ptanh_float`, `eigen_math::tanh`).
    TanhConverter,
}

impl FloatFn {
    #[inline]
    pub(crate) fn apply(self, x: f32) -> f32 {
        match self {
            FloatFn::Max { min } => relu::relu_f32(x, min),
            FloatFn::ClampCpp { min, max } => relu::relu_x_f32(x, min, max),
            FloatFn::LeakyRelu { alpha } => relu::leaky_relu_f32(x, alpha),
            FloatFn::HardSwish => hard_swish::hard_swish_f32(x),
            FloatFn::Logistic => lut::logistic_f32(x),
            FloatFn::Tanh => x.tanh(),
            FloatFn::LogisticConverter => eigen_math::logistic(x),
            FloatFn::TanhConverter => eigen_math::tanh(x),
        }
    }
}

/// A float elementwise kernel.
pub(crate) struct FloatMap {
    label: String,
    pub(crate) f: FloatFn,
}

impl Kernel for FloatMap {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let f = self.f;
        map_f32(&self.label, inputs, outputs, move |x| f.apply(x))
    }
}

fn float_kernel(ctx: &OpCtx, f: FloatFn) -> Box<dyn Kernel> {
    Box::new(FloatMap {
        label: ctx.label(),
        f,
    })
}

/// An integer elementwise op: one input value (as `i32`) to one output value.
pub(crate) trait QuantOp: Send + Sync + 'static {
    fn apply(&self, x: i32) -> i32;
}

pub(crate) struct QuantMap<P> {
    label: String,
    pub(crate) params: P,
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

#[cfg(test)]
mod tests {
    use crate::reference::test_support::{run_alone_everywhere, Compare};

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
