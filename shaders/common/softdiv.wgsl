// IEEE-754 binary32 division in u32 arithmetic, correctly rounded (to nearest, ties to
// even), with subnormals, infinities and NaN: the line-for-line twin of
// `src/quant/fixedpoint/softdiv.rs`, which proves the steps equal to native `x / s`.
// WGSL's own f32 division is accurate to 2.5 ulp only and may flush subnormals; QUANTIZE's
// `round_half_away(x / scale)` needs the correctly rounded quotient.

const SOFTDIV_QNAN: u32 = 0x7fc00000u;

// Significand in [2^23, 2^24) and exponent of a finite nonzero magnitude (subnormals
// normalised: exponent 1 - k for a left shift by k).
fn softdiv_unpack(abs: u32) -> vec2<i32> {
    let field = i32(abs >> 23u);
    let frac = abs & 0x007fffffu;
    if (field == 0) {
        let k = countLeadingZeros(frac) - 8u;
        return vec2<i32>(i32(frac << k), 1 - i32(k));
    }
    return vec2<i32>(i32(frac | 0x00800000u), field);
}

// `a / b` on f32 bit patterns; the bits of the correctly rounded quotient (NaN: SOFTDIV_QNAN).
fn f32_div_bits(a: u32, b: u32) -> u32 {
    let sign = (a ^ b) & 0x80000000u;
    let abs_a = a & 0x7fffffffu;
    let abs_b = b & 0x7fffffffu;
    if (abs_a > 0x7f800000u || abs_b > 0x7f800000u) {
        return SOFTDIV_QNAN;
    }
    if ((abs_a == 0u && abs_b == 0u) || (abs_a == 0x7f800000u && abs_b == 0x7f800000u)) {
        return SOFTDIV_QNAN;
    }
    if (abs_a == 0x7f800000u || abs_b == 0u) {
        return sign | 0x7f800000u;
    }
    if (abs_a == 0u || abs_b == 0x7f800000u) {
        return sign;
    }
    let ua = softdiv_unpack(abs_a);
    let ub = softdiv_unpack(abs_b);
    var ma = u32(ua.x);
    let mb = u32(ub.x);
    var e = ua.y - ub.y + 127;
    if (ma < mb) {
        ma = ma << 1u;
        e -= 1;
    }
    var q = 0u;
    var r = ma;
    for (var it = 0u; it < 26u; it++) {
        q = q << 1u;
        if (r >= mb) {
            r -= mb;
            q |= 1u;
        }
        r = r << 1u;
    }
    let sticky = r != 0u;
    if (e >= 255) {
        return sign | 0x7f800000u;
    }
    let extra = select(1 - e, 0, e >= 1);
    if (extra > 25) {
        return sign;
    }
    let s = u32(2 + extra);
    let mant0 = q >> s;
    let rest = q & ((1u << s) - 1u);
    let half = 1u << (s - 1u);
    let round_up = rest > half || (rest == half && (sticky || (mant0 & 1u) == 1u));
    let mant = mant0 + select(0u, 1u, round_up);
    var bits = mant;
    if (e >= 1) {
        bits = (u32(e - 1) << 23u) + mant;
    }
    return sign | bits;
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
