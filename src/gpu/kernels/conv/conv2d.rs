//! CONV_2D: `conv_i8` / `conv_f32` of `shaders/conv.wgsl`, an implicit GEMM over
//! (output pixels) × (output channels of a group) × (filter taps × input channels).

use super::super::{hybrid, Command, GpuOpCtx};
use super::{
    check_index_range, check_workgroup, epilogue_records, float_bias, int8_target, tiles,
    ConvTiles, Words,
};
use crate::gpu::shaders::PipelineKey;
use crate::reference::conv::conv2d::{
    ConvF32, ConvHybrid, ConvI16, ConvI8, ConvShape, HybridScales,
};
use crate::reference::FloatOrder;
use crate::reference::{Blocking, ConvSum, Sharding};
use crate::Result;

/// CONV_2D in int8, float32 or hybrid (float32 input, int8 weights).
pub(crate) fn prepare_conv2d(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    if let Some(k) = ctx.kernel.downcast_ref::<ConvI8>() {
        return prepare_i8(ctx, k);
    }
    if let Some(k) = ctx.kernel.downcast_ref::<ConvF32>() {
        return prepare_f32(ctx, k);
    }
    if let Some(k) = ctx.kernel.downcast_ref::<ConvHybrid>() {
        return prepare_hybrid(ctx, k);
    }
    if let Some(k) = ctx.kernel.downcast_ref::<ConvI16>() {
        return super::int16::prepare_conv(ctx, k);
    }
    Err(ctx.unsupported("no GPU kernel for this CONV_2D variant"))
}

/// The GEMM sizes of a convolution for one tile configuration.
struct Gemm {
    /// Output pixels.
    m: usize,
    /// Reduction elements per tap (int8: words of four channels).
    per_tap: usize,
    /// Reduction length.
    k: usize,
    m_tiles: usize,
    n_tiles: usize,
    groups: usize,
    /// Workgroup tile lengths in elements (`A_LEN`, `B_LEN`).
    a_len: usize,
    b_len: usize,
}

impl Gemm {
    fn new(s: &ConvShape, t: &ConvTiles, per_tap: usize) -> Gemm {
        let g = &s.g;
        let (wg, wg_m) = (t.wg as usize, t.wg_m as usize);
        let bm = wg_m * t.tm as usize;
        let bn = (wg / wg_m) * t.tn as usize;
        let m = g.batches * g.out_h * g.out_w;
        Gemm {
            m,
            per_tap,
            k: per_tap * g.filter_h * g.filter_w,
            m_tiles: m.div_ceil(bm),
            n_tiles: s.filters_per_group.div_ceil(bn),
            groups: g.out_c / s.filters_per_group,
            a_len: t.tk as usize * bm,
            b_len: t.tk as usize * bn,
        }
    }

    fn workgroups(&self) -> u64 {
        (self.m_tiles * self.n_tiles * self.groups) as u64
    }
}

/// Check the sizes against 32-bit indexing, and the tile constants against the shader's
/// bounds and the device.
fn check_tiles(ctx: &GpuOpCtx, s: &ConvShape, t: &ConvTiles, gemm: &Gemm) -> Result<()> {
    let g = &s.g;
    // The hybrid input is padded to whole words per batch: 3 more elements per batch.
    let padded_input = g.input_len() + 3 * g.batches;
    check_index_range(ctx, &[padded_input, g.output_len(), g.out_c * gemm.k])?;
    let ok = (1..=8).contains(&t.tm)
        && (1..=8).contains(&t.tn)
        && t.tk > 0
        && t.wg_m > 0
        && t.wg % t.wg_m == 0;
    if !ok {
        return Err(ctx.unsupported(format!("invalid CONV_2D tiles {t:?}")));
    }
    let pixels = (t.wg_m * t.tm) as usize;
    check_workgroup(
        ctx,
        t.wg,
        ((gemm.a_len + gemm.b_len + 4 * pixels) * 4) as u64,
    )
}

/// The `Params` uniform of `shaders/conv.wgsl`.
struct Input {
    /// Every word of A is one aligned input word.
    aligned: bool,
    /// int8: the word a tap outside the image reads.
    pad_word: u32,
    /// Elements from one batch of the input to the next.
    batch_stride: usize,
    /// Hybrid: per-channel weight scales.
    per_channel: bool,
}

impl Input {
    fn dense(s: &ConvShape) -> Input {
        let g = &s.g;
        Input {
            aligned: g.in_c % 4 == 0 && s.filter_in_c % 4 == 0,
            pad_word: 0,
            batch_stride: g.in_h * g.in_w * g.in_c,
            per_channel: false,
        }
    }
}

fn params(s: &ConvShape, gemm: &Gemm, i: &Input, q: (i32, i32, i32), act: (f32, f32)) -> Words {
    let g = &s.g;
    let mut w = Words::default();
    w.u(g.in_h).u(g.in_w).u(g.in_c).u(g.out_h).u(g.out_w);
    w.u(g.stride_h).u(g.stride_w).u(g.pad_h).u(g.pad_w);
    w.u(s.filter_in_c).u(g.out_c).u(s.filters_per_group);
    w.u(gemm.m)
        .u(gemm.k)
        .u(gemm.m_tiles)
        .u(gemm.n_tiles)
        .u(gemm.groups);
    w.u(usize::from(i.aligned)).u(i.pad_word as usize);
    w.u(i.batch_stride).u(usize::from(i.per_channel));
    w.i(q.0).i(q.1).i(q.2).f(act.0).f(act.1);
    // The fuse guard (always 0), and what `conv_f32_converter` computes.
    let c = ConverterFixup::of(g, gemm.m, gemm.k);
    w.u(0).u(c.row0).u(c.cols).u(c.mode).u(c.block);
    let [full, last] = c.blockings;
    w.u(full.kc).u(full.mc).u(full.nc).u(c.blocks);
    w.u(last.kc).u(last.mc).u(last.nc);
    w
}

/// The outputs `conv_f32_converter` sums again in the converter's order (`eigen_conv_dot`):
/// those the tiled GEMM's plain order gets wrong. Without depth blocking those are the
/// channels past the blocks of 16 in the pixels within the blocks of four; a product deeper
/// than `kc` (summed block by block), with one pixel (a GEMV), dilated with one channel
/// (`cpu_backend_gemm`'s GEMV), or spread over threads by Eigen's cost model has every output
/// in another order.
struct ConverterFixup {
    row0: usize,
    cols: usize,
    /// 0: Eigen's GEMM kernel; 1: `cpu_backend_gemm`'s product (dilated); 2: the tensor
    /// contraction's column-major GEMV; 3: the contraction on several threads, in blocks;
    /// 4: the contraction sharded by depth.
    mode: usize,
    /// `kc`, (mode 2) the GEMV's column block, or (mode 4) the depth ranges' size.
    block: usize,
    /// Mode 3: the blocking (`kc` again, `mc`, `nc`), then 0. Mode 4: the blocking of the
    /// full depth ranges and the number of ranges (at most 4), then the last range's
    /// blocking.
    blockings: [Blocking; 2],
    blocks: usize,
}

impl ConverterFixup {
    fn of(g: &crate::reference::conv::Geom, pixels: usize, depth: usize) -> Self {
        let out_c = g.out_c;
        let dilated = g.dilation_h != 1 || g.dilation_w != 1;
        let kc = crate::reference::eigen_kc(depth, out_c, pixels);
        let none = Blocking {
            kc: 0,
            mc: 0,
            nc: 0,
        };
        let (mut blockings, mut blocks) = ([none, none], 0);
        let sum = crate::reference::conv_sum(depth, out_c, pixels, dilated, g.contracts_patches());
        let (mode, block) = match sum {
            ConvSum::Product => (1, kc),
            ConvSum::ColumnGemv { block } => (2, block),
            ConvSum::Gemm { kc } => (0, kc),
            ConvSum::Threads(Sharding::Parallel(b)) => {
                blockings[0] = b;
                (3, b.kc)
            }
            ConvSum::Threads(Sharding::InnerDim {
                block,
                blocks: n,
                full,
                last,
            }) => {
                // The pool's 4 threads make at most 4 ranges (`blockSize`).
                blockings = [full, last];
                blocks = n.min(4);
                (4, block)
            }
            // `conv_sum` gives `Gemm`/`ColumnGemv` for one thread.
            ConvSum::Threads(Sharding::Sequential) => (0, kc),
        };
        let whole = kc < depth || pixels == 1 || (dilated && out_c == 1) || mode >= 3;
        let (row0, cols) = if whole {
            (0, pixels)
        } else {
            (out_c / 16 * 16, pixels / 4 * 4)
        };
        ConverterFixup {
            row0,
            cols,
            mode,
            block,
            blockings,
            blocks,
        }
    }

    fn outputs(&self, out_c: usize) -> usize {
        (out_c - self.row0) * self.cols
    }
}

/// Per reduction index k: `(fy * dilation_h, fx * dilation_w, first input channel, 0)`.
fn tap_table(s: &ConvShape, gemm: &Gemm, channels_per_k: usize) -> Vec<u8> {
    let g = &s.g;
    let mut w = Words::default();
    for k in 0..gemm.k {
        let (tap, ic) = (k / gemm.per_tap, (k % gemm.per_tap) * channels_per_k);
        let (fy, fx) = (tap / g.filter_w, tap % g.filter_w);
        w.u(fy * g.dilation_h).u(fx * g.dilation_w).u(ic).u(0);
    }
    w.0
}

fn key(entry: &'static str, t: &ConvTiles, gemm: &Gemm) -> PipelineKey {
    PipelineKey::new("conv", entry)
        .constant("WG", f64::from(t.wg))
        .constant("WG_M", f64::from(t.wg_m))
        .constant("TM", f64::from(t.tm))
        .constant("TN", f64::from(t.tn))
        .constant("TK", f64::from(t.tk))
        .constant("A_LEN", gemm.a_len as f64)
        .constant("B_LEN", gemm.b_len as f64)
        .constant("P_LEN", f64::from(t.wg_m * t.tm))
}

/// The int8 filter `[out_c][filter_h][filter_w][filter_in_c]` as `[out_c][tap][words]`:
/// each tap's channels packed four to a word, the last word of a tap padded with zeros.
fn pack_filter(filter: &[i8], out_c: usize, taps: usize, in_c: usize) -> Vec<u8> {
    let per_tap = in_c.div_ceil(4);
    let mut out = vec![0u8; out_c * taps * per_tap * 4];
    for c in 0..out_c {
        for tap in 0..taps {
            let src = &filter[(c * taps + tap) * in_c..][..in_c];
            let dst = &mut out[(c * taps + tap) * per_tap * 4..][..in_c];
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s as u8;
            }
        }
    }
    out
}

fn prepare_i8(ctx: &GpuOpCtx, k: &ConvI8) -> Result<Vec<Command>> {
    let s = &k.shape;
    let g = &s.g;
    let t = tiles(s.filters_per_group);
    let taps = g.filter_h * g.filter_w;
    let gemm = Gemm::new(s, &t, s.filter_in_c.div_ceil(4));
    check_tiles(ctx, s, &t, &gemm)?;
    if gemm.m == 0 {
        return Ok(Vec::new());
    }
    // A tap outside the image reads the input zero point in every byte.
    let zp_byte = u32::from((-k.input_offset) as u8);
    let pad_word = zp_byte * 0x0101_0101;
    let e = &k.epilogue;
    let per_filter = taps * s.filter_in_c;
    // sum(w * (x - zp)) = sum(w * x) + input_offset * sum(w): the second term joins the bias.
    let records = epilogue_records(e, |c| {
        k.input_offset
            .wrapping_mul(filter_sum(&k.filter, c, per_filter))
    });
    let input_layout = Input {
        pad_word,
        ..Input::dense(s)
    };
    let p = params(
        s,
        &gemm,
        &input_layout,
        (e.output_zero_point, e.act_min, e.act_max),
        (0.0, 0.0),
    );
    let table = ctx.upload("conv_i8 taps", &tap_table(s, &gemm, 4))?;
    let uniform = ctx.uniform("conv_i8 params", &p.0)?;
    let weights = ctx.upload(
        "conv_i8 weights",
        &pack_filter(&k.filter, g.out_c, taps, s.filter_in_c),
    )?;
    let epilogue = ctx.upload("conv_i8 epilogue", &records)?;
    let input = ctx.input(0)?;
    let output = ctx.output(0)?;
    let key = key("conv_i8", &t, &gemm).constant("USE_DOT4", if t.dot4 { 1.0 } else { 0.0 });
    // Every invocation owns whole output words when its channels start and end on them.
    let whole = g.out_c % 4 == 0 && s.filters_per_group % 4 == 0 && t.tn % 4 == 0;
    let (target, pack) = int8_target(ctx, whole, g.output_len(), output)?;
    let key = key.constant("WIDE_OUT", if whole { 0.0 } else { 1.0 });
    let mut commands = vec![ctx.dispatch(
        &key,
        &[&uniform, &input, &weights, &epilogue, &target, &table],
        ctx.grid(gemm.workgroups())?,
    )?];
    commands.extend(pack);
    Ok(commands)
}

fn prepare_f32(ctx: &GpuOpCtx, k: &ConvF32) -> Result<Vec<Command>> {
    let s = &k.shape;
    let g = &s.g;
    let t = tiles(s.filters_per_group);
    let gemm = Gemm::new(s, &t, s.filter_in_c);
    check_tiles(ctx, s, &t, &gemm)?;
    if gemm.m == 0 {
        return Ok(Vec::new());
    }
    let p = params(s, &gemm, &Input::dense(s), (0, 0, 0), k.act);
    let table = ctx.upload("conv_f32 taps", &tap_table(s, &gemm, 1))?;
    let uniform = ctx.uniform("conv_f32 params", &p.0)?;
    let input = ctx.input(0)?;
    let filter = ctx.input(1)?;
    let bias = float_bias(ctx, g.out_c)?;
    let output = ctx.output(0)?;
    let args = [&uniform, &input, &filter, &bias, &output, &table];
    let mut commands = vec![ctx.dispatch(
        &key("conv_f32", &t, &gemm),
        &args,
        ctx.grid(gemm.workgroups())?,
    )?];
    // Grouped convolutions run `reference_ops::Conv` in the converter's kernel too
    // (conv.cc), so only ungrouped ones are fixed up.
    if k.order == FloatOrder::Converter && s.filters_per_group == g.out_c {
        // The outputs Eigen sums in other orders (`ConverterFixup`).
        let n = ConverterFixup::of(g, gemm.m, gemm.k).outputs(g.out_c);
        check_index_range(ctx, &[n])?;
        if n > 0 {
            let key = PipelineKey::new("conv", "conv_f32_converter");
            commands.push(ctx.dispatch(&key, &args, ctx.grid(n.div_ceil(64) as u64)?)?);
        }
    }
    Ok(commands)
}

/// The sum of output channel `c`'s weights (wrapping, as the accumulator wraps).
fn filter_sum(filter: &[i8], c: usize, per_filter: usize) -> i32 {
    filter[c * per_filter..][..per_filter]
        .iter()
        .fold(0i32, |a, &w| a.wrapping_add(i32::from(w)))
}

/// Hybrid CONV_2D: the input quantized per batch on the device (`kernels::hybrid`:
/// asymmetric for per-channel weight scales, symmetric for one scale, as the reference
/// chooses), then `conv_hybrid`.
fn prepare_hybrid(ctx: &GpuOpCtx, k: &ConvHybrid) -> Result<Vec<Command>> {
    let s = &k.shape;
    let g = &s.g;
    let t = tiles(s.filters_per_group);
    let taps = g.filter_h * g.filter_w;
    let gemm = Gemm::new(s, &t, s.filter_in_c.div_ceil(4));
    check_tiles(ctx, s, &t, &gemm)?;
    if gemm.m == 0 {
        return Ok(Vec::new());
    }
    let per_channel = matches!(k.scales, HybridScales::PerChannel(_));
    let scale_of = |c: usize| match &k.scales {
        HybridScales::PerChannel(v) => v[c],
        HybridScales::PerTensor(x) => *x,
    };
    let row_len = g.in_h * g.in_w * g.in_c;
    let (Ok(rows), Ok(len)) = (u32::try_from(g.batches), u32::try_from(row_len)) else {
        return Err(ctx.unsupported("the input is too large for the hybrid quantization"));
    };
    let input = ctx.input(0)?;
    let (mut commands, q) = hybrid::quantize_rows(ctx, &input, rows, len, !per_channel)?;
    let input_layout = Input {
        batch_stride: q.row_words as usize * 4,
        per_channel,
        ..Input::dense(s)
    };
    let p = params(s, &gemm, &input_layout, (0, 0, 0), k.act);
    let uniform = ctx.uniform("conv_hybrid params", &p.0)?;
    let weights = ctx.upload(
        "conv_hybrid weights",
        &pack_filter(&k.filter, g.out_c, taps, s.filter_in_c),
    )?;
    let table = ctx.upload("conv_hybrid taps", &tap_table(s, &gemm, 4))?;
    let per_filter = taps * s.filter_in_c;
    let mut channels = Words::default();
    for c in 0..g.out_c {
        channels
            .i(filter_sum(&k.filter, c, per_filter))
            .f(scale_of(c))
            .u(0)
            .u(0);
    }
    let channels = ctx.upload("conv_hybrid channels", &channels.0)?;
    let bias = float_bias(ctx, g.out_c)?;
    let output = ctx.output(0)?;
    commands.push(ctx.dispatch(
        &key("conv_hybrid", &t, &gemm),
        &[
            &uniform,
            &q.q,
            &weights,
            &bias,
            &output,
            &table,
            &q.scale,
            &q.zero_point,
            &channels,
        ],
        ctx.grid(gemm.workgroups())?,
    )?);
    Ok(commands)
}
