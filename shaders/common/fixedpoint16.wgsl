// gemmlowp's and TFLite's 16-bit fixed-point primitives (HARD_SWISH), emulated in i32: the
// line-for-line twin of the i16 functions of `src/quant/fixedpoint/gemmlowp.rs`. Values are
// int16 held sign-extended in i32; `wrap16` is C++'s truncating cast to int16.

fn wrap16(v: i32) -> i32 {
    return (v << 16u) >> 16u;
}

// gemmlowp SaturatingRoundingDoublingHighMul on int16 (`srdhm_i16`).
fn srdhm_i16(a: i32, b: i32) -> i32 {
    if (a == -32768 && b == -32768) {
        return 32767;
    }
    let ab = a * b;
    let nudge = select(1 - (1 << 14u), 1 << 14u, ab >= 0);
    // i32 division truncates toward zero, as C++'s.
    return wrap16((ab + nudge) / (1 << 15u));
}

// TFLite SaturatingDoublingHighMul (`saturating_doubling_high_mul_i16`): truncating.
fn saturating_doubling_high_mul_i16(a: i32, b: i32) -> i32 {
    if (a == -32768 && b == -32768) {
        return 32767;
    }
    return wrap16((a * b) / (1 << 15u));
}

// gemmlowp RoundingDivideByPOT on int16 (`rounding_divide_by_pot_i16`), exponent in
// [0, 31]; the mask 2^exponent - 1 truncated to int16 as the C++ template does.
fn rounding_divide_by_pot_i16(x: i32, exponent: i32) -> i32 {
    let mask = wrap16(i32((1u << u32(exponent)) - 1u));
    let remainder = x & mask;
    let threshold = wrap16((mask >> 1u) + select(0, 1, x < 0));
    let shifted = wrap16(x >> u32(exponent));
    return wrap16(shifted + select(0, 1, remainder > threshold));
}

// TFLite SaturatingLeftShift on int16 (`saturating_left_shift_i16`), amount in [0, 30].
fn saturating_left_shift_i16(value: i32, amount: i32) -> i32 {
    if (value == 0) {
        return 0;
    }
    if (amount >= 16) {
        return select(-32768, 32767, value > 0);
    }
    // |value| <= 2^15 and amount <= 15: the product fits in i32.
    return clamp(value << u32(amount), -32768, 32767);
}
