//! PRELU (`reference_ops::Prelu`/`BroadcastPrelu4DSlow`): alpha broadcasts over the input.

use crate::model::DType;
use crate::quant::fixedpoint::{multiply_by_quantized_multiplier, QuantizedMultiplier};
use crate::{Buf, Error, Result, Tensor};

use super::super::common::{broadcast_shape, qrange, shape_of};
use super::super::{Kernel, OpCtx};
use super::{first, multiplier, quant_params};

/// `PreluParams` (`PreluPrepare`/`PreluEval`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PreluParams {
    pub input_zero_point: i32,
    pub alpha_zero_point: i32,
    pub output_zero_point: i32,
    /// `s_in / s_out`, for `x >= zp_in`.
    pub multiplier_1: QuantizedMultiplier,
    /// `s_in * s_alpha / s_out`, for `x < zp_in`.
    pub multiplier_2: QuantizedMultiplier,
    pub qmin: i32,
    pub qmax: i32,
}

/// `reference_ops::Prelu` on one element and its alpha.
pub(crate) fn prelu_q(x: i32, alpha: i32, p: &PreluParams) -> i32 {
    let input_value = x.wrapping_sub(p.input_zero_point);
    let output_value = if input_value >= 0 {
        multiply_by_quantized_multiplier(input_value, p.multiplier_1)
    } else {
        let alpha_value = alpha.wrapping_sub(p.alpha_zero_point);
        multiply_by_quantized_multiplier(input_value.wrapping_mul(alpha_value), p.multiplier_2)
    };
    output_value
        .wrapping_add(p.output_zero_point)
        .max(p.qmin)
        .min(p.qmax)
}

pub(crate) struct Prelu {
    pub(crate) label: String,
    /// For each output (= input) element, the flat index of its alpha.
    pub(crate) alpha_index: Vec<usize>,
    /// `None` for float32.
    pub(crate) quant: Option<PreluParams>,
}

impl Kernel for Prelu {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let label = &self.label;
        let input = first(inputs, label)?;
        let alpha = inputs
            .get(1)
            .copied()
            .flatten()
            .ok_or_else(|| Error::InvalidModel(format!("{label}: alpha has no value")))?;
        let output = outputs
            .first_mut()
            .ok_or_else(|| Error::InvalidModel(format!("{label}: no output")))?;
        let n = self.alpha_index.len();
        let alpha_len = alpha.len();
        let bad = || Error::Shape(format!("{label}: input, alpha or output do not fit"));
        if input.len() != n || output.len() != n || self.alpha_index.iter().any(|&i| i >= alpha_len)
        {
            return Err(bad());
        }
        let idx = &self.alpha_index;
        match (input.buf(), alpha.buf(), output.buf_mut(), &self.quant) {
            (Buf::F32(x), Buf::F32(a), Buf::F32(y), None) => {
                for i in 0..n {
                    let (x, a) = (x[i], a[idx[i]]);
                    y[i] = if x >= 0.0 { x } else { x * a };
                }
            }
            (Buf::I8(x), Buf::I8(a), Buf::I8(y), Some(p)) => {
                for i in 0..n {
                    y[i] = prelu_q(x[i] as i32, a[idx[i]] as i32, p) as i8;
                }
            }
            (Buf::U8(x), Buf::U8(a), Buf::U8(y), Some(p)) => {
                for i in 0..n {
                    y[i] = prelu_q(x[i] as i32, a[idx[i]] as i32, p) as u8;
                }
            }
            _ => return Err(bad()),
        }
        Ok(())
    }
}

pub(crate) fn prepare_prelu(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!(
            "takes 2 inputs and 1 output, has {} and {}",
            ctx.num_inputs(),
            ctx.op.outputs.len()
        )));
    }
    let input = ctx.input(0)?;
    let alpha = ctx.input(1)?;
    let output = ctx.output(0)?;
    if input.dtype != alpha.dtype || input.dtype != output.dtype {
        return Err(ctx.unsupported("input, alpha and output dtypes must be equal"));
    }
    let in_shape = shape_of(input);
    let alpha_shape = shape_of(alpha);
    // The broadcast of input and alpha must be the input's shape, and the output's.
    if broadcast_shape(&in_shape, &alpha_shape).as_deref() != Some(in_shape.as_slice())
        || shape_of(output) != in_shape
    {
        return Err(ctx.invalid(format!(
            "alpha {:?} does not broadcast to input {:?} (output {:?})",
            alpha.shape, input.shape, output.shape
        )));
    }
    if in_shape != alpha_shape && in_shape.len() > 4 {
        return Err(ctx.unsupported("broadcasting PRELU is limited to 4-D"));
    }
    let alpha_index = ctx
        .broadcast_map(&alpha_shape, &in_shape)?
        .ok_or_else(|| ctx.invalid("alpha does not broadcast"))?;
    let quant = match input.dtype {
        DType::F32 => None,
        DType::I8 | DType::U8 => {
            let (s_in, zp_in) = quant_params(ctx, input)?;
            let (s_a, zp_a) = quant_params(ctx, alpha)?;
            let (s_out, zp_out) = quant_params(ctx, output)?;
            let (qmin, qmax) = qrange(input.dtype).unwrap_or((i32::MIN, i32::MAX));
            // Float arithmetic, then widened (PreluPrepare).
            Some(PreluParams {
                input_zero_point: zp_in,
                alpha_zero_point: zp_a,
                output_zero_point: zp_out,
                multiplier_1: multiplier(ctx, (s_in / s_out) as f64, "input/output")?,
                multiplier_2: multiplier(ctx, (s_in * s_a / s_out) as f64, "alpha")?,
                qmin,
                qmax,
            })
        }
        _ => return Err(ctx.unsupported("only float32, int8 and uint8 are supported")),
    };
    Ok(Box::new(Prelu {
        label: ctx.label(),
        alpha_index,
        quant,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::fixedpoint::quantize_multiplier;

    #[test]
    fn prelu_multiplies_by_the_centred_alpha() {
        let p = PreluParams {
            input_zero_point: 0,
            alpha_zero_point: 2,
            output_zero_point: 3,
            multiplier_1: quantize_multiplier(0.5),
            multiplier_2: quantize_multiplier(0.125),
            qmin: -128,
            qmax: 127,
        };
        assert_eq!(prelu_q(10, 100, &p), 8);
        assert_eq!(prelu_q(-10, 10, &p), -7); // -80 / 8 + 3
        assert_eq!(prelu_q(-128, 127, &p), -128); // -128*125/8 = -2000, clamped
    }
}
