//! The 16x8 convolutions: `conv16` / `dw16` / `tconv16` of `shaders/conv16.wgsl`, twins of
//! `ConvI16`, `DwI16` and `TconvI16` (`reference::conv::{conv2d, depthwise, int16}`).
//!
//! The reference's prepared kernel is uploaded as it is: the geometry, the int8 filter
//! (packed four to a word) and the [`Epilogue16`] as one record per output channel — the
//! int64 bias as two words, the multiplier reduced to 16 bits and the total right shift of
//! TFLite's int64 `MultiplyByQuantizedMultiplier`. One invocation per output word (two int16
//! outputs); the int64 accumulation is emulated in u32 pairs (`shaders/common/mbqm64.wgsl`).

use super::super::{Command, GpuOpCtx};
use super::{check_index_range, Words};
use crate::gpu::shaders::PipelineKey;
use crate::reference::conv::conv2d::ConvI16;
use crate::reference::conv::depthwise::DwI16;
use crate::reference::conv::int16::{Epilogue16, TconvI16};
use crate::reference::conv::Geom;
use crate::Result;

/// Invocations per workgroup (the shader's `@workgroup_size`).
const WG: u64 = 64;

/// The `Params` uniform of `shaders/conv16.wgsl`.
fn params(g: &Geom, filter_in_c: usize, per_group: usize, e: &Epilogue16) -> Words {
    let mut w = Words::default();
    w.u(g.batches).u(g.in_h).u(g.in_w).u(g.in_c);
    w.u(g.out_h).u(g.out_w).u(g.out_c).u(g.filter_h);
    w.u(g.filter_w).u(g.stride_h).u(g.stride_w).u(g.dilation_h);
    w.u(g.dilation_w).u(g.pad_h).u(g.pad_w).u(filter_in_c);
    w.u(per_group).u(g.output_len()).i(e.act_min).i(e.act_max);
    w
}

/// Per output channel `(bias low, bias high, reduced multiplier, total shift)`.
fn epilogue16_records(e: &Epilogue16) -> Vec<u8> {
    let mut w = Words::default();
    for (b, m) in e.bias.iter().zip(&e.multipliers) {
        let b = *b as u64;
        w.u(b as u32 as usize)
            .u((b >> 32) as u32 as usize)
            .i(m.multiplier)
            .u(m.total_shift as usize);
    }
    w.0
}

/// One dispatch of `entry` over the output words.
fn dispatch(
    ctx: &GpuOpCtx,
    entry: &'static str,
    uniform: Words,
    filter: &[i8],
    e: &Epilogue16,
    input_index: usize,
    out_len: usize,
) -> Result<Vec<Command>> {
    let uniform = ctx.uniform("conv16 params", &uniform.0)?;
    let weights: Vec<u8> = filter.iter().map(|&v| v as u8).collect();
    let weights = ctx.upload("conv16 weights", &weights)?;
    let epilogue = ctx.upload("conv16 epilogue", &epilogue16_records(e))?;
    let input = ctx.input(input_index)?;
    let output = ctx.output(0)?;
    let words = out_len.div_ceil(2) as u64;
    Ok(vec![ctx.dispatch(
        &PipelineKey::new("conv16", entry),
        &[&uniform, &input, &weights, &epilogue, &output],
        ctx.grid(words.div_ceil(WG))?,
    )?])
}

/// CONV_2D 16x8.
pub(crate) fn prepare_conv(ctx: &GpuOpCtx, k: &ConvI16) -> Result<Vec<Command>> {
    let s = &k.shape;
    let g = &s.g;
    check_index_range(ctx, &[g.input_len(), g.output_len(), k.filter.len()])?;
    let uniform = params(g, s.filter_in_c, s.filters_per_group, &k.epilogue);
    dispatch(
        ctx,
        "conv16",
        uniform,
        &k.filter,
        &k.epilogue,
        0,
        g.output_len(),
    )
}

/// DEPTHWISE_CONV_2D 16x8.
pub(crate) fn prepare_depthwise(ctx: &GpuOpCtx, k: &DwI16) -> Result<Vec<Command>> {
    let s = &k.shape;
    let g = &s.g;
    check_index_range(ctx, &[g.input_len(), g.output_len(), k.filter.len()])?;
    let uniform = params(g, 1, s.depth_multiplier, &k.epilogue);
    dispatch(
        ctx,
        "dw16",
        uniform,
        &k.filter,
        &k.epilogue,
        0,
        g.output_len(),
    )
}

/// TRANSPOSE_CONV 16x8 (input 2; the output shape tensor is input 0).
pub(crate) fn prepare_transpose_conv(ctx: &GpuOpCtx, k: &TconvI16) -> Result<Vec<Command>> {
    let s = &k.shape;
    check_index_range(ctx, &[s.input_len(), s.output_len(), s.filter_len()])?;
    let g = Geom {
        batches: s.batches,
        in_h: s.in_h,
        in_w: s.in_w,
        in_c: s.in_c,
        out_h: s.out_h,
        out_w: s.out_w,
        out_c: s.out_c,
        filter_h: s.filter_h,
        filter_w: s.filter_w,
        stride_h: s.stride_h,
        stride_w: s.stride_w,
        dilation_h: 1,
        dilation_w: 1,
        pad_h: s.pad_h,
        pad_w: s.pad_w,
    };
    let uniform = params(&g, s.in_c, 1, &k.epilogue);
    dispatch(
        ctx,
        "tconv16",
        uniform,
        &k.filter,
        &k.epilogue,
        2,
        s.output_len(),
    )
}
