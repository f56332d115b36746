//! QUANTIZE and DEQUANTIZE on the GPU, twin of `src/reference/quantize` (the shader is
//! `shaders/quantize.wgsl`). The reference's prepared kernel gives the path (per tensor,
//! per channel, requantize, float16) and every parameter; this file only lays them out.
//!
//! Also the small helpers the elementwise families share: element widths of packed
//! tensors, word counts and parameter blocks.

use super::{Arg, Command, GpuOpCtx};
use crate::model::DType;
use crate::quant::fixedpoint::softdiv::SOFT_QUANTIZE_LIMIT;
use crate::reference::quantize::{
    DequantizeKernel, DequantizeOp, PerChannel, QuantizeKernel, QuantizeOp,
};
use crate::Result;

use crate::gpu::shaders::PipelineKey;

/// Workgroup size of the elementwise kernels.
pub(super) const WG: u32 = 64;

/// Bits per element and signedness of a tensor in device memory (8-bit packed four per word,
/// 16-bit two per word, 32-bit one), for the dtypes the elementwise kernels read.
pub(super) fn packing(dtype: DType) -> Option<(u32, bool)> {
    Some(match dtype {
        DType::I8 => (8, true),
        DType::U8 => (8, false),
        DType::I16 => (16, true),
        DType::F16 => (16, false),
        DType::I32 | DType::F32 => (32, true),
        _ => return None,
    })
}

/// The dtype of the op's input `i` / output `i`.
pub(super) fn input_dtype(ctx: &GpuOpCtx, i: usize) -> Result<DType> {
    Ok(ctx.op.input(i)?.dtype)
}

pub(super) fn output_dtype(ctx: &GpuOpCtx, i: usize) -> Result<DType> {
    Ok(ctx.op.output(i)?.dtype)
}

/// Bits of a dtype the kernel reads or writes, or an "unsupported" error.
pub(super) fn bits(ctx: &GpuOpCtx, dtype: DType) -> Result<(u32, bool)> {
    packing(dtype).ok_or_else(|| ctx.unsupported(format!("no GPU path for {dtype:?} tensors")))
}

/// Little-endian bytes of 32-bit words (parameter blocks, tables).
pub(super) fn words_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// A workgroup grid covering `invocations` invocations of `WG`.
pub(super) fn grid_for(ctx: &GpuOpCtx, invocations: u64) -> Result<[u32; 3]> {
    ctx.grid(invocations.div_ceil(u64::from(WG)))
}

/// Output words of `len` elements of `out_bits` bits: one invocation each.
pub(super) fn out_words(len: usize, out_bits: u32) -> u64 {
    (len as u64).div_ceil(u64::from(32 / out_bits))
}

fn len_u32(ctx: &GpuOpCtx, len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| ctx.unsupported(format!("{len} elements exceed 2^32")))
}

/// The shader's `Params` block (see `shaders/quantize.wgsl`).
#[derive(Default)]
struct Params {
    len: u32,
    inner: u32,
    channels: u32,
    in_zp: i32,
    out_zp: i32,
    multiplier: i32,
    shift: i32,
    lo: i32,
    hi: i32,
    bit_flip: bool,
}

impl Params {
    fn bytes(&self) -> Vec<u8> {
        words_bytes(&[
            self.len,
            self.inner.max(1),
            self.channels.max(1),
            self.in_zp as u32,
            self.out_zp as u32,
            self.multiplier as u32,
            self.shift as u32,
            self.lo as u32,
            self.hi as u32,
            u32::from(self.bit_flip),
            0,
            0,
        ])
    }
}

/// Scales (as f32 bits) and zero points uploaded, with (inner, channels) as u32: one
/// channel of `len` elements per tensor, or the per-channel layout.
fn channel_tables(
    ctx: &GpuOpCtx,
    scales: &[f32],
    zps: &[i32],
    inner: usize,
    channels: usize,
) -> Result<(Arg, Arg, u32, u32)> {
    if let Some(z) = zps
        .iter()
        .find(|z| z.unsigned_abs() > SOFT_QUANTIZE_LIMIT.unsigned_abs())
    {
        return Err(ctx.unsupported(format!(
            "zero point {z} beyond ±{SOFT_QUANTIZE_LIMIT} is not run on the GPU"
        )));
    }
    let s = ctx.upload(
        "quantize scales",
        &words_bytes(&scales.iter().map(|s| s.to_bits()).collect::<Vec<_>>()),
    )?;
    let z = ctx.upload(
        "quantize zero points",
        &words_bytes(&zps.iter().map(|&z| z as u32).collect::<Vec<_>>()),
    )?;
    Ok((
        s,
        z,
        len_u32(ctx, inner.max(1))?,
        len_u32(ctx, channels.max(1))?,
    ))
}

/// The scales, zero points, inner size and channel count of a per-tensor (`Err`) or
/// per-channel (`Ok`) quantization.
fn layout<'a>(
    len: usize,
    q: std::result::Result<&'a PerChannel, (&'a f32, &'a i32)>,
) -> (&'a [f32], &'a [i32], usize, usize) {
    match q {
        Ok(pc) => (&pc.scales, &pc.zero_points, pc.inner, pc.channels),
        Err((s, z)) => (std::slice::from_ref(s), std::slice::from_ref(z), len, 1),
    }
}

/// The output range of an integer dtype.
fn range_of(ctx: &GpuOpCtx, dtype: DType) -> Result<(i32, i32)> {
    crate::reference::common::qrange(dtype)
        .or(if dtype == DType::I32 {
            Some((i32::MIN, i32::MAX))
        } else {
            None
        })
        .ok_or_else(|| ctx.unsupported(format!("no integer range for {dtype:?}")))
}

/// QUANTIZE.
pub(crate) fn prepare_quantize(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &QuantizeKernel = ctx.kernel()?;
    let (in_dt, out_dt) = (input_dtype(ctx, 0)?, output_dtype(ctx, 0)?);
    let (in_bits, in_signed) = bits(ctx, in_dt)?;
    let (out_bits, _) = bits(ctx, out_dt)?;
    let (lo, hi) = range_of(ctx, out_dt)?;
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    let len = len_u32(ctx, k.len)?;
    let grid = grid_for(ctx, out_words(k.len, out_bits))?;
    let cmd = match &k.op {
        QuantizeOp::Affine { .. } | QuantizeOp::PerChannel(_) => {
            let (s, z, inner, channels) = match &k.op {
                QuantizeOp::PerChannel(pc) => layout(k.len, Ok(pc)),
                QuantizeOp::Affine { scale, zero_point } => layout(k.len, Err((scale, zero_point))),
                QuantizeOp::Requantize(_) => return Err(ctx.op.invalid("inconsistent kernel")),
            };
            let (scales, zps, inner, channels) = channel_tables(ctx, s, z, inner, channels)?;
            let p = ctx.uniform(
                "quantize params",
                &Params {
                    len,
                    inner,
                    channels,
                    lo,
                    hi,
                    ..Default::default()
                }
                .bytes(),
            )?;
            let key = PipelineKey::new("quantize", "quantize_float")
                .constant("WG", f64::from(WG))
                .constant("OUT_BITS", f64::from(out_bits));
            ctx.dispatch(&key, &[&x, &y, &p, &scales, &zps], grid)?
        }
        QuantizeOp::Requantize(r) => {
            let p = ctx.uniform(
                "requantize params",
                &Params {
                    len,
                    in_zp: r.input_zero_point,
                    out_zp: r.output_zero_point,
                    multiplier: r.multiplier.multiplier,
                    shift: r.multiplier.shift,
                    lo,
                    hi,
                    bit_flip: r.bit_flip,
                    ..Default::default()
                }
                .bytes(),
            )?;
            let key = PipelineKey::new("quantize", "requantize")
                .constant("WG", f64::from(WG))
                .constant("IN_BITS", f64::from(in_bits))
                .constant("IN_SIGNED", f64::from(u8::from(in_signed)))
                .constant("OUT_BITS", f64::from(out_bits));
            ctx.dispatch(&key, &[&x, &y, &p], grid)?
        }
    };
    Ok(vec![cmd])
}

/// DEQUANTIZE.
pub(crate) fn prepare_dequantize(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &DequantizeKernel = ctx.kernel()?;
    let in_dt = input_dtype(ctx, 0)?;
    let (in_bits, in_signed) = bits(ctx, in_dt)?;
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    let len = len_u32(ctx, k.len)?;
    let grid = grid_for(ctx, k.len as u64)?;
    let base = Params {
        len,
        ..Default::default()
    };
    let cmd = match &k.op {
        DequantizeOp::Half => {
            let p = ctx.uniform("dequantize params", &base.bytes())?;
            let key = PipelineKey::new("quantize", "dequantize_half").constant("WG", f64::from(WG));
            ctx.dispatch(&key, &[&x, &y, &p], grid)?
        }
        DequantizeOp::Affine { .. } | DequantizeOp::PerChannel(_) => {
            let (s, z, inner, channels) = match &k.op {
                DequantizeOp::PerChannel(pc) => layout(k.len, Ok(pc)),
                DequantizeOp::Affine { scale, zero_point } => {
                    layout(k.len, Err((scale, zero_point)))
                }
                DequantizeOp::Half => return Err(ctx.op.invalid("inconsistent kernel")),
            };
            let (scales, zps, inner, channels) = channel_tables(ctx, s, z, inner, channels)?;
            let p = ctx.uniform(
                "dequantize params",
                &Params {
                    inner,
                    channels,
                    ..base
                }
                .bytes(),
            )?;
            let key = PipelineKey::new("quantize", "dequantize")
                .constant("WG", f64::from(WG))
                .constant("IN_BITS", f64::from(in_bits))
                .constant("IN_SIGNED", f64::from(u8::from(in_signed)));
            ctx.dispatch(&key, &[&x, &y, &p, &scales, &zps], grid)?
        }
    };
    Ok(vec![cmd])
}
