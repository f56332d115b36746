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

use crate::model::DType;
use crate::{Buf, Error, Result, Tensor};

pub(crate) mod bilinear;
pub(crate) mod nearest;

pub(super) use bilinear::prepare_bilinear;
pub(super) use nearest::prepare_nearest;

use super::{dims, OpCtx};

/// What resize ops share at prepare: shapes and the checked constant size.
pub(crate) struct ResizeShape {
    pub batches: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub depth: usize,
    pub out_h: usize,
    pub out_w: usize,
}

pub(super) fn prepare_shape(ctx: &OpCtx) -> Result<ResizeShape> {
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

impl ResizeShape {
    /// Flat NHWC offset of input element `(b, y, x, c)`.
    #[inline]
    pub fn in_index(&self, b: usize, y: usize, x: usize, c: usize) -> usize {
        ((b * self.in_h + y) * self.in_w + x) * self.depth + c
    }
}

/// The float scale of one axis.
pub(super) fn float_scale(in_size: usize, out_size: usize, align_corners: bool) -> f32 {
    if align_corners && out_size > 1 {
        (in_size - 1) as f32 / (out_size - 1) as f32
    } else {
        in_size as f32 / out_size as f32
    }
}

// ---------------------------------------------------------------------------------------

/// The input and output of a resize kernel, checked against the prepared shapes.
pub(super) fn io<'a, 'b>(
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

pub(super) fn dtype_error(op: &str, i: &Buf, o: &Buf) -> Error {
    Error::Shape(format!(
        "{op}: prepared for other dtypes than {} -> {}",
        i.dtype(),
        o.dtype()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DType, Op, ResizeOptions};
    use crate::reference::test_support::{check_op, prepare_single, tensor};
    use crate::Tensor;

    pub(crate) fn opts(align_corners: bool, half_pixel_centers: bool) -> ResizeOptions {
        ResizeOptions {
            align_corners,
            half_pixel_centers,
        }
    }

    #[test]
    fn prepare_refuses_what_the_kernels_cannot_run() {
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
    fn fixtures_match_litert_in_isolation() {
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
