//! Convolutions: CONV_2D and DEPTHWISE_CONV_2D in float32, int8 (per-channel or per-tensor
//! weights) and hybrid (int8 weights, float activations quantized at run time), each as the
//! kernel that LiteRT's `BUILTIN_REF` resolver registers (`Register_CONVOLUTION_REF`,
//! `Register_DEPTHWISE_CONVOLUTION_REF`: `kReference`) computes it.
//!
//! Which loop runs (LiteRT `tflite/kernels/conv.cc`, `tflite/kernels/depthwise_conv.cc`):
//! - float32: `reference_ops::Conv` (grouped when the filter's input depth divides the
//!   input's) / `reference_ops::DepthwiseConv`; the depth multiplier is
//!   `out_channels / in_channels` (the options' value is not read).
//! - int8: `reference_integer_ops::ConvPerChannel` / `DepthwiseConvPerChannel`; per channel
//!   `QuantizeMultiplier((double)s_in * (double)s_w[c] / (double)s_out)` with a per-tensor
//!   weight scale broadcast (`PopulateConvolutionQuantizationParams`, `kernel_util.cc`).
//! - hybrid CONV_2D with per-channel weight scales that are not all equal:
//!   `reference_ops::HybridConvPerChannel` after per-batch *asymmetric* input quantization.
//!   Otherwise (one scale, or all equal): `optimized_ops::HybridConv` even under
//!   `kReference` ("only one implementation"), after per-batch *symmetric* input
//!   quantization with the scaling factor multiplied by the weight scale. Both skip
//!   out-of-image taps (the symmetric path's im2col pads with 0, the same thing).
//! - hybrid DEPTHWISE_CONV_2D: always `reference_integer_ops::DepthwiseConvHybridPerChannel`
//!   (asymmetric, per channel), and it uses the options' `depth_multiplier`.
//!
//! TRANSPOSE_CONV (`transpose_conv.rs`) scatters instead: `reference_ops::TransposeConv`,
//! `reference_integer_ops::TransposeConv`, `reference_ops::HybridTransposeConv`.
//!
//! Every CONV_2D / DEPTHWISE_CONV_2D loop skips taps outside the image (zero padding by omission), accumulates in the
//! order filter row, filter column, input channel, and adds the bias after the sum.

/// The [`Window`] of a `Conv2DOptions` or `DepthwiseConv2DOptions` (same field names).
macro_rules! window_of {
    ($o:expr) => {
        super::Window {
            padding: $o.padding,
            stride_h: $o.stride_h,
            stride_w: $o.stride_w,
            dilation_h: $o.dilation_h,
            dilation_w: $o.dilation_w,
        }
    };
}

pub(crate) mod conv2d;
pub(crate) mod depthwise;
pub(crate) mod int16;
#[cfg(test)]
mod tests;
pub(crate) mod transpose_conv;

pub(super) use conv2d::prepare_conv2d;
pub(super) use depthwise::prepare_depthwise;
pub(super) use transpose_conv::prepare_transpose_conv;

use crate::model::{self, Activation, DType, Padding};
use crate::quant::fixedpoint::quantize_multiplier;
use crate::{Buf, Error, Result, Tensor};

use super::common::{compute_padding, float_activation_range, quantized_activation_range};
use super::common::{shape_of, Epilogue};
use super::OpCtx;

/// The window of a 2-D convolution over NHWC tensors, with everything resolved to sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geom {
    pub batches: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub out_c: usize,
    pub filter_h: usize,
    pub filter_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    /// Padding before (top / left): `ComputePaddingHeightWidth`'s `height` / `width`.
    pub pad_h: usize,
    pub pad_w: usize,
}

impl Geom {
    /// Whether the calibrator's `multithreaded_ops::Conv` contracts the filter with the
    /// input's image patches (`SpatialConvolution`) rather than with the input itself, as it
    /// does for 1×1 filters at stride 1 and for filters covering the unpadded input
    /// (`multithreaded_conv.h`'s `EigenTensorConvFunctor`): Eigen's cost model prices the
    /// patches higher, which can change the threads it uses.
    pub fn contracts_patches(&self) -> bool {
        let one_by_one = self.filter_h == 1 && self.filter_w == 1;
        let unit_stride = self.stride_h == 1 && self.stride_w == 1;
        let whole_input = self.filter_h == self.in_h
            && self.filter_w == self.in_w
            && self.pad_h == 0
            && self.pad_w == 0;
        !(whole_input || one_by_one && unit_stride)
    }

    /// The input row under filter row `fy` for output row `oy`, or `None` outside the image.
    #[inline]
    pub fn in_y(&self, oy: usize, fy: usize) -> Option<usize> {
        (oy * self.stride_h + fy * self.dilation_h)
            .checked_sub(self.pad_h)
            .filter(|&y| y < self.in_h)
    }

    /// The input column under filter column `fx` for output column `ox`.
    #[inline]
    pub fn in_x(&self, ox: usize, fx: usize) -> Option<usize> {
        (ox * self.stride_w + fx * self.dilation_w)
            .checked_sub(self.pad_w)
            .filter(|&x| x < self.in_w)
    }

    /// Flat NHWC offset of the input pixel `(b, y, x)`'s channel 0.
    #[inline]
    pub fn in_offset(&self, b: usize, y: usize, x: usize) -> usize {
        ((b * self.in_h + y) * self.in_w + x) * self.in_c
    }

    /// Flat NHWC offset of the output pixel `(b, y, x)`'s channel 0.
    #[inline]
    pub fn out_offset(&self, b: usize, y: usize, x: usize) -> usize {
        ((b * self.out_h + y) * self.out_w + x) * self.out_c
    }

    pub fn input_len(&self) -> usize {
        self.batches * self.in_h * self.in_w * self.in_c
    }

    pub fn output_len(&self) -> usize {
        self.batches * self.out_h * self.out_w * self.out_c
    }
}

/// The options both ops share.
pub(super) struct Window {
    pub padding: Padding,
    pub stride_h: i32,
    pub stride_w: i32,
    pub dilation_h: i32,
    pub dilation_w: i32,
}

/// What both ops check first: the arity, and a 4-D input and filter with known sizes.
/// Returns the input, the filter and their shapes.
pub(super) fn conv_operands<'a>(
    ctx: &OpCtx<'a>,
) -> Result<(&'a model::Tensor, &'a model::Tensor, [usize; 4], [usize; 4])> {
    let input = ctx.input(0)?;
    let filter = ctx.input(1)?;
    check_arity(ctx, input.dtype)?;
    let in_shape = shape4(ctx, input, "input")?;
    let filter_shape = shape4(ctx, filter, "filter")?;
    Ok((input, filter, in_shape, filter_shape))
}

/// The static shape of a tensor that must be 4-D with no empty dimension.
pub(super) fn shape4(ctx: &OpCtx, t: &model::Tensor, what: &str) -> Result<[usize; 4]> {
    let s = shape_of(t);
    match <[usize; 4]>::try_from(s.as_slice()) {
        Ok(a) if t.shape.iter().all(|&d| d > 0) => Ok(a),
        _ => Err(ctx.unsupported(format!(
            "{what} '{}' must be 4-D with known, non-zero dimensions, has shape {:?}",
            t.name, t.shape
        ))),
    }
}

/// Resolve the window (`ComputePaddingHeightWidth`) and check the model's output shape.
pub(super) fn geometry(
    ctx: &OpCtx,
    input: [usize; 4],
    filter_hw: (usize, usize),
    out_c: usize,
    w: &Window,
) -> Result<Geom> {
    let positive = |v: i32, what: &str| -> Result<usize> {
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| ctx.invalid(format!("{what} must be positive, is {v}")))
    };
    let stride_h = positive(w.stride_h, "stride_h")?;
    let stride_w = positive(w.stride_w, "stride_w")?;
    let dilation_h = positive(w.dilation_h, "dilation_h_factor")?;
    let dilation_w = positive(w.dilation_w, "dilation_w_factor")?;
    if let Padding::Other(p) = w.padding {
        return Err(ctx.unsupported(format!("padding code {p}")));
    }
    let [batches, in_h, in_w, in_c] = input;
    let (filter_h, filter_w) = filter_hw;
    let rows = compute_padding(w.padding, in_h, filter_h, stride_h, dilation_h);
    let cols = compute_padding(w.padding, in_w, filter_w, stride_w, dilation_w);
    let (Some(rows), Some(cols)) = (rows, cols) else {
        return Err(ctx.invalid(format!(
            "a {filter_h}x{filter_w} filter (dilation {dilation_h}x{dilation_w}) does not fit \
             a {in_h}x{in_w} input with VALID padding"
        )));
    };
    let g = Geom {
        batches,
        in_h,
        in_w,
        in_c,
        out_h: rows.out,
        out_w: cols.out,
        out_c,
        filter_h,
        filter_w,
        stride_h,
        stride_w,
        dilation_h,
        dilation_w,
        pad_h: rows.before.max(0) as usize,
        pad_w: cols.before.max(0) as usize,
    };
    let output = ctx.output(0)?;
    let want = [batches, g.out_h, g.out_w, out_c];
    if shape_of(output) != want {
        return Err(ctx.invalid(format!(
            "output '{}' has shape {:?}, the convolution gives {want:?}",
            output.name, output.shape
        )));
    }
    Ok(g)
}

/// The fused activation's float clamp (`CalculateActivationRange`).
pub(super) fn float_range(ctx: &OpCtx, act: Activation) -> Result<(f32, f32)> {
    float_activation_range(act).ok_or_else(|| ctx.unsupported(format!("fused activation {act:?}")))
}

/// The float32 and hybrid kernels' checks: a float32 bias of `out_c` elements if any, and
/// the fused activation's float clamp.
pub(super) fn float_bias_and_range(
    ctx: &OpCtx,
    out_c: usize,
    act: Activation,
) -> Result<(f32, f32)> {
    check_bias(ctx, DType::F32, out_c)?;
    float_range(ctx, act)
}

/// Check the op has one output of `dtype` and 2 or 3 inputs.
pub(super) fn check_arity(ctx: &OpCtx, dtype: DType) -> Result<()> {
    if !(2..=3).contains(&ctx.num_inputs()) {
        return Err(ctx.invalid(format!("takes 2 or 3 inputs, has {}", ctx.num_inputs())));
    }
    if ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!("has {} outputs, not 1", ctx.op.outputs.len())));
    }
    // LiteRT reads a third input with GetInputSafe (conv.cc, depthwise_conv.cc Prepare),
    // which refuses an omitted one: "Tensor at index 2 was optional but was expected".
    if ctx.op.inputs.get(2) == Some(&crate::model::OPTIONAL) {
        let fix = match ctx.op.op {
            crate::model::Op::Conv2D(_) => "give a zero bias",
            _ => "give a zero bias or leave the input out",
        };
        return Err(ctx.invalid(format!(
            "input 2 (the bias) is omitted (-1): LiteRT refuses that at prepare (\"Tensor at \
             index 2 was optional but was expected\", GetInputSafe); {fix}"
        )));
    }
    // LiteRT's CONV_2D requires the bias (conv.cc Prepare: TF_LITE_ENSURE(context,
    // has_bias)); DEPTHWISE_CONV_2D runs without one.
    if ctx.num_inputs() == 2 && matches!(ctx.op.op, crate::model::Op::Conv2D(_)) {
        return Err(ctx.invalid(
            "CONV_2D has no bias: LiteRT refuses that at prepare (conv.cc: \
             TF_LITE_ENSURE(context, has_bias)); give a zero bias",
        ));
    }
    let output = ctx.output(0)?;
    if output.dtype != dtype {
        return Err(ctx.unsupported(format!(
            "output '{}' is {}, the input is {dtype}",
            output.name, output.dtype
        )));
    }
    Ok(())
}

/// The optional bias (input 2): its dtype and element count are checked.
pub(super) fn check_bias<'a>(
    ctx: &OpCtx<'a>,
    dtype: DType,
    out_c: usize,
) -> Result<Option<&'a model::Tensor>> {
    check_bias_at(ctx, 2, dtype, out_c)
}

/// The optional bias (input `index`): its dtype and element count are checked.
pub(super) fn check_bias_at<'a>(
    ctx: &OpCtx<'a>,
    index: usize,
    dtype: DType,
    out_c: usize,
) -> Result<Option<&'a model::Tensor>> {
    let Some(bias) = ctx.opt_input(index) else {
        return Ok(None);
    };
    let n: usize = shape_of(bias).iter().product();
    if bias.dtype != dtype || n != out_c {
        return Err(ctx.unsupported(format!(
            "bias '{}' must be {dtype} with {out_c} elements, is {} {:?}",
            bias.name, bias.dtype, bias.shape
        )));
    }
    Ok(Some(bias))
}

/// The weight scales of a quantized filter as TFLite checks them: present, one scale or one
/// per output channel (then matching the filter's `quantized_dimension`), zero points 0.
pub(super) fn filter_scales<'a>(
    ctx: &OpCtx,
    filter: &'a model::Tensor,
    out_c: usize,
) -> Result<&'a [f32]> {
    let Some(q) = filter.quant.as_ref().filter(|q| !q.scale.is_empty()) else {
        return Err(ctx.unsupported(format!(
            "filter '{}' has no quantization scale",
            filter.name
        )));
    };
    if q.zero_point.iter().any(|&z| z != 0) {
        return Err(ctx.unsupported(format!("filter '{}' has non-zero zero points", filter.name)));
    }
    if q.scale.len() != 1 {
        let axis_len = usize::try_from(q.quantized_dimension)
            .ok()
            .and_then(|a| shape_of(filter).get(a).copied());
        if q.scale.len() != out_c || axis_len != Some(out_c) {
            return Err(ctx.unsupported(format!(
                "filter '{}' has {} scales on axis {} for {out_c} output channels",
                filter.name,
                q.scale.len(),
                q.quantized_dimension
            )));
        }
    }
    Ok(&q.scale)
}

/// The int8 parameters of CONV_2D / DEPTHWISE_CONV_2D: the input offset (`-zp_in`), the
/// filter copied out, and the epilogue (`PopulateConvolutionQuantizationParams`).
pub(super) fn int8_params(
    ctx: &OpCtx,
    out_c: usize,
    act: Activation,
) -> Result<(i32, Vec<i8>, Epilogue)> {
    int8_params_at(ctx, Operands::CONV, out_c, act)
}

/// Where an op keeps its input, filter and bias.
#[derive(Clone, Copy)]
pub(super) struct Operands {
    pub input: usize,
    pub filter: usize,
    pub bias: usize,
}

impl Operands {
    pub const CONV: Operands = Operands {
        input: 0,
        filter: 1,
        bias: 2,
    };
}

/// [`int8_params`] for an op whose operands are at `at`.
pub(super) fn int8_params_at(
    ctx: &OpCtx,
    at: Operands,
    out_c: usize,
    act: Activation,
) -> Result<(i32, Vec<i8>, Epilogue)> {
    let input = ctx.input(at.input)?;
    let filter = ctx.input(at.filter)?;
    let output = ctx.output(0)?;
    let (s_in, zp_in) = ctx.per_tensor(input)?;
    let (s_out, zp_out) = ctx.per_tensor(output)?;
    let scales = filter_scales(ctx, filter, out_c)?;
    let weights = ctx
        .require_const(at.filter, "the int8 filter")?
        .as_i8()
        .ok_or_else(|| ctx.invalid("the filter's data is not int8"))?
        .to_vec();
    let bias = match check_bias_at(ctx, at.bias, DType::I32, out_c)? {
        None => vec![0; out_c],
        Some(b) => {
            if let Some(q) = &b.quant {
                if q.zero_point.iter().any(|&z| z != 0) {
                    return Err(ctx.unsupported("the bias has a non-zero zero point"));
                }
            }
            ctx.require_const(at.bias, "the int32 bias")?
                .as_i32()
                .ok_or_else(|| ctx.invalid("the bias data is not int32"))?
                .to_vec()
        }
    };
    let multipliers = (0..out_c)
        .map(|c| {
            let s_w = if scales.len() == 1 {
                scales[0]
            } else {
                scales[c]
            };
            quantize_multiplier(f64::from(s_in) * f64::from(s_w) / f64::from(s_out))
        })
        .collect();
    let (act_min, act_max) = quantized_activation_range(act, output.dtype, s_out, zp_out)
        .ok_or_else(|| ctx.unsupported(format!("fused activation {act:?}")))?;
    Ok((
        zp_in.wrapping_neg(),
        weights,
        Epilogue {
            bias,
            multipliers,
            output_zero_point: zp_out,
            act_min,
            act_max,
        },
    ))
}

/// The constant int8 filter of a hybrid op.
pub(super) fn hybrid_weights(ctx: &OpCtx) -> Result<Vec<i8>> {
    hybrid_weights_at(ctx, 1)
}

/// The constant int8 filter (input `index`) of a hybrid op.
pub(super) fn hybrid_weights_at(ctx: &OpCtx, index: usize) -> Result<Vec<i8>> {
    Ok(ctx
        .require_const(index, "the hybrid op's int8 filter")?
        .as_i8()
        .ok_or_else(|| ctx.invalid("the filter's data is not int8"))?
        .to_vec())
}

// ---- run-time access to the arguments -------------------------------------------------

fn arg<'t>(inputs: &[Option<&'t Tensor>], i: usize, label: &str) -> Result<&'t Tensor> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| Error::Shape(format!("{label}: input {i} was not given")))
}

fn len_error(label: &str, what: &str, dtype: &str, n: usize, t: &Tensor) -> Error {
    Error::Shape(format!(
        "{label}: {what} must be {dtype} with {n} elements, got {} {:?}",
        t.dtype(),
        t.shape()
    ))
}

/// Input `i` as `n` floats.
pub(super) fn f32_arg<'t>(
    inputs: &[Option<&'t Tensor>],
    i: usize,
    n: usize,
    label: &str,
    what: &str,
) -> Result<&'t [f32]> {
    let t = arg(inputs, i, label)?;
    t.as_f32()
        .filter(|v| v.len() == n)
        .ok_or_else(|| len_error(label, what, "float32", n, t))
}

/// Optional input `i` (the bias) as `n` floats.
pub(super) fn opt_f32_arg<'t>(
    inputs: &[Option<&'t Tensor>],
    i: usize,
    n: usize,
    label: &str,
) -> Result<Option<&'t [f32]>> {
    match inputs.get(i).copied().flatten() {
        None => Ok(None),
        Some(_) => f32_arg(inputs, i, n, label, "the bias").map(Some),
    }
}

/// Input `i` as `n` int8 values.
pub(super) fn i8_arg<'t>(
    inputs: &[Option<&'t Tensor>],
    i: usize,
    n: usize,
    label: &str,
    what: &str,
) -> Result<&'t [i8]> {
    let t = arg(inputs, i, label)?;
    t.as_i8()
        .filter(|v| v.len() == n)
        .ok_or_else(|| len_error(label, what, "int8", n, t))
}

/// Output 0 as `n` floats.
pub(super) fn f32_out<'t>(
    outputs: &'t mut [Tensor],
    n: usize,
    label: &str,
) -> Result<&'t mut [f32]> {
    match outputs.first_mut().map(|t| t.buf_mut()) {
        Some(Buf::F32(v)) if v.len() == n => Ok(v),
        _ => Err(Error::Shape(format!(
            "{label}: the output must be float32 with {n} elements"
        ))),
    }
}

/// Output 0 as `n` int8 values.
pub(super) fn i8_out<'t>(outputs: &'t mut [Tensor], n: usize, label: &str) -> Result<&'t mut [i8]> {
    match outputs.first_mut().map(|t| t.buf_mut()) {
        Some(Buf::I8(v)) if v.len() == n => Ok(v),
        _ => Err(Error::Shape(format!(
            "{label}: the output must be int8 with {n} elements"
        ))),
    }
}

// ---- hybrid input quantization ----------------------------------------------------------

/// A hybrid op's float input quantized per batch at run time.
pub(crate) struct QuantizedInput {
    pub data: Vec<i8>,
    /// Per batch: the input's scaling factor (times the weight scale on the symmetric path).
    pub scaling: Vec<f32>,
    /// Per batch: the zero point (0 on the symmetric path).
    pub offset: Vec<i32>,
}

/// Each batch row of `input` quantized by `quantize`, which returns the row's scaling factor
/// and zero point.
fn quantize_rows(
    input: &[f32],
    batches: usize,
    quantize: impl Fn(&[f32], &mut [i8]) -> (f32, i32),
) -> QuantizedInput {
    let size = input.len() / batches.max(1);
    let mut q = QuantizedInput {
        data: vec![0; input.len()],
        scaling: vec![0.0; batches],
        offset: vec![0; batches],
    };
    for b in 0..batches {
        let r = b * size..(b + 1) * size;
        let (s, zp) = quantize(&input[r.clone()], &mut q.data[r]);
        q.scaling[b] = s;
        q.offset[b] = zp;
    }
    q
}

/// `AsymmetricQuantizeFloats` on each batch row of `input`.
pub(super) fn quantize_asymmetric(input: &[f32], batches: usize) -> QuantizedInput {
    quantize_rows(input, batches, super::common::asymmetric_quantize_floats)
}

/// `SymmetricQuantizeFloats` on each batch row, the scaling factor then multiplied (in
/// float) by the per-tensor weight scale (`conv.cc` `EvalHybrid`).
pub(super) fn quantize_symmetric(
    input: &[f32],
    batches: usize,
    weight_scale: f32,
) -> QuantizedInput {
    quantize_rows(input, batches, |row, q| {
        let s = super::common::symmetric_quantize_floats(row, q);
        (s * weight_scale, 0)
    })
}
