//! AVERAGE_POOL_2D and MAX_POOL_2D on the GPU (`shaders/pooling.wgsl`), twin of
//! `src/reference/pooling`: the reference's geometry and clamp are uploaded as they are.

use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::model::DType;
use crate::reference::pooling::{Clamp, Pool, PoolKind};
use crate::Result;

const WG: u32 = 64;

/// AVERAGE_POOL_2D, MAX_POOL_2D.
pub(crate) fn prepare(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &Pool = ctx.kernel()?;
    let g = &k.geom;
    let dtype = ctx.op.input(0)?.dtype;
    let (bits, signed) = match dtype {
        DType::F32 => (32, false),
        DType::I8 => (8, true),
        DType::U8 => (8, false),
        DType::I16 => (16, true),
        other => return Err(ctx.unsupported(format!("dtype {other}"))),
    };
    let n_out = g.batches * g.out_h * g.out_w * g.depth;
    if n_out == 0 {
        return Ok(Vec::new());
    }
    // The shader sums in i32 (the reference in i64): refuse windows whose sum could overflow.
    let taps = g.filter_h.saturating_mul(g.filter_w);
    if bits != 32 && taps >= (1usize << (31 - bits)) {
        return Err(ctx.unsupported(format!(
            "a {}x{} window is too large for the 32-bit sum",
            g.filter_h, g.filter_w
        )));
    }
    let (lo, hi) = match k.clamp {
        Clamp::F32(lo, hi) => (lo.to_bits() as i32, hi.to_bits() as i32),
        Clamp::Int(lo, hi) => (lo, hi),
    };
    let fit = |v: usize| {
        i32::try_from(v).map_err(|_| ctx.unsupported("the tensor is too large for 32-bit indices"))
    };
    let n_in = g.batches * g.in_h * g.in_w * g.depth;
    fit(n_in)?;
    let geom = [
        fit(g.batches)?,
        fit(g.in_h)?,
        fit(g.in_w)?,
        fit(g.depth)?,
        fit(g.out_h)?,
        fit(g.out_w)?,
        fit(g.stride_h)?,
        fit(g.stride_w)?,
        fit(g.filter_h)?,
        fit(g.filter_w)?,
        fit(g.pad_h)?,
        fit(g.pad_w)?,
        lo,
        hi,
        bits,
        i32::from(signed),
        fit(n_out)?,
    ];
    let bytes: Vec<u8> = geom.iter().flat_map(|v| v.to_le_bytes()).collect();
    let geom = ctx.upload("pool geometry", &bytes)?;
    let entry = match (k.kind, bits) {
        (PoolKind::Average, 32) => "average_f32",
        (PoolKind::Max, 32) => "max_f32",
        (PoolKind::Average, _) => "average_int",
        (PoolKind::Max, _) => "max_int",
    };
    let words = (n_out as u64).div_ceil(32 / bits as u64);
    let key = PipelineKey::new("pooling", entry).constant("WG", f64::from(WG));
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    Ok(vec![ctx.dispatch(
        &key,
        &[&geom, &x, &y],
        ctx.grid(words.div_ceil(u64::from(WG)))?,
    )?])
}
