//! Constant (weight) conversion exactly as the TensorFlow Lite converter (TF 2.21, MLIR
//! quantizer) does it: symmetric int8 per channel or per tensor, and float32 → float16.
//!
//! Facts (checked bit for bit against the converter's own output, see
//! `tests/quantize_dynamic.rs` and the note in `quant/passes/mod.rs`):
//!
//! - Range (`ExtractMinMaxFromAttr`, `quantization_utils.cc`): per slice of the quantized
//!   axis, `min`/`max` over the values *as double*, widened to include 0, then made
//!   symmetric: `max = max(|min|, |max|)`, `min = -max`.
//! - Near-zero ranges (`ExpandVerySmallRange`): if `max - min <= 1e-6` the range becomes
//!   `[min(min, -5e-7), max(max, 5e-7)]` (an all-zero channel gets scale `1e-6 / 254`).
//! - Scale (`fakeQuantAttrsToType`, narrow range `[-127, 127]`): `(max - min) / 254` in
//!   double; the file stores it rounded to float32. Zero point 0.
//! - Values (MLIR `UniformQuantizedValueConverter`): `q = clamp(round_half_away(x / scale),
//!   -127, 127)` with `x` widened to double and `scale` the *double* scale (not the stored
//!   float32 one). Float32 arithmetic (`x * (1/scale)`) or the float32 scale give different
//!   integers on a few elements in a thousand near rounding ties; the converter does not
//!   use them.
//! - float16 (`PrepareDynamicRangeQuantizePass::convertToFloat16Constant`): clamp to
//!   `[-65504, 65504]` (so ±inf become ±65504), then `Eigen::half`: round to nearest even,
//!   subnormals kept, NaN becomes a quiet NaN with its sign.

use crate::{Error, Result};

/// The converter's `kNearZeroTolerance`.
pub const NEAR_ZERO_TOLERANCE: f64 = 1.0e-6;

/// Narrow-range int8 bounds of weights.
pub const QMIN: i32 = -127;
/// The largest int8 weight value (symmetric: -127..=127).
pub const QMAX: i32 = 127;

/// Symmetric int8 weights: values, one scale per slice (one for per-tensor), zero points 0.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricInt8 {
    /// The quantized values.
    pub values: Vec<i8>,
    /// Scales as the file stores them (float32).
    pub scales: Vec<f32>,
    /// The quantized axis (`None`: per tensor).
    pub axis: Option<usize>,
}

/// Decode little-endian float32 constant bytes.
pub fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The double-precision scale of a symmetric narrow-range slice whose largest magnitude is
/// `absmax` (already a double).
fn slice_scale(absmax: f64) -> f64 {
    let (mut min, mut max) = (-absmax, absmax);
    if max - min <= NEAR_ZERO_TOLERANCE {
        min = min.min(-NEAR_ZERO_TOLERANCE / 2.0);
        max = max.max(NEAR_ZERO_TOLERANCE / 2.0);
    }
    (max - min) / f64::from(QMAX - QMIN)
}

/// The converter's rounding of a constant onto its grid, before the zero point and the
/// clamp: `round_half_away(x / scale)` with `x` widened to double and a double `scale`.
/// Weights, biases and other constant operands all go through it (and the quantization
/// report counts the values their clamps change).
#[inline]
pub fn round_to_grid(x: f32, scale: f64) -> f64 {
    (f64::from(x) / scale).round() // f64::round rounds half away from zero
}

/// The full-integer quantizer's rounding of a weight or bias onto its grid, before the clamp:
/// `round_half_away(x * inv)` in float32 with `inv = float(1.0 / scale)` and `scale` the
/// float32 scale the file stores (for a bias, the float32 product `s_in × s_w[c]`), as
/// `SymmetricPerChannelQuantizeValues` / `SymmetricPerChannelBiasQuantize` compute it.
/// Checked on all 394,848 weights and 7,040 biases of a MobileNetV2, where the double-scale
/// division ([`round_to_grid`]) misses 3 and 1.
#[inline]
pub fn round_with_inverse(x: f32, scale: f32) -> f64 {
    let inv = (1.0 / f64::from(scale)) as f32;
    f64::from((x * inv).round())
}

/// Quantize one value with a double scale: round half away from zero, clamp.
fn quantize_value(x: f32, scale: f64) -> i8 {
    round_to_grid(x, scale).clamp(f64::from(QMIN), f64::from(QMAX)) as i8
}

/// How weight values are rounded onto their grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightRounding {
    /// `round_half_away(x / scale)` in double with the double scale: the dynamic-range
    /// quantizer ([`round_to_grid`]).
    DoubleScale,
    /// [`round_with_inverse`] with the float32 scale: the full-integer quantizer's weights.
    Float32Inverse,
}

/// Symmetric int8 quantization of float32 `values` of `shape`, per slice of `axis` or per
/// tensor (`axis = None`), as the converter's dynamic-range and weight quantizer does.
///
/// Errors on non-finite values (the converter's result is undefined for them) and on a
/// shape that does not match the values.
pub fn symmetric_int8(
    values: &[f32],
    shape: &[usize],
    axis: Option<usize>,
) -> Result<SymmetricInt8> {
    symmetric_int8_rounded(values, shape, axis, WeightRounding::DoubleScale)
}

/// [`symmetric_int8`] with the values rounded as `rounding` says (the scales are the same).
pub fn symmetric_int8_rounded(
    values: &[f32],
    shape: &[usize],
    axis: Option<usize>,
    rounding: WeightRounding,
) -> Result<SymmetricInt8> {
    let n: usize = shape.iter().product();
    if n != values.len() {
        return Err(Error::Shape(format!(
            "weights of shape {shape:?} need {n} values, got {}",
            values.len()
        )));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidModel(format!(
            "weight element {i} is {}: non-finite weights cannot be quantized",
            values[i]
        )));
    }
    let (channels, slice) = match axis {
        None => (1, n.max(1)),
        Some(a) => {
            if a >= shape.len() {
                return Err(Error::Shape(format!(
                    "quantized axis {a} is out of range for a weight of rank {}",
                    shape.len()
                )));
            }
            (shape[a], shape[a + 1..].iter().product::<usize>())
        }
    };
    // Largest magnitude per channel (0 included, as the converter widens to include 0).
    let mut absmax = vec![0f64; channels.max(1)];
    if channels > 0 && slice > 0 {
        for (i, &v) in values.iter().enumerate() {
            let c = (i / slice) % channels;
            absmax[c] = absmax[c].max(f64::from(v).abs());
        }
    }
    let scales64: Vec<f64> = absmax.iter().map(|&a| slice_scale(a)).collect();
    let q = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = if channels > 0 && slice > 0 {
                (i / slice) % channels
            } else {
                0
            };
            match rounding {
                WeightRounding::DoubleScale => quantize_value(v, scales64[c]),
                WeightRounding::Float32Inverse => round_with_inverse(v, scales64[c] as f32)
                    .clamp(f64::from(QMIN), f64::from(QMAX))
                    as i8,
            }
        })
        .collect();
    Ok(SymmetricInt8 {
        values: q,
        scales: scales64.iter().map(|&s| s as f32).collect(),
        axis,
    })
}

/// float32 → float16 bits as the converter writes FLOAT16 constants: clamp to the largest
/// finite half (±65504), then round to nearest, ties to even.
pub fn f32_to_f16(x: f32) -> u16 {
    const MAX_HALF: f32 = 65504.0;
    // std::min(std::max(v, -65504), 65504); like f32::clamp it keeps NaN.
    let x = x.clamp(-MAX_HALF, MAX_HALF);
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let abs = bits & 0x7fff_ffff;
    if abs > 0x7f80_0000 {
        return sign | 0x7e00; // NaN → quiet NaN
    }
    let exp = (abs >> 23) as i32; // biased float exponent
    let man = abs & 0x007f_ffff;
    // Half exponent (bias 15) of a normal result.
    let hexp = exp - 127 + 15;
    if hexp >= 0x1f {
        // Unreachable after the clamp, kept for completeness: overflow to infinity.
        return sign | 0x7c00;
    }
    if hexp <= 0 {
        // Subnormal half (or zero): value = m * 2^-24 with m = full mantissa >> shift.
        if hexp < -10 {
            // Below half of the smallest subnormal: rounds to zero (ties at exactly
            // 2^-25 are handled by the general path below when hexp == -10).
            return sign;
        }
        let full = man | 0x0080_0000; // implicit bit
        let shift = (14 - hexp) as u32; // 24-bit mantissa → subnormal half mantissa
        let half = full >> shift;
        let rem = full & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        let round_up = rem > halfway || (rem == halfway && (half & 1) == 1);
        return sign | (half + u32::from(round_up)) as u16;
    }
    // Normal: keep 10 mantissa bits, round to nearest even; a carry bumps the exponent.
    let half = ((hexp as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    let round_up = rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1);
    sign | (half + u32::from(round_up)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from a MobileNetV2 the TF 2.21 converter quantized (full integer): near a
    /// rounding tie, the converter's integer is the float32-inverse one; dividing by the
    /// double scale lands on the other side.
    #[test]
    fn full_integer_rounding_is_the_float32_inverse() {
        // A weight: channel max |w| 0.13900112, the converter wrote 72.
        let (w, absmax) = (0.078_256_53_f32, 0.139_001_12_f32);
        let q = symmetric_int8_rounded(&[w, absmax], &[2], None, WeightRounding::Float32Inverse)
            .unwrap();
        assert_eq!(q.values, [72, 127]);
        let d = symmetric_int8(&[w, absmax], &[2], None).unwrap();
        assert_eq!(d.values, [71, 127]);
        assert_eq!(q.scales, d.scales);
        // A bias: s_in 0.078646265, s_w 0.0016374651, the converter wrote 1058.
        let (b, s_in, s_w) = (
            f32::from_bits(1040938030),
            f32::from_bits(1033965899),
            f32::from_bits(987144246),
        );
        assert_eq!(round_with_inverse(b, s_in * s_w), 1058.0);
        assert_eq!(round_to_grid(b, f64::from(s_in) * f64::from(s_w)), 1057.0);
    }
    use crate::f16_to_f32;

    #[test]
    fn per_channel_scales_and_ties() {
        // Channel 0: absmax 127 → scale 1, ties round away from zero.
        let w = [127.0, 2.5, -2.5, 0.5, 0.0, 0.0, 0.0, 0.0];
        let q = symmetric_int8(&w, &[2, 4], Some(0)).unwrap();
        assert_eq!(q.scales[0], 1.0);
        assert_eq!(&q.values[..4], &[127, 3, -3, 1]);
        // Channel 1: all zero → the expanded range [-5e-7, 5e-7].
        assert_eq!(q.scales[1], (1e-6f64 / 254.0) as f32);
        assert_eq!(&q.values[4..], &[0, 0, 0, 0]);
    }

    #[test]
    fn near_zero_ranges() {
        // 2·absmax <= 1e-6 is expanded; just above is kept.
        let small = symmetric_int8(&[4e-7, -1e-7], &[2], None).unwrap();
        assert_eq!(small.scales[0], (1e-6f64 / 254.0) as f32);
        let above = symmetric_int8(&[6e-7, -2e-7], &[2], None).unwrap();
        assert_eq!(above.scales[0], (2.0 * f64::from(6e-7f32) / 254.0) as f32);
        assert_eq!(above.values, vec![127, -42]);
    }

    #[test]
    fn axis_three_is_innermost() {
        // [1, 1, 2, 3] with axis 3: channel c takes elements c, c+3.
        let w = [1.0, -2.0, 4.0, -1.0, 2.0, 0.0];
        let q = symmetric_int8(&w, &[1, 1, 2, 3], Some(3)).unwrap();
        assert_eq!(
            q.scales,
            vec![
                (1.0f64 / 127.0) as f32,
                (2.0f64 / 127.0) as f32,
                (4.0f64 / 127.0) as f32
            ]
        );
        assert_eq!(q.values, vec![127, -127, 127, -127, 127, 0]);
    }

    #[test]
    fn rejects_non_finite() {
        assert!(symmetric_int8(&[1.0, f32::NAN], &[2], None).is_err());
        assert!(symmetric_int8(&[1.0, 2.0], &[3], None).is_err());
    }

    #[test]
    fn f16_round_trip_of_every_half() {
        for h in 0u16..=u16::MAX {
            let f = f16_to_f32(h);
            if f.is_nan() {
                assert_eq!(f32_to_f16(f) & 0x7e00, 0x7e00);
                continue;
            }
            if f.is_infinite() {
                assert_eq!(f32_to_f16(f), if f > 0.0 { 0x7bff } else { 0xfbff });
                continue;
            }
            assert_eq!(f32_to_f16(f), h, "{h:#06x} ({f})");
        }
    }

    #[test]
    fn f16_rounding_matches_nearest_even() {
        // Every float between consecutive halves rounds to the nearer one, ties to even;
        // checked against an exact reference on a sweep of float bit patterns.
        let mut bits = 0u32;
        while bits < 0x4780_0000 {
            let x = f32::from_bits(bits);
            let h = f32_to_f16(x);
            let got = f64::from(f16_to_f32(h));
            let xd = f64::from(x);
            // The neighbours of the result must not be strictly closer.
            for n in [h.wrapping_sub(1), h.wrapping_add(1)] {
                if n & 0x7c00 == 0x7c00 || (h & 0x7fff == 0 && n & 0x8000 != 0) {
                    continue;
                }
                let other = f64::from(f16_to_f32(n));
                let (dg, do_) = ((got - xd).abs(), (other - xd).abs());
                assert!(
                    dg < do_ || (dg == do_ && h & 1 == 0),
                    "{x:e}: {h:#06x} vs {n:#06x}"
                );
            }
            bits += 0x0000_1fff; // not a divisor of the mantissa: hits many residues
        }
        assert_eq!(f32_to_f16(65520.0), 0x7bff); // clamped, not rounded up to inf
        assert_eq!(f32_to_f16(-1e9), 0xfbff);
        assert_eq!(f32_to_f16(2f32.powi(-25)), 0); // tie between 0 and 2^-24 → even (0)
        assert_eq!(f32_to_f16(1.5 * 2f32.powi(-24)), 2); // tie → even (2)
        assert_eq!(f32_to_f16(-0.0), 0x8000);
        assert_eq!(f32_to_f16(-f32::NAN), 0xfe00);
    }
}
