//! DIV (`kernels/div.cc`, `reference/div.h`): float32 `x / y` with the fused activation's
//! clamp; int8/uint8 `DivElementwise` — both inputs offset by their zero points, the
//! divisor's sign moved to the dividend, the dividend scaled by `GetReciprocal(divisor, 31)`
//! with all its headroom, then `MultiplyByQuantizedMultiplierSmallerThanOneExp` by the
//! output multiplier (`QuantizeMultiplier(s1 / (s2 · s_out))`, the scales divided and
//! multiplied in float) and the remaining shift, plus the output zero point, clamped to the
//! activation range. The run is refused when a divisor equals its zero point
//! (`CheckNonZero`).

use crate::quant::fixedpoint::{
    get_reciprocal, multiply_by_quantized_multiplier_greater_than_one, quantize_multiplier,
    rounding_divide_by_pot, srdhm, QuantizedMultiplier,
};

/// gemmlowp `RoundingDivideByPOT(x, exponent)` as LiteRT's x86-64 build computes it for any
/// `exponent ≥ 0`. DIV reaches exponents above 31 whenever the dividend is small (its
/// headroom is added to the shift), where the C++ is undefined: the mask is computed in 64
/// bits (`(1ll << exponent) - 1`) and truncated to `int32` (all ones), and the arithmetic
/// shift's count is taken mod 32, as the x86 `sar` instruction does. Checked against
/// LiteRT's int8 DIV on all 65,536 input pairs for several parameter sets
/// (`tests/fixtures/binary_tables`).
pub(crate) fn rounding_divide_by_pot_wide(x: i32, exponent: i32) -> i32 {
    if exponent <= 31 {
        return rounding_divide_by_pot(x, exponent);
    }
    let mask = -1i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> (exponent & 31)) + i32::from(remainder > threshold)
}
use crate::Result;

use super::super::OpCtx;

/// The precomputed parameters of the int8/uint8 DIV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DivParams {
    pub input1_offset: i32,
    pub input2_offset: i32,
    pub output_offset: i32,
    pub output_multiplier: QuantizedMultiplier,
    pub act_min: i32,
    pub act_max: i32,
}

/// `CountLeadingSignBits` of an `int32`.
pub(crate) fn count_leading_sign_bits(x: i32) -> i32 {
    if x >= 0 {
        (x as u32).leading_zeros() as i32 - 1
    } else if x != i32::MIN {
        (2u32.wrapping_mul(x.wrapping_neg() as u32).wrapping_sub(1)).leading_zeros() as i32
    } else {
        0
    }
}

impl DivParams {
    /// div.cc Prepare: the output multiplier from `s1 / (s2 · s_out)` in float. Output
    /// multipliers whose shift could leave a left shift for the final
    /// `MultiplyByQuantizedMultiplierSmallerThanOneExp` (undefined in TFLite) are refused.
    pub fn prepare(ctx: &OpCtx, params: [(f32, i32); 3], act: (i32, i32)) -> Result<DivParams> {
        DivParams::new(params, act).map_err(|why| ctx.unsupported(why))
    }

    /// [`DivParams::prepare`] without an op: the reason as text when refused.
    pub fn new(
        [(s1, z1), (s2, z2), (so, zo)]: [(f32, i32); 3],
        (act_min, act_max): (i32, i32),
    ) -> std::result::Result<DivParams, String> {
        let real = f64::from(s1 / (s2 * so));
        let output_multiplier = quantize_multiplier(real);
        // total_shift = shift − recip_shift − headroom, with recip_shift ≥ 0 and a headroom
        // of at least 23 for 8-bit operands (|x − zp| ≤ 255): negative for shift ≤ 22.
        if output_multiplier.shift > 22 {
            return Err(format!(
                "the output multiplier {real} is too large (TFLite's quotient would need a \
                 left shift it does not compute)"
            ));
        }
        Ok(DivParams {
            input1_offset: z1.wrapping_neg(),
            input2_offset: z2.wrapping_neg(),
            output_offset: zo,
            output_multiplier,
            act_min,
            act_max,
        })
    }

    /// `DivElementwise`'s element; `None` when the divisor is its zero point (TFLite
    /// refuses the run).
    pub fn apply(&self, x: i32, y: i32) -> Option<i32> {
        let mut input1_val = self.input1_offset.wrapping_add(x);
        let mut input2_val = self.input2_offset.wrapping_add(y);
        if input2_val == 0 {
            return None;
        }
        if input2_val < 0 {
            input1_val = input1_val.wrapping_neg();
            input2_val = input2_val.wrapping_neg();
        }
        let (input2_inv, recip_shift) = get_reciprocal(input2_val, 31);
        let headroom = count_leading_sign_bits(input1_val);
        let unscaled_quotient =
            multiply_by_quantized_multiplier_greater_than_one(input1_val, input2_inv, headroom);
        let total_shift = self.output_multiplier.shift - recip_shift - headroom;
        // MultiplyByQuantizedMultiplierSmallerThanOneExp with a non-positive shift.
        let scaled = rounding_divide_by_pot_wide(
            srdhm(unscaled_quotient, self.output_multiplier.multiplier),
            -total_shift,
        );
        let unclamped_result = self.output_offset.wrapping_add(scaled);
        Some(unclamped_result.max(self.act_min).min(self.act_max))
    }
}
