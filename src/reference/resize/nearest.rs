//! RESIZE_NEAREST_NEIGHBOR: `GetNearestNeighbor` per output row and column, computed at
//! prepare; whole depth vectors are copied.

use crate::model::{DType, ResizeOptions};
use crate::{Buf, Result, Tensor};

use super::super::{Kernel, OpCtx};
use super::{dtype_error, float_scale, io, prepare_shape, ResizeShape};

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

pub(crate) struct Nearest {
    pub(crate) shape: ResizeShape,
    pub(crate) ys: Vec<usize>,
    pub(crate) xs: Vec<usize>,
}

fn nearest<T: Copy>(n: &Nearest, input: &[T], out: &mut [T]) {
    let s = &n.shape;
    let d = s.depth;
    let mut o = 0;
    for b in 0..s.batches {
        for &y in &n.ys {
            for &x in &n.xs {
                let start = s.in_index(b, y, x, 0);
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

pub(crate) fn prepare_nearest(ctx: &OpCtx, o: &ResizeOptions) -> Result<Box<dyn Kernel>> {
    let shape = prepare_shape(ctx)?;
    match ctx.input(0)?.dtype {
        DType::F32 | DType::I8 | DType::U8 | DType::I16 => {}
        other => return Err(ctx.unsupported(format!("dtype {other}"))),
    }
    let ys = nearest_indices(shape.in_h, shape.out_h, o);
    let xs = nearest_indices(shape.in_w, shape.out_w, o);
    Ok(Box::new(Nearest { shape, ys, xs }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::opts;
    use super::*;

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
}
