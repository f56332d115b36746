//! Fast CONV_2D and FULLY_CONNECTED, float32, in the converter's order
//! ([`FloatOrder::Converter`](crate::reference::FloatOrder), `float_order.rs`): what
//! calibration runs.
//!
//! Every output element sums its products in exactly the order the reference's converter
//! kernel gives it (`eigen_conv_dot`, `eigen_product_dot`); only independent elements share
//! a vector. The orders Eigen's products give are, per element:
//! - the depth cut into ranges (one, or the thread pool's inner-dimension shards), each range
//!   into slices (`kc`, or the column-major GEMV's blocks), each slice summed from zero and
//!   added to its range's sum, which starts at zero; the ranges then added up (in order, or
//!   for four of them Eigen's `(p0 + p1) + (p2 + p3)`, `p0 + ((p1 + p2) + p3)` for the last
//!   elements of the column-major buffer);
//! - within a slice, most elements take the GEMM kernel's plain path (one product per step,
//!   in order): those in the row blocks of 16 and in the column blocks of four ([`Plan`]).
//!   Their slices are the vectorised products of `gemm.rs` over a range of steps.
//!   The few others (the last `rows mod 16` output channels of a block, in its column
//!   blocks of four) are recomputed one by one by the reference's own function.
//! - FULLY_CONNECTED with one input row: Eigen's row-major GEMV, eight lanes per output
//!   ([`gemv8`]), the one unpaired last row by the reference's function.
//!
//! Cases outside these (a dilated convolution with one output pixel or channel, a
//! FULLY_CONNECTED with one unit) run the reference kernel itself.

use crate::reference::common::clamp_like_cpp;
use crate::reference::conv::conv2d as rconv;
use crate::reference::conv::Geom;
use crate::reference::float_order::{
    conv_sum, eigen_conv_dot, eigen_kc, eigen_product_dot, gemv_single_row, ConvSum, Sharding,
};
use crate::reference::fully_connected::fc as rfc;
use crate::reference::Kernel;
use crate::{Result, Tensor};

use super::conv::{f32_in, f32_out, f32_row_chunks, opt_f32_in, pointwise};
use super::gemm::{gemm_f32_steps, gemm_f32_strided, PackedF32, Simd, NR};
use super::par::{split_rows, Par};

/// One range of the depth: `k0..k1`, summed in slices of `kc`; `(mc, nc)`: the row and
/// column blocks that decide each element's path in the GEMM kernel.
#[derive(Debug, Clone, Copy)]
struct Range {
    k0: usize,
    k1: usize,
    kc: usize,
    mc: usize,
    nc: usize,
}

/// The rows of one range off the GEMM kernel's plain path ([`Plan::odd_rows`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct OddRows {
    even_odd: Vec<usize>,
    swapped: Vec<usize>,
}

/// How the elements of a `rows × cols` product (rows: output channels or units, cols:
/// output pixels or input rows) sum, where the fast kernel covers it.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    ranges: Vec<Range>,
    /// Four ranges added as Eigen's inner-dimension sharding adds them.
    four: bool,
    rows: usize,
    cols: usize,
}

impl Plan {
    /// The plan of a product summed as `sum` decides, `None` where the fast kernel does not
    /// cover it.
    pub(crate) fn of(sum: &ConvSum, depth: usize, rows: usize, cols: usize) -> Option<Plan> {
        let one = |kc: usize, mc: usize, nc: usize| Range {
            k0: 0,
            k1: depth,
            kc: kc.max(1),
            mc: mc.max(1),
            nc: nc.max(1),
        };
        let (ranges, four) = match *sum {
            ConvSum::ColumnGemv { block } => (vec![one(block, rows, cols)], false),
            ConvSum::Gemm { kc } => (vec![one(kc, rows, cols)], false),
            ConvSum::Product if rows > 1 && cols > 1 => {
                (vec![one(eigen_kc(depth, rows, cols), rows, cols)], false)
            }
            ConvSum::Product => return None,
            ConvSum::Threads(Sharding::Parallel(b)) => (vec![one(b.kc, b.mc, b.nc)], false),
            ConvSum::Threads(Sharding::InnerDim {
                block,
                blocks,
                full,
                last,
            }) => {
                if blocks == 0 || blocks > 4 || block == 0 {
                    return None;
                }
                let ranges = (0..blocks)
                    .map(|i| {
                        let b = if i + 1 < blocks { full } else { last };
                        Range {
                            k0: i * block,
                            k1: ((i + 1) * block).min(depth),
                            kc: b.kc.max(1),
                            mc: b.mc.max(1),
                            nc: b.nc.max(1),
                        }
                    })
                    .collect();
                (ranges, blocks == 4)
            }
            ConvSum::Threads(Sharding::Sequential) => return None,
        };
        Some(Plan {
            ranges,
            four,
            rows,
            cols,
        })
    }

    /// Per range, the rows the GEMM kernel sums by another path than the plain one when
    /// their column is in a block of four: those past their row block's whole 16s, split
    /// into the even/odd path's (blocks of 8 and 4 rows) and the swapped kernel's (the rest).
    fn odd_rows(&self) -> Vec<OddRows> {
        self.ranges
            .iter()
            .map(|r| {
                let mut odd = OddRows::default();
                for row in 0..self.rows {
                    let r0 = row / r.mc * r.mc;
                    let (local, lr) = (r.mc.min(self.rows - r0), row - r0);
                    let p2 = local / 16 * 16;
                    let p1 = p2 + (local - p2) / 8 * 8;
                    let half = p1 + (local - p1) / 4 * 4;
                    if lr >= half {
                        odd.swapped.push(row);
                    } else if lr >= p2 {
                        odd.even_odd.push(row);
                    }
                }
                odd
            })
            .collect()
    }

    /// Whether column `col` is in a block of four columns in range `i`.
    fn in_four(&self, i: usize, col: usize) -> bool {
        let nc = self.ranges[i].nc;
        let c0 = col / nc * nc;
        let local = nc.min(self.cols - c0);
        col - c0 < local / 4 * 4
    }

    /// Sum the ranges' partial sums of element (`row`, `col`) as Eigen does.
    fn combine(&self, p: &[f32], row: usize, col: usize) -> f32 {
        if self.four {
            if row + col * self.rows >= self.rows * self.cols / 8 * 8 {
                p[0] + ((p[1] + p[2]) + p[3])
            } else {
                (p[0] + p[1]) + (p[2] + p[3])
            }
        } else {
            let mut d = p[0];
            for v in &p[1..] {
                d += v;
            }
            d
        }
    }
}

/// The products of `rows` rows of `a` (stride `lda`; global columns `first ..`) by the
/// packed weights `w` (`filter`: the same, unpacked `[n][k]`) in the order of `plan`: calls
/// `store(r, channel, sum)` for every element (the elements off the plain path twice, the
/// second time with their sum). `acc` is scratch.
#[allow(clippy::too_many_arguments)]
fn product(
    simd: Simd,
    plan: &Plan,
    odd_rows: &[OddRows],
    sum: &ConvSum,
    (a, lda, rows, first): (&[f32], usize, usize, usize),
    w: &PackedF32,
    filter: &[f32],
    acc: &mut Vec<f32>,
    mut store: impl FnMut(usize, usize, f32),
) {
    let (n, k) = (w.n, w.k);
    let panels = 0..n.div_ceil(NR);
    let nr = plan.ranges.len();
    let r0 = plan.ranges[0];
    if nr == 1 && r0.k0 == 0 && r0.k1 <= r0.kc {
        // One slice: the range's sum starts at zero and adds the slice's (`0 + -0` is `+0`).
        gemm_f32_steps(simd, a, lda, rows, w, panels, 0..r0.k1, |r, c, s| {
            for (lane, &v) in s.iter().enumerate().take(n - c.min(n)) {
                store(r, c + lane, 0.0 + v);
            }
        });
    } else {
        let np = n.div_ceil(NR) * NR;
        acc.clear();
        acc.resize(nr * rows * np, 0.0);
        for (i, range) in plan.ranges.iter().enumerate() {
            let part = &mut acc[i * rows * np..][..rows * np];
            let mut s0 = range.k0;
            while s0 < range.k1 {
                let s1 = (s0 + range.kc).min(range.k1);
                gemm_f32_steps(simd, a, lda, rows, w, panels.clone(), s0..s1, |r, c, s| {
                    for (d, v) in part[r * np + c..][..NR].iter_mut().zip(s) {
                        *d += v;
                    }
                });
                s0 = s1;
            }
        }
        let mut p = [0.0f32; 4];
        for r in 0..rows {
            let col = first + r;
            for c in 0..n {
                for (i, v) in p.iter_mut().enumerate().take(nr) {
                    *v = acc[(i * rows + r) * np + c];
                }
                store(r, c, plan.combine(&p[..nr], c, col));
            }
        }
    }
    // One range: the even/odd path's elements, vectorised too.
    if nr == 1 {
        even_odd(
            simd,
            plan,
            &odd_rows[0].even_odd,
            (a, lda, rows, first),
            w,
            filter,
            acc,
            &mut store,
        );
    }
    // The other elements off the plain path: the reference's own sum.
    for r in 0..rows {
        let col = first + r;
        for (i, odd) in odd_rows.iter().enumerate() {
            if !plan.in_four(i, col) {
                continue;
            }
            let even_odd: &[usize] = if nr == 1 { &[] } else { &odd.even_odd };
            for &c in even_odd.iter().chain(&odd.swapped) {
                // Several ranges may name one element: the same sum again.
                let (wr, xr) = (&filter[c * k..][..k], &a[r * lda..][..k]);
                store(r, c, eigen_conv_dot(sum, wr, xr, (c, n), (col, plan.cols)));
            }
        }
    }
}

/// The elements of rows `rows_eo` (one range) that the GEMM kernel sums by its even/odd
/// path (`lhs_process_one_packet`), where their column is in a block of four: per slice, the
/// even steps below the slice's depth rounded down to 8 summed apart from the odd ones
/// (strided vector products), the two added, the remaining steps added in order; the slices'
/// sums added to a sum that starts at zero.
#[allow(clippy::too_many_arguments)]
fn even_odd(
    simd: Simd,
    plan: &Plan,
    rows_eo: &[usize],
    (a, lda, rows, first): (&[f32], usize, usize, usize),
    w: &PackedF32,
    filter: &[f32],
    acc: &mut Vec<f32>,
    store: &mut impl FnMut(usize, usize, f32),
) {
    let (Some(&lo), Some(&hi)) = (rows_eo.first(), rows_eo.last()) else {
        return;
    };
    let cols: Vec<usize> = (0..rows).filter(|&r| plan.in_four(0, first + r)).collect();
    if cols.is_empty() {
        return;
    }
    let (n, k) = (w.n, w.k);
    let np = n.div_ceil(NR) * NR;
    let panels = lo / NR..hi / NR + 1;
    let range = plan.ranges[0];
    acc.clear();
    acc.resize(3 * rows * np, 0.0);
    let (even, rest) = acc.split_at_mut(rows * np);
    let (odd, total) = rest.split_at_mut(rows * np);
    let mut s0 = range.k0;
    while s0 < range.k1 {
        let s1 = (s0 + range.kc).min(range.k1);
        let peeled = (s1 - s0) / 8 * 8;
        for (buf, from) in [(&mut *even, s0), (&mut *odd, s0 + 1)] {
            buf.fill(0.0);
            if peeled > 0 {
                let steps = from..s0 + peeled;
                gemm_f32_strided::<2>(simd, a, lda, rows, w, panels.clone(), steps, |r, c, v| {
                    buf[r * np + c..][..NR].copy_from_slice(v);
                });
            }
        }
        for &r in &cols {
            let x = &a[r * lda..][..k];
            for &c in rows_eo {
                let wr = &filter[c * k..][..k];
                let mut t = even[r * np + c] + odd[r * np + c];
                for j in s0 + peeled..s1 {
                    t += wr[j] * x[j];
                }
                total[r * np + c] += t;
            }
        }
        s0 = s1;
    }
    for &r in &cols {
        for &c in rows_eo {
            store(r, c, total[r * np + c]);
        }
    }
}

/// CONV_2D, float32, the converter's order, one group.
pub(crate) struct ConvF32Converter {
    pub(crate) g: Geom,
    pub(crate) act: (f32, f32),
    pub(crate) w: PackedF32,
    /// The filter `[out_c][depth]`.
    pub(crate) filter: Vec<f32>,
    pub(crate) simd: Simd,
    pub(crate) par: Par,
    /// The reference kernel, for the sums the fast one does not cover.
    pub(crate) reference: rconv::ConvF32,
}

impl Kernel for ConvF32Converter {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let (g, l) = (&self.g, self.reference.label.as_str());
        let (k, oc, (lo, hi)) = (self.w.k, g.out_c, self.act);
        let pixels = g.batches * g.out_h * g.out_w;
        let dilated = g.dilation_h != 1 || g.dilation_w != 1;
        // Decided at every run, as the reference does (the cache sizes can be set).
        let sum = conv_sum(k, oc, pixels, dilated, g.contracts_patches());
        let Some(plan) = Plan::of(&sum, k, oc, pixels) else {
            return self.reference.run(inputs, outputs);
        };
        let input = f32_in(l, inputs, 0, g.input_len())?;
        let bias = opt_f32_in(l, inputs, 2, oc)?;
        let out = f32_out(l, outputs, g.output_len())?;
        let odd_rows = plan.odd_rows();
        let direct = pointwise(g);
        split_rows(out, oc, self.par, k * oc, |first, piece| {
            let n = piece.len() / oc;
            let mut acc = Vec::new();
            f32_row_chunks(g, input, direct, k, (first, n), |c0, rows, a| {
                let dst = &mut piece[c0 * oc..][..rows * oc];
                product(
                    self.simd,
                    &plan,
                    &odd_rows,
                    &sum,
                    (a, k, rows, first + c0),
                    &self.w,
                    &self.filter,
                    &mut acc,
                    |r, c, total| {
                        let bias_value = bias.map_or(0.0, |v| v[c]);
                        dst[r * oc + c] = clamp_like_cpp(total + bias_value, lo, hi);
                    },
                );
            });
        });
        Ok(())
    }
}

/// FULLY_CONNECTED, float32, the converter's order (`depth > 0`).
pub(crate) struct FcF32Converter {
    pub(crate) w: PackedF32,
    /// The weights `[units][depth]`.
    pub(crate) filter: Vec<f32>,
    pub(crate) simd: Simd,
    pub(crate) par: Par,
    pub(crate) reference: rfc::FloatFc,
}

impl Kernel for FcF32Converter {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let r = &self.reference;
        let (batches, units, depth) = (r.dims.batches, r.dims.units, r.dims.depth);
        if units == 1 || batches == 0 {
            return r.run(inputs, outputs);
        }
        let l = r.label.as_str();
        let x = f32_in(l, inputs, 0, batches * depth)?;
        let bias = if r.has_bias {
            Some(f32_in(l, inputs, 2, units)?)
        } else {
            None
        };
        let out = f32_out(l, outputs, batches * units)?;
        let (lo, hi) = (r.lo, r.hi);
        let finish =
            |o: usize, total: f32| clamp_like_cpp(total + bias.map_or(0.0, |v| v[o]), lo, hi);
        if batches == 1 {
            for j in 0..units.div_ceil(NR) {
                let s = gemv8(self.simd, &self.w, j, x);
                for (lane, &total) in s.iter().enumerate().take(units - j * NR) {
                    let o = j * NR + lane;
                    out[o] = if gemv_single_row(o, units) {
                        let wr = &self.filter[o * depth..][..depth];
                        finish(o, eigen_product_dot(wr, x, (o, units), (0, 1)))
                    } else {
                        finish(o, total)
                    };
                }
            }
            return Ok(());
        }
        // A FULLY_CONNECTED's GEMM: `units` rows, `batches` columns (plain when both are over 1).
        let Some(plan) = Plan::of(&ConvSum::Product, depth, units, batches) else {
            return r.run(inputs, outputs);
        };
        let odd_rows = plan.odd_rows();
        let sum = ConvSum::Product;
        split_rows(out, units, self.par, units * depth, |b0, piece| {
            let rows = piece.len() / units;
            let mut acc = Vec::new();
            product(
                self.simd,
                &plan,
                &odd_rows,
                &sum,
                (&x[b0 * depth..], depth, rows, b0),
                &self.w,
                &self.filter,
                &mut acc,
                |r, o, total| piece[r * units + o] = finish(o, total),
            );
        });
        Ok(())
    }
}

/// Eigen's row-major GEMV (`eigen_gemv_row` for a row that is not the unpaired last one)
/// for the [`NR`] outputs of panel `j`: eight lanes per output accumulate the steps `8m + l`,
/// reduced by `predux`, then the leftover steps one by one.
fn gemv8(simd: Simd, w: &PackedF32, j: usize, x: &[f32]) -> [f32; NR] {
    let k = w.k;
    let panel = w.panel_of(j);
    assert!(x.len() >= k && panel.len() >= k * NR);
    let full = k / 8 * 8;
    let mut lanes = [[0.0f32; NR]; 8];
    #[cfg(target_arch = "x86_64")]
    if simd == Simd::Avx2 {
        // SAFETY: AVX2 was detected (`Simd::detect`); the bounds are asserted above.
        unsafe { gemv8_lanes_avx2(panel, x, full, &mut lanes) };
    } else {
        gemv8_lanes(panel, x, full, &mut lanes);
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = simd;
        gemv8_lanes(panel, x, full, &mut lanes);
    }
    let mut out = [0.0f32; NR];
    for (c, o) in out.iter_mut().enumerate() {
        let t: [f32; 4] = std::array::from_fn(|i| lanes[i][c] + lanes[i + 4][c]);
        let mut cc = (t[0] + t[2]) + (t[1] + t[3]);
        for s in full..k {
            cc += panel[s * NR + c] * x[s];
        }
        *o = cc;
    }
    out
}

fn gemv8_lanes(panel: &[f32], x: &[f32], full: usize, lanes: &mut [[f32; NR]; 8]) {
    for j in (0..full).step_by(8) {
        for (l, lane) in lanes.iter_mut().enumerate() {
            let (xv, wv) = (x[j + l], &panel[(j + l) * NR..][..NR]);
            for (v, &w) in lane.iter_mut().zip(wv) {
                *v += w * xv;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gemv8_lanes_avx2(panel: &[f32], x: &[f32], full: usize, lanes: &mut [[f32; NR]; 8]) {
    use std::arch::x86_64::*;
    let (wp, xp) = (panel.as_ptr(), x.as_ptr());
    for half in 0..2 {
        let mut acc = [_mm256_setzero_ps(); 8];
        for j in (0..full).step_by(8) {
            for (l, a) in acc.iter_mut().enumerate() {
                let xv = _mm256_broadcast_ss(&*xp.add(j + l));
                let wv = _mm256_loadu_ps(wp.add((j + l) * NR + half * 8));
                *a = _mm256_add_ps(*a, _mm256_mul_ps(wv, xv));
            }
        }
        for (l, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(lanes[l].as_mut_ptr().add(half * 8), *a);
        }
    }
}
