#![cfg_attr(not(test), allow(dead_code))]

//! IEEE 754 binary32/binary64 arithmetic (round to nearest, ties to even; subnormals kept) in
//! `u32` operations only: the line-for-line twin of `shaders/common/softfloat.wgsl` (binary32
//! and the 64-bit helpers; binary64 in [`binary64`], twin of `softfloat64.wgsl`).
//!
//! WGSL has no `f64`, and its `f32` operations may be fused, reassociated, flush subnormals or
//! (division) be off by 2.5 ulp, so a GPU result that the reference derives from float
//! arithmetic and then rounds to an integer (the hybrid kernels' run-time input quantization)
//! is computed with these. The algorithms follow Berkeley SoftFloat 3 (`roundPackToF32/F64`,
//! `f32_mul`, `f32_div`, `f64_to_f32`, ...): a significand with its leading bit at bit 30
//! (binary32) or 62 (binary64), rounding bits below, a sticky bit for everything shifted out.
//!
//! 64-bit quantities are `[lo, hi]` pairs (`vec2<u32>` in WGSL: `.x` low, `.y` high). Values
//! are passed as their bit patterns. A NaN result is always the quiet NaN `0x7fc00000`
//! (binary64: `0x7ff80000_00000000`): the tests compare NaN results as "is NaN", as payloads
//! are not something the reference kernels look at.
//!
//! The tests prove every operation equal to the native Rust `f32`/`f64` operation over edge
//! values (zeros, subnormals, the largest finite values, infinities, NaNs, ties) and millions
//! of random bit patterns; `tests/gpu_hybrid.rs` runs the WGSL versions over the same values.

/// A 64-bit quantity as `[low word, high word]`.
pub(crate) type W = [u32; 2];

pub(crate) const NAN32: u32 = 0x7fc0_0000;
pub(crate) const NAN64: W = [0, 0x7ff8_0000];
const SIGN: u32 = 0x8000_0000;

// ---- 64-bit helpers ----------------------------------------------------------------------

pub(crate) fn add64(a: W, b: W) -> W {
    let lo = a[0].wrapping_add(b[0]);
    let carry = u32::from(lo < a[0]);
    [lo, a[1].wrapping_add(b[1]).wrapping_add(carry)]
}

pub(crate) fn sub64(a: W, b: W) -> W {
    let lo = a[0].wrapping_sub(b[0]);
    let borrow = u32::from(a[0] < b[0]);
    [lo, a[1].wrapping_sub(b[1]).wrapping_sub(borrow)]
}

pub(crate) fn lt64(a: W, b: W) -> bool {
    a[1] < b[1] || (a[1] == b[1] && a[0] < b[0])
}

pub(crate) fn is_zero64(a: W) -> bool {
    (a[0] | a[1]) == 0
}

pub(crate) fn shl64(a: W, n: u32) -> W {
    if n == 0 {
        return a;
    }
    if n < 32 {
        return [a[0] << n, (a[1] << n) | (a[0] >> (32 - n))];
    }
    if n < 64 {
        return [0, a[0] << (n - 32)];
    }
    [0, 0]
}

pub(crate) fn shr64(a: W, n: u32) -> W {
    if n == 0 {
        return a;
    }
    if n < 32 {
        return [(a[0] >> n) | (a[1] << (32 - n)), a[1] >> n];
    }
    if n < 64 {
        return [a[1] >> (n - 32), 0];
    }
    [0, 0]
}

/// `a >> n` with every bit shifted out ORed into bit 0 (`softfloat_shiftRightJam64`).
pub(crate) fn shr_jam64(a: W, n: u32) -> W {
    if n == 0 {
        return a;
    }
    if n >= 64 {
        return [u32::from(!is_zero64(a)), 0];
    }
    let r = shr64(a, n);
    let back = shl64(r, n);
    let lost = u32::from(back[0] != a[0] || back[1] != a[1]);
    [r[0] | lost, r[1]]
}

/// Leading zeros of a 64-bit quantity (64 for zero).
pub(crate) fn clz64(a: W) -> u32 {
    if a[1] != 0 {
        return a[1].leading_zeros();
    }
    32 + a[0].leading_zeros()
}

/// The full 64-bit product of two `u32`, on 16-bit limbs.
pub(crate) fn mul32(a: u32, b: u32) -> W {
    let a_lo = a & 0xffff;
    let a_hi = a >> 16;
    let b_lo = b & 0xffff;
    let b_hi = b >> 16;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = lh.wrapping_add(hl);
    let mid_carry = if mid < lh { 1u32 << 16 } else { 0 };
    let lo = ll.wrapping_add(mid << 16);
    let hi = hh
        .wrapping_add(mid >> 16)
        .wrapping_add(mid_carry)
        .wrapping_add(u32::from(lo < ll));
    [lo, hi]
}

/// `a >> n` with the bits shifted out ORed into bit 0 (`softfloat_shiftRightJam32`).
pub(crate) fn shr_jam32(a: u32, n: u32) -> u32 {
    if n == 0 {
        return a;
    }
    if n >= 32 {
        return u32::from(a != 0);
    }
    (a >> n) | u32::from((a << (32 - n)) != 0)
}

// ---- binary32 --------------------------------------------------------------------------

pub(crate) fn is_nan32(a: u32) -> bool {
    (a & 0x7fff_ffff) > 0x7f80_0000
}

fn is_zero32(a: u32) -> bool {
    (a & 0x7fff_ffff) == 0
}

/// `softfloat_roundPackToF32`: `sig` has its leading bit at bit 30 (or lower for a subnormal
/// result with `exp` 0), the value is `sig * 2^(exp - 156)`.
pub(crate) fn round_pack32(sign: u32, exp: i32, sig: u32) -> u32 {
    let mut exp = exp;
    let mut sig = sig;
    let mut round_bits = sig & 0x7f;
    if (exp as u32) >= 0xfd {
        if exp < 0 {
            sig = shr_jam32(sig, exp.unsigned_abs());
            exp = 0;
            round_bits = sig & 0x7f;
        } else if exp > 0xfd || sig.wrapping_add(0x40) >= 0x8000_0000 {
            return sign | 0x7f80_0000;
        }
    }
    sig = sig.wrapping_add(0x40) >> 7;
    if round_bits == 0x40 {
        sig &= !1u32;
    }
    if sig == 0 {
        exp = 0;
    }
    sign.wrapping_add((exp as u32) << 23).wrapping_add(sig)
}

/// (biased exponent, significand with its leading bit at bit 23) of a nonzero finite value.
fn norm32(bits: u32) -> (i32, u32) {
    let e = (bits >> 23) & 0xff;
    let m = bits & 0x7f_ffff;
    if e == 0 {
        let s = m.leading_zeros() - 8;
        return (1 - s as i32, m << s);
    }
    (e as i32, m | 0x80_0000)
}

pub(crate) fn f32_mul(a: u32, b: u32) -> u32 {
    let sign = (a ^ b) & SIGN;
    if is_nan32(a) || is_nan32(b) {
        return NAN32;
    }
    let a_inf = (a & 0x7fff_ffff) == 0x7f80_0000;
    let b_inf = (b & 0x7fff_ffff) == 0x7f80_0000;
    if a_inf || b_inf {
        if is_zero32(a) || is_zero32(b) {
            return NAN32;
        }
        return sign | 0x7f80_0000;
    }
    if is_zero32(a) || is_zero32(b) {
        return sign;
    }
    let (ea, ma) = norm32(a);
    let (eb, mb) = norm32(b);
    let mut exp = ea + eb - 0x7f;
    let p = mul32(ma << 7, mb << 8);
    let mut sig = p[1] | u32::from(p[0] != 0);
    if sig < 0x4000_0000 {
        exp -= 1;
        sig <<= 1;
    }
    round_pack32(sign, exp, sig)
}

pub(crate) fn f32_div(a: u32, b: u32) -> u32 {
    let sign = (a ^ b) & SIGN;
    if is_nan32(a) || is_nan32(b) {
        return NAN32;
    }
    let a_inf = (a & 0x7fff_ffff) == 0x7f80_0000;
    let b_inf = (b & 0x7fff_ffff) == 0x7f80_0000;
    if a_inf {
        if b_inf {
            return NAN32;
        }
        return sign | 0x7f80_0000;
    }
    if b_inf {
        return sign;
    }
    if is_zero32(b) {
        if is_zero32(a) {
            return NAN32;
        }
        return sign | 0x7f80_0000;
    }
    if is_zero32(a) {
        return sign;
    }
    let (ea, mut ma) = norm32(a);
    let (eb, mb) = norm32(b);
    let mut exp = ea - eb + 0x7e;
    if ma < mb {
        exp -= 1;
        ma <<= 1;
    }
    // q = floor(ma * 2^30 / mb): 31 quotient bits, the leading one at bit 30.
    let mut rem = ma;
    let mut q = 0u32;
    for _ in 0..31 {
        q <<= 1;
        if rem >= mb {
            rem -= mb;
            q |= 1;
        }
        rem <<= 1;
    }
    q |= u32::from(rem != 0);
    round_pack32(sign, exp, q)
}

pub(crate) fn f32_add(a: u32, b: u32) -> u32 {
    if is_nan32(a) || is_nan32(b) {
        return NAN32;
    }
    let a_inf = (a & 0x7fff_ffff) == 0x7f80_0000;
    let b_inf = (b & 0x7fff_ffff) == 0x7f80_0000;
    if a_inf {
        if b_inf && ((a ^ b) & SIGN) != 0 {
            return NAN32;
        }
        return a;
    }
    if b_inf {
        return b;
    }
    if is_zero32(a) {
        if is_zero32(b) {
            return a & b;
        }
        return b;
    }
    if is_zero32(b) {
        return a;
    }
    // x = the larger magnitude, y = the smaller.
    let mut x = a;
    let mut y = b;
    if (a & 0x7fff_ffff) < (b & 0x7fff_ffff) {
        x = b;
        y = a;
    }
    let mut ex = (x >> 23) & 0xff;
    let mut mx = x & 0x7f_ffff;
    if ex == 0 {
        ex = 1;
    } else {
        mx |= 0x80_0000;
    }
    let mut ey = (y >> 23) & 0xff;
    let mut my = y & 0x7f_ffff;
    if ey == 0 {
        ey = 1;
    } else {
        my |= 0x80_0000;
    }
    // Six guard bits, the larger significand's leading bit at bit 29.
    let sx = mx << 6;
    let sy = shr_jam32(my << 6, ex - ey);
    let m = if ((x ^ y) & SIGN) == 0 {
        sx + sy
    } else {
        sx - sy
    };
    if m == 0 {
        return 0;
    }
    let s = m.leading_zeros() - 1;
    round_pack32(x & SIGN, ex as i32 - s as i32, m << s)
}

/// Rust's `x < y` on binary32 (false if either is NaN; -0 == +0).
pub(crate) fn f32_lt(a: u32, b: u32) -> bool {
    if is_nan32(a) || is_nan32(b) {
        return false;
    }
    let sa = (a & SIGN) != 0;
    let sb = (b & SIGN) != 0;
    if sa != sb {
        return sa && ((a | b) & 0x7fff_ffff) != 0;
    }
    a != b && (sa != (a < b))
}

/// Rust's `f32::min`: the other operand when one is NaN.
pub(crate) fn f32_min(a: u32, b: u32) -> u32 {
    if is_nan32(a) {
        return b;
    }
    if is_nan32(b) {
        return a;
    }
    if f32_lt(b, a) {
        return b;
    }
    a
}

/// Rust's `f32::max`: the other operand when one is NaN.
pub(crate) fn f32_max(a: u32, b: u32) -> u32 {
    if is_nan32(a) {
        return b;
    }
    if is_nan32(b) {
        return a;
    }
    if f32_lt(a, b) {
        return b;
    }
    a
}

/// `round_half_away(x) as i32` as Rust computes `x.round() as i32` (saturating, NaN → 0).
pub(crate) fn f32_round_i32(a: u32) -> i32 {
    if is_nan32(a) {
        return 0;
    }
    let neg = (a & SIGN) != 0;
    let e = (a >> 23) & 0xff;
    let mag: u32;
    if e < 126 {
        mag = 0;
    } else if e == 126 {
        mag = 1;
    } else if e >= 158 {
        return if neg { i32::MIN } else { i32::MAX };
    } else {
        let m = (a & 0x7f_ffff) | 0x80_0000;
        if e >= 150 {
            mag = m << (e - 150);
        } else {
            let shift = 150 - e;
            mag = (m + (1u32 << (shift - 1))) >> shift;
        }
    }
    if neg {
        return 0i32.wrapping_sub(mag as i32);
    }
    mag as i32
}

/// `x as i32` (truncation toward zero, saturating, NaN → 0).
pub(crate) fn f32_trunc_i32(a: u32) -> i32 {
    if is_nan32(a) {
        return 0;
    }
    let neg = (a & SIGN) != 0;
    let e = (a >> 23) & 0xff;
    if e < 127 {
        return 0;
    }
    if e >= 158 {
        return if neg { i32::MIN } else { i32::MAX };
    }
    let m = (a & 0x7f_ffff) | 0x80_0000;
    let mag = if e >= 150 {
        m << (e - 150)
    } else {
        m >> (150 - e)
    };
    if neg {
        return 0i32.wrapping_sub(mag as i32);
    }
    mag as i32
}

/// An `i32` as binary32 (`x as f32`, rounding to nearest even).
pub(crate) fn i32_to_f32(x: i32) -> u32 {
    if x == 0 {
        return 0;
    }
    let sign = if x < 0 { SIGN } else { 0 };
    let mag = x.unsigned_abs();
    let lz = mag.leading_zeros();
    if lz == 0 {
        // 2^31: exact.
        return sign | 0x4f00_0000;
    }
    round_pack32(sign, 157 - lz as i32, mag << (lz - 1))
}

mod binary64;
#[cfg_attr(not(feature = "gpu"), allow(unused_imports))]
pub(crate) use binary64::*;

#[cfg(test)]
mod tests;
