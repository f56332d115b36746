//! MEAN, SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD on the GPU (`shaders/reduce.wgsl`), twin of
//! `src/reference/reduce.rs` and `src/reference/reduce_generic.rs`: the reference's
//! multipliers (MEAN's folded one, SUM's plain one) and zero points are uploaded as they are.
//! Short reductions: one invocation per output word walks each output's reduced elements in
//! the input's row-major order; long integer sums (at least [`LONG`] elements): a workgroup
//! per output word. Float32 sums keep the reference's order, so its bits (MEAN's division is
//! the soft float's correctly rounded `f32_div`); in the converter's order, last-dimension
//! float means sum each row in Eigen's vectorised order instead (`mean_f32_eigen`). An int8
//! SUM runs as a uint8 one (BUILTIN_REF reads the bytes as uint8). Float MAX/MIN compare by
//! the bits (WGSL leaves NaN comparisons to the implementation).

use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::model::DType;
use crate::quant::fixedpoint::QuantizedMultiplier;
use crate::reference::dims;
use crate::reference::reduce::{resolve_axes, Mean, MeanRequant};
use crate::reference::reduce_generic::{Reduce, ReduceKind};
use crate::Result;

const WG: u32 = 64;

/// Reduced elements per output from which a workgroup (`RWG` = 64 invocations) shares each
/// output word's sum.
const LONG: usize = 256;

/// The shader's plan (see `shaders/reduce.wgsl`), uploaded.
struct Plan {
    buf: super::Arg,
    /// Output words (four int8/uint8 outputs, two int16 outputs, one float32 output each).
    words: u64,
    bits: i32,
}

/// The plan of a reduction of input 0 over the constant axes of input 1.
#[allow(clippy::too_many_arguments)]
fn plan(
    ctx: &GpuOpCtx,
    dtype: DType,
    n_out: usize,
    count: usize,
    requant: Option<&MeanRequant>,
    kind: i32,
    flags: i32,
) -> Result<Plan> {
    let input = ctx.op.input(0)?;
    let in_shape = dims(input);
    let axes = ctx.op.require_const(1, "the axis")?;
    let axes = axes
        .as_i32()
        .and_then(|a| resolve_axes(in_shape.len(), a))
        .ok_or_else(|| ctx.op.invalid("the axis tensor does not resolve"))?;
    let (bits, signed, lo, hi) = match dtype {
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
    let (zp_in, zp_out, mult, shift) = match requant {
        Some(r) => (
            r.input_zero_point,
            r.output_zero_point,
            r.multiplier.multiplier,
            r.multiplier.shift,
        ),
        None => (0, 0, 0, 0),
    };
    let mut plan = vec![
        fit(n_out)?,
        fit(count)?,
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
        kind,
        flags,
    ];
    for &d in kept.iter().chain(&reduced) {
        plan.extend([fit(in_shape[d])?, fit(strides[d])?]);
    }
    let bytes: Vec<u8> = plan.iter().flat_map(|v| v.to_le_bytes()).collect();
    Ok(Plan {
        buf: ctx.upload("reduce plan", &bytes)?,
        words: (n_out as u64).div_ceil(32 / bits as u64),
        bits,
    })
}

/// The integer-sum dispatch (MEAN and SUM): long reductions a workgroup per output word,
/// short ones an invocation per word.
fn int_sum(ctx: &GpuOpCtx, p: &Plan, count: usize) -> Result<Vec<Command>> {
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    let (key, groups) = if count >= LONG {
        (PipelineKey::new("reduce", "mean_int_long"), p.words)
    } else {
        (
            PipelineKey::new("reduce", "mean_int_main").constant("WG", f64::from(WG)),
            p.words.div_ceil(u64::from(WG)),
        )
    };
    Ok(vec![ctx.dispatch(
        &key,
        &[&p.buf, &x, &y],
        ctx.grid(groups)?,
    )?])
}

/// SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD.
pub(crate) fn prepare_reduce(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &Reduce = ctx.kernel()?;
    if k.n_out == 0 {
        return Ok(Vec::new());
    }
    let dtype = ctx.op.input(0)?.dtype;
    let kind = match k.kind {
        ReduceKind::Sum => 1,
        ReduceKind::Max => 2,
        ReduceKind::Min => 3,
        ReduceKind::Prod => 4,
    };
    if let Some(q) = &k.prod_requant {
        // int8 PROD: the reduced multiplier and the total shift in the multiplier's slots.
        let r = MeanRequant {
            input_zero_point: q.input_zero_point,
            output_zero_point: q.output_zero_point,
            multiplier: QuantizedMultiplier {
                multiplier: q.reduced_multiplier,
                shift: q.total_shift as i32,
            },
            count: k.count as i64,
        };
        let p = plan(ctx, dtype, k.n_out, k.count, Some(&r), kind, 0)?;
        let key = PipelineKey::new("reduce", "prod_int").constant("WG", f64::from(WG));
        return Ok(vec![ctx.dispatch(
            &key,
            &[&p.buf, &ctx.input(0)?, &ctx.output(0)?],
            ctx.grid(p.words.div_ceil(u64::from(WG)))?,
        )?]);
    }
    if let Some(r) = &k.sum_requant {
        // int8 SUM reads and writes its bytes as uint8, as BUILTIN_REF does.
        let p = plan(ctx, DType::U8, k.n_out, k.count, Some(r), kind, 0)?;
        return int_sum(ctx, &p, k.count);
    }
    let flags = i32::from(k.start_at_first) | (i32::from(k.optimized_compare) << 1);
    let p = plan(ctx, dtype, k.n_out, k.count, None, kind, flags)?;
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    let entry = if p.bits == 32 {
        "reduce_f32"
    } else {
        "minmax_int"
    };
    let key = PipelineKey::new("reduce", entry).constant("WG", f64::from(WG));
    Ok(vec![ctx.dispatch(
        &key,
        &[&p.buf, &x, &y],
        ctx.grid(p.words.div_ceil(u64::from(WG)))?,
    )?])
}

/// MEAN.
pub(crate) fn prepare_mean(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &Mean = ctx.kernel()?;
    if k.n_out == 0 {
        return Ok(Vec::new());
    }
    let dtype = ctx.op.input(0)?.dtype;
    let p = plan(ctx, dtype, k.n_out, k.count, k.requant.as_ref(), 0, 0)?;
    if p.bits != 32 {
        return int_sum(ctx, &p, k.count);
    }
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    let entry = if k.eigen_rows.is_some() {
        // The converter's order over [outer, n] rows (`Mean::eigen_rows`).
        "mean_f32_eigen"
    } else {
        "mean_f32"
    };
    let key = PipelineKey::new("reduce", entry).constant("WG", f64::from(WG));
    Ok(vec![ctx.dispatch(
        &key,
        &[&p.buf, &x, &y],
        ctx.grid((k.n_out as u64).div_ceil(u64::from(WG)))?,
    )?])
}
