//! What FULLY_CONNECTED and BATCH_MATMUL share on the GPU: the tiled "NT" products of
//! `shaders/fully_connected.wgsl` (`gemm_q8`, `gemm_hybrid`, `gemm_f32`), their tile
//! constants, parameter block, row-padded 8-bit operands and the `repack8` pre-pass.

use std::cell::Cell;

use super::super::{Arg, Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::Result;

/// The shader's tile constants (WGSL `override`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tiles {
    pub wg_m: u32,
    pub wg_n: u32,
    /// Register tile, each 1..=4.
    pub tm: u32,
    pub tn: u32,
    /// K words (8-bit) / floats staged per step.
    pub kw: u32,
    pub kf: u32,
    /// The scalar dot product instead of `dot4I8Packed`.
    pub scalar_dot: bool,
}

thread_local! {
    /// Tiles forced by a test on this thread (small odd ones run the remainder paths).
    static FORCED: Cell<Option<Tiles>> = const { Cell::new(None) };
}

/// Runs `f` with every product prepared on this thread using `tiles`.
#[cfg(test)]
pub(crate) fn with_tiles<R>(tiles: Tiles, f: impl FnOnce() -> R) -> R {
    FORCED.with(|c| c.set(Some(tiles)));
    let r = f();
    FORCED.with(|c| c.set(None));
    r
}

impl Tiles {
    /// The tiles for a product of `m` rows: a 1 × 128 strip for matrix-vector products, 4 × 128
    /// for up to 4 rows, square 32 × 32 tiles otherwise. (Register rows past `m` compute on
    /// zeros: a loop with a data-dependent exit would not unroll, and the accumulators would
    /// leave the registers.)
    pub fn for_rows(m: usize) -> Tiles {
        if let Some(t) = FORCED.with(|c| c.get()) {
            return t;
        }
        if m <= 4 {
            Tiles {
                wg_m: 1,
                wg_n: 64,
                tm: if m <= 1 { 1 } else { 4 },
                tn: 2,
                kw: 8,
                kf: 16,
                scalar_dot: false,
            }
        } else {
            Tiles {
                wg_m: 8,
                wg_n: 8,
                tm: 4,
                tn: 4,
                kw: 8,
                kf: 16,
                scalar_dot: false,
            }
        }
    }

    pub fn bm(&self) -> u32 {
        self.wg_m * self.tm
    }

    pub fn bn(&self) -> u32 {
        self.wg_n * self.tn
    }

    pub fn key(&self, entry: &'static str) -> PipelineKey {
        PipelineKey::new("fully_connected", entry)
            .constant("WG_M", f64::from(self.wg_m))
            .constant("WG_N", f64::from(self.wg_n))
            .constant("TM", f64::from(self.tm))
            .constant("TN", f64::from(self.tn))
            .constant("KW", f64::from(self.kw))
            .constant("KF", f64::from(self.kf))
            .constant("SCALAR_DOT", f64::from(u8::from(self.scalar_dot)))
    }
}

/// The rescale of `gemm_q8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rescale {
    /// `round((double)acc * m)` (FULLY_CONNECTED under BUILTIN_REF).
    Double = 0,
    /// `MultiplyByQuantizedMultiplier`.
    FixedPoint = 1,
    /// None: int32 output.
    None = 2,
}

/// The shader's `Gemm` uniform block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Gemm {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub batches: u32,
    pub filter_offset: i32,
    pub output_zero_point: i32,
    pub act_min: i32,
    pub act_max: i32,
    /// `gemm_q8`: a [`Rescale`]; `gemm_hybrid`: 1 for per-channel weight scales.
    pub kind: u32,
    pub f_min: f32,
    pub f_max: f32,
    /// 0 none, 1 clamp to `[f_min, f_max]`, 2 tanh, 3 sign bit.
    pub f_act: u32,
    /// hybrid, per-tensor weights: the weight scale.
    pub filter_scale: f32,
    /// `-input zero point` (`gemm_q8` with column sums).
    pub input_offset: i32,
    /// hybrid BATCH_MATMUL: subtract the offset term in float, as TFLite.
    pub float_offset: bool,
    /// `gemm_f32_converter`: Eigen's depth blocking (`eigen_kc`; `k` when not blocked).
    pub kc: u32,
}

impl Gemm {
    pub fn new(m: usize, n: usize, k: usize, batches: usize) -> Result<Gemm> {
        let c = |v: usize, what: &str| {
            u32::try_from(v).map_err(|_| {
                crate::Error::Unsupported(format!("GPU engine: {what} {v} exceeds 32 bits"))
            })
        };
        Ok(Gemm {
            m: c(m, "rows")?,
            n: c(n, "columns")?,
            k: c(k, "depth")?,
            batches: c(batches, "batches")?,
            filter_offset: 0,
            output_zero_point: 0,
            act_min: i32::MIN,
            act_max: i32::MAX,
            kind: 0,
            f_min: f32::MIN,
            f_max: f32::MAX,
            f_act: 0,
            filter_scale: 0.0,
            input_offset: 0,
            float_offset: false,
            kc: c(k, "depth")?,
        })
    }

    pub fn kw(&self) -> u32 {
        self.k.div_ceil(4)
    }

    fn tiles_mn(&self, t: &Tiles) -> (u32, u32) {
        (self.m.div_ceil(t.bm()), self.n.div_ceil(t.bn()))
    }

    fn bytes(&self, t: &Tiles) -> Vec<u8> {
        let (tiles_m, tiles_n) = self.tiles_mn(t);
        let words: [u32; 20] = [
            self.m,
            self.n,
            self.k,
            self.kw(),
            tiles_m,
            tiles_n,
            self.batches,
            self.filter_offset as u32,
            self.output_zero_point as u32,
            self.act_min as u32,
            self.act_max as u32,
            self.kind,
            self.f_min.to_bits(),
            self.f_max.to_bits(),
            self.f_act,
            self.filter_scale.to_bits(),
            self.input_offset as u32,
            u32::from(self.float_offset),
            0,
            self.kc,
        ];
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// One dispatch of `entry` over every tile of every batch; `args` are bound from
    /// binding 2 on (after the parameters and `zoff`: per batch, the first row of A, of B,
    /// the first output element, the first row scaling factor and row sum).
    pub fn dispatch(
        &self,
        ctx: &GpuOpCtx,
        tiles: &Tiles,
        entry: &'static str,
        key: PipelineKey,
        zoff: &[[u32; 8]],
        args: &[&Arg],
    ) -> Result<Command> {
        let (tiles_m, tiles_n) = self.tiles_mn(tiles);
        let groups = u64::from(tiles_m) * u64::from(tiles_n) * u64::from(self.batches);
        self.dispatch_groups(ctx, tiles, (entry, key), zoff, args, groups)
    }

    /// A dispatch of `entry` over `groups` workgroups, bound as [`Gemm::dispatch`] binds.
    pub fn dispatch_groups(
        &self,
        ctx: &GpuOpCtx,
        tiles: &Tiles,
        (entry, key): (&'static str, PipelineKey),
        zoff: &[[u32; 8]],
        args: &[&Arg],
        groups: u64,
    ) -> Result<Command> {
        let params = ctx.uniform(entry, &self.bytes(tiles))?;
        let z: Vec<u8> = zoff
            .iter()
            .flatten()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let zoff = ctx.upload("gemm batch offsets", &z)?;
        let mut all: Vec<&Arg> = vec![&params, &zoff];
        all.extend_from_slice(args);
        ctx.dispatch(&key, &all, ctx.grid(groups)?)
    }

    /// `batches` matrices of `c × r` (flat `src`) transposed into rows of `c`: 8-bit into
    /// row-padded words, or float32.
    pub fn transpose(
        &self,
        ctx: &GpuOpCtx,
        batches: u32,
        r: u32,
        src: &Arg,
        eight_bit: bool,
    ) -> Result<(Command, Arg)> {
        let per_row = if eight_bit { self.kw() } else { self.k };
        let words = u64::from(batches) * u64::from(r) * u64::from(per_row);
        let dst = ctx.scratch("gemm transposed operand", words * 4)?;
        let params = Gemm {
            m: r,
            batches,
            ..*self
        };
        let params = ctx.uniform("transpose", &params.bytes(&Tiles::for_rows(r as usize)))?;
        let entry = if eight_bit {
            "transpose8"
        } else {
            "transpose32"
        };
        let key = PipelineKey::new("fully_connected", entry);
        let cmd = ctx.dispatch(&key, &[&params, src, &dst], ctx.grid(words.div_ceil(64))?)?;
        Ok((cmd, dst))
    }

    /// The repacking of a flat 8-bit `[rows, k]` matrix `src` into rows of `kw` words.
    pub fn repack(&self, ctx: &GpuOpCtx, rows: u32, src: &Arg) -> Result<(Command, Arg)> {
        let kw = self.kw();
        let words = u64::from(rows) * u64::from(kw);
        let dst = ctx.scratch("gemm repacked rows", words * 4)?;
        let params = Gemm { m: rows, ..*self };
        let params = ctx.uniform("repack8", &params.bytes(&Tiles::for_rows(rows as usize)))?;
        let key = PipelineKey::new("fully_connected", "repack8");
        let cmd = ctx.dispatch(&key, &[&params, src, &dst], ctx.grid(words.div_ceil(64))?)?;
        Ok((cmd, dst))
    }
}

/// Row-padded words of an 8-bit `[rows, k]` matrix (bytes as stored), and each row's sum
/// (bytes read signed or unsigned).
pub(crate) fn pack_rows(bytes: &[u8], rows: usize, k: usize, signed: bool) -> (Vec<u8>, Vec<i32>) {
    let kw = k.div_ceil(4);
    let mut out = vec![0u8; rows * kw * 4];
    let mut sums = vec![0i32; rows];
    for r in 0..rows {
        let src = &bytes[r * k..][..k];
        out[r * kw * 4..][..k].copy_from_slice(src);
        sums[r] = src
            .iter()
            .map(|&b| {
                if signed {
                    i32::from(b as i8)
                } else {
                    i32::from(b)
                }
            })
            .fold(0i32, i32::wrapping_add);
    }
    (out, sums)
}

/// Little-endian bytes of words.
pub(crate) fn word_bytes(words: impl IntoIterator<Item = u32>) -> Vec<u8> {
    words.into_iter().flat_map(|w| w.to_le_bytes()).collect()
}
