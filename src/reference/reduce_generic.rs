//! SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD.
//!
//! TFLite: `kernels/reduce.cc` (`PrepareSimple`, `PrepareMeanOrSum`, `EvalSum`,
//! `EvalGeneric` → `EvalType<T, kReference>`, `ReduceAllDims`) and
//! `kernels/internal/reference/reduce.h` (`ReduceGeneric`, `QuantizedMeanOrSum`);
//! the converter's kernels: `kernels/internal/optimized/reduce.h` (`ReduceGeneric`,
//! `ReduceImpl`).
//!
//! - float32, int8, uint8 (`EvalType<T, kReference>`): when the resolved axes cover every
//!   input dimension (`ReduceAllDims`), the result starts at the first element and the
//!   reducer takes each next one (one thread: the interpreter's default; with more threads
//!   and at least 1024 elements per thread LiteRT splits the run); otherwise
//!   (`ReduceGeneric`) every output starts at the neutral value (0, the type's lowest, the
//!   type's largest) and takes its inputs in the input's row-major order. The reducers:
//!   `current + in`, `(in > current) ? in : current`, `(in < current) ? in : current` — a
//!   NaN input is skipped by MAX/MIN unless it is the start. An empty input gives the
//!   neutral value. int8/uint8 MAX/MIN compare the stored values and need equal input and
//!   output scale and zero point.
//! - int8 / uint8 SUM (`EvalSum` → `QuantizedMeanOrSum<T, kReference>`, `compute_sum`): the
//!   reference branch passes the data as `uint8_t` whatever the type, so an int8 SUM reads
//!   each stored byte as unsigned (−1 is 255), clamps to [0, 255] and stores the byte back:
//!   `sum = Σ (u8)q` (wrapping `int32`), then
//!   `MultiplyByQuantizedMultiplier((int32)(sum − zp_in·n), M, shift) + zp_out` with
//!   `M, shift = QuantizeMultiplier((double)s_in / (double)s_out)` (no `1/n` fold), clamped to
//!   [0, 255]. An empty input gives 0. (The default resolver's optimized kernel reads int8
//!   as int8: BUILTIN_REF and the default differ by up to 109 steps on the fixtures.)
//! - int8 REDUCE_PROD (`EvalQuantizedProd` → `reference_ops::QuantizedReduceProd`): prepare
//!   takes `n = input elements / output elements` and
//!   `M, shift = QuantizeMultiplier(s_in / pow(s_out, 1/n))` (double); each output starts at
//!   `q − zp_in` of its first input and takes each next one as
//!   `MBQM64((int64)current · (q − zp_in))`, then `MBQM64(current) + zp_out`, clamped, where
//!   `MBQM64` is the int64 `MultiplyByQuantizedMultiplier` (`common.cc`, double-rounding
//!   build): `(x · rm + 2^(ts−1)) >> ts` with the multiplier reduced to 16 bits,
//!   `rm = M < 0x7FFF0000 ? (M + 2^15) >> 16 : 0x7FFF`, and `ts = 15 − shift`, truncated to
//!   int32. float32 PROD starts at 1 (a neutral start that leaves every bit alone).
//! - float32 in the converter's order ([`FloatOrder::Converter`], `optimized_ops::ReduceGeneric`
//!   over the normalized dimensions): each output takes its inputs in the same row-major
//!   order, but starts at its first input (not at the neutral value), and MAX/MIN keep the
//!   current value on `current > in` / `current < in` (a NaN input replaces the result).
//!   With no axis, a copy.

use crate::model::DType;
use crate::quant::fixedpoint::{quantize_multiplier, QuantizedMultiplier};
use crate::{Buf, Error, Result, Tensor};

use super::common::QInt;
use super::reduce::{MeanRequant, Reduction};
use super::{FloatOrder, Kernel, OpCtx};

/// Which reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReduceKind {
    Sum,
    Max,
    Min,
    Prod,
}

impl ReduceKind {
    fn name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "SUM",
            ReduceKind::Max => "REDUCE_MAX",
            ReduceKind::Min => "REDUCE_MIN",
            ReduceKind::Prod => "REDUCE_PROD",
        }
    }

    /// The neutral value of a float reduction.
    pub(crate) fn init_f32(self) -> f32 {
        match self {
            ReduceKind::Sum => 0.0,
            ReduceKind::Max => f32::MIN,
            ReduceKind::Min => f32::MAX,
            ReduceKind::Prod => 1.0,
        }
    }

    /// The reference reducer, `reducer(current, in)`.
    #[inline]
    fn reference(self, current: f32, x: f32) -> f32 {
        match self {
            ReduceKind::Sum => current + x,
            ReduceKind::Prod => current * x,
            ReduceKind::Max => {
                if x > current {
                    x
                } else {
                    current
                }
            }
            ReduceKind::Min => {
                if x < current {
                    x
                } else {
                    current
                }
            }
        }
    }

    /// The optimized kernels' reducer (`SumOp`, `MaxOp`, `MinOp`: `op(current, in)`).
    #[inline]
    fn optimized(self, current: f32, x: f32) -> f32 {
        match self {
            ReduceKind::Sum => current + x,
            ReduceKind::Prod => current * x,
            ReduceKind::Max => {
                if current > x {
                    current
                } else {
                    x
                }
            }
            ReduceKind::Min => {
                if current < x {
                    current
                } else {
                    x
                }
            }
        }
    }

    /// The integer reducer (any order gives the same result).
    #[inline]
    fn int(self, current: i32, x: i32) -> i32 {
        match self {
            ReduceKind::Sum => current.wrapping_add(x),
            ReduceKind::Prod => current.wrapping_mul(x),
            ReduceKind::Max => current.max(x),
            ReduceKind::Min => current.min(x),
        }
    }
}

/// A prepared SUM / REDUCE_MAX / REDUCE_MIN.
pub(crate) struct Reduce {
    label: String,
    pub(crate) kind: ReduceKind,
    /// Output element of each input element (row-major).
    pub(crate) map: Vec<usize>,
    pub(crate) n_out: usize,
    /// Reduced elements per output element.
    pub(crate) count: usize,
    /// Float32: each output starts at its first input instead of the neutral value
    /// (`ReduceAllDims`, or the converter's order).
    pub(crate) start_at_first: bool,
    /// Float32 MAX/MIN with the optimized kernels' comparison (the converter's order).
    pub(crate) optimized_compare: bool,
    /// int8/uint8 SUM: the requantization (an int8 SUM reads and writes uint8 bytes).
    pub(crate) sum_requant: Option<MeanRequant>,
    /// int8 PROD: the per-step rescale.
    pub(crate) prod_requant: Option<ProdRequant>,
}

/// `QuantizedReduceProd`'s parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProdRequant {
    pub(crate) input_zero_point: i32,
    pub(crate) output_zero_point: i32,
    /// The multiplier reduced to 16 bits (`rm`).
    pub(crate) reduced_multiplier: i32,
    /// `15 − shift`, in [8, 46].
    pub(crate) total_shift: u32,
}

impl ProdRequant {
    /// TFLite's int64 `MultiplyByQuantizedMultiplier` (double-rounding build):
    /// `(x · rm + 2^(ts−1)) >> ts`, truncated to int32.
    #[inline]
    pub(crate) fn mbqm64(&self, x: i64) -> i32 {
        let round = 1i64 << (self.total_shift - 1);
        (x.wrapping_mul(i64::from(self.reduced_multiplier))
            .wrapping_add(round)
            >> self.total_shift) as i32
    }

    fn new(m: QuantizedMultiplier, zp_in: i32, zp_out: i32) -> Option<ProdRequant> {
        // The kernel's DCHECKs: shift in [-31, 7] (so 8 <= 15 - shift <= 46), M >= 0.
        if !(-31..8).contains(&m.shift) || m.multiplier < 0 {
            return None;
        }
        let reduced_multiplier = if m.multiplier < 0x7FFF_0000 {
            (m.multiplier + (1 << 15)) >> 16
        } else {
            0x7FFF
        };
        Some(ProdRequant {
            input_zero_point: zp_in,
            output_zero_point: zp_out,
            reduced_multiplier,
            total_shift: (15 - m.shift) as u32,
        })
    }
}

impl Reduce {
    fn run_f32(&self, x: &[f32], y: &mut [f32]) {
        let init = self.kind.init_f32();
        y.fill(init);
        if x.is_empty() {
            return;
        }
        let mut started = vec![!self.start_at_first; self.n_out];
        for (&v, &o) in x.iter().zip(&self.map) {
            if !started[o] {
                y[o] = v;
                started[o] = true;
            } else if self.optimized_compare {
                y[o] = self.kind.optimized(y[o], v);
            } else {
                y[o] = self.kind.reference(y[o], v);
            }
        }
    }

    /// MAX/MIN on stored values.
    fn run_minmax<T: QInt>(&self, x: &[T], y: &mut [T]) {
        let init = match self.kind {
            ReduceKind::Max => T::MIN,
            _ => T::MAX,
        };
        let mut acc = vec![init; self.n_out];
        for (v, &o) in x.iter().zip(&self.map) {
            acc[o] = self.kind.int(acc[o], v.to_i32());
        }
        for (y, a) in y.iter_mut().zip(acc) {
            *y = T::from_i32(a);
        }
    }

    /// int8 PROD (`QuantizedReduceProd`): an empty input leaves TFLite's output as it was;
    /// here it is 0.
    fn run_prod_i8(&self, p: &ProdRequant, x: &[i8], y: &mut [i8]) {
        if x.is_empty() {
            y.fill(0);
            return;
        }
        let mut acc = vec![0i32; self.n_out];
        let mut started = vec![false; self.n_out];
        for (&v, &o) in x.iter().zip(&self.map) {
            let d = i32::from(v) - p.input_zero_point;
            if started[o] {
                acc[o] = p.mbqm64(i64::from(acc[o]) * i64::from(d));
            } else {
                acc[o] = d;
                started[o] = true;
            }
        }
        for (y, &a) in y.iter_mut().zip(&acc) {
            let r = p.mbqm64(i64::from(a)).wrapping_add(p.output_zero_point);
            *y = r.clamp(-128, 127) as i8;
        }
    }

    /// SUM of uint8 (or int8 read as uint8) bytes, requantized, clamped to [0, 255].
    fn run_sum_u8(&self, r: &MeanRequant, x: &[u8], y: &mut [u8]) {
        if x.is_empty() || self.count == 0 {
            y.fill(0);
            return;
        }
        let mut sum = vec![0i32; self.n_out];
        for (&v, &o) in x.iter().zip(&self.map) {
            sum[o] = sum[o].wrapping_add(i32::from(v));
        }
        for (y, &s) in y.iter_mut().zip(&sum) {
            *y = r.apply(s).clamp(0, 255) as u8;
        }
    }
}

/// The stored bytes of an int8 slice, as uint8.
fn bytes_of(x: &[i8]) -> Vec<u8> {
    x.iter().map(|&v| v as u8).collect()
}

impl Kernel for Reduce {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let input = inputs
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| Error::Shape(format!("{}: input 0 is missing", self.label)))?;
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{}: output 0 is missing", self.label)))?;
        if input.len() != self.map.len() || out.len() != self.n_out {
            return Err(Error::Shape(format!(
                "{}: input {:?} / output {:?} do not match the prepared shapes",
                self.label,
                input.shape(),
                out.shape()
            )));
        }
        if let Some(p) = &self.prod_requant {
            return match (input.buf(), out.buf_mut()) {
                (Buf::I8(i), Buf::I8(o)) => {
                    self.run_prod_i8(p, i, o);
                    Ok(())
                }
                (i, o) => Err(Error::Shape(format!(
                    "{}: prepared for int8, not {} -> {}",
                    self.label,
                    i.dtype(),
                    o.dtype()
                ))),
            };
        }
        match (&self.sum_requant, input.buf(), out.buf_mut()) {
            (None, Buf::F32(i), Buf::F32(o)) => self.run_f32(i, o),
            (None, Buf::I8(i), Buf::I8(o)) => self.run_minmax(i, o),
            (None, Buf::U8(i), Buf::U8(o)) => self.run_minmax(i, o),
            (None, Buf::I16(i), Buf::I16(o)) => self.run_minmax(i, o),
            (Some(r), Buf::U8(i), Buf::U8(o)) => self.run_sum_u8(r, i, o),
            (Some(r), Buf::I8(i), Buf::I8(o)) => {
                let mut bytes = vec![0u8; o.len()];
                self.run_sum_u8(r, &bytes_of(i), &mut bytes);
                for (o, b) in o.iter_mut().zip(bytes) {
                    *o = b as i8;
                }
            }
            (_, i, o) => {
                return Err(Error::Shape(format!(
                    "{}: prepared for other dtypes than {} -> {}",
                    self.label,
                    i.dtype(),
                    o.dtype()
                )))
            }
        }
        Ok(())
    }
}

pub(super) fn prepare_reduce(
    ctx: &OpCtx,
    kind: ReduceKind,
    keep_dims: bool,
) -> Result<Box<dyn Kernel>> {
    let name = kind.name();
    if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!(
            "{name} takes an input and an axis tensor, and one output"
        )));
    }
    let Reduction {
        input,
        output,
        in_shape,
        out_shape,
        axes,
        count,
        n_in,
        map,
        n_out,
    } = Reduction::prepare(ctx, keep_dims)?;
    let converter = ctx.float_order == FloatOrder::Converter;
    let mut sum_requant = None;
    let mut prod_requant = None;
    match (input.dtype, kind) {
        (DType::F32, _) => {}
        (DType::I8, ReduceKind::Prod) => {
            let (s_in, zp_in) = ctx.per_tensor(input)?;
            let (s_out, zp_out) = ctx.per_tensor(output)?;
            if !(s_in > 0.0 && s_out > 0.0 && s_in.is_finite() && s_out.is_finite()) {
                return Err(ctx.unsupported(format!("scales {s_in} -> {s_out}")));
            }
            let n_out_flat = out_shape.iter().product::<usize>().max(1);
            let n = (n_in.unwrap_or(0) / n_out_flat).max(1);
            // GetQuantProdScaling in double.
            let scaling = f64::from(s_in) / f64::from(s_out).powf(1.0 / n as f64);
            let m = quantize_multiplier(scaling);
            prod_requant = Some(ProdRequant::new(m, zp_in, zp_out).ok_or_else(|| {
                ctx.unsupported(format!(
                    "the per-step scaling {scaling} gives a shift of {} outside [-31, 7]",
                    m.shift
                ))
            })?);
        }
        (_, ReduceKind::Prod) => {
            return Err(ctx.unsupported(format!(
                "{} REDUCE_PROD (float32 and quantized int8 are supported)",
                input.dtype
            )))
        }
        (DType::I8 | DType::U8, ReduceKind::Sum) => {
            let (s_in, zp_in) = ctx.per_tensor(input)?;
            let (s_out, zp_out) = ctx.per_tensor(output)?;
            if !(s_in > 0.0 && s_out > 0.0 && s_in.is_finite() && s_out.is_finite()) {
                return Err(ctx.unsupported(format!("scales {s_in} -> {s_out}")));
            }
            // PrepareMeanOrSum: both scales widened to double, divided in double.
            let m = quantize_multiplier(s_in as f64 / s_out as f64);
            if m.shift > 30 {
                return Err(ctx.unsupported(format!(
                    "input/output scale ratio {} is too large",
                    s_in as f64 / s_out as f64
                )));
            }
            sum_requant = Some(MeanRequant {
                input_zero_point: zp_in,
                output_zero_point: zp_out,
                multiplier: m,
                count: count as i64,
            });
        }
        (DType::I8 | DType::U8 | DType::I16, ReduceKind::Max | ReduceKind::Min) => {
            // EvalType: TF_LITE_ENSURE_EQ on the scales and the zero points.
            let (s_in, zp_in) = ctx.per_tensor(input)?;
            let (s_out, zp_out) = ctx.per_tensor(output)?;
            if s_in != s_out || zp_in != zp_out {
                return Err(ctx.unsupported(format!(
                    "{name} needs equal input and output parameters, got ({s_in}, {zp_in}) -> \
                     ({s_out}, {zp_out})"
                )));
            }
        }
        (DType::I16, ReduceKind::Sum) => {
            return Err(
                ctx.unsupported("int16 SUM: BUILTIN_REF's kernel reads the int16 data as bytes")
            )
        }
        (other, _) => return Err(ctx.unsupported(format!("dtype {other}"))),
    }
    let all_dims = axes.len() == in_shape.len();
    Ok(Box::new(Reduce {
        label: ctx.label(),
        kind,
        map,
        n_out,
        count,
        start_at_first: all_dims || converter,
        optimized_compare: converter,
        sum_requant,
        prod_requant,
    }))
}

#[cfg(test)]
#[path = "reduce_generic_tests.rs"]
mod tests;
