//! What every kernel family shares: the prepare context, quantization parameter access,
//! fused activation ranges, padding and broadcasting — each as TFLite computes it.

use crate::model::{self, Activation, DType, Operator, Padding, Subgraph};
use crate::quant::fixedpoint::{multiply_by_quantized_multiplier, QuantizedMultiplier};
use crate::{Error, Result, Tensor};

/// Everything a kernel's `prepare` may look at.
pub(crate) struct OpCtx<'a> {
    pub index: usize,
    pub op: &'a Operator,
    pub sg: &'a Subgraph,
    /// Decoded constant values by tensor index.
    pub consts: &'a [Option<Tensor>],
    /// The summation order of the float32 kernels.
    pub float_order: super::FloatOrder,
    /// The memory budget tables sized by shapes are charged to ([`OpCtx::vec`]).
    pub budget: &'a crate::memory::Budget,
}

impl<'a> OpCtx<'a> {
    /// `operator 3 (CONV_2D)`.
    pub fn label(&self) -> String {
        super::op_label(self.index, self.op)
    }

    fn dtypes(&self, list: &[i32]) -> String {
        let v: Vec<String> = list
            .iter()
            .map(|&t| match usize::try_from(t) {
                Ok(t) => self.sg.tensors[t].dtype.name(),
                Err(_) => "-".into(),
            })
            .collect();
        v.join(", ")
    }

    /// An "unsupported" error naming the op, its index and its dtypes.
    pub fn unsupported(&self, why: impl std::fmt::Display) -> Error {
        Error::Unsupported(format!(
            "{} with inputs [{}] and outputs [{}]: {why}",
            self.label(),
            self.dtypes(&self.op.inputs),
            self.dtypes(&self.op.outputs)
        ))
    }

    /// [`broadcast_map`], its table charged to the memory budget and allocated fallibly;
    /// `Ok(None)` if the shapes do not broadcast.
    pub fn broadcast_map(
        &self,
        in_shape: &[usize],
        out_shape: &[usize],
    ) -> Result<Option<Vec<usize>>> {
        let n = out_shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let map = self.budget.with_capacity(n.unwrap_or(usize::MAX), || {
            format!(
                "{}: the broadcast index map of {in_shape:?} to {out_shape:?}",
                self.label()
            )
        })?;
        Ok(broadcast_map_in(map, in_shape, out_shape))
    }

    /// An error about a malformed op (wrong input count, shape mismatch).
    pub fn invalid(&self, why: impl std::fmt::Display) -> Error {
        Error::InvalidModel(format!("{}: {why}", self.label()))
    }

    pub fn num_inputs(&self) -> usize {
        self.op.inputs.len()
    }

    /// Input `i`, which must be present.
    pub fn input(&self, i: usize) -> Result<&'a model::Tensor> {
        self.op
            .input(i)
            .map(|t| &self.sg.tensors[t])
            .ok_or_else(|| self.invalid(format!("input {i} is missing")))
    }

    /// Input `i`, or `None` if absent or omitted.
    pub fn opt_input(&self, i: usize) -> Option<&'a model::Tensor> {
        self.op.input(i).map(|t| &self.sg.tensors[t])
    }

    /// Output `i`, which must be present.
    pub fn output(&self, i: usize) -> Result<&'a model::Tensor> {
        self.op
            .outputs
            .get(i)
            .and_then(|&t| usize::try_from(t).ok())
            .map(|t| &self.sg.tensors[t])
            .ok_or_else(|| self.invalid(format!("output {i} is missing")))
    }

    /// The constant value of input `i`, if it is a constant.
    pub fn const_input(&self, i: usize) -> Option<&'a Tensor> {
        self.op.input(i).and_then(|t| self.consts[t].as_ref())
    }

    /// The constant value of input `i`, required.
    pub fn require_const(&self, i: usize, what: &str) -> Result<&'a Tensor> {
        self.const_input(i)
            .ok_or_else(|| self.unsupported(format!("{what} (input {i}) must be a constant")))
    }

    /// Per-tensor (scale, zero point) of a tensor, required.
    pub fn per_tensor(&self, t: &model::Tensor) -> Result<(f32, i32)> {
        match &t.quant {
            Some(q) if q.scale.len() == 1 => Ok((
                q.scale[0],
                q.zero_point.first().copied().unwrap_or(0) as i32,
            )),
            _ => Err(self.unsupported(format!(
                "tensor '{}' needs per-tensor quantization parameters",
                t.name
            ))),
        }
    }
}

/// The static shape of a tensor.
pub(crate) fn shape_of(t: &model::Tensor) -> Vec<usize> {
    super::dims(t)
}

/// `[qmin, qmax]` of an integer dtype.
pub(crate) fn qrange(dtype: DType) -> Option<(i32, i32)> {
    match dtype {
        DType::I8 => Some((-128, 127)),
        DType::U8 => Some((0, 255)),
        DType::I16 => Some((-32768, 32767)),
        _ => None,
    }
}

/// The integer element types the quantized kernels read and write, widened to `i32` as
/// TFLite's kernels do.
pub(crate) trait QInt: Copy {
    const MIN: i32;
    const MAX: i32;
    fn to_i32(self) -> i32;
    /// Truncating conversion (C++'s `static_cast` to the narrower type); kernels clamp to
    /// `[MIN, MAX]` first wherever TFLite does.
    fn from_i32(v: i32) -> Self;
}

macro_rules! qint {
    ($t:ty) => {
        impl QInt for $t {
            const MIN: i32 = <$t>::MIN as i32;
            const MAX: i32 = <$t>::MAX as i32;
            #[inline]
            fn to_i32(self) -> i32 {
                self as i32
            }
            #[inline]
            fn from_i32(v: i32) -> Self {
                v as $t
            }
        }
    };
}
qint!(i8);
qint!(u8);
qint!(i16);
qint!(i32);

/// `CalculateActivationRangeQuantized`: the fused activation's clamp in the output's
/// quantized domain (`zp + round(f / scale)` with `f / scale` in float).
pub(crate) fn quantized_activation_range(
    act: Activation,
    dtype: DType,
    scale: f32,
    zero_point: i32,
) -> Option<(i32, i32)> {
    let (qmin, qmax) = qrange(dtype)?;
    // Wrapping as LiteRT's int32 sum compiles (a zero point far outside the type plus a
    // large quotient overflows; a fuzz find).
    let q = |f: f32| zero_point.wrapping_add((f / scale).round() as i32);
    Some(match act {
        Activation::None => (qmin, qmax),
        Activation::Relu => (qmin.max(q(0.0)), qmax),
        Activation::Relu6 => (qmin.max(q(0.0)), qmax.min(q(6.0))),
        Activation::ReluN1To1 => (qmin.max(q(-1.0)), qmax.min(q(1.0))),
        _ => return None,
    })
}

/// `CalculateActivationRange` for float kernels.
pub(crate) fn float_activation_range(act: Activation) -> Option<(f32, f32)> {
    Some(match act {
        Activation::None => (f32::MIN, f32::MAX),
        Activation::Relu => (0.0, f32::MAX),
        Activation::Relu6 => (0.0, 6.0),
        Activation::ReluN1To1 => (-1.0, 1.0),
        _ => return None,
    })
}

/// `ActivationFunctionWithMinMax` for floats: `min(max(x, lo), hi)`.
#[inline]
pub(crate) fn clamp_f32(x: f32, lo: f32, hi: f32) -> f32 {
    x.max(lo).min(hi)
}

/// `ActivationFunctionWithMinMax` as C++ computes it: `std::min(std::max(x, lo), hi)`
/// (a NaN passes through, unlike [`clamp_f32`]).
#[inline]
pub(crate) fn clamp_like_cpp(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x < lo { lo } else { x };
    if hi < x {
        hi
    } else {
        x
    }
}

/// Output size and padding of one spatial dimension (`ComputeOutSize`,
/// `ComputePaddingWithOffset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PadDim {
    pub out: usize,
    /// Padding before (top/left).
    pub before: i32,
    /// The extra padding after when the total is odd.
    pub offset: i32,
}

pub(crate) fn compute_padding(
    padding: Padding,
    in_size: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
) -> Option<PadDim> {
    if stride == 0 || dilation == 0 || filter == 0 {
        return None;
    }
    let effective = (filter - 1) * dilation + 1;
    let out = match padding {
        Padding::Same => in_size.div_ceil(stride),
        Padding::Valid => (in_size + stride).checked_sub(effective)? / stride,
        Padding::Other(_) => return None,
    };
    let total = ((out as i64 - 1) * stride as i64 + effective as i64 - in_size as i64).max(0);
    Some(PadDim {
        out,
        before: (total / 2) as i32,
        offset: (total % 2) as i32,
    })
}

/// For each element of `out_shape` (row-major), the flat index of the element of
/// `in_shape` it reads under numpy broadcasting (`in_shape` right-aligned; size-1 dims
/// repeat). `None` if the shapes do not broadcast.
#[cfg(test)]
pub(crate) fn broadcast_map(in_shape: &[usize], out_shape: &[usize]) -> Option<Vec<usize>> {
    broadcast_map_in(Vec::new(), in_shape, out_shape)
}

/// [`broadcast_map`] written into `map` (emptied first; give it the capacity).
fn broadcast_map_in(
    mut map: Vec<usize>,
    in_shape: &[usize],
    out_shape: &[usize],
) -> Option<Vec<usize>> {
    map.clear();
    let rank = out_shape.len();
    if in_shape.len() > rank {
        return None;
    }
    let pad = rank - in_shape.len();
    let mut in_strides = vec![0usize; rank];
    let mut stride = 1;
    for d in (0..rank).rev() {
        let dim = if d >= pad { in_shape[d - pad] } else { 1 };
        if dim != 1 && dim != out_shape[d] {
            return None;
        }
        in_strides[d] = if dim == 1 { 0 } else { stride };
        stride *= dim;
    }
    let n: usize = out_shape.iter().product();
    map.reserve_exact(n);
    let mut idx = vec![0usize; rank];
    for _ in 0..n {
        map.push(idx.iter().zip(&in_strides).map(|(i, s)| i * s).sum());
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Some(map)
}

/// The broadcast shape of two shapes (`None` if incompatible): the rule shape propagation
/// uses ([`model::Tensor::broadcast_shape`]).
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    model::Tensor::broadcast_shape(a, b)
}

/// Saturating cast of an accumulator to an output dtype after clamping.
#[inline]
pub(crate) fn clamp_i32(x: i32, lo: i32, hi: i32) -> i32 {
    x.max(lo).min(hi)
}

/// The integer epilogue of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, as data (one
/// description for both engines): `acc + bias[c]` → `MultiplyByQuantizedMultiplier` with
/// channel `c`'s multiplier → `+ output zero point` → clamp to the fused activation range.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Epilogue {
    /// Per output channel (zeros when the op has no bias).
    pub bias: Vec<i32>,
    /// Per output channel (the same value repeated for per-tensor quantization).
    pub multipliers: Vec<QuantizedMultiplier>,
    pub output_zero_point: i32,
    pub act_min: i32,
    pub act_max: i32,
}

impl Epilogue {
    #[inline]
    pub fn apply(&self, acc: i32, channel: usize) -> i32 {
        let acc = acc.wrapping_add(self.bias[channel]);
        let acc = multiply_by_quantized_multiplier(acc, self.multipliers[channel]);
        let acc = acc.wrapping_add(self.output_zero_point);
        clamp_i32(acc, self.act_min, self.act_max)
    }
}

// ---------------------------------------------------------------------------------------
// Hybrid (dynamic-range) input quantization — appended by the conv family; shared with the
// hybrid FULLY_CONNECTED / BATCH_MATMUL kernels. TFLite's `tensor_utils::
// {Symmetric,Asymmetric}QuantizeFloats`, which x86-64 builds of LiteRT take from
// `kernels/internal/optimized/neon_tensor_utils.cc` (NEON code through NEON_2_SSE, as for
// HARD_SWISH), not from the portable versions: the two differ where `x * inv` lies next to a
// half (the portable asymmetric one rounds `zp + x * inv`, the NEON one `x * inv`, then adds
// `zp`), and in the asymmetric range (`rmax - rmin` in float). Established against LiteRT
// 2.3's BUILTIN_REF on a MobileNetV2 quantized by ai-edge-quantizer's `dynamic_wi8_afp32`.
// ---------------------------------------------------------------------------------------

/// `std::minmax_element` over non-empty `values`: the first smallest and the last largest.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn min_max(values: &[f32]) -> (f32, f32) {
    // std::minmax_element with `<`: the first smallest and the last largest; a NaN lands
    // where the C++ comparisons put it.
    let (mut lo, mut hi) = (values[0], values[0]);
    for &v in &values[1..] {
        if v < lo {
            lo = v;
        }
        if !(v < hi) {
            hi = v;
        }
    }
    (lo, hi)
}

/// x86's float-to-int32 conversion (`cvttss2si`, `_mm_cvttps_epi32`, and so C++'s
/// `static_cast<int32_t>` there): truncation, with NaN and values out of range giving
/// `i32::MIN`.
pub(crate) fn cvtt_i32(x: f32) -> i32 {
    if x.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&x) {
        i32::MIN
    } else {
        x as i32
    }
}

/// `RoundToNearest` of `neon_tensor_utils.cc` without `vcvtaq` (NEON_2_SSE): `x ± 0.5` in
/// float (the sign of `x < 0`), then truncated.
pub(crate) fn neon_round(x: f32) -> i32 {
    let half = if x < 0.0 { -0.5f32 } else { 0.5 };
    cvtt_i32(x + half)
}

/// How many leading elements of a row the NEON quantizers handle in vectors of eight (the rest
/// go one at a time with `TfLiteRound`).
pub(crate) fn neon_block(len: usize) -> usize {
    len & !7
}

/// `NeonSymmetricQuantizeFloats`: `range = max(|min|, |max|)`, `inv = 127 / range` (float);
/// element `i` is `neon_round(x * inv)` in the vector part, `round(inv * x)` after it, clamped
/// to ±127. Returns the scaling factor `range / 127` (1 when the range is 0, every `q` then 0).
pub(crate) fn symmetric_quantize_floats(values: &[f32], quantized: &mut [i8]) -> f32 {
    debug_assert_eq!(values.len(), quantized.len());
    if values.is_empty() {
        return 1.0;
    }
    let (min, max) = min_max(values);
    let range = min.abs().max(max.abs());
    if range == 0.0 {
        quantized.fill(0);
        return 1.0;
    }
    let scaling_factor = range / 127.0;
    let inv = 127.0 / range;
    let block = neon_block(values.len());
    for (i, (q, &v)) in quantized.iter_mut().zip(values).enumerate() {
        let r = if i < block {
            neon_round(v * inv)
        } else {
            cvtt_i32((inv * v).round())
        };
        *q = r.clamp(-127, 127) as i8;
    }
    scaling_factor
}

/// `NeonAsymmetricQuantizeFloats`: asymmetric int8 quantization of one batch row. The range
/// `[min(0, min), max(0, max)]` in float, the scale `(rmax - rmin) / 255` (the difference in
/// float, the division in double) and the zero point (from whichever end has the smaller
/// error, nudged into [-128, 127] with `round`) in double; `inv = (float)(1.0 / (double)scale)`;
/// element `i` is `neon_round(x * inv) + zp` in the vector part, `(int)(zp + round(inv * x))`
/// after it, clamped to [-128, 127]. Returns `(scaling_factor as f32, zero_point)`; `(1, 0)`
/// with every `q` 0 when the range is empty.
pub(crate) fn asymmetric_quantize_floats(values: &[f32], quantized: &mut [i8]) -> (f32, i32) {
    debug_assert_eq!(values.len(), quantized.len());
    if values.is_empty() {
        return (1.0, 0);
    }
    const QMIN: f64 = -128.0;
    const QMAX: f64 = 127.0;
    let (min, max) = min_max(values);
    let (rmin, rmax) = (0.0f32.min(min), 0.0f32.max(max));
    if rmin == rmax {
        quantized.fill(0);
        return (1.0, 0);
    }
    let scale = f64::from(rmax - rmin) / (QMAX - QMIN);
    let (rmin, rmax) = (f64::from(rmin), f64::from(rmax));
    let zero_point_from_min = QMIN - rmin / scale;
    let zero_point_from_max = QMAX - rmax / scale;
    let zero_point_from_min_error = QMIN.abs() + (rmin / scale).abs();
    let zero_point_from_max_error = QMAX.abs() + (rmax / scale).abs();
    let zero_point = if zero_point_from_min_error < zero_point_from_max_error {
        zero_point_from_min
    } else {
        zero_point_from_max
    };
    let offset: i32 = if zero_point <= QMIN {
        -128
    } else if zero_point >= QMAX {
        127
    } else {
        zero_point.round() as i32
    };
    let scaling_factor = scale as f32;
    let inv = if scaling_factor == 0.0 {
        0.0
    } else {
        (1.0 / f64::from(scaling_factor)) as f32
    };
    let block = neon_block(values.len());
    for (i, (q, &v)) in quantized.iter_mut().zip(values).enumerate() {
        let r = if i < block {
            neon_round(v * inv).wrapping_add(offset)
        } else {
            cvtt_i32(offset as f32 + (inv * v).round())
        };
        *q = r.clamp(-128, 127) as i8;
    }
    (scaling_factor, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_matches_tflite() {
        // 7 wide, 3 filter, stride 2, SAME: out 4, total pad (3*2+3-7)=2 -> 1 before.
        assert_eq!(
            compute_padding(Padding::Same, 7, 3, 2, 1),
            Some(PadDim {
                out: 4,
                before: 1,
                offset: 0
            })
        );
        // 8 wide, 3 filter, stride 2, SAME: out 4, total (3*2+3-8)=1 -> 0 before, offset 1.
        assert_eq!(
            compute_padding(Padding::Same, 8, 3, 2, 1),
            Some(PadDim {
                out: 4,
                before: 0,
                offset: 1
            })
        );
        assert_eq!(
            compute_padding(Padding::Valid, 7, 3, 2, 1).map(|p| p.out),
            Some(3)
        );
        // Dilation 2: effective filter 5.
        assert_eq!(
            compute_padding(Padding::Valid, 7, 3, 1, 2).map(|p| p.out),
            Some(3)
        );
        // A filter larger than the input: TFLite computes an empty output.
        assert_eq!(
            compute_padding(Padding::Valid, 2, 3, 1, 1).map(|p| p.out),
            Some(0)
        );
        assert_eq!(compute_padding(Padding::Same, 7, 3, 0, 1), None);
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shape(&[1, 4, 1], &[3, 1, 5]), Some(vec![3, 4, 5]));
        assert_eq!(broadcast_shape(&[2], &[3]), None);
        assert_eq!(broadcast_map(&[3], &[2, 3]), Some(vec![0, 1, 2, 0, 1, 2]));
        assert_eq!(
            broadcast_map(&[2, 1], &[2, 3]),
            Some(vec![0, 0, 0, 1, 1, 1])
        );
    }

    #[test]
    fn activation_ranges() {
        assert_eq!(
            quantized_activation_range(Activation::Relu6, DType::I8, 6.0 / 255.0, -128),
            Some((-128, 127))
        );
        assert_eq!(
            quantized_activation_range(Activation::Relu, DType::I8, 0.1, 5),
            Some((5, 127))
        );
        assert_eq!(
            quantized_activation_range(Activation::None, DType::U8, 0.1, 5),
            Some((0, 255))
        );
    }

    #[test]
    fn symmetric_quantization_of_a_row() {
        let x = [0.5f32, -1.27, 0.0, 1.0, 0.005, -0.005];
        let mut q = [0i8; 6];
        let s = symmetric_quantize_floats(&x, &mut q);
        assert_eq!(s, 1.27f32 / 127.0);
        // 127 / 1.27 = 100 (in float: 100.00001): 0.5 -> 50, 0.005 -> 0.5 -> 1 (half away).
        assert_eq!(q, [50, -127, 0, 100, 1, -1]);
        let mut z = [5i8; 3];
        assert_eq!(symmetric_quantize_floats(&[0.0; 3], &mut z), 1.0);
        assert_eq!(z, [0; 3]);
    }

    #[test]
    fn asymmetric_quantization_of_a_row() {
        // Range [-1, 3]: scale 4/255, zero point -128 + 255/4 = -64.25 (from min, error
        // 128 + 63.75 = 191.75 < 127 + 191.25) -> -64.
        let x = [-1.0f32, 3.0, 0.0, 1.0];
        let mut q = [0i8; 4];
        let (s, zp) = asymmetric_quantize_floats(&x, &mut q);
        assert_eq!(s, (4.0f64 / 255.0) as f32);
        assert_eq!(zp, -64);
        let inv = 1.0f32 / s;
        let want: Vec<i8> = x
            .iter()
            .map(|&v| ((-64.0 + v * inv).round() as i32).clamp(-128, 127) as i8)
            .collect();
        assert_eq!(q.to_vec(), want);
        assert_eq!(q[2], -64);
        assert_eq!(q[0], -128); // -64 - 63.75 = -127.75 -> -128
        assert_eq!(q[1], 127); // clamped from 127.25
                               // All positive: the range still includes 0, zero point -128.
        let (s2, zp2) = asymmetric_quantize_floats(&[2.0, 1.0], &mut q[..2]);
        assert_eq!((s2, zp2), ((2.0f64 / 255.0) as f32, -128));
        assert_eq!(&q[..2], &[127, -1]);
        // Empty range.
        let mut z = [3i8; 2];
        assert_eq!(asymmetric_quantize_floats(&[0.0, 0.0], &mut z), (1.0, 0));
        assert_eq!(z, [0, 0]);
    }
}
