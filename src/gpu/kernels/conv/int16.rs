//! The 16x8 convolutions on the GPU (`shaders/conv16.wgsl`), twin of
//! `src/reference/conv/int16.rs`: the reference's prepared kernel gives the window, the
//! int64 biases and the reduced multipliers; this file uploads them and dispatches one
//! invocation per output word.

use super::super::quantize::{grid_for, out_words, WG};
use super::super::{Command, GpuOpCtx};
use super::{check_index_range, Words};
use crate::gpu::shaders::PipelineKey;
use crate::reference::conv::conv2d::ConvI16;
use crate::reference::conv::depthwise::DwI16;
use crate::reference::conv::int16::{Epilogue16, TconvI16};
use crate::reference::conv::Geom;
use crate::Result;

/// Per output channel: bias (low, high word), reduced multiplier, total shift.
fn channel_words(e: &Epilogue16) -> Vec<u8> {
    let mut w = Words::default();
    for (b, m) in e.bias.iter().zip(&e.multipliers) {
        let b = *b as u64;
        w.u((b & 0xffff_ffff) as usize)
            .u((b >> 32) as usize)
            .i(m.multiplier)
            .u(m.total_shift as usize);
    }
    w.0
}

/// `(per_group, group_stride, taps_c, w_oc, w_tap, w_ic)` of the shader's `Params`.
type Taps = [usize; 6];

#[allow(clippy::too_many_arguments)]
fn dispatch(
    ctx: &GpuOpCtx,
    entry: &'static str,
    g: &Geom,
    taps: Taps,
    e: &Epilogue16,
    (input_slot, filter_slot): (usize, usize),
    weights_len: usize,
) -> Result<Vec<Command>> {
    let len = g.output_len();
    check_index_range(ctx, &[g.input_len(), len, weights_len])?;
    let mut w = Words::default();
    w.u(g.in_h)
        .u(g.in_w)
        .u(g.in_c)
        .u(g.out_h)
        .u(g.out_w)
        .u(g.out_c);
    w.u(g.filter_h).u(g.filter_w).u(g.stride_h).u(g.stride_w);
    w.u(g.dilation_h).u(g.dilation_w).u(g.pad_h).u(g.pad_w);
    for t in taps {
        w.u(t);
    }
    w.u(len).i(e.act_min).i(e.act_max).u(0);
    let params = ctx.uniform("conv16 params", &w.0)?;
    let chan = ctx.upload("conv16 channels", &channel_words(e))?;
    let x = ctx.input(input_slot)?;
    let f = ctx.input(filter_slot)?;
    let y = ctx.output(0)?;
    let key = PipelineKey::new("conv16", entry).constant("WG", f64::from(WG));
    let grid = grid_for(ctx, out_words(len, 16))?;
    Ok(vec![ctx.dispatch(
        &key,
        &[&x, &f, &chan, &y, &params],
        grid,
    )?])
}

/// CONV_2D, int16 × int8 (grouped included).
pub(crate) fn prepare_conv(ctx: &GpuOpCtx, k: &ConvI16) -> Result<Vec<Command>> {
    let s = &k.shape;
    let g = &s.g;
    let per_tap = g.filter_h * g.filter_w * s.filter_in_c;
    let taps = [
        s.filters_per_group,
        s.filter_in_c,
        s.filter_in_c,
        per_tap,
        s.filter_in_c,
        1,
    ];
    dispatch(
        ctx,
        "conv16_main",
        g,
        taps,
        &k.epilogue,
        (0, 1),
        g.out_c * per_tap,
    )
}

/// DEPTHWISE_CONV_2D, int16 × int8: output channel `oc` reads input channel
/// `oc / multiplier`, weights `[1, H, W, out_c]`.
pub(crate) fn prepare_depthwise(ctx: &GpuOpCtx, k: &DwI16) -> Result<Vec<Command>> {
    let s = &k.shape;
    let g = &s.g;
    let taps = [s.depth_multiplier, 1, 1, 1, g.out_c, 0];
    dispatch(
        ctx,
        "conv16_main",
        g,
        taps,
        &k.epilogue,
        (0, 1),
        g.filter_h * g.filter_w * g.out_c,
    )
}

/// TRANSPOSE_CONV, int16 × int8 (inputs: output shape, weights, input, bias).
pub(crate) fn prepare_transpose(ctx: &GpuOpCtx, k: &TconvI16) -> Result<Vec<Command>> {
    let s = &k.shape;
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
    dispatch(
        ctx,
        "tconv16_main",
        &g,
        [1, 0, 0, 0, 0, 0],
        &k.epilogue,
        (2, 1),
        s.filter_len(),
    )
}
