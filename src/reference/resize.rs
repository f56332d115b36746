//! RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR.
//!
//! TFLite: `kernels/resize_bilinear.cc`, `kernels/resize_nearest_neighbor.cc` (`Eval` with
//! `kReference`), `kernels/internal/reference/resize_bilinear.h`,
//! `kernels/internal/reference/resize_nearest_neighbor.h`. The output size comes from a
//! constant INT32 `[height, width]` tensor; every source index and weight depends only on
//! the output row or column, so they are computed once at prepare.
//!
//! Bilinear, per output row `y` (columns alike):
//! - float32 and uint8 (`ResizeBilinear<T>`, all in `f32`): `scale = in / out`, or
//!   `(in - 1) / (out - 1)` with `align_corners` and `out > 1`; `v = y * scale`, or
//!   `(y + 0.5) * scale - 0.5` with `half_pixel_centers`; `y0 = max(floor(v), 0)`,
//!   `y1 = min(ceil(v), in - 1)`; the output is
//!   `p00·(1-dy)·(1-dx) + p10·dy·(1-dx) + p01·(1-dy)·dx + p11·dy·dx (+ 0.5 for uint8)` with
//!   `dy = v - y0`, evaluated left to right, then `static_cast<T>` (truncation for uint8).
//! - int8 and int16 (`ResizeBilinearInteger`, no floating point): 10-bit fixed-point
//!   `scale_10 = ((in << 10) + out/2) / out` (or the `align_corners` form),
//!   `v = y * scale_10`, or `y * scale_10 + scale_10/2 - 512` with `half_pixel_centers`;
//!   `y0 = max(v / 1024, 0)`, `y1 = min((v + 1023) / 1024, in - 1)` (C division truncates);
//!   the four products with 10-bit weights `1024 - (v - 1024·y0)` and `v - 1024·y0` are
//!   summed in `int64` and divided by `2^20` rounding half away from zero (the default
//!   build; TFLITE_SINGLE_ROUNDING differs).
//!
//! Nearest: `scale` as above in `f32`; `in_y = min(align_corners ? round((y + off) * scale)
//! : floor((y + off) * scale), in - 1)` with `off = 0.5` for `half_pixel_centers` (then also
//! `max(in_y, 0)`); whole depth vectors are copied, for any dtype.

use crate::model::{DType, ResizeOptions};
use crate::{Buf, Error, Result, Tensor};

use super::{dims, Kernel, OpCtx};

/// What resize ops share at prepare: shapes and the checked constant size.
struct ResizeShape {
    batches: usize,
    in_h: usize,
    in_w: usize,
    depth: usize,
    out_h: usize,
    out_w: usize,
}

fn prepare_shape(ctx: &OpCtx) -> Result<ResizeShape> {
    if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("a resize takes an input and a size tensor, and one output"));
    }
    let input = ctx.input(0)?;
    let size_t = ctx.input(1)?;
    let output = ctx.output(0)?;
    if input.dtype != output.dtype {
        return Err(ctx.unsupported("input and output dtypes differ"));
    }
    let in_shape = dims(input);
    if in_shape.len() != 4 {
        return Err(ctx.unsupported(format!("input must be 4-D NHWC, got {in_shape:?}")));
    }
    if size_t.dtype != DType::I32 || dims(size_t) != [2] {
        return Err(ctx.invalid("the size tensor must be INT32 of shape [2]"));
    }
    let size = ctx.require_const(1, "the output size")?;
    let Some(&[h, w]) = size.as_i32() else {
        return Err(ctx.invalid("the size tensor must hold 2 INT32 values"));
    };
    if h <= 0 || w <= 0 {
        return Err(ctx.invalid(format!("output size [{h}, {w}] must be positive")));
    }
    let want = [in_shape[0], h as usize, w as usize, in_shape[3]];
    let out_shape = dims(output);
    if out_shape != want {
        return Err(ctx.invalid(format!(
            "output shape {out_shape:?}, the size tensor gives {want:?}"
        )));
    }
    if in_shape[1] == 0 || in_shape[2] == 0 {
        return Err(ctx.unsupported("empty input image"));
    }
    if in_shape[1] >= 1 << 20 || in_shape[2] >= 1 << 20 || h >= 1 << 20 || w >= 1 << 20 {
        return Err(ctx.unsupported("image sizes of 2^20 and more"));
    }
    Ok(ResizeShape {
        batches: in_shape[0],
        in_h: in_shape[1],
        in_w: in_shape[2],
        depth: in_shape[3],
        out_h: h as usize,
        out_w: w as usize,
    })
}

// ---------------------------------------------------------------------------------------
// Bilinear

/// The float scale of one axis.
fn float_scale(in_size: usize, out_size: usize, align_corners: bool) -> f32 {
    if align_corners && out_size > 1 {
        (in_size - 1) as f32 / (out_size - 1) as f32
    } else {
        in_size as f32 / out_size as f32
    }
}

/// `ComputeInterpolationValues` (float): source coordinate, lower and upper index.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FloatTap {
    v: f32,
    lo: usize,
    hi: usize,
}

fn float_taps(in_size: usize, out_size: usize, o: &ResizeOptions) -> Option<Vec<FloatTap>> {
    let scale = float_scale(in_size, out_size, o.align_corners);
    (0..out_size)
        .map(|i| {
            let value = i as f32;
            let v = if o.half_pixel_centers {
                (value + 0.5) * scale - 0.5
            } else {
                value * scale
            };
            let lo = (v.floor() as i32).max(0);
            let hi = (v.ceil() as i32).min(in_size as i32 - 1);
            // TFLite does not bound `lo` above (it never exceeds in - 1 for sane sizes).
            (lo < in_size as i32 && hi >= 0).then_some(FloatTap {
                v,
                lo: lo as usize,
                hi: hi as usize,
            })
        })
        .collect()
}

/// The 10-bit fixed-point scale of one axis.
fn scale_10(in_size: usize, out_size: usize, align_corners: bool) -> i32 {
    let (i, o) = (in_size as i32, out_size as i32);
    if align_corners && out_size > 1 {
        ((1 << 10) * (i - 1) + (o - 1) / 2) / (o - 1)
    } else {
        ((1 << 10) * i + o / 2) / o
    }
}

/// `ComputeInterpolationValuesInteger`: source coordinate in 1/1024ths, lower and upper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IntTap {
    v: i32,
    lo: usize,
    hi: usize,
}

fn int_taps(in_size: usize, out_size: usize, o: &ResizeOptions) -> Option<Vec<IntTap>> {
    let s = scale_10(in_size, out_size, o.align_corners);
    (0..out_size as i32)
        .map(|i| {
            let v = if o.half_pixel_centers {
                i.checked_mul(s)? + s / 2 - (1 << 9)
            } else {
                i.checked_mul(s)?
            };
            let lo = (v / (1 << 10)).max(0);
            let hi = ((v + (1 << 10) - 1) / (1 << 10)).min(in_size as i32 - 1);
            (lo < in_size as i32 && hi >= 0).then_some(IntTap {
                v,
                lo: lo as usize,
                hi: hi as usize,
            })
        })
        .collect()
}

enum BilinearTaps {
    /// float32 and uint8.
    Float {
        ys: Vec<FloatTap>,
        xs: Vec<FloatTap>,
    },
    /// int8 and int16.
    Int { ys: Vec<IntTap>, xs: Vec<IntTap> },
}

struct Bilinear {
    shape: ResizeShape,
    taps: BilinearTaps,
}

/// Element types of the float bilinear path (`ResizeBilinear<T>`).
trait FloatPath: Copy {
    /// `rounding_offset`: 0.5 for integer types, 0 for float.
    const ROUND: f32;
    fn widen(self) -> f32;
    /// The final `static_cast<T>`.
    fn narrow(v: f32) -> Self;
}

impl FloatPath for f32 {
    const ROUND: f32 = 0.0;
    #[inline]
    fn widen(self) -> f32 {
        self
    }
    #[inline]
    fn narrow(v: f32) -> f32 {
        v
    }
}

impl FloatPath for u8 {
    const ROUND: f32 = 0.5;
    #[inline]
    fn widen(self) -> f32 {
        self as f32
    }
    /// C's float-to-integer conversion (truncation) of an in-range value, then narrowing.
    #[inline]
    fn narrow(v: f32) -> u8 {
        v as i32 as u8
    }
}

/// Element types of the integer bilinear path (`ResizeBilinearInteger<T>`).
trait IntPath: Copy {
    fn widen(self) -> i64;
    /// The final `static_cast<T>` (wrapping).
    fn narrow(v: i64) -> Self;
}

macro_rules! int_path {
    ($t:ty) => {
        impl IntPath for $t {
            #[inline]
            fn widen(self) -> i64 {
                self as i64
            }
            #[inline]
            fn narrow(v: i64) -> Self {
                v as $t
            }
        }
    };
}
int_path!(i8);
int_path!(i16);

/// `ResizeBilinear<T>` (float32, uint8).
fn bilinear_float<T: FloatPath>(
    s: &ResizeShape,
    ys: &[FloatTap],
    xs: &[FloatTap],
    input: &[T],
    out: &mut [T],
) {
    let at = |b: usize, y: usize, x: usize, c: usize| ((b * s.in_h + y) * s.in_w + x) * s.depth + c;
    let mut o = 0;
    for b in 0..s.batches {
        for ty in ys {
            let dy = ty.v - ty.lo as f32;
            for tx in xs {
                let dx = tx.v - tx.lo as f32;
                for c in 0..s.depth {
                    let v = input[at(b, ty.lo, tx.lo, c)].widen() * (1.0 - dy) * (1.0 - dx)
                        + input[at(b, ty.hi, tx.lo, c)].widen() * dy * (1.0 - dx)
                        + input[at(b, ty.lo, tx.hi, c)].widen() * (1.0 - dy) * dx
                        + input[at(b, ty.hi, tx.hi, c)].widen() * dy * dx
                        + T::ROUND;
                    out[o] = T::narrow(v);
                    o += 1;
                }
            }
        }
    }
}

/// `ResizeBilinearInteger<T>` (int8, int16).
fn bilinear_int<T: IntPath>(
    s: &ResizeShape,
    ys: &[IntTap],
    xs: &[IntTap],
    input: &[T],
    out: &mut [T],
) {
    let at = |b: usize, y: usize, x: usize, c: usize| ((b * s.in_h + y) * s.in_w + x) * s.depth + c;
    let mut o = 0;
    for b in 0..s.batches {
        for ty in ys {
            // Weights in 1/1024ths: wy1 = v - 1024*y0, wy0 = 1024 - wy1.
            let wy1 = (ty.v - (1 << 10) * ty.lo as i32) as i64;
            let wy0 = (1 << 10) - wy1;
            for tx in xs {
                let wx1 = (tx.v - (1 << 10) * tx.lo as i32) as i64;
                let wx0 = (1 << 10) - wx1;
                for c in 0..s.depth {
                    let ll = input[at(b, ty.lo, tx.lo, c)].widen() * wy0 * wx0;
                    let lu = input[at(b, ty.hi, tx.lo, c)].widen() * wy1 * wx0;
                    let rl = input[at(b, ty.lo, tx.hi, c)].widen() * wy0 * wx1;
                    let ru = input[at(b, ty.hi, tx.hi, c)].widen() * wy1 * wx1;
                    let out_20 = ll + lu + rl + ru;
                    let round = if out_20 > 0 { 1 << 19 } else { -(1 << 19) };
                    out[o] = T::narrow((out_20 + round) / (1 << 20));
                    o += 1;
                }
            }
        }
    }
}

impl Kernel for Bilinear {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let (input, out) = io(inputs, outputs, &self.shape, "RESIZE_BILINEAR")?;
        let s = &self.shape;
        match (&self.taps, input.buf(), out.buf_mut()) {
            (BilinearTaps::Float { ys, xs }, Buf::F32(i), Buf::F32(o)) => {
                bilinear_float(s, ys, xs, i, o)
            }
            (BilinearTaps::Float { ys, xs }, Buf::U8(i), Buf::U8(o)) => {
                bilinear_float(s, ys, xs, i, o)
            }
            (BilinearTaps::Int { ys, xs }, Buf::I8(i), Buf::I8(o)) => bilinear_int(s, ys, xs, i, o),
            (BilinearTaps::Int { ys, xs }, Buf::I16(i), Buf::I16(o)) => {
                bilinear_int(s, ys, xs, i, o)
            }
            (_, i, o) => return Err(dtype_error("RESIZE_BILINEAR", i, o)),
        }
        Ok(())
    }
}

pub(super) fn prepare_bilinear(ctx: &OpCtx, o: &ResizeOptions) -> Result<Box<dyn Kernel>> {
    let shape = prepare_shape(ctx)?;
    if o.half_pixel_centers && o.align_corners {
        return Err(ctx.invalid("half_pixel_centers and align_corners cannot both be set"));
    }
    let dtype = ctx.input(0)?.dtype;
    let bad = || ctx.unsupported("a source index falls outside the input");
    let taps = match dtype {
        DType::F32 | DType::U8 => BilinearTaps::Float {
            ys: float_taps(shape.in_h, shape.out_h, o).ok_or_else(bad)?,
            xs: float_taps(shape.in_w, shape.out_w, o).ok_or_else(bad)?,
        },
        DType::I8 | DType::I16 => BilinearTaps::Int {
            ys: int_taps(shape.in_h, shape.out_h, o).ok_or_else(bad)?,
            xs: int_taps(shape.in_w, shape.out_w, o).ok_or_else(bad)?,
        },
        other => return Err(ctx.unsupported(format!("dtype {other}"))),
    };
    Ok(Box::new(Bilinear { shape, taps }))
}

// ---------------------------------------------------------------------------------------
// Nearest neighbour

/// `GetNearestNeighbor` for every output index of one axis.
fn nearest_indices(in_size: usize, out_size: usize, o: &ResizeOptions) -> Vec<usize> {
    let scale = float_scale(in_size, out_size, o.align_corners);
    let offset = if o.half_pixel_centers { 0.5f32 } else { 0.0 };
    (0..out_size)
        .map(|i| {
            let v = (i as f32 + offset) * scale;
            // TfLiteRound is std::round (half away from zero), as f32::round.
            let idx = if o.align_corners {
                v.round()
            } else {
                v.floor()
            } as i32;
            let mut idx = idx.min(in_size as i32 - 1);
            if o.half_pixel_centers {
                idx = idx.max(0);
            }
            // Non-negative for any non-negative scale; kept in range regardless.
            idx.max(0) as usize
        })
        .collect()
}

struct Nearest {
    shape: ResizeShape,
    ys: Vec<usize>,
    xs: Vec<usize>,
}

fn nearest<T: Copy>(n: &Nearest, input: &[T], out: &mut [T]) {
    let s = &n.shape;
    let d = s.depth;
    let mut o = 0;
    for b in 0..s.batches {
        for &y in &n.ys {
            for &x in &n.xs {
                let start = ((b * s.in_h + y) * s.in_w + x) * d;
                out[o..o + d].copy_from_slice(&input[start..start + d]);
                o += d;
            }
        }
    }
}

impl Kernel for Nearest {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let (input, out) = io(inputs, outputs, &self.shape, "RESIZE_NEAREST_NEIGHBOR")?;
        match (input.buf(), out.buf_mut()) {
            (Buf::F32(i), Buf::F32(o)) => nearest(self, i, o),
            (Buf::I8(i), Buf::I8(o)) => nearest(self, i, o),
            (Buf::U8(i), Buf::U8(o)) => nearest(self, i, o),
            (Buf::I16(i), Buf::I16(o)) => nearest(self, i, o),
            (i, o) => return Err(dtype_error("RESIZE_NEAREST_NEIGHBOR", i, o)),
        }
        Ok(())
    }
}

pub(super) fn prepare_nearest(ctx: &OpCtx, o: &ResizeOptions) -> Result<Box<dyn Kernel>> {
    let shape = prepare_shape(ctx)?;
    match ctx.input(0)?.dtype {
        DType::F32 | DType::I8 | DType::U8 | DType::I16 => {}
        other => return Err(ctx.unsupported(format!("dtype {other}"))),
    }
    let ys = nearest_indices(shape.in_h, shape.out_h, o);
    let xs = nearest_indices(shape.in_w, shape.out_w, o);
    Ok(Box::new(Nearest { shape, ys, xs }))
}

// ---------------------------------------------------------------------------------------

/// The input and output of a resize kernel, checked against the prepared shapes.
fn io<'a, 'b>(
    inputs: &[Option<&'a Tensor>],
    outputs: &'b mut [Tensor],
    s: &ResizeShape,
    op: &str,
) -> Result<(&'a Tensor, &'b mut Tensor)> {
    let input = inputs
        .first()
        .copied()
        .flatten()
        .ok_or_else(|| Error::Shape(format!("{op}: input 0 is missing")))?;
    let out = outputs
        .first_mut()
        .ok_or_else(|| Error::Shape(format!("{op}: output 0 is missing")))?;
    if input.shape() != [s.batches, s.in_h, s.in_w, s.depth]
        || out.shape() != [s.batches, s.out_h, s.out_w, s.depth]
    {
        return Err(Error::Shape(format!(
            "{op}: input {:?} / output {:?} do not match the prepared shapes",
            input.shape(),
            out.shape()
        )));
    }
    Ok((input, out))
}

fn dtype_error(op: &str, i: &Buf, o: &Buf) -> Error {
    Error::Shape(format!(
        "{op}: prepared for other dtypes than {} -> {}",
        i.dtype(),
        o.dtype()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(align_corners: bool, half_pixel_centers: bool) -> ResizeOptions {
        ResizeOptions {
            align_corners,
            half_pixel_centers,
        }
    }

    #[test]
    fn nearest_index_rules() {
        // 3 -> 7, plain: floor(y * 3/7).
        assert_eq!(
            nearest_indices(3, 7, &opts(false, false)),
            vec![0, 0, 0, 1, 1, 2, 2]
        );
        // align_corners: round(y * 2/6).
        assert_eq!(
            nearest_indices(3, 7, &opts(true, false)),
            vec![0, 0, 1, 1, 1, 2, 2]
        );
        // half_pixel_centers: floor((y + 0.5) * 3/7).
        assert_eq!(
            nearest_indices(3, 7, &opts(false, true)),
            vec![0, 0, 1, 1, 1, 2, 2]
        );
        // Downscale 7 -> 3 with half pixels: floor((y + .5) * 7/3) = 1, 3, 5.
        assert_eq!(nearest_indices(7, 3, &opts(false, true)), vec![1, 3, 5]);
        // One output: align_corners falls back to in/out.
        assert_eq!(nearest_indices(5, 1, &opts(true, false)), vec![0]);
    }

    #[test]
    fn integer_scales_and_taps() {
        // 3 -> 7: scale_10 = (3072 + 3) / 7 = 439.
        assert_eq!(scale_10(3, 7, false), 439);
        // align: (2048 + 3) / 6 = 341.
        assert_eq!(scale_10(3, 7, true), 341);
        let t = int_taps(3, 7, &opts(false, true)).unwrap();
        // y = 0: v = 219 - 512 = -293 -> lo 0 (C truncation), hi (-293 + 1023) / 1024 = 0.
        assert_eq!(
            t[0],
            IntTap {
                v: -293,
                lo: 0,
                hi: 0
            }
        );
        // y = 6: v = 2634 + 219 - 512 = 2341 -> lo 2, hi min(3, 2) = 2.
        assert_eq!(
            t[6],
            IntTap {
                v: 2341,
                lo: 2,
                hi: 2
            }
        );
        // y = 3: v = 1317 + 219 - 512 = 1024 -> lo 1, hi 1.
        assert_eq!(
            t[3],
            IntTap {
                v: 1024,
                lo: 1,
                hi: 1
            }
        );
    }

    #[test]
    fn integer_bilinear_rounds_half_away_from_zero() {
        let s = ResizeShape {
            batches: 1,
            in_h: 1,
            in_w: 2,
            depth: 1,
            out_h: 1,
            out_w: 1,
        };
        let ys = [IntTap { v: 0, lo: 0, hi: 0 }];
        // Half way between the two columns.
        let xs = [IntTap {
            v: 512,
            lo: 0,
            hi: 1,
        }];
        let mut out = [0i8];
        bilinear_int(&s, &ys, &xs, &[-3i8, -4], &mut out);
        // -3.5 -> -4, 3.5 -> 4.
        assert_eq!(out[0], -4);
        bilinear_int(&s, &ys, &xs, &[3i8, 4], &mut out);
        assert_eq!(out[0], 4);
        bilinear_int(&s, &ys, &xs, &[-128i8, 127], &mut out);
        // -0.5 -> -1.
        assert_eq!(out[0], -1);
        // Extrapolating weights (half_pixel_centers, v < 0) on a clamped pair still sum to 1.
        let xs = [IntTap {
            v: -293,
            lo: 0,
            hi: 0,
        }];
        bilinear_int(&s, &ys, &xs, &[-77i8, 0], &mut out);
        assert_eq!(out[0], -77);
    }

    #[test]
    fn float_taps_follow_the_reference() {
        let t = float_taps(3, 7, &opts(false, true)).unwrap();
        // (0 + .5) * 3/7 - .5 < 0: floor -1 -> 0, ceil -0 -> 0.
        assert_eq!((t[0].lo, t[0].hi), (0, 0));
        assert!(t[0].v < 0.0);
        let t = float_taps(3, 7, &opts(true, false)).unwrap();
        assert_eq!((t[6].lo, t[6].hi), (2, 2));
        assert_eq!(t[6].v, 2.0);
    }

    #[test]
    fn prepare_refuses_what_the_kernels_cannot_run() {
        use crate::model::Op;
        use crate::reference::test_support::{prepare_single, tensor};
        let size = |h: i32, w: i32| Some([h.to_le_bytes(), w.to_le_bytes()].concat());
        let build = |op: Op, size_data: Option<Vec<u8>>, out: &[i32]| {
            prepare_single(
                op,
                vec![
                    tensor(DType::F32, &[1, 3, 5, 2], None, None),
                    tensor(DType::I32, &[2], None, size_data),
                    tensor(DType::F32, out, None, None),
                ],
                2,
            )
        };
        // A run-time size.
        let e = build(Op::ResizeBilinear(opts(false, false)), None, &[1, 7, 9, 2]);
        assert!(matches!(e, Err(Error::Unsupported(_))), "{:?}", e.err());
        // Both flags.
        let e = build(
            Op::ResizeBilinear(opts(true, true)),
            size(7, 9),
            &[1, 7, 9, 2],
        );
        assert!(matches!(e, Err(Error::InvalidModel(_))));
        // Size and output shape disagree; non-positive size.
        let e = build(
            Op::ResizeNearestNeighbor(opts(false, false)),
            size(7, 8),
            &[1, 7, 9, 2],
        );
        assert!(matches!(e, Err(Error::InvalidModel(_))));
        let e = build(
            Op::ResizeNearestNeighbor(opts(false, false)),
            size(0, 9),
            &[1, 0, 9, 2],
        );
        assert!(matches!(e, Err(Error::InvalidModel(_))));
        // Odd sizes in every mode prepare and run.
        for (ac, hp) in [(false, false), (true, false), (false, true)] {
            for (h, w) in [(1, 1), (2, 11), (13, 3)] {
                for op in [
                    Op::ResizeBilinear(opts(ac, hp)),
                    Op::ResizeNearestNeighbor(opts(ac, hp)),
                ] {
                    let k = build(op, size(h, w), &[1, h, w, 2]).unwrap();
                    let x = Tensor::from_f32(&[1, 3, 5, 2], &[1.5; 30]).unwrap();
                    let mut out =
                        vec![Tensor::zeros(DType::F32, &[1, h as usize, w as usize, 2]).unwrap()];
                    k.run(&[Some(&x), None], &mut out).unwrap();
                    // A constant image stays constant.
                    for v in out[0].as_f32().unwrap() {
                        assert!((v - 1.5).abs() < 1e-6, "{ac} {hp} {h}x{w}: {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn int8_bilinear_of_a_constant_image_is_exact() {
        for o in [opts(false, false), opts(true, false), opts(false, true)] {
            for (in_h, out_h) in [(3, 7), (7, 3), (5, 5), (1, 4), (4, 1), (11, 13)] {
                let s = ResizeShape {
                    batches: 1,
                    in_h,
                    in_w: 1,
                    depth: 1,
                    out_h,
                    out_w: 1,
                };
                let ys = int_taps(in_h, out_h, &o).unwrap();
                let xs = int_taps(1, 1, &o).unwrap();
                for v in [-128i8, -1, 0, 1, 127] {
                    let input = vec![v; in_h];
                    let mut out = vec![0i8; out_h];
                    bilinear_int(&s, &ys, &xs, &input, &mut out);
                    assert!(
                        out.iter().all(|&q| q == v),
                        "{o:?} {in_h}->{out_h} {v}: {out:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn fixtures_match_litert_in_isolation() {
        use crate::reference::test_support::check_op;
        for f in [
            "resize_bilinear_f32",
            "resize_bilinear_int8",
            "resize_bilinear_align_f32",
            "resize_bilinear_align_int8",
            "resize_bilinear_half_f32",
            "resize_bilinear_half_int8",
            "resize_bilinear_half_down_f32",
            "resize_bilinear_half_down_int8",
        ] {
            assert!(check_op(f, "RESIZE_BILINEAR") > 0);
        }
        for f in [
            "resize_nearest_f32",
            "resize_nearest_int8",
            "resize_nearest_align_f32",
            "resize_nearest_align_int8",
            "resize_nearest_half_f32",
            "resize_nearest_half_int8",
        ] {
            assert!(check_op(f, "RESIZE_NEAREST_NEIGHBOR") > 0);
        }
    }
}
