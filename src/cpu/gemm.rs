//! The products under the fast convolutions and FULLY_CONNECTED: rows (output pixels, input
//! rows) times weights packed in panels of [`NR`] output channels, [`MR`] rows at a time.
//!
//! Vectorised across output channels only: every output element is its own lane, summed
//! over `k` in order from `+0.0` with a rounded product and a rounded sum per step (no fused
//! multiply-add), exactly as the reference kernels' scalar loop. The integer product sums
//! pairs of `k` steps at a time (`vpmaddwd`): integer sums wrap the same in any order.

/// Output channels per packed panel (two AVX2 registers of floats or int32s).
pub(crate) const NR: usize = 16;
/// Rows per call of the inner kernel (12 accumulator registers with [`NR`]).
pub(crate) const MR: usize = 6;

/// Which inner loops run: explicit AVX2 code, or portable Rust (what the compiler makes of
/// it for the target's baseline). Both give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simd {
    /// Portable loops (any target).
    Portable,
    /// x86-64 AVX2 (checked at run time).
    Avx2,
}

impl Simd {
    /// The best this CPU has.
    pub fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Portable
    }
}

/// Float weights `[n][k]` packed in panels: panel `j` holds, for each `k`, the weights of
/// output channels `NR·j .. NR·j + NR` (zeros past channel `n`).
pub(crate) struct PackedF32 {
    pub(crate) n: usize,
    pub(crate) k: usize,
    data: Vec<f32>,
}

impl PackedF32 {
    /// Pack `w(channel, step)` for `n` channels of `k` steps.
    pub(crate) fn pack(n: usize, k: usize, w: impl Fn(usize, usize) -> f32) -> PackedF32 {
        let panels = n.div_ceil(NR);
        let mut data = vec![0.0f32; panels * k * NR];
        for c in 0..n {
            let (j, l) = (c / NR, c % NR);
            for s in 0..k {
                data[(j * k + s) * NR + l] = w(c, s);
            }
        }
        PackedF32 { n, k, data }
    }

    pub(crate) fn bytes(&self) -> u64 {
        (self.data.len() * 4) as u64
    }

    fn panel(&self, j: usize) -> &[f32] {
        &self.data[j * self.k * NR..][..self.k * NR]
    }

    /// Panel `j`: for each step, the weights of its [`NR`] channels.
    pub(crate) fn panel_of(&self, j: usize) -> &[f32] {
        self.panel(j)
    }
}

/// Integer weights `[n][k]` as int16, packed in panels of pairs of steps: panel `j` holds,
/// for each pair `q`, `[w(c, 2q), w(c, 2q + 1)]` for the channels `c` of the panel (zeros
/// past channel `n` and past step `k`).
pub(crate) struct PackedI16 {
    pub(crate) n: usize,
    /// Pairs of steps (`k` rounded up to even, halved).
    pub(crate) k2: usize,
    data: Vec<i16>,
}

impl PackedI16 {
    pub(crate) fn pack(n: usize, k: usize, w: impl Fn(usize, usize) -> i16) -> PackedI16 {
        let k2 = k.div_ceil(2);
        let panels = n.div_ceil(NR);
        let mut data = vec![0i16; panels * k2 * NR * 2];
        for c in 0..n {
            let (j, l) = (c / NR, c % NR);
            for s in 0..k {
                data[((j * k2 + s / 2) * NR + l) * 2 + s % 2] = w(c, s);
            }
        }
        PackedI16 { n, k2, data }
    }

    pub(crate) fn bytes(&self) -> u64 {
        (self.data.len() * 2) as u64
    }

    fn panel(&self, j: usize) -> &[i16] {
        &self.data[j * self.k2 * NR * 2..][..self.k2 * NR * 2]
    }
}

/// Rows `r` of `a` (`rows` rows of stride `lda`, `w.k` steps each) times `w`: calls
/// `store(r, first_channel, sums)` for every row and panel, `sums[l]` being channel
/// `first_channel + l`'s (lanes past `w.n` are to be ignored).
pub(crate) fn gemm_f32(
    simd: Simd,
    a: &[f32],
    lda: usize,
    rows: usize,
    w: &PackedF32,
    panels: std::ops::Range<usize>,
    store: impl FnMut(usize, usize, &[f32; NR]),
) {
    gemm_f32_steps(simd, a, lda, rows, w, panels, 0..w.k, store);
}

/// [`gemm_f32`] over the steps `ks` only (`a`'s rows still hold all `w.k` steps): each sum
/// runs over `ks` in order from `+0.0`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_f32_steps(
    simd: Simd,
    a: &[f32],
    lda: usize,
    rows: usize,
    w: &PackedF32,
    panels: std::ops::Range<usize>,
    ks: std::ops::Range<usize>,
    store: impl FnMut(usize, usize, &[f32; NR]),
) {
    gemm_f32_strided::<1>(simd, a, lda, rows, w, panels, ks, store);
}

/// [`gemm_f32_steps`] over every `STEP`-th step of `ks` from its start.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_f32_strided<const STEP: usize>(
    simd: Simd,
    a: &[f32],
    lda: usize,
    rows: usize,
    w: &PackedF32,
    panels: std::ops::Range<usize>,
    ks: std::ops::Range<usize>,
    mut store: impl FnMut(usize, usize, &[f32; NR]),
) {
    assert!(ks.start <= ks.end && ks.end <= w.k);
    let (k0, k) = (ks.start, ks.end - ks.start);
    for j in panels {
        let panel = &w.panel(j)[k0 * NR..];
        let mut r = 0;
        while r < rows {
            let p = (rows - r).min(MR);
            let a = &a[r * lda + k0..];
            macro_rules! go {
                ($p:literal) => {{
                    let acc = block_f32::<$p, STEP>(simd, a, lda, k, panel);
                    for (i, s) in acc.iter().enumerate() {
                        store(r + i, j * NR, s);
                    }
                }};
            }
            match p {
                6 => go!(6),
                5 => go!(5),
                4 => go!(4),
                3 => go!(3),
                2 => go!(2),
                _ => go!(1),
            }
            r += p;
        }
    }
}

/// [`gemm_f32`] for int16 rows (`2·w.k2` steps, zeros past the last) and int16 weights:
/// int32 sums, wrapping.
pub(crate) fn gemm_i16(
    simd: Simd,
    a: &[i16],
    lda: usize,
    rows: usize,
    w: &PackedI16,
    panels: std::ops::Range<usize>,
    mut store: impl FnMut(usize, usize, &[i32; NR]),
) {
    for j in panels {
        let panel = w.panel(j);
        let mut r = 0;
        while r < rows {
            let p = (rows - r).min(MR);
            let a = &a[r * lda..];
            macro_rules! go {
                ($p:literal) => {{
                    let acc = block_i16::<$p>(simd, a, lda, w.k2, panel);
                    for (i, s) in acc.iter().enumerate() {
                        store(r + i, j * NR, s);
                    }
                }};
            }
            match p {
                6 => go!(6),
                5 => go!(5),
                4 => go!(4),
                3 => go!(3),
                2 => go!(2),
                _ => go!(1),
            }
            r += p;
        }
    }
}

fn block_f32<const P: usize, const STEP: usize>(
    simd: Simd,
    a: &[f32],
    lda: usize,
    k: usize,
    panel: &[f32],
) -> [[f32; NR]; P] {
    assert!(panel.len() >= k * NR && a.len() >= (P - 1) * lda + k);
    #[cfg(target_arch = "x86_64")]
    if simd == Simd::Avx2 {
        // SAFETY: AVX2 was detected (`Simd::detect`); the bounds are asserted above.
        return unsafe { block_f32_avx2::<P, STEP>(a, lda, k, panel) };
    }
    let _ = simd;
    let mut acc = [[0.0f32; NR]; P];
    for s in (0..k).step_by(STEP) {
        let w = &panel[s * NR..][..NR];
        for (p, acc) in acc.iter_mut().enumerate() {
            let x = a[p * lda + s];
            for (v, &w) in acc.iter_mut().zip(w) {
                *v += x * w;
            }
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_f32_avx2<const P: usize, const STEP: usize>(
    a: &[f32],
    lda: usize,
    k: usize,
    panel: &[f32],
) -> [[f32; NR]; P] {
    use std::arch::x86_64::*;
    let mut lo = [_mm256_setzero_ps(); P];
    let mut hi = [_mm256_setzero_ps(); P];
    let (ap, wp) = (a.as_ptr(), panel.as_ptr());
    for s in (0..k).step_by(STEP) {
        let w0 = _mm256_loadu_ps(wp.add(s * NR));
        let w1 = _mm256_loadu_ps(wp.add(s * NR + 8));
        for p in 0..P {
            let x = _mm256_broadcast_ss(&*ap.add(p * lda + s));
            // input × weight, then the sum: the reference's operations, one lane each.
            lo[p] = _mm256_add_ps(lo[p], _mm256_mul_ps(x, w0));
            hi[p] = _mm256_add_ps(hi[p], _mm256_mul_ps(x, w1));
        }
    }
    let mut out = [[0.0f32; NR]; P];
    for p in 0..P {
        _mm256_storeu_ps(out[p].as_mut_ptr(), lo[p]);
        _mm256_storeu_ps(out[p].as_mut_ptr().add(8), hi[p]);
    }
    out
}

fn block_i16<const P: usize>(
    simd: Simd,
    a: &[i16],
    lda: usize,
    k2: usize,
    panel: &[i16],
) -> [[i32; NR]; P] {
    assert!(panel.len() >= k2 * NR * 2 && a.len() >= (P - 1) * lda + 2 * k2);
    #[cfg(target_arch = "x86_64")]
    if simd == Simd::Avx2 {
        // SAFETY: AVX2 was detected; the bounds are asserted above.
        return unsafe { block_i16_avx2::<P>(a, lda, k2, panel) };
    }
    let _ = simd;
    let mut acc = [[0i32; NR]; P];
    for q in 0..k2 {
        let w = &panel[q * NR * 2..][..NR * 2];
        for (p, acc) in acc.iter_mut().enumerate() {
            let (x0, x1) = (
                i32::from(a[p * lda + 2 * q]),
                i32::from(a[p * lda + 2 * q + 1]),
            );
            for (l, v) in acc.iter_mut().enumerate() {
                let pair = (x0 * i32::from(w[2 * l])).wrapping_add(x1 * i32::from(w[2 * l + 1]));
                *v = v.wrapping_add(pair);
            }
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_i16_avx2<const P: usize>(
    a: &[i16],
    lda: usize,
    k2: usize,
    panel: &[i16],
) -> [[i32; NR]; P] {
    use std::arch::x86_64::*;
    let mut lo = [_mm256_setzero_si256(); P];
    let mut hi = [_mm256_setzero_si256(); P];
    let (ap, wp) = (a.as_ptr(), panel.as_ptr());
    for q in 0..k2 {
        let w0 = _mm256_loadu_si256(wp.add(q * NR * 2) as *const __m256i);
        let w1 = _mm256_loadu_si256(wp.add(q * NR * 2 + 16) as *const __m256i);
        for p in 0..P {
            let pair = (ap.add(p * lda + 2 * q) as *const i32).read_unaligned();
            let x = _mm256_set1_epi32(pair);
            lo[p] = _mm256_add_epi32(lo[p], _mm256_madd_epi16(x, w0));
            hi[p] = _mm256_add_epi32(hi[p], _mm256_madd_epi16(x, w1));
        }
    }
    let mut out = [[0i32; NR]; P];
    for p in 0..P {
        _mm256_storeu_si256(out[p].as_mut_ptr() as *mut __m256i, lo[p]);
        _mm256_storeu_si256(out[p].as_mut_ptr().add(8) as *mut __m256i, hi[p]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    /// Both paths against the plain loop, bit for bit, on odd sizes.
    #[test]
    fn both_paths_equal_the_plain_loop() {
        let mut seed = 7;
        for &(rows, n, k) in &[(1, 1, 1), (7, 17, 9), (13, 40, 33), (6, 16, 64)] {
            let a: Vec<f32> = (0..rows * k)
                .map(|_| (lcg(&mut seed) % 2001) as f32 / 37.0 - 27.0)
                .collect();
            let w: Vec<f32> = (0..n * k)
                .map(|_| (lcg(&mut seed) % 1001) as f32 / 91.0 - 5.0)
                .collect();
            let packed = PackedF32::pack(n, k, |c, s| w[c * k + s]);
            let ai: Vec<i16> = (0..rows * (k + 1))
                .map(|i| {
                    if i % (k + 1) == k {
                        0
                    } else {
                        (lcg(&mut seed) % 511) as i16 - 255
                    }
                })
                .collect();
            let wi: Vec<i16> = (0..n * k)
                .map(|_| (lcg(&mut seed) % 256) as i16 - 128)
                .collect();
            let packed_i = PackedI16::pack(n, k, |c, s| wi[c * k + s]);
            for simd in [Simd::Portable, Simd::detect()] {
                let mut got = vec![f32::NAN; rows * n];
                gemm_f32(simd, &a, k, rows, &packed, 0..n.div_ceil(NR), |r, c0, s| {
                    for (l, v) in s.iter().enumerate().take(n.saturating_sub(c0)) {
                        got[r * n + c0 + l] = *v;
                    }
                });
                let mut goti = vec![0; rows * n];
                gemm_i16(
                    simd,
                    &ai,
                    k + 1,
                    rows,
                    &packed_i,
                    0..n.div_ceil(NR),
                    |r, c0, s| {
                        for (l, v) in s.iter().enumerate().take(n.saturating_sub(c0)) {
                            goti[r * n + c0 + l] = *v;
                        }
                    },
                );
                for r in 0..rows {
                    for c in 0..n {
                        let mut t = 0.0f32;
                        let mut ti = 0i32;
                        for s in 0..k {
                            t += a[r * k + s] * w[c * k + s];
                            ti += i32::from(ai[r * (k + 1) + s]) * i32::from(wi[c * k + s]);
                        }
                        assert_eq!(got[r * n + c].to_bits(), t.to_bits(), "{simd:?} {r} {c}");
                        assert_eq!(goti[r * n + c], ti, "{simd:?} {r} {c}");
                    }
                }
            }
        }
    }
}
