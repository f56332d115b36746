//! Tests of QUANTIZE and DEQUANTIZE.

use super::*;
use crate::reference::test_support::{run_alone_everywhere, Compare};

#[test]
fn affine_quantize_rounds_half_away_and_clamps() {
    // x / scale exactly halfway: 0.5 -> 1, -0.5 -> -1, 2.5 -> 3.
    assert_eq!(affine_quantize::<i8>(0.5, 1.0, 0), 1);
    assert_eq!(affine_quantize::<i8>(-0.5, 1.0, 0), -1);
    assert_eq!(affine_quantize::<i8>(2.5, 1.0, 0), 3);
    assert_eq!(affine_quantize::<i8>(-2.5, 1.0, 3), 0);
    // Clamps at the type's range.
    assert_eq!(affine_quantize::<i8>(1e9, 0.1, 0), 127);
    assert_eq!(affine_quantize::<i8>(-1e9, 0.1, 0), -128);
    assert_eq!(affine_quantize::<u8>(-1.0, 0.1, 10), 0);
    assert_eq!(affine_quantize::<u8>(30.0, 0.1, 10), 255);
    assert_eq!(affine_quantize::<i16>(-1e9, 0.1, 0), i16::MIN);
    assert_eq!(affine_quantize::<i8>(f32::INFINITY, 0.1, 0), 127);
    assert_eq!(affine_quantize::<i8>(f32::NEG_INFINITY, 0.1, 0), -128);
    assert_eq!(affine_quantize::<i8>(f32::NAN, 0.1, 0), 0);
}

#[test]
fn affine_quantize_divides_in_float() {
    // A value whose float quotient lands exactly on .5 while the double quotient is
    // below it: the float division decides the rounding.
    let scale = 0.1f32;
    let mut found = false;
    for k in -2000..2000 {
        let x = (k as f32 + 0.5) * scale;
        let qf = (x / scale).round();
        let qd = (x as f64 / scale as f64).round() as f32;
        if qf != qd {
            found = true;
            assert_eq!(affine_quantize::<i16>(x, scale, 0) as f32, qf);
        }
    }
    assert!(found, "expected at least one float/double disagreement");
}

/// The GPU's integer-only QUANTIZE element (`softdiv`) equals `AffineQuantize` for
/// every output type, over scales from tiny to huge, edge zero points, exact halves,
/// infinities and NaN.
#[test]
fn soft_affine_quantize_equals_reference() {
    use crate::quant::fixedpoint::softdiv::affine_quantize_soft;
    use crate::quant::fixedpoint::test_rng::SplitMix64;
    fn both<T: QInt>(x: f32, s: f32, zp: i32) {
        let want = affine_quantize::<T>(x, s, zp).to_i32();
        let got = affine_quantize_soft(x.to_bits(), s.to_bits(), zp, T::MIN, T::MAX);
        assert_eq!(got, want, "x={x:e} scale={s:e} zp={zp}");
    }
    let mut rng = SplitMix64(0x0a11_7e57);
    let specials = [
        0.0f32,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-45,
        -1e-45,
    ];
    for i in 0..400_000 {
        let s = f32::from_bits(0x2000_0000 + (rng.next() as u32 % 0x3f00_0000));
        let x = match i % 4 {
            0 => rng.unit_f32() * 300.0,
            1 => ((rng.next() % 70_000) as f32 - 35_000.0 + 0.5) * s,
            2 => f32::from_bits(rng.next() as u32),
            _ => specials[i % specials.len()],
        };
        let zp8 = [-128, -127, 0, 1, 127][i % 5];
        both::<i8>(x, s, zp8);
        both::<u8>(x, s, [0, 1, 128, 254, 255][i % 5]);
        both::<i16>(x, s, [0, -32768, 32767, 5][i % 4]);
    }
}

/// The per-tensor DEQUANTIZE's double product rounded to float equals one f32 product
/// `scale * f32(q - zp)` (the GPU's): the double product of a 24-bit significand and an
/// integer below 2^25 is exact, so both round the same real number once.
#[test]
fn double_product_equals_one_float_product() {
    use crate::quant::fixedpoint::test_rng::SplitMix64;
    let mut rng = SplitMix64(0xd0_0b1e);
    for i in 0..200_000 {
        let scale = match i % 3 {
            0 => f32::from_bits(rng.next() as u32 & 0x7fff_ffff),
            1 => f32::from_bits(rng.next() as u32 & 0x007f_ffff), // subnormal
            _ => f32::from_bits(0x3000_0000 + (rng.next() as u32 % 0x1000_0000)),
        };
        if !scale.is_finite() {
            continue;
        }
        let n = (rng.next() % (1 << 18)) as i32 - (1 << 17);
        let double = (scale as f64 * n as f64) as f32;
        let single = scale * n as f32;
        assert_eq!(double.to_bits(), single.to_bits(), "{scale:e} * {n}");
    }
}

#[test]
fn requantize_matches_definition_and_bit_flip() {
    let r = Requant {
        multiplier: quantize_multiplier(1.0),
        input_zero_point: -3,
        output_zero_point: 125,
        bit_flip: true,
    };
    let input: Vec<i8> = (-128..=127).collect();
    let mut out = vec![0u8; 256];
    requantize_all(&input, &mut out, &r);
    let mut slow = vec![0u8; 256];
    requantize_all(
        &input,
        &mut slow,
        &Requant {
            bit_flip: false,
            ..r.clone()
        },
    );
    assert_eq!(out, slow);
    assert_eq!(out[0], 0);
    assert_eq!(out[255], 255);
    // uint8 -> int8.
    let input: Vec<u8> = (0..=255).collect();
    let mut out = vec![0i8; 256];
    let r = Requant {
        multiplier: quantize_multiplier(1.0),
        input_zero_point: 128,
        output_zero_point: 0,
        bit_flip: true,
    };
    requantize_all(&input, &mut out, &r);
    let mut slow = vec![0i8; 256];
    requantize_all(
        &input,
        &mut slow,
        &Requant {
            bit_flip: false,
            ..r
        },
    );
    assert_eq!(out, slow);
    assert_eq!((out[0], out[255]), (-128, 127));
}

#[test]
fn requantize_rescales_with_rounding() {
    // (1/128, 0) -> (1/256, -128): x * 2 - 128, clamped.
    let r = Requant {
        multiplier: quantize_multiplier((1.0f32 / 128.0) as f64 / (1.0f32 / 256.0) as f64),
        input_zero_point: 0,
        output_zero_point: -128,
        bit_flip: false,
    };
    let mut out = [0i8; 4];
    requantize_all(&[-128i8, 0, 63, 127], &mut out, &r);
    assert_eq!(out, [-128, -128, -2, 126]);
    // Multiplier 0.5 is (2^30, shift 0): SRDHM alone rounds, and its nudge sends
    // negative ties toward zero: 1.5 -> 2, -1.5 -> -1, 0.5 -> 1, -0.5 -> 0.
    let r = Requant {
        multiplier: quantize_multiplier(0.5),
        input_zero_point: 0,
        output_zero_point: 0,
        bit_flip: false,
    };
    let mut out = [0i8; 4];
    requantize_all(&[3i8, -3, 1, -1], &mut out, &r);
    assert_eq!(out, [2, -1, 1, 0]);
}

#[test]
fn dequantize_products() {
    let mut out = [0f32; 3];
    dequantize_all(&[-128i8, 0, 127], &mut out, 0.1, -3);
    for (o, q) in out.iter().zip([-128i32, 0, 127]) {
        assert_eq!(*o, (0.1f32 as f64 * (q + 3) as f64) as f32);
    }
    let pc = PerChannel {
        scales: vec![0.5, 0.25],
        zero_points: vec![0, 1],
        inner: 1,
        channels: 2,
    };
    let mut out = [0f32; 4];
    per_channel_dequantize_all(&[2i8, 3, 4, 5], &mut out, &pc);
    assert_eq!(out, [1.0, 0.5, 2.0, 1.0]);
}

/// Every QUANTIZE and DEQUANTIZE of the fixtures, alone on LiteRT's recorded inputs:
/// outputs must equal LiteRT's (floats too).
#[test]
fn quantize_and_dequantize_match_litert_in_every_fixture() {
    let r = run_alone_everywhere(&["QUANTIZE", "DEQUANTIZE"], Compare::Equal);
    println!("QUANTIZE/DEQUANTIZE: {} outputs checked", r.outputs);
    assert!(r.outputs > 100, "only {} outputs checked", r.outputs);
    assert!(r.failures.is_empty(), "{}", r.failures.join("\n"));
}
