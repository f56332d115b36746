//! CONV_2D: float32 (`reference_ops::Conv`), int8 (`reference_integer_ops::ConvPerChannel`)
//! 16x8 (`ConvPerChannel`'s int16 overload) and hybrid (`reference_ops::HybridConvPerChannel`
//! / `optimized_ops::HybridConv`).

use crate::model::{Conv2DOptions, DType};
use crate::Result;

use super::super::common::{clamp_like_cpp, Epilogue};
use super::super::float_order::{conv_sum, eigen_conv_dot};
use super::super::{FloatOrder, Kernel, OpCtx};
use super::int16::{i16_arg, i16_out, int16_params_at, Epilogue16};
use super::{
    conv_operands, f32_arg, f32_out, float_bias_and_range, geometry, hybrid_weights, i8_arg,
    i8_out, int8_params, opt_f32_arg, quantize_asymmetric, quantize_symmetric, Geom,
};

/// What every CONV_2D loop needs besides the data: the window and the grouping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvShape {
    pub(crate) g: Geom,
    /// The filter's input depth (`filter_shape.Dims(3)`).
    pub(crate) filter_in_c: usize,
    /// `output_depth / groups`, `groups = input_depth / filter_input_depth`.
    pub(crate) filters_per_group: usize,
}

impl ConvShape {
    fn filter_len(&self) -> usize {
        self.g.out_c * self.g.filter_h * self.g.filter_w * self.filter_in_c
    }

    /// Flat offset of filter element `[oc, fy, fx, 0]`.
    #[inline]
    fn filter_offset(&self, oc: usize, fy: usize, fx: usize) -> usize {
        ((oc * self.g.filter_h + fy) * self.g.filter_w + fx) * self.filter_in_c
    }

    /// Calls `tap(input index, filter index)` for every in-image tap of output element
    /// `(b, oy, ox, oc)`, in TFLite's order: filter row, filter column, input channel.
    #[inline]
    fn for_each_tap(
        &self,
        (b, oy, ox, oc): (usize, usize, usize, usize),
        mut tap: impl FnMut(usize, usize),
    ) {
        let g = &self.g;
        let group = oc / self.filters_per_group;
        for fy in 0..g.filter_h {
            let Some(iy) = g.in_y(oy, fy) else { continue };
            for fx in 0..g.filter_w {
                let Some(ix) = g.in_x(ox, fx) else { continue };
                let x = g.in_offset(b, iy, ix) + group * self.filter_in_c;
                let w = self.filter_offset(oc, fy, fx);
                for ic in 0..self.filter_in_c {
                    tap(x + ic, w + ic);
                }
            }
        }
    }
}

pub(crate) fn prepare_conv2d(ctx: &OpCtx, o: &Conv2DOptions) -> Result<Box<dyn Kernel>> {
    let (input, filter, in_shape, [out_c, filter_h, filter_w, filter_in_c]) = conv_operands(ctx)?;
    let in_c = in_shape[3];
    if in_c % filter_in_c != 0 {
        return Err(ctx.invalid(format!(
            "input depth {in_c} is not a multiple of the filter's input depth {filter_in_c}"
        )));
    }
    let groups = in_c / filter_in_c;
    if out_c % groups != 0 {
        return Err(ctx.invalid(format!(
            "{out_c} output channels do not split into {groups} groups"
        )));
    }
    let g = geometry(ctx, in_shape, (filter_h, filter_w), out_c, &window_of!(o))?;
    let shape = ConvShape {
        g,
        filter_in_c,
        filters_per_group: out_c / groups,
    };
    let label = ctx.label();
    match (input.dtype, filter.dtype) {
        (DType::F32, DType::F32) => Ok(Box::new(ConvF32 {
            label,
            shape,
            act: float_bias_and_range(ctx, out_c, o.activation)?,
            order: ctx.float_order,
        })),
        (DType::I8, DType::I8) => {
            let (input_offset, filter, epilogue) = int8_params(ctx, out_c, o.activation)?;
            Ok(Box::new(ConvI8 {
                label,
                shape,
                input_offset,
                filter,
                epilogue,
            }))
        }
        (DType::F32, DType::I8) => {
            let act = float_bias_and_range(ctx, out_c, o.activation)?;
            let scales = super::filter_scales(ctx, filter, out_c)?;
            // `is_hybrid_per_channel`: more than one scale and not all equal.
            let per_channel = scales.len() > 1 && scales.iter().any(|&s| s != scales[0]);
            let scales = if per_channel {
                HybridScales::PerChannel(scales.to_vec())
            } else if groups != 1 {
                // TFLite sends grouped hybrid convolutions to the per-channel loop, which
                // then reads one scale per output channel from a single scale.
                return Err(ctx.unsupported("a grouped hybrid convolution with one weight scale"));
            } else {
                HybridScales::PerTensor(scales[0])
            };
            Ok(Box::new(ConvHybrid {
                label,
                shape,
                filter: hybrid_weights(ctx)?,
                scales,
                act,
            }))
        }
        (DType::I16, DType::I8) => {
            let (filter, epilogue) =
                int16_params_at(ctx, super::Operands::CONV, out_c, o.activation)?;
            Ok(Box::new(ConvI16 {
                label,
                shape,
                filter,
                epilogue,
            }))
        }
        (i, f) => Err(ctx.unsupported(format!(
            "CONV_2D with {i} input and {f} filter (supported: float32, int8 or int16 with \
             int8 weights, float32 with int8 weights)"
        ))),
    }
}

/// `reference_ops::Conv` (float).
pub(crate) struct ConvF32 {
    pub(crate) label: String,
    pub(crate) shape: ConvShape,
    pub(crate) act: (f32, f32),
    pub(crate) order: FloatOrder,
}

impl Kernel for ConvF32 {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        let g = &s.g;
        let input = f32_arg(inputs, 0, g.input_len(), &self.label, "the input")?;
        let filter = f32_arg(inputs, 1, s.filter_len(), &self.label, "the filter")?;
        let bias = opt_f32_arg(inputs, 2, g.out_c, &self.label)?;
        let output = f32_out(outputs, g.output_len(), &self.label)?;
        let (lo, hi) = self.act;
        // conv.cc's EvalFloat sends grouped convolutions to `reference_ops::Conv` whatever
        // the kernel type ("only supported on reference kernel"), so the converter's
        // calibrator sums them in the reference order too.
        if self.order == FloatOrder::Converter && s.filters_per_group == g.out_c {
            self.run_im2col_gemm(input, filter, bias, output);
            return Ok(());
        }
        for b in 0..g.batches {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for oc in 0..g.out_c {
                        let mut total = 0.0f32;
                        s.for_each_tap((b, oy, ox, oc), |x, w| {
                            total += input[x] * filter[w];
                        });
                        let bias_value = bias.map_or(0.0, |v| v[oc]);
                        output[g.out_offset(b, oy, ox) + oc] =
                            clamp_like_cpp(total + bias_value, lo, hi);
                    }
                }
            }
        }
        Ok(())
    }
}

impl ConvF32 {
    /// [`FloatOrder::Converter`]: the product of the filter (one row per output channel) by
    /// the image patches (zeros where the window leaves the image; one column per output
    /// pixel) in the order of the converter's kernel (`eigen_conv_dot`); the bias after.
    fn run_im2col_gemm(
        &self,
        input: &[f32],
        filter: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
    ) {
        let s = &self.shape;
        let g = &s.g;
        let (lo, hi) = self.act;
        let depth = g.filter_h * g.filter_w * s.filter_in_c;
        let pixels = g.batches * g.out_h * g.out_w;
        let dilated = g.dilation_h != 1 || g.dilation_w != 1;
        let sum = conv_sum(depth, g.out_c, pixels, dilated, g.contracts_patches());
        let mut patch = vec![0.0f32; depth];
        for b in 0..g.batches {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let col = (b * g.out_h + oy) * g.out_w + ox;
                    let mut group = usize::MAX;
                    for oc in 0..g.out_c {
                        if oc / s.filters_per_group != group {
                            group = oc / s.filters_per_group;
                            patch.fill(0.0);
                            let base = s.filter_offset(oc, 0, 0);
                            s.for_each_tap((b, oy, ox, oc), |x, w| patch[w - base] = input[x]);
                        }
                        let row = &filter[s.filter_offset(oc, 0, 0)..][..depth];
                        let total = eigen_conv_dot(&sum, row, &patch, (oc, g.out_c), (col, pixels));
                        let bias_value = bias.map_or(0.0, |v| v[oc]);
                        output[g.out_offset(b, oy, ox) + oc] =
                            clamp_like_cpp(total + bias_value, lo, hi);
                    }
                }
            }
        }
    }
}

/// `reference_integer_ops::ConvPerChannel` (int8 activations, int8 weights, int32 bias).
pub(crate) struct ConvI8 {
    pub(crate) label: String,
    pub(crate) shape: ConvShape,
    /// `-input_zero_point`.
    pub(crate) input_offset: i32,
    pub(crate) filter: Vec<i8>,
    pub(crate) epilogue: Epilogue,
}

impl Kernel for ConvI8 {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        let g = &s.g;
        let input = i8_arg(inputs, 0, g.input_len(), &self.label, "the input")?;
        let output = i8_out(outputs, g.output_len(), &self.label)?;
        let filter = &self.filter;
        for b in 0..g.batches {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for oc in 0..g.out_c {
                        let mut acc: i32 = 0;
                        s.for_each_tap((b, oy, ox, oc), |x, w| {
                            let input_val = i32::from(input[x]);
                            let filter_val = i32::from(filter[w]);
                            acc = acc.wrapping_add(
                                filter_val.wrapping_mul(input_val.wrapping_add(self.input_offset)),
                            );
                        });
                        output[g.out_offset(b, oy, ox) + oc] = self.epilogue.apply(acc, oc) as i8;
                    }
                }
            }
        }
        Ok(())
    }
}

/// `reference_integer_ops::ConvPerChannel`'s 16x8 overload (int16 activations with zero
/// point 0, int8 weights, int64 bias, int64 accumulator; `int16.rs`).
pub(crate) struct ConvI16 {
    pub(crate) label: String,
    pub(crate) shape: ConvShape,
    pub(crate) filter: Vec<i8>,
    pub(crate) epilogue: Epilogue16,
}

impl Kernel for ConvI16 {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        let g = &s.g;
        let input = i16_arg(inputs, 0, g.input_len(), &self.label, "the input")?;
        let output = i16_out(outputs, g.output_len(), &self.label)?;
        let filter = &self.filter;
        for b in 0..g.batches {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for oc in 0..g.out_c {
                        let mut acc: i64 = 0;
                        s.for_each_tap((b, oy, ox, oc), |x, w| {
                            acc += i64::from(filter[w]) * i64::from(input[x]);
                        });
                        output[g.out_offset(b, oy, ox) + oc] = self.epilogue.apply(acc, oc);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The weight scales of a hybrid CONV_2D, which choose TFLite's loop.
pub(crate) enum HybridScales {
    /// `HybridConvPerChannel`: asymmetric input, `acc * scale[oc] * scaling[b]`.
    PerChannel(Vec<f32>),
    /// `HybridConv`: symmetric input, `acc * (scaling[b] * scale)`.
    PerTensor(f32),
}

/// Hybrid CONV_2D: float input quantized per batch at run time, int8 weights, float bias
/// and output.
pub(crate) struct ConvHybrid {
    pub(crate) label: String,
    pub(crate) shape: ConvShape,
    pub(crate) filter: Vec<i8>,
    pub(crate) scales: HybridScales,
    pub(crate) act: (f32, f32),
}

impl Kernel for ConvHybrid {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        let g = &s.g;
        let input = f32_arg(inputs, 0, g.input_len(), &self.label, "the input")?;
        let bias = opt_f32_arg(inputs, 2, g.out_c, &self.label)?;
        let output = f32_out(outputs, g.output_len(), &self.label)?;
        let q = match &self.scales {
            HybridScales::PerChannel(_) => quantize_asymmetric(input, g.batches),
            HybridScales::PerTensor(scale) => quantize_symmetric(input, g.batches, *scale),
        };
        let filter = &self.filter;
        let (lo, hi) = self.act;
        for b in 0..g.batches {
            let input_offset = q.offset[b];
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for oc in 0..g.out_c {
                        let mut acc: i32 = 0;
                        s.for_each_tap((b, oy, ox, oc), |x, w| {
                            let input_val = i32::from(q.data[x]);
                            let filter_val = i32::from(filter[w]);
                            acc =
                                acc.wrapping_add(filter_val.wrapping_mul(input_val - input_offset));
                        });
                        let mut acc_float = match &self.scales {
                            HybridScales::PerChannel(scale) => {
                                acc as f32 * scale[oc] * q.scaling[b]
                            }
                            // MatrixBatchVectorMultiplyAccumulate into a zeroed output.
                            HybridScales::PerTensor(_) => 0.0 + acc as f32 * q.scaling[b],
                        };
                        if let Some(bias) = bias {
                            acc_float += bias[oc];
                        }
                        output[g.out_offset(b, oy, ox) + oc] = clamp_like_cpp(acc_float, lo, hi);
                    }
                }
            }
        }
        Ok(())
    }
}
