//! SUM, REDUCE_MAX, REDUCE_MIN.
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
//! - float32 in the converter's order ([`FloatOrder::Converter`], `optimized_ops::ReduceGeneric`
//!   over the normalized dimensions): each output takes its inputs in the same row-major
//!   order, but starts at its first input (not at the neutral value), and MAX/MIN keep the
//!   current value on `current > in` / `current < in` (a NaN input replaces the result).
//!   With no axis, a copy.

use crate::model::DType;
use crate::quant::fixedpoint::quantize_multiplier;
use crate::{Buf, Error, Result, Tensor};

use super::common::QInt;
use super::reduce::{output_index_map_in, reduced_shape, resolve_axes, MeanRequant};
use super::{dims, FloatOrder, Kernel, OpCtx};

/// Which reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReduceKind {
    Sum,
    Max,
    Min,
}

impl ReduceKind {
    fn name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "SUM",
            ReduceKind::Max => "REDUCE_MAX",
            ReduceKind::Min => "REDUCE_MIN",
        }
    }

    /// The neutral value of a float reduction.
    pub(crate) fn init_f32(self) -> f32 {
        match self {
            ReduceKind::Sum => 0.0,
            ReduceKind::Max => f32::MIN,
            ReduceKind::Min => f32::MAX,
        }
    }

    /// The reference reducer, `reducer(current, in)`.
    #[inline]
    fn reference(self, current: f32, x: f32) -> f32 {
        match self {
            ReduceKind::Sum => current + x,
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
        match (&self.sum_requant, input.buf(), out.buf_mut()) {
            (None, Buf::F32(i), Buf::F32(o)) => self.run_f32(i, o),
            (None, Buf::I8(i), Buf::I8(o)) => self.run_minmax(i, o),
            (None, Buf::U8(i), Buf::U8(o)) => self.run_minmax(i, o),
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
    let input = ctx.input(0)?;
    let axis_t = ctx.input(1)?;
    let output = ctx.output(0)?;
    if input.dtype != output.dtype {
        return Err(ctx.unsupported("input and output dtypes differ"));
    }
    if axis_t.dtype != DType::I32 {
        return Err(ctx.unsupported("the axis tensor must be INT32"));
    }
    let axis = ctx.require_const(1, "the axis")?;
    let Some(axes) = axis.as_i32() else {
        return Err(ctx.unsupported("the axis tensor could not be decoded as INT32"));
    };
    let in_shape = dims(input);
    let out_shape = dims(output);
    let Some(axes) = resolve_axes(in_shape.len(), axes) else {
        return Err(ctx.invalid(format!(
            "axis {axes:?} out of range for rank {}",
            in_shape.len()
        )));
    };
    let want = reduced_shape(&in_shape, &axes, keep_dims);
    if out_shape != want {
        return Err(ctx.invalid(format!(
            "output shape {out_shape:?}, the reduction of {in_shape:?} over {axes:?} gives {want:?}"
        )));
    }
    let count: usize = axes.iter().map(|&a| in_shape[a]).product();
    let n_in = in_shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let map = ctx.budget.with_capacity(n_in.unwrap_or(usize::MAX), || {
        format!("{}: the index map of its {in_shape:?} input", ctx.label())
    })?;
    let map = output_index_map_in(map, &in_shape, &axes);
    let n_out: usize = out_shape.iter().product();
    let converter = ctx.float_order == FloatOrder::Converter;
    let mut sum_requant = None;
    match (input.dtype, kind) {
        (DType::F32, _) => {}
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
        (DType::I8 | DType::U8, _) => {
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
    }))
}

#[cfg(test)]
#[path = "reduce_generic_tests.rs"]
mod tests;
