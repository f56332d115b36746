//! QUANTIZE (float→int, int→int requantize) and DEQUANTIZE (int8/uint8/int16/float16→float32).
//!
//! TFLite sources followed (LiteRT `tflite/kernels/...`):
//! - `quantize.cc` Prepare/Eval; `internal/reference/quantize.h` (`AffineQuantize`,
//!   `PerChannelQuantize`); `internal/reference/requantize.h` (`Requantize`).
//! - `dequantize.cc`, `dequantize.h` (`DequantizeImpl`); `internal/reference/dequantize.h`
//!   and `internal/reference/integer_ops/dequantize.h`.
//!
//! Facts:
//! - Float→int: `q = clamp(f64(round_half_away(x / f32(scale))) + f64(zp), qmin, qmax)`;
//!   the division is done in float.
//! - Requantize: `MBQM(x − zp_in, M, shift) + zp_out`, clamped to the output type, with
//!   `(M, shift) = QuantizeMultiplier(f64(s_in) / f64(s_out))` (double division). A mixed
//!   int8↔uint8 pair with the same scale and zero points 128 apart is a bit flip (`x ^ 0x80`).
//! - Dequantize per tensor: `f32(f64(scale) * f64(q − zp))` (double product); per channel:
//!   `scale[c] * f32(q − zp[c])` (float product); float16: exact widening.

use crate::model::{self, DType};
use crate::quant::fixedpoint::QuantizedMultiplier;
use crate::quant::fixedpoint::{
    affine_quantize_unclamped, multiply_by_quantized_multiplier, quantize_multiplier,
};
use crate::{f16_to_f32, Buf, Error, Result, Tensor};

use super::common::{shape_of, QInt};
use super::{Kernel, OpCtx};

/// An error for a buffer of the wrong dtype reaching a prepared kernel.
pub(super) fn dtype_error(what: &str, got: &Buf) -> Error {
    Error::Shape(format!("{what}: unexpected {} buffer", got.dtype()))
}

/// The per-channel layout of a tensor quantized along `axis`: element `i` belongs to
/// channel `(i / inner) % channels`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PerChannel {
    pub(crate) scales: Vec<f32>,
    pub(crate) zero_points: Vec<i32>,
    pub(crate) inner: usize,
    pub(crate) channels: usize,
}

impl PerChannel {
    /// From a tensor's quantization parameters with more than one scale (`None` otherwise).
    fn of(ctx: &OpCtx, t: &model::Tensor) -> Result<Option<PerChannel>> {
        let Some(q) = &t.quant else { return Ok(None) };
        if q.scale.len() <= 1 {
            return Ok(None);
        }
        let shape = shape_of(t);
        let axis = usize::try_from(q.quantized_dimension)
            .ok()
            .filter(|&a| a < shape.len())
            .ok_or_else(|| {
                ctx.unsupported(format!(
                    "tensor '{}': quantized dimension {} out of range for shape {shape:?}",
                    t.name, q.quantized_dimension
                ))
            })?;
        let channels = shape[axis];
        if q.scale.len() != channels {
            return Err(ctx.unsupported(format!(
                "tensor '{}': {} scales for {channels} channels along axis {axis}",
                t.name,
                q.scale.len()
            )));
        }
        // TFLite repeats a single zero point over every channel.
        let zero_points: Vec<i32> = match q.zero_point.len() {
            0 => vec![0; channels],
            1 => vec![q.zero_point[0] as i32; channels],
            n if n == channels => q.zero_point.iter().map(|&z| z as i32).collect(),
            n => {
                return Err(ctx.unsupported(format!(
                    "tensor '{}': {n} zero points for {channels} channels",
                    t.name
                )))
            }
        };
        Ok(Some(PerChannel {
            scales: q.scale.clone(),
            zero_points,
            inner: shape[axis + 1..].iter().product(),
            channels,
        }))
    }

    #[inline]
    fn channel(&self, i: usize) -> usize {
        (i / self.inner.max(1)) % self.channels.max(1)
    }
}

// ---------------------------------------------------------------------------------------
// QUANTIZE
// ---------------------------------------------------------------------------------------

/// `AffineQuantize` for one element: the division in float, the rounding half away from
/// zero, the zero point added and the clamp done in double.
#[inline]
fn affine_quantize<T: QInt>(x: f32, scale: f32, zero_point: i32) -> T {
    let unclamped = affine_quantize_unclamped(x, scale, zero_point);
    // std::min(std::max(v, lo), hi): a NaN passes through both (and casts to 0 below).
    let lo = T::MIN as f64;
    let hi = T::MAX as f64;
    let clamped = if unclamped < lo { lo } else { unclamped };
    let clamped = if hi < clamped { hi } else { clamped };
    T::from_i32(clamped as i32)
}

fn affine_quantize_all<T: QInt>(input: &[f32], out: &mut [T], scale: f32, zero_point: i32) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = affine_quantize(x, scale, zero_point);
    }
}

fn per_channel_quantize_all<T: QInt>(input: &[f32], out: &mut [T], pc: &PerChannel) {
    for (i, (o, &x)) in out.iter_mut().zip(input).enumerate() {
        let c = pc.channel(i);
        *o = affine_quantize(x, pc.scales[c], pc.zero_points[c]);
    }
}

/// `reference_ops::Requantize`.
fn requantize_all<I: QInt, O: QInt>(input: &[I], out: &mut [O], r: &Requant) {
    if r.bit_flip {
        // Same scale, zero points 128 apart, int8 <-> uint8: flip the top bit.
        // C++ stores the low byte of `int(x) ^ 0x80` into the 8-bit output.
        for (o, &x) in out.iter_mut().zip(input) {
            *o = O::from_i32(x.to_i32() ^ 0x80);
        }
        return;
    }
    for (o, &x) in out.iter_mut().zip(input) {
        let v = x.to_i32().wrapping_sub(r.input_zero_point);
        let v = multiply_by_quantized_multiplier(v, r.multiplier).wrapping_add(r.output_zero_point);
        *o = O::from_i32(v.clamp(O::MIN, O::MAX));
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Requant {
    pub(crate) multiplier: QuantizedMultiplier,
    pub(crate) input_zero_point: i32,
    pub(crate) output_zero_point: i32,
    /// `Requantize`'s fast path: int8↔uint8 with the same scale and zero points 128 apart.
    pub(crate) bit_flip: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QuantizeOp {
    /// float32 → int8/uint8/int16, one scale.
    Affine { scale: f32, zero_point: i32 },
    /// float32 → int8/uint8/int16, one scale per channel.
    PerChannel(PerChannel),
    /// int → int.
    Requantize(Requant),
}

pub(crate) struct QuantizeKernel {
    pub(crate) op: QuantizeOp,
    pub(crate) len: usize,
}

impl QuantizeKernel {
    fn per_channel(&self) -> bool {
        matches!(self.op, QuantizeOp::PerChannel(_))
    }
}

impl Kernel for QuantizeKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let input = inputs
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| Error::Shape("QUANTIZE: missing input".into()))?;
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape("QUANTIZE: missing output".into()))?;
        // Elementwise: only the per-channel layout depends on the prepared shape.
        if input.len() != out.len() || (self.per_channel() && input.len() != self.len) {
            return Err(Error::Shape(format!(
                "QUANTIZE: input of {} elements, output of {} (prepared for {})",
                input.len(),
                out.len(),
                self.len
            )));
        }
        match &self.op {
            QuantizeOp::Affine { scale, zero_point } => {
                let x = input
                    .as_f32()
                    .ok_or_else(|| dtype_error("QUANTIZE input", input.buf()))?;
                match out.buf_mut() {
                    Buf::I8(o) => affine_quantize_all(x, o, *scale, *zero_point),
                    Buf::U8(o) => affine_quantize_all(x, o, *scale, *zero_point),
                    Buf::I16(o) => affine_quantize_all(x, o, *scale, *zero_point),
                    b => return Err(dtype_error("QUANTIZE output", b)),
                }
            }
            QuantizeOp::PerChannel(pc) => {
                let x = input
                    .as_f32()
                    .ok_or_else(|| dtype_error("QUANTIZE input", input.buf()))?;
                match out.buf_mut() {
                    Buf::I8(o) => per_channel_quantize_all(x, o, pc),
                    Buf::U8(o) => per_channel_quantize_all(x, o, pc),
                    Buf::I16(o) => per_channel_quantize_all(x, o, pc),
                    b => return Err(dtype_error("QUANTIZE output", b)),
                }
            }
            QuantizeOp::Requantize(r) => {
                fn to<I: QInt>(x: &[I], out: &mut Buf, r: &Requant) -> Result<()> {
                    match out {
                        Buf::I8(o) => requantize_all(x, o, r),
                        Buf::U8(o) => requantize_all(x, o, r),
                        Buf::I16(o) => requantize_all(x, o, r),
                        Buf::I32(o) => requantize_all(x, o, r),
                        b => return Err(dtype_error("QUANTIZE output", b)),
                    }
                    Ok(())
                }
                match input.buf() {
                    Buf::I8(x) => to(x, out.buf_mut(), r)?,
                    Buf::U8(x) => to(x, out.buf_mut(), r)?,
                    Buf::I16(x) => to(x, out.buf_mut(), r)?,
                    Buf::I32(x) => to(x, out.buf_mut(), r)?,
                    b => return Err(dtype_error("QUANTIZE input", b)),
                }
            }
        }
        Ok(())
    }
}

pub(super) fn prepare_quantize(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 1 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("QUANTIZE takes one input and one output"));
    }
    let input = ctx.input(0)?;
    let output = ctx.output(0)?;
    let (in_shape, out_shape) = (shape_of(input), shape_of(output));
    if in_shape != out_shape {
        return Err(ctx.invalid(format!(
            "input shape {in_shape:?} differs from output shape {out_shape:?}"
        )));
    }
    let len = out_shape.iter().product();
    let op = if input.dtype == DType::F32 {
        if !matches!(output.dtype, DType::I8 | DType::U8 | DType::I16) {
            return Err(ctx.unsupported("float32 quantizes to int8, uint8 or int16 only"));
        }
        match PerChannel::of(ctx, output)? {
            Some(pc) => QuantizeOp::PerChannel(pc),
            None => {
                let (scale, zero_point) = ctx.per_tensor(output)?;
                QuantizeOp::Affine { scale, zero_point }
            }
        }
    } else {
        let ok = match input.dtype {
            DType::I16 => matches!(output.dtype, DType::I8 | DType::I16 | DType::I32),
            DType::I32 => matches!(output.dtype, DType::I8 | DType::I16),
            DType::I8 | DType::U8 => matches!(output.dtype, DType::I8 | DType::U8),
            _ => false,
        };
        if !ok {
            return Err(ctx.unsupported("no requantization between these types"));
        }
        let (in_scale, in_zp) = ctx.per_tensor(input)?;
        let (out_scale, out_zp) = ctx.per_tensor(output)?;
        if input.dtype == DType::I16 && output.dtype == DType::I16 && (in_zp != 0 || out_zp != 0) {
            return Err(ctx.unsupported("int16 → int16 requantization needs zero points 0"));
        }
        let multiplier = quantize_multiplier(in_scale as f64 / out_scale as f64);
        let same_scale = multiplier.multiplier == 1 << 30 && multiplier.shift == 1;
        let diff = in_zp - out_zp;
        let bit_flip = same_scale
            && ((input.dtype == DType::I8 && output.dtype == DType::U8 && diff == -128)
                || (input.dtype == DType::U8 && output.dtype == DType::I8 && diff == 128));
        QuantizeOp::Requantize(Requant {
            multiplier,
            input_zero_point: in_zp,
            output_zero_point: out_zp,
            bit_flip,
        })
    };
    Ok(Box::new(QuantizeKernel { op, len }))
}

// ---------------------------------------------------------------------------------------
// DEQUANTIZE
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DequantizeOp {
    /// int8/uint8/int16, one scale: `f32(f64(scale) * f64(q - zp))`.
    Affine { scale: f32, zero_point: i32 },
    /// int8/uint8, one scale per channel: `scale[c] * f32(q - zp[c])`.
    PerChannel(PerChannel),
    /// float16 → float32.
    Half,
}

pub(crate) struct DequantizeKernel {
    pub(crate) op: DequantizeOp,
    pub(crate) len: usize,
}

fn dequantize_all<T: QInt>(q: &[T], out: &mut [f32], scale: f32, zero_point: i32) {
    let scale = scale as f64;
    for (o, &x) in out.iter_mut().zip(q) {
        *o = (scale * x.to_i32().wrapping_sub(zero_point) as f64) as f32;
    }
}

fn per_channel_dequantize_all<T: QInt>(q: &[T], out: &mut [f32], pc: &PerChannel) {
    for (i, (o, &x)) in out.iter_mut().zip(q).enumerate() {
        let c = pc.channel(i);
        *o = pc.scales[c] * x.to_i32().wrapping_sub(pc.zero_points[c]) as f32;
    }
}

impl DequantizeKernel {
    fn per_channel(&self) -> bool {
        matches!(self.op, DequantizeOp::PerChannel(_))
    }
}

impl Kernel for DequantizeKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let input = inputs
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| Error::Shape("DEQUANTIZE: missing input".into()))?;
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape("DEQUANTIZE: missing output".into()))?;
        // Elementwise: only the per-channel layout depends on the prepared shape.
        if input.len() != out.len() || (self.per_channel() && input.len() != self.len) {
            return Err(Error::Shape(format!(
                "DEQUANTIZE: input of {} elements, output of {} (prepared for {})",
                input.len(),
                out.len(),
                self.len
            )));
        }
        let Buf::F32(o) = out.buf_mut() else {
            return Err(dtype_error("DEQUANTIZE output", out.buf()));
        };
        match (&self.op, input.buf()) {
            (DequantizeOp::Affine { scale, zero_point }, Buf::I8(x)) => {
                dequantize_all(x, o, *scale, *zero_point)
            }
            (DequantizeOp::Affine { scale, zero_point }, Buf::U8(x)) => {
                dequantize_all(x, o, *scale, *zero_point)
            }
            (DequantizeOp::Affine { scale, zero_point }, Buf::I16(x)) => {
                dequantize_all(x, o, *scale, *zero_point)
            }
            (DequantizeOp::PerChannel(pc), Buf::I8(x)) => per_channel_dequantize_all(x, o, pc),
            (DequantizeOp::PerChannel(pc), Buf::U8(x)) => per_channel_dequantize_all(x, o, pc),
            (DequantizeOp::Half, Buf::F16(x)) => {
                for (o, &h) in o.iter_mut().zip(x) {
                    *o = f16_to_f32(h);
                }
            }
            (_, b) => return Err(dtype_error("DEQUANTIZE input", b)),
        }
        Ok(())
    }
}

pub(super) fn prepare_dequantize(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 1 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("DEQUANTIZE takes one input and one output"));
    }
    let input = ctx.input(0)?;
    let output = ctx.output(0)?;
    if output.dtype != DType::F32 {
        return Err(ctx.unsupported("DEQUANTIZE outputs float32 only"));
    }
    let (in_shape, out_shape) = (shape_of(input), shape_of(output));
    if in_shape != out_shape {
        return Err(ctx.invalid(format!(
            "input shape {in_shape:?} differs from output shape {out_shape:?}"
        )));
    }
    let len = out_shape.iter().product();
    let op = match input.dtype {
        DType::F16 => DequantizeOp::Half,
        DType::I8 | DType::U8 | DType::I16 => match PerChannel::of(ctx, input)? {
            Some(pc) if input.dtype != DType::I16 => DequantizeOp::PerChannel(pc),
            Some(_) => return Err(ctx.unsupported("per-channel int16 dequantization")),
            None => {
                let (scale, zero_point) = ctx.per_tensor(input)?;
                DequantizeOp::Affine { scale, zero_point }
            }
        },
        _ => return Err(ctx.unsupported("DEQUANTIZE reads int8, uint8, int16 or float16")),
    };
    Ok(Box::new(DequantizeKernel { op, len }))
}

#[cfg(test)]
mod tests;
