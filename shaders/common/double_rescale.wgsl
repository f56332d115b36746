// The double rescale of BUILTIN_REF's quantized FULLY_CONNECTED loops,
// `static_cast<int32_t>(round((double)acc * scale))`, in u32 arithmetic: twins of
// src/quant/fixedpoint/double_rescale.rs (int32 accumulators, the int8 kernels) and
// double_rescale64.rs (int64 accumulators, the 16x8 kernels).

#import softfloat

// round((double)acc · m) as i32, m = (m_lo, m_hi) · 2^exponent: twin of
// `src/quant/fixedpoint/double_rescale.rs`.
fn double_rescale(acc: i32, m_lo: u32, m_hi: u32, exponent: i32) -> i32 {
    if (acc == 0 || (m_lo | m_hi) == 0u) {
        return 0;
    }
    let neg = acc < 0;
    let a = select(u32(acc), 0u - u32(acc), neg);
    let lo = mul32(a, m_lo);
    let hi = mul32(a, m_hi);
    let p0 = lo.x;
    let p1 = lo.y + hi.x;
    let p2 = hi.y + select(0u, 1u, p1 < lo.y);
    var n: u32;
    if (p2 != 0u) {
        n = 96u - countLeadingZeros(p2);
    } else {
        n = 64u - clz64(vec2<u32>(p0, p1));
    }
    var q = vec2<u32>(p0, p1);
    var s = exponent;
    if (n > 53u) {
        let d = n - 53u;
        var rem: u32;
        var half: u32;
        if (d == 32u) {
            q = vec2<u32>(p1, p2);
            rem = p0;
            half = 0x80000000u;
        } else {
            q = vec2<u32>((p0 >> d) | (p1 << (32u - d)), (p1 >> d) | (p2 << (32u - d)));
            rem = p0 & ((1u << d) - 1u);
            half = 1u << (d - 1u);
        }
        if (rem > half || (rem == half && (q.x & 1u) == 1u)) {
            q = add64(q, vec2<u32>(1u, 0u));
        }
        s += i32(d);
    }
    return round_scaled(q, s, neg);
}

// round(±q × 2^s) half away from zero, saturated to i32 (q < 2^54): twin of `round_scaled`
// in src/quant/fixedpoint/double_rescale.rs.
fn round_scaled(q: vec2<u32>, s: i32, neg: bool) -> i32 {
    let sat = 0x80000001u;
    var mag: u32;
    if (s >= 0) {
        if (s >= 31 || !lt64(q, shl64(vec2<u32>(1u, 0u), 31u - u32(s)))) {
            mag = sat;
        } else {
            mag = q.x << u32(s);
        }
    } else {
        let t = u32(-s);
        if (t > 54u) {
            mag = 0u;
        } else {
            let r = shr64(add64(q, shl64(vec2<u32>(1u, 0u), t - 1u)), t);
            mag = select(r.x, sat, r.y != 0u || r.x > 0x80000000u);
        }
    }
    if (neg) {
        if (mag >= 0x80000000u) {
            return i32(-2147483647 - 1);
        }
        return -i32(mag);
    }
    if (mag > 0x7fffffffu) {
        return 2147483647;
    }
    return i32(mag);
}

// Bit j of the 128-bit p (four words, least significant first).
fn bit128(p: vec4<u32>, j: u32) -> u32 {
    return (p[j / 32u] >> (j % 32u)) & 1u;
}

// Whether any bit of p below bit j is set.
fn any_below128(p: vec4<u32>, j: u32) -> bool {
    let k = j / 32u;
    var found = (p[k] & ((1u << (j % 32u)) - 1u)) != 0u;
    for (var i = 0u; i < k; i++) {
        found = found || p[i] != 0u;
    }
    return found;
}

// The low 64 bits of p >> d, 1 <= d <= 63.
fn shr128_lo64(p: vec4<u32>, d: u32) -> vec2<u32> {
    let k = d / 32u;
    let r = d % 32u;
    if (r == 0u) {
        return vec2<u32>(p[k], p[k + 1u]);
    }
    return vec2<u32>((p[k] >> r) | (p[k + 1u] << (32u - r)),
                     (p[k + 1u] >> r) | (p[k + 2u] << (32u - r)));
}

// round((double)acc · m) as i32 for an int64 acc (two's complement words), m = (m_lo, m_hi)
// · 2^exponent: twin of src/quant/fixedpoint/double_rescale64.rs.
fn double_rescale64(acc: vec2<u32>, m_lo: u32, m_hi: u32, exponent: i32) -> i32 {
    if (is_zero64(acc) || (m_lo | m_hi) == 0u) {
        return 0;
    }
    let neg = (acc.y >> 31u) == 1u;
    var a = select(acc, sub64(vec2<u32>(0u, 0u), acc), neg);
    var s = exponent;
    // (double)acc: the magnitude rounded to 53 significant bits, to nearest even.
    let na = 64u - clz64(a);
    if (na > 53u) {
        let d = na - 53u;
        let rem = a.x & ((1u << d) - 1u);
        let half = 1u << (d - 1u);
        a = shr64(a, d);
        if (rem > half || (rem == half && (a.x & 1u) == 1u)) {
            a = add64(a, vec2<u32>(1u, 0u));
        }
        s += i32(d);
    }
    // p = a × significand, below 2^108: four words.
    let ll = mul32(a.x, m_lo);
    let lh = mul32(a.x, m_hi);
    let hl = mul32(a.y, m_lo);
    let hh = mul32(a.y, m_hi);
    let t1 = add64(add64(vec2<u32>(ll.y, 0u), vec2<u32>(lh.x, 0u)), vec2<u32>(hl.x, 0u));
    let t2 = add64(add64(add64(vec2<u32>(lh.y, 0u), vec2<u32>(hl.y, 0u)), vec2<u32>(hh.x, 0u)),
                   vec2<u32>(t1.y, 0u));
    let p = vec4<u32>(ll.x, t1.x, t2.x, hh.y + t2.y);
    // The product's bit length.
    var n: u32;
    if (p.w != 0u) {
        n = 128u - countLeadingZeros(p.w);
    } else if (p.z != 0u) {
        n = 96u - countLeadingZeros(p.z);
    } else {
        n = 64u - clz64(vec2<u32>(p.x, p.y));
    }
    // Round to 53 significant bits, to nearest even: q × 2^s.
    var q = vec2<u32>(p.x, p.y);
    if (n > 53u) {
        let d = n - 53u;
        q = shr128_lo64(p, d);
        let half_bit = bit128(p, d - 1u) == 1u;
        let sticky = any_below128(p, d - 1u);
        if (half_bit && (sticky || (q.x & 1u) == 1u)) {
            q = add64(q, vec2<u32>(1u, 0u));
        }
        s += i32(d);
    }
    return round_scaled(q, s, neg);
}
