//! TRANSPOSE_CONV: float32 (`reference_ops::TransposeConv`), int8
//! (`reference_integer_ops::TransposeConv`, per-channel; int16 in `int16.rs`), uint8 (`reference_ops::
//! TransposeConv`, per-tensor weights with a zero point) and hybrid
//! (`reference_ops::HybridTransposeConv`), as LiteRT's `transpose_conv.cc` runs them under
//! `Register_TRANSPOSECONV_REF`.
//!
//! Inputs: 0 the output shape (int32, 4 values), 1 the weights `[O, H, W, I]`, 2 the input,
//! 3 the optional bias. The padding is `ComputePaddingHeightWidth` of the *output* size
//! (stride as given, dilation 1).
//!
//! TFLite's reference loops scatter: every input element, in order (batch, row, column,
//! channel), adds its product with each filter tap to the output element under it, into an
//! output (float) or scratch buffer (int32) zeroed first; the bias is added after, then the
//! activation clamp (float; `ActivationFunctionWithMinMax`, which lets NaN through) or the
//! per-channel requantization (int8). Gathered per output element, that is: the input rows
//! `iy` whose tap `fy = oy + pad - iy·stride` falls in the filter, ascending, then the columns
//! likewise, then the input channels — the order of [`TconvShape::for_each_tap`].
//!
//! The hybrid loop adds `(float)((q − zp_b) · w) · scale[oc] · scaling_b` per tap into the
//! float output, after per-batch asymmetric input quantization.
//!
//! [`FloatOrder::Converter`] is `optimized_ops::TransposeConvV2` (what TensorFlow's converter
//! calibrates with): one Eigen GEMM of the weights as `[H·W·O, I]` (row-major) by the input
//! pixels as columns, then `Col2im` adds each pixel's column of `H·W·O` dot products into the
//! zeroed output, pixel by pixel in row-major order; then the bias, then the clamp.

use crate::model::{Activation, DType, TransposeConvOptions};
use crate::quant::fixedpoint::quantize_multiplier;
use crate::{Buf, Error, Result};

use super::super::common::{
    clamp_like_cpp, compute_padding, quantized_activation_range, shape_of, Epilogue, QInt,
};
use super::super::float_order::eigen_product_dot;
use super::super::{FloatOrder, Kernel, OpCtx};
use super::{
    check_bias_at, f32_arg, f32_out, filter_scales, float_range, hybrid_weights_at, int8_params_at,
    opt_f32_arg, quantize_asymmetric, shape4, Operands,
};

const OPERANDS: Operands = Operands {
    input: 2,
    filter: 1,
    bias: 3,
};

/// The window of a transpose convolution over NHWC tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TconvShape {
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
    /// Padding before (top / left), `ComputePaddingHeightWidth` of the output size.
    pub pad_h: usize,
    pub pad_w: usize,
    /// The grid of input pixels `Col2im` walks (`height_col`, `width_col`): the input's
    /// size whenever the output shape is the one the padding implies.
    pub grid_h: usize,
    pub grid_w: usize,
}

impl TconvShape {
    pub fn input_len(&self) -> usize {
        self.batches * self.in_h * self.in_w * self.in_c
    }

    pub fn output_len(&self) -> usize {
        self.batches * self.out_h * self.out_w * self.out_c
    }

    pub fn filter_len(&self) -> usize {
        self.out_c * self.filter_h * self.filter_w * self.in_c
    }

    /// The input positions `i < n` (ascending) whose tap `f = o + pad − i·stride` lies in
    /// `0..k`, with that tap.
    #[inline]
    fn sources(o: usize, pad: usize, stride: usize, k: usize, n: usize) -> (usize, usize) {
        let t = o + pad;
        let hi = (t / stride + 1).min(n);
        let lo = (t + 1).saturating_sub(k).div_ceil(stride);
        (lo, hi.max(lo))
    }

    /// Calls `tap(input index, filter index)` for every tap of output element
    /// `(b, oy, ox, oc)` in the reference loops' order: input row, input column, channel.
    #[inline]
    pub fn for_each_tap(
        &self,
        (b, oy, ox, oc): (usize, usize, usize, usize),
        mut tap: impl FnMut(usize, usize),
    ) {
        let (y0, y1) = Self::sources(oy, self.pad_h, self.stride_h, self.filter_h, self.in_h);
        let (x0, x1) = Self::sources(ox, self.pad_w, self.stride_w, self.filter_w, self.in_w);
        for iy in y0..y1 {
            let fy = oy + self.pad_h - iy * self.stride_h;
            for ix in x0..x1 {
                let fx = ox + self.pad_w - ix * self.stride_w;
                let x = ((b * self.in_h + iy) * self.in_w + ix) * self.in_c;
                let w = ((oc * self.filter_h + fy) * self.filter_w + fx) * self.in_c;
                for ic in 0..self.in_c {
                    tap(x + ic, w + ic);
                }
            }
        }
    }

    /// Calls `pixel(p, fy, fx)` for every input pixel `p` (row-major within the batch) whose
    /// column `Col2im` adds into output pixel `(oy, ox)`, in `Col2im`'s order, with the tap.
    #[inline]
    pub fn for_each_col2im_source(
        &self,
        (oy, ox): (usize, usize),
        mut pixel: impl FnMut(usize, usize, usize),
    ) {
        let (y0, y1) = Self::sources(oy, self.pad_h, self.stride_h, self.filter_h, self.grid_h);
        let (x0, x1) = Self::sources(ox, self.pad_w, self.stride_w, self.filter_w, self.grid_w);
        for h in y0..y1 {
            let fy = oy + self.pad_h - h * self.stride_h;
            for w in x0..x1 {
                let fx = ox + self.pad_w - w * self.stride_w;
                pixel(h * self.grid_w + w, fy, fx);
            }
        }
    }

    /// Flat NHWC offset of output pixel `(b, y, x)`'s channel 0.
    #[inline]
    pub fn out_offset(&self, b: usize, y: usize, x: usize) -> usize {
        ((b * self.out_h + y) * self.out_w + x) * self.out_c
    }

    /// Calls `element((b, oy, ox, oc), flat index)` for every output element, in NHWC order.
    #[inline]
    pub fn for_each_output(&self, mut element: impl FnMut((usize, usize, usize, usize), usize)) {
        for b in 0..self.batches {
            for oy in 0..self.out_h {
                for ox in 0..self.out_w {
                    let base = self.out_offset(b, oy, ox);
                    for oc in 0..self.out_c {
                        element((b, oy, ox, oc), base + oc);
                    }
                }
            }
        }
    }
}

/// The checks of `transpose_conv.cc`'s `Prepare` that do not depend on the dtypes, and the
/// window.
fn tconv_shape(ctx: &OpCtx, o: &TransposeConvOptions) -> Result<TconvShape> {
    if !(3..=4).contains(&ctx.num_inputs()) {
        return Err(ctx.invalid(format!("takes 3 or 4 inputs, has {}", ctx.num_inputs())));
    }
    if ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!("has {} outputs, not 1", ctx.op.outputs.len())));
    }
    let shape_t = ctx.input(0)?;
    if shape_t.dtype != DType::I32 || shape_of(shape_t) != [4] {
        return Err(ctx.unsupported(format!(
            "the output shape '{}' must be int32 with 4 values, is {} {:?}",
            shape_t.name, shape_t.dtype, shape_t.shape
        )));
    }
    let [out_c, filter_h, filter_w, filter_in_c] = shape4(ctx, ctx.input(1)?, "weights")?;
    let [batches, in_h, in_w, in_c] = shape4(ctx, ctx.input(2)?, "input")?;
    let output = ctx.output(0)?;
    let out = shape4(ctx, output, "output")?;
    if let Some(t) = ctx.const_input(0) {
        let want: Vec<usize> = t
            .as_i32()
            .unwrap_or(&[])
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
            .collect();
        if want != out {
            return Err(ctx.invalid(format!(
                "the output shape input says {:?}, the output '{}' is {:?}",
                t.as_i32(),
                output.name,
                output.shape
            )));
        }
    }
    if filter_in_c != in_c {
        return Err(ctx.invalid(format!(
            "the weights have {filter_in_c} input channels, the input {in_c}"
        )));
    }
    if out[0] != batches || out[3] != out_c {
        return Err(ctx.invalid(format!(
            "output '{}' is {:?}: batch and channels must be {batches} and {out_c}",
            output.name, output.shape
        )));
    }
    let positive = |v: i32, what: &str| -> Result<usize> {
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| ctx.invalid(format!("{what} must be positive, is {v}")))
    };
    let stride_h = positive(o.stride_h, "stride_h")?;
    let stride_w = positive(o.stride_w, "stride_w")?;
    let (out_h, out_w) = (out[1], out[2]);
    let rows = compute_padding(o.padding, out_h, filter_h, stride_h, 1);
    let cols = compute_padding(o.padding, out_w, filter_w, stride_w, 1);
    let (Some(rows), Some(cols)) = (rows, cols) else {
        return Err(ctx.unsupported(format!(
            "padding {:?} of a {filter_h}x{filter_w} filter over a {out_h}x{out_w} output",
            o.padding
        )));
    };
    let (pad_h, pad_w) = (rows.before.max(0) as usize, cols.before.max(0) as usize);
    // `Col2im`'s `height_col` / `width_col`.
    let grid = |size: usize, before: usize, offset: i32, k: usize, s: usize| {
        let n = (size + 2 * before) as i64 + i64::from(offset) - k as i64;
        usize::try_from(n / s as i64 + 1).unwrap_or(0)
    };
    Ok(TconvShape {
        batches,
        in_h,
        in_w,
        in_c,
        out_h,
        out_w,
        out_c,
        filter_h,
        filter_w,
        stride_h,
        stride_w,
        pad_h,
        pad_w,
        grid_h: grid(out_h, pad_h, rows.offset, filter_h, stride_h),
        grid_w: grid(out_w, pad_w, cols.offset, filter_w, stride_w),
    })
}

pub(crate) fn prepare_transpose_conv(
    ctx: &OpCtx,
    o: &TransposeConvOptions,
) -> Result<Box<dyn Kernel>> {
    let shape = tconv_shape(ctx, o)?;
    let weights = ctx.input(OPERANDS.filter)?;
    let input = ctx.input(OPERANDS.input)?;
    let output = ctx.output(0)?;
    if output.dtype != input.dtype {
        return Err(ctx.unsupported(format!(
            "output '{}' is {}, the input is {}",
            output.name, output.dtype, input.dtype
        )));
    }
    let label = ctx.label();
    let out_c = shape.out_c;
    match (input.dtype, weights.dtype) {
        (DType::F32, DType::F32) => {
            check_bias_at(ctx, OPERANDS.bias, DType::F32, out_c)?;
            let order = ctx.float_order;
            // `Col2im` reads `height_col · width_col` GEMM columns; more than the input has
            // would read past them.
            if order == FloatOrder::Converter
                && shape.grid_h * shape.grid_w > shape.in_h * shape.in_w
            {
                return Err(ctx.unsupported(format!(
                    "the optimized kernel's Col2im walks a {}x{} grid over a {}x{} input",
                    shape.grid_h, shape.grid_w, shape.in_h, shape.in_w
                )));
            }
            Ok(Box::new(TconvF32 {
                label,
                shape,
                act: float_range(ctx, o.activation)?,
                order,
            }))
        }
        (DType::I8, DType::I8) => {
            let (input_offset, filter, epilogue) =
                int8_params_at(ctx, OPERANDS, out_c, o.activation)?;
            Ok(Box::new(TconvInt {
                label,
                shape,
                dtype: DType::I8,
                input_offset,
                filter_offset: 0,
                filter: filter.into_iter().map(i32::from).collect(),
                epilogue,
            }))
        }
        (DType::F32, DType::I8) => {
            check_bias_at(ctx, OPERANDS.bias, DType::F32, out_c)?;
            let act = float_range(ctx, o.activation)?;
            // A single scale is broadcast to every output channel at prepare.
            let scales = filter_scales(ctx, weights, out_c)?;
            let scales = if scales.len() == 1 {
                vec![scales[0]; out_c]
            } else {
                scales.to_vec()
            };
            Ok(Box::new(TconvHybrid {
                label,
                shape,
                filter: hybrid_weights_at(ctx, OPERANDS.filter)?,
                scales,
                act,
            }))
        }
        (DType::U8, DType::U8) => Ok(Box::new(prepare_u8(ctx, shape, o.activation)?)),
        (DType::I16, DType::I8) => Ok(Box::new(super::int16::TconvI16::prepare(
            ctx,
            shape,
            OPERANDS,
            o.activation,
        )?)),
        (i, w) => Err(ctx.unsupported(format!(
            "TRANSPOSE_CONV with {i} input and {w} weights (supported: float32, int8 and \
             uint8 with weights of the same type, float32 or int16 with int8 weights)"
        ))),
    }
}

/// The uint8 path (`EvalQuantized`: `reference_ops::TransposeConv` on uint8): per-tensor
/// weights with a zero point, and the legacy multiplier of `GetQuantizedConvolutionMultipler`
/// — `(double)(s_in · s_w)` (the product in float) `/ (double)s_out` — after its check that
/// the bias scale is within 2 % of the output scale of `s_in · s_w`.
fn prepare_u8(ctx: &OpCtx, shape: TconvShape, act: Activation) -> Result<TconvInt> {
    let input = ctx.input(OPERANDS.input)?;
    let weights = ctx.input(OPERANDS.filter)?;
    let output = ctx.output(0)?;
    let (s_in, zp_in) = ctx.per_tensor(input)?;
    let (s_w, zp_w) = ctx.per_tensor(weights).map_err(|_| {
        ctx.unsupported(format!(
            "uint8 weights '{}' need one scale (TFLite has per-channel weights for int8 only)",
            weights.name
        ))
    })?;
    let (s_out, zp_out) = ctx.per_tensor(output)?;
    let out_c = shape.out_c;
    let bias = match check_bias_at(ctx, OPERANDS.bias, DType::I32, out_c)? {
        None => vec![0; out_c],
        Some(b) => {
            let s_b = b
                .quant
                .as_ref()
                .and_then(|q| q.scale.first().copied())
                .unwrap_or(0.0);
            let diff = (f64::from(s_in) * f64::from(s_w) - f64::from(s_b)).abs();
            if diff / f64::from(s_out) > 0.02 {
                return Err(ctx.unsupported(format!(
                    "bias '{}' scale {s_b} is not input scale × weight scale ({s_in} × {s_w}) \
                     within 2% of the output scale {s_out}",
                    b.name
                )));
            }
            ctx.require_const(OPERANDS.bias, "the int32 bias")?
                .as_i32()
                .ok_or_else(|| ctx.invalid("the bias data is not int32"))?
                .to_vec()
        }
    };
    let filter = ctx
        .require_const(OPERANDS.filter, "the uint8 weights")?
        .as_u8()
        .ok_or_else(|| ctx.invalid("the weights' data is not uint8"))?
        .to_vec();
    let multiplier = quantize_multiplier(f64::from(s_in * s_w) / f64::from(s_out));
    let (act_min, act_max) = quantized_activation_range(act, DType::U8, s_out, zp_out)
        .ok_or_else(|| ctx.unsupported(format!("fused activation {act:?}")))?;
    Ok(TconvInt {
        label: ctx.label(),
        shape,
        dtype: DType::U8,
        input_offset: zp_in.wrapping_neg(),
        filter_offset: zp_w.wrapping_neg(),
        filter: filter.into_iter().map(i32::from).collect(),
        epilogue: Epilogue {
            bias,
            multipliers: vec![multiplier; out_c],
            output_zero_point: zp_out,
            act_min,
            act_max,
        },
    })
}

/// A non-constant output shape (input 0) must still be the prepared one.
pub(super) fn check_output_shape(
    inputs: &[Option<&crate::Tensor>],
    s: &TconvShape,
    label: &str,
) -> Result<()> {
    let want = [s.batches, s.out_h, s.out_w, s.out_c];
    let given = inputs.first().copied().flatten().and_then(|t| t.as_i32());
    match given {
        Some(v)
            if v.iter()
                .map(|&d| d as i64)
                .eq(want.iter().map(|&d| d as i64)) =>
        {
            Ok(())
        }
        _ => Err(Error::Shape(format!(
            "{label}: the output shape input must be {want:?}, got {given:?}"
        ))),
    }
}

/// `reference_ops::TransposeConv` (float), or `optimized_ops::TransposeConvV2`'s order.
pub(crate) struct TconvF32 {
    pub(crate) label: String,
    pub(crate) shape: TconvShape,
    pub(crate) act: (f32, f32),
    pub(crate) order: FloatOrder,
}

impl Kernel for TconvF32 {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        check_output_shape(inputs, s, &self.label)?;
        let filter = f32_arg(inputs, 1, s.filter_len(), &self.label, "the weights")?;
        let input = f32_arg(inputs, 2, s.input_len(), &self.label, "the input")?;
        let bias = opt_f32_arg(inputs, 3, s.out_c, &self.label)?;
        let output = f32_out(outputs, s.output_len(), &self.label)?;
        let (lo, hi) = self.act;
        s.for_each_output(|at, i| {
            let mut acc = match self.order {
                FloatOrder::Reference => {
                    let mut total = 0.0f32;
                    s.for_each_tap(at, |x, w| {
                        total += input[x] * filter[w];
                    });
                    total
                }
                FloatOrder::Converter => self.col2im_sum(input, filter, at),
            };
            if let Some(bias) = bias {
                acc += bias[at.3];
            }
            output[i] = clamp_like_cpp(acc, lo, hi);
        });
        Ok(())
    }
}

impl TconvF32 {
    /// One output element as `TransposeConvV2` sums it before the bias: `Col2im` adds, into
    /// a zeroed output, the GEMM entry (weights row `(fy, fx, oc)` of `H·W·O` rows times
    /// input pixel `p` of the batch) of every pixel that reaches it, in pixel order. The
    /// GEMM is Eigen's (`cpu_backend_gemm`): its GEMV when the input has one pixel or the
    /// weights one row.
    fn col2im_sum(
        &self,
        input: &[f32],
        filter: &[f32],
        (b, oy, ox, oc): (usize, usize, usize, usize),
    ) -> f32 {
        let s = &self.shape;
        let rows = s.filter_h * s.filter_w * s.out_c;
        let pixels = s.in_h * s.in_w;
        let mut total = 0.0f32;
        s.for_each_col2im_source((oy, ox), |p, fy, fx| {
            let w = ((oc * s.filter_h + fy) * s.filter_w + fx) * s.in_c;
            let weights = &filter[w..w + s.in_c];
            let x = &input[(b * pixels + p) * s.in_c..][..s.in_c];
            let row = (fy * s.filter_w + fx) * s.out_c + oc;
            total += eigen_product_dot(weights, x, (row, rows), (p, pixels));
        });
        total
    }
}

/// The integer loops: `reference_integer_ops::TransposeConv` (int8 activations, per-channel
/// int8 weights, int32 bias) and `reference_ops::TransposeConv` on uint8 (per-tensor weights
/// with a zero point): `Σ (x + input_offset)·(w + filter_offset)`, then the epilogue.
pub(crate) struct TconvInt {
    pub(crate) label: String,
    pub(crate) shape: TconvShape,
    /// int8 or uint8 (input, weights and output).
    pub(crate) dtype: DType,
    /// `-input_zero_point`.
    pub(crate) input_offset: i32,
    /// `-weights_zero_point` (uint8; 0 for int8).
    pub(crate) filter_offset: i32,
    /// The weights, widened.
    pub(crate) filter: Vec<i32>,
    pub(crate) epilogue: Epilogue,
}

impl TconvInt {
    fn run_int<T: QInt>(&self, input: &[T], output: &mut [T]) {
        let s = &self.shape;
        let filter = &self.filter;
        s.for_each_output(|at, i| {
            let mut acc: i32 = 0;
            s.for_each_tap(at, |x, w| {
                let input_value = input[x].to_i32();
                let filter_value = filter[w];
                acc = acc.wrapping_add(
                    (input_value.wrapping_add(self.input_offset))
                        .wrapping_mul(filter_value.wrapping_add(self.filter_offset)),
                );
            });
            output[i] = T::from_i32(self.epilogue.apply(acc, at.3));
        });
    }
}

impl Kernel for TconvInt {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        check_output_shape(inputs, s, &self.label)?;
        let (n_in, n_out) = (s.input_len(), s.output_len());
        let input = inputs.get(2).copied().flatten().map(|t| t.buf());
        let output = outputs.first_mut().map(|t| t.buf_mut());
        match (self.dtype, input, output) {
            (DType::I8, Some(Buf::I8(x)), Some(Buf::I8(y)))
                if x.len() == n_in && y.len() == n_out =>
            {
                self.run_int(x, y)
            }
            (DType::U8, Some(Buf::U8(x)), Some(Buf::U8(y)))
                if x.len() == n_in && y.len() == n_out =>
            {
                self.run_int(x, y)
            }
            _ => {
                return Err(Error::Shape(format!(
                    "{}: the input and output must be {} with {n_in} and {n_out} elements",
                    self.label, self.dtype
                )))
            }
        }
        Ok(())
    }
}

/// `reference_ops::HybridTransposeConv` after per-batch asymmetric input quantization.
pub(crate) struct TconvHybrid {
    pub(crate) label: String,
    pub(crate) shape: TconvShape,
    pub(crate) filter: Vec<i8>,
    /// One weight scale per output channel (a single scale broadcast).
    pub(crate) scales: Vec<f32>,
    pub(crate) act: (f32, f32),
}

impl Kernel for TconvHybrid {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        check_output_shape(inputs, s, &self.label)?;
        let input = f32_arg(inputs, 2, s.input_len(), &self.label, "the input")?;
        let bias = opt_f32_arg(inputs, 3, s.out_c, &self.label)?;
        let output = f32_out(outputs, s.output_len(), &self.label)?;
        let q = quantize_asymmetric(input, s.batches);
        let filter = &self.filter;
        let (lo, hi) = self.act;
        s.for_each_output(|at, i| {
            let (b, oc) = (at.0, at.3);
            let (scaling_factor, input_offset) = (q.scaling[b], q.offset[b]);
            let mut total = 0.0f32;
            s.for_each_tap(at, |x, w| {
                let input_value = i32::from(q.data[x]);
                let filter_value = i32::from(filter[w]);
                let acc = input_value
                    .wrapping_sub(input_offset)
                    .wrapping_mul(filter_value);
                total += acc as f32 * self.scales[oc] * scaling_factor;
            });
            if let Some(bias) = bias {
                total += bias[oc];
            }
            output[i] = clamp_like_cpp(total, lo, hi);
        });
        Ok(())
    }
}
