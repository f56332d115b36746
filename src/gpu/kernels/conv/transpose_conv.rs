//! TRANSPOSE_CONV: `tconv_i8` / `tconv_f32` / `tconv_hybrid` of
//! `shaders/transpose_conv.wgsl`, twins of `reference::conv::transpose_conv`.

use super::super::{hybrid, Command, GpuOpCtx};
use super::{check_index_range, epilogue_records, Words};
use crate::gpu::shaders::PipelineKey;
use crate::model::DType;
use crate::reference::conv::transpose_conv::{TconvF32, TconvHybrid, TconvInt, TconvShape};
use crate::reference::FloatOrder;
use crate::Result;

/// Invocations per workgroup (the shader's `@workgroup_size`).
const WG: u64 = 64;

/// TRANSPOSE_CONV in int8, uint8, float32 or hybrid (float32 input, int8 weights).
pub(crate) fn prepare_transpose_conv(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    if let Some(k) = ctx.kernel.downcast_ref::<TconvInt>() {
        return prepare_int(ctx, k);
    }
    if let Some(k) = ctx.kernel.downcast_ref::<TconvF32>() {
        return prepare_f32(ctx, k);
    }
    if let Some(k) = ctx.kernel.downcast_ref::<TconvHybrid>() {
        return prepare_hybrid(ctx, k);
    }
    if let Some(k) = ctx
        .kernel
        .downcast_ref::<crate::reference::conv::int16::TconvI16>()
    {
        return super::int16::prepare_transpose_conv(ctx, k);
    }
    Err(ctx.unsupported("no GPU kernel for this TRANSPOSE_CONV variant"))
}

/// What a dispatch needs besides the buffers.
struct Setup {
    batch_stride: usize,
    input_offset: i32,
    /// Output zero point, activation min and max (int8).
    q: (i32, i32, i32),
    act: (f32, f32),
    has_bias: bool,
    order: FloatOrder,
    /// uint8: `-weights zero point`; `None` for int8 and the float kernels.
    unsigned: Option<i32>,
}

/// The `TcParams` uniform of `shaders/transpose_conv.wgsl`.
fn params(ctx: &GpuOpCtx, s: &TconvShape, u: &Setup) -> Result<Words> {
    check_index_range(
        ctx,
        &[s.batches * u.batch_stride, s.output_len(), s.filter_len()],
    )?;
    let mut w = Words::default();
    w.u(s.in_h)
        .u(s.in_w)
        .u(s.in_c)
        .u(s.out_h)
        .u(s.out_w)
        .u(s.out_c);
    w.u(s.filter_h).u(s.filter_w).u(s.stride_h).u(s.stride_w);
    w.u(s.pad_h).u(s.pad_w).u(s.grid_h).u(s.grid_w);
    w.u(s.output_len()).u(u.batch_stride);
    w.i(u.input_offset).i(u.q.0).i(u.q.1).i(u.q.2);
    w.f(u.act.0).f(u.act.1);
    w.u(0)
        .u(usize::from(u.has_bias))
        .u(usize::from(u.order == FloatOrder::Converter));
    w.u(usize::from(u.unsigned.is_some()))
        .i(u.unsigned.unwrap_or(0));
    // The GEMM of TransposeConvV2: filter_h·filter_w·out_c rows, one column per input pixel.
    let rows = s.filter_h * s.filter_w * s.out_c;
    w.u(crate::reference::eigen_kc(s.in_c, rows, s.in_h * s.in_w));
    Ok(w)
}

fn key(entry: &'static str) -> PipelineKey {
    PipelineKey::new("transpose_conv", entry)
}

/// The float bias (input 3), or a zero placeholder when the op has none.
fn bias(ctx: &GpuOpCtx, out_c: usize) -> Result<(super::super::Arg, bool)> {
    match ctx.op.op.input(3) {
        Some(t) => Ok((ctx.tensor(t)?, true)),
        None => Ok((
            ctx.upload("transpose_conv no bias", &vec![0u8; out_c * 4])?,
            false,
        )),
    }
}

/// `tconv_i8` on int8 or uint8 bytes: one invocation per output word.
fn prepare_int(ctx: &GpuOpCtx, k: &TconvInt) -> Result<Vec<Command>> {
    let s = &k.shape;
    let e = &k.epilogue;
    let setup = Setup {
        batch_stride: s.in_h * s.in_w * s.in_c,
        input_offset: k.input_offset,
        q: (e.output_zero_point, e.act_min, e.act_max),
        act: (0.0, 0.0),
        has_bias: false,
        order: FloatOrder::Reference,
        unsigned: (k.dtype == DType::U8).then_some(k.filter_offset),
    };
    // The weights' bytes (two's complement for int8).
    let weights: Vec<u8> = k.filter.iter().map(|&v| v as u8).collect();
    let uniform = ctx.uniform("tconv_i8 params", &params(ctx, s, &setup)?.0)?;
    let weights = ctx.upload("tconv_i8 weights", &weights)?;
    let epilogue = ctx.upload("tconv_i8 epilogue", &epilogue_records(e, |_| 0))?;
    let input = ctx.input(2)?;
    let output = ctx.output(0)?;
    let words = s.output_len().div_ceil(4) as u64;
    Ok(vec![ctx.dispatch(
        &key("tconv_i8"),
        &[&uniform, &input, &weights, &epilogue, &output],
        ctx.grid(words.div_ceil(WG))?,
    )?])
}

fn prepare_f32(ctx: &GpuOpCtx, k: &TconvF32) -> Result<Vec<Command>> {
    let s = &k.shape;
    let (bias, has_bias) = bias(ctx, s.out_c)?;
    let setup = Setup {
        batch_stride: s.in_h * s.in_w * s.in_c,
        input_offset: 0,
        q: (0, 0, 0),
        act: k.act,
        has_bias,
        order: k.order,
        unsigned: None,
    };
    let uniform = ctx.uniform("tconv_f32 params", &params(ctx, s, &setup)?.0)?;
    let filter = ctx.input(1)?;
    let input = ctx.input(2)?;
    let output = ctx.output(0)?;
    Ok(vec![ctx.dispatch(
        &key("tconv_f32"),
        &[&uniform, &input, &filter, &bias, &output],
        ctx.grid((s.output_len() as u64).div_ceil(WG))?,
    )?])
}

/// Hybrid TRANSPOSE_CONV: the input quantized per batch on the device (asymmetric,
/// `kernels::hybrid`), then `tconv_hybrid`.
fn prepare_hybrid(ctx: &GpuOpCtx, k: &TconvHybrid) -> Result<Vec<Command>> {
    let s = &k.shape;
    let row_len = s.in_h * s.in_w * s.in_c;
    let (Ok(rows), Ok(len)) = (u32::try_from(s.batches), u32::try_from(row_len)) else {
        return Err(ctx.unsupported("the input is too large for the hybrid quantization"));
    };
    let input = ctx.input(2)?;
    let (mut commands, q) = hybrid::quantize_rows(ctx, &input, rows, len, false)?;
    let (bias, has_bias) = bias(ctx, s.out_c)?;
    let setup = Setup {
        batch_stride: q.row_words as usize * 4,
        input_offset: 0,
        q: (0, 0, 0),
        act: k.act,
        has_bias,
        order: FloatOrder::Reference,
        unsigned: None,
    };
    let uniform = ctx.uniform("tconv_hybrid params", &params(ctx, s, &setup)?.0)?;
    let weights: Vec<u8> = k.filter.iter().map(|&v| v as u8).collect();
    let weights = ctx.upload("tconv_hybrid weights", &weights)?;
    let scales: Vec<u8> = k.scales.iter().flat_map(|v| v.to_le_bytes()).collect();
    let scales = ctx.upload("tconv_hybrid scales", &scales)?;
    let output = ctx.output(0)?;
    commands.push(ctx.dispatch(
        &key("tconv_hybrid"),
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
        ctx.grid((s.output_len() as u64).div_ceil(WG))?,
    )?);
    Ok(commands)
}
