//! `((acc as f64) * m).round() as i32` for an int64 accumulator — the requantization of the
//! `BUILTIN_REF` 16x8 FULLY_CONNECTED and BATCH_MATMUL loops
//! (`static_cast<int32_t>(round(acc * (double)scale))` with `acc` int64) — in `u32`
//! arithmetic: the line-for-line twin of `double_rescale64` in
//! `shaders/common/double_rescale.wgsl`.
//!
//! Two roundings, as the C++ does them: the accumulator's conversion to double (its
//! magnitude rounded to 53 significant bits, to nearest even, past 2^53), then the product
//! with the multiplier's 53-bit significand (at most 107 bits, four words) rounded to 53
//! bits, then [`round_scaled`] (half away from zero, saturating). The tests prove it equal
//! to the native expression over accumulator and multiplier edges and random pairs.

#![cfg_attr(not(test), allow(dead_code))]

use super::double_rescale::round_scaled;
use super::softfloat::{add64, clz64, is_zero64, mul32, shr64, sub64, W};

/// Bit `j` of the 128-bit `p` (four words, least significant first).
fn bit128(p: [u32; 4], j: u32) -> u32 {
    (p[(j / 32) as usize] >> (j % 32)) & 1
}

/// Whether any bit of `p` below bit `j` is set.
fn any_below128(p: [u32; 4], j: u32) -> bool {
    let k = j / 32;
    let mut found = (p[k as usize] & ((1u32 << (j % 32)) - 1)) != 0;
    for i in 0..k {
        found = found || p[i as usize] != 0;
    }
    found
}

/// The low 64 bits of `p >> d`, 1 <= d <= 63.
fn shr128_lo64(p: [u32; 4], d: u32) -> W {
    let k = (d / 32) as usize;
    let r = d % 32;
    if r == 0 {
        return [p[k], p[k + 1]];
    }
    [
        (p[k] >> r) | (p[k + 1] << (32 - r)),
        (p[k + 1] >> r) | (p[k + 2] << (32 - r)),
    ]
}

/// `((acc as f64) * m).round() as i32`, `acc` the two's complement words of an `i64` and
/// `m` as `RescaleMultiplier` words.
pub(crate) fn double_rescale64(acc: W, m_lo: u32, m_hi: u32, exponent: i32) -> i32 {
    if is_zero64(acc) || (m_lo | m_hi) == 0 {
        return 0;
    }
    let neg = (acc[1] >> 31) == 1;
    let mut a = if neg { sub64([0, 0], acc) } else { acc };
    let mut s = exponent;
    // (double)acc: the magnitude rounded to 53 significant bits, to nearest even.
    let na = 64 - clz64(a);
    if na > 53 {
        let d = na - 53; // 1 ..= 11
        let rem = a[0] & ((1u32 << d) - 1);
        let half = 1u32 << (d - 1);
        a = shr64(a, d);
        if rem > half || (rem == half && (a[0] & 1) == 1) {
            a = add64(a, [1, 0]);
        }
        s += d as i32;
    }
    // p = a × significand, below 2^108: four words.
    let ll = mul32(a[0], m_lo);
    let lh = mul32(a[0], m_hi);
    let hl = mul32(a[1], m_lo);
    let hh = mul32(a[1], m_hi);
    let t1 = add64(add64([ll[1], 0], [lh[0], 0]), [hl[0], 0]);
    let t2 = add64(add64(add64([lh[1], 0], [hl[1], 0]), [hh[0], 0]), [t1[1], 0]);
    let p = [ll[0], t1[0], t2[0], hh[1].wrapping_add(t2[1])];
    // The product's bit length.
    let n = if p[3] != 0 {
        128 - p[3].leading_zeros()
    } else if p[2] != 0 {
        96 - p[2].leading_zeros()
    } else {
        64 - clz64([p[0], p[1]])
    };
    // Round to 53 significant bits, to nearest even: q × 2^s.
    let mut q: W = [p[0], p[1]];
    if n > 53 {
        let d = n - 53; // 1 ..= 55
        q = shr128_lo64(p, d);
        let half_bit = bit128(p, d - 1) == 1;
        let sticky = any_below128(p, d - 1);
        if half_bit && (sticky || (q[0] & 1) == 1) {
            q = add64(q, [1, 0]);
        }
        s += d as i32;
    }
    round_scaled(q, s, neg)
}

#[cfg(test)]
mod tests {
    use super::super::double_rescale::tests::multipliers;
    use super::super::double_rescale::RescaleMultiplier;
    use super::*;
    use crate::quant::fixedpoint::test_rng::SplitMix64;

    fn words(acc: i64) -> W {
        [acc as u32, ((acc as u64) >> 32) as u32]
    }

    fn check(acc: i64, m: f64) {
        let r = RescaleMultiplier::new(m).expect("finite multiplier");
        let want = (acc as f64 * m).round() as i32;
        let got = double_rescale64(words(acc), r.lo, r.hi, r.exponent);
        assert_eq!(got, want, "acc {acc} m {m:e} ({:#x})", m.to_bits());
    }

    /// Accumulator edges: the int32 ones, around 2^53 (where the conversion starts to
    /// round, ties included), and the int64 extremes.
    pub(crate) fn accs64() -> Vec<i64> {
        let mut v: Vec<i64> = super::super::double_rescale::tests::accs()
            .into_iter()
            .map(i64::from)
            .collect();
        for e in [31, 32, 33, 40, 47, 52, 53, 54, 55, 62] {
            let p = 1i64 << e;
            v.extend([p, p - 1, p + 1, p + 3, -p, -p + 1, -p - 1, -p - 3]);
        }
        v.extend([
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
            (1 << 54) + 2,
            (1 << 54) + 6,
        ]);
        v
    }

    #[test]
    fn int64_rescale_equals_native_f64_on_edges() {
        for &a in &accs64() {
            for &m in &multipliers() {
                check(a, m);
            }
        }
    }

    #[test]
    fn int64_rescale_equals_native_f64_on_random_pairs() {
        let mut rng = SplitMix64(0x16_08);
        for i in 0..400_000 {
            // Accumulators of every width, multipliers of the 16x8 range and beyond.
            let acc = (rng.next() as i64) >> (rng.next() % 64);
            let m = match i % 3 {
                0 => f64::from_bits(rng.next() >> 2) % 4.0,
                1 => {
                    (rng.next() >> 11) as f64 / (1u64 << 53) as f64
                        * 2f64.powi(-(rng.below(40) as i32))
                }
                _ => f64::from(rng.next() as u32) / f64::from(u32::MAX) * 1e-6,
            };
            if m.is_finite() && m >= 0.0 {
                check(acc, m);
            }
        }
    }

    /// Products landing on half-integers after the double multiply's rounding, built by
    /// the int32 test's generator, scaled so the accumulator needs more than 32 bits.
    #[test]
    fn int64_rescale_ties() {
        let mut rng = SplitMix64(0x7e6);
        for (a, m) in super::super::double_rescale::tests::double_rounding_ties(&mut rng, 20_000) {
            for k in [0, 8, 20] {
                check(i64::from(a) << k, m / f64::from(1u32 << k));
            }
        }
    }
}
