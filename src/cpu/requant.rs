//! The int8 CONV_2D / DEPTHWISE_CONV_2D epilogue ([`Epilogue`]) laid out for speed: the
//! same steps, with the 64-bit `SaturatingRoundingDoublingHighMul` (the normative formula
//! the 32-bit limb form the reference uses is tested against) and the shifts resolved per
//! channel at prepare.

use crate::quant::fixedpoint::{rounding_divide_by_pot, srdhm_i64};
use crate::reference::common::Epilogue;

use super::gemm::Simd;

/// One channel's requantization.
#[derive(Debug, Clone, Copy)]
struct Channel {
    bias: i32,
    multiplier: i32,
    /// `1 << left shift` (wrapping, as the reference multiplies).
    scale_up: i32,
    right: i32,
}

/// [`Epilogue::apply`], channel by channel, or eight channels at a time with AVX2.
#[derive(Debug, Clone)]
pub(crate) struct FastEpilogue {
    channels: Vec<Channel>,
    /// The channels' fields as arrays (the AVX2 path loads eight at a time).
    bias: Vec<i32>,
    multiplier: Vec<i32>,
    scale_up: Vec<i32>,
    right: Vec<i32>,
    zero_point: i32,
    lo: i32,
    hi: i32,
}

impl FastEpilogue {
    pub(crate) fn new(e: &Epilogue) -> FastEpilogue {
        let channels = e
            .bias
            .iter()
            .zip(&e.multipliers)
            .map(|(&bias, m)| Channel {
                bias,
                multiplier: m.multiplier,
                scale_up: 1i32.wrapping_shl(m.shift.max(0) as u32),
                right: (-m.shift).max(0),
            })
            .collect::<Vec<Channel>>();
        let field = |f: fn(&Channel) -> i32| channels.iter().map(f).collect();
        FastEpilogue {
            bias: field(|c| c.bias),
            multiplier: field(|c| c.multiplier),
            scale_up: field(|c| c.scale_up),
            right: field(|c| c.right),
            channels,
            zero_point: e.output_zero_point,
            lo: e.act_min,
            hi: e.act_max,
        }
    }

    /// The output of accumulator `acc` of channel `c`.
    #[inline(always)]
    pub(crate) fn apply(&self, acc: i32, c: usize) -> i32 {
        let ch = &self.channels[c];
        let x = acc.wrapping_add(ch.bias).wrapping_mul(ch.scale_up);
        let x = rounding_divide_by_pot(srdhm_i64(x, ch.multiplier), ch.right);
        x.wrapping_add(self.zero_point).max(self.lo).min(self.hi)
    }

    /// `out[l] = apply(acc[l], c + l)` for every `l`, as int8 (the activation range is
    /// within int8). Whole groups of eight on the AVX2 path when `simd` says so.
    #[inline(always)]
    pub(crate) fn apply_i8(&self, simd: Simd, acc: &[i32], c: usize, out: &mut [i8]) {
        let n = acc.len().min(out.len());
        let mut l = 0;
        #[cfg(target_arch = "x86_64")]
        if simd == Simd::Avx2 && self.multiplier.iter().all(|&m| m >= 0) {
            while l + 8 <= n {
                // SAFETY: AVX2 was detected; `apply8` checks its bounds.
                unsafe { self.apply8(&acc[l..l + 8], c + l, &mut out[l..l + 8]) };
                l += 8;
            }
        }
        let _ = simd;
        for l in l..n {
            out[l] = self.apply(acc[l], c + l) as i8;
        }
    }

    /// Eight channels `c ..` at once ([`mbqm8`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply8(&self, acc: &[i32], c: usize, out: &mut [i8]) {
        use std::arch::x86_64::*;
        assert!(acc.len() == 8 && out.len() == 8 && c + 8 <= self.bias.len());
        macro_rules! load {
            ($v:expr) => {
                _mm256_loadu_si256($v.as_ptr().add(c) as *const __m256i)
            };
        }
        let x = _mm256_loadu_si256(acc.as_ptr() as *const __m256i);
        let x = _mm256_mullo_epi32(_mm256_add_epi32(x, load!(self.bias)), load!(self.scale_up));
        let r = mbqm8(x, load!(self.multiplier), load!(self.right));
        let r = _mm256_add_epi32(r, _mm256_set1_epi32(self.zero_point));
        let r = _mm256_min_epi32(
            _mm256_max_epi32(r, _mm256_set1_epi32(self.lo)),
            _mm256_set1_epi32(self.hi),
        );
        let mut v = [0i32; 8];
        _mm256_storeu_si256(v.as_mut_ptr() as *mut __m256i, r);
        for (o, v) in out.iter_mut().zip(v) {
            *o = v as i8;
        }
    }
}

/// `MultiplyByQuantizedMultiplier` of eight lanes whose left shift is already applied:
/// `SaturatingRoundingDoublingHighMul(x, m)` as `floor((x·m + 2^30) / 2^31)` — equal to the
/// 64-bit definition's truncation of `(x·m ± nudge) / 2^31` for every `x` when every
/// `m >= 0` (which the callers check; no saturation case either) — then
/// `RoundingDivideByPOT(·, right)` lane by lane.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn mbqm8(
    x: std::arch::x86_64::__m256i,
    m: std::arch::x86_64::__m256i,
    e: std::arch::x86_64::__m256i,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    let half = _mm256_set1_epi64x(1 << 30);
    let even = _mm256_add_epi64(_mm256_mul_epi32(x, m), half);
    let odd = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32));
    let odd = _mm256_add_epi64(odd, half);
    // Bits 31..62 of each product: the low half of a logical shift by 31.
    let even = _mm256_srli_epi64(even, 31);
    let odd = _mm256_slli_epi64(_mm256_srli_epi64(odd, 31), 32);
    let h = _mm256_blend_epi32(even, odd, 0b1010_1010);
    let one = _mm256_set1_epi32(1);
    let mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, e), one);
    let remainder = _mm256_and_si256(h, mask);
    let negative = _mm256_cmpgt_epi32(_mm256_setzero_si256(), h);
    let threshold = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), negative);
    let up = _mm256_cmpgt_epi32(remainder, threshold);
    _mm256_sub_epi32(_mm256_srav_epi32(h, e), up)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::fixedpoint::quantize_multiplier;

    #[test]
    fn equals_the_reference_epilogue() {
        let scales = [1e-6, 3.1e-4, 0.0123, 0.5, 0.99, 1.0, 1.7, 37.0, 300.0];
        let e = Epilogue {
            bias: (0..scales.len() as i32).map(|i| i * 977 - 3000).collect(),
            multipliers: scales.iter().map(|&s| quantize_multiplier(s)).collect(),
            output_zero_point: -5,
            act_min: -128,
            act_max: 127,
        };
        let f = FastEpilogue::new(&e);
        let mut x = 0x1234_5678u32;
        let mut accs: Vec<i32> = vec![0, 1, -1, i32::MAX, i32::MIN, 1 << 20, -(1 << 20)];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            accs.push((x as i32) >> (x % 24));
        }
        for &a in &accs {
            for c in 0..scales.len() {
                assert_eq!(f.apply(a, c), e.apply(a, c), "acc {a} channel {c}");
            }
        }
        // Eight and more lanes at a time, both paths.
        for simd in [Simd::Portable, Simd::detect()] {
            for chunk in accs.chunks(9) {
                let mut out = vec![0i8; chunk.len()];
                f.apply_i8(simd, chunk, 0, &mut out);
                for (l, (&a, &o)) in chunk.iter().zip(&out).enumerate() {
                    assert_eq!(i32::from(o), e.apply(a, l), "{simd:?} acc {a} channel {l}");
                }
            }
        }
    }
}
