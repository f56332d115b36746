//! int16 lookup tables: `LUTPopulate<int16_t>` (`kernels/internal/common.h`,
//! `LUTPopulateInt16<FloatT>`: 512 steps over the input's int16 range, each base biased by
//! half the interpolation error at the step's midpoint, and the end value; `FloatT` is the
//! transform's argument type) and `generic_int16_table_lookup` (the base at
//! `256 + (x >> 7)` plus the slope times the low 7 bits, rounded).

use crate::model::DType;
use crate::{Buf, Error, Result, Tensor};

use super::{Kernel, OpCtx};

/// `LUTPopulateInt16<double>`: 512 interpolation bases with the midpoint bias, and the end
/// value.
pub(crate) fn lut_populate_i16(
    input_scale: f64,
    input_zero_point: i32,
    output_scale: f64,
    output_zero_point: i32,
    transform: impl Fn(f64) -> f64,
) -> [i16; 513] {
    const STEPS: usize = 512;
    let input_min = input_scale * f64::from(-32768 - input_zero_point);
    let input_max = input_scale * f64::from(32767 - input_zero_point);
    let output_min = output_scale * f64::from(-32768 - output_zero_point);
    let output_max = output_scale * f64::from(32767 - output_zero_point);
    let step = (input_max - input_min) / STEPS as f64;
    let half_step = step / 2.0;
    let output_scaling_inv = 65536.0 / (output_max - output_min);
    let (table_min, table_max) = (-32768.0f64, 32767.0f64);
    let mut lut = [0i16; 513];
    for (i, v) in lut.iter_mut().enumerate().take(STEPS) {
        let x = input_min + i as f64 * step;
        let val = transform(x);
        let val_midpoint = transform(x + half_step);
        let val_next = transform(input_min + (i + 1) as f64 * step);
        let sample_val = (val * output_scaling_inv).round();
        let midpoint_interp_val =
            ((val_next * output_scaling_inv + (val * output_scaling_inv).round()) / 2.0).round();
        let midpoint_val = (val_midpoint * output_scaling_inv).round();
        let midpoint_err = midpoint_interp_val - midpoint_val;
        let bias = (midpoint_err / 2.0).round();
        *v = (sample_val - bias).max(table_min).min(table_max) as i16;
    }
    lut[STEPS] = (transform(input_max) * output_scaling_inv)
        .round()
        .max(table_min)
        .min(table_max) as i16;
    lut
}

/// `generic_int16_table_lookup`: the base at `256 + (value >> 7)` plus the slope times the
/// low 7 bits, rounded.
#[inline]
pub(crate) fn int16_table_lookup(value: i16, lut: &[i16; 513]) -> i16 {
    let index = (256 + (i32::from(value) >> 7)) as usize;
    let offset = i32::from(value & 0x7f);
    let base = lut[index];
    let slope = lut[index + 1].wrapping_sub(base);
    let delta = (i32::from(slope) * offset + 64) >> 7;
    (i32::from(base) + delta) as i16
}

/// `LUTPopulateInt16<float>`: [`lut_populate_i16`] in float arithmetic (the ops whose
/// transform takes a float: EXP, LOG, GELU).
pub(crate) fn lut_populate_i16_f32(
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
    transform: impl Fn(f32) -> f32,
) -> [i16; 513] {
    const STEPS: usize = 512;
    let input_min = input_scale * (-32768 - input_zero_point) as f32;
    let input_max = input_scale * (32767 - input_zero_point) as f32;
    let output_min = output_scale * (-32768 - output_zero_point) as f32;
    let output_max = output_scale * (32767 - output_zero_point) as f32;
    let step = (input_max - input_min) / STEPS as f32;
    let half_step = step / 2.0;
    let output_scaling_inv = 65536.0 / (output_max - output_min);
    let (table_min, table_max) = (-32768.0f32, 32767.0f32);
    let mut lut = [0i16; 513];
    for (i, v) in lut.iter_mut().enumerate().take(STEPS) {
        let x = input_min + i as f32 * step;
        let val = transform(x);
        let val_midpoint = transform(x + half_step);
        let val_next = transform(input_min + (i + 1) as f32 * step);
        let sample_val = (val * output_scaling_inv).round();
        let midpoint_interp_val =
            ((val_next * output_scaling_inv + (val * output_scaling_inv).round()) / 2.0).round();
        let midpoint_val = (val_midpoint * output_scaling_inv).round();
        let midpoint_err = midpoint_interp_val - midpoint_val;
        let bias = (midpoint_err / 2.0).round();
        *v = clamp_like_cpp(sample_val - bias, table_min, table_max);
    }
    lut[STEPS] = clamp_like_cpp(
        (transform(input_max) * output_scaling_inv).round(),
        table_min,
        table_max,
    );
    lut
}

/// An int16 → int16 element op through a [`lut_populate_i16_f32`] table
/// (`reference_integer_ops::LookupTable` on int16: EXP, LOG, GELU).
pub(crate) struct Table16 {
    pub(crate) label: String,
    pub(crate) lut: Box<[i16; 513]>,
}

impl Table16 {
    /// The table of `transform` between the input's and output's (scale, zero point).
    pub(crate) fn prepare(ctx: &OpCtx, transform: impl Fn(f32) -> f32) -> Result<Table16> {
        let (input, output) = (ctx.input(0)?, ctx.output(0)?);
        if output.dtype != DType::I16 {
            return Err(ctx.unsupported(format!(
                "an int16 input needs an int16 output, is {}",
                output.dtype
            )));
        }
        let (s_in, zp_in) = ctx.per_tensor(input)?;
        let (s_out, zp_out) = ctx.per_tensor(output)?;
        Ok(Table16 {
            label: ctx.label(),
            lut: Box::new(lut_populate_i16_f32(s_in, zp_in, s_out, zp_out, transform)),
        })
    }
}

impl Kernel for Table16 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let x = inputs.first().copied().flatten();
        match (x.map(|t| t.buf()), outputs.first_mut().map(|t| t.buf_mut())) {
            (Some(Buf::I16(x)), Some(Buf::I16(y))) if x.len() == y.len() => {
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = int16_table_lookup(x, &self.lut);
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

/// `static_cast<int16_t>(std::min(std::max(v, lo), hi))` as x86-64 compiles it: a NaN passes
/// both comparisons and converts through `cvttss2si` to `INT32_MIN`, whose low 16 bits are 0
/// (a transform undefined on part of the input range, RSQRT's `1/sqrt` of negatives).
fn clamp_like_cpp(v: f32, lo: f32, hi: f32) -> i16 {
    if v.is_nan() {
        return 0;
    }
    v.max(lo).min(hi) as i16
}
