//! Fast DEPTHWISE_CONV_2D with depth multiplier 1: float32 (both orders) and int8.
//!
//! Vectorised across channels: each channel is its own lane and sums its in-image taps in
//! the reference's order (filter row, then column), with the reference's operations: the
//! reference order from `+0.0`, `input × filter`, bias added after; the converter's order
//! from the bias, `filter × input`; int8 in wrapping int32. The loops are written once and
//! compiled twice, for the target's baseline and (x86-64) with AVX2 enabled.

use crate::reference::common::clamp_like_cpp;
use crate::reference::conv::Geom;
use crate::reference::{FloatOrder, Kernel};
use crate::{Result, Tensor};

use super::conv::{f32_in, f32_out, i8_in, i8_out, opt_f32_in};
use super::gemm::Simd;
use super::par::{split_rows, Par};
use super::requant::FastEpilogue;

/// Channels per block of lanes.
const LANES: usize = 16;

/// DEPTHWISE_CONV_2D, float32, depth multiplier 1.
pub(crate) struct DwF32 {
    pub(crate) label: String,
    pub(crate) g: Geom,
    pub(crate) act: (f32, f32),
    pub(crate) order: FloatOrder,
    pub(crate) simd: Simd,
    pub(crate) par: Par,
}

/// DEPTHWISE_CONV_2D, int8, depth multiplier 1.
pub(crate) struct DwI8 {
    pub(crate) label: String,
    pub(crate) g: Geom,
    pub(crate) input_offset: i32,
    pub(crate) filter: Vec<i8>,
    pub(crate) epilogue: FastEpilogue,
    pub(crate) simd: Simd,
    pub(crate) par: Par,
}

/// What one float run reads.
struct FloatArgs<'a> {
    g: &'a Geom,
    input: &'a [f32],
    filter: &'a [f32],
    bias: Option<&'a [f32]>,
    act: (f32, f32),
    converter: bool,
}

impl Kernel for DwF32 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let (g, l) = (&self.g, self.label.as_str());
        let a = FloatArgs {
            g,
            input: f32_in(l, inputs, 0, g.input_len())?,
            filter: f32_in(l, inputs, 1, g.filter_h * g.filter_w * g.out_c)?,
            bias: opt_f32_in(l, inputs, 2, g.out_c)?,
            act: self.act,
            converter: self.order == FloatOrder::Converter,
        };
        let out = f32_out(l, outputs, g.output_len())?;
        let work = g.filter_h * g.filter_w * g.out_c;
        split_rows(out, g.out_c, self.par, work, |first, piece| {
            #[cfg(target_arch = "x86_64")]
            if self.simd == Simd::Avx2 {
                // SAFETY: AVX2 was detected (`Simd::detect`).
                return unsafe { float_avx2(&a, first, piece) };
            }
            float_rows(&a, first, piece)
        });
        Ok(())
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn float_avx2(a: &FloatArgs, first: usize, piece: &mut [f32]) {
    float_rows(a, first, piece)
}

/// The output pixels `first ..` that `piece` holds.
#[inline(always)]
fn float_rows(a: &FloatArgs, first: usize, piece: &mut [f32]) {
    let g = a.g;
    let c = g.out_c;
    let mut taps = Vec::with_capacity(g.filter_h * g.filter_w);
    for (r, out) in piece.chunks_exact_mut(c).enumerate() {
        self::taps(g, first + r, &mut taps);
        let mut c0 = 0;
        while c0 + LANES <= c {
            float_block::<LANES>(a, &taps, c0, &mut out[c0..c0 + LANES]);
            c0 += LANES;
        }
        if c0 + 8 <= c {
            float_block::<8>(a, &taps, c0, &mut out[c0..c0 + 8]);
            c0 += 8;
        }
        while c0 < c {
            float_block::<1>(a, &taps, c0, &mut out[c0..c0 + 1]);
            c0 += 1;
        }
    }
}

/// The in-image taps of one output pixel into `v`, in order: (input offset of channel 0,
/// filter offset of channel 0).
fn taps(g: &Geom, pix: usize, v: &mut Vec<(usize, usize)>) {
    let (b, rest) = (pix / (g.out_h * g.out_w), pix % (g.out_h * g.out_w));
    let (oy, ox) = (rest / g.out_w, rest % g.out_w);
    v.clear();
    for fy in 0..g.filter_h {
        let Some(iy) = g.in_y(oy, fy) else { continue };
        for fx in 0..g.filter_w {
            let Some(ix) = g.in_x(ox, fx) else { continue };
            v.push((g.in_offset(b, iy, ix), (fy * g.filter_w + fx) * g.out_c));
        }
    }
}

#[inline(always)]
fn float_block<const L: usize>(a: &FloatArgs, taps: &[(usize, usize)], c0: usize, out: &mut [f32]) {
    let bias = |l: usize| a.bias.map_or(0.0, |v| v[c0 + l]);
    let mut acc = [0.0f32; L];
    if a.converter {
        // The accumulator starts at the bias.
        for (l, v) in acc.iter_mut().enumerate() {
            *v = bias(l);
        }
    }
    for &(x0, w0) in taps {
        let x: &[f32; L] = a.input[x0 + c0..][..L].try_into().unwrap();
        let w: &[f32; L] = a.filter[w0 + c0..][..L].try_into().unwrap();
        // The operand order is the kernels' (it decides which NaN payload survives).
        #[allow(clippy::if_same_then_else)]
        if a.converter {
            for l in 0..L {
                acc[l] += w[l] * x[l];
            }
        } else {
            for l in 0..L {
                acc[l] += x[l] * w[l];
            }
        }
    }
    let (lo, hi) = a.act;
    for (l, o) in out.iter_mut().enumerate() {
        let value = if a.converter {
            acc[l]
        } else {
            acc[l] + bias(l)
        };
        *o = clamp_like_cpp(value, lo, hi);
    }
}

impl Kernel for DwI8 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let (g, l) = (&self.g, self.label.as_str());
        let input = i8_in(l, inputs, 0, g.input_len())?;
        let out = i8_out(l, outputs, g.output_len())?;
        let work = g.filter_h * g.filter_w * g.out_c;
        split_rows(out, g.out_c, self.par, work, |first, piece| {
            #[cfg(target_arch = "x86_64")]
            if self.simd == Simd::Avx2 {
                // SAFETY: AVX2 was detected (`Simd::detect`).
                return unsafe { int_avx2(self, input, first, piece) };
            }
            int_rows(self, input, first, piece)
        });
        Ok(())
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn int_avx2(k: &DwI8, input: &[i8], first: usize, piece: &mut [i8]) {
    int_rows(k, input, first, piece)
}

#[inline(always)]
fn int_rows(k: &DwI8, input: &[i8], first: usize, piece: &mut [i8]) {
    let c = k.g.out_c;
    let mut taps = Vec::with_capacity(k.g.filter_h * k.g.filter_w);
    for (r, out) in piece.chunks_exact_mut(c).enumerate() {
        self::taps(&k.g, first + r, &mut taps);
        let mut c0 = 0;
        while c0 + LANES <= c {
            int_block::<LANES>(k, input, &taps, c0, &mut out[c0..c0 + LANES]);
            c0 += LANES;
        }
        if c0 + 8 <= c {
            int_block::<8>(k, input, &taps, c0, &mut out[c0..c0 + 8]);
            c0 += 8;
        }
        while c0 < c {
            int_block::<1>(k, input, &taps, c0, &mut out[c0..c0 + 1]);
            c0 += 1;
        }
    }
}

#[inline(always)]
fn int_block<const L: usize>(
    k: &DwI8,
    input: &[i8],
    taps: &[(usize, usize)],
    c0: usize,
    out: &mut [i8],
) {
    let mut acc = [0i32; L];
    for &(x0, w0) in taps {
        let x: &[i8; L] = input[x0 + c0..][..L].try_into().unwrap();
        let w: &[i8; L] = k.filter[w0 + c0..][..L].try_into().unwrap();
        for l in 0..L {
            let product =
                i32::from(w[l]).wrapping_mul(i32::from(x[l]).wrapping_add(k.input_offset));
            acc[l] = acc[l].wrapping_add(product);
        }
    }
    k.epilogue.apply_i8(k.simd, &acc, c0, out);
}
