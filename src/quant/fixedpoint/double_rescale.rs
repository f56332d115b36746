//! `(f64::from(acc) * m).round() as i32` — the requantization of the `BUILTIN_REF` int8
//! FULLY_CONNECTED kernels (`static_cast<int32_t>(round(acc * (double)scale))`) — in `u32`
//! arithmetic: the line-for-line twin of `double_rescale` in `shaders/fully_connected.wgsl`.
//!
//! The multiplier `m` (a finite non-negative double, computed on the CPU at prepare as the
//! reference computes it) is split into its integer significand (53 bits) and exponent
//! ([`RescaleMultiplier`]). The device forms the exact product `|acc| × significand` (at most
//! 85 bits, three 32-bit words from 16-bit-limb multiplies), rounds it to 53 significant bits
//! to nearest even (the double multiply), rounds that half away from zero to an integer
//! (`round`) and saturates to `i32` (the cast; C++ leaves overflow undefined, Rust and this
//! saturate). A product below the smallest normal double rounds to 0 either way.
//!
//! The tests prove it equal to the native `f64` expression over accumulator edges (0, ±1,
//! `i32::MIN`, `i32::MAX`), ties, multipliers at and around powers of two, and millions of
//! random pairs, including pairs built so that the product lands next to a half-integer.

#![cfg_attr(not(test), allow(dead_code))]

use super::softfloat::{add64, clz64, lt64, mul32, shl64, shr64, W};

/// A finite non-negative double as `significand × 2^exponent`, `significand < 2^53`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RescaleMultiplier {
    /// The significand's low and high words.
    pub lo: u32,
    pub hi: u32,
    pub exponent: i32,
}

impl RescaleMultiplier {
    /// `None` for a negative, infinite or NaN multiplier.
    pub fn new(m: f64) -> Option<RescaleMultiplier> {
        if !m.is_finite() || m.is_sign_negative() && m != 0.0 {
            return None;
        }
        let bits = m.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (sig, exponent) = if e == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), e - 1075)
        };
        Some(RescaleMultiplier {
            lo: sig as u32,
            hi: (sig >> 32) as u32,
            exponent,
        })
    }

    /// The four words the shader reads per channel.
    pub fn words(&self) -> [u32; 4] {
        [self.lo, self.hi, self.exponent as u32, 0]
    }
}

/// `(f64::from(acc) * m).round() as i32` with `m` as [`RescaleMultiplier`] words.
pub(crate) fn double_rescale(acc: i32, m_lo: u32, m_hi: u32, exponent: i32) -> i32 {
    if acc == 0 || (m_lo | m_hi) == 0 {
        return 0;
    }
    let neg = acc < 0;
    let a = acc.unsigned_abs();
    // p = a × significand, 96 bits: [p0, p1, p2].
    let lo = mul32(a, m_lo);
    let hi = mul32(a, m_hi);
    let p0 = lo[0];
    let p1 = lo[1].wrapping_add(hi[0]);
    let p2 = hi[1].wrapping_add(u32::from(p1 < lo[1]));
    // The product's bit length.
    let n = if p2 != 0 {
        96 - p2.leading_zeros()
    } else {
        64 - clz64([p0, p1])
    };
    // Round to 53 significant bits, to nearest even: q × 2^s.
    let mut q: W = [p0, p1];
    let mut s = exponent;
    if n > 53 {
        let d = n - 53; // 1 ..= 32
        let rem;
        let half;
        if d == 32 {
            q = [p1, p2];
            rem = p0;
            half = 0x8000_0000u32;
        } else {
            q = [(p0 >> d) | (p1 << (32 - d)), (p1 >> d) | (p2 << (32 - d))];
            rem = p0 & ((1u32 << d) - 1);
            half = 1u32 << (d - 1);
        }
        if rem > half || (rem == half && (q[0] & 1) == 1) {
            q = add64(q, [1, 0]);
        }
        s += d as i32;
    }
    round_scaled(q, s, neg)
}

/// `round(±q × 2^s)` half away from zero, saturated to `i32`: the last step of
/// [`double_rescale`] and `double_rescale64`, `q < 2^54`.
pub(crate) fn round_scaled(q: W, s: i32, neg: bool) -> i32 {
    // round(q × 2^s), half away from zero, as a magnitude (saturating past 2^31).
    let sat = 0x8000_0000u32 | 1;
    let mag: u32;
    if s >= 0 {
        if s >= 31 || !lt64(q, shl64([1, 0], 31 - s as u32)) {
            mag = sat;
        } else {
            mag = q[0] << s as u32;
        }
    } else {
        let t = s.unsigned_abs();
        if t > 54 {
            mag = 0;
        } else {
            let r = shr64(add64(q, shl64([1, 0], t - 1)), t);
            mag = if r[1] != 0 || r[0] > 0x8000_0000 {
                sat
            } else {
                r[0]
            };
        }
    }
    if neg {
        if mag >= 0x8000_0000 {
            return i32::MIN;
        }
        return -(mag as i32);
    }
    if mag > 0x7fff_ffff {
        return i32::MAX;
    }
    mag as i32
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::quant::fixedpoint::test_rng::SplitMix64;

    fn check(acc: i32, m: f64) {
        let r = RescaleMultiplier::new(m).expect("finite multiplier");
        let want = (f64::from(acc) * m).round() as i32;
        let got = double_rescale(acc, r.lo, r.hi, r.exponent);
        assert_eq!(got, want, "acc {acc} m {m:e} ({:#x})", m.to_bits());
    }

    pub(crate) fn accs() -> Vec<i32> {
        let mut v = vec![
            0,
            1,
            -1,
            2,
            -2,
            3,
            127,
            -128,
            255,
            1 << 20,
            i32::MAX,
            i32::MIN,
        ];
        v.extend([
            i32::MAX - 1,
            i32::MIN + 1,
            1 << 30,
            -(1 << 30),
            46341,
            -46341,
        ]);
        v
    }

    pub(crate) fn multipliers() -> Vec<f64> {
        let mut v = vec![
            0.0,
            1.0,
            0.5,
            0.25,
            2.0,
            1.5,
            1e-300,
            5e-324,
            1e300,
            f64::MAX,
        ];
        for e in [-40, -31, -30, -20, -8, -1, 0, 1, 8, 20, 30, 31, 32] {
            let p = 2f64.powi(e);
            v.extend([
                p,
                p * (1.0 + f64::EPSILON),
                p * (1.0 - f64::EPSILON / 2.0),
                p * 1.5,
            ]);
            v.push(p * 3.0 / 7.0);
        }
        v.extend([0.003_921_568_627_450_98, 1.0 / 3.0, 2.0 / 3.0, 0.1, 0.7]);
        v
    }

    /// Pairs whose exact product rounds to 53 bits on a tie, and whose value after that
    /// rounding is a half-integer below 2^31: exactly where the double multiply's rounding
    /// decides `round`'s result. Built from `acc` odd of `d` bits and the significand
    /// `m' · 2^(d-1)` with `acc · m' ≡ -1 (mod 2^23)`, so that the 53-bit quotient `q` is odd
    /// and `q + 1` a multiple of 2^22.
    pub(crate) fn double_rounding_ties(rng: &mut SplitMix64, count: usize) -> Vec<(i32, f64)> {
        let mut v = Vec::new();
        while v.len() < count {
            let d = 2 + (rng.next() % 29) as u32;
            let a = ((rng.next() as u32) >> (32 - d)) | (1 << (d - 1)) | 1;
            // a^-1 mod 2^32 by Newton's iteration, then -a^-1 mod 2^23.
            let mut inv = a;
            for _ in 0..5 {
                inv = inv.wrapping_mul(2u32.wrapping_sub(a.wrapping_mul(inv)));
            }
            let base = u64::from(0u32.wrapping_sub(inv) & 0x7f_ffff);
            let bits = 54 - d;
            let (lo, hi) = (1u64 << (bits - 1), 1u64 << bits);
            let t_min = lo.saturating_sub(base).div_ceil(1 << 23);
            let t_max = (hi - 1 - base) >> 23;
            if t_max < t_min {
                continue;
            }
            let t = t_min + rng.next() % (t_max - t_min + 1);
            let mp = base + (t << 23);
            let p = u128::from(a) * u128::from(mp);
            if 128 - p.leading_zeros() != 54 {
                continue;
            }
            let j = p.div_ceil(2).trailing_zeros() as i32;
            let e = -j - 1 - d as i32;
            let m = (mp << (d - 1)) as f64 * 2f64.powi(e);
            let acc = if rng.next() & 1 == 0 {
                a as i32
            } else {
                -(a as i32)
            };
            v.push((acc, m));
        }
        v
    }

    #[test]
    fn double_rounding_ties_are_exact() {
        let mut rng = SplitMix64(0x7e5);
        let ties = double_rounding_ties(&mut rng, 20_000);
        // They are what they claim: the product rounded in double lands on a half-integer.
        let on_half = ties
            .iter()
            .filter(|(a, m)| (f64::from(*a) * m).fract().abs() == 0.5)
            .count();
        assert!(on_half > ties.len() / 3, "{on_half} of {}", ties.len());
        for (a, m) in ties {
            check(a, m);
        }
    }

    #[test]
    fn decomposition() {
        assert_eq!(RescaleMultiplier::new(-1.0), None);
        assert_eq!(RescaleMultiplier::new(f64::NAN), None);
        assert_eq!(RescaleMultiplier::new(f64::INFINITY), None);
        let r = RescaleMultiplier::new(1.0).unwrap();
        assert_eq!((r.lo, r.hi, r.exponent), (0, 1 << 20, -52));
        let r = RescaleMultiplier::new(-0.0).unwrap();
        assert_eq!((r.lo, r.hi), (0, 0));
    }

    #[test]
    fn edges() {
        for &m in &multipliers() {
            for &a in &accs() {
                check(a, m);
            }
        }
    }

    #[test]
    fn ties_and_powers_of_two() {
        // m = 2^-j: acc × m is a tie whenever acc's low j bits are 10…0.
        for j in 1..=31 {
            let m = 2f64.powi(-j);
            for k in -40i64..40 {
                let acc = (k << j) + (1i64 << (j - 1));
                if let Ok(acc) = i32::try_from(acc) {
                    check(acc, m);
                    check(acc.wrapping_sub(1), m);
                    check(acc.wrapping_add(1), m);
                }
            }
        }
        // Odd multiples: 3 × 2^-j.
        for j in 2..=30 {
            let m = 3.0 * 2f64.powi(-j);
            for acc in -5000..5000 {
                check(acc, m);
            }
        }
    }

    #[test]
    fn random_and_near_half_integers() {
        let mut rng = SplitMix64(0xdb1);
        for i in 0..3_000_000u32 {
            let acc = match i % 3 {
                0 => rng.next() as i32,
                1 => (rng.next() as i32) >> (rng.next() % 31),
                _ => (rng.next() % 2001) as i32 - 1000,
            };
            // Multipliers as the kernels build them: s_in × s_w / s_out.
            let e = (rng.next() % 60) as i32 - 45;
            let m = f64::from_bits((rng.next() >> 12) | (1023u64 << 52)) * 2f64.powi(e);
            check(acc, m);
        }
        // Products next to a half-integer: acc chosen so that acc × m ≈ t + 0.5.
        for _ in 0..500_000 {
            let m = f64::from_bits((rng.next() >> 12) | (1023u64 << 52))
                * 2f64.powi((rng.next() % 30) as i32 - 29);
            let t = (rng.next() % 200_000) as f64 - 100_000.0;
            let acc0 = ((t + 0.5) / m).round();
            if acc0.abs() < 2.0e9 {
                for d in -2..=2 {
                    check(acc0 as i32 + d, m);
                }
            }
        }
    }
}
