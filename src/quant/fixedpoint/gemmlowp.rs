//! gemmlowp's fixed-point math (`fixedpoint.h`: exp on negative values, 1/(1+x),
//! RoundingHalfSum, the compile-time power-of-two rescales written with a run-time
//! exponent), TFLite's `GetReciprocal` and `CalculateInputRadius`
//! (`kernels/internal/common.h`, `quantization_util.cc`), and the 16-bit primitives of the
//! reference HARD_SWISH (`reference/hard_swish.h`), used by SOFTMAX and HARD_SWISH. All in
//! 32-bit arithmetic (the only 32×32 product is `srdhm`'s limb form), so the WGSL port can
//! mirror them; the tests below check them against 64-bit and real-number definitions.

use super::{rounding_divide_by_pot, srdhm};

/// `MultiplyByQuantizedMultiplierGreaterThanOne` (default build):
/// `SRDHM(x * 2^left_shift, multiplier)`, the product wrapping like C++'s `int` arithmetic.
/// `left_shift ∈ [0, 31]`.
pub fn multiply_by_quantized_multiplier_greater_than_one(
    x: i32,
    multiplier: i32,
    left_shift: i32,
) -> i32 {
    debug_assert!((0..=31).contains(&left_shift));
    srdhm(
        x.wrapping_mul(1i32.wrapping_shl(left_shift as u32)),
        multiplier,
    )
}

/// gemmlowp `SaturatingRoundingMultiplyByPOT<exponent>` on an `int32` raw value:
/// `exponent > 0` shifts left saturating to `[INT32_MIN, INT32_MAX]`, `exponent < 0` is
/// `RoundingDivideByPOT(x, -exponent)`, 0 is the identity. `exponent ∈ [-31, 31]`.
/// (`Rescale<dst>` of a `FixedPoint<int32, src>` is this with `exponent = src - dst`.)
pub fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((-31..=31).contains(&exponent));
    if exponent == 0 {
        x
    } else if exponent < 0 {
        rounding_divide_by_pot(x, -exponent)
    } else {
        let threshold = (1i32 << (31 - exponent)) - 1;
        if x > threshold {
            i32::MAX
        } else if x < -threshold {
            i32::MIN
        } else {
            x.wrapping_mul(1i32.wrapping_shl(exponent as u32))
        }
    }
}

/// gemmlowp `RoundingHalfSum` on `int32`: `(a + b) / 2` rounded half away from zero
/// (the C++ form sums in 64 bits: `(sum + sign(sum)) / 2`, truncating).
///
/// In 32 bits: `a + b = 2h + r` with `h = floor((a + b) / 2)` (which fits) and `r ∈ {0, 1}`;
/// an odd sum rounds up exactly when it is positive, i.e. when `h >= 0`.
pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let low = (a & 1) + (b & 1);
    let h = (a >> 1) + (b >> 1) + (low >> 1);
    let r = low & 1;
    h + if r == 1 && h >= 0 { 1 } else { 0 }
}

/// gemmlowp `exp_on_interval_between_negative_one_quarter_and_0_excl` on Q0.31:
/// a Taylor expansion of `exp` around −1/8.
pub fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    /// `exp(-1/8)` in Q0.31.
    const CONSTANT_TERM: i32 = 1_895_147_668;
    /// `1/3` in Q0.31.
    const ONE_THIRD: i32 = 715_827_883;
    // x = a + 1/8 (1/8 is 1 << 28 in Q0.31).
    let x = a.wrapping_add(1 << 28);
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
    let x4_over_24_plus_x3_over_6_plus_x2_over_2 = saturating_rounding_multiply_by_pot(
        srdhm(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        -1,
    );
    CONSTANT_TERM.wrapping_add(srdhm(
        CONSTANT_TERM,
        x.wrapping_add(x4_over_24_plus_x3_over_6_plus_x2_over_2),
    ))
}

/// gemmlowp `exp_on_negative_values`: `exp(a)` for `a <= 0` given as a
/// `FixedPoint<int32, integer_bits>` raw value; the result is Q0.31 (`exp(0)` is
/// `INT32_MAX`). `integer_bits ∈ [0, 29]` (the C++ template parameter).
pub fn exp_on_negative_values(a: i32, integer_bits: i32) -> i32 {
    debug_assert!((0..=29).contains(&integer_bits));
    let fractional_bits = 31 - integer_bits;
    let one_quarter = 1i32 << (fractional_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    // Rescale<0> from `integer_bits`.
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_one_quarter, integer_bits),
    );
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    // The barrel shifter: (exponent, exp(-2^exponent) in Q0.31).
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    for (exponent, multiplier) in BARREL {
        if integer_bits > exponent {
            let shift = fractional_bits + exponent;
            if remainder & (1i32 << shift) != 0 {
                result = srdhm(result, multiplier);
            }
        }
    }
    if integer_bits > 5 {
        // Inputs below -32 give 0.
        let clamp = -(1i32 << (36 - integer_bits));
        if a < clamp {
            result = 0;
        }
    }
    if a == 0 {
        result = i32::MAX;
    }
    result
}

/// gemmlowp `one_over_one_plus_x_for_x_in_0_1` on Q0.31: `1 / (1 + a)` by three
/// Newton-Raphson steps (48/17 − 32/17·d start), result Q0.31.
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    /// 48/17 in Q2.29.
    const CONSTANT_48_OVER_17: i32 = 1_515_870_810;
    /// −32/17 in Q2.29.
    const CONSTANT_NEG_32_OVER_17: i32 = -1_010_580_540;
    /// 1 in Q2.29.
    const F2_ONE: i32 = 1 << 29;
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let mut x = CONSTANT_48_OVER_17.wrapping_add(srdhm(half_denominator, CONSTANT_NEG_32_OVER_17));
    for _ in 0..3 {
        let half_denominator_times_x = srdhm(half_denominator, x);
        let one_minus_half_denominator_times_x = F2_ONE.wrapping_sub(half_denominator_times_x);
        // Q2 * Q2 = Q4, rescaled to Q2.
        x = x.wrapping_add(saturating_rounding_multiply_by_pot(
            srdhm(x, one_minus_half_denominator_times_x),
            2,
        ));
    }
    // x / 2 as Q1 (exact), rescaled to Q0.
    saturating_rounding_multiply_by_pot(x, 1)
}

/// TFLite `GetReciprocal`: for `x` a `FixedPoint<int32, x_integer_digits>` raw value,
/// returns `(1/x` scaled into Q0.31 as `1 / (x * 2^-num_bits_over_unit)`,
/// `num_bits_over_unit)`.
pub fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros() as i32;
    let num_bits_over_unit = x_integer_digits - headroom_plus_one;
    // A shift by 32 (x == 0, never in practice) behaves as x86 does: by 0.
    let shifted_sum_minus_one =
        ((x as u32).wrapping_shl(headroom_plus_one as u32)).wrapping_sub(1u32 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

/// TFLite `CalculateInputRadius` (float build): the largest input difference that,
/// rescaled by `2^input_left_shift`, stays below the `input_integer_bits` range of a
/// `total_signed_bits` fixed-point number; `floor` in double precision.
pub fn calculate_input_radius(
    input_integer_bits: i32,
    input_left_shift: i32,
    total_signed_bits: i32,
) -> i32 {
    let max_input_rescaled = 1.0
        * ((1i64 << input_integer_bits) - 1) as f64
        * (1i64 << (total_signed_bits - input_integer_bits)) as f64
        / (1i64 << input_left_shift) as f64;
    max_input_rescaled.floor() as i32
}

/// gemmlowp `SaturatingRoundingDoublingHighMul` on `int16`.
pub fn srdhm_i16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    let ab = a as i32 * b as i32;
    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    ((ab + nudge) / (1 << 15)) as i16
}

/// TFLite `SaturatingDoublingHighMul` (`reference/hard_swish.h`): like [`srdhm_i16`] but
/// truncating toward zero instead of rounding (ARM `SQDMULH`).
pub fn saturating_doubling_high_mul_i16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    ((a as i32 * b as i32) / (1 << 15)) as i16
}

/// gemmlowp `RoundingDivideByPOT` on `int16`, with the C++ template's exact `int16`
/// semantics (the mask `2^exponent - 1` truncated to 16 bits). `exponent ∈ [0, 31]`.
pub fn rounding_divide_by_pot_i16(x: i16, exponent: i32) -> i16 {
    debug_assert!((0..=31).contains(&exponent));
    let mask = ((1i64 << exponent) - 1) as i16;
    let remainder = x & mask;
    let threshold = ((mask >> 1) as i32 + i32::from(x < 0)) as i16;
    let shifted = ((x as i32) >> exponent) as i16;
    (shifted as i32 + i32::from(remainder > threshold)) as i16
}

/// TFLite `SaturatingLeftShift` (`reference/hard_swish.h`): `value * 2^amount` saturated
/// to `int16`. `amount ∈ [0, 30]`.
pub fn saturating_left_shift_i16(value: i16, amount: i32) -> i16 {
    debug_assert!((0..=30).contains(&amount));
    let result = (value as i32 as i64) * (1i64 << amount);
    result.clamp(i16::MIN as i64, i16::MAX as i64) as i16
}

/// TFLite `DownScaleInt32ToInt16Multiplier`: a Q31 multiplier rounded to Q15.
pub fn downscale_int32_to_int16_multiplier(multiplier: i32) -> i16 {
    const ROUNDING_OFFSET: i32 = 1 << 15;
    if multiplier >= i32::MAX - ROUNDING_OFFSET {
        return i16::MAX;
    }
    ((multiplier + ROUNDING_OFFSET) >> 16) as i16
}

#[cfg(test)]
mod tests {
    use super::super::test_rng::SplitMix64 as Rng;
    use super::*;

    trait RandomI32 {
        /// Uniform values, values near the edges, and small values.
        fn i32(&mut self) -> i32;
    }

    impl RandomI32 for Rng {
        fn i32(&mut self) -> i32 {
            match self.next() % 3 {
                0 => self.next() as i32,
                1 => [i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX - 1, i32::MAX]
                    [(self.next() % 7) as usize]
                    .wrapping_add((self.next() % 5) as i32 - 2),
                _ => (self.next() % 65536) as i32 - 32768,
            }
        }
    }

    #[test]
    fn rounding_half_sum_matches_the_64_bit_form() {
        fn reference(a: i32, b: i32) -> i32 {
            let sum = a as i64 + b as i64;
            let sign = if sum >= 0 { 1 } else { -1 };
            ((sum + sign) / 2) as i32
        }
        let edges = [
            i32::MIN,
            i32::MIN + 1,
            -3,
            -2,
            -1,
            0,
            1,
            2,
            3,
            i32::MAX - 1,
            i32::MAX,
        ];
        for &a in &edges {
            for &b in &edges {
                assert_eq!(rounding_half_sum(a, b), reference(a, b), "a={a} b={b}");
            }
        }
        let mut rng = Rng(5);
        for _ in 0..1_000_000 {
            let (a, b) = (rng.i32(), rng.i32());
            assert_eq!(rounding_half_sum(a, b), reference(a, b), "a={a} b={b}");
        }
    }

    #[test]
    fn saturating_rounding_multiply_by_pot_matches_its_definition() {
        let mut rng = Rng(11);
        for exponent in -31..=31 {
            for _ in 0..20_000 {
                let x = rng.i32();
                let got = saturating_rounding_multiply_by_pot(x, exponent);
                let want = if exponent >= 0 {
                    ((x as i64) << exponent).clamp(i32::MIN as i64, i32::MAX as i64) as i32
                } else {
                    // Exact rational, rounded half away from zero.
                    ((x as f64) / 2f64.powi(-exponent)).round() as i32
                };
                assert_eq!(got, want, "x={x} exponent={exponent}");
            }
        }
    }

    #[test]
    fn greater_than_one_multiplier_is_srdhm_of_the_shifted_input() {
        assert_eq!(
            multiply_by_quantized_multiplier_greater_than_one(-3, 1 << 30, 4),
            srdhm(-48, 1 << 30)
        );
        // The shift wraps like C++ int arithmetic.
        assert_eq!(
            multiply_by_quantized_multiplier_greater_than_one(1 << 19, i32::MAX, 12),
            srdhm(i32::MIN, i32::MAX)
        );
    }

    #[test]
    fn exp_on_negative_values_approximates_exp() {
        for integer_bits in [0, 1, 4, 5, 6, 12] {
            let frac = 31 - integer_bits;
            assert_eq!(exp_on_negative_values(0, integer_bits), i32::MAX);
            let mut rng = Rng(17 + integer_bits as u64);
            for _ in 0..50_000 {
                let a = -((rng.next() % (1u64 << 31)) as i64) as i32;
                let x = a as f64 / 2f64.powi(frac);
                let got = exp_on_negative_values(a, integer_bits) as f64 / 2f64.powi(31);
                let want = if x < -32.0 && integer_bits > 5 {
                    0.0
                } else {
                    x.exp()
                };
                // The 4th-order Taylor step alone is off by up to (1/8)^5/5! ≈ 2.5e-7.
                assert!(
                    (got - want).abs() < 5e-7,
                    "bits={integer_bits} a={a}: {got} vs {want}"
                );
            }
        }
        // Values below -32 flush to zero when they are representable.
        assert_eq!(exp_on_negative_values(-(33 << 25), 6), 0); // -33 in Q6.25
    }

    #[test]
    fn exp_known_raw_values() {
        // exp(-1) and exp(-1/4) in Q5.26 -> Q0.31 (gemmlowp's constants are exp(-2^k)).
        // Within the Taylor step's 2.5e-7 (≈ 540 Q0.31 steps).
        let e1 = exp_on_negative_values(-(1 << 26), 5);
        assert!((e1 - 790_015_084).abs() <= 540, "{e1}");
        let eq = exp_on_negative_values(-(1 << 24), 5);
        assert!((eq - 1_672_461_947).abs() <= 540, "{eq}");
    }

    #[test]
    fn one_over_one_plus_x_approximates_the_reciprocal() {
        let mut rng = Rng(23);
        for _ in 0..200_000 {
            let a = (rng.next() % (1u64 << 31)) as i32;
            let x = a as f64 / 2f64.powi(31);
            let got = one_over_one_plus_x_for_x_in_0_1(a) as f64 / 2f64.powi(31);
            assert!((got - 1.0 / (1.0 + x)).abs() < 1e-8, "a={a}: {got}");
        }
    }

    #[test]
    fn reciprocal_of_a_q12_sum() {
        for &v in &[1.0f64, 1.25, 1.5, 2.0, 3.7, 10.0, 255.9, 1000.0, 4095.0] {
            let raw = (v * 2f64.powi(19)).round() as i32;
            let v = raw as f64 / 2f64.powi(19);
            let (r, bits) = get_reciprocal(raw, 12);
            let got = r as f64 / 2f64.powi(31) / 2f64.powi(bits);
            assert!(((got - 1.0 / v) * v).abs() < 1e-8, "{v}: {got} bits {bits}");
        }
        // x = 1.25 (Q12.19): shifted scale 0.8, no further adjustment.
        let (r, bits) = get_reciprocal(5 << 17, 12);
        assert_eq!(bits, 0);
        assert!((r as f64 / 2f64.powi(31) - 0.8).abs() < 1e-8);
        // x = 5: 1/5 = 0.8 * 2^-2.
        let (r, bits) = get_reciprocal(5 << 19, 12);
        assert_eq!(bits, 2);
        assert!((r as f64 / 2f64.powi(31) - 0.8).abs() < 1e-8);
    }

    #[test]
    fn input_radius() {
        assert_eq!(calculate_input_radius(5, 0, 31), 31 << 26);
        assert_eq!(calculate_input_radius(5, 20, 31), 31 * 64);
        assert_eq!(calculate_input_radius(5, 27, 31), 15); // floor(15.5)
        assert_eq!(calculate_input_radius(4, 5, 15), 960); // 15 * 2^11 / 32
    }

    #[test]
    fn sixteen_bit_primitives() {
        // Exhaustive over one operand, a spread of the other.
        for a in i16::MIN..=i16::MAX {
            for b in [i16::MIN, -32767, -12345, -1, 0, 1, 3, 16384, 32767] {
                let ab = a as i64 * b as i64;
                let want_r = if a == i16::MIN && b == i16::MIN {
                    i16::MAX
                } else {
                    // (ab + nudge) / 2^15, truncating.
                    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
                    ((ab + nudge) / (1 << 15)) as i16
                };
                assert_eq!(srdhm_i16(a, b), want_r, "a={a} b={b}");
                let want_t = if a == i16::MIN && b == i16::MIN {
                    i16::MAX
                } else {
                    (ab / (1 << 15)) as i16
                };
                assert_eq!(saturating_doubling_high_mul_i16(a, b), want_t);
            }
            for e in 0..=15 {
                let want = (a as f64 / 2f64.powi(e)).round() as i16;
                assert_eq!(rounding_divide_by_pot_i16(a, e), want, "a={a} e={e}");
            }
            for amount in 0..=30 {
                let want = ((a as i64) << amount).clamp(-32768, 32767) as i16;
                assert_eq!(saturating_left_shift_i16(a, amount), want);
            }
        }
        // Exponents past 15: the mask truncates to -1, as the C++ template computes.
        assert_eq!(rounding_divide_by_pot_i16(5, 16), 1);
        assert_eq!(rounding_divide_by_pot_i16(-5, 16), -1);
        assert_eq!(rounding_divide_by_pot_i16(0, 20), 1);
    }

    #[test]
    fn int16_multiplier_downscale() {
        assert_eq!(downscale_int32_to_int16_multiplier(1 << 30), 1 << 14);
        assert_eq!(
            downscale_int32_to_int16_multiplier((1 << 30) + (1 << 15)),
            (1 << 14) + 1
        );
        assert_eq!(
            downscale_int32_to_int16_multiplier((1 << 30) + (1 << 15) - 1),
            1 << 14
        );
        assert_eq!(downscale_int32_to_int16_multiplier(i32::MAX), i16::MAX);
        assert_eq!(
            downscale_int32_to_int16_multiplier(i32::MAX - (1 << 15) - 1),
            i16::MAX
        );
    }
}
