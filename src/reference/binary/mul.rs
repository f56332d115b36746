//! int8/uint8 MUL: `MulElementwise` and its parameters as mul.cc Prepare computes them.

use crate::quant::fixedpoint::{
    multiply_by_quantized_multiplier, quantize_multiplier, QuantizedMultiplier,
};

use super::super::common::QInt;
use super::Operands;

/// The precomputed parameters of the int8/uint8 MUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MulParams {
    pub input1_offset: i32,
    pub input2_offset: i32,
    pub output_offset: i32,
    pub output_multiplier: QuantizedMultiplier,
    pub act_min: i32,
    pub act_max: i32,
}

impl MulParams {
    /// `MulElementwise`.
    #[inline]
    pub fn apply(&self, x: i32, y: i32) -> i32 {
        let input1_val = self.input1_offset.wrapping_add(x);
        let input2_val = self.input2_offset.wrapping_add(y);
        let unclamped = self
            .output_offset
            .wrapping_add(multiply_by_quantized_multiplier(
                input1_val.wrapping_mul(input2_val),
                self.output_multiplier,
            ));
        unclamped.max(self.act_min).min(self.act_max)
    }

    /// mul.cc Prepare from the (scale, zero point) of both inputs and the output.
    pub fn prepare(
        [(s1, z1), (s2, z2), (so, zo)]: [(f32, i32); 3],
        (act_min, act_max): (i32, i32),
    ) -> MulParams {
        let real_multiplier = mul_real_multiplier(s1, s2, so);
        MulParams {
            input1_offset: z1.wrapping_neg(),
            input2_offset: z2.wrapping_neg(),
            output_offset: zo,
            output_multiplier: quantize_multiplier(real_multiplier),
            act_min,
            act_max,
        }
    }
}

pub(super) fn quant_mul<T: QInt>(ops: &Operands, p: &MulParams, a: &[T], b: &[T], out: &mut [T]) {
    ops.zip_with(a, b, out, |x, y| {
        T::from_i32(p.apply(x.to_i32(), y.to_i32()))
    })
}

/// mul.cc Prepare: `input1->params.scale * input2->params.scale / output->params.scale` is
/// evaluated in float, then widened to double.
pub(super) fn mul_real_multiplier(s1: f32, s2: f32, so: f32) -> f64 {
    (s1 * s2 / so) as f64
}
