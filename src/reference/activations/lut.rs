//! LOGISTIC and TANH: float, and int8/uint8 through a 256-entry table built at prepare
//! (`LUTPopulate`).

use crate::model::DType;
use crate::Result;

use super::super::common::qrange;
use super::super::{FloatOrder, Kernel, OpCtx};
use super::{float_kernel, quant_kernel, quant_params, unary_io, FloatFn, QuantOp};

/// `LUTPopulate<int8_t/uint8_t>`: for each input value `qmin..=qmax` (index `x - qmin`),
/// the output value, in float arithmetic as TFLite builds it.
pub(crate) fn lut_populate(
    dtype: DType,
    (s_in, zp_in): (f32, i32),
    (s_out, zp_out): (f32, i32),
    transform: impl Fn(f32) -> f32,
) -> Vec<i32> {
    let (minval, maxval) = qrange(dtype).unwrap_or((0, -1));
    let inverse_scale = 1.0f32 / s_out;
    (minval..=maxval)
        .map(|val| {
            let dequantized = s_in * (val - zp_in) as f32;
            let transformed = transform(dequantized);
            let rescaled = (transformed * inverse_scale).round();
            let quantized = (rescaled + zp_out as f32) as i32;
            quantized.min(maxval).max(minval)
        })
        .collect()
}

/// A 256-entry table lookup (`LookupTable`).
pub(crate) struct Lut {
    pub(crate) qmin: i32,
    pub(crate) table: Vec<i32>,
}

impl QuantOp for Lut {
    fn apply(&self, x: i32) -> i32 {
        // Prepare builds an entry for every value of the dtype (the fallback is unreachable).
        usize::try_from(x - self.qmin)
            .ok()
            .and_then(|i| self.table.get(i).copied())
            .unwrap_or(self.qmin)
    }
}

/// The table lookup kernel of `transform` for an int8/uint8 input.
fn lut_kernel(
    ctx: &OpCtx,
    dtype: DType,
    qin: (f32, i32),
    qout: (f32, i32),
    transform: impl Fn(f32) -> f32,
) -> Box<dyn Kernel> {
    let table = lut_populate(dtype, qin, qout, transform);
    let qmin = qrange(dtype).map_or(0, |r| r.0);
    quant_kernel(ctx, Lut { qmin, table })
}

/// Float LOGISTIC (`reference_ops::Logistic<float>`, `reference/logistic.h`): 1 above
/// `cutoff_upper` = 16.619047164916992188, `exp(x)` below `cutoff_lower` = −9, else
/// `1 / (1 + exp(−x))`; a NaN falls through both comparisons and stays NaN. (EfficientNet's
/// swish gates reach below −9: the exp branch differs from the quotient there by a factor
/// 1 + e^x.)
pub(crate) fn logistic_f32(x: f32) -> f32 {
    if x > 16.619_047 {
        1.0
    } else if x < -9.0 {
        x.exp()
    } else {
        1.0 / (1.0 + (-x).exp())
    }
}

/// `1 / (1 + exp(-x))` as LiteRT's LUT builds it (float).
fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub(crate) fn prepare_logistic(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        // reference_ops::Logistic<float>: 1 above 16.619047, exp(x) below -9 (NaN passes through).
        DType::F32 if ctx.float_order == FloatOrder::Converter => {
            Ok(float_kernel(ctx, FloatFn::LogisticConverter))
        }
        DType::F32 => Ok(float_kernel(ctx, FloatFn::Logistic)),
        DType::I8 | DType::U8 => {
            let qin = quant_params(ctx, input)?;
            let qout = quant_params(ctx, output)?;
            if qout.0 as f64 != 1.0 / 256.0 {
                return Err(
                    ctx.unsupported(format!("the output scale must be 1/256, is {}", qout.0))
                );
            }
            Ok(lut_kernel(ctx, input.dtype, qin, qout, sigmoid_f32))
        }
        DType::I16 => Ok(Box::new(super::sigmoid16::Sigmoid16::prepare(ctx, false)?)),
        _ => Err(ctx.unsupported("only float32, int8, uint8 and int16 are supported")),
    }
}

pub(crate) fn prepare_tanh(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let (input, output) = unary_io(ctx)?;
    match input.dtype {
        DType::F32 if ctx.float_order == FloatOrder::Converter => {
            Ok(float_kernel(ctx, FloatFn::TanhConverter))
        }
        DType::F32 => Ok(float_kernel(ctx, FloatFn::Tanh)),
        DType::I8 | DType::U8 => {
            let qin = quant_params(ctx, input)?;
            let qout = quant_params(ctx, output)?;
            Ok(lut_kernel(ctx, input.dtype, qin, qout, f32::tanh))
        }
        DType::I16 => Ok(Box::new(super::sigmoid16::Sigmoid16::prepare(ctx, true)?)),
        _ => Err(ctx.unsupported("only float32, int8, uint8 and int16 are supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lut_follows_lutpopulate() {
        // Logistic at the fixture's input params; output (1/256, -128).
        let t = lut_populate(DType::I8, (0.25, 0), (1.0 / 256.0, -128), sigmoid_f32);
        assert_eq!(t.len(), 256);
        assert_eq!(t[128], 0); // x = 0 → 0.5 → 128 - 128
        assert_eq!(t[0], -128); // sigmoid(-32) → 0
        assert_eq!(t[255], 127); // 256 - 128 clamped
                                 // uint8 tanh with (1/128, 128) output.
        let t = lut_populate(DType::U8, (0.1, 128), (1.0 / 128.0, 128), f32::tanh);
        assert_eq!(t[128], 128);
        assert_eq!(t[255], 255);
        assert_eq!(t[0], 0);
        // Truncation toward zero after adding the zero point: 0.5 step values.
        let t = lut_populate(DType::I8, (1.0, 0), (2.0, 0), |x| x);
        assert_eq!(t[(3 + 128) as usize], 2); // round(1.5) = 2
        assert_eq!(t[(-3 + 128) as usize], -2); // round(-1.5) = -2
    }
}
