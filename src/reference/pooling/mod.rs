//! AVERAGE_POOL_2D and MAX_POOL_2D.
//!
//! TFLite: `kernels/pooling.cc` (`GenericPrepare`, `AverageEval`, `MaxEval` with the
//! `kReference` kernel type), `kernels/internal/reference/pooling.h` (float32 and uint8) and
//! `kernels/internal/reference/integer_ops/pooling.h` (int8 and int16).
//!
//! Every output element looks at the window of in-bounds taps only (padding is never read):
//! - float32 average: `Σ x` in tap order (rows, then columns) in `f32`, divided by the tap
//!   count as `f32`, then the fused activation clamp.
//! - integer average: `acc = Σ q` (raw values; the zero point cancels because input and
//!   output share it), rounded to the nearest integer with ties away from zero:
//!   `acc > 0 ? (acc + n/2) / n : (acc - n/2) / n` (C division truncates), then the
//!   quantized activation clamp. uint8 uses `(acc + n/2) / n`, the same for `acc >= 0`.
//! - max: the largest tap (starting from the type's lowest value; uint8 starts from 0),
//!   then the activation clamp.

use crate::model::{DType, Padding, Pool2DOptions};
use crate::{Buf, Error, Result, Tensor};

use super::common::{
    clamp_like_cpp, compute_padding, float_activation_range, quantized_activation_range, QInt,
};
use super::{dims, Kernel, OpCtx};

#[cfg(test)]
mod tests;

/// Geometry of a 2-D pool over an NHWC tensor, as TFLite's `PoolParams` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolGeom {
    pub(crate) batches: usize,
    pub(crate) in_h: usize,
    pub(crate) in_w: usize,
    pub(crate) depth: usize,
    pub(crate) out_h: usize,
    pub(crate) out_w: usize,
    pub(crate) stride_h: usize,
    pub(crate) stride_w: usize,
    pub(crate) filter_h: usize,
    pub(crate) filter_w: usize,
    /// Padding before (top, left): `padding_values.height/width`.
    pub(crate) pad_h: usize,
    pub(crate) pad_w: usize,
}

/// The in-bounds part of one output element's window: input rows `y0..y1`, columns
/// `x0..x1` (the `filter_*_start/end` clamp of the reference kernels, in input coordinates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    y0: usize,
    y1: usize,
    x0: usize,
    x1: usize,
}

impl PoolGeom {
    fn window(&self, out_y: usize, out_x: usize) -> Window {
        // in_origin = out * stride - pad; filter_start = max(0, -origin);
        // filter_end = min(filter, in - origin); taps origin + [start, end).
        let oy = (out_y * self.stride_h) as i64 - self.pad_h as i64;
        let ox = (out_x * self.stride_w) as i64 - self.pad_w as i64;
        let y0 = oy.max(0);
        let y1 = (oy + self.filter_h as i64).min(self.in_h as i64);
        let x0 = ox.max(0);
        let x1 = (ox + self.filter_w as i64).min(self.in_w as i64);
        Window {
            y0: y0 as usize,
            y1: y1.max(y0) as usize,
            x0: x0 as usize,
            x1: x1.max(x0) as usize,
        }
    }

    #[inline]
    fn in_offset(&self, b: usize, y: usize, x: usize, c: usize) -> usize {
        ((b * self.in_h + y) * self.in_w + x) * self.depth + c
    }

    #[inline]
    fn out_offset(&self, b: usize, y: usize, x: usize, c: usize) -> usize {
        ((b * self.out_h + y) * self.out_w + x) * self.depth + c
    }

    /// Visit every output element with its window, in the reference kernels' loop order.
    fn for_each(&self, mut f: impl FnMut(usize, Window, &dyn Fn(usize, usize) -> usize)) {
        for b in 0..self.batches {
            for out_y in 0..self.out_h {
                for out_x in 0..self.out_w {
                    let w = self.window(out_y, out_x);
                    for c in 0..self.depth {
                        let at = |y: usize, x: usize| self.in_offset(b, y, x, c);
                        f(self.out_offset(b, out_y, out_x, c), w, &at);
                    }
                }
            }
        }
    }

    /// Whether some output element would have an empty window (TFLite's average pool then
    /// fails at run time; we refuse at prepare).
    fn has_empty_window(&self) -> bool {
        (0..self.out_h).any(|y| {
            (0..self.out_w).any(|x| {
                let w = self.window(y, x);
                w.y0 >= w.y1 || w.x0 >= w.x1
            })
        })
    }
}

/// The activation clamp a kernel applies, in the tensor's own domain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Clamp {
    F32(f32, f32),
    Int(i32, i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolKind {
    Average,
    Max,
}

pub(crate) struct Pool {
    pub(crate) kind: PoolKind,
    pub(crate) geom: PoolGeom,
    pub(crate) clamp: Clamp,
}

/// `reference_ops::AveragePool` (float).
fn average_f32(g: &PoolGeom, lo: f32, hi: f32, input: &[f32], out: &mut [f32]) {
    g.for_each(|o, w, at| {
        let mut total = 0.0f32;
        let mut count = 0.0f32;
        for y in w.y0..w.y1 {
            for x in w.x0..w.x1 {
                total += input[at(y, x)];
                count += 1.0;
            }
        }
        out[o] = clamp_like_cpp(total / count, lo, hi);
    });
}

/// `reference_ops::MaxPool` (float).
fn max_f32(g: &PoolGeom, lo: f32, hi: f32, input: &[f32], out: &mut [f32]) {
    g.for_each(|o, w, at| {
        let mut max = f32::MIN;
        for y in w.y0..w.y1 {
            for x in w.x0..w.x1 {
                // std::max(max, v): v replaces max only when max < v.
                let v = input[at(y, x)];
                if max < v {
                    max = v;
                }
            }
        }
        out[o] = clamp_like_cpp(max, lo, hi);
    });
}

/// `reference_integer_ops::AveragePool` (int8, int16) and `reference_ops::AveragePool`
/// (uint8): rounding division of the raw sum, half away from zero.
fn average_int<T: QInt>(g: &PoolGeom, lo: i32, hi: i32, input: &[T], out: &mut [T]) {
    g.for_each(|o, w, at| {
        let mut acc: i64 = 0;
        let mut count: i64 = 0;
        for y in w.y0..w.y1 {
            for x in w.x0..w.x1 {
                acc += input[at(y, x)].to_i32() as i64;
                count += 1;
            }
        }
        out[o] = T::from_i32(round_div_away(acc, count).clamp(lo as i64, hi as i64) as i32);
    });
}

/// `acc > 0 ? (acc + n/2) / n : (acc - n/2) / n` with C's truncating division.
#[inline]
fn round_div_away(acc: i64, n: i64) -> i64 {
    if acc > 0 {
        (acc + n / 2) / n
    } else {
        (acc - n / 2) / n
    }
}

/// `reference_integer_ops::MaxPool` / `reference_ops::MaxPool` (uint8).
fn max_int<T: QInt>(g: &PoolGeom, lo: i32, hi: i32, input: &[T], out: &mut [T]) {
    g.for_each(|o, w, at| {
        // `std::numeric_limits<T>::lowest()` (reference uint8 `MaxPool` starts from 0, the
        // same thing).
        let mut max = T::MIN;
        for y in w.y0..w.y1 {
            for x in w.x0..w.x1 {
                max = max.max(input[at(y, x)].to_i32());
            }
        }
        out[o] = T::from_i32(max.max(lo).min(hi));
    });
}

impl Kernel for Pool {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let input = inputs
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| Error::Shape("pool: input 0 is missing".into()))?;
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape("pool: output 0 is missing".into()))?;
        let g = &self.geom;
        let n_in = g.batches * g.in_h * g.in_w * g.depth;
        let n_out = g.batches * g.out_h * g.out_w * g.depth;
        if input.len() != n_in || out.len() != n_out {
            return Err(Error::Shape(format!(
                "pool: input {:?} / output {:?} do not match the prepared geometry",
                input.shape(),
                out.shape()
            )));
        }
        use PoolKind::*;
        match (self.kind, self.clamp, input.buf(), out.buf_mut()) {
            (Average, Clamp::F32(lo, hi), Buf::F32(i), Buf::F32(o)) => average_f32(g, lo, hi, i, o),
            (Max, Clamp::F32(lo, hi), Buf::F32(i), Buf::F32(o)) => max_f32(g, lo, hi, i, o),
            (Average, Clamp::Int(lo, hi), Buf::I8(i), Buf::I8(o)) => average_int(g, lo, hi, i, o),
            (Average, Clamp::Int(lo, hi), Buf::U8(i), Buf::U8(o)) => average_int(g, lo, hi, i, o),
            (Average, Clamp::Int(lo, hi), Buf::I16(i), Buf::I16(o)) => average_int(g, lo, hi, i, o),
            (Max, Clamp::Int(lo, hi), Buf::I8(i), Buf::I8(o)) => max_int(g, lo, hi, i, o),
            (Max, Clamp::Int(lo, hi), Buf::U8(i), Buf::U8(o)) => max_int(g, lo, hi, i, o),
            (Max, Clamp::Int(lo, hi), Buf::I16(i), Buf::I16(o)) => max_int(g, lo, hi, i, o),
            (_, _, i, o) => {
                return Err(Error::Shape(format!(
                    "pool: prepared for other dtypes than {} -> {}",
                    i.dtype(),
                    o.dtype()
                )))
            }
        }
        Ok(())
    }
}

fn prepare_pool(ctx: &OpCtx, o: &Pool2DOptions, kind: PoolKind) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 1 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("a pool takes one input and one output"));
    }
    let input = ctx.input(0)?;
    let output = ctx.output(0)?;
    if input.dtype != output.dtype {
        return Err(ctx.unsupported("input and output dtypes differ"));
    }
    let in_shape = dims(input);
    let out_shape = dims(output);
    if in_shape.len() != 4 {
        return Err(ctx.unsupported(format!("input must be 4-D NHWC, got {in_shape:?}")));
    }
    if o.stride_h <= 0 || o.stride_w <= 0 || o.filter_h <= 0 || o.filter_w <= 0 {
        return Err(ctx.invalid(format!(
            "strides ({}, {}) and filter ({}, {}) must be positive",
            o.stride_h, o.stride_w, o.filter_h, o.filter_w
        )));
    }
    if matches!(o.padding, Padding::Other(_)) {
        return Err(ctx.unsupported(format!("padding {:?}", o.padding)));
    }
    let (stride_h, stride_w) = (o.stride_h as usize, o.stride_w as usize);
    let (filter_h, filter_w) = (o.filter_h as usize, o.filter_w as usize);
    let (batches, in_h, in_w, depth) = (in_shape[0], in_shape[1], in_shape[2], in_shape[3]);
    let (Some(ph), Some(pw)) = (
        compute_padding(o.padding, in_h, filter_h, stride_h, 1),
        compute_padding(o.padding, in_w, filter_w, stride_w, 1),
    ) else {
        return Err(ctx.invalid(format!(
            "a {filter_h}x{filter_w} filter does not fit the {in_h}x{in_w} input"
        )));
    };
    let want = [batches, ph.out, pw.out, depth];
    if out_shape != want {
        return Err(ctx.invalid(format!(
            "output shape {out_shape:?}, the pool computes {want:?}"
        )));
    }
    let geom = PoolGeom {
        batches,
        in_h,
        in_w,
        depth,
        out_h: ph.out,
        out_w: pw.out,
        stride_h,
        stride_w,
        filter_h,
        filter_w,
        pad_h: ph.before as usize,
        pad_w: pw.before as usize,
    };
    if geom.has_empty_window() {
        return Err(ctx.unsupported("some output window holds no input element"));
    }
    let clamp = match input.dtype {
        DType::F32 => {
            let (lo, hi) = float_activation_range(o.activation)
                .ok_or_else(|| ctx.unsupported(format!("fused activation {:?}", o.activation)))?;
            Clamp::F32(lo, hi)
        }
        DType::I8 | DType::U8 | DType::I16 => {
            let (s_in, zp_in) = ctx.per_tensor(input)?;
            let (s_out, zp_out) = ctx.per_tensor(output)?;
            // GenericPrepare's (debug) checks: the kernels work on raw values and assume
            // both tensors share scale and zero point.
            if (s_in - s_out).abs() > 1e-6 || zp_in != zp_out {
                return Err(ctx.unsupported(format!(
                    "input ({s_in}, {zp_in}) and output ({s_out}, {zp_out}) quantization must match"
                )));
            }
            let (lo, hi) = quantized_activation_range(o.activation, output.dtype, s_out, zp_out)
                .ok_or_else(|| ctx.unsupported(format!("fused activation {:?}", o.activation)))?;
            Clamp::Int(lo, hi)
        }
        other => return Err(ctx.unsupported(format!("dtype {other}"))),
    };
    Ok(Box::new(Pool { kind, geom, clamp }))
}

pub(super) fn prepare_average_pool(ctx: &OpCtx, o: &Pool2DOptions) -> Result<Box<dyn Kernel>> {
    prepare_pool(ctx, o, PoolKind::Average)
}

pub(super) fn prepare_max_pool(ctx: &OpCtx, o: &Pool2DOptions) -> Result<Box<dyn Kernel>> {
    prepare_pool(ctx, o, PoolKind::Max)
}
