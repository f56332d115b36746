//! int16 → int16 SOFTMAX (`reference_ops::SoftmaxInt16`, `kernels/internal/reference/
//! softmax.h`), with the parameters of `SoftmaxPrepare` (`kernels/activations.cc`) and the
//! 513-entry int16 tables of `LUTPopulate<int16_t>` (`kernels/internal/common.h`,
//! `LUTPopulateInt16<double>`) read by `generic_int16_table_lookup`.
//!
//! - Prepare: input and output zero points 0, output scale within 0.1% of 1/32768; an exp
//!   table over `[-10, 0]` (input scale `10/65535`, zero point 32767, output scale
//!   `2/65535`) and a `1/(1 + x)` table over `[0, 1]` (input scale `1/65535`, zero point
//!   −32768, output scale `2/65535`), both in double; `QuantizeMultiplier(s_in · beta /
//!   (10/65535))` (double), which maps an input difference of −65535 to −10.
//! - Run, per row: the row's max; each `exp` as `lookup(clamp(MBQM(x − max) + 32767))`,
//!   summed in int32; the reciprocal from the headroom of the sum (`CountLeadingZeros`) and
//!   the `1/(1+x)` table; each output `(e · r + 2^(rs−1)) >> rs` with `rs = 31 − headroom`,
//!   clamped to `[0, 32767]`.

use crate::quant::fixedpoint::{
    multiply_by_quantized_multiplier, quantize_multiplier, QuantizedMultiplier,
};
use crate::{Buf, Error, Result, Tensor};

use super::lut16::{int16_table_lookup, lut_populate_i16};
use super::{Kernel, OpCtx};

/// The prepared int16 SOFTMAX.
pub(crate) struct Softmax16 {
    pub(crate) label: String,
    pub(crate) depth: usize,
    pub(crate) input_multiplier: QuantizedMultiplier,
    pub(crate) exp_lut: Box<[i16; 513]>,
    pub(crate) one_over_one_plus_x_lut: Box<[i16; 513]>,
}

impl Softmax16 {
    pub(crate) fn prepare(ctx: &OpCtx, beta: f32, depth: usize) -> Result<Softmax16> {
        let (s_in, zp_in) = ctx.per_tensor(ctx.input(0)?)?;
        let (s_out, zp_out) = ctx.per_tensor(ctx.output(0)?)?;
        if zp_in != 0 || zp_out != 0 {
            return Err(ctx.unsupported("int16 SOFTMAX needs zero points 0"));
        }
        // TF_LITE_ENSURE_NEAR in float.
        if (s_out - 1.0f32 / 32768.0).abs() > 0.001f32 * 1.0 / 32768.0 {
            return Err(ctx.unsupported(format!(
                "the int16 output scale must be 1/32768 (within 0.1%), is {s_out}"
            )));
        }
        let range = 65535.0f64;
        let exp_lut = lut_populate_i16(10.0 / range, 32767, 2.0 / range, 0, f64::exp);
        let one_over = lut_populate_i16(1.0 / range, -32768, 2.0 / range, 0, |v| 1.0 / (1.0 + v));
        let real = f64::from(s_in) * f64::from(beta) / (10.0 / 65535.0);
        let input_multiplier = quantize_multiplier(real);
        if !(real > 0.0 && real.is_finite()) || input_multiplier.shift > 30 {
            return Err(ctx.unsupported(format!("input rescale {real} (s_in · beta · 6553.5)")));
        }
        Ok(Softmax16 {
            label: ctx.label(),
            depth,
            input_multiplier,
            exp_lut: Box::new(exp_lut),
            one_over_one_plus_x_lut: Box::new(one_over),
        })
    }

    fn row(&self, x: &[i16], y: &mut [i16]) {
        let max_in_row = x.iter().copied().fold(i16::MIN, i16::max);
        let mut sum_of_exps: i32 = 0;
        for (y, &x) in y.iter_mut().zip(x) {
            let input_diff = i32::from(x) - i32::from(max_in_row);
            let scaled_diff = multiply_by_quantized_multiplier(input_diff, self.input_multiplier);
            let sym = scaled_diff.wrapping_add(32767).clamp(-32768, 32767) as i16;
            *y = int16_table_lookup(sym, &self.exp_lut);
            sum_of_exps = sum_of_exps.wrapping_add(i32::from(*y));
        }
        let headroom_plus_one = (sum_of_exps as u32).leading_zeros() as i32;
        let shifted_sum = (((sum_of_exps as i64) << (headroom_plus_one - 1)) + (1 << 13)) >> 14;
        let sym_shifted_sum = (shifted_sum as i32).wrapping_sub((1 << 15) + (1 << 16));
        let sat = sym_shifted_sum.clamp(-32768, 32767) as i16;
        let reciprocal = i64::from(int16_table_lookup(sat, &self.one_over_one_plus_x_lut));
        let right_shift = 31 - headroom_plus_one;
        let round = 1i64 << (right_shift - 1);
        for y in y.iter_mut() {
            let result = ((i64::from(*y) * reciprocal + round) >> right_shift) as i32;
            *y = result.clamp(0, 32767) as i16;
        }
    }
}

impl Kernel for Softmax16 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let x = inputs.first().copied().flatten();
        match (x.map(|t| t.buf()), outputs.first_mut().map(|t| t.buf_mut())) {
            (Some(Buf::I16(x)), Some(Buf::I16(y))) if x.len() == y.len() => {
                for (xr, yr) in x.chunks(self.depth).zip(y.chunks_mut(self.depth)) {
                    self.row(xr, yr);
                }
                Ok(())
            }
            _ => Err(Error::Shape(format!(
                "{}: the input and output must be int16 of equal sizes",
                self.label
            ))),
        }
    }
}
