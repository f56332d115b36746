//! int8/uint8/int16 ADD and SUB: the element function of `AddFunc` / `SubElementwise` /
//! `BroadcastQuantSubSlow` and its parameters as add.cc / sub.cc Prepare computes them.

use crate::quant::fixedpoint::{
    multiply_by_quantized_multiplier, quantize_multiplier, QuantizedMultiplier,
};
use crate::Result;

use super::super::common::QInt;
use super::super::OpCtx;
use super::Operands;

/// The precomputed parameters of the int8/uint8 ADD and SUB (TFLite's `ArithmeticParams`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AddSubParams {
    pub left_shift: i32,
    pub input1_offset: i32,
    pub input1_multiplier: QuantizedMultiplier,
    pub input2_offset: i32,
    pub input2_multiplier: QuantizedMultiplier,
    pub output_offset: i32,
    pub output_multiplier: QuantizedMultiplier,
    pub act_min: i32,
    pub act_max: i32,
}

impl AddSubParams {
    /// `AddFunc` (`subtract == false`) and the element function of `SubElementwise` /
    /// `BroadcastQuantSubSlow` (`subtract == true`). `MultiplyByQuantizedMultiplierSmallerThanOneExp`
    /// is MBQM with a shift ≤ 0, which prepare guarantees.
    #[inline]
    pub fn apply(&self, x: i32, y: i32, subtract: bool) -> i32 {
        let (scaled_input1_val, scaled_input2_val) = self.scaled_inputs(x, y);
        let raw = if subtract {
            scaled_input1_val.wrapping_sub(scaled_input2_val)
        } else {
            scaled_input1_val.wrapping_add(scaled_input2_val)
        };
        self.output(raw)
    }

    /// Both inputs offset, shifted left by `left_shift` and rescaled by their multipliers.
    #[inline]
    fn scaled_inputs(&self, x: i32, y: i32) -> (i32, i32) {
        let input1_val = self.input1_offset.wrapping_add(x);
        let input2_val = self.input2_offset.wrapping_add(y);
        let shifted_input1_val = input1_val.wrapping_mul(1 << self.left_shift);
        let shifted_input2_val = input2_val.wrapping_mul(1 << self.left_shift);
        (
            multiply_by_quantized_multiplier(shifted_input1_val, self.input1_multiplier),
            multiply_by_quantized_multiplier(shifted_input2_val, self.input2_multiplier),
        )
    }

    /// The output multiplier, zero point and clamp of a raw result.
    #[inline]
    fn output(&self, raw: i32) -> i32 {
        let raw_output = multiply_by_quantized_multiplier(raw, self.output_multiplier)
            .wrapping_add(self.output_offset);
        raw_output.max(self.act_min).min(self.act_max)
    }

    /// add.cc / sub.cc Prepare from the (scale, zero point) of both inputs and the output:
    /// `left_shift = 20` and three multipliers, each below 1 (TFLite aborts otherwise).
    pub fn prepare(
        ctx: &OpCtx,
        params: [(f32, i32); 3],
        act_range: (i32, i32),
    ) -> Result<AddSubParams> {
        AddSubParams::prepare_with_shift(ctx, params, act_range, 20)
    }

    /// [`AddSubParams::prepare`] with another `left_shift`: 15 for int16 with general
    /// scales (add.cc / sub.cc `PrepareGeneralSubOp`: "65535 << 15 ... still fits in a 32
    /// bit accumulator").
    pub fn prepare_with_shift(
        ctx: &OpCtx,
        [(s1, z1), (s2, z2), (so, zo)]: [(f32, i32); 3],
        (act_min, act_max): (i32, i32),
        left_shift: i32,
    ) -> Result<AddSubParams> {
        let [real_input1_multiplier, real_input2_multiplier, real_output_multiplier] =
            add_sub_real_multipliers(s1, s2, so, left_shift);
        let q = |m: f64, what: &str| {
            quantize_multiplier_smaller_than_one(m).ok_or_else(|| {
                ctx.unsupported(format!(
                    "{what} multiplier {m} is not below 1 (TFLite aborts)"
                ))
            })
        };
        Ok(AddSubParams {
            left_shift,
            input1_offset: z1.wrapping_neg(),
            input1_multiplier: q(real_input1_multiplier, "input 1")?,
            input2_offset: z2.wrapping_neg(),
            input2_multiplier: q(real_input2_multiplier, "input 2")?,
            output_offset: zo,
            output_multiplier: q(real_output_multiplier, "output")?,
            act_min,
            act_max,
        })
    }
}

impl AddSubParams {
    /// squared_difference.cc's int8 element: both inputs rescaled as ADD's, their
    /// difference squared (int32), then the output multiplier and zero point, clamped.
    #[inline]
    pub fn squared_difference(&self, x: i32, y: i32) -> i32 {
        let (scaled_input1_val, scaled_input2_val) = self.scaled_inputs(x, y);
        let raw_diff = scaled_input1_val.wrapping_sub(scaled_input2_val);
        self.output(raw_diff.wrapping_mul(raw_diff))
    }

    /// squared_difference.cc Prepare: `left_shift = 7`, input multipliers
    /// `s_i / (2·max(s1, s2))`, output multiplier `(2·max)² / (2^14 · s_out)`, all in double
    /// and each below 1; the int8 range as the clamp.
    pub fn prepare_squared_difference(
        ctx: &OpCtx,
        params: [(f32, i32); 3],
    ) -> Result<AddSubParams> {
        AddSubParams::squared_difference_params(params).map_err(|why| ctx.unsupported(why))
    }

    /// [`AddSubParams::prepare_squared_difference`] without an op: the reason as text when
    /// refused.
    pub fn squared_difference_params(
        [(s1, z1), (s2, z2), (so, zo)]: [(f32, i32); 3],
    ) -> std::result::Result<AddSubParams, String> {
        let left_shift = 7;
        let twice_max_input_scale = 2.0 * f64::from(if s1 < s2 { s2 } else { s1 });
        let real_input1_multiplier = f64::from(s1) / twice_max_input_scale;
        let real_input2_multiplier = f64::from(s2) / twice_max_input_scale;
        let real_output_multiplier = (twice_max_input_scale * twice_max_input_scale)
            / (f64::from(1i32 << (left_shift * 2)) * f64::from(so));
        let q = |m: f64, what: &str| {
            quantize_multiplier_smaller_than_one(m)
                .ok_or_else(|| format!("{what} multiplier {m} is not below 1 (TFLite aborts)"))
        };
        Ok(AddSubParams {
            left_shift,
            input1_offset: z1.wrapping_neg(),
            input1_multiplier: q(real_input1_multiplier, "input 1")?,
            input2_offset: z2.wrapping_neg(),
            input2_multiplier: q(real_input2_multiplier, "input 2")?,
            output_offset: zo,
            output_multiplier: q(real_output_multiplier, "output")?,
            act_min: i32::from(i8::MIN),
            act_max: i32::from(i8::MAX),
        })
    }
}

pub(super) fn quant_add_sub<T: QInt>(
    ops: &Operands,
    p: &AddSubParams,
    subtract: bool,
    a: &[T],
    b: &[T],
    out: &mut [T],
) {
    ops.zip_with(a, b, out, |x, y| {
        T::from_i32(p.apply(x.to_i32(), y.to_i32(), subtract))
    })
}

/// `QuantizeMultiplierSmallerThanOneExp`: `None` where TFLite's checks abort
/// (multiplier outside `[0, 1)` or a positive shift after rounding).
pub(super) fn quantize_multiplier_smaller_than_one(real: f64) -> Option<QuantizedMultiplier> {
    if !(0.0..1.0).contains(&real) {
        return None;
    }
    let q = quantize_multiplier(real);
    (q.shift <= 0).then_some(q)
}

/// add.cc / sub.cc Prepare: the real multipliers of input 1, input 2 and the output, with
/// `twice_max_input_scale = 2·max(s1, s2)` and the divisions in double.
pub(super) fn add_sub_real_multipliers(s1: f32, s2: f32, so: f32, left_shift: i32) -> [f64; 3] {
    // std::max(s1, s2) is `s1 < s2 ? s2 : s1`.
    let twice_max_input_scale = 2.0 * (if s1 < s2 { s2 } else { s1 }) as f64;
    [
        s1 as f64 / twice_max_input_scale,
        s2 as f64 / twice_max_input_scale,
        twice_max_input_scale / ((1i64 << left_shift) as f64 * so as f64),
    ]
}
