//! CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV on the GPU (`shaders/conv.wgsl`,
//! `shaders/depthwise.wgsl`, `shaders/transpose_conv.wgsl`, `shaders/common/conv_io.wgsl`;
//! the 16x8 paths in `shaders/conv16.wgsl`, `int16.rs`),
//! twins of `src/reference/conv`.
//!
//! The reference kernel prepared for the op is downcast and its parameters are uploaded as
//! they are: the geometry (`reference::conv::Geom`), the int8 filter and input offset, and
//! the integer [`Epilogue`] (bias, per-channel multipliers, output zero point, activation
//! clamp), which the shaders apply with `#import fixedpoint`. Hybrid ops quantize their
//! input on the device with `kernels::hybrid` first. Tile sizes are WGSL `override`
//! constants ([`ConvTiles`]); results never depend on them.

mod conv2d;
mod depthwise;
mod int16;
mod transpose_conv;

use std::cell::Cell;

use super::{Arg, Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::reference::common::Epilogue;
use crate::Result;

pub(crate) use conv2d::prepare_conv2d;
pub(crate) use depthwise::prepare_depthwise;
pub(crate) use transpose_conv::prepare_transpose_conv;

/// The tile constants of the convolution kernels (WGSL `override`s of the conv shaders).
///
/// CONV_2D: a workgroup of `wg` invocations, `wg_m` of them along output pixels and
/// `wg / wg_m` along output channels, each computing `tm` pixels × `tn` channels; the
/// reduction is staged `tk` elements at a time (int8: words of four input channels).
/// DEPTHWISE_CONV_2D: `dw_wg` invocations per workgroup, each computing `dw_tm` output
/// columns of four channels. `dot4` picks `dot4I8Packed` (true) or scalar byte products for
/// int8 CONV_2D. Every choice gives the same results; the defaults are tuned for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvTiles {
    /// CONV_2D invocations per workgroup.
    pub wg: u32,
    /// CONV_2D invocations along pixels (divides `wg`).
    pub wg_m: u32,
    /// Output pixels per invocation (1..=8).
    pub tm: u32,
    /// Output channels per invocation (1..=8).
    pub tn: u32,
    /// Reduction elements staged per step (int8: packed words).
    pub tk: u32,
    /// int8 CONV_2D products with `dot4I8Packed` (else scalar).
    pub dot4: bool,
    /// DEPTHWISE_CONV_2D invocations per workgroup.
    pub dw_wg: u32,
    /// DEPTHWISE_CONV_2D output columns per invocation (1..=8).
    pub dw_tm: u32,
}

impl Default for ConvTiles {
    /// 64 invocations of 8 × 8 outputs (a 64 × 64 block, gpu.cpp's float GEMM shape; the
    /// fastest tried on lavapipe too), K staged 8 at a time; depthwise 4 columns each.
    fn default() -> Self {
        ConvTiles {
            wg: 64,
            wg_m: 8,
            tm: 8,
            tn: 8,
            tk: 8,
            dot4: true,
            dw_wg: 64,
            dw_tm: 4,
        }
    }
}

impl ConvTiles {
    /// The default tiles for a convolution with `per_group` output channels per group:
    /// narrower channel blocks (taller pixel blocks) when there are few channels, so that
    /// less of the block is wasted. Channel tiles stay multiples of 4 (whole output words).
    pub fn for_channels(per_group: usize) -> ConvTiles {
        let d = ConvTiles::default();
        match per_group {
            0..=8 => ConvTiles {
                wg_m: 32,
                tm: 4,
                tn: 4,
                ..d
            },
            9..=24 => ConvTiles {
                wg_m: 16,
                tm: 8,
                tn: 4,
                ..d
            },
            25..=40 => ConvTiles { tn: 4, ..d },
            _ => d,
        }
    }
}

thread_local! {
    static TILES: Cell<Option<ConvTiles>> = const { Cell::new(None) };
}

/// Runs `f` with the convolution kernels of sessions prepared on this thread (inside `f`)
/// using `tiles` instead of the defaults: for tests (odd tiles, so that remainder paths run;
/// the scalar int8 path) and tuning. Sessions prepared earlier keep their pipelines.
pub fn with_conv_tiles<R>(tiles: ConvTiles, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<ConvTiles>);
    impl Drop for Restore {
        fn drop(&mut self) {
            TILES.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(TILES.with(|t| t.replace(Some(tiles))));
    f()
}

/// The tiles in force on this thread: those of [`with_conv_tiles`], else the defaults for
/// `per_group` output channels per group.
fn tiles(per_group: usize) -> ConvTiles {
    TILES
        .with(|t| t.get())
        .unwrap_or_else(|| ConvTiles::for_channels(per_group))
}

/// Little-endian words of a uniform or storage buffer.
#[derive(Default)]
struct Words(Vec<u8>);

impl Words {
    fn u(&mut self, v: usize) -> &mut Self {
        self.0.extend_from_slice(&(v as u32).to_le_bytes());
        self
    }
    fn i(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn f(&mut self, v: f32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}

/// The reference's [`Epilogue`] as the shader reads it: per output channel
/// `(bias[c] + fold[c], multiplier, shift, 0)`, with `fold` what the kernel moves into the
/// bias (wrapping, as the accumulator wraps). The zero point and clamp go in the uniforms.
fn epilogue_records(e: &Epilogue, fold: impl Fn(usize) -> i32) -> Vec<u8> {
    let mut w = Words::default();
    for (c, (bias, m)) in e.bias.iter().zip(&e.multipliers).enumerate() {
        w.i(bias.wrapping_add(fold(c)))
            .i(m.multiplier)
            .i(m.shift)
            .i(0);
    }
    w.0
}

/// The shaders index tensors with 32-bit integers (signed where they offset pixels): refuse
/// sizes past `i32::MAX` elements rather than wrap.
fn check_index_range(ctx: &GpuOpCtx, sizes: &[usize]) -> Result<()> {
    match sizes.iter().find(|&&n| n > i32::MAX as usize) {
        Some(n) => Err(ctx.unsupported(format!(
            "{n} elements exceed the 32-bit indexing of the convolution kernels"
        ))),
        None => Ok(()),
    }
}

/// Whether the device can run a workgroup of `invocations` using `shared_bytes` of
/// workgroup memory.
fn check_workgroup(ctx: &GpuOpCtx, invocations: u32, shared_bytes: u64) -> Result<()> {
    let l = ctx.gpu.device().limits();
    if invocations == 0
        || invocations > l.max_compute_invocations_per_workgroup
        || invocations > l.max_compute_workgroup_size_x
        || shared_bytes > u64::from(l.max_compute_workgroup_storage_size)
    {
        return Err(ctx.unsupported(format!(
            "convolution tiles need {invocations} invocations and {shared_bytes} bytes of \
             workgroup memory; the device allows {} and {}",
            l.max_compute_invocations_per_workgroup
                .min(l.max_compute_workgroup_size_x),
            l.max_compute_workgroup_storage_size
        )));
    }
    Ok(())
}

/// The bias of a float kernel: input 2, or zeros when the op has none.
fn float_bias(ctx: &GpuOpCtx, out_c: usize) -> Result<Arg> {
    match ctx.op.op.input(2) {
        Some(t) => ctx.tensor(t),
        None => ctx.upload("conv zero bias", &vec![0u8; out_c * 4]),
    }
}

/// Where an int8 kernel writes: the output itself when every invocation owns whole words
/// (`WIDE_OUT` false), else a scratch buffer of one word per element and the `pack_i8`
/// dispatch that packs it into the output (to run after the kernel).
fn int8_target(
    ctx: &GpuOpCtx,
    whole_words: bool,
    elements: usize,
    output: Arg,
) -> Result<(Arg, Option<Command>)> {
    if whole_words {
        return Ok((output, None));
    }
    let n = u32::try_from(elements)
        .map_err(|_| ctx.unsupported(format!("{elements} output elements exceed u32")))?;
    let wide = ctx.scratch("conv wide int8 output", elements as u64 * 4)?;
    let params = ctx.uniform("pack_i8 params", &n.to_le_bytes())?;
    let pack = ctx.dispatch(
        &PipelineKey::new("conv", "pack_i8"),
        &[&params, &wide, &output],
        ctx.grid(u64::from(n.div_ceil(4)).div_ceil(64))?,
    )?;
    Ok((wide, Some(pack)))
}
