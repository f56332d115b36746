//! RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR on the GPU (`shaders/resize.wgsl`), twin of
//! `src/reference/resize`: the reference's per-row and per-column taps are uploaded as they
//! are.
//!
//! uint8 bilinear: the reference computes it in float32 (`ResizeBilinear<uint8>`) and
//! truncates, so its integer result depends on float rounding that WGSL does not pin down
//! (contraction into fused multiply-adds is allowed); the shader repeats the reference's
//! operations in exact soft float (`shaders/common/softfloat.wgsl`), with the weights
//! `dy`, `1 - dy` computed here in f32 exactly as the reference computes them.

use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::model::DType;
use crate::reference::resize::bilinear::{Bilinear, BilinearTaps};
use crate::reference::resize::nearest::Nearest;
use crate::reference::resize::ResizeShape;
use crate::Result;

const WG: u32 = 64;

fn dispatch(
    ctx: &GpuOpCtx,
    s: &ResizeShape,
    taps: Vec<[i32; 4]>,
    entry: &'static str,
) -> Result<Vec<Command>> {
    let dtype = ctx.op.input(0)?.dtype;
    let (bits, signed) = match dtype {
        DType::F32 => (32, 0),
        DType::I8 => (8, 1),
        DType::U8 => (8, 0),
        DType::I16 => (16, 1),
        other => return Err(ctx.unsupported(format!("dtype {other}"))),
    };
    let n_out = s.batches * s.out_h * s.out_w * s.depth;
    if n_out == 0 {
        return Ok(Vec::new());
    }
    let fit = |v: usize| {
        i32::try_from(v).map_err(|_| ctx.unsupported("the tensor is too large for 32-bit indices"))
    };
    fit(s.batches * s.in_h * s.in_w * s.depth)?;
    let geom = [
        fit(s.batches)?,
        fit(s.in_h)?,
        fit(s.in_w)?,
        fit(s.depth)?,
        fit(s.out_h)?,
        fit(s.out_w)?,
        bits,
        signed,
        fit(n_out)?,
        // The fuse guard (always 0).
        0,
    ];
    let bytes: Vec<u8> = geom.iter().flat_map(|v| v.to_le_bytes()).collect();
    let geom = ctx.upload("resize geometry", &bytes)?;
    let bytes: Vec<u8> = taps
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let taps = ctx.upload("resize taps", &bytes)?;
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    let words = (n_out as u64).div_ceil(32 / bits as u64);
    let key = PipelineKey::new("resize", entry).constant("WG", f64::from(WG));
    Ok(vec![ctx.dispatch(
        &key,
        &[&geom, &taps, &x, &y],
        ctx.grid(words.div_ceil(u64::from(WG)))?,
    )?])
}

fn index(ctx: &GpuOpCtx, v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| ctx.unsupported("an index does not fit 32 bits"))
}

/// RESIZE_NEAREST_NEIGHBOR.
pub(crate) fn prepare_nearest(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &Nearest = ctx.kernel()?;
    let taps =
        k.ys.iter()
            .chain(&k.xs)
            .map(|&i| Ok([index(ctx, i)?, 0, 0, 0]))
            .collect::<Result<Vec<_>>>()?;
    dispatch(ctx, &k.shape, taps, "nearest")
}

/// RESIZE_BILINEAR.
pub(crate) fn prepare_bilinear(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &Bilinear = ctx.kernel()?;
    let dtype = ctx.op.input(0)?.dtype;
    match (&k.taps, dtype) {
        (BilinearTaps::Float { ys, xs }, DType::F32) => {
            let taps = ys
                .iter()
                .chain(xs)
                .map(|t| {
                    Ok([
                        t.v.to_bits() as i32,
                        index(ctx, t.lo)?,
                        index(ctx, t.hi)?,
                        0,
                    ])
                })
                .collect::<Result<Vec<_>>>()?;
            dispatch(ctx, &k.shape, taps, "bilinear_f32")
        }
        (BilinearTaps::Int { ys, xs }, DType::I8 | DType::I16) => {
            let taps = ys
                .iter()
                .chain(xs)
                .map(|t| Ok([t.v, index(ctx, t.lo)?, index(ctx, t.hi)?, 0]))
                .collect::<Result<Vec<_>>>()?;
            dispatch(ctx, &k.shape, taps, "bilinear_int")
        }
        (BilinearTaps::Float { ys, xs }, DType::U8) => {
            let taps = ys
                .iter()
                .chain(xs)
                .map(|t| {
                    // The reference's `ty.v - ty.lo as f32` and `1.0 - dy`, in f32.
                    let d = t.v - t.lo as f32;
                    Ok([
                        d.to_bits() as i32,
                        index(ctx, t.lo)?,
                        index(ctx, t.hi)?,
                        (1.0f32 - d).to_bits() as i32,
                    ])
                })
                .collect::<Result<Vec<_>>>()?;
            dispatch(ctx, &k.shape, taps, "bilinear_u8")
        }
        _ => Err(ctx.unsupported(format!("{dtype} RESIZE_BILINEAR"))),
    }
}
