// IEEE binary64 in vec2<u32> (.x low word, .y high word), exact, in u32 operations: the twin
// of src/quant/fixedpoint/softfloat/binary64.rs. Builds on the 64-bit helpers and binary32
// of softfloat.wgsl.

#import softfloat

// ---- binary64

fn is_nan64(a: vec2<u32>) -> bool {
    let h = a.y & 0x7fffffffu;
    return h > 0x7ff00000u || (h == 0x7ff00000u && a.x != 0u);
}

fn is_inf64(a: vec2<u32>) -> bool {
    return (a.y & 0x7fffffffu) == 0x7ff00000u && a.x == 0u;
}

fn is_zero_mag64(a: vec2<u32>) -> bool {
    return (a.y & 0x7fffffffu) == 0u && a.x == 0u;
}

fn round_pack64(sign: u32, exp_in: i32, sig_in: vec2<u32>) -> vec2<u32> {
    var exp = exp_in;
    var sig = sig_in;
    var round_bits = sig.x & 0x3ffu;
    if (u32(exp) >= 0x7fdu) {
        if (exp < 0) {
            sig = shr_jam64(sig, u32(-exp));
            exp = 0;
            round_bits = sig.x & 0x3ffu;
        } else if (exp > 0x7fd || !lt64(add64(sig, vec2<u32>(0x200u, 0u)), vec2<u32>(0u, SF_SIGN))) {
            return vec2<u32>(0u, sign | 0x7ff00000u);
        }
    }
    sig = shr64(add64(sig, vec2<u32>(0x200u, 0u)), 10u);
    if (round_bits == 0x200u) {
        sig.x &= ~1u;
    }
    if (is_zero64(sig)) {
        exp = 0;
    }
    return add64(vec2<u32>(0u, sign + (u32(exp) << 20u)), sig);
}

// Biased exponent of a nonzero finite value; its significand (leading bit at bit 52) in `m`.
struct Norm64 {
    e: i32,
    m: vec2<u32>,
}

fn norm64(a: vec2<u32>) -> Norm64 {
    let e = (a.y >> 20u) & 0x7ffu;
    let m = vec2<u32>(a.x, a.y & 0xfffffu);
    if (e == 0u) {
        let s = clz64(m) - 11u;
        return Norm64(1 - i32(s), shl64(m, s));
    }
    return Norm64(i32(e), vec2<u32>(m.x, m.y | 0x100000u));
}

fn f64_add(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    if (is_nan64(a) || is_nan64(b)) {
        return sf_nan64();
    }
    if (is_inf64(a)) {
        if (is_inf64(b) && ((a.y ^ b.y) & SF_SIGN) != 0u) {
            return sf_nan64();
        }
        return a;
    }
    if (is_inf64(b)) {
        return b;
    }
    if (is_zero_mag64(a)) {
        if (is_zero_mag64(b)) {
            return vec2<u32>(0u, a.y & b.y);
        }
        return b;
    }
    if (is_zero_mag64(b)) {
        return a;
    }
    var x = a;
    var y = b;
    if (lt64(vec2<u32>(a.x, a.y & 0x7fffffffu), vec2<u32>(b.x, b.y & 0x7fffffffu))) {
        x = b;
        y = a;
    }
    var ex = (x.y >> 20u) & 0x7ffu;
    var mx = vec2<u32>(x.x, x.y & 0xfffffu);
    if (ex == 0u) {
        ex = 1u;
    } else {
        mx.y |= 0x100000u;
    }
    var ey = (y.y >> 20u) & 0x7ffu;
    var my = vec2<u32>(y.x, y.y & 0xfffffu);
    if (ey == 0u) {
        ey = 1u;
    } else {
        my.y |= 0x100000u;
    }
    let sx = shl64(mx, 9u);
    let sy = shr_jam64(shl64(my, 9u), ex - ey);
    var m: vec2<u32>;
    if (((x.y ^ y.y) & SF_SIGN) == 0u) {
        m = add64(sx, sy);
    } else {
        m = sub64(sx, sy);
    }
    if (is_zero64(m)) {
        return vec2<u32>(0u, 0u);
    }
    let s = clz64(m) - 1u;
    return round_pack64(x.y & SF_SIGN, i32(ex) - i32(s), shl64(m, s));
}

fn f64_sub(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return f64_add(a, vec2<u32>(b.x, b.y ^ SF_SIGN));
}

fn f64_div(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let sign = (a.y ^ b.y) & SF_SIGN;
    if (is_nan64(a) || is_nan64(b)) {
        return sf_nan64();
    }
    if (is_inf64(a)) {
        if (is_inf64(b)) {
            return sf_nan64();
        }
        return vec2<u32>(0u, sign | 0x7ff00000u);
    }
    if (is_inf64(b)) {
        return vec2<u32>(0u, sign);
    }
    if (is_zero_mag64(b)) {
        if (is_zero_mag64(a)) {
            return sf_nan64();
        }
        return vec2<u32>(0u, sign | 0x7ff00000u);
    }
    if (is_zero_mag64(a)) {
        return vec2<u32>(0u, sign);
    }
    let na = norm64(a);
    let nb = norm64(b);
    var ma = na.m;
    let mb = nb.m;
    var exp = na.e - nb.e + 0x3fe;
    if (lt64(ma, mb)) {
        exp -= 1;
        ma = shl64(ma, 1u);
    }
    var rem = ma;
    var q = vec2<u32>(0u, 0u);
    for (var i = 0u; i < 63u; i++) {
        q = shl64(q, 1u);
        if (!lt64(rem, mb)) {
            rem = sub64(rem, mb);
            q.x |= 1u;
        }
        rem = shl64(rem, 1u);
    }
    q.x |= select(0u, 1u, !is_zero64(rem));
    return round_pack64(sign, exp, q);
}

fn f64_lt(a: vec2<u32>, b: vec2<u32>) -> bool {
    if (is_nan64(a) || is_nan64(b)) {
        return false;
    }
    let sa = (a.y & SF_SIGN) != 0u;
    let sb = (b.y & SF_SIGN) != 0u;
    if (sa != sb) {
        return sa && !(is_zero_mag64(a) && is_zero_mag64(b));
    }
    return (a.x != b.x || a.y != b.y) && (sa != lt64(a, b));
}

fn f64_le(a: vec2<u32>, b: vec2<u32>) -> bool {
    if (is_nan64(a) || is_nan64(b)) {
        return false;
    }
    let sa = (a.y & SF_SIGN) != 0u;
    let sb = (b.y & SF_SIGN) != 0u;
    if (sa != sb) {
        return sa || (is_zero_mag64(a) && is_zero_mag64(b));
    }
    return (a.x == b.x && a.y == b.y) || (sa != lt64(a, b));
}

fn f32_to_f64(a: u32) -> vec2<u32> {
    let sign = a & SF_SIGN;
    if (is_nan32(a)) {
        return sf_nan64();
    }
    if ((a & 0x7fffffffu) == 0x7f800000u) {
        return vec2<u32>(0u, sign | 0x7ff00000u);
    }
    if (is_zero32(a)) {
        return vec2<u32>(0u, sign);
    }
    let n = norm32(a);
    let frac = shl64(vec2<u32>(u32(n.y) & 0x7fffffu, 0u), 29u);
    return vec2<u32>(frac.x, sign | (u32(n.x + 0x380) << 20u) | frac.y);
}

fn f64_to_f32(a: vec2<u32>) -> u32 {
    let sign = a.y & SF_SIGN;
    if (is_nan64(a)) {
        return SF_NAN32;
    }
    let e = (a.y >> 20u) & 0x7ffu;
    if (e == 0x7ffu) {
        return sign | 0x7f800000u;
    }
    let frac32 = shr_jam64(vec2<u32>(a.x, a.y & 0xfffffu), 22u).x;
    if ((e | frac32) == 0u) {
        return sign;
    }
    return round_pack32(sign, i32(e) - 0x381, frac32 | 0x40000000u);
}

fn f64_round_i32(a: vec2<u32>) -> i32 {
    if (is_nan64(a)) {
        return 0;
    }
    let neg = (a.y & SF_SIGN) != 0u;
    let e = (a.y >> 20u) & 0x7ffu;
    var mag: u32;
    if (e < 1022u) {
        mag = 0u;
    } else if (e == 1022u) {
        mag = 1u;
    } else if (e >= 1054u) {
        return select(2147483647, i32(-2147483647 - 1), neg);
    } else {
        let m = vec2<u32>(a.x, (a.y & 0xfffffu) | 0x100000u);
        let shift = 1075u - e;
        mag = shr64(add64(m, shl64(vec2<u32>(1u, 0u), shift - 1u)), shift).x;
    }
    if (neg) {
        return 0 - i32(mag);
    }
    if (mag > 2147483647u) {
        return 2147483647;
    }
    return i32(mag);
}
