// gemmlowp's fixed-point functions on int32 (`fixedpoint.h`) and TFLite's GetReciprocal: the
// line-for-line twin of the 32-bit functions of `src/quant/fixedpoint/gemmlowp.rs` (which
// proves them against 64-bit and real-number definitions). i32 arithmetic wraps, as the Rust
// twin's wrapping_* operations. A GPU test (tests/gpu_ops.rs) runs these functions over edge
// and random values and compares with the Rust functions bit for bit.

#import fixedpoint

// MultiplyByQuantizedMultiplierGreaterThanOne (default build): SRDHM(x * 2^left_shift, m),
// the product wrapping. left_shift in [0, 31].
fn multiply_by_quantized_multiplier_greater_than_one(x: i32, multiplier: i32, left_shift: i32) -> i32 {
    return srdhm(x * (1 << (u32(left_shift) & 31u)), multiplier);
}

// SaturatingRoundingMultiplyByPOT<exponent> with a run-time exponent in [-31, 31].
fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    if (exponent == 0) {
        return x;
    } else if (exponent < 0) {
        return rounding_divide_by_pot(x, -exponent);
    }
    let threshold = (1 << u32(31 - exponent)) - 1;
    if (x > threshold) {
        return 2147483647;
    } else if (x < -threshold) {
        return i32(-2147483647 - 1);
    }
    return x * (1 << u32(exponent));
}

// RoundingHalfSum: (a + b) / 2 rounded half away from zero, in 32 bits.
fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let low = (a & 1) + (b & 1);
    let h = (a >> 1u) + (b >> 1u) + (low >> 1u);
    let r = low & 1;
    return h + select(0, 1, r == 1 && h >= 0);
}

// exp on [-1/4, 0) in Q0.31: Taylor expansion around -1/8.
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    // exp(-1/8) in Q0.31.
    let CONSTANT_TERM = 1895147668;
    // 1/3 in Q0.31.
    let ONE_THIRD = 715827883;
    // x = a + 1/8 (1 << 28 in Q0.31).
    let x = a + (1 << 28u);
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
    let x4_over_24_plus_x3_over_6_plus_x2_over_2 = saturating_rounding_multiply_by_pot(
        srdhm(x4_over_4 + x3, ONE_THIRD) + x2,
        -1,
    );
    return CONSTANT_TERM + srdhm(CONSTANT_TERM, x + x4_over_24_plus_x3_over_6_plus_x2_over_2);
}

// exp(a) for a <= 0 given as a FixedPoint<int32, integer_bits> raw value; result Q0.31.
// integer_bits in [0, 29].
fn exp_on_negative_values(a: i32, integer_bits: i32) -> i32 {
    let fractional_bits = 31 - integer_bits;
    let one_quarter = 1 << u32(fractional_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    // Rescale<0> from integer_bits.
    var result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_one_quarter, integer_bits),
    );
    let remainder = a_mod_quarter_minus_one_quarter - a;
    // The barrel shifter: (exponent, exp(-2^exponent) in Q0.31).
    var BARREL_EXPONENT = array<i32, 7>(-2, -1, 0, 1, 2, 3, 4);
    var BARREL_MULTIPLIER = array<i32, 7>(
        1672461947,
        1302514674,
        790015084,
        290630308,
        39332535,
        720401,
        242,
    );
    for (var i = 0; i < 7; i++) {
        let exponent = BARREL_EXPONENT[i];
        if (integer_bits > exponent) {
            let shift = fractional_bits + exponent;
            if ((remainder & (1 << u32(shift))) != 0) {
                result = srdhm(result, BARREL_MULTIPLIER[i]);
            }
        }
    }
    if (integer_bits > 5) {
        // Inputs below -32 give 0.
        let clamp_below = -(1 << u32(36 - integer_bits));
        if (a < clamp_below) {
            result = 0;
        }
    }
    if (a == 0) {
        result = 2147483647;
    }
    return result;
}

// 1 / (1 + a) for a in [0, 1) in Q0.31: three Newton-Raphson steps; result Q0.31.
fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    // 48/17 in Q2.29.
    let CONSTANT_48_OVER_17 = 1515870810;
    // -32/17 in Q2.29.
    let CONSTANT_NEG_32_OVER_17 = -1010580540;
    // 1 in Q2.29.
    let F2_ONE = 1 << 29u;
    let half_denominator = rounding_half_sum(a, 2147483647);
    var x = CONSTANT_48_OVER_17 + srdhm(half_denominator, CONSTANT_NEG_32_OVER_17);
    for (var i = 0; i < 3; i++) {
        let half_denominator_times_x = srdhm(half_denominator, x);
        let one_minus_half_denominator_times_x = F2_ONE - half_denominator_times_x;
        // Q2 * Q2 = Q4, rescaled to Q2.
        x = x + saturating_rounding_multiply_by_pot(srdhm(x, one_minus_half_denominator_times_x), 2);
    }
    // x / 2 as Q1 (exact), rescaled to Q0.
    return saturating_rounding_multiply_by_pot(x, 1);
}

// GetReciprocal: (1/x scaled into Q0.31, num_bits_over_unit) for x a
// FixedPoint<int32, x_integer_digits> raw value.
fn get_reciprocal(x: i32, x_integer_digits: i32) -> vec2<i32> {
    let headroom_plus_one = i32(countLeadingZeros(u32(x)));
    let num_bits_over_unit = x_integer_digits - headroom_plus_one;
    // A shift by 32 (x == 0) shifts by 0, as the Rust twin's wrapping_shl.
    let shifted_sum_minus_one = i32((u32(x) << (u32(headroom_plus_one) & 31u)) - (1u << 31u));
    return vec2<i32>(one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit);
}
