//! BATCH_MATMUL (`kernels/batch_matmul.cc`; TFLite has only the reference kernel).
//!
//! `out[.., M, N] = lhs[.., M, K] × rhs[.., K, N]` (`adj_x`/`adj_y` transpose the last two
//! dimensions of an operand; batch dimensions broadcast). TFLite runs it with the operands
//! swapped: the RHS, transposed to `[.., N, K]` unless `adj_y` (a constant RHS once, here at
//! prepare), plays the weights; the LHS, transposed to `[.., M, K]` when `adj_x`, plays the
//! input. The loop nest and the pointer arithmetic of `reference/batch_matmul.h` are planned
//! at prepare ([`Plan`]) exactly as TFLite computes them, including the hybrid kernel's
//! indexing of per-row scaling factors and row sums.

use std::borrow::Cow;

use crate::model::{BatchMatMulOptions, DType};
use crate::quant::fixedpoint::quantize_multiplier;
use crate::{Result, Tensor};

pub(crate) mod hybrid;
pub(crate) mod int16;
pub(crate) mod plan;
#[cfg(test)]
pub(super) use plan::tests_support;

use super::super::common::{qrange, shape_of, Epilogue, QInt};
use super::super::{Kernel, OpCtx};
use super::{arg, check_len, f32s, f32s_mut, i8s, out0, QElem, Slice};
use hybrid::prepare_hybrid;
use plan::{transpose_last2, Plan};

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
            let rhs_t = operands.const_weights(ctx, f32s)?;
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
            let requant = Epilogue {
                bias: vec![0],
                multipliers: vec![quantize_multiplier(real)],
                output_zero_point: o_zp,
                act_min,
                act_max,
            };
            let offsets = (l_zp.wrapping_neg(), r_zp.wrapping_neg());
            Int8Bmm::<i8>::prepare(ctx, plan, operands, offsets, Some(requant))
        }
        // EvalInt8Int32: raw products, zero points not applied.
        (DType::I8, DType::I8, DType::I32) => {
            Int8Bmm::<i32>::prepare(ctx, plan, operands, (0, 0), None)
        }
        (DType::F32, DType::I8, DType::F32) => prepare_hybrid(ctx, o, plan, operands),
        (DType::I16, DType::I16, DType::I16) => int16::prepare_int16(ctx, plan, operands),
        _ => Err(ctx.unsupported(
            "supported: float32, int8 (int8 or int32 output), int16 and hybrid (float32 LHS, \
             constant int8 RHS)",
        )),
    }
}

/// The operands' shapes and how to lay them out for the kernel.
#[derive(Debug, Clone)]
pub(crate) struct Operands {
    pub(crate) lhs_shape: Vec<usize>,
    pub(crate) rhs_shape: Vec<usize>,
    pub(crate) adj_x: bool,
    pub(crate) adj_y: bool,
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
    fn input<'a, T: Copy>(&self, lhs: &'a [T]) -> Cow<'a, [T]> {
        if self.adj_x {
            Cow::Owned(transpose_last2(lhs, &self.lhs_shape))
        } else {
            Cow::Borrowed(lhs)
        }
    }

    /// A constant RHS laid out as weights once, at prepare (`None` for a run-time RHS).
    fn const_weights<'t, T: Copy>(
        &self,
        ctx: &OpCtx<'t>,
        slice: Slice<'t, T>,
    ) -> Result<Option<Vec<T>>> {
        ctx.const_input(1)
            .map(|t| slice(&ctx.label(), "the RHS", t).map(|v| self.weights(v)))
            .transpose()
    }

    /// A run's LHS, checked and laid out as `[.., M, K]`.
    fn run_lhs<'a, T: Copy>(
        &self,
        label: &str,
        inputs: &[Option<&'a Tensor>],
        slice: Slice<'a, T>,
    ) -> Result<Cow<'a, [T]>> {
        let lhs = slice(label, "the LHS", arg(label, inputs, 0)?)?;
        check_len(label, "the LHS", lhs.len(), self.lhs_len())?;
        Ok(self.input(lhs))
    }

    /// A run's LHS as `[.., M, K]` and RHS as `[.., N, K]` (`prepared` for a constant RHS).
    fn run_operands<'a, T: Copy>(
        &self,
        label: &str,
        inputs: &[Option<&'a Tensor>],
        prepared: &'a Option<Vec<T>>,
        slice: Slice<'a, T>,
    ) -> Result<[Cow<'a, [T]>; 2]> {
        let x = self.run_lhs(label, inputs, slice)?;
        let w = weights_of(label, prepared, self, || {
            slice(label, "the RHS", arg(label, inputs, 1)?)
        })?;
        Ok([x, w])
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
) -> Result<Cow<'a, [T]>> {
    match prepared {
        Some(w) => Ok(Cow::Borrowed(w.as_slice())),
        None => {
            let v = run_value()?;
            check_len(label, "the RHS", v.len(), operands.rhs_len())?;
            Ok(Cow::Owned(operands.weights(v)))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// float32

pub(crate) struct FloatBmm {
    pub(crate) label: String,
    pub(crate) plan: Plan,
    pub(crate) operands: Operands,
    pub(crate) rhs_t: Option<Vec<f32>>,
}

impl Kernel for FloatBmm {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let [x, w] = self.operands.run_operands(l, inputs, &self.rhs_t, f32s)?;
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

/// The output types of the int8 kernel.
pub(crate) trait BmmOut: QInt + Send + Sync + 'static {
    fn slice_mut(t: &mut Tensor) -> Option<&mut [Self]>;
}

impl BmmOut for i8 {
    fn slice_mut(t: &mut Tensor) -> Option<&mut [i8]> {
        <i8 as QElem>::slice_mut(t)
    }
}

impl BmmOut for i32 {
    fn slice_mut(t: &mut Tensor) -> Option<&mut [i32]> {
        match t.buf_mut() {
            crate::Buf::I32(v) => Some(v),
            _ => None,
        }
    }
}

pub(crate) struct Int8Bmm<O: BmmOut> {
    pub(crate) label: String,
    pub(crate) plan: Plan,
    pub(crate) operands: Operands,
    pub(crate) rhs_t: Option<Vec<i8>>,
    /// `-lhs zero point`.
    pub(crate) input_offset: i32,
    /// `-rhs zero point`.
    pub(crate) filter_offset: i32,
    /// The int8 output's requantization (one channel, no bias); `None` for int32 output.
    pub(crate) requant: Option<Epilogue>,
    pub(crate) _out: std::marker::PhantomData<O>,
}

impl<O: BmmOut> Int8Bmm<O> {
    /// The kernel, with a constant RHS laid out at prepare. `offsets`: (`-lhs zero point`,
    /// `-rhs zero point`).
    fn prepare(
        ctx: &OpCtx,
        plan: Plan,
        operands: Operands,
        (input_offset, filter_offset): (i32, i32),
        requant: Option<Epilogue>,
    ) -> Result<Box<dyn Kernel>> {
        let rhs_t = operands.const_weights(ctx, i8s)?;
        Ok(Box::new(Int8Bmm::<O> {
            label: ctx.label(),
            plan,
            operands,
            rhs_t,
            input_offset,
            filter_offset,
            requant,
            _out: std::marker::PhantomData,
        }))
    }
}

impl<O: BmmOut> Kernel for Int8Bmm<O> {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let [x, w] = self.operands.run_operands(l, inputs, &self.rhs_t, i8s)?;
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
                            (lhs_val.wrapping_add(self.filter_offset))
                                .wrapping_mul(rhs_val.wrapping_add(self.input_offset)),
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
