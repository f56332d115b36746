//! Hybrid BATCH_MATMUL: float LHS quantized per row at run time, constant int8 RHS, float
//! output (`EvalHybrid` and the scaling-factor `reference_ops::BatchMatMul`).

use crate::model::BatchMatMulOptions;
use crate::{Result, Tensor};

use super::super::super::{Kernel, OpCtx};
use super::super::{batch_quantize, check_len, f32s, f32s_mut, i8s, out0, row_sums};
use super::{Operands, Plan};

pub(crate) struct HybridBmm {
    pub(crate) label: String,
    pub(crate) plan: Plan,
    pub(crate) operands: Operands,
    /// The RHS as `[.., N, K]`.
    pub(crate) weights: Vec<i8>,
    pub(crate) row_sums: Vec<i32>,
    pub(crate) asymmetric: bool,
    /// Per output column, or `None` with `filter_scale` folded into the row scaling factors.
    pub(crate) per_channel: Option<Vec<f32>>,
    pub(crate) filter_scale: f32,
}

pub(super) fn prepare_hybrid(
    ctx: &OpCtx,
    o: &BatchMatMulOptions,
    plan: Plan,
    operands: Operands,
) -> Result<Box<dyn Kernel>> {
    let label = ctx.label();
    let rhs = ctx.input(1)?;
    let value = ctx.require_const(1, "the int8 RHS of a hybrid BATCH_MATMUL")?;
    let weights = operands.weights(i8s(&label, "the RHS", value)?);
    if plan.k == 0 {
        return Err(ctx.unsupported("a hybrid BATCH_MATMUL with an empty depth"));
    }
    if plan.filter_dim0_batched {
        return Err(ctx.unsupported(
            "a hybrid RHS with five dimensions and a leading batch above 1 (TFLite leaves its \
             row sums uncomputed)",
        ));
    }
    let mut sums = row_sums(&weights, plan.k);
    // ReductionSumVector covers `row_sum_rows` rows; the steps never index past them.
    sums.truncate(plan.row_sum_rows.min(sums.len()));
    let max_row_sum = plan
        .steps
        .iter()
        .map(|s| s.row_sum + plan.n)
        .max()
        .unwrap_or(0);
    if max_row_sum > sums.len() {
        return Err(ctx.invalid("internal: hybrid row sums out of range"));
    }
    // Every step reads its M scaling factors within the LHS rows (TFLite's indexing only
    // advances along the LHS's own batch dimensions).
    let lhs_rows = operands.lhs_len() / plan.k;
    let max_scale = plan
        .steps
        .iter()
        .map(|s| s.scale + plan.m)
        .max()
        .unwrap_or(0);
    if max_scale > lhs_rows {
        return Err(ctx.invalid("internal: hybrid scaling factors out of range"));
    }
    let fq = rhs
        .quant
        .as_ref()
        .filter(|q| !q.scale.is_empty())
        .ok_or_else(|| ctx.unsupported("the int8 RHS needs a quantization scale"))?;
    let per_channel = if fq.scale.len() > 1 {
        // Per output column: the RHS's N axis (last unless adj_y).
        let r = operands.rhs_shape.len();
        let n_axis = if operands.adj_y { r - 2 } else { r - 1 };
        if usize::try_from(fq.quantized_dimension).ok() != Some(n_axis) || fq.scale.len() != plan.n
        {
            return Err(ctx.unsupported(format!(
                "{} RHS scales along dimension {}: one per output column (dimension {n_axis}) \
                 is supported",
                fq.scale.len(),
                fq.quantized_dimension
            )));
        }
        Some(fq.scale.clone())
    } else {
        None
    };
    Ok(Box::new(HybridBmm {
        label,
        plan,
        operands,
        weights,
        row_sums: sums,
        asymmetric: o.asymmetric_quantize_inputs,
        per_channel,
        filter_scale: fq.scale[0],
    }))
}

impl Kernel for HybridBmm {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let x = self.operands.run_lhs(l, inputs, f32s)?;
        let out = f32s_mut(l, out0(l, outputs)?)?;
        check_len(l, "the output", out.len(), self.plan.output_len())?;
        let Plan { n, m, k, .. } = self.plan;
        // Quantize each LHS row on its own (offsets stay 0 when symmetric).
        let mut q = vec![0i8; x.len()];
        let rows = batch_quantize(&x, k, self.asymmetric, &mut q);
        let mut scaling: Vec<f32> = rows.iter().map(|r| r.scale).collect();
        let offsets: Vec<i32> = rows.iter().map(|r| r.offset).collect();
        if self.per_channel.is_none() {
            for s in &mut scaling {
                *s *= self.filter_scale;
            }
        }
        let need = self
            .plan
            .steps
            .iter()
            .map(|s| s.scale + m)
            .max()
            .unwrap_or(0);
        if need > scaling.len() {
            return Err(crate::Error::Shape(format!(
                "{l}: {} LHS rows, the plan reads {need}",
                scaling.len()
            )));
        }
        out.iter_mut().for_each(|v| *v = 0.0);
        let w = &self.weights;
        for s in &self.plan.steps {
            let (wp, qp) = (&w[s.filter..], &q[s.input..]);
            for j in 0..m {
                let batch_scaling_factor = scaling[s.scale + j];
                let batch_offset = offsets[s.scale + j] as f32;
                for i in 0..n {
                    let mut total = 0i32;
                    for kk in 0..k {
                        total = total.wrapping_add(wp[k * i + kk] as i32 * qp[j * k + kk] as i32);
                    }
                    let row_sum = self.row_sums[s.row_sum + i];
                    // `total -= row_sum * batch_offset` with a float offset: done in float,
                    // truncated back to int32.
                    total = (total as f32 - row_sum as f32 * batch_offset) as i32;
                    let mut scale = batch_scaling_factor;
                    if let Some(pc) = &self.per_channel {
                        scale *= pc[i];
                    }
                    out[s.output + n * j + i] += scale * total as f32;
                }
            }
        }
        Ok(())
    }
}
