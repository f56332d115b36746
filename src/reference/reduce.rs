//! MEAN.
//!
//! TFLite: `kernels/reduce.cc` (`PrepareMeanOrSum`, `EvalMean<kReference>`) and
//! `kernels/internal/reference/reduce.h` (`Mean`, `QuantizedMeanOrSum`).
//!
//! - float32 (`reference_ops::Mean<float, float>`): per output element, `Σ x` in `f32` in
//!   the input's row-major order, then `sum / (float)n` with `n` the number of reduced
//!   elements.
//! - int8 / uint8 / int16 (`reference_ops::QuantizedMeanOrSum<T, int32_t>`, every axis
//!   combination, with or without `keep_dims`; current TFLite has no separate H,W path in
//!   the reference kernel): `sum = Σ q` (raw values, wrapping `int32`); the multiplier
//!   `QuantizeMultiplier((double)s_in / (double)s_out)` is folded with `1/n` as
//!   `shift = min(floor(log2 n), 32, 31 + exponent)`,
//!   `m' = (int32)(((int64)m << shift) / n)`, `exponent' = exponent - shift`; then
//!   `MultiplyByQuantizedMultiplier((int32)(sum - zp_in·n), m', exponent') + zp_out`,
//!   clamped to the type's range.

use crate::model::DType;
use crate::quant::fixedpoint::{
    multiply_by_quantized_multiplier, quantize_multiplier, QuantizedMultiplier,
};
use crate::{Buf, Error, Result, Tensor};

use super::common::QInt;
use super::float_order::eigen_redux_sum;
use super::{dims, FloatOrder, Kernel, OpCtx};

/// `ResolveAxis`: negative axes wrap, duplicates drop, order of first appearance kept.
/// `None` for an axis out of range.
pub(crate) fn resolve_axes(rank: usize, axes: &[i32]) -> Option<Vec<usize>> {
    let mut out: Vec<usize> = Vec::new();
    if rank == 0 {
        return Some(out);
    }
    for &a in axes {
        let a = if a < 0 {
            a as i64 + rank as i64
        } else {
            a as i64
        };
        if a < 0 || a >= rank as i64 {
            return None;
        }
        let a = a as usize;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Some(out)
}

/// The output shape of a reduction (`GetOutputShape`).
pub(super) fn reduced_shape(in_shape: &[usize], axes: &[usize], keep_dims: bool) -> Vec<usize> {
    in_shape
        .iter()
        .enumerate()
        .filter_map(|(d, &n)| match (axes.contains(&d), keep_dims) {
            (true, true) => Some(1),
            (true, false) => None,
            (false, _) => Some(n),
        })
        .collect()
}

/// For each input element (row-major), the flat index of the output element it adds to
/// (`ReducedOutputOffset` with the reduced axes skipped).
#[cfg(test)]
fn output_index_map(in_shape: &[usize], axes: &[usize]) -> Vec<usize> {
    output_index_map_in(Vec::new(), in_shape, axes)
}

/// [`output_index_map`] written into `map` (emptied first; give it the capacity).
pub(super) fn output_index_map_in(
    mut map: Vec<usize>,
    in_shape: &[usize],
    axes: &[usize],
) -> Vec<usize> {
    map.clear();
    let rank = in_shape.len();
    // Strides of the output with reduced axes kept as size 1 (same flat order).
    let mut strides = vec![0usize; rank];
    let mut stride = 1;
    for d in (0..rank).rev() {
        if axes.contains(&d) {
            strides[d] = 0;
        } else {
            strides[d] = stride;
            stride *= in_shape[d];
        }
    }
    let n: usize = in_shape.iter().product();
    map.reserve_exact(n);
    let mut idx = vec![0usize; rank];
    for _ in 0..n {
        map.push(idx.iter().zip(&strides).map(|(i, s)| i * s).sum());
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < in_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    map
}

/// The requantization of `QuantizedMeanOrSum` with the `1/n` of the mean folded into the
/// multiplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MeanRequant {
    pub(crate) input_zero_point: i32,
    pub(crate) output_zero_point: i32,
    /// The folded multiplier and shift.
    pub(crate) multiplier: QuantizedMultiplier,
    /// Reduced elements per output element.
    pub(crate) count: i64,
}

impl MeanRequant {
    /// Fold `1/count` into `m` (from `QuantizeMultiplier(s_in / s_out)`).
    fn new(m: QuantizedMultiplier, count: i64, zp_in: i32, zp_out: i32) -> MeanRequant {
        let mut multiplier = m;
        if count > 0 {
            // 63 - CountLeadingZeros(n) = floor(log2 n).
            let mut shift = 63 - (count as u64).leading_zeros() as i32;
            shift = shift.min(32);
            shift = shift.min(31 + m.shift);
            let folded = (((m.multiplier as i64) << shift) / count) as i32;
            multiplier = QuantizedMultiplier {
                multiplier: folded,
                shift: m.shift - shift,
            };
        }
        MeanRequant {
            input_zero_point: zp_in,
            output_zero_point: zp_out,
            multiplier,
            count,
        }
    }

    /// One output value (before the clamp to the type's range) from a raw sum.
    #[inline]
    pub(super) fn apply(&self, sum: i32) -> i32 {
        let shifted = (sum as i64 - self.input_zero_point as i64 * self.count) as i32;
        multiply_by_quantized_multiplier(shifted, self.multiplier)
            .wrapping_add(self.output_zero_point)
    }
}

pub(crate) struct Mean {
    /// Output element of each input element.
    pub(crate) map: Vec<usize>,
    pub(crate) n_out: usize,
    /// Reduced elements per output element.
    pub(crate) count: usize,
    /// `None` for float32.
    pub(crate) requant: Option<MeanRequant>,
    /// Float32 in the converter's order over `[outer, n]` rows ([`FloatOrder::Converter`],
    /// a last-dimensions reduction): `(outer, n)`.
    pub(crate) eigen_rows: Option<(usize, usize)>,
}

impl Mean {
    fn run_f32(&self, input: &[f32], out: &mut [f32]) {
        if let Some((outer, n)) = self.eigen_rows {
            for (o, y) in out.iter_mut().enumerate().take(outer) {
                let row = &input[o * n..(o + 1) * n];
                *y = eigen_redux_sum(row, (o * n) % 8) / n as f32;
            }
            return;
        }
        let mut sum = vec![0.0f32; self.n_out];
        for (x, &o) in input.iter().zip(&self.map) {
            sum[o] += *x;
        }
        if self.count > 0 {
            let n = self.count as f32;
            for (y, s) in out.iter_mut().zip(&sum) {
                *y = s / n;
            }
        } else {
            // Empty input: InitializeMeanOutput writes NaN.
            out.fill(f32::NAN);
        }
    }

    fn run_int<T: QInt>(&self, r: &MeanRequant, input: &[T], out: &mut [T]) {
        let mut sum = vec![0i32; self.n_out];
        for (x, &o) in input.iter().zip(&self.map) {
            sum[o] = sum[o].wrapping_add(x.to_i32());
        }
        if self.count == 0 {
            // Empty input: the integer "quiet NaN" is 0.
            out.fill(T::from_i32(0));
            return;
        }
        for (y, &s) in out.iter_mut().zip(&sum) {
            *y = T::from_i32(r.apply(s).clamp(T::MIN, T::MAX));
        }
    }
}

impl Kernel for Mean {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let input = inputs
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| Error::Shape("MEAN: input 0 is missing".into()))?;
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape("MEAN: output 0 is missing".into()))?;
        if input.len() != self.map.len() || out.len() != self.n_out {
            return Err(Error::Shape(format!(
                "MEAN: input {:?} / output {:?} do not match the prepared shapes",
                input.shape(),
                out.shape()
            )));
        }
        match (&self.requant, input.buf(), out.buf_mut()) {
            (None, Buf::F32(i), Buf::F32(o)) => self.run_f32(i, o),
            (Some(r), Buf::I8(i), Buf::I8(o)) => self.run_int(r, i, o),
            (Some(r), Buf::U8(i), Buf::U8(o)) => self.run_int(r, i, o),
            (Some(r), Buf::I16(i), Buf::I16(o)) => self.run_int(r, i, o),
            (_, i, o) => {
                return Err(Error::Shape(format!(
                    "MEAN: prepared for other dtypes than {} -> {}",
                    i.dtype(),
                    o.dtype()
                )))
            }
        }
        Ok(())
    }
}

/// What every reduction (MEAN, SUM, REDUCE_MAX/MIN/PROD) checks and computes at prepare:
/// equal input and output dtypes, a constant INT32 axis tensor within the rank, the output
/// shape the reduction gives, and the input-to-output index map (charged to the budget).
pub(super) struct Reduction<'a> {
    pub input: &'a crate::model::Tensor,
    pub output: &'a crate::model::Tensor,
    pub in_shape: Vec<usize>,
    pub out_shape: Vec<usize>,
    pub axes: Vec<usize>,
    /// Input elements per output.
    pub count: usize,
    /// Input elements (`None` on overflow).
    pub n_in: Option<usize>,
    pub map: Vec<usize>,
    pub n_out: usize,
}

impl<'a> Reduction<'a> {
    pub(super) fn prepare(ctx: &OpCtx<'a>, keep_dims: bool) -> Result<Self> {
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
        Ok(Reduction {
            input,
            output,
            in_shape,
            out_shape,
            axes,
            count,
            n_in,
            map,
            n_out,
        })
    }
}

pub(super) fn prepare_mean(ctx: &OpCtx, keep_dims: bool) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("MEAN takes an input and an axis tensor, and one output"));
    }
    let Reduction {
        input,
        output,
        in_shape,
        out_shape: _,
        axes,
        count,
        n_in: _,
        map,
        n_out,
    } = Reduction::prepare(ctx, keep_dims)?;
    let requant = match input.dtype {
        DType::F32 => None,
        DType::I8 | DType::U8 | DType::I16 => {
            let (s_in, zp_in) = ctx.per_tensor(input)?;
            let (s_out, zp_out) = ctx.per_tensor(output)?;
            if input.dtype == DType::I16 && (zp_in != 0 || zp_out != 0) {
                return Err(ctx.unsupported("int16 MEAN needs zero points 0"));
            }
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
            Some(MeanRequant::new(m, count as i64, zp_in, zp_out))
        }
        other => return Err(ctx.unsupported(format!("dtype {other}"))),
    };
    let eigen_rows = (input.dtype == DType::F32 && ctx.float_order == FloatOrder::Converter)
        .then(|| last_dims_rows(&in_shape, &axes))
        .flatten();
    Ok(Box::new(Mean {
        map,
        n_out,
        count,
        requant,
        eigen_rows,
    }))
}

/// `(outer, n)` when TFLite's optimized float MEAN takes its last-dimension path: with the
/// size-1 dimensions dropped, the reduced dimensions are a non-empty suffix and at least one
/// dimension is not reduced (`reduce_utils::ResolveAxis` then gives `[outer, n]`).
fn last_dims_rows(shape: &[usize], axes: &[usize]) -> Option<(usize, usize)> {
    let kept: Vec<(usize, bool)> = shape
        .iter()
        .enumerate()
        .filter(|&(_, &d)| d != 1)
        .map(|(i, &d)| (d, axes.contains(&i)))
        .collect();
    let first_reduced = kept.iter().position(|&(_, r)| r)?;
    if first_reduced == 0 || !kept[first_reduced..].iter().all(|&(_, r)| r) {
        return None;
    }
    let outer = kept[..first_reduced].iter().map(|&(d, _)| d).product();
    let n = kept[first_reduced..].iter().map(|&(d, _)| d).product();
    Some((outer, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_resolve_like_tflite() {
        assert_eq!(resolve_axes(4, &[1, 2]), Some(vec![1, 2]));
        assert_eq!(resolve_axes(4, &[-1]), Some(vec![3]));
        assert_eq!(resolve_axes(4, &[2, -2, 1]), Some(vec![2, 1]));
        assert_eq!(resolve_axes(3, &[3]), None);
        assert_eq!(resolve_axes(3, &[-4]), None);
        assert_eq!(resolve_axes(0, &[0]), Some(vec![]));
    }

    #[test]
    fn shapes_and_maps() {
        assert_eq!(
            reduced_shape(&[1, 5, 7, 3], &[1, 2], true),
            vec![1, 1, 1, 3]
        );
        assert_eq!(reduced_shape(&[1, 5, 7, 3], &[2, 1], false), vec![1, 3]);
        assert_eq!(reduced_shape(&[1, 4, 6], &[2], true), vec![1, 4, 1]);
        assert_eq!(output_index_map(&[2, 3], &[1]), vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(output_index_map(&[2, 3], &[0]), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(
            output_index_map(&[2, 2, 2], &[0, 2]),
            vec![0, 0, 1, 1, 0, 0, 1, 1]
        );
    }

    #[test]
    fn folded_multiplier() {
        // s_in / s_out = 1, n = 35: m = 2^30, shift 1 -> fold shift 5:
        // m' = (2^30 << 5) / 35, shift' = 1 - 5.
        let m = quantize_multiplier(1.0);
        let r = MeanRequant::new(m, 35, 0, 0);
        assert_eq!(r.multiplier.shift, -4);
        assert_eq!(r.multiplier.multiplier, (((1i64 << 30) << 5) / 35) as i32);
        // Mean of 35 copies of 100 with equal scales is 100.
        assert_eq!(r.apply(3500), 100);
        // Mean of 35 copies of -7: rounding keeps it exact.
        assert_eq!(r.apply(-245), -7);
        // n = 1 leaves the multiplier alone.
        assert_eq!(MeanRequant::new(m, 1, 3, -2).multiplier, m);
        // Zero points: sum of 4 values 10 with zp_in 10 -> 0 + zp_out.
        let r = MeanRequant::new(m, 4, 10, -5);
        assert_eq!(r.apply(40), -5);
        // The shift clamp: a tiny multiplier (exponent -31) cannot fold more than 0 bits.
        let tiny = QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: -31,
        };
        let r = MeanRequant::new(tiny, 1 << 20, 0, 0);
        assert_eq!(r.multiplier.shift, -31);
        assert_eq!(r.multiplier.multiplier, (1 << 30) >> 20);
        // Large counts fold at most 32 bits.
        let r = MeanRequant::new(m, 1i64 << 40, 0, 0);
        assert_eq!(r.multiplier.shift, 1 - 32);
        assert_eq!(r.multiplier.multiplier, (((1i64 << 30) << 32) >> 40) as i32);
    }

    /// The converter's float MEAN path: which reductions take it, and Eigen's summation.
    #[test]
    fn last_dimension_means_sum_like_eigen() {
        assert_eq!(last_dims_rows(&[1, 4, 8], &[2]), Some((4, 8)));
        assert_eq!(last_dims_rows(&[2, 3, 1, 5], &[1, 3]), Some((2, 15)));
        assert_eq!(last_dims_rows(&[1, 1, 8], &[2]), None); // one dimension left
        assert_eq!(last_dims_rows(&[1, 5, 7, 3], &[1, 2]), None); // not a suffix
                                                                  // One aligned packet: predux8 = ((x0+x4)+(x2+x6)) + ((x1+x5)+(x3+x7)).
        let x = [1e8f32, 1.0, -1e8, 1.0, 1.0, 1.0, 1.0, 1.0];
        let want = ((x[0] + x[4]) + (x[2] + x[6])) + ((x[1] + x[5]) + (x[3] + x[7]));
        assert_eq!(eigen_redux_sum(&x, 0), want);
        // Too short for a packet: in order.
        assert_eq!(eigen_redux_sum(&[1e8, 1.0, -1e8], 0), (1e8f32 + 1.0) - 1e8);
        // Misaligned by 4 floats with 12 elements: the head of 4 is added after the packet.
        let y: Vec<f32> = (0..12).map(|i| 1.0 + i as f32 * 1e-3).collect();
        let p = std::array::from_fn::<f32, 8, _>(|k| y[4 + k]);
        let head = y[..4].iter().fold(predux8_for_test(p), |a, v| a + v);
        assert_eq!(eigen_redux_sum(&y, 4), head);
    }

    fn predux8_for_test(c: [f32; 8]) -> f32 {
        ((c[0] + c[4]) + (c[2] + c[6])) + ((c[1] + c[5]) + (c[3] + c[7]))
    }

    #[test]
    fn integer_mean_clamps_and_wraps_like_the_reference() {
        let m = quantize_multiplier(4.0);
        let k = Mean {
            map: vec![0, 0, 1, 1],
            n_out: 2,
            count: 2,
            requant: Some(MeanRequant::new(m, 2, 0, 0)),
            eigen_rows: None,
        };
        let mut out = [0i8; 2];
        k.run_int(k.requant.as_ref().unwrap(), &[100i8, 100, -3, -4], &mut out);
        // 4 * 100 saturates to 127; 4 * -3.5 = -14.
        assert_eq!(out, [127, -14]);
    }

    fn axis_bytes(axes: &[i32]) -> Vec<u8> {
        axes.iter().flat_map(|a| a.to_le_bytes()).collect()
    }

    #[test]
    fn prepare_refuses_what_the_kernel_cannot_run() {
        use crate::reference::test_support::{prepare_single, tensor};
        let op = || crate::model::Op::Mean { keep_dims: false };
        let q = |s, z| Some((s, z));
        // A run-time axis.
        let e = prepare_single(
            op(),
            vec![
                tensor(DType::F32, &[2, 3], None, None),
                tensor(DType::I32, &[1], None, None),
                tensor(DType::F32, &[2], None, None),
            ],
            2,
        );
        assert!(matches!(e, Err(Error::Unsupported(_))), "{:?}", e.err());
        // An axis out of range; an output shape that does not match.
        for (axes, out) in [(vec![2], vec![2]), (vec![1], vec![3])] {
            let e = prepare_single(
                op(),
                vec![
                    tensor(DType::F32, &[2, 3], None, None),
                    tensor(DType::I32, &[1], None, Some(axis_bytes(&axes))),
                    tensor(DType::F32, &out, None, None),
                ],
                2,
            );
            assert!(matches!(e, Err(Error::InvalidModel(_))), "{:?}", e.err());
        }
        // int16 with a zero point.
        let e = prepare_single(
            op(),
            vec![
                tensor(DType::I16, &[2, 3], q(0.1, 1), None),
                tensor(DType::I32, &[1], None, Some(axis_bytes(&[-1]))),
                tensor(DType::I16, &[2], q(0.1, 0), None),
            ],
            2,
        );
        assert!(matches!(e, Err(Error::Unsupported(_))));
    }

    /// Odd sizes and unequal scales through prepare: every output within one step of the
    /// real mean requantized, and exactly the steps of the reference formula.
    #[test]
    fn int8_mean_over_odd_axes_tracks_the_real_mean() {
        use crate::reference::test_support::{prepare_single, tensor};
        let (s_in, zp_in, s_out, zp_out) = (0.0173f32, -7i32, 0.0091f32, 5i32);
        let shape = [3usize, 5, 7];
        for (axes, keep) in [(vec![1], false), (vec![0, 2], true), (vec![-1, 0], false)] {
            let resolved = resolve_axes(3, &axes).unwrap();
            let out_shape = reduced_shape(&shape, &resolved, keep);
            let out_i32: Vec<i32> = out_shape.iter().map(|&d| d as i32).collect();
            let k = prepare_single(
                crate::model::Op::Mean { keep_dims: keep },
                vec![
                    tensor(DType::I8, &[3, 5, 7], Some((s_in, zp_in as i64)), None),
                    tensor(
                        DType::I32,
                        &[axes.len() as i32],
                        None,
                        Some(axis_bytes(&axes)),
                    ),
                    tensor(DType::I8, &out_i32, Some((s_out, zp_out as i64)), None),
                ],
                2,
            )
            .unwrap();
            let data: Vec<i8> = (0..105)
                .map(|i| ((i * 37 + 11) % 256 - 128) as i8)
                .collect();
            let x = Tensor::from_i8(&shape, &data).unwrap();
            let mut out = vec![Tensor::zeros(DType::I8, &out_shape).unwrap()];
            k.run(&[Some(&x), None], &mut out).unwrap();
            let got = out[0].as_i8().unwrap();
            let map = output_index_map(&shape, &resolved);
            let n_out = got.len();
            let count = (105 / n_out) as f64;
            let mut real = vec![0f64; n_out];
            for (v, &o) in data.iter().zip(&map) {
                real[o] += (*v as i32 - zp_in) as f64 * s_in as f64 / count;
            }
            for (g, r) in got.iter().zip(&real) {
                let want = (r / s_out as f64).round() + zp_out as f64;
                let want = want.clamp(-128.0, 127.0);
                assert!(
                    (*g as f64 - want).abs() <= 1.0,
                    "{axes:?}: got {g}, real {want}"
                );
            }
        }
    }

    #[test]
    fn fixtures_match_litert_in_isolation() {
        for f in [
            "mean_hw_keepdims_f32",
            "mean_hw_keepdims_int8",
            "mean_hw_f32",
            "mean_hw_int8",
            "mean_last_f32",
            "mean_last_int8",
            "mean_last_keepdims_f32",
            "mean_last_keepdims_int8",
        ] {
            assert!(crate::reference::test_support::check_op(f, "MEAN") > 0);
        }
    }
}
