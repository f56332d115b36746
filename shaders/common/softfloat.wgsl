// IEEE 754 binary32 arithmetic and the 64-bit integer helpers (round to nearest even,
// subnormals kept) in u32 operations only; binary64 is in softfloat64.wgsl. The line-for-line
// twin of `src/quant/fixedpoint/softfloat/mod.rs`, which
// proves every function equal to native f32/f64 arithmetic; `tests/gpu_hybrid.rs` runs these
// over the same kinds of values. WGSL float operations may be fused or inexact and WGSL has
// no f64, so results that the reference rounds to integers are computed with these.
//
// Values are bit patterns; 64-bit quantities are vec2<u32>(low word, high word). A NaN result
// is the quiet NaN 0x7fc00000 (binary64 0x7ff80000_00000000).

const SF_NAN32: u32 = 0x7fc00000u;
const SF_SIGN: u32 = 0x80000000u;

fn sf_nan64() -> vec2<u32> {
    return vec2<u32>(0u, 0x7ff80000u);
}

// ---- 64-bit helpers

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    let carry = select(0u, 1u, lo < a.x);
    return vec2<u32>(lo, a.y + b.y + carry);
}

fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x - b.x;
    let borrow = select(0u, 1u, a.x < b.x);
    return vec2<u32>(lo, a.y - b.y - borrow);
}

fn lt64(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.y < b.y || (a.y == b.y && a.x < b.x);
}

fn is_zero64(a: vec2<u32>) -> bool {
    return (a.x | a.y) == 0u;
}

fn shl64(a: vec2<u32>, n: u32) -> vec2<u32> {
    if (n == 0u) {
        return a;
    }
    if (n < 32u) {
        return vec2<u32>(a.x << n, (a.y << n) | (a.x >> (32u - n)));
    }
    if (n < 64u) {
        return vec2<u32>(0u, a.x << (n - 32u));
    }
    return vec2<u32>(0u, 0u);
}

fn shr64(a: vec2<u32>, n: u32) -> vec2<u32> {
    if (n == 0u) {
        return a;
    }
    if (n < 32u) {
        return vec2<u32>((a.x >> n) | (a.y << (32u - n)), a.y >> n);
    }
    if (n < 64u) {
        return vec2<u32>(a.y >> (n - 32u), 0u);
    }
    return vec2<u32>(0u, 0u);
}

fn shr_jam64(a: vec2<u32>, n: u32) -> vec2<u32> {
    if (n == 0u) {
        return a;
    }
    if (n >= 64u) {
        return vec2<u32>(select(0u, 1u, !is_zero64(a)), 0u);
    }
    let r = shr64(a, n);
    let back = shl64(r, n);
    let lost = select(0u, 1u, back.x != a.x || back.y != a.y);
    return vec2<u32>(r.x | lost, r.y);
}

fn clz64(a: vec2<u32>) -> u32 {
    if (a.y != 0u) {
        return countLeadingZeros(a.y);
    }
    return 32u + countLeadingZeros(a.x);
}

fn mul32(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = lh + hl;
    let mid_carry = select(0u, 1u << 16u, mid < lh);
    let lo = ll + (mid << 16u);
    let hi = hh + (mid >> 16u) + mid_carry + select(0u, 1u, lo < ll);
    return vec2<u32>(lo, hi);
}

fn shr_jam32(a: u32, n: u32) -> u32 {
    if (n == 0u) {
        return a;
    }
    if (n >= 32u) {
        return select(0u, 1u, a != 0u);
    }
    return (a >> n) | select(0u, 1u, (a << (32u - n)) != 0u);
}

// ---- binary32

fn is_nan32(a: u32) -> bool {
    return (a & 0x7fffffffu) > 0x7f800000u;
}

fn is_zero32(a: u32) -> bool {
    return (a & 0x7fffffffu) == 0u;
}

fn round_pack32(sign: u32, exp_in: i32, sig_in: u32) -> u32 {
    var exp = exp_in;
    var sig = sig_in;
    var round_bits = sig & 0x7fu;
    if (u32(exp) >= 0xfdu) {
        if (exp < 0) {
            sig = shr_jam32(sig, u32(-exp));
            exp = 0;
            round_bits = sig & 0x7fu;
        } else if (exp > 0xfd || sig + 0x40u >= 0x80000000u) {
            return sign | 0x7f800000u;
        }
    }
    sig = (sig + 0x40u) >> 7u;
    if (round_bits == 0x40u) {
        sig &= ~1u;
    }
    if (sig == 0u) {
        exp = 0;
    }
    return sign + (u32(exp) << 23u) + sig;
}

// (biased exponent, significand with its leading bit at bit 23) of a nonzero finite value.
fn norm32(bits: u32) -> vec2<i32> {
    let e = (bits >> 23u) & 0xffu;
    let m = bits & 0x7fffffu;
    if (e == 0u) {
        let s = countLeadingZeros(m) - 8u;
        return vec2<i32>(1 - i32(s), i32(m << s));
    }
    return vec2<i32>(i32(e), i32(m | 0x800000u));
}

fn f32_mul(a: u32, b: u32) -> u32 {
    let sign = (a ^ b) & SF_SIGN;
    if (is_nan32(a) || is_nan32(b)) {
        return SF_NAN32;
    }
    let a_inf = (a & 0x7fffffffu) == 0x7f800000u;
    let b_inf = (b & 0x7fffffffu) == 0x7f800000u;
    if (a_inf || b_inf) {
        if (is_zero32(a) || is_zero32(b)) {
            return SF_NAN32;
        }
        return sign | 0x7f800000u;
    }
    if (is_zero32(a) || is_zero32(b)) {
        return sign;
    }
    let na = norm32(a);
    let nb = norm32(b);
    var exp = na.x + nb.x - 0x7f;
    let p = mul32(u32(na.y) << 7u, u32(nb.y) << 8u);
    var sig = p.y | select(0u, 1u, p.x != 0u);
    if (sig < 0x40000000u) {
        exp -= 1;
        sig <<= 1u;
    }
    return round_pack32(sign, exp, sig);
}

fn f32_div(a: u32, b: u32) -> u32 {
    let sign = (a ^ b) & SF_SIGN;
    if (is_nan32(a) || is_nan32(b)) {
        return SF_NAN32;
    }
    let a_inf = (a & 0x7fffffffu) == 0x7f800000u;
    let b_inf = (b & 0x7fffffffu) == 0x7f800000u;
    if (a_inf) {
        if (b_inf) {
            return SF_NAN32;
        }
        return sign | 0x7f800000u;
    }
    if (b_inf) {
        return sign;
    }
    if (is_zero32(b)) {
        if (is_zero32(a)) {
            return SF_NAN32;
        }
        return sign | 0x7f800000u;
    }
    if (is_zero32(a)) {
        return sign;
    }
    let na = norm32(a);
    let nb = norm32(b);
    var ma = u32(na.y);
    let mb = u32(nb.y);
    var exp = na.x - nb.x + 0x7e;
    if (ma < mb) {
        exp -= 1;
        ma <<= 1u;
    }
    var rem = ma;
    var q = 0u;
    for (var i = 0u; i < 31u; i++) {
        q <<= 1u;
        if (rem >= mb) {
            rem -= mb;
            q |= 1u;
        }
        rem <<= 1u;
    }
    q |= select(0u, 1u, rem != 0u);
    return round_pack32(sign, exp, q);
}

fn f32_add(a: u32, b: u32) -> u32 {
    if (is_nan32(a) || is_nan32(b)) {
        return SF_NAN32;
    }
    let a_inf = (a & 0x7fffffffu) == 0x7f800000u;
    let b_inf = (b & 0x7fffffffu) == 0x7f800000u;
    if (a_inf) {
        if (b_inf && ((a ^ b) & SF_SIGN) != 0u) {
            return SF_NAN32;
        }
        return a;
    }
    if (b_inf) {
        return b;
    }
    if (is_zero32(a)) {
        if (is_zero32(b)) {
            return a & b;
        }
        return b;
    }
    if (is_zero32(b)) {
        return a;
    }
    var x = a;
    var y = b;
    if ((a & 0x7fffffffu) < (b & 0x7fffffffu)) {
        x = b;
        y = a;
    }
    var ex = (x >> 23u) & 0xffu;
    var mx = x & 0x7fffffu;
    if (ex == 0u) {
        ex = 1u;
    } else {
        mx |= 0x800000u;
    }
    var ey = (y >> 23u) & 0xffu;
    var my = y & 0x7fffffu;
    if (ey == 0u) {
        ey = 1u;
    } else {
        my |= 0x800000u;
    }
    let sx = mx << 6u;
    let sy = shr_jam32(my << 6u, ex - ey);
    let m = select(sx - sy, sx + sy, ((x ^ y) & SF_SIGN) == 0u);
    if (m == 0u) {
        return 0u;
    }
    let s = countLeadingZeros(m) - 1u;
    return round_pack32(x & SF_SIGN, i32(ex) - i32(s), m << s);
}

fn f32_lt(a: u32, b: u32) -> bool {
    if (is_nan32(a) || is_nan32(b)) {
        return false;
    }
    let sa = (a & SF_SIGN) != 0u;
    let sb = (b & SF_SIGN) != 0u;
    if (sa != sb) {
        return sa && ((a | b) & 0x7fffffffu) != 0u;
    }
    return a != b && (sa != (a < b));
}

fn f32_min(a: u32, b: u32) -> u32 {
    if (is_nan32(a)) {
        return b;
    }
    if (is_nan32(b)) {
        return a;
    }
    if (f32_lt(b, a)) {
        return b;
    }
    return a;
}

fn f32_max(a: u32, b: u32) -> u32 {
    if (is_nan32(a)) {
        return b;
    }
    if (is_nan32(b)) {
        return a;
    }
    if (f32_lt(a, b)) {
        return b;
    }
    return a;
}

fn f32_round_i32(a: u32) -> i32 {
    if (is_nan32(a)) {
        return 0;
    }
    let neg = (a & SF_SIGN) != 0u;
    let e = (a >> 23u) & 0xffu;
    var mag: u32;
    if (e < 126u) {
        mag = 0u;
    } else if (e == 126u) {
        mag = 1u;
    } else if (e >= 158u) {
        return select(2147483647, i32(-2147483647 - 1), neg);
    } else {
        let m = (a & 0x7fffffu) | 0x800000u;
        if (e >= 150u) {
            mag = m << (e - 150u);
        } else {
            let shift = 150u - e;
            mag = (m + (1u << (shift - 1u))) >> shift;
        }
    }
    if (neg) {
        return 0 - i32(mag);
    }
    return i32(mag);
}

fn f32_trunc_i32(a: u32) -> i32 {
    if (is_nan32(a)) {
        return 0;
    }
    let neg = (a & SF_SIGN) != 0u;
    let e = (a >> 23u) & 0xffu;
    if (e < 127u) {
        return 0;
    }
    if (e >= 158u) {
        return select(2147483647, i32(-2147483647 - 1), neg);
    }
    let m = (a & 0x7fffffu) | 0x800000u;
    var mag: u32;
    if (e >= 150u) {
        mag = m << (e - 150u);
    } else {
        mag = m >> (150u - e);
    }
    if (neg) {
        return 0 - i32(mag);
    }
    return i32(mag);
}

fn i32_to_f32(x: i32) -> u32 {
    if (x == 0) {
        return 0u;
    }
    let sign = select(0u, SF_SIGN, x < 0);
    let mag = select(u32(x), 0u - u32(x), x < 0);
    let lz = countLeadingZeros(mag);
    if (lz == 0u) {
        return sign | 0x4f000000u;
    }
    return round_pack32(sign, 157 - i32(lz), mag << (lz - 1u));
}
