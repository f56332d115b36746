//! MEAN on the GPU (`shaders/reduce.wgsl`), twin of `src/reference/reduce.rs`: the
//! reference's folded multiplier and zero points are uploaded as they are. Short reductions:
//! one invocation per output word walks each output's reduced elements in the input's
//! row-major order; long integer ones (at least [`LONG`] elements): a workgroup per output
//! word. Float32 sums keep the reference's order, so its bits (the division is the soft
//! float's correctly rounded `f32_div`); in the converter's order, last-dimension float
//! means sum each row in Eigen's vectorised order instead (`mean_f32_eigen`).

use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::model::DType;
use crate::reference::dims;
use crate::reference::reduce::{resolve_axes, Mean};
use crate::Result;

const WG: u32 = 64;

/// Reduced elements per output from which a workgroup (`RWG` = 64 invocations) shares each
/// output word's sum.
const LONG: usize = 256;

/// MEAN.
pub(crate) fn prepare_mean(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &Mean = ctx.kernel()?;
    if k.n_out == 0 {
        return Ok(Vec::new());
    }
    let input = ctx.op.input(0)?;
    let in_shape = dims(input);
    let axes = ctx.op.require_const(1, "the axis")?;
    let axes = axes
        .as_i32()
        .and_then(|a| resolve_axes(in_shape.len(), a))
        .ok_or_else(|| ctx.op.invalid("the axis tensor does not resolve"))?;
    let (bits, signed, lo, hi) = match input.dtype {
        DType::F32 => (32, false, 0, 0),
        DType::I8 => (8, true, -128, 127),
        DType::U8 => (8, false, 0, 255),
        DType::I16 => (16, true, -32768, 32767),
        other => return Err(ctx.unsupported(format!("dtype {other}"))),
    };
    let fit = |v: usize| {
        i32::try_from(v).map_err(|_| ctx.unsupported("the tensor is too large for 32-bit indices"))
    };
    fit(in_shape.iter().product())?;
    let rank = in_shape.len();
    let mut strides = vec![1usize; rank];
    for d in (0..rank.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * in_shape[d + 1];
    }
    let kept: Vec<usize> = (0..rank).filter(|d| !axes.contains(d)).collect();
    // Ascending: the reference adds in the input's row-major order.
    let reduced: Vec<usize> = (0..rank).filter(|d| axes.contains(d)).collect();
    let (zp_in, zp_out, mult, shift) = match &k.requant {
        Some(r) => (
            r.input_zero_point,
            r.output_zero_point,
            r.multiplier.multiplier,
            r.multiplier.shift,
        ),
        None => (0, 0, 0, 0),
    };
    let mut plan = vec![
        fit(k.n_out)?,
        fit(k.count)?,
        kept.len() as i32,
        reduced.len() as i32,
        bits,
        i32::from(signed),
        zp_in,
        zp_out,
        mult,
        shift,
        lo,
        hi,
    ];
    for &d in kept.iter().chain(&reduced) {
        plan.extend([fit(in_shape[d])?, fit(strides[d])?]);
    }
    let bytes: Vec<u8> = plan.iter().flat_map(|v| v.to_le_bytes()).collect();
    let plan = ctx.upload("mean plan", &bytes)?;
    let words = (k.n_out as u64).div_ceil(32 / bits as u64);
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    // Long integer reductions: a workgroup per output word; short ones and every float32
    // one (whose order is the reference's): an invocation per word.
    let key = |e| PipelineKey::new("reduce", e);
    if bits == 32 && k.eigen_rows.is_some() {
        // The converter's order over [outer, n] rows (`Mean::eigen_rows`).
        let key = key("mean_f32_eigen").constant("WG", f64::from(WG));
        let groups = (k.n_out as u64).div_ceil(u64::from(WG));
        return Ok(vec![ctx.dispatch(
            &key,
            &[&plan, &x, &y],
            ctx.grid(groups)?,
        )?]);
    }
    let (key, groups) = match (k.count >= LONG && bits != 32, bits == 32) {
        (true, _) => (key("mean_int_long"), words),
        (false, f32) => (
            key(if f32 { "mean_f32" } else { "mean_int_main" }).constant("WG", f64::from(WG)),
            words.div_ceil(u64::from(WG)),
        ),
    };
    Ok(vec![ctx.dispatch(
        &key,
        &[&plan, &x, &y],
        ctx.grid(groups)?,
    )?])
}
