//! Elementwise unary math: NEG, RSQRT, SQRT, EXP, LOG, GELU.
//!
//! What LiteRT's `BUILTIN_REF` resolver runs (`kernels/register_ref.cc`) and what this
//! family follows:
//! - NEG (`kernels/neg.cc`, `reference_ops::Negate`): `-x` on the stored values for every
//!   type, int8 included — no zero point or scale is read, so an int8 NEG is only right when
//!   the output's zero point is the negated input's; `-(-128)` wraps to `-128` in the
//!   `int8_t` store. The converter never quantizes NEG (float island).
//! - RSQRT (`kernels/elementwise.cc`): float `1.f / std::sqrt(x)`; int8 (`RsqrtEvalQuantizedInt8`)
//!   refuses the run if an input is below the input zero point, maps `x == zp` to 127, else
//!   `GetInvSqrtQuantizedMultiplierExp(x - zp, -1)` (gemmlowp Newton-Raphson), applied to 1
//!   with a left shift of 20, then `MBQM(·, M, shift - 20) + zp_out` with `M` from
//!   `QuantizeMultiplier(1. / (sqrtf(s_in) · s_out))` (the product in float).
//! - SQRT (`kernels/elementwise.cc`): float `std::sqrt`; int8 (`SqrtEvalQuantized`) in float:
//!   refuses the run on a negative dequantized input, else
//!   `(int)(sqrtf(s_in · (x − zp_in)) / s_out) + zp_out` (truncated, not rounded), clamped.
//! - EXP (`kernels/exp.cc`): float `std::exp`; int8 a 256-entry `LUTPopulate` table of
//!   `expf`.
//! - LOG (`kernels/elementwise.cc`, `LogEval`): float `std::log`; int8 a 256-entry
//!   `LUTPopulate` table (`LogLUTPrepare`) of `logf`, with every non-positive dequantized
//!   input mapped to the output's lowest real value `(−128 − zp_out)·s_out` (float).
//! - GELU (`kernels/activations.cc`, `reference/gelu.h`): float
//!   `0.5·x·erfc(−x/√2)` or, `approximate`, `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`;
//!   int8 and uint8 a 256-entry `LUTPopulate` table of the same transforms in float
//!   (`GeluTransform` with `erfcf`, `GeluTransformApproximate`).
//!
//! Every int8/uint8 path is a function of the input value alone; [`QuantUnary::table`]
//! evaluates it on the type's 256 values for the GPU engine, which looks results up.

mod float;
mod gelu;
mod rsqrt;
#[cfg(test)]
mod tests;

pub(crate) use float::UnaryFloatFn;
#[cfg(test)]
pub(crate) use gelu::gelu_transform;

use crate::model::{self, DType};
use crate::{Buf, Error, Result, Tensor};

use super::activations::lut::lut_populate;
use super::activations::{mismatch, unary_io, unary_run_io};
use super::common::{qrange, QInt};
use super::lut16::Table16;
use super::{FloatOrder, Kernel, OpCtx};
use rsqrt::RsqrtParams;

/// The float32 kernel of a unary op.
pub(crate) struct FloatUnary {
    label: String,
    pub(crate) f: UnaryFloatFn,
}

impl Kernel for FloatUnary {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let (input, output) = unary_run_io(&self.label, inputs, outputs)?;
        match (input.buf(), output.buf_mut()) {
            (Buf::F32(x), Buf::F32(y)) if x.len() == y.len() => {
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = self.f.apply(x);
                }
                Ok(())
            }
            _ => Err(mismatch(&self.label, input, output)),
        }
    }
}

/// The int8/uint8 element function of a unary op.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QuantFn {
    /// NEG: `-x` stored as the type (wrapping).
    Neg,
    /// RSQRT int8.
    Rsqrt(RsqrtParams),
    /// SQRT int8: (s_in, zp_in, s_out, zp_out).
    Sqrt {
        input: (f32, i32),
        output: (f32, i32),
    },
    /// EXP, GELU: a `LUTPopulate` table indexed by `x - qmin`.
    Table(Vec<i32>),
}

/// The int8/uint8 kernel of a unary op.
pub(crate) struct QuantUnary {
    label: String,
    /// The dtype's range.
    pub(crate) qmin: i32,
    pub(crate) qmax: i32,
    pub(crate) f: QuantFn,
    /// Why TFLite refuses a run on an input the function has no value for.
    pub(crate) refusal: &'static str,
}

impl QuantUnary {
    /// The output value of input value `x`, or `None` where TFLite refuses the run.
    pub(crate) fn apply(&self, x: i32) -> Option<i32> {
        match &self.f {
            // `output = -input` stored in `int8_t`: -(-128) wraps to -128.
            QuantFn::Neg => Some(i32::from((x as i8).wrapping_neg())),
            QuantFn::Rsqrt(p) => p.apply(x),
            QuantFn::Sqrt { input, output } => sqrt_q(x, *input, *output, self.qmin, self.qmax),
            QuantFn::Table(t) => usize::try_from(x - self.qmin)
                .ok()
                .and_then(|i| t.get(i).copied()),
        }
    }

    /// [`QuantUnary::apply`] on every value of the dtype, `qmin..=qmax` (`None`: refused).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    pub(crate) fn table(&self) -> Vec<Option<i32>> {
        (self.qmin..=self.qmax).map(|x| self.apply(x)).collect()
    }
}

/// `SqrtEvalQuantized`'s element: float dequantize, `sqrtf`, divide, truncate, add the zero
/// point, clamp. `None` for a negative dequantized input (TFLite refuses the run).
fn sqrt_q(
    x: i32,
    (s_in, zp_in): (f32, i32),
    (s_out, zp_out): (f32, i32),
    lo: i32,
    hi: i32,
) -> Option<i32> {
    let dequantized = s_in * (x - zp_in) as f32;
    if dequantized.is_nan() || dequantized < 0.0 {
        return None;
    }
    let y = dequantized.sqrt() / s_out;
    // `static_cast<int>` truncates toward zero (`as` saturates where C++ is undefined).
    let q = (y as i32).wrapping_add(zp_out);
    Some(q.clamp(lo, hi))
}

fn map_q<T: QInt>(k: &QuantUnary, x: &[T], y: &mut [T]) -> Result<()> {
    for (y, &x) in y.iter_mut().zip(x) {
        let v = k.apply(x.to_i32()).ok_or_else(|| {
            Error::Unsupported(format!(
                "{}: {} (input value {})",
                k.label,
                k.refusal,
                x.to_i32()
            ))
        })?;
        *y = T::from_i32(v);
    }
    Ok(())
}

impl Kernel for QuantUnary {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let (input, output) = unary_run_io(&self.label, inputs, outputs)?;
        match (input.buf(), output.buf_mut()) {
            (Buf::I8(x), Buf::I8(y)) if x.len() == y.len() => map_q(self, x, y),
            (Buf::U8(x), Buf::U8(y)) if x.len() == y.len() => map_q(self, x, y),
            _ => Err(mismatch(&self.label, input, output)),
        }
    }
}

/// Per-tensor (scale, zero point) with a positive, finite scale and a zero point in the
/// dtype's range.
fn quant_params(ctx: &OpCtx, t: &model::Tensor) -> Result<(f32, i32)> {
    let (scale, zp) = ctx.per_tensor(t)?;
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(ctx.unsupported(format!(
            "tensor '{}' has scale {scale}, not a positive finite number",
            t.name
        )));
    }
    if let Some((lo, hi)) = qrange(t.dtype) {
        if zp < lo || zp > hi {
            return Err(ctx.unsupported(format!(
                "tensor '{}' has zero point {zp} outside [{lo}, {hi}]",
                t.name
            )));
        }
    }
    Ok((scale, zp))
}

fn float_kernel(ctx: &OpCtx, f: UnaryFloatFn) -> Box<dyn Kernel> {
    Box::new(FloatUnary {
        label: ctx.label(),
        f,
    })
}

impl QuantUnary {
    fn new(label: String, dtype: DType, f: QuantFn, refusal: &'static str) -> QuantUnary {
        let (qmin, qmax) = qrange(dtype).unwrap_or((0, -1));
        QuantUnary {
            label,
            qmin,
            qmax,
            f,
            refusal,
        }
    }
}

fn quant_kernel(ctx: &OpCtx, dtype: DType, f: QuantFn, refusal: &'static str) -> Box<dyn Kernel> {
    Box::new(QuantUnary::new(ctx.label(), dtype, f, refusal))
}

pub(super) fn prepare_neg(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, _) = unary_io(ctx)?;
    match input.dtype {
        DType::F32 => Ok(float_kernel(ctx, UnaryFloatFn::Neg)),
        DType::I8 => Ok(quant_kernel(ctx, DType::I8, QuantFn::Neg, "")),
        _ => Err(ctx.unsupported("NEG supports float32 and int8")),
    }
}

pub(super) fn prepare_rsqrt(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        DType::F32 => Ok(float_kernel(ctx, UnaryFloatFn::Rsqrt)),
        // int16: a `LUTPopulate<int16_t>` table of `1 / sqrt(x)` in float (the goldens: the
        // int8 fixed-point steps with int16 bounds differ by up to 6).
        DType::I16 => Ok(Box::new(Table16::prepare(ctx, |x: f32| 1.0 / x.sqrt())?)),
        DType::I8 => {
            let p = RsqrtParams::prepare(quant_params(ctx, input)?, quant_params(ctx, output)?);
            Ok(quant_kernel(
                ctx,
                input.dtype,
                QuantFn::Rsqrt(p),
                "Rsqrt is only defined for positive values",
            ))
        }
        _ => Err(ctx.unsupported("RSQRT supports float32, int8 and int16")),
    }
}

pub(super) fn prepare_sqrt(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        DType::F32 => Ok(float_kernel(ctx, UnaryFloatFn::Sqrt)),
        DType::I8 => {
            let f = QuantFn::Sqrt {
                input: quant_params(ctx, input)?,
                output: quant_params(ctx, output)?,
            };
            Ok(quant_kernel(
                ctx,
                DType::I8,
                f,
                "Sqrt is only defined for non-negative values",
            ))
        }
        _ => Err(ctx.unsupported("SQRT supports float32 and int8")),
    }
}

/// The `LUTPopulate` table kernel of `transform` for an int8/uint8 input.
fn table_kernel(
    ctx: &OpCtx,
    input: &model::Tensor,
    output: &model::Tensor,
    transform: impl Fn(f32) -> f32,
) -> Result<Box<dyn Kernel>> {
    let (qin, qout) = (quant_params(ctx, input)?, quant_params(ctx, output)?);
    let table = lut_populate(input.dtype, qin, qout, transform);
    Ok(quant_kernel(ctx, input.dtype, QuantFn::Table(table), ""))
}

pub(super) fn prepare_exp(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        DType::F32 => Ok(float_kernel(ctx, UnaryFloatFn::Exp)),
        DType::I8 => table_kernel(ctx, input, output, f32::exp),
        DType::I16 => Ok(Box::new(Table16::prepare(ctx, f32::exp)?)),
        _ => Err(ctx.unsupported("EXP supports float32, int8 and int16")),
    }
}

/// `LogLUTPrepare`'s function: `logf`, with non-positive values mapped to the output's
/// lowest real value, `(int8 min − zp_out) · s_out` in float.
fn log_transform((s_out, zp_out): (f32, i32), qmin: i32) -> impl Fn(f32) -> f32 {
    let output_min = (qmin - zp_out) as f32 * s_out;
    move |v| if v <= 0.0 { output_min } else { v.ln() }
}

pub(super) fn prepare_log(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        DType::F32 => Ok(float_kernel(ctx, UnaryFloatFn::Log)),
        DType::I8 => {
            let qout = quant_params(ctx, output)?;
            table_kernel(ctx, input, output, log_transform(qout, -128))
        }
        DType::I16 => {
            let qout = quant_params(ctx, output)?;
            Ok(Box::new(Table16::prepare(
                ctx,
                log_transform(qout, -32768),
            )?))
        }
        _ => Err(ctx.unsupported("LOG supports float32, int8 and int16")),
    }
}

pub(super) fn prepare_gelu(ctx: &OpCtx, approximate: bool) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    // reference_ops::Gelu's Eigen expression in both resolvers; only erfc's reciprocal
    // differs between LiteRT's build and the converter's (eigen_math.rs).
    let f = if approximate {
        UnaryFloatFn::GeluApprox
    } else if ctx.float_order == FloatOrder::Converter {
        UnaryFloatFn::GeluConverter
    } else {
        UnaryFloatFn::Gelu
    };
    match input.dtype {
        DType::F32 => Ok(float_kernel(ctx, f)),
        DType::I8 | DType::U8 => {
            let transform = if approximate {
                gelu::gelu_transform_approximate
            } else {
                gelu::gelu_transform
            };
            table_kernel(ctx, input, output, transform)
        }
        DType::I16 => {
            let transform = if approximate {
                gelu::gelu_transform_approximate
            } else {
                gelu::gelu_transform
            };
            Ok(Box::new(Table16::prepare(ctx, transform)?))
        }
        _ => Err(ctx.unsupported("GELU supports float32, int8, uint8 and int16")),
    }
}
