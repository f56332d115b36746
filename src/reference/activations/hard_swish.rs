//! HARD_SWISH: float, and the quantized `reference_ops::HardSwish` in its 16-bit
//! fixed-point steps.

use crate::model::DType;
use crate::quant::fixedpoint::{
    downscale_int32_to_int16_multiplier, quantize_multiplier, rounding_divide_by_pot_i16,
    saturating_doubling_high_mul_i16, saturating_left_shift_i16, srdhm_i16,
};
use crate::Result;

use super::super::common::qrange;
use super::super::{FloatOrder, Kernel, OpCtx};
use super::{float_kernel, quant_kernel, quant_params, unary_io, FloatFn, QuantOp};

/// `HardSwishParams` (`HardSwishPrepare`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HardSwishParams {
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    /// Q15 multiplier from the hi-res input scale to the output scale, and its exponent
    /// (`<= 0`).
    pub output_multiplier_fixedpoint_int16: i16,
    pub output_multiplier_exponent: i32,
    /// Q15 multiplier from the hi-res input scale to the "relu-ish" scale (3.0 ↦ 32768).
    pub reluish_multiplier_fixedpoint_int16: i16,
    pub reluish_multiplier_exponent: i32,
    pub qmin: i32,
    pub qmax: i32,
}

/// `reference_ops::HardSwish` (quantized) on one element, in its 16-bit steps.
pub(crate) fn hard_swish_q(x: i32, p: &HardSwishParams) -> i32 {
    let input_value = x.wrapping_sub(p.input_zero_point) as i16;
    let input_value_on_hires_input_scale = (input_value as i32 * (1 << 7)) as i16;
    let input_value_on_preshift_output_scale = srdhm_i16(
        input_value_on_hires_input_scale,
        p.output_multiplier_fixedpoint_int16,
    );
    let mut reluish_value = input_value_on_hires_input_scale;
    if p.reluish_multiplier_exponent > 0 {
        reluish_value = saturating_left_shift_i16(reluish_value, p.reluish_multiplier_exponent - 1);
    }
    reluish_value = srdhm_i16(reluish_value, p.reluish_multiplier_fixedpoint_int16);
    if p.reluish_multiplier_exponent > 0 {
        reluish_value = saturating_left_shift_i16(reluish_value, 1);
    }
    if p.reluish_multiplier_exponent < 0 {
        reluish_value = rounding_divide_by_pot_i16(reluish_value, -p.reluish_multiplier_exponent);
    }
    // [-1, 1] → [0, 1] in Q0.15.
    reluish_value = ((reluish_value as i32 + (1 << 15)) >> 1) as i16;
    let preshift_output_value =
        saturating_doubling_high_mul_i16(reluish_value, input_value_on_preshift_output_scale);
    let mut output_value =
        rounding_divide_by_pot_i16(preshift_output_value, -p.output_multiplier_exponent);
    output_value = (output_value as i32).wrapping_add(p.output_zero_point) as i16;
    (output_value as i32).max(p.qmin).min(p.qmax)
}

impl QuantOp for HardSwishParams {
    fn apply(&self, x: i32) -> i32 {
        hard_swish_q(x, self)
    }
}

/// `HardSwishPrepare`'s parameters from the tensors' scales and zero points.
pub(crate) fn hard_swish_params(
    dtype: DType,
    (s_in, zp_in): (f32, i32),
    (s_out, zp_out): (f32, i32),
) -> std::result::Result<HardSwishParams, String> {
    let (qmin, qmax) = qrange(dtype).ok_or("not a quantized dtype")?;
    // All in float, as HardSwishPrepare computes them.
    let hires_input_scale = (1.0f32 / 128.0) * s_in;
    let reluish_scale = 3.0f32 / 32768.0;
    let output_multiplier = hires_input_scale / s_out;
    let out_m = quantize_multiplier(output_multiplier as f64);
    if out_m.shift > 0 {
        return Err(format!(
            "output multiplier {output_multiplier} is above 1 (TFLite requires exponent <= 0)"
        ));
    }
    let reluish_multiplier = hires_input_scale / reluish_scale;
    let reluish_m = quantize_multiplier(reluish_multiplier as f64);
    if !(-31..=31).contains(&reluish_m.shift) || -out_m.shift > 31 {
        return Err(format!(
            "multiplier exponents {} and {} are out of range",
            reluish_m.shift, out_m.shift
        ));
    }
    Ok(HardSwishParams {
        input_zero_point: zp_in,
        output_zero_point: zp_out,
        output_multiplier_fixedpoint_int16: downscale_int32_to_int16_multiplier(out_m.multiplier),
        output_multiplier_exponent: out_m.shift,
        reluish_multiplier_fixedpoint_int16: downscale_int32_to_int16_multiplier(
            reluish_m.multiplier,
        ),
        reluish_multiplier_exponent: reluish_m.shift,
        qmin,
        qmax,
    })
}

/// Float HARD_SWISH (`reference_ops::HardSwish<float>`): `x * min(6, max(0, x + 3)) / 6`.
pub(crate) fn hard_swish_f32(x: f32) -> f32 {
    x * relu6_of_x_plus_3(x) / 6.0
}

/// `std::min(6, std::max(0, x + 3))` with the C++ comparisons (a NaN gives 6).
fn relu6_of_x_plus_3(x: f32) -> f32 {
    let plus3 = x + 3.0;
    let relu = if 0.0 < plus3 { plus3 } else { 0.0 };
    if relu < 6.0 {
        relu
    } else {
        6.0
    }
}

/// `optimized_ops::HardSwish` (float) on a whole tensor.
fn hard_swish_optimized(input: &[f32], output: &mut [f32]) {
    let blocks = input.len() / 4 * 4;
    for (i, (o, &x)) in output.iter_mut().zip(input).enumerate() {
        let relu6 = relu6_of_x_plus_3(x);
        *o = if i < blocks {
            (x * (1.0f32 / 6.0)) * relu6
        } else {
            x * relu6 / 6.0
        };
    }
}

pub(crate) fn prepare_hard_swish(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        // reference_ops::HardSwish<float>: in * min(6, max(0, in + 3)) / 6.
        DType::F32 if ctx.float_order == FloatOrder::Converter => {
            Ok(Box::new(HardSwishOpt { label: ctx.label() }))
        }
        DType::F32 => Ok(float_kernel(ctx, FloatFn::HardSwish)),
        DType::I8 | DType::U8 => {
            let p = hard_swish_params(
                input.dtype,
                quant_params(ctx, input)?,
                quant_params(ctx, output)?,
            )
            .map_err(|why| ctx.unsupported(why))?;
            Ok(quant_kernel(ctx, p))
        }
        _ => Err(ctx.unsupported("only float32, int8 and uint8 are supported")),
    }
}

/// `optimized_ops::HardSwish` (float): whole vectors multiply by 1/6 (see
/// [`hard_swish_optimized`]).
pub(crate) struct HardSwishOpt {
    label: String,
}

impl Kernel for HardSwishOpt {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let (input, output) = super::unary_run_io(&self.label, inputs, outputs)?;
        match (input.buf(), output.buf_mut()) {
            (crate::Buf::F32(x), crate::Buf::F32(y)) if x.len() == y.len() => {
                hard_swish_optimized(x, y);
                Ok(())
            }
            _ => Err(super::mismatch(&self.label, input, output)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_swish_blocks_multiply_by_a_sixth() {
        let input: Vec<f32> = (0..22).map(|i| -4.0 + i as f32 * 0.43).collect();
        let mut out = vec![0.0; 22];
        hard_swish_optimized(&input, &mut out);
        for (i, (&x, &y)) in input.iter().zip(&out).enumerate() {
            let r = 6.0f32.min(0.0f32.max(x + 3.0));
            let want = if i < 20 {
                (x * (1.0 / 6.0)) * r
            } else {
                x * r / 6.0
            };
            assert_eq!(y.to_bits(), want.to_bits());
        }
    }

    /// The quantized HARD_SWISH against the real function on a sweep of inputs: within
    /// about one output step (its fixed-point steps are approximations).
    #[test]
    fn hard_swish_tracks_the_real_function() {
        for &(s_in, zp_in, s_out, zp_out) in &[
            (0.033_247_937_f32, -8, 0.019_055_73_f32, -108),
            (0.1, 0, 0.05, -100),
            (0.02, 20, 0.01, -128),
            (0.5, -3, 0.4, -120),
        ] {
            let p = hard_swish_params(DType::I8, (s_in, zp_in), (s_out, zp_out)).unwrap();
            for x in -128..=127 {
                let r = s_in * (x - zp_in) as f32;
                let want = r * (r + 3.0).clamp(0.0, 6.0) / 6.0;
                let want_q = ((want / s_out).round() as i32 + zp_out).clamp(-128, 127);
                let got = hard_swish_q(x, &p);
                assert!(
                    (got - want_q).abs() <= 1,
                    "s_in {s_in} x {x}: got {got} want {want_q}"
                );
            }
        }
        // A large input scale (left-shifting reluish multiplier, saturating).
        let p = hard_swish_params(DType::I8, (0.5, 0), (0.5, 0)).unwrap();
        assert!(p.reluish_multiplier_exponent > 0);
        assert_eq!(hard_swish_q(20, &p), 20); // 10 >= 3: x
        assert_eq!(hard_swish_q(-20, &p), 0); // -10 <= -3: 0
        assert_eq!(hard_swish_q(0, &p), 0);
        // The output multiplier must not exceed 1.
        assert!(hard_swish_params(DType::I8, (1.0, 0), (1.0 / 256.0, 0)).is_err());
    }
}
