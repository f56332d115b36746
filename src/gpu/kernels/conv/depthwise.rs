//! DEPTHWISE_CONV_2D: `depthwise_i8` / `depthwise_f32` / `depthwise_hybrid` of
//! `shaders/depthwise.wgsl`.

use super::super::{hybrid, Command, GpuOpCtx};
use super::{
    check_index_range, check_workgroup, epilogue_records, float_bias, int8_target, tiles,
    ConvTiles, Words,
};
use crate::gpu::shaders::PipelineKey;
use crate::reference::conv::depthwise::{DwF32, DwHybrid, DwI8, DwShape};
use crate::reference::FloatOrder;
use crate::Result;

/// DEPTHWISE_CONV_2D in int8, float32 or hybrid (float32 input, int8 weights).
pub(crate) fn prepare_depthwise(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    if let Some(k) = ctx.kernel.downcast_ref::<DwI8>() {
        return prepare_i8(ctx, k);
    }
    if let Some(k) = ctx.kernel.downcast_ref::<DwF32>() {
        return prepare_f32(ctx, k);
    }
    if let Some(k) = ctx
        .kernel
        .downcast_ref::<crate::reference::conv::depthwise::DwI16>()
    {
        return super::int16::prepare_depthwise(ctx, k);
    }
    if let Some(k) = ctx.kernel.downcast_ref::<DwHybrid>() {
        return prepare_hybrid(ctx, k);
    }
    Err(ctx.unsupported("no GPU kernel for this DEPTHWISE_CONV_2D variant"))
}

/// The dispatch shape: invocations, and the `DwParams` uniform of `shaders/depthwise.wgsl`.
struct Plan {
    total: usize,
    params: Words,
}

fn plan(
    ctx: &GpuOpCtx,
    s: &DwShape,
    t: &ConvTiles,
    (input_offset, batch_stride): (i32, usize),
    q: (i32, i32, i32),
    act: (f32, f32),
    order: FloatOrder,
) -> Result<Plan> {
    if !(1..=8).contains(&t.dw_tm) {
        return Err(ctx.unsupported(format!("invalid DEPTHWISE_CONV_2D tiles {t:?}")));
    }
    check_workgroup(ctx, t.dw_wg, 0)?;
    let g = &s.g;
    check_index_range(ctx, &[g.input_len() + 3 * g.batches, g.output_len()])?;
    let quads = g.out_c.div_ceil(4);
    let x_tiles = g.out_w.div_ceil(t.dw_tm as usize);
    let total = g.batches * g.out_h * x_tiles * quads;
    let aligned = s.depth_multiplier == 1 && g.in_c % 4 == 0 && batch_stride % 4 == 0;
    let mut w = Words::default();
    w.u(g.in_h).u(g.in_w).u(g.in_c).u(g.out_h).u(g.out_w);
    w.u(g.out_c).u(g.filter_h).u(g.filter_w);
    w.u(g.stride_h)
        .u(g.stride_w)
        .u(g.dilation_h)
        .u(g.dilation_w);
    w.u(g.pad_h).u(g.pad_w).u(s.depth_multiplier).u(quads);
    w.u(x_tiles)
        .u(total)
        .u(usize::from(aligned))
        .u(batch_stride);
    w.i(input_offset).i(q.0).i(q.1).i(q.2).f(act.0).f(act.1);
    // The fuse guard (always 0); float32: 1 when the sum starts at the bias (the converter's
    // `optimized_ops::DepthwiseConv`), 0 when the bias is added last (the reference's).
    w.u(0).u(usize::from(order == FloatOrder::Converter));
    if u32::try_from(total).is_err() {
        return Err(ctx.unsupported(format!("{total} invocations exceed the u32 index range")));
    }
    Ok(Plan { total, params: w })
}

fn key(entry: &'static str, t: &ConvTiles) -> PipelineKey {
    PipelineKey::new("depthwise", entry)
        .constant("DW_WG", f64::from(t.dw_wg))
        .constant("DW_TM", f64::from(t.dw_tm))
}

/// The int8 filter `[1][filter_h][filter_w][out_c]` as `[tap][quad]` words (channels
/// 4q..4q+3, zeros past `out_c`).
fn pack_filter(filter: &[i8], taps: usize, out_c: usize) -> Vec<u8> {
    let quads = out_c.div_ceil(4);
    let mut out = vec![0u8; taps * quads * 4];
    for tap in 0..taps {
        for (d, &s) in out[tap * quads * 4..]
            .iter_mut()
            .zip(&filter[tap * out_c..][..out_c])
        {
            *d = s as u8;
        }
    }
    out
}

fn prepare_i8(ctx: &GpuOpCtx, k: &DwI8) -> Result<Vec<Command>> {
    let s = &k.shape;
    let g = &s.g;
    let t = tiles(g.out_c);
    let e = &k.epilogue;
    let plan = plan(
        ctx,
        s,
        &t,
        (k.input_offset, g.in_h * g.in_w * g.in_c),
        (e.output_zero_point, e.act_min, e.act_max),
        (0.0, 0.0),
        FloatOrder::Reference,
    )?;
    if plan.total == 0 {
        return Ok(Vec::new());
    }
    let uniform = ctx.uniform("depthwise_i8 params", &plan.params.0)?;
    let taps = g.filter_h * g.filter_w;
    let weights = ctx.upload(
        "depthwise_i8 weights",
        &pack_filter(&k.filter, taps, g.out_c),
    )?;
    let epilogue = ctx.upload("depthwise_i8 epilogue", &epilogue_records(e, |_| 0))?;
    let input = ctx.input(0)?;
    let output = ctx.output(0)?;
    let whole = g.out_c % 4 == 0;
    let (target, pack) = int8_target(ctx, whole, g.output_len(), output)?;
    let key = key("depthwise_i8", &t).constant("WIDE_OUT", if whole { 0.0 } else { 1.0 });
    let mut commands = vec![ctx.dispatch(
        &key,
        &[&uniform, &input, &weights, &epilogue, &target],
        ctx.grid(plan.total.div_ceil(t.dw_wg as usize) as u64)?,
    )?];
    commands.extend(pack);
    Ok(commands)
}

fn prepare_f32(ctx: &GpuOpCtx, k: &DwF32) -> Result<Vec<Command>> {
    let s = &k.shape;
    let g = &s.g;
    let t = tiles(g.out_c);
    let plan = plan(
        ctx,
        s,
        &t,
        (0, g.in_h * g.in_w * g.in_c),
        (0, 0, 0),
        k.act,
        k.order,
    )?;
    if plan.total == 0 {
        return Ok(Vec::new());
    }
    let uniform = ctx.uniform("depthwise_f32 params", &plan.params.0)?;
    let input = ctx.input(0)?;
    let filter = ctx.input(1)?;
    let bias = float_bias(ctx, g.out_c)?;
    let output = ctx.output(0)?;
    Ok(vec![ctx.dispatch(
        &key("depthwise_f32", &t),
        &[&uniform, &input, &filter, &bias, &output],
        ctx.grid(plan.total.div_ceil(t.dw_wg as usize) as u64)?,
    )?])
}

/// Hybrid DEPTHWISE_CONV_2D: the input quantized per batch on the device (asymmetric,
/// `kernels::hybrid`), then `depthwise_hybrid`.
fn prepare_hybrid(ctx: &GpuOpCtx, k: &DwHybrid) -> Result<Vec<Command>> {
    let s = &k.shape;
    let g = &s.g;
    let t = tiles(g.out_c);
    let row_len = g.in_h * g.in_w * g.in_c;
    let (Ok(rows), Ok(len)) = (u32::try_from(g.batches), u32::try_from(row_len)) else {
        return Err(ctx.unsupported("the input is too large for the hybrid quantization"));
    };
    let input = ctx.input(0)?;
    let (mut commands, q) = hybrid::quantize_rows(ctx, &input, rows, len, false)?;
    let stride = q.row_words as usize * 4;
    let plan = plan(
        ctx,
        s,
        &t,
        (0, stride),
        (0, 0, 0),
        k.act,
        FloatOrder::Reference,
    )?;
    if plan.total == 0 {
        return Ok(Vec::new());
    }
    let uniform = ctx.uniform("depthwise_hybrid params", &plan.params.0)?;
    let taps = g.filter_h * g.filter_w;
    let weights = ctx.upload(
        "depthwise_hybrid weights",
        &pack_filter(&k.filter, taps, g.out_c),
    )?;
    let scales: Vec<u8> = k.scales.iter().flat_map(|s| s.to_le_bytes()).collect();
    let scales = ctx.upload("depthwise_hybrid scales", &scales)?;
    let bias = float_bias(ctx, g.out_c)?;
    let output = ctx.output(0)?;
    commands.push(ctx.dispatch(
        &key("depthwise_hybrid", &t),
        &[
            &uniform,
            &q.q,
            &weights,
            &bias,
            &output,
            &scales,
            &q.scale,
            &q.zero_point,
        ],
        ctx.grid(plan.total.div_ceil(t.dw_wg as usize) as u64)?,
    )?);
    Ok(commands)
}
