//! RESIZE_BILINEAR: `ResizeBilinear<T>` (float32, uint8) and `ResizeBilinearInteger<T>`
//! (int8, int16), with every source index and weight computed at prepare.

use crate::model::{DType, ResizeOptions};
use crate::{Buf, Result, Tensor};

use super::super::{Kernel, OpCtx};
use super::{dtype_error, float_scale, io, prepare_shape, ResizeShape};

/// `ComputeInterpolationValues` (float): source coordinate, lower and upper index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FloatTap {
    pub(crate) v: f32,
    pub(crate) lo: usize,
    pub(crate) hi: usize,
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
pub(crate) struct IntTap {
    pub(crate) v: i32,
    pub(crate) lo: usize,
    pub(crate) hi: usize,
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

pub(crate) enum BilinearTaps {
    /// float32 and uint8.
    Float {
        ys: Vec<FloatTap>,
        xs: Vec<FloatTap>,
    },
    /// int8 and int16.
    Int { ys: Vec<IntTap>, xs: Vec<IntTap> },
}

pub(crate) struct Bilinear {
    pub(crate) shape: ResizeShape,
    pub(crate) taps: BilinearTaps,
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
    let mut o = 0;
    for b in 0..s.batches {
        for ty in ys {
            let dy = ty.v - ty.lo as f32;
            for tx in xs {
                let dx = tx.v - tx.lo as f32;
                for c in 0..s.depth {
                    let v = input[s.in_index(b, ty.lo, tx.lo, c)].widen() * (1.0 - dy) * (1.0 - dx)
                        + input[s.in_index(b, ty.hi, tx.lo, c)].widen() * dy * (1.0 - dx)
                        + input[s.in_index(b, ty.lo, tx.hi, c)].widen() * (1.0 - dy) * dx
                        + input[s.in_index(b, ty.hi, tx.hi, c)].widen() * dy * dx
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
                    let ll = input[s.in_index(b, ty.lo, tx.lo, c)].widen() * wy0 * wx0;
                    let lu = input[s.in_index(b, ty.hi, tx.lo, c)].widen() * wy1 * wx0;
                    let rl = input[s.in_index(b, ty.lo, tx.hi, c)].widen() * wy0 * wx1;
                    let ru = input[s.in_index(b, ty.hi, tx.hi, c)].widen() * wy1 * wx1;
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

pub(crate) fn prepare_bilinear(ctx: &OpCtx, o: &ResizeOptions) -> Result<Box<dyn Kernel>> {
    let shape = prepare_shape(ctx)?;
    if o.half_pixel_centers && o.align_corners {
        return Err(ctx.invalid("half_pixel_centers and align_corners cannot both be set"));
    }
    let dtype = ctx.input(0)?.dtype;
    let bad = || {
        ctx.unsupported(format!(
            "resizing {}x{} to {}x{}: a source index falls outside the input, where LiteRT's \
             kernel (for int8/int16 ResizeBilinearInteger's 10-bit scale, \
             reference_ops.h) reads past the input row: undefined behaviour, not a result \
             litequant can reproduce",
            shape.in_h, shape.in_w, shape.out_h, shape.out_w
        ))
    };
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

#[cfg(test)]
mod tests {
    use super::super::tests::opts;
    use super::*;

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
}
