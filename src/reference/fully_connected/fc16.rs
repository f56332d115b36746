//! The 16x8 FULLY_CONNECTED: int16 activations, int8 weights (per tensor or per output
//! unit), int64 bias (`kernels/fully_connected.cc`, `EvalQuantized`, output int16 with input
//! int16 → `FullyConnectedInt16` / `FullyConnectedPerChannelInt16`, which under
//! `BUILTIN_REF` — and whenever the bias is int64 — call the reference loops of
//! `reference/integer_ops/fully_connected.h` that take the float scales).
//!
//! As for int8, those loops rescale in double, not with `MultiplyByQuantizedMultiplier`:
//! `acc` (the bias type's width: int64 with a bias, int32 without one, where
//! `quantized_bias_type` stays int32) `+ bias`, then
//! `(int32)round((double)acc · (double)s_in · (double)s_w[c] / (double)s_out)`, `+ zp_out`,
//! clamped to the fused activation's int16 range. Input and output offsets are applied as the
//! loops do (they are 0 in the converter's files).

use crate::model::{DType, FullyConnectedOptions};
use crate::{Result, Tensor};

use super::super::common::{clamp_i32, quantized_activation_range, shape_of};
use super::super::{Kernel, OpCtx};
use super::fc::Dims;
use super::{arg, check_len, i8s, out0, qs, qs_mut};

/// The double requantization of the 16x8 reference loops.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DoubleEpilogue16 {
    /// Per output unit; `None` without a bias (the accumulator is then int32).
    pub(crate) bias: Option<Vec<i64>>,
    /// `(double)s_in · (double)s_w[c] / (double)s_out` per output unit.
    pub(crate) scale: Vec<f64>,
    pub(crate) output_zero_point: i32,
    pub(crate) act_min: i32,
    pub(crate) act_max: i32,
}

impl DoubleEpilogue16 {
    #[inline]
    pub(crate) fn apply(&self, acc: i64, unit: usize) -> i32 {
        let acc = match &self.bias {
            Some(b) => acc.wrapping_add(b[unit]),
            // An int32 accumulator wraps as the C++ compiles.
            None => i64::from(acc as i32),
        };
        // static_cast<int32_t>(round(double)): half away from zero; `as` saturates where
        // C++ would be undefined.
        let scaled = (acc as f64 * self.scale[unit]).round() as i32;
        clamp_i32(
            scaled.wrapping_add(self.output_zero_point),
            self.act_min,
            self.act_max,
        )
    }
}

/// `FullyConnectedInt16` / `FullyConnectedPerChannelInt16` under `BUILTIN_REF`.
pub(crate) struct QuantFc16 {
    pub(crate) label: String,
    pub(crate) dims: Dims,
    /// `-input zero point`.
    pub(crate) input_offset: i32,
    pub(crate) epilogue: DoubleEpilogue16,
}

pub(super) fn prepare(
    ctx: &OpCtx,
    o: &FullyConnectedOptions,
    dims: Dims,
    bias: Option<&crate::model::Tensor>,
) -> Result<Box<dyn Kernel>> {
    let input = ctx.input(0)?;
    let filter = ctx.input(1)?;
    let output = ctx.output(0)?;
    let (s_in, zp_in) = ctx.per_tensor(input)?;
    let (s_out, zp_out) = ctx.per_tensor(output)?;
    let fq = filter
        .quant
        .as_ref()
        .filter(|q| !q.scale.is_empty())
        .ok_or_else(|| ctx.unsupported("the weights need quantization parameters"))?;
    if fq.zero_point.iter().any(|&z| z != 0) {
        return Err(ctx.unsupported("16x8 weights need zero points 0"));
    }
    let units = dims.units;
    if fq.scale.len() > 1 {
        let qdim = usize::try_from(fq.quantized_dimension).ok();
        if fq.scale.len() != units
            || qdim.and_then(|d| shape_of(filter).get(d).copied()) != Some(units)
        {
            return Err(ctx.unsupported(format!(
                "{} weight scales along dimension {}: one per output unit (dimension 0) is \
                 supported",
                fq.scale.len(),
                fq.quantized_dimension
            )));
        }
    }
    let scale = (0..units)
        .map(|c| {
            let s_w = if fq.scale.len() == 1 {
                fq.scale[0]
            } else {
                fq.scale[c]
            };
            f64::from(s_in) * f64::from(s_w) / f64::from(s_out)
        })
        .collect();
    let (act_min, act_max) = quantized_activation_range(o.activation, DType::I16, s_out, zp_out)
        .ok_or_else(|| ctx.unsupported(format!("fused activation {:?}", o.activation)))?;
    let bias = match bias {
        None => None,
        Some(b) if b.dtype == DType::I64 => Some(
            ctx.require_const(2, "the bias")?
                .as_i64()
                .ok_or_else(|| ctx.invalid("the bias data is not int64"))?
                .to_vec(),
        ),
        Some(b) => {
            return Err(ctx.unsupported(format!(
                "bias '{}' is {}: the 16x8 FULLY_CONNECTED here takes an int64 bias",
                b.name, b.dtype
            )))
        }
    };
    Ok(Box::new(QuantFc16 {
        label: ctx.label(),
        dims,
        input_offset: zp_in.wrapping_neg(),
        epilogue: DoubleEpilogue16 {
            bias,
            scale,
            output_zero_point: zp_out,
            act_min,
            act_max,
        },
    }))
}

impl Kernel for QuantFc16 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let Dims {
            batches,
            units,
            depth,
        } = self.dims;
        let x = qs::<i16>(l, "the input", arg(l, inputs, 0)?)?;
        let w = i8s(l, "the weights", arg(l, inputs, 1)?)?;
        check_len(l, "the input", x.len(), batches * depth)?;
        check_len(l, "the weights", w.len(), units * depth)?;
        let out = qs_mut::<i16>(l, out0(l, outputs)?)?;
        check_len(l, "the output", out.len(), batches * units)?;
        for b in 0..batches {
            for o in 0..units {
                let mut acc = 0i64;
                for d in 0..depth {
                    let input_val =
                        i64::from(i32::from(x[b * depth + d]).wrapping_add(self.input_offset));
                    acc = acc.wrapping_add(i64::from(w[o * depth + d]) * input_val);
                }
                out[o + units * b] = self.epilogue.apply(acc, o) as i16;
            }
        }
        Ok(())
    }
}
