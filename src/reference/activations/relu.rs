//! RELU, RELU6 (`ReluX`) and LEAKY_RELU (`QuantizeLeakyRelu`).

use crate::model::DType;
use crate::quant::fixedpoint::{multiply_by_quantized_multiplier, QuantizedMultiplier};
use crate::Result;

use super::super::{Kernel, OpCtx};
use super::{
    float_kernel, multiplier, quant_kernel, requant_params, unary_io, FloatFn, QuantOp, Requant,
};

// ---- RELU, RELU6 ---------------------------------------------------------------------

/// Float RELU: `std::max(x, min)`.
pub(crate) fn relu_f32(x: f32, min: f32) -> f32 {
    // `optimized_ops::Relu` (Eigen's `cwiseMax`, `std::max(x, min)`): a NaN passes through.
    if x < min {
        min
    } else {
        x
    }
}

/// Float RELU6 / RELU_N1_TO_1 / RELU_0_TO_1: `optimized_ops::Relu6` and friends (Eigen's
/// `cwiseMax(min).cwiseMin(max)`, the C++ comparisons): a NaN passes through, as LiteRT's
/// goldens show (tests/nonfinite.rs).
pub(crate) fn relu_x_f32(x: f32, min: f32, max: f32) -> f32 {
    super::super::common::clamp_like_cpp(x, min, max)
}

/// Float LEAKY_RELU (`reference_ops::LeakyRelu`: alpha may be > 1 or < 0, so not
/// `max(x, alpha x)`).
pub(crate) fn leaky_relu_f32(x: f32, alpha: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        x * alpha
    }
}

/// `ReluX` parameters (`QuantizedReluX` in `activations.cc`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ReluXParams {
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    pub multiplier: QuantizedMultiplier,
    pub act_min: i32,
    pub act_max: i32,
}

/// `reference_ops::ReluX` on one element.
pub(crate) fn relu_x(x: i32, p: &ReluXParams) -> i32 {
    let clamped = p
        .output_zero_point
        .wrapping_add(multiply_by_quantized_multiplier(
            x.wrapping_sub(p.input_zero_point),
            p.multiplier,
        ));
    clamped.max(p.act_min).min(p.act_max)
}

impl QuantOp for ReluXParams {
    fn apply(&self, x: i32) -> i32 {
        relu_x(x, self)
    }
}

pub(crate) fn prepare_relu(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    prepare_relu_x(ctx, 0.0, f32::INFINITY)
}

pub(crate) fn prepare_relu6(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    prepare_relu_x(ctx, 0.0, 6.0)
}

fn prepare_relu_x(ctx: &OpCtx, act_min: f32, act_max: f32) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        DType::F32 => Ok(if act_max.is_infinite() {
            float_kernel(ctx, FloatFn::Max { min: act_min })
        } else {
            float_kernel(
                ctx,
                FloatFn::ClampCpp {
                    min: act_min,
                    max: act_max,
                },
            )
        }),
        DType::I8 | DType::U8 | DType::I16 => {
            let Requant {
                input: (s_in, zp_in),
                output: (s_out, zp_out),
                range: (qmin, qmax),
            } = requant_params(ctx, input, output)?;
            // Float division, then widened (ReluPrepare).
            let m = multiplier(ctx, (s_in / s_out) as f64, "input/output")?;
            let act_min = qmin.max(zp_out.wrapping_add((act_min / s_out).round() as i32));
            let act_max = if act_max == f32::INFINITY {
                qmax
            } else {
                qmax.min(zp_out.wrapping_add((act_max / s_out).round() as i32))
            };
            Ok(quant_kernel(
                ctx,
                ReluXParams {
                    input_zero_point: zp_in,
                    output_zero_point: zp_out,
                    multiplier: m,
                    act_min,
                    act_max,
                },
            ))
        }
        _ => Err(ctx.unsupported("only float32, int8, uint8 and int16 are supported")),
    }
}

// ---- LEAKY_RELU ----------------------------------------------------------------------

/// `QuantizeLeakyRelu` parameters (`LeakyReluPrepare`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LeakyReluParams {
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    pub identity: QuantizedMultiplier,
    /// The alpha multiplier as `QuantizeMultiplier` gives it (negative for alpha < 0).
    pub alpha: QuantizedMultiplier,
    pub qmin: i32,
    pub qmax: i32,
}

/// `reference_ops::QuantizeLeakyRelu` on one element.
pub(crate) fn leaky_relu_q(x: i32, p: &LeakyReluParams) -> i32 {
    let input_value = x.wrapping_sub(p.input_zero_point);
    let mut unclamped = p.output_zero_point;
    if input_value >= 0 {
        unclamped =
            unclamped.wrapping_add(multiply_by_quantized_multiplier(input_value, p.identity));
    } else {
        // A negative multiplier is applied as the negation of its magnitude's product
        // (C++ negates the int32, wrapping at INT32_MIN).
        let negative = p.alpha.multiplier < 0;
        let safe = QuantizedMultiplier {
            multiplier: p.alpha.multiplier.wrapping_abs(),
            shift: p.alpha.shift,
        };
        let scaled = multiply_by_quantized_multiplier(input_value, safe);
        unclamped = unclamped.wrapping_add(if negative {
            scaled.wrapping_neg()
        } else {
            scaled
        });
    }
    unclamped.max(p.qmin).min(p.qmax)
}

impl QuantOp for LeakyReluParams {
    fn apply(&self, x: i32) -> i32 {
        leaky_relu_q(x, self)
    }
}

pub(crate) fn prepare_leaky_relu(ctx: &OpCtx, alpha: f32) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        // reference_ops::LeakyRelu: alpha may be > 1 or < 0, so not max(x, alpha x).
        DType::F32 => Ok(float_kernel(ctx, FloatFn::LeakyRelu { alpha })),
        DType::I8 | DType::U8 | DType::I16 => {
            let Requant {
                input: (s_in, zp_in),
                output: (s_out, zp_out),
                range: (qmin, qmax),
            } = requant_params(ctx, input, output)?;
            // Products and quotients in float, then widened (LeakyReluPrepare).
            let alpha_m = multiplier(ctx, (s_in * alpha / s_out) as f64, "alpha")?;
            let identity = multiplier(ctx, (s_in / s_out) as f64, "identity")?;
            Ok(quant_kernel(
                ctx,
                LeakyReluParams {
                    input_zero_point: zp_in,
                    output_zero_point: zp_out,
                    identity,
                    alpha: alpha_m,
                    qmin,
                    qmax,
                },
            ))
        }
        _ => Err(ctx.unsupported("only float32, int8, uint8 and int16 are supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::fixedpoint::quantize_multiplier;

    #[test]
    fn relu_x_requantizes_and_clamps() {
        // Same scale: identity above the zero point, clamped at it below.
        let p = ReluXParams {
            input_zero_point: -10,
            output_zero_point: -10,
            multiplier: quantize_multiplier(1.0),
            act_min: -10,
            act_max: 127,
        };
        assert_eq!(relu_x(-128, &p), -10);
        assert_eq!(relu_x(-11, &p), -10);
        assert_eq!(relu_x(-9, &p), -9);
        assert_eq!(relu_x(127, &p), 127);
        // Halving scale: (x - zp) * 2, rounded, saturating at 127.
        let p = ReluXParams {
            input_zero_point: 0,
            output_zero_point: -128,
            multiplier: quantize_multiplier(2.0),
            act_min: -128,
            act_max: 127,
        };
        assert_eq!(relu_x(100, &p), 72);
        assert_eq!(relu_x(127, &p), 126);
        assert_eq!(relu_x(-1, &p), -128);
    }

    #[test]
    fn leaky_relu_uses_the_alpha_multiplier_below_the_zero_point() {
        let p = LeakyReluParams {
            input_zero_point: 5,
            output_zero_point: 0,
            identity: quantize_multiplier(1.0),
            alpha: quantize_multiplier(0.25),
            qmin: -128,
            qmax: 127,
        };
        assert_eq!(leaky_relu_q(5, &p), 0);
        assert_eq!(leaky_relu_q(6, &p), 1);
        assert_eq!(leaky_relu_q(1, &p), -1); // -4 * 0.25
        assert_eq!(leaky_relu_q(-1, &p), -2); // -6 * 0.25 = -1.5 → -2 (half away)
        assert_eq!(leaky_relu_q(-128, &p), -33); // -133 / 4 = -33.25
                                                 // Negative alpha: -MBQM(x, |m|).
        let neg = LeakyReluParams {
            alpha: quantize_multiplier(-0.5),
            ..p
        };
        assert!(neg.alpha.multiplier < 0);
        assert_eq!(leaky_relu_q(-1, &neg), 3); // -6 * -0.5
                                               // -5 * -0.5 = 2.5: SRDHM rounds a negative half toward zero (-2), negated: 2.
        assert_eq!(leaky_relu_q(0, &neg), 2);
    }
}
