//! QUANTIZE float→int in `u32` arithmetic: `round_half_away(x / scale) + zp` with the
//! correctly rounded division of `super::softfloat`; the line-for-line twin of
//! `shaders/common/softdiv.wgsl`.
//!
//! Why: QUANTIZE float→int computes `round_half_away(x / scale) + zp` with `x / scale` an
//! IEEE f32 division (correctly rounded on the CPU). WGSL's `/` on f32 is only accurate to
//! 2.5 ulp and may flush subnormals, so an int8 result derived from it could differ from the
//! reference. The GPU divides with these integer steps instead; the tests prove them equal
//! to native `x / s` (edge values and millions of random pairs), and `tests/gpu_elementwise.rs`
//! runs the WGSL twin over the same values.

/// The canonical quiet NaN the division returns for invalid operations and NaN operands.
pub const QNAN: u32 = super::softfloat::NAN32;

/// `a / b` on the bit patterns of two f32 values; the bit pattern of the correctly rounded
/// quotient (any NaN result is [`QNAN`]): the soft float's `f32_div`.
pub fn f32_div_bits(a: u32, b: u32) -> u32 {
    super::softfloat::f32_div(a, b)
}

/// `x / s` correctly rounded, through [`f32_div_bits`].
pub fn f32_div(x: f32, s: f32) -> f32 {
    f32::from_bits(f32_div_bits(x.to_bits(), s.to_bits()))
}

/// `round_half_away(q)` of the f32 with bits `q`, as `i32`, clamped to `[-2^24, 2^24]`
/// (every f32 of magnitude at least 2^23 is already an integer); NaN gives `None`.
/// Twin of `round_half_away_clamped` in `shaders/common/softdiv.wgsl`.
pub fn round_half_away_bits(q: u32) -> Option<i32> {
    let abs = q & 0x7fff_ffff;
    if abs > 0x7f80_0000 {
        return None;
    }
    let negative = (q >> 31) == 1;
    let mag: i32 = if abs >= 0x4b80_0000 {
        // |q| >= 2^24 (and infinity): the clamp bound.
        1 << 24
    } else if abs < 0x3f00_0000 {
        // |q| < 0.5.
        0
    } else {
        // 0.5 <= |q| < 2^24: value = m * 2^(field - 150), round by adding half of the last
        // dropped bit's weight (half away from zero on the magnitude).
        let field = abs >> 23;
        let m = (abs & 0x007f_ffff) | 0x0080_0000;
        if field >= 150 {
            (m << (field - 150)) as i32
        } else {
            let s = 150 - field; // 1..=24
            ((m + (1u32 << (s - 1))) >> s) as i32
        }
    };
    Some(if negative { -mag } else { mag })
}

/// The largest zero point magnitude (and output bound) [`affine_quantize_soft`] accepts.
pub const SOFT_QUANTIZE_LIMIT: i32 = 1 << 20;

/// QUANTIZE float→int of one element on f32 bit patterns:
/// `clamp(round_half_away(x / scale) + zp, lo, hi)`, NaN to 0 — the reference's
/// `AffineQuantize` when `|zp|`, `|lo|`, `|hi|` are at most [`SOFT_QUANTIZE_LIMIT`] (the
/// rounded quotient is clamped to ±2^24 first, which cannot change the final clamp then).
/// Twin of `affine_quantize_soft` in `shaders/common/softdiv.wgsl`.
pub fn affine_quantize_soft(x: u32, scale: u32, zp: i32, lo: i32, hi: i32) -> i32 {
    match round_half_away_bits(f32_div_bits(x, scale)) {
        None => 0,
        Some(r) => (r + zp).max(lo).min(hi),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_rng::SplitMix64 as Rng;
    use super::*;

    fn check(a: u32, b: u32) {
        let want = f32::from_bits(a) / f32::from_bits(b);
        let got = f32_div_bits(a, b);
        if want.is_nan() {
            assert_eq!(got, QNAN, "{a:#010x} / {b:#010x}: want NaN");
        } else {
            assert_eq!(
                got,
                want.to_bits(),
                "{a:#010x} / {b:#010x} = {want:e}: got {:e}",
                f32::from_bits(got)
            );
        }
    }

    /// Edge values: zeros, subnormals (smallest, largest), smallest/largest normals, 1 and
    /// its neighbours, infinities, NaNs, both signs.
    fn edges() -> Vec<u32> {
        let mut v = vec![
            0x0000_0000,
            0x0000_0001,
            0x0000_0002,
            0x0000_0003,
            0x0040_0000,
            0x007f_ffff,
            0x0080_0000,
            0x0080_0001,
            0x00ff_ffff,
            0x3f00_0000,
            0x3f7f_ffff,
            0x3f80_0000,
            0x3f80_0001,
            0x3fc0_0000,
            0x4000_0000,
            0x4040_0000,
            0x4b00_0000,
            0x4b7f_ffff,
            0x4b80_0000,
            0x3dcc_cccd, // 0.1
            0x3c00_0000, // 1/128
            0x3b80_0000, // 1/256
            0x7f7f_ffff,
            0x7f7f_fffe,
            0x7f00_0000,
            0x7f80_0000,
            0x7fc0_0000,
            0x7f80_0001,
            0x7fff_ffff,
        ];
        let neg: Vec<u32> = v.iter().map(|x| x | 0x8000_0000).collect();
        v.extend(neg);
        v
    }

    #[test]
    fn edge_pairs_match_native_division() {
        let e = edges();
        for &a in &e {
            for &b in &e {
                check(a, b);
            }
        }
    }

    /// Random bit patterns over every exponent (overflow, underflow, NaN payloads).
    #[test]
    fn random_bit_patterns_match_native_division() {
        let mut rng = Rng(0x5eed_0001);
        for _ in 0..2_000_000 {
            let r = rng.next();
            check(r as u32, (r >> 32) as u32);
        }
    }

    /// Operands with close exponents (quotients near 1, every rounding case), subnormal
    /// operands and quotients near the subnormal and overflow boundaries.
    #[test]
    fn random_near_ratios_and_subnormals_match_native_division() {
        let mut rng = Rng(0x5eed_0002);
        for i in 0..3_000_000u32 {
            let r = rng.next();
            let (lo, hi) = (r as u32, (r >> 32) as u32);
            let (a, b) = match i % 6 {
                // Same binade.
                0 => (lo, (lo & 0xff80_0000) | (hi & 0x007f_ffff)),
                // Exponents within ±2.
                1 => (
                    lo,
                    ((lo & 0x7f80_0000)
                        .wrapping_add((hi % 5) << 23)
                        .wrapping_sub(2 << 23)
                        & 0x7f80_0000)
                        | (hi & 0x807f_ffff),
                ),
                // Subnormal dividend.
                2 => (lo & 0x807f_ffff, hi),
                // Subnormal divisor.
                3 => (lo, hi & 0x807f_ffff),
                // Quotient exponent near the subnormal range: small / large-ish.
                4 => (
                    (lo & 0x807f_ffff) | ((1 + hi % 40) << 23),
                    (hi & 0x807f_ffff) | ((100 + (lo >> 24) % 60) << 23),
                ),
                // Quotient near the overflow boundary.
                _ => (
                    (lo & 0x807f_ffff) | ((200 + hi % 54) << 23),
                    (hi & 0x807f_ffff) | ((60 + (lo >> 24) % 20) << 23),
                ),
            };
            check(a, b);
        }
    }

    /// QUANTIZE-like operands: activations over scales, and exact halves `(k + 0.5) * s`.
    #[test]
    fn quantize_like_values_and_halves_match_native_division() {
        let mut rng = Rng(0x5eed_0003);
        for _ in 0..1_000_000 {
            let s = f32::from_bits(0x3000_0000 + (rng.next() as u32 % 0x0f00_0000)); // ~5e-10..~1
            let x = rng.unit_f32() * 200.0;
            check(x.to_bits(), s.to_bits());
            let k = (rng.next() % 65_536) as f32 - 32_768.0;
            let h = (k + 0.5) * s;
            check(h.to_bits(), s.to_bits());
            check(f32::from_bits(h.to_bits() + 1).to_bits(), s.to_bits());
            check(
                f32::from_bits(h.to_bits().wrapping_sub(1)).to_bits(),
                s.to_bits(),
            );
        }
    }

    #[test]
    fn round_half_away_matches_f32_round() {
        let mut cases: Vec<u32> = edges();
        let mut rng = Rng(0x5eed_0004);
        for _ in 0..1_000_000 {
            cases.push(rng.next() as u32);
            // Values of moderate magnitude, halves among them.
            let k = (rng.next() % 200_000) as f32 / 2.0 - 50_000.0;
            cases.push(k.to_bits());
            cases.push((rng.unit_f32() * 3.0).to_bits());
        }
        for bits in 0x3eff_fff0..0x3f00_0010u32 {
            cases.push(bits);
            cases.push(bits | 0x8000_0000);
        }
        for q in cases {
            let x = f32::from_bits(q);
            let got = round_half_away_bits(q);
            if x.is_nan() {
                assert_eq!(got, None);
                continue;
            }
            let want = x.round().clamp(-16_777_216.0, 16_777_216.0) as i32;
            assert_eq!(got, Some(want), "round({x:e})");
        }
    }
}
