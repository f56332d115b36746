//! Fast CONV_2D (float32 in the reference order, int8) and FULLY_CONNECTED (float32 in the
//! reference order, int8): image patches (or input rows) times packed weights ([`super::gemm`]),
//! the reference kernel's epilogue per element.
//!
//! Exactness:
//! - float: each output sums its taps in the reference's order (filter row, filter column,
//!   input channel) from `+0.0`. Taps outside the image are zeros in the patch where the
//!   reference skips them: a zero product added to a sum that started at `+0.0` leaves it
//!   unchanged (such a sum is never `-0.0`), provided the weight is finite (`0·∞` is NaN),
//!   which [`super::adapt`] checks before choosing this kernel.
//! - int8: `Σ w·(x + offset)` in wrapping int32, any order; the patch holds `x + offset`
//!   (zero outside the image) as int16, the weights as int16.

use crate::reference::common::clamp_like_cpp;
use crate::reference::conv::Geom;
use crate::reference::fully_connected::fc::DoubleEpilogue;
use crate::reference::Kernel;
use crate::{Buf, Error, Result, Tensor};

use super::gemm::{gemm_f32, gemm_i16, PackedF32, PackedI16, Simd, NR};
use super::par::{split_rows, Par};
use super::requant::FastEpilogue;

/// Output pixels whose patches are built (and multiplied) together: a multiple of
/// [`super::gemm::MR`], small enough for the patches to stay in the L2 cache.
const CHUNK: usize = 48;

fn arg<'t>(label: &str, inputs: &[Option<&'t Tensor>], i: usize) -> Result<&'t Tensor> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| Error::Shape(format!("{label}: input {i} was not given")))
}

/// Input `i` as `n` floats.
pub(crate) fn f32_in<'t>(
    label: &str,
    inputs: &[Option<&'t Tensor>],
    i: usize,
    n: usize,
) -> Result<&'t [f32]> {
    let t = arg(label, inputs, i)?;
    t.as_f32().filter(|v| v.len() == n).ok_or_else(|| {
        Error::Shape(format!(
            "{label}: input {i} must be float32 with {n} elements, got {} {:?}",
            t.dtype(),
            t.shape()
        ))
    })
}

/// Optional input `i` (a bias) as `n` floats.
pub(crate) fn opt_f32_in<'t>(
    label: &str,
    inputs: &[Option<&'t Tensor>],
    i: usize,
    n: usize,
) -> Result<Option<&'t [f32]>> {
    match inputs.get(i).copied().flatten() {
        None => Ok(None),
        Some(_) => f32_in(label, inputs, i, n).map(Some),
    }
}

/// Input `i` as `n` int8 values.
pub(crate) fn i8_in<'t>(
    label: &str,
    inputs: &[Option<&'t Tensor>],
    i: usize,
    n: usize,
) -> Result<&'t [i8]> {
    let t = arg(label, inputs, i)?;
    t.as_i8().filter(|v| v.len() == n).ok_or_else(|| {
        Error::Shape(format!(
            "{label}: input {i} must be int8 with {n} elements, got {} {:?}",
            t.dtype(),
            t.shape()
        ))
    })
}

/// Output 0 as `n` floats.
pub(crate) fn f32_out<'t>(
    label: &str,
    outputs: &'t mut [Tensor],
    n: usize,
) -> Result<&'t mut [f32]> {
    match outputs.first_mut().map(|t| t.buf_mut()) {
        Some(Buf::F32(v)) if v.len() == n => Ok(v),
        _ => Err(Error::Shape(format!(
            "{label}: the output must be float32 with {n} elements"
        ))),
    }
}

/// Output 0 as `n` int8 values.
pub(crate) fn i8_out<'t>(label: &str, outputs: &'t mut [Tensor], n: usize) -> Result<&'t mut [i8]> {
    match outputs.first_mut().map(|t| t.buf_mut()) {
        Some(Buf::I8(v)) if v.len() == n => Ok(v),
        _ => Err(Error::Shape(format!(
            "{label}: the output must be int8 with {n} elements"
        ))),
    }
}

/// Whether the convolution reads its input rows as they are (1×1 filter, stride 1, no
/// padding): the patch of a pixel is its input pixel.
pub(crate) fn pointwise(g: &Geom) -> bool {
    g.filter_h == 1
        && g.filter_w == 1
        && g.stride_h == 1
        && g.stride_w == 1
        && g.pad_h == 0
        && g.pad_w == 0
        && g.in_h == g.out_h
        && g.in_w == g.out_w
}

/// Walks output pixels `first..first + n` in chunks of [`CHUNK`] rows, handing each chunk's
/// first row (relative to `first`), its row count and its `[rows][k]` float32 input rows:
/// the input itself for a pointwise convolution (`direct`), else its patches built in a
/// scratch buffer allocated once.
pub(crate) fn f32_row_chunks(
    g: &Geom,
    input: &[f32],
    direct: bool,
    k: usize,
    (first, n): (usize, usize),
    mut f: impl FnMut(usize, usize, &[f32]),
) {
    let mut scratch = if direct {
        Vec::new()
    } else {
        vec![0.0f32; CHUNK.min(n) * k]
    };
    for c0 in (0..n).step_by(CHUNK) {
        let rows = CHUNK.min(n - c0);
        let a: &[f32] = if direct {
            &input[(first + c0) * k..][..rows * k]
        } else {
            patches(g, input, (first + c0, rows), &mut scratch, k, 0.0, |x| x);
            &scratch
        };
        f(c0, rows, a);
    }
}

/// Write the patches of output pixels `first .. first + n` (flat over batch, row, column)
/// into `dst` (rows of `lda`, steps `(fy·filter_w + fx)·in_c + ic`), `conv(x)` for taps in
/// the image and `zero` outside it.
pub(crate) fn patches<X: Copy, T: Copy>(
    g: &Geom,
    input: &[X],
    (first, n): (usize, usize),
    dst: &mut [T],
    lda: usize,
    zero: T,
    conv: impl Fn(X) -> T,
) {
    let c = g.in_c;
    for r in 0..n {
        let pix = first + r;
        let (b, rest) = (pix / (g.out_h * g.out_w), pix % (g.out_h * g.out_w));
        let (oy, ox) = (rest / g.out_w, rest % g.out_w);
        let row = &mut dst[r * lda..][..lda];
        for fy in 0..g.filter_h {
            let iy = g.in_y(oy, fy);
            for fx in 0..g.filter_w {
                let d = &mut row[(fy * g.filter_w + fx) * c..][..c];
                match (iy, g.in_x(ox, fx)) {
                    (Some(iy), Some(ix)) => {
                        let s = &input[g.in_offset(b, iy, ix)..][..c];
                        for (d, &s) in d.iter_mut().zip(s) {
                            *d = conv(s);
                        }
                    }
                    _ => d.fill(zero),
                }
            }
        }
        row[g.filter_h * g.filter_w * c..].fill(zero);
    }
}

/// CONV_2D, float32, the reference order, one group.
pub(crate) struct ConvF32 {
    pub(crate) label: String,
    pub(crate) g: Geom,
    pub(crate) act: (f32, f32),
    pub(crate) w: PackedF32,
    pub(crate) simd: Simd,
    pub(crate) par: Par,
}

impl Kernel for ConvF32 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let (g, l) = (&self.g, self.label.as_str());
        let input = f32_in(l, inputs, 0, g.input_len())?;
        let bias = opt_f32_in(l, inputs, 2, g.out_c)?;
        let out = f32_out(l, outputs, g.output_len())?;
        let (k, oc, (lo, hi)) = (self.w.k, g.out_c, self.act);
        let direct = pointwise(g);
        split_rows(out, oc, self.par, k * oc, |first, piece| {
            let n = piece.len() / oc;
            f32_row_chunks(g, input, direct, k, (first, n), |c0, rows, a| {
                let dst = &mut piece[c0 * oc..][..rows * oc];
                gemm_f32(
                    self.simd,
                    a,
                    k,
                    rows,
                    &self.w,
                    0..oc.div_ceil(NR),
                    |r, c, s| {
                        for (lane, &total) in s.iter().enumerate().take(oc - c.min(oc)) {
                            let bias_value = bias.map_or(0.0, |v| v[c + lane]);
                            dst[r * oc + c + lane] = clamp_like_cpp(total + bias_value, lo, hi);
                        }
                    },
                );
            });
        });
        Ok(())
    }
}

/// CONV_2D, int8 (`ConvPerChannel`), one group.
pub(crate) struct ConvI8 {
    pub(crate) label: String,
    pub(crate) g: Geom,
    pub(crate) input_offset: i32,
    /// The filter as int16, `[out_c][fy][fx][ic]` steps.
    pub(crate) w: PackedI16,
    pub(crate) epilogue: FastEpilogue,
    pub(crate) simd: Simd,
    pub(crate) par: Par,
}

impl Kernel for ConvI8 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let (g, l) = (&self.g, self.label.as_str());
        let input = i8_in(l, inputs, 0, g.input_len())?;
        let out = i8_out(l, outputs, g.output_len())?;
        let (lda, oc, off) = (2 * self.w.k2, g.out_c, self.input_offset);
        split_rows(out, oc, self.par, lda * oc, |first, piece| {
            let n = piece.len() / oc;
            let mut scratch = vec![0i16; CHUNK.min(n) * lda];
            for c0 in (0..n).step_by(CHUNK) {
                let rows = CHUNK.min(n - c0);
                // The offset fits: prepare checked |offset| <= 256.
                patches(g, input, (first + c0, rows), &mut scratch, lda, 0, |x| {
                    (i32::from(x) + off) as i16
                });
                let dst = &mut piece[c0 * oc..][..rows * oc];
                gemm_i16(
                    self.simd,
                    &scratch,
                    lda,
                    rows,
                    &self.w,
                    0..oc.div_ceil(NR),
                    |r, c, s| {
                        let n = NR.min(oc - c.min(oc));
                        let out = &mut dst[r * oc + c..][..n];
                        self.epilogue.apply_i8(self.simd, &s[..n], c, out);
                    },
                );
            }
        });
        Ok(())
    }
}

/// FULLY_CONNECTED, float32, the reference order (`depth > 0`).
pub(crate) struct FcF32 {
    pub(crate) label: String,
    pub(crate) batches: usize,
    pub(crate) lo: f32,
    pub(crate) hi: f32,
    pub(crate) has_bias: bool,
    pub(crate) w: PackedF32,
    pub(crate) simd: Simd,
    pub(crate) par: Par,
}

impl Kernel for FcF32 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let (units, depth, batches) = (self.w.n, self.w.k, self.batches);
        let x = f32_in(l, inputs, 0, batches * depth)?;
        let bias = match self.has_bias {
            true => Some(f32_in(l, inputs, 2, units)?),
            false => None,
        };
        let out = f32_out(l, outputs, batches * units)?;
        let (lo, hi) = (self.lo, self.hi);
        if batches == 1 {
            // One row: the units are split across threads, a panel at a time.
            split_rows(out, NR, self.par, NR * depth, |p0, piece| {
                let panels = p0..p0 + piece.len().div_ceil(NR);
                gemm_f32(self.simd, x, depth, 1, &self.w, panels, |_, c, s| {
                    for (lane, &total) in s.iter().enumerate().take(units - c.min(units)) {
                        let bias_value = bias.map_or(0.0, |v| v[c + lane]);
                        piece[c - p0 * NR + lane] = clamp_like_cpp(total + bias_value, lo, hi);
                    }
                });
            });
        } else {
            split_rows(out, units, self.par, units * depth, |b0, piece| {
                let rows = piece.len() / units;
                let a = &x[b0 * depth..][..rows * depth];
                gemm_f32(
                    self.simd,
                    a,
                    depth,
                    rows,
                    &self.w,
                    0..units.div_ceil(NR),
                    |r, c, s| {
                        for (lane, &total) in s.iter().enumerate().take(units - c.min(units)) {
                            let bias_value = bias.map_or(0.0, |v| v[c + lane]);
                            piece[r * units + c + lane] =
                                clamp_like_cpp(total + bias_value, lo, hi);
                        }
                    },
                );
            });
        }
        Ok(())
    }
}

/// FULLY_CONNECTED, int8 (`FullyConnected[PerChannel]`, `depth > 0`): weights stored as
/// `w - zero point` in int16.
pub(crate) struct FcI8 {
    pub(crate) label: String,
    pub(crate) batches: usize,
    pub(crate) depth: usize,
    pub(crate) input_offset: i32,
    pub(crate) w: PackedI16,
    pub(crate) epilogue: DoubleEpilogue,
    pub(crate) simd: Simd,
    pub(crate) par: Par,
}

impl Kernel for FcI8 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let (units, depth, batches) = (self.w.n, self.depth, self.batches);
        let x = i8_in(l, inputs, 0, batches * depth)?;
        let out = i8_out(l, outputs, batches * units)?;
        let lda = 2 * self.w.k2;
        let mut a = vec![0i16; batches * lda];
        for (row, xr) in a.chunks_exact_mut(lda).zip(x.chunks_exact(depth)) {
            for (d, &v) in row.iter_mut().zip(xr) {
                *d = (i32::from(v) + self.input_offset) as i16;
            }
        }
        let ep = &self.epilogue;
        if batches == 1 {
            split_rows(out, NR, self.par, NR * depth, |p0, piece| {
                let panels = p0..p0 + piece.len().div_ceil(NR);
                gemm_i16(self.simd, &a, lda, 1, &self.w, panels, |_, c, s| {
                    for (lane, &acc) in s.iter().enumerate().take(units - c.min(units)) {
                        piece[c - p0 * NR + lane] = ep.apply(acc, c + lane) as i8;
                    }
                });
            });
        } else {
            split_rows(out, units, self.par, units * depth, |b0, piece| {
                let rows = piece.len() / units;
                let a = &a[b0 * lda..][..rows * lda];
                gemm_i16(
                    self.simd,
                    a,
                    lda,
                    rows,
                    &self.w,
                    0..units.div_ceil(NR),
                    |r, c, s| {
                        for (lane, &acc) in s.iter().enumerate().take(units - c.min(units)) {
                            piece[r * units + c + lane] = ep.apply(acc, c + lane) as i8;
                        }
                    },
                );
            });
        }
        Ok(())
    }
}
