//! BATCH_MATMUL (`kernels/batch_matmul.cc`; TFLite has only the reference kernel).
//!
//! `out[.., M, N] = lhs[.., M, K] × rhs[.., K, N]` (`adj_x`/`adj_y` transpose the last two
//! dimensions of an operand; batch dimensions broadcast). TFLite runs it with the operands
//! swapped: the RHS, transposed to `[.., N, K]` unless `adj_y` (a constant RHS once, here at
//! prepare), plays the weights; the LHS, transposed to `[.., M, K]` when `adj_x`, plays the
//! input. The loop nest and the pointer arithmetic of `reference/batch_matmul.h` are planned
//! at prepare ([`Plan`]) exactly as TFLite computes them, including the hybrid kernel's
//! indexing of per-row scaling factors and row sums.

use crate::model::{BatchMatMulOptions, DType};
use crate::quant::fixedpoint::quantize_multiplier;
use crate::{Result, Tensor};

use super::super::common::{qrange, shape_of, Epilogue};
use super::super::{Kernel, OpCtx};
use super::{arg, batch_quantize, check_len, f32s, f32s_mut, i8s, out0, row_sums, QElem};

/// One matrix product of the batch loop (`b0, b1, b2` of the 5-D extended shapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    /// Offset of the `[N, K]` weights matrix (the transposed RHS).
    filter: usize,
    /// Offset of the `[M, K]` input matrix (the LHS).
    input: usize,
    /// Offset of the `[M, N]` output matrix.
    output: usize,
    /// Hybrid: first index into the per-row scaling factors and offsets.
    scale: usize,
    /// Hybrid: first index into the weights' row sums.
    row_sum: usize,
}

/// The batch loop of `reference_ops::BatchMatMul`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    /// Output columns (rows of the transposed RHS).
    n: usize,
    /// Output rows (rows of the LHS).
    m: usize,
    /// Accumulation depth.
    k: usize,
    steps: Vec<Step>,
    /// `ReductionSumVector` rows: `Dims(1) * Dims(2)` of the weights' extended shape, times N.
    row_sum_rows: usize,
    /// Whether the weights' extended dimension 0 is above 1 (whose row sums TFLite does not
    /// compute).
    filter_dim0_batched: bool,
}

fn extend5(shape: &[usize]) -> [usize; 5] {
    let mut e = [1usize; 5];
    let pad = 5 - shape.len();
    e[pad..].copy_from_slice(shape);
    e
}

fn swap_last2(shape: &[usize]) -> Vec<usize> {
    let mut s = shape.to_vec();
    let r = s.len();
    s.swap(r - 2, r - 1);
    s
}

impl Plan {
    /// `lhs`, `rhs`: the model's operand shapes (ranks 2 to 5, validated).
    fn new(lhs: &[usize], rhs: &[usize], adj_x: bool, adj_y: bool) -> Plan {
        let (mut l, mut r) = (lhs.to_vec(), rhs.to_vec());
        // Eval: rhs [.., 1, X, Y] with lhs [.., Q, R, S] (and no adj_x) runs as rhs [.., X, Y]
        // and lhs [.., Q*R, S].
        if !adj_x && r.len() > 2 && l.len() > 2 && r[r.len() - 3] == 1 {
            let n = l.len();
            let merged = l[n - 3] * l[n - 2];
            let last = l[n - 1];
            l.truncate(n - 3);
            l.extend([merged, last]);
            let n = r.len();
            let (x, y) = (r[n - 2], r[n - 1]);
            r.truncate(n - 3);
            r.extend([x, y]);
        }
        let filter_shape = if adj_y { r.clone() } else { swap_last2(&r) };
        let input_shape = if adj_x { l.clone() } else { swap_last2(&l) };
        let fl = extend5(&filter_shape);
        let ip = extend5(&input_shape);
        let bdim = |i: usize| {
            if fl[i] == ip[i] || fl[i] != 1 {
                fl[i]
            } else {
                ip[i]
            }
        };
        let extent = |s: &[usize; 5], i: usize| -> usize {
            if s[i] == 1 {
                0
            } else {
                s[i + 1..].iter().product()
            }
        };
        let (bd0, bd1, bd2) = (bdim(0), bdim(1), bdim(2));
        let lext = [extent(&fl, 0), extent(&fl, 1), extent(&fl, 2)];
        let rext = [extent(&ip, 0), extent(&ip, 1), extent(&ip, 2)];
        let (n, m, k) = (fl[3], ip[4], fl[4]);
        let ioff = rext.map(|e| if e == 0 { 0 } else { m });
        let woff = lext.map(|e| if e == 0 { 0 } else { n });
        let mut steps = Vec::with_capacity(bd0 * bd1 * bd2);
        for b0 in 0..bd0 {
            for b1 in 0..bd1 {
                for b2 in 0..bd2 {
                    steps.push(Step {
                        filter: b0 * lext[0] + b1 * lext[1] + b2 * lext[2],
                        input: b0 * rext[0] + b1 * rext[1] + b2 * rext[2],
                        output: ((b0 * bd1 * bd2) + b1 * bd2 + b2) * n * m,
                        scale: b0 * ioff[0] + b1 * ioff[1] + b2 * ioff[2],
                        row_sum: b0 * woff[0] + b1 * woff[1] + b2 * woff[2],
                    });
                }
            }
        }
        Plan {
            n,
            m,
            k,
            steps,
            row_sum_rows: fl[1] * fl[2] * n,
            filter_dim0_batched: fl[0] > 1,
        }
    }

    fn output_len(&self) -> usize {
        self.steps.len() * self.n * self.m
    }
}

/// The last two dimensions of a row-major tensor swapped (`TransposeRowsColumns`).
fn transpose_last2<T: Copy>(data: &[T], shape: &[usize]) -> Vec<T> {
    let r = shape.len();
    let (rows, cols) = (shape[r - 2], shape[r - 1]);
    let mat = rows * cols;
    let mut out = Vec::with_capacity(data.len());
    if mat == 0 {
        return out;
    }
    for m in data.chunks_exact(mat) {
        for c in 0..cols {
            for row in 0..rows {
                out.push(m[row * cols + c]);
            }
        }
    }
    out
}

pub(super) fn prepare(ctx: &OpCtx, o: &BatchMatMulOptions) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("takes 2 inputs and 1 output"));
    }
    let lhs = ctx.input(0)?;
    let rhs = ctx.input(1)?;
    let output = ctx.output(0)?;
    let (ls, rs, os) = (shape_of(lhs), shape_of(rhs), shape_of(output));
    if !(2..=5).contains(&ls.len()) || !(2..=5).contains(&rs.len()) {
        return Err(ctx.unsupported(format!(
            "operands of rank 2 to 5 are supported, got {ls:?} and {rs:?}"
        )));
    }
    let rank = ls.len().max(rs.len());
    let (el, er) = (
        [vec![1; rank - ls.len()], ls.clone()].concat(),
        [vec![1; rank - rs.len()], rs.clone()].concat(),
    );
    let mut want = Vec::with_capacity(rank);
    for i in 0..rank - 2 {
        if el[i] != er[i] && el[i] != 1 && er[i] != 1 {
            return Err(ctx.invalid(format!(
                "batch dimensions of {ls:?} and {rs:?} do not broadcast"
            )));
        }
        want.push(if el[i] != er[i] && el[i] == 1 {
            er[i]
        } else {
            el[i]
        });
    }
    let (adj_x, adj_y) = (o.adj_x, o.adj_y);
    let k_l = if adj_x { el[rank - 2] } else { el[rank - 1] };
    let k_r = if adj_y { er[rank - 1] } else { er[rank - 2] };
    if k_l != k_r {
        return Err(ctx.invalid(format!(
            "{ls:?} (adj_x {adj_x}) and {rs:?} (adj_y {adj_y}) do not share a depth"
        )));
    }
    want.push(if adj_x { el[rank - 1] } else { el[rank - 2] });
    want.push(if adj_y { er[rank - 2] } else { er[rank - 1] });
    if os != want {
        return Err(ctx.invalid(format!(
            "output {os:?}, but {ls:?} × {rs:?} (adj_x {adj_x}, adj_y {adj_y}) is {want:?}"
        )));
    }
    let plan = Plan::new(&ls, &rs, adj_x, adj_y);
    if plan.output_len() != os.iter().product::<usize>() {
        return Err(ctx.invalid("internal: the batch plan does not cover the output"));
    }
    let label = ctx.label();
    let operands = Operands {
        lhs_shape: ls,
        rhs_shape: rs,
        adj_x,
        adj_y,
    };
    match (lhs.dtype, rhs.dtype, output.dtype) {
        (DType::F32, DType::F32, DType::F32) => {
            let rhs_t = ctx
                .const_input(1)
                .map(|t| f32s(&label, "the RHS", t).map(|v| operands.weights(v)))
                .transpose()?;
            Ok(Box::new(FloatBmm {
                label,
                plan,
                operands,
                rhs_t,
            }))
        }
        (DType::I8, DType::I8, DType::I8) => {
            let (l_scale, l_zp) = ctx.per_tensor(lhs)?;
            let (r_scale, r_zp) = ctx.per_tensor(rhs)?;
            let (o_scale, o_zp) = ctx.per_tensor(output)?;
            // GetQuantizedConvolutionMultipler: the float product of the scales, then double.
            let real = f64::from(l_scale * r_scale) / f64::from(o_scale);
            if real.is_nan() || real < 0.0 {
                return Err(ctx.unsupported(format!("requantization multiplier {real}")));
            }
            let (act_min, act_max) = qrange(DType::I8).unwrap_or((-128, 127));
            let rhs_t = ctx
                .const_input(1)
                .map(|t| i8s(&label, "the RHS", t).map(|v| operands.weights(v)))
                .transpose()?;
            Ok(Box::new(Int8Bmm::<i8> {
                label,
                plan,
                operands,
                rhs_t,
                input_offset: l_zp.wrapping_neg(),
                filter_offset: r_zp.wrapping_neg(),
                requant: Some(Epilogue {
                    bias: vec![0],
                    multipliers: vec![quantize_multiplier(real)],
                    output_zero_point: o_zp,
                    act_min,
                    act_max,
                }),
                _out: std::marker::PhantomData,
            }))
        }
        (DType::I8, DType::I8, DType::I32) => {
            let rhs_t = ctx
                .const_input(1)
                .map(|t| i8s(&label, "the RHS", t).map(|v| operands.weights(v)))
                .transpose()?;
            // EvalInt8Int32: raw products, zero points not applied.
            Ok(Box::new(Int8Bmm::<i32> {
                label,
                plan,
                operands,
                rhs_t,
                input_offset: 0,
                filter_offset: 0,
                requant: None,
                _out: std::marker::PhantomData,
            }))
        }
        (DType::F32, DType::I8, DType::F32) => prepare_hybrid(ctx, o, plan, operands),
        _ => Err(ctx.unsupported(
            "supported: float32, int8 (int8 or int32 output) and hybrid (float32 LHS, constant \
             int8 RHS)",
        )),
    }
}

/// The operands' shapes and how to lay them out for the kernel.
#[derive(Debug, Clone)]
struct Operands {
    lhs_shape: Vec<usize>,
    rhs_shape: Vec<usize>,
    adj_x: bool,
    adj_y: bool,
}

impl Operands {
    /// The RHS as `[.., N, K]`.
    fn weights<T: Copy>(&self, rhs: &[T]) -> Vec<T> {
        if self.adj_y {
            rhs.to_vec()
        } else {
            transpose_last2(rhs, &self.rhs_shape)
        }
    }

    /// The LHS as `[.., M, K]` (borrowed when no transposition is needed).
    fn input<'a, T: Copy>(&self, lhs: &'a [T]) -> std::borrow::Cow<'a, [T]> {
        if self.adj_x {
            std::borrow::Cow::Owned(transpose_last2(lhs, &self.lhs_shape))
        } else {
            std::borrow::Cow::Borrowed(lhs)
        }
    }

    fn lhs_len(&self) -> usize {
        self.lhs_shape.iter().product()
    }

    fn rhs_len(&self) -> usize {
        self.rhs_shape.iter().product()
    }
}

/// The RHS laid out as weights: prepared once for a constant, else at each run.
fn weights_of<'a, T: Copy>(
    label: &str,
    prepared: &'a Option<Vec<T>>,
    operands: &Operands,
    run_value: impl FnOnce() -> Result<&'a [T]>,
) -> Result<std::borrow::Cow<'a, [T]>> {
    match prepared {
        Some(w) => Ok(std::borrow::Cow::Borrowed(w.as_slice())),
        None => {
            let v = run_value()?;
            check_len(label, "the RHS", v.len(), operands.rhs_len())?;
            Ok(std::borrow::Cow::Owned(operands.weights(v)))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// float32

struct FloatBmm {
    label: String,
    plan: Plan,
    operands: Operands,
    rhs_t: Option<Vec<f32>>,
}

impl Kernel for FloatBmm {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let lhs = f32s(l, "the LHS", arg(l, inputs, 0)?)?;
        check_len(l, "the LHS", lhs.len(), self.operands.lhs_len())?;
        let x = self.operands.input(lhs);
        let w = weights_of(l, &self.rhs_t, &self.operands, || {
            f32s(l, "the RHS", arg(l, inputs, 1)?)
        })?;
        let out = f32s_mut(l, out0(l, outputs)?)?;
        check_len(l, "the output", out.len(), self.plan.output_len())?;
        let Plan { n, m, k, .. } = self.plan;
        for s in &self.plan.steps {
            let (wp, xp, op) = (&w[s.filter..], &x[s.input..], &mut out[s.output..]);
            for j in 0..m {
                for i in 0..n {
                    let mut total = 0.0f32;
                    for kk in 0..k {
                        total += wp[k * i + kk] * xp[j * k + kk];
                    }
                    op[n * j + i] = total;
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// int8 × int8 → int8 (`BatchMatMul<int8_t, int32_t>` with FullyConnectedParams) or → int32
// (`BatchMatMul<int8, int8, int32>`: raw products).

trait BmmOut: Copy + Send + Sync + 'static {
    fn slice_mut(t: &mut Tensor) -> Option<&mut [Self]>;
    fn from_i32(x: i32) -> Self;
}

impl BmmOut for i8 {
    fn slice_mut(t: &mut Tensor) -> Option<&mut [i8]> {
        <i8 as QElem>::slice_mut(t)
    }
    fn from_i32(x: i32) -> i8 {
        x as i8
    }
}

impl BmmOut for i32 {
    fn slice_mut(t: &mut Tensor) -> Option<&mut [i32]> {
        match t.buf_mut() {
            crate::Buf::I32(v) => Some(v),
            _ => None,
        }
    }
    fn from_i32(x: i32) -> i32 {
        x
    }
}

struct Int8Bmm<O: BmmOut> {
    label: String,
    plan: Plan,
    operands: Operands,
    rhs_t: Option<Vec<i8>>,
    /// `-lhs zero point`.
    input_offset: i32,
    /// `-rhs zero point`.
    filter_offset: i32,
    /// The int8 output's requantization (one channel, no bias); `None` for int32 output.
    requant: Option<Epilogue>,
    _out: std::marker::PhantomData<O>,
}

impl<O: BmmOut> Kernel for Int8Bmm<O> {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let lhs = i8s(l, "the LHS", arg(l, inputs, 0)?)?;
        check_len(l, "the LHS", lhs.len(), self.operands.lhs_len())?;
        let x = self.operands.input(lhs);
        let w = weights_of(l, &self.rhs_t, &self.operands, || {
            i8s(l, "the RHS", arg(l, inputs, 1)?)
        })?;
        let out = out0(l, outputs)?;
        let (dtype, shape) = (out.dtype(), out.shape().to_vec());
        let out = O::slice_mut(out).ok_or_else(|| {
            crate::Error::Shape(format!("{l}: unexpected output {dtype} {shape:?}"))
        })?;
        check_len(l, "the output", out.len(), self.plan.output_len())?;
        let Plan { n, m, k, .. } = self.plan;
        for s in &self.plan.steps {
            let (wp, xp, op) = (&w[s.filter..], &x[s.input..], &mut out[s.output..]);
            for j in 0..m {
                for i in 0..n {
                    let mut total = 0i32;
                    for kk in 0..k {
                        let lhs_val = wp[k * i + kk] as i32;
                        let rhs_val = xp[k * j + kk] as i32;
                        total = total.wrapping_add(
                            (lhs_val + self.filter_offset) * (rhs_val + self.input_offset),
                        );
                    }
                    op[n * j + i] = match &self.requant {
                        Some(ep) => O::from_i32(ep.apply(total, 0)),
                        None => O::from_i32(total),
                    };
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Hybrid: float LHS quantized per row at run time, constant int8 RHS, float output
// (`EvalHybrid` and the scaling-factor `reference_ops::BatchMatMul`).

struct HybridBmm {
    label: String,
    plan: Plan,
    operands: Operands,
    /// The RHS as `[.., N, K]`.
    weights: Vec<i8>,
    row_sums: Vec<i32>,
    asymmetric: bool,
    /// Per output column, or `None` with `filter_scale` folded into the row scaling factors.
    per_channel: Option<Vec<f32>>,
    filter_scale: f32,
}

fn prepare_hybrid(
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
        let lhs = f32s(l, "the LHS", arg(l, inputs, 0)?)?;
        check_len(l, "the LHS", lhs.len(), self.operands.lhs_len())?;
        let x = self.operands.input(lhs);
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

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn plan_broadcasts_and_transposes() {
        // lhs [1, 4, 64] × rhs [2, 64, 16]: LHS batch 1 broadcast over the RHS's 2.
        let p = Plan::new(&[1, 4, 64], &[2, 64, 16], false, false);
        assert_eq!((p.n, p.m, p.k), (16, 4, 64));
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[1].filter, 16 * 64);
        assert_eq!(p.steps[1].input, 0);
        assert_eq!(p.steps[1].output, 64);
        // The LHS never advances, so neither do its scaling factors; the row sums do.
        assert_eq!((p.steps[1].scale, p.steps[1].row_sum), (0, 16));
    }

    #[test]
    fn plan_compresses_a_unit_rhs_batch() {
        // rhs [1, K, N] against lhs [2, 3, M, K]: runs as lhs [2, 3*M, K].
        let p = Plan::new(&[2, 3, 5, 7], &[1, 7, 4], false, false);
        assert_eq!((p.n, p.m, p.k), (4, 15, 7));
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[1].input, 15 * 7);
        assert_eq!(p.steps[1].output, 15 * 4);
    }

    #[test]
    fn transpose_last_two() {
        let v: Vec<i32> = (0..12).collect();
        // [2, 2, 3] -> [2, 3, 2]
        assert_eq!(
            transpose_last2(&v, &[2, 2, 3]),
            vec![0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11]
        );
    }
}

/// What the family's tests look at in a plan: (scale base, row-sum base) per step.
#[cfg(test)]
pub(super) mod tests_support {
    pub fn plan(lhs: &[usize], rhs: &[usize], adj_x: bool, adj_y: bool) -> Vec<(usize, usize)> {
        super::Plan::new(lhs, rhs, adj_x, adj_y)
            .steps
            .iter()
            .map(|s| (s.scale, s.row_sum))
            .collect()
    }
}
