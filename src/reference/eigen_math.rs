//! Eigen's vectorised special functions for float32, as LiteRT's kernels evaluate them.
//!
//! Several float kernels are Eigen array expressions (`output_map.array() = ...`), so their
//! results are Eigen's packet approximations, not the C library's functions:
//!
//! - GELU (`reference_ops::Gelu`, `internal/reference/gelu.h`, both resolvers):
//!   `0.5·x·erfc(x·(−√½))` with Eigen's `generic_fast_erfc<float>`
//!   (`unsupported/Eigen/src/SpecialFunctions/SpecialFunctionsImpl.h`), and the approximate
//!   form `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` with `x.cube()` = `x·x·x` and Eigen's
//!   fast-math `ptanh_float` (`Eigen/src/Core/arch/Default/GenericPacketMathTrig.h`, the
//!   9/8 rational form clamped at ±7.90738964 when there is no FMA).
//! - The optimized (calibrating) kernels of float LOGISTIC (`optimized_ops::Logistic`,
//!   Eigen's `scalar_logistic_op<float>::packetOp`, `Eigen/src/Core/functors/UnaryFunctors.h`)
//!   and TANH (`optimized_ops::Tanh`, `ptanh_float`).
//!
//! One difference separates the two builds measured here. erfc's reciprocal `1/x²` is
//! Eigen's `preciprocal`: with `EIGEN_FAST_MATH` on AVX it is the hardware's approximate
//! `rcpps` refined by one Newton step (`generic_reciprocal_newton_step`), otherwise a
//! division. ai-edge-litert 2.3.0 (the BUILTIN_REF judge) divides; the interpreter in
//! TensorFlow 2.21's wheel (the converter's calibrator) uses `rcpps` — for every element,
//! the ragged end of an array included. `rcpps` is an approximation whose bits depend on the
//! CPU's implementation (they differ between vendors), so the calibrator's GELU is a fact
//! of the machine it runs on, like Eigen's cache blocking: [`Recip::Rcpps`] runs this
//! machine's instruction, which reproduces the converter run on this machine.
//!
//! Every function here was compared with the real runtimes element by element: LiteRT's
//! BUILTIN_REF GELU (both forms) and TF's interpreter's GELU/LOGISTIC/TANH on 10⁵ values
//! each, 0 differing (`tools/make_unary_tables.py`: `gelu_float32.npz`,
//! `eigen_float32.npz`; tests in `elementwise/tests.rs`).

use super::float_order::eigen_pexp;

/// How erfc's `1/x²` is computed (Eigen's `preciprocal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recip {
    /// A correctly rounded division (`pdiv(1, a)`): LiteRT's build.
    Divide,
    /// `rcpps` and one Newton step (`EIGEN_FAST_MATH` on AVX): TensorFlow's build.
    Rcpps,
}

/// Eigen's `generic_reciprocal_newton_step<Packet, 1>` over the hardware's `rcpps`:
/// `x = rcp(a)`, `t = 1 − a·x`, then `x·t + x` (without FMA every operation rounds), or `x`
/// itself when `t` is NaN (`a` zero or infinite).
fn recip_rcpps(a: f32) -> f32 {
    let x = rcpps(a);
    let t = 1.0 - a * x;
    if t.is_nan() {
        x
    } else {
        x * t + x
    }
}

#[cfg(target_arch = "x86_64")]
fn rcpps(a: f32) -> f32 {
    use std::arch::x86_64::{_mm_cvtss_f32, _mm_rcp_ss, _mm_set_ss};
    // SAFETY: SSE is part of the x86-64 baseline, so these instructions always exist; they
    // touch registers only.
    unsafe { _mm_cvtss_f32(_mm_rcp_ss(_mm_set_ss(a))) }
}

/// Without `rcpps` (not an x86-64 build) the converter's approximation cannot be reproduced;
/// the correctly rounded reciprocal is within its error bound.
#[cfg(not(target_arch = "x86_64"))]
fn rcpps(a: f32) -> f32 {
    1.0 / a
}

/// Eigen's `ppolevl`: Horner's scheme from the highest coefficient, `r·x + c` rounded twice.
fn polevl(x: f32, coeffs: &[f32]) -> f32 {
    let mut r = coeffs[0];
    for &c in &coeffs[1..] {
        r = r * x + c;
    }
    r
}

/// `pmin(a, b)` on AVX (`_mm256_min_ps(b, a)`): `b < a ? b : a`, so a NaN in `a` survives.
fn pmin(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

/// `pmax(a, b)` on AVX (`_mm256_max_ps(b, a)`): `b > a ? b : a`, so a NaN in `a` survives.
fn pmax(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

/// `generic_fast_erfc<float>::run`: `1 + x·S(x²)` for `x² ≤ 1`, else
/// `exp(−x²)·(1 − x²_lo)·P(1/x²)/(x·Q(1/x²))` (+2 for negative `x`), `x` clamped to ±11.
pub(crate) fn erfc(x_in: f32, recip: Recip) -> f32 {
    // Eigen's coefficients (exact float32 values, written as their shortest decimals).
    const ALPHA: [f32; 6] = [
        0.000_561_802_3,
        -0.004_913_816_7,
        0.026_707_515,
        -0.112_800_11,
        0.376_122_95,
        // -1.12837910652160644531250000000 (one float below −2/√π rounded).
        f32::from_bits(0xbf90_6eba),
    ];
    const GAMMA: [f32; 4] = [0.102_081_165, 0.429_206_67, 0.323_790_8, 0.053_971_976];
    const DELTA: [f32; 5] = [0.017_251_678, 0.391_371_64, 1.0, 0.621_732_4, 0.095_662_86];
    let x = pmin(pmax(x_in, -11.0), 11.0);
    let x2 = x * x;
    let small = x * polevl(x2, &ALPHA) + 1.0;
    // Eigen selects with `pcmp_lt(1, x²)`: a NaN x² keeps the small branch.
    if x2.partial_cmp(&1.0) != Some(std::cmp::Ordering::Greater) {
        return small;
    }
    // twoprod_low: the rounding error of x·x, exact (Dekker's or an FMA's, the same value).
    let x2_lo = (f64::from(x) * f64::from(x) - f64::from(x2)) as f32;
    let exp2_hi = eigen_pexp(-x2);
    // pnmadd(exp2_hi, x2_lo, exp2_hi) without FMA: exp2_hi − exp2_hi·x2_lo.
    let z = exp2_hi - exp2_hi * x2_lo;
    let q2 = match recip {
        Recip::Divide => 1.0 / x2,
        Recip::Rcpps => recip_rcpps(x2),
    };
    let num = polevl(q2, &GAMMA);
    let denom = x * polevl(q2, &DELTA);
    let r = num / denom;
    let maybe_two = if x < 0.0 { 2.0 } else { 0.0 };
    z * r + maybe_two
}

/// Eigen's fast-math `ptanh_float` without FMA: `x` clamped to ±7.90738964, then
/// `(x³·P(x²) + x) / Q(x²)`.
pub(crate) fn tanh(a: f32) -> f32 {
    const ALPHA: [f32; 4] = [
        1.394_553_6e-8,
        2.102_733_6e-5,
        0.003_520_756_7,
        0.134_021_61,
    ];
    const BETA: [f32; 5] = [
        8.015_777e-7,
        0.000_332_695_14,
        0.025_972_545,
        0.467_354_83,
        1.0,
    ];
    const CLAMP: f32 = 7.907_389_6;
    let x = pmax(pmin(a, CLAMP), -CLAMP);
    let x2 = x * x;
    let x3 = x2 * x;
    let p = x3 * polevl(x2, &ALPHA) + x;
    p / polevl(x2, &BETA)
}

/// `scalar_logistic_op<float>::packetOp`: `x` capped at 16.6355324 and halved, `e =
/// exp(x/2)` by a degree-5 polynomial and `2^m`, squared, then `e / (1 + e)`; 0 below −104.
pub(crate) fn logistic(x_in: f32) -> f32 {
    let zero = x_in < -104.0;
    let x = pmin(x_in, 16.635_532) * 0.5;
    let m = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = m * -0.693_359_4 + x;
    let r = m * 0.000_212_194_44 + r;
    let r2 = r * r;
    let p_even = r2 * 0.041_898_668 + 0.499_991_42;
    let p_odd = r2 * 0.008_334_713 + 0.166_668_77;
    let p = r * p_odd + p_even;
    let p = r2 * p + (r + 1.0);
    // pldexp_fast: 2^m is a normal float here (|m| ≤ 76), so the product is exact or NaN.
    let e = if m.is_finite() {
        (f64::from(p) * 2f64.powi(m as i32)) as f32
    } else {
        p * m
    };
    let e = e * e;
    if zero {
        0.0
    } else {
        e / (1.0 + e)
    }
}

/// `M_SQRT1_2` rounded to float.
const SQRT1_2: f32 = std::f64::consts::FRAC_1_SQRT_2 as f32;
/// `kSqrt2dPi = M_2_SQRTPI * M_SQRT1_2`, a `constexpr float` (the product in double).
const SQRT_2_OVER_PI: f32 =
    (std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2) as f32;

/// Float GELU as `reference_ops::Gelu`'s Eigen expression: `(0.5·x)·erfc(x·(−√½))`.
pub(crate) fn gelu(x: f32, recip: Recip) -> f32 {
    0.5 * x * erfc(x * -SQRT1_2, recip)
}

/// Approximate float GELU as `reference_ops::Gelu`'s Eigen expression:
/// `(0.5·x)·(1 + tanh(√(2/π)·(x + 0.044715·(x·x·x))))`.
pub(crate) fn gelu_approximate(x: f32) -> f32 {
    0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_edges() {
        for recip in [Recip::Divide, Recip::Rcpps] {
            assert_eq!(erfc(0.0, recip), 1.0);
            assert_eq!(erfc(f32::INFINITY, recip), 0.0);
            assert_eq!(erfc(f32::NEG_INFINITY, recip), 2.0);
            assert!(erfc(f32::NAN, recip).is_nan() || erfc(f32::NAN, recip) == 1.0);
            // Within a few ulp of the C library on [−4, 4].
            for i in 0..800 {
                let x = -4.0 + i as f32 * 0.01;
                let (a, b) = (erfc(x, recip), libm_erfc(x));
                assert!(
                    (a - b).abs() <= 8.0 * f32::EPSILON * b.abs(),
                    "{x}: {a} vs {b}"
                );
            }
        }
    }

    fn libm_erfc(x: f32) -> f32 {
        (1.0 - erf64(f64::from(x))) as f32
    }

    /// erf by its series / continued fraction in double, for the tolerance check only.
    fn erf64(x: f64) -> f64 {
        // Abramowitz–Stegun 7.1.26 is too coarse; integrate exp(-t²) by Simpson's rule.
        let n = 2000;
        let h = x / n as f64;
        let f = |t: f64| (-t * t).exp();
        let mut s = f(0.0) + f(x);
        for i in 1..n {
            s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(i as f64 * h);
        }
        s * h / 3.0 * std::f64::consts::FRAC_2_SQRT_PI
    }

    #[test]
    fn tanh_and_logistic_edges() {
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(20.0), 1.0);
        assert_eq!(tanh(-20.0), -1.0);
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(logistic(-200.0), 0.0);
        assert_eq!(logistic(30.0), 1.0);
        assert!(logistic(f32::NAN).is_nan());
        for i in 0..1000 {
            let x = -8.0 + i as f32 * 0.016;
            assert!((tanh(x) - x.tanh()).abs() <= 4.0 * f32::EPSILON);
            let s = 1.0 / (1.0 + (-x).exp());
            assert!((logistic(x) - s).abs() <= 4.0 * f32::EPSILON * s);
        }
    }

    use crate::data::Npz;
    use crate::reference::test_support::fixtures_dir;

    fn table(name: &str, keys: &[&str]) -> Vec<Vec<f32>> {
        let path = fixtures_dir().join("unary_tables").join(name);
        let mut npz = Npz::open(&path).unwrap();
        keys.iter()
            .map(|k| npz.read(k).unwrap().as_f32().unwrap().to_vec())
            .collect()
    }

    /// How many of `want` differ from `f` bit for bit (NaN equal to NaN).
    fn differing(x: &[f32], want: &[f32], f: impl Fn(f32) -> f32) -> Vec<String> {
        assert_eq!(x.len(), want.len());
        x.iter()
            .zip(want)
            .filter_map(|(&v, &w)| {
                let got = f(v);
                let same = got.to_bits() == w.to_bits() || (got.is_nan() && w.is_nan());
                (!same).then(|| format!("x = {v:e}: got {got:e}, want {w:e}"))
            })
            .collect()
    }

    /// LiteRT's BUILTIN_REF float GELU, both forms, on 11,019 values: Eigen's erfc with a
    /// divided reciprocal and Eigen's fast tanh, bit for bit (`gelu_float32.npz`).
    #[test]
    fn gelu_is_litert_bit_for_bit() {
        let t = table("gelu_float32.npz", &["inputs", "exact", "approximate"]);
        assert!(t[0].len() > 10_000);
        let bad = differing(&t[0], &t[1], |x| gelu(x, Recip::Divide));
        assert!(
            bad.is_empty(),
            "{} differ: {:?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
        let bad = differing(&t[0], &t[2], gelu_approximate);
        assert!(
            bad.is_empty(),
            "{} differ: {:?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
        // The C library's erfcf (the int8 table's function) is not LiteRT's float kernel.
        let libc = differing(&t[0], &t[1], super::super::elementwise::gelu_transform);
        assert!(libc.len() > 1000, "{}", libc.len());
    }

    /// A digest of this CPU's `rcpps` over 4,096 mantissas.
    fn rcpps_digest() -> u64 {
        (0..4096u32).fold(0xcbf2_9ce4_8422_2325u64, |h, i| {
            let a = f32::from_bits(0x3f80_0000 | (i << 11));
            (h ^ u64::from(rcpps(a).to_bits())).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// `rcpps_digest` on the machine `eigen_float32.npz` was made on (AMD EPYC, x86-64).
    const FIXTURE_RCPPS_DIGEST: u64 = 0xe9c6_a84b_ade3_9325;

    /// TF's interpreter — the converter's calibrator — on float LOGISTIC, TANH (bit for bit
    /// everywhere) and GELU (bit for bit where this CPU's `rcpps` is the fixture machine's;
    /// elsewhere within 4 ulp, since `rcpps` is the CPU's own approximation).
    #[test]
    fn converter_kernels_are_tf_bit_for_bit() {
        let t = table("eigen_float32.npz", &["inputs", "gelu", "logistic", "tanh"]);
        assert!(t[0].len() > 10_000);
        let bad = differing(&t[0], &t[2], logistic);
        assert!(
            bad.is_empty(),
            "LOGISTIC: {} differ: {:?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
        let bad = differing(&t[0], &t[3], tanh);
        assert!(
            bad.is_empty(),
            "TANH: {} differ: {:?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
        // The reference kernels' functions are not the converter's.
        assert!(differing(&t[0], &t[3], f32::tanh).len() > 1000);
        assert!(differing(&t[0], &t[1], |x| gelu(x, Recip::Divide)).len() > 100);
        let digest = rcpps_digest();
        println!("rcpps digest of this CPU: {digest:#018x}");
        if digest == FIXTURE_RCPPS_DIGEST {
            let bad = differing(&t[0], &t[1], |x| gelu(x, Recip::Rcpps));
            assert!(
                bad.is_empty(),
                "GELU: {} differ: {:?}",
                bad.len(),
                &bad[..bad.len().min(5)]
            );
        } else {
            eprintln!("this CPU's rcpps is not the fixture machine's: GELU checked within 4 ulp");
            for (&x, &w) in t[0].iter().zip(&t[1]) {
                let got = gelu(x, Recip::Rcpps);
                if w.is_finite() {
                    let ulps = (got.to_bits() as i64 - w.to_bits() as i64).abs();
                    assert!(ulps <= 4 || (got - w).abs() < 1e-30, "{x}: {got} vs {w}");
                }
            }
        }
    }
}
