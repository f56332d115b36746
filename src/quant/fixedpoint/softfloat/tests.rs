//! The soft-float twin against native `f32`/`f64` arithmetic: every edge value against every
//! edge value, then millions of random operands (uniform bit patterns, short significands that
//! make exact results and ties common, and values near each other for cancellation).

use super::*;
use crate::quant::fixedpoint::test_rng::SplitMix64;

fn w(x: f64) -> W {
    let b = x.to_bits();
    [b as u32, (b >> 32) as u32]
}

fn f(a: W) -> f64 {
    f64::from_bits((u64::from(a[1]) << 32) | u64::from(a[0]))
}

/// Bit-equal, or both NaN.
fn same32(got: u32, want: f32) -> bool {
    if want.is_nan() {
        return f32::from_bits(got).is_nan();
    }
    got == want.to_bits()
}

fn same64(got: W, want: f64) -> bool {
    if want.is_nan() {
        return f(got).is_nan();
    }
    f(got).to_bits() == want.to_bits()
}

pub(crate) fn edge32() -> Vec<u32> {
    let mut v = vec![
        0,
        SIGN,
        1,
        2,
        3,
        0x007f_ffff,
        0x0080_0000,
        0x0080_0001,
        0x7f7f_ffff,
        0x7f7f_fffe,
        0x7f80_0000,
        0x7fc0_0000,
        0x7f80_0001,
        0x3f80_0000,
        0x3f80_0001,
        0x3f7f_ffff,
        0x3f00_0000,
        0x3fc0_0000,
        0x4000_0000,
        0x42fe_0000, // 127
        0x437f_0000, // 255
        0x4f00_0000, // 2^31
        0x4eff_ffff,
        0x3eff_ffff, // just below 0.5
        0x3f40_0000, // 0.75
        0x4020_0000, // 2.5
        0x4060_0000, // 3.5
        0x0040_0000,
        0x3400_0000,
        0x3380_0000,
        0x2000_0000,
        0x5f00_0000,
        0x1000_0000,
        0x6000_0000,
    ];
    let n = v.len();
    for i in 0..n {
        v.push(v[i] ^ SIGN);
    }
    v
}

pub(crate) fn edge64() -> Vec<W> {
    let mut v: Vec<W> = vec![
        [0, 0],
        [1, 0],
        [0xffff_ffff, 0x000f_ffff],
        [0, 0x0010_0000],
        [1, 0x0010_0000],
        [0xffff_ffff, 0x7fef_ffff],
        [0, 0x7ff0_0000],
        [0, 0x7ff8_0000],
        [1, 0x7ff0_0000],
        w(1.0),
        w(0.5),
        w(1.5),
        w(2.5),
        w(127.0),
        w(128.0),
        w(-128.0),
        w(255.0),
        w(2147483647.5),
        w(2147483648.0),
        w(2147483646.5),
        w(1.0 + f64::EPSILON),
        w(1.0 - f64::EPSILON / 2.0),
        w(0.49999999999999994),
        w(1e-300),
        w(1e300),
        w(f64::from(f32::MAX)),
        w(f64::from(f32::MIN_POSITIVE)),
        w(f64::from(f32::from_bits(1))),
        w(f64::from(f32::from_bits(1)) / 2.0),
        w(f64::from(f32::from_bits(1)) * 0.75),
        w(f64::from(f32::MAX) * (1.0 + f64::EPSILON)),
        w(3.4028235677973366e38),
        w(1.0 / 3.0),
    ];
    let n = v.len();
    for i in 0..n {
        v.push([v[i][0], v[i][1] ^ SIGN]);
    }
    for x in edge32() {
        v.push(w(f64::from(f32::from_bits(x))));
    }
    v
}

/// Random binary32 bit patterns of several kinds.
pub(crate) fn random32(rng: &mut SplitMix64) -> u32 {
    let r = rng.next();
    let bits = r as u32;
    match (r >> 32) % 4 {
        0 => bits,
        // A short significand (exact products, ties) around 1.
        1 => (bits & 0x8000_0000) | (((bits >> 23) % 40 + 107) << 23) | (bits & 0x7f_f000),
        // A subnormal or small normal.
        2 => bits & 0x80ff_ffff,
        // Near 1 (cancellation in sums).
        _ => (bits & 0x8000_0000) | (((bits >> 23) % 4 + 125) << 23) | (bits & 0x7f_ffff),
    }
}

pub(crate) fn random64(rng: &mut SplitMix64) -> W {
    let r = rng.next();
    let a = [r as u32, (r >> 32) as u32];
    match rng.next() % 5 {
        0 => a,
        1 => [
            a[0] & 0xfff0_0000,
            (a[1] & 0x800f_ffff) | (((a[1] >> 20) % 64 + 992) << 20),
        ],
        2 => [a[0], a[1] & 0x801f_ffff],
        3 => w(f64::from(f32::from_bits(random32(rng)))),
        _ => [
            a[0],
            (a[1] & 0x800f_ffff) | (((a[1] >> 20) % 8 + 1019) << 20),
        ],
    }
}

type Op32 = (&'static str, fn(u32, u32) -> u32, fn(f32, f32) -> f32);

fn ops32() -> Vec<Op32> {
    vec![
        ("mul", f32_mul, |a, b| a * b),
        ("div", f32_div, |a, b| a / b),
        ("add", f32_add, |a, b| a + b),
    ]
}

type Op64 = (&'static str, fn(W, W) -> W, fn(f64, f64) -> f64);

fn ops64() -> Vec<Op64> {
    vec![
        ("add", f64_add, |a, b| a + b),
        ("sub", f64_sub, |a, b| a - b),
        ("div", f64_div, |a, b| a / b),
    ]
}

fn check32(a: u32, b: u32) {
    let (x, y) = (f32::from_bits(a), f32::from_bits(b));
    for (name, soft, native) in ops32() {
        let got = soft(a, b);
        assert!(
            same32(got, native(x, y)),
            "f32 {name}({a:#010x}, {b:#010x}) = {got:#010x}, native {:#010x}",
            native(x, y).to_bits()
        );
    }
    assert_eq!(f32_lt(a, b), x < y, "f32 lt {a:#x} {b:#x}");
    if !(x == 0.0 && y == 0.0) {
        assert!(same32(f32_min(a, b), x.min(y)), "min {a:#x} {b:#x}");
        assert!(same32(f32_max(a, b), x.max(y)), "max {a:#x} {b:#x}");
    }
}

fn check1_32(a: u32) {
    let x = f32::from_bits(a);
    assert_eq!(f32_round_i32(a), x.round() as i32, "round {a:#x} ({x})");
    assert_eq!(f32_trunc_i32(a), x as i32, "trunc {a:#x} ({x})");
    assert!(same64(f32_to_f64(a), f64::from(x)), "to f64 {a:#x}");
    let i = a as i32;
    assert_eq!(i32_to_f32(i), (i as f32).to_bits(), "i32 {i} to f32");
}

fn check64(a: W, b: W) {
    let (x, y) = (f(a), f(b));
    for (name, soft, native) in ops64() {
        let got = soft(a, b);
        assert!(
            same64(got, native(x, y)),
            "f64 {name}({x:e} {a:x?}, {y:e} {b:x?}) = {:e} {got:x?}, native {:e}",
            f(got),
            native(x, y)
        );
    }
    assert_eq!(f64_lt(a, b), x < y, "f64 lt {x:e} {y:e}");
    assert_eq!(f64_le(a, b), x <= y, "f64 le {x:e} {y:e}");
}

fn check1_64(a: W) {
    let x = f(a);
    assert_eq!(f64_round_i32(a), x.round() as i32, "round {x:e} {a:x?}");
    assert!(same32(f64_to_f32(a), x as f32), "to f32 {x:e} {a:x?}");
}

#[test]
fn helpers_64() {
    let mut rng = SplitMix64(7);
    for _ in 0..200_000 {
        let (a, b) = (rng.next(), rng.next());
        let (wa, wb) = ([a as u32, (a >> 32) as u32], [b as u32, (b >> 32) as u32]);
        let n = (rng.next() % 70) as u32;
        let back = |x: W| (u64::from(x[1]) << 32) | u64::from(x[0]);
        assert_eq!(back(add64(wa, wb)), a.wrapping_add(b));
        assert_eq!(back(sub64(wa, wb)), a.wrapping_sub(b));
        assert_eq!(lt64(wa, wb), a < b);
        assert_eq!(back(shl64(wa, n)), a.checked_shl(n).unwrap_or(0));
        assert_eq!(back(shr64(wa, n)), a.checked_shr(n).unwrap_or(0));
        let jam = a.checked_shr(n).unwrap_or(0)
            | u64::from(a.checked_shr(n).unwrap_or(0).checked_shl(n).unwrap_or(0) != a);
        assert_eq!(back(shr_jam64(wa, n)), jam, "{a:x} >> {n}");
        assert_eq!(clz64(wa), a.leading_zeros());
        assert_eq!(
            back(mul32(a as u32, b as u32)),
            (a as u32 as u64) * (b as u32 as u64)
        );
    }
}

#[test]
fn binary32_edges() {
    let e = edge32();
    for &a in &e {
        check1_32(a);
        for &b in &e {
            check32(a, b);
        }
    }
}

#[test]
fn binary32_random() {
    let mut rng = SplitMix64(0x5eed_0f32);
    for _ in 0..2_000_000 {
        let (a, b) = (random32(&mut rng), random32(&mut rng));
        check32(a, b);
        check1_32(a);
    }
}

#[test]
fn binary64_edges() {
    let e = edge64();
    for &a in &e {
        check1_64(a);
        for &b in &e {
            check64(a, b);
        }
    }
}

#[test]
fn binary64_random() {
    let mut rng = SplitMix64(0x5eed_0f64);
    for _ in 0..1_000_000 {
        let (a, b) = (random64(&mut rng), random64(&mut rng));
        check64(a, b);
        check1_64(a);
        check1_64(b);
    }
}
