//! int8 RSQRT: `RsqrtEvalQuantizedInt8` (`kernels/elementwise.cc`) and
//! `GetInvSqrtQuantizedMultiplierExp` (`kernels/internal/common.h`).

use crate::quant::fixedpoint::{
    multiply_by_quantized_multiplier, quantize_multiplier, saturating_rounding_multiply_by_pot,
    srdhm, QuantizedMultiplier,
};

/// The shift that keeps `1 / sqrt(x)` an integer before the output rescale (`kShift`).
const K_SHIFT: i32 = 20;

/// The prepared parameters of an int8 RSQRT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RsqrtParams {
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    /// `QuantizeMultiplier(1. / (sqrtf(s_in) · s_out))`.
    pub multiplier: QuantizedMultiplier,
}

impl RsqrtParams {
    /// `SetRsqrtOutputMultiplier`: `std::sqrt` of the float scale and the product in float,
    /// the reciprocal in double.
    pub fn prepare((s_in, zp_in): (f32, i32), (s_out, zp_out): (f32, i32)) -> RsqrtParams {
        let real = 1.0f64 / f64::from(s_in.sqrt() * s_out);
        RsqrtParams {
            input_zero_point: zp_in,
            output_zero_point: zp_out,
            multiplier: quantize_multiplier(real),
        }
    }

    /// The element function; `None` for an input below the zero point (TFLite refuses the run).
    pub fn apply(&self, x: i32) -> Option<i32> {
        if x < self.input_zero_point {
            return None;
        }
        let value = x - self.input_zero_point;
        if value == 0 {
            // "Assume that any value close to 0 represents the max output value."
            return Some(i32::from(i8::MAX));
        }
        let inv = inv_sqrt_quantized_multiplier_exp(value, -1);
        let data = multiply_by_quantized_multiplier(
            1,
            QuantizedMultiplier {
                multiplier: inv.multiplier,
                shift: inv.shift + K_SHIFT,
            },
        );
        let output = multiply_by_quantized_multiplier(
            data,
            QuantizedMultiplier {
                multiplier: self.multiplier.multiplier,
                shift: self.multiplier.shift - K_SHIFT,
            },
        )
        .wrapping_add(self.output_zero_point);
        Some(output.clamp(i32::from(i8::MIN), i32::from(i8::MAX)))
    }
}

/// `GetInvSqrtQuantizedMultiplierExp(input, reverse_shift)`: a Q31 multiplier and shift of
/// `1 / sqrt(input)` by five Newton-Raphson steps in gemmlowp fixed point.
pub(crate) fn inv_sqrt_quantized_multiplier_exp(
    mut input: i32,
    reverse_shift: i32,
) -> QuantizedMultiplier {
    if input <= 1 {
        return QuantizedMultiplier {
            multiplier: i32::MAX,
            shift: 0,
        };
    }
    let mut output_shift = 11;
    while input >= (1 << 29) {
        input /= 4;
        output_shift += 1;
    }
    let max_left_shift_bits = (input as u32).leading_zeros() as i32 - 1;
    let max_left_shift_bit_pairs = max_left_shift_bits / 2;
    let left_shift_bit_pairs = max_left_shift_bit_pairs - 1;
    output_shift -= left_shift_bit_pairs;
    input <<= 2 * left_shift_bit_pairs;
    // F3 raws: value · 2^28.
    let fixedpoint_input = input >> 1;
    let fixedpoint_half_input = saturating_rounding_multiply_by_pot(fixedpoint_input, -1);
    let fixedpoint_half_three = (1 << 28) + (1 << 27);
    let mut x = 1 << 28; // F3::One()
    for _ in 0..5 {
        // F3·F3·F3 is an F9 (raws multiplied by SaturatingRoundingDoublingHighMul);
        // `Rescale<3>` multiplies it by 2^(9−3).
        let x3 = saturating_rounding_multiply_by_pot(srdhm(srdhm(x, x), x), 6);
        // Both products are F6; their difference rescaled to F3.
        let diff = srdhm(fixedpoint_half_three, x).wrapping_sub(srdhm(fixedpoint_half_input, x3));
        x = saturating_rounding_multiply_by_pot(diff, 3);
    }
    // F3 × F0 → F3: a plain SaturatingRoundingDoublingHighMul of the raws.
    let fixedpoint_half_sqrt_2 = 1_518_500_250;
    let mut multiplier = srdhm(x, fixedpoint_half_sqrt_2);
    if output_shift < 0 {
        multiplier <<= -output_shift;
        output_shift = 0;
    }
    QuantizedMultiplier {
        multiplier,
        shift: output_shift * reverse_shift,
    }
}
