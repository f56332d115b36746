//! The integer primitives of TFLite's reference kernels (default build: double rounding),
//! written once for the CPU engine and in a form the WGSL kernels mirror line by line.
//!
//! WGSL has no 64-bit integers, so the 32×32→64 multiply of
//! `SaturatingRoundingDoublingHighMul` is done on 16-bit limbs in `u32` arithmetic
//! ([`srdhm`]). The tests prove it equal to the 64-bit formula ([`srdhm_i64`]) over edge
//! and random values; the GPU kernels use the limb form, the CPU `multiply_by_quantized_multiplier`
//! the 64-bit one (the same values).
//!
//! Facts (TFLite `kernels/internal/common.h`, `quantization_util.cc`, gemmlowp
//! `fixedpoint.h`):
//! - `SaturatingRoundingDoublingHighMul(a, b)`: `a == b == INT32_MIN` saturates to
//!   `INT32_MAX`; otherwise `(a*b + nudge) / 2^31` in 64 bits, division truncating toward
//!   zero, `nudge = a*b >= 0 ? 2^30 : 1 - 2^30`.
//! - `RoundingDivideByPOT(x, e)`: `(x >> e) + (remainder > threshold)`, with
//!   `mask = 2^e - 1`, `remainder = x & mask`, `threshold = (mask >> 1) + (x < 0)`.
//! - `MultiplyByQuantizedMultiplier(x, m, shift)`:
//!   `RDBPOT(SRDHM(x * 2^max(shift,0), m), max(-shift,0))`.
//! - `QuantizeMultiplier(d)`: `frexp` into `q ∈ [0.5, 1)` and `shift`;
//!   `q_fixed = round(q * 2^31)` (half away from zero); `q_fixed == 2^31` halves it and
//!   bumps `shift`; `shift < -31` flushes to `(0, 0)`.

/// A real multiplier as TFLite encodes it: `real ≈ multiplier / 2^31 * 2^shift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QuantizedMultiplier {
    /// Q31 fixed point in `[2^30, 2^31)`, or 0.
    pub multiplier: i32,
    /// Power-of-two exponent; positive shifts left.
    pub shift: i32,
}

/// `frexp`: `x = m * 2^e` with `|m| ∈ [0.5, 1)`; `(0, 0)` for zero, `(x, 0)` for non-finite.
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(x * f64::from_bits(0x4350_0000_0000_0000)); // 2^54
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

/// `QuantizeMultiplier`: encode a non-negative real multiplier.
pub fn quantize_multiplier(real: f64) -> QuantizedMultiplier {
    if real == 0.0 {
        return QuantizedMultiplier::default();
    }
    let (q, mut shift) = frexp(real);
    // std::round: half away from zero, which f64::round is.
    let mut q_fixed = (q * (1u64 << 31) as f64).round() as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    QuantizedMultiplier {
        multiplier: q_fixed as i32,
        shift,
    }
}

/// The 64-bit definition of `SaturatingRoundingDoublingHighMul` (the normative formula the
/// limb form is tested against; not used by the kernels).
#[inline]
pub fn srdhm_i64(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge = if ab >= 0 {
        1i64 << 30
    } else {
        1 - (1i64 << 30)
    };
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `SaturatingRoundingDoublingHighMul` in 32-bit arithmetic (the form WGSL mirrors).
///
/// With `s` the sign of `a*b` and `P = |a|*|b|` (< 2^62, held as `hi:lo`), the 64-bit
/// formula equals `s * ((P + r) >> 31)` where `r = 2^30` for `s >= 0` and `2^30 - 1` for
/// `s < 0` (truncating division of a negative number rounds its magnitude down).
pub fn srdhm(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let negative = (a < 0) != (b < 0);
    let ua = a.unsigned_abs();
    let ub = b.unsigned_abs();
    // 32×32→64 on 16-bit limbs.
    let (a_lo, a_hi) = (ua & 0xffff, ua >> 16);
    let (b_lo, b_hi) = (ub & 0xffff, ub >> 16);
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    // mid = lh + hl may carry into bit 32.
    let mid = lh.wrapping_add(hl);
    let mid_carry = if mid < lh { 1u32 << 16 } else { 0 };
    let mut lo = ll.wrapping_add(mid << 16);
    let mut hi = hh + (mid >> 16) + mid_carry + if lo < ll { 1 } else { 0 };
    // Add the rounding term (zero product: sign is irrelevant, result 0 either way).
    let r = if negative && (ua != 0 && ub != 0) {
        (1u32 << 30) - 1
    } else {
        1u32 << 30
    };
    let lo2 = lo.wrapping_add(r);
    if lo2 < lo {
        hi += 1;
    }
    lo = lo2;
    // (hi:lo) >> 31 fits in 32 bits: P + r < 2^62 + 2^30.
    let mag = (hi << 1) | (lo >> 31);
    if negative {
        (mag as i32).wrapping_neg()
    } else {
        mag as i32
    }
}

/// `RoundingDivideByPOT`: `x / 2^exponent` rounded half away from zero; `exponent ∈ [0, 31]`.
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((0..=31).contains(&exponent));
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + if x < 0 { 1 } else { 0 };
    (x >> exponent) + if remainder > threshold { 1 } else { 0 }
}

/// `MultiplyByQuantizedMultiplier` (double rounding, TFLite's default build). On the CPU
/// with the 64-bit `SaturatingRoundingDoublingHighMul` ([`srdhm_i64`], which [`srdhm`]'s
/// 32-bit form equals and is tested against): the same values, faster.
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, m: QuantizedMultiplier) -> i32 {
    let left = if m.shift > 0 { m.shift } else { 0 };
    let right = if m.shift > 0 { 0 } else { -m.shift };
    rounding_divide_by_pot(
        srdhm_i64(x.wrapping_mul(1i32.wrapping_shl(left as u32)), m.multiplier),
        right,
    )
}

/// The 16-bit-multiplier form of a [`QuantizedMultiplier`] that TFLite's int64
/// `MultiplyByQuantizedMultiplier` uses (`kernels/internal/common.cc`, double-rounding
/// build): the Q31 multiplier reduced to 16 bits with rounding
/// (`M < 0x7FFF0000 ? (M + 2^15) >> 16 : 0x7FFF`) and the total right shift `15 − shift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReducedMultiplier {
    /// The multiplier in Q15, in `[0, 0x7FFF]`.
    pub multiplier: i32,
    /// `15 − shift`, in `[1, 63]`.
    pub total_shift: u32,
}

impl ReducedMultiplier {
    /// `None` where TFLite's arithmetic is undefined: a negative multiplier, or a shift
    /// with `15 − shift` outside `[1, 63]` (the kernel DCHECKs `shift ∈ [−31, 7]`; shifts
    /// below −31 never occur, `QuantizeMultiplier` flushes them to 0).
    pub fn new(m: QuantizedMultiplier) -> Option<ReducedMultiplier> {
        let total_shift = 15i64 - i64::from(m.shift);
        if m.multiplier < 0 || !(1..=63).contains(&total_shift) {
            return None;
        }
        let multiplier = if m.multiplier < 0x7FFF_0000 {
            (m.multiplier + (1 << 15)) >> 16
        } else {
            0x7FFF
        };
        Some(ReducedMultiplier {
            multiplier,
            total_shift: total_shift as u32,
        })
    }
}

/// TFLite's int64 `MultiplyByQuantizedMultiplier` (`kernels/internal/common.cc`):
/// `(x · rm + 2^(ts − 1)) >> ts` with one rounding (half up), truncated to int32, in
/// wrapping 64-bit arithmetic as the C++ compiles.
#[inline]
pub fn multiply_by_quantized_multiplier_i64(x: i64, m: ReducedMultiplier) -> i32 {
    let round = 1i64 << (m.total_shift - 1);
    (x.wrapping_mul(i64::from(m.multiplier)).wrapping_add(round) >> m.total_shift) as i32
}

/// `AffineQuantize` (QUANTIZE float→int, `reference/quantize.h`) for one element, before
/// the clamp: `round_half_away(x / scale) + zero_point`, the division in float32, the zero
/// point added in double (so nothing overflows; NaN stays NaN). The QUANTIZE kernel clamps
/// this to the output type; the quantization report counts the values it would clamp.
#[inline]
pub fn affine_quantize_unclamped(x: f32, scale: f32, zero_point: i32) -> f64 {
    (x / scale).round() as f64 + zero_point as f64
}

// Exact f32 division in integer arithmetic (QUANTIZE on the GPU).
pub mod softdiv;

// gemmlowp's fixed-point math and the 16-bit primitives (SOFTMAX, HARD_SWISH).
pub(crate) mod double_rescale;
pub(crate) mod double_rescale64;
mod gemmlowp;
pub(crate) mod softfloat;
pub use gemmlowp::*;

/// A seeded random source for the numeric tests.
#[cfg(test)]
pub(crate) mod test_rng;

#[cfg(test)]
mod tests {
    use super::test_rng::SplitMix64 as Rng;
    use super::*;

    /// The int64 MBQM against its definition in 128-bit arithmetic: `round_half_up(x ·
    /// rm / 2^(15 − shift))` with `rm` the rounded 16-bit multiplier.
    #[test]
    fn mbqm_i64_is_the_reduced_multiplier_product_rounded_half_up() {
        let mut rng = Rng(7);
        for _ in 0..200_000 {
            let real = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 4.0 + 1e-9;
            let m = quantize_multiplier(real * (2.0f64).powi(-(rng.below(30) as i32)));
            let Some(r) = ReducedMultiplier::new(m) else {
                continue;
            };
            let x = (rng.next() as i64) >> (16 + rng.below(40));
            let rm = if m.multiplier < 0x7FFF_0000 {
                (i128::from(m.multiplier) + (1 << 15)) >> 16
            } else {
                0x7FFF
            };
            let ts = 15 - m.shift;
            let want = (i128::from(x) * rm + (1i128 << (ts - 1))) >> ts;
            assert_eq!(
                i128::from(multiply_by_quantized_multiplier_i64(x, r)),
                want as i32 as i128,
                "{x} {m:?}"
            );
        }
        // Shifts whose total right shift leaves [1, 63] are refused.
        assert!(ReducedMultiplier::new(QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: 15
        })
        .is_none());
        assert!(ReducedMultiplier::new(QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: 14
        })
        .is_some());
        // Multipliers at or above 0x7FFF0000 saturate to 0x7FFF.
        let r = ReducedMultiplier::new(QuantizedMultiplier {
            multiplier: i32::MAX,
            shift: 0,
        })
        .unwrap();
        assert_eq!(r.multiplier, 0x7FFF);
    }

    const EDGES: [i32; 16] = [
        i32::MIN,
        i32::MIN + 1,
        -(1 << 30) - 1,
        -(1 << 30),
        -65537,
        -65536,
        -65535,
        -2,
        -1,
        0,
        1,
        2,
        65535,
        65536,
        1 << 30,
        i32::MAX,
    ];

    trait RandomI32 {
        fn i32(&mut self) -> i32;
    }

    impl RandomI32 for Rng {
        fn i32(&mut self) -> i32 {
            // Mix uniform values with values near the edges and near multipliers ~2^31.
            match self.next() % 4 {
                0 => self.next() as i32,
                1 => EDGES[(self.next() % 16) as usize].wrapping_add((self.next() % 7) as i32 - 3),
                2 => i32::MAX - (self.next() % (1 << 20)) as i32,
                _ => ((self.next() % (1 << 16)) as i32) - (1 << 15),
            }
        }
    }

    #[test]
    fn srdhm_limbs_equal_the_64_bit_formula_on_edges() {
        for &a in &EDGES {
            for &b in &EDGES {
                assert_eq!(srdhm(a, b), srdhm_i64(a, b), "a={a} b={b}");
            }
        }
        assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
    }

    #[test]
    fn srdhm_limbs_equal_the_64_bit_formula_on_random_values() {
        let mut rng = Rng(42);
        for _ in 0..2_000_000 {
            let (a, b) = (rng.i32(), rng.i32());
            assert_eq!(srdhm(a, b), srdhm_i64(a, b), "a={a} b={b}");
        }
    }

    /// RoundingDivideByPOT against its definition on exact rationals: round half away from 0.
    #[test]
    fn rounding_divide_by_pot_rounds_half_away_from_zero() {
        let mut rng = Rng(7);
        let check = |x: i32, e: i32| {
            let d = (x as i64 as f64) / (1u64 << e) as f64;
            // f64 holds x / 2^e exactly; round() is half away from zero.
            assert_eq!(
                rounding_divide_by_pot(x, e) as f64,
                d.round(),
                "x={x} e={e}"
            );
        };
        for e in 0..=31 {
            for &x in &EDGES {
                check(x, e);
            }
            for _ in 0..20_000 {
                check(rng.i32(), e);
            }
        }
    }

    /// MultiplyByQuantizedMultiplier against the same steps done in 64-bit arithmetic.
    #[test]
    fn mbqm_matches_64_bit_reference_over_all_shifts() {
        fn reference(x: i32, m: i32, shift: i32) -> i32 {
            let left = shift.max(0);
            let right = (-shift).max(0);
            let xs = (x as i64) << left;
            let xs = xs as i32; // the kernels wrap like C++ does on 2's complement
            let h = srdhm_i64(xs, m) as i64;
            let mask = (1i64 << right) - 1;
            let rem = h & mask;
            let thr = (mask >> 1) + if h < 0 { 1 } else { 0 };
            ((h >> right) + if rem > thr { 1 } else { 0 }) as i32
        }
        let mut rng = Rng(99);
        for shift in -31..=30 {
            for &x in &EDGES {
                for m in [0, 1 << 30, (1 << 30) + 1, i32::MAX, i32::MAX - 1] {
                    assert_eq!(
                        multiply_by_quantized_multiplier(
                            x,
                            QuantizedMultiplier {
                                multiplier: m,
                                shift
                            }
                        ),
                        reference(x, m, shift),
                        "x={x} m={m} shift={shift}"
                    );
                }
            }
            for _ in 0..20_000 {
                let x = rng.i32();
                let m = (1 << 30) + (rng.next() % (1 << 30)) as i32;
                let qm = QuantizedMultiplier {
                    multiplier: m,
                    shift,
                };
                assert_eq!(
                    multiply_by_quantized_multiplier(x, qm),
                    reference(x, m, shift)
                );
            }
        }
    }

    #[test]
    fn frexp_matches_definition() {
        for x in [
            1.0,
            0.5,
            0.75,
            3.0,
            1e-300,
            5e-324,
            1.7e308,
            0.1,
            2.0f64.powi(-40),
        ] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m), "{x}: {m}");
            assert_eq!(m * 2f64.powi(e + 100), x * 2f64.powi(100));
        }
        assert_eq!(frexp(0.0), (0.0, 0));
    }

    #[test]
    fn quantize_multiplier_edges() {
        assert_eq!(
            quantize_multiplier(0.0),
            QuantizedMultiplier {
                multiplier: 0,
                shift: 0
            }
        );
        assert_eq!(
            quantize_multiplier(0.5),
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: 0
            }
        );
        assert_eq!(
            quantize_multiplier(1.0),
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: 1
            }
        );
        // Rounds up to 2^31: halved with the shift bumped.
        let just_below_one = 1.0 - 2f64.powi(-40);
        assert_eq!(
            quantize_multiplier(just_below_one),
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: 1
            }
        );
        // Tiny multipliers flush to zero.
        assert_eq!(
            quantize_multiplier(2f64.powi(-40)),
            QuantizedMultiplier::default()
        );
        // A typical conv multiplier.
        let m = quantize_multiplier(0.0009765625 * 3.0);
        assert_eq!(
            m,
            QuantizedMultiplier {
                multiplier: 3 << 29,
                shift: -8
            }
        );
        // Its value reconstructs the real multiplier within Q31 precision.
        for real in [1e-6, 0.0123, 0.3, 0.999, 1.5, 123.456] {
            let q = quantize_multiplier(real);
            let back = q.multiplier as f64 / 2f64.powi(31) * 2f64.powi(q.shift);
            assert!(((back - real) / real).abs() < 1e-9, "{real} -> {q:?}");
        }
    }
}
