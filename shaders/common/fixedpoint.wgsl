// The integer primitives of TFLite's reference kernels (default build: double rounding), the
// line-for-line twin of `src/quant/fixedpoint/mod.rs` (its 32-bit-limb form: WGSL has no i64).
// The Rust side proves the limb form equal to the 64-bit formula; a GPU test runs these
// functions over the same edge and random values and compares with the Rust twin bit for bit.

// SaturatingRoundingDoublingHighMul (`srdhm` in Rust).
fn srdhm(a: i32, b: i32) -> i32 {
    if (a == i32(-2147483647 - 1) && b == i32(-2147483647 - 1)) {
        return 2147483647;
    }
    let negative = (a < 0) != (b < 0);
    // unsigned_abs
    let ua = select(u32(a), u32(0) - u32(a), a < 0);
    let ub = select(u32(b), u32(0) - u32(b), b < 0);
    // 32x32->64 on 16-bit limbs.
    let a_lo = ua & 0xffffu;
    let a_hi = ua >> 16u;
    let b_lo = ub & 0xffffu;
    let b_hi = ub >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    // mid = lh + hl may carry into bit 32.
    let mid = lh + hl;
    let mid_carry = select(0u, 1u << 16u, mid < lh);
    var lo = ll + (mid << 16u);
    var hi = hh + (mid >> 16u) + mid_carry + select(0u, 1u, lo < ll);
    // Add the rounding term (zero product: sign is irrelevant, result 0 either way).
    let r = select(1u << 30u, (1u << 30u) - 1u, negative && (ua != 0u && ub != 0u));
    let lo2 = lo + r;
    if (lo2 < lo) {
        hi += 1u;
    }
    lo = lo2;
    // (hi:lo) >> 31 fits in 32 bits.
    let mag = (hi << 1u) | (lo >> 31u);
    if (negative) {
        return -i32(mag);
    }
    return i32(mag);
}

// RoundingDivideByPOT: x / 2^exponent rounded half away from zero; exponent in [0, 31].
fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let mask = i32((1u << u32(exponent)) - 1u);
    let remainder = x & mask;
    let threshold = (mask >> 1u) + select(0, 1, x < 0);
    return (x >> u32(exponent)) + select(0, 1, remainder > threshold);
}

// MultiplyByQuantizedMultiplier (double rounding, TFLite's default build).
fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = select(0, shift, shift > 0);
    let right = select(-shift, 0, shift > 0);
    // x * 2^left wraps as the Rust twin's wrapping_mul (WGSL i32 arithmetic wraps).
    return rounding_divide_by_pot(srdhm(x * (1 << u32(left)), multiplier), right);
}
