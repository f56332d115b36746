//! binary64 in `[lo, hi]` word pairs: the second half of [`super`], twin of
//! `shaders/common/softfloat64.wgsl`.

use super::*;

pub(crate) fn is_nan64(a: W) -> bool {
    let h = a[1] & 0x7fff_ffff;
    h > 0x7ff0_0000 || (h == 0x7ff0_0000 && a[0] != 0)
}

pub(crate) fn is_inf64(a: W) -> bool {
    (a[1] & 0x7fff_ffff) == 0x7ff0_0000 && a[0] == 0
}

pub(crate) fn is_zero_mag64(a: W) -> bool {
    (a[1] & 0x7fff_ffff) == 0 && a[0] == 0
}

/// `softfloat_roundPackToF64`: `sig` has its leading bit at bit 62 (or lower for a subnormal
/// result with `exp` 0), the value is `sig * 2^(exp - 1084)`.
pub(crate) fn round_pack64(sign: u32, exp: i32, sig: W) -> W {
    let mut exp = exp;
    let mut sig = sig;
    let mut round_bits = sig[0] & 0x3ff;
    if (exp as u32) >= 0x7fd {
        if exp < 0 {
            sig = shr_jam64(sig, exp.unsigned_abs());
            exp = 0;
            round_bits = sig[0] & 0x3ff;
        } else if exp > 0x7fd || !lt64(add64(sig, [0x200, 0]), [0, SIGN]) {
            return [0, sign | 0x7ff0_0000];
        }
    }
    sig = shr64(add64(sig, [0x200, 0]), 10);
    if round_bits == 0x200 {
        sig[0] &= !1u32;
    }
    if is_zero64(sig) {
        exp = 0;
    }
    add64([0, sign.wrapping_add((exp as u32) << 20)], sig)
}

/// (biased exponent, significand with its leading bit at bit 52) of a nonzero finite value.
pub(crate) fn norm64(a: W) -> (i32, W) {
    let e = (a[1] >> 20) & 0x7ff;
    let m = [a[0], a[1] & 0xf_ffff];
    if e == 0 {
        let s = clz64(m) - 11;
        return (1 - s as i32, shl64(m, s));
    }
    (e as i32, [m[0], m[1] | 0x10_0000])
}

pub(crate) fn f64_add(a: W, b: W) -> W {
    if is_nan64(a) || is_nan64(b) {
        return NAN64;
    }
    if is_inf64(a) {
        if is_inf64(b) && ((a[1] ^ b[1]) & SIGN) != 0 {
            return NAN64;
        }
        return a;
    }
    if is_inf64(b) {
        return b;
    }
    if is_zero_mag64(a) {
        if is_zero_mag64(b) {
            return [0, a[1] & b[1]];
        }
        return b;
    }
    if is_zero_mag64(b) {
        return a;
    }
    let mut x = a;
    let mut y = b;
    if lt64([a[0], a[1] & 0x7fff_ffff], [b[0], b[1] & 0x7fff_ffff]) {
        x = b;
        y = a;
    }
    let mut ex = (x[1] >> 20) & 0x7ff;
    let mut mx = [x[0], x[1] & 0xf_ffff];
    if ex == 0 {
        ex = 1;
    } else {
        mx[1] |= 0x10_0000;
    }
    let mut ey = (y[1] >> 20) & 0x7ff;
    let mut my = [y[0], y[1] & 0xf_ffff];
    if ey == 0 {
        ey = 1;
    } else {
        my[1] |= 0x10_0000;
    }
    // Nine guard bits, the larger significand's leading bit at bit 61.
    let sx = shl64(mx, 9);
    let sy = shr_jam64(shl64(my, 9), ex - ey);
    let m = if ((x[1] ^ y[1]) & SIGN) == 0 {
        add64(sx, sy)
    } else {
        sub64(sx, sy)
    };
    if is_zero64(m) {
        return [0, 0];
    }
    let s = clz64(m) - 1;
    round_pack64(x[1] & SIGN, ex as i32 - s as i32, shl64(m, s))
}

pub(crate) fn f64_sub(a: W, b: W) -> W {
    f64_add(a, [b[0], b[1] ^ SIGN])
}

pub(crate) fn f64_div(a: W, b: W) -> W {
    let sign = (a[1] ^ b[1]) & SIGN;
    if is_nan64(a) || is_nan64(b) {
        return NAN64;
    }
    if is_inf64(a) {
        if is_inf64(b) {
            return NAN64;
        }
        return [0, sign | 0x7ff0_0000];
    }
    if is_inf64(b) {
        return [0, sign];
    }
    if is_zero_mag64(b) {
        if is_zero_mag64(a) {
            return NAN64;
        }
        return [0, sign | 0x7ff0_0000];
    }
    if is_zero_mag64(a) {
        return [0, sign];
    }
    let (ea, mut ma) = norm64(a);
    let (eb, mb) = norm64(b);
    let mut exp = ea - eb + 0x3fe;
    if lt64(ma, mb) {
        exp -= 1;
        ma = shl64(ma, 1);
    }
    // q = floor(ma * 2^62 / mb): 63 quotient bits, the leading one at bit 62.
    let mut rem = ma;
    let mut q: W = [0, 0];
    for _ in 0..63 {
        q = shl64(q, 1);
        if !lt64(rem, mb) {
            rem = sub64(rem, mb);
            q[0] |= 1;
        }
        rem = shl64(rem, 1);
    }
    q[0] |= u32::from(!is_zero64(rem));
    round_pack64(sign, exp, q)
}

/// Rust's `x < y` on binary64.
pub(crate) fn f64_lt(a: W, b: W) -> bool {
    if is_nan64(a) || is_nan64(b) {
        return false;
    }
    let sa = (a[1] & SIGN) != 0;
    let sb = (b[1] & SIGN) != 0;
    if sa != sb {
        return sa && !(is_zero_mag64(a) && is_zero_mag64(b));
    }
    (a[0] != b[0] || a[1] != b[1]) && (sa != lt64(a, b))
}

/// Rust's `x <= y` on binary64.
pub(crate) fn f64_le(a: W, b: W) -> bool {
    if is_nan64(a) || is_nan64(b) {
        return false;
    }
    let sa = (a[1] & SIGN) != 0;
    let sb = (b[1] & SIGN) != 0;
    if sa != sb {
        return sa || (is_zero_mag64(a) && is_zero_mag64(b));
    }
    (a[0] == b[0] && a[1] == b[1]) || (sa != lt64(a, b))
}

/// `x as f64` of a binary32 (exact).
pub(crate) fn f32_to_f64(a: u32) -> W {
    let sign = a & SIGN;
    if is_nan32(a) {
        return NAN64;
    }
    if (a & 0x7fff_ffff) == 0x7f80_0000 {
        return [0, sign | 0x7ff0_0000];
    }
    if is_zero32(a) {
        return [0, sign];
    }
    let (e, m) = norm32(a);
    let frac = shl64([m & 0x7f_ffff, 0], 29);
    [frac[0], sign | (((e + 0x380) as u32) << 20) | frac[1]]
}

/// `x as f32` of a binary64 (rounding to nearest even).
pub(crate) fn f64_to_f32(a: W) -> u32 {
    let sign = a[1] & SIGN;
    if is_nan64(a) {
        return NAN32;
    }
    let e = (a[1] >> 20) & 0x7ff;
    if e == 0x7ff {
        return sign | 0x7f80_0000;
    }
    let frac32 = shr_jam64([a[0], a[1] & 0xf_ffff], 22)[0];
    if (e | frac32) == 0 {
        return sign;
    }
    round_pack32(sign, e as i32 - 0x381, frac32 | 0x4000_0000)
}

/// `x.round() as i32` of a binary64 (half away from zero, saturating, NaN → 0).
pub(crate) fn f64_round_i32(a: W) -> i32 {
    if is_nan64(a) {
        return 0;
    }
    let neg = (a[1] & SIGN) != 0;
    let e = (a[1] >> 20) & 0x7ff;
    let mag: u32;
    if e < 1022 {
        mag = 0;
    } else if e == 1022 {
        mag = 1;
    } else if e >= 1054 {
        return if neg { i32::MIN } else { i32::MAX };
    } else {
        // 1023 <= e <= 1053: 22 to 52 fraction bits.
        let m = [a[0], (a[1] & 0xf_ffff) | 0x10_0000];
        let shift = 1075 - e;
        mag = shr64(add64(m, shl64([1, 0], shift - 1)), shift)[0];
    }
    if neg {
        return 0i32.wrapping_sub(mag as i32);
    }
    if mag > i32::MAX as u32 {
        return i32::MAX;
    }
    mag as i32
}
