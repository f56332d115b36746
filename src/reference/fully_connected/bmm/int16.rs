//! The 16x8-mode BATCH_MATMUL: int16 LHS, RHS and output (`batch_matmul.cc` `EvalInt16` →
//! `reference_ops::BatchMatMul<int16_t, int64_t>`, `reference/batch_matmul.h`): an int64
//! accumulator and TFLite's int64 `MultiplyByQuantizedMultiplier` (the multiplier reduced to
//! 16 bits), the multiplier `QuantizeMultiplier((double)(s_lhs · s_rhs) / (double)s_out)`
//! (`GetQuantizedConvolutionMultipler`: the product in float), the clamp to the int16 range
//! (BATCH_MATMUL has no fused activation). Prepare requires every zero point to be 0.

use crate::model::DType;
use crate::quant::fixedpoint::{
    multiply_by_quantized_multiplier_i64, quantize_multiplier, ReducedMultiplier,
};
use crate::{Result, Tensor};

use super::super::super::{Kernel, OpCtx};
use super::super::{check_len, out0, qs, qs_mut};
use super::{Operands, Plan};

pub(crate) struct Int16Bmm {
    pub(crate) label: String,
    pub(crate) plan: Plan,
    pub(crate) operands: Operands,
    pub(crate) rhs_t: Option<Vec<i16>>,
    pub(crate) multiplier: ReducedMultiplier,
}

pub(super) fn prepare_int16(
    ctx: &OpCtx,
    plan: Plan,
    operands: Operands,
) -> Result<Box<dyn Kernel>> {
    let (lhs, rhs, output) = (ctx.input(0)?, ctx.input(1)?, ctx.output(0)?);
    let (l_scale, l_zp) = ctx.per_tensor(lhs)?;
    let (r_scale, r_zp) = ctx.per_tensor(rhs)?;
    let (o_scale, o_zp) = ctx.per_tensor(output)?;
    if l_zp != 0 || r_zp != 0 || o_zp != 0 {
        return Err(ctx.unsupported("int16 BATCH_MATMUL needs zero points 0"));
    }
    let real = f64::from(l_scale * r_scale) / f64::from(o_scale);
    if real.is_nan() || real < 0.0 {
        return Err(ctx.unsupported(format!("requantization multiplier {real}")));
    }
    let m = quantize_multiplier(real);
    let multiplier = ReducedMultiplier::new(m).ok_or_else(|| {
        ctx.unsupported(format!(
            "requantization multiplier {real} needs shift {}, outside what TFLite's int64 \
             MultiplyByQuantizedMultiplier defines",
            m.shift
        ))
    })?;
    debug_assert_eq!(output.dtype, DType::I16);
    let rhs_t = operands.const_weights(ctx, qs::<i16>)?;
    Ok(Box::new(Int16Bmm {
        label: ctx.label(),
        plan,
        operands,
        rhs_t,
        multiplier,
    }))
}

impl Kernel for Int16Bmm {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let [x, w] = self
            .operands
            .run_operands(l, inputs, &self.rhs_t, qs::<i16>)?;
        let out = qs_mut::<i16>(l, out0(l, outputs)?)?;
        check_len(l, "the output", out.len(), self.plan.output_len())?;
        let Plan { n, m, k, .. } = self.plan;
        for s in &self.plan.steps {
            let (wp, xp, op) = (&w[s.filter..], &x[s.input..], &mut out[s.output..]);
            for j in 0..m {
                for i in 0..n {
                    let mut total = 0i64;
                    for kk in 0..k {
                        total += i64::from(wp[k * i + kk]) * i64::from(xp[k * j + kk]);
                    }
                    let scaled = multiply_by_quantized_multiplier_i64(total, self.multiplier);
                    op[n * j + i] = scaled.clamp(-32768, 32767) as i16;
                }
            }
        }
        Ok(())
    }
}
