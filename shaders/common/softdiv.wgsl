// QUANTIZE's `round_half_away(x / scale) + zp` on f32 bit patterns, exactly: the division is
// softfloat.wgsl's correctly rounded `f32_div` (WGSL's own f32 division is accurate to 2.5
// ulp only and may flush subnormals). The line-for-line twin of
// `src/quant/fixedpoint/softdiv.rs`, which proves the steps equal to native `x / s`.

#import softfloat

// `a / b` on f32 bit patterns, correctly rounded (any NaN result: 0x7fc00000).
fn f32_div_bits(a: u32, b: u32) -> u32 {
    return f32_div(a, b);
}

// round_half_away of the f32 with bits `q`, clamped to [-2^24, 2^24]; `.y` is 1 for NaN
// (then `.x` is 0). Twin of `round_half_away_bits`.
fn round_half_away_clamped(q: u32) -> vec2<i32> {
    let abs = q & 0x7fffffffu;
    if (abs > 0x7f800000u) {
        return vec2<i32>(0, 1);
    }
    var mag = 0;
    if (abs >= 0x4b800000u) {
        mag = 1 << 24u;
    } else if (abs >= 0x3f000000u) {
        let field = abs >> 23u;
        let m = (abs & 0x007fffffu) | 0x00800000u;
        if (field >= 150u) {
            mag = i32(m << (field - 150u));
        } else {
            let s = 150u - field;
            mag = i32((m + (1u << (s - 1u))) >> s);
        }
    }
    return vec2<i32>(select(mag, -mag, (q >> 31u) == 1u), 0);
}

// QUANTIZE float→int of one element: clamp(round_half_away(x / scale) + zp, lo, hi), NaN
// to 0 (the reference's `NaN as i32`). Needs |zp| <= 2^20 and [lo, hi] within
// [-2^20, 2^20] (checked by the host): then the clamp of the rounded quotient to ±2^24
// changes nothing after the final clamp. Twin of `affine_quantize_soft`.
fn affine_quantize_soft(x: u32, scale: u32, zp: i32, lo: i32, hi: i32) -> i32 {
    let r = round_half_away_clamped(f32_div_bits(x, scale));
    if (r.y == 1) {
        return 0;
    }
    return min(max(r.x + zp, lo), hi);
}
