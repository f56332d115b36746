//! DEPTHWISE_CONV_2D: float32 (`reference_ops::DepthwiseConv`), int8
//! (`reference_integer_ops::DepthwiseConvPerChannel`, and its int16 overload) and hybrid
//! (`reference_integer_ops::DepthwiseConvHybridPerChannel`).

use crate::model::{DType, DepthwiseConv2DOptions};
use crate::Result;

use super::super::common::{clamp_like_cpp, Epilogue};
use super::super::{FloatOrder, Kernel, OpCtx};
use super::int16::{i16_arg, i16_out, int16_params_at, Epilogue16};
use super::{
    conv_operands, f32_arg, f32_out, float_bias_and_range, geometry, hybrid_weights, i8_arg,
    i8_out, int8_params, opt_f32_arg, quantize_asymmetric, Geom,
};

/// The window and the depth multiplier (`output_channel = m + in_channel * multiplier`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DwShape {
    pub(crate) g: Geom,
    pub(crate) depth_multiplier: usize,
}

impl DwShape {
    fn filter_len(&self) -> usize {
        self.g.filter_h * self.g.filter_w * self.g.out_c
    }

    /// Flat offset of filter element `[0, fy, fx, oc]`.
    #[inline]
    fn filter_offset(&self, fy: usize, fx: usize, oc: usize) -> usize {
        (fy * self.g.filter_w + fx) * self.g.out_c + oc
    }

    /// Calls `tap(input index, filter index)` for every in-image tap of output channel `oc`
    /// (of input channel `ic`) at `(b, oy, ox)`, in TFLite's order: filter row, then column.
    #[inline]
    fn for_each_tap(
        &self,
        (b, oy, ox): (usize, usize, usize),
        (ic, oc): (usize, usize),
        mut tap: impl FnMut(usize, usize),
    ) {
        let g = &self.g;
        for fy in 0..g.filter_h {
            let Some(iy) = g.in_y(oy, fy) else { continue };
            for fx in 0..g.filter_w {
                let Some(ix) = g.in_x(ox, fx) else { continue };
                tap(g.in_offset(b, iy, ix) + ic, self.filter_offset(fy, fx, oc));
            }
        }
    }
}

pub(crate) fn prepare_depthwise(
    ctx: &OpCtx,
    o: &DepthwiseConv2DOptions,
) -> Result<Box<dyn Kernel>> {
    let (input, filter, in_shape, [one, filter_h, filter_w, out_c]) = conv_operands(ctx)?;
    if one != 1 {
        return Err(ctx.invalid(format!(
            "the filter must be [1, H, W, C], is {:?}",
            filter.shape
        )));
    }
    let in_c = in_shape[3];
    // `ComputeDepthMultiplier`: from the channel counts, not the options.
    if out_c % in_c != 0 {
        return Err(ctx.invalid(format!(
            "{out_c} output channels are not a multiple of {in_c} input channels"
        )));
    }
    let depth_multiplier = out_c / in_c;
    let g = geometry(ctx, in_shape, (filter_h, filter_w), out_c, &window_of!(o))?;
    let shape = DwShape {
        g,
        depth_multiplier,
    };
    let label = ctx.label();
    match (input.dtype, filter.dtype) {
        (DType::F32, DType::F32) => Ok(Box::new(DwF32 {
            label,
            shape,
            act: float_bias_and_range(ctx, out_c, o.activation)?,
            order: ctx.float_order,
        })),
        (DType::I8, DType::I8) => {
            let (input_offset, filter, epilogue) = int8_params(ctx, out_c, o.activation)?;
            Ok(Box::new(DwI8 {
                label,
                shape,
                input_offset,
                filter,
                epilogue,
            }))
        }
        (DType::F32, DType::I8) => {
            let act = float_bias_and_range(ctx, out_c, o.activation)?;
            // The hybrid loop reads one scale per output channel and the options' multiplier.
            let scales = super::filter_scales(ctx, filter, out_c)?;
            if scales.len() != out_c {
                return Err(ctx.unsupported(format!(
                    "a hybrid depthwise filter needs one scale per output channel, has {}",
                    scales.len()
                )));
            }
            if usize::try_from(o.depth_multiplier).ok() != Some(depth_multiplier) {
                return Err(ctx.unsupported(format!(
                    "hybrid depthwise with depth_multiplier option {} but {out_c} / {in_c} channels",
                    o.depth_multiplier
                )));
            }
            Ok(Box::new(DwHybrid {
                label,
                shape,
                filter: hybrid_weights(ctx)?,
                scales: scales.to_vec(),
                act,
            }))
        }
        (DType::I16, DType::I8) => {
            let (filter, epilogue) =
                int16_params_at(ctx, super::Operands::CONV, out_c, o.activation)?;
            Ok(Box::new(DwI16 {
                label,
                shape,
                filter,
                epilogue,
            }))
        }
        (i, f) => Err(ctx.unsupported(format!(
            "DEPTHWISE_CONV_2D with {i} input and {f} filter (supported: float32, int8 or \
             int16 with int8 weights, float32 with int8 weights)"
        ))),
    }
}

/// `reference_ops::DepthwiseConv` (float).
pub(crate) struct DwF32 {
    pub(crate) label: String,
    pub(crate) shape: DwShape,
    pub(crate) act: (f32, f32),
    pub(crate) order: FloatOrder,
}

impl Kernel for DwF32 {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        let g = &s.g;
        let input = f32_arg(inputs, 0, g.input_len(), &self.label, "the input")?;
        let filter = f32_arg(inputs, 1, s.filter_len(), &self.label, "the filter")?;
        let bias = opt_f32_arg(inputs, 2, g.out_c, &self.label)?;
        let output = f32_out(outputs, g.output_len(), &self.label)?;
        let (lo, hi) = self.act;
        for b in 0..g.batches {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for ic in 0..g.in_c {
                        for m in 0..s.depth_multiplier {
                            let oc = m + ic * s.depth_multiplier;
                            let bias_value = bias.map_or(0.0, |v| v[oc]);
                            let value = match self.order {
                                FloatOrder::Reference => {
                                    let mut total = 0.0f32;
                                    s.for_each_tap((b, oy, ox), (ic, oc), |x, w| {
                                        let input_value = input[x];
                                        let filter_value = filter[w];
                                        total += input_value * filter_value;
                                    });
                                    total + bias_value
                                }
                                // The accumulator starts at the bias.
                                FloatOrder::Converter => {
                                    let mut acc = bias_value;
                                    s.for_each_tap((b, oy, ox), (ic, oc), |x, w| {
                                        acc += filter[w] * input[x];
                                    });
                                    acc
                                }
                            };
                            output[g.out_offset(b, oy, ox) + oc] = clamp_like_cpp(value, lo, hi);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `reference_integer_ops::DepthwiseConvPerChannel`'s 16x8 overload (int16 activations with
/// zero point 0, int8 weights, int64 bias, int64 accumulator; `int16.rs`).
pub(crate) struct DwI16 {
    pub(crate) label: String,
    pub(crate) shape: DwShape,
    pub(crate) filter: Vec<i8>,
    pub(crate) epilogue: Epilogue16,
}

impl Kernel for DwI16 {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        let g = &s.g;
        let input = i16_arg(inputs, 0, g.input_len(), &self.label, "the input")?;
        let output = i16_out(outputs, g.output_len(), &self.label)?;
        let filter = &self.filter;
        for b in 0..g.batches {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for ic in 0..g.in_c {
                        for m in 0..s.depth_multiplier {
                            let oc = m + ic * s.depth_multiplier;
                            let mut acc: i64 = 0;
                            s.for_each_tap((b, oy, ox), (ic, oc), |x, w| {
                                acc += i64::from(filter[w]) * i64::from(input[x]);
                            });
                            output[g.out_offset(b, oy, ox) + oc] = self.epilogue.apply(acc, oc);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `reference_integer_ops::DepthwiseConvPerChannel`.
pub(crate) struct DwI8 {
    pub(crate) label: String,
    pub(crate) shape: DwShape,
    /// `-input_zero_point`.
    pub(crate) input_offset: i32,
    pub(crate) filter: Vec<i8>,
    pub(crate) epilogue: Epilogue,
}

impl Kernel for DwI8 {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        let g = &s.g;
        let input = i8_arg(inputs, 0, g.input_len(), &self.label, "the input")?;
        let output = i8_out(outputs, g.output_len(), &self.label)?;
        let filter = &self.filter;
        for b in 0..g.batches {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for ic in 0..g.in_c {
                        for m in 0..s.depth_multiplier {
                            let oc = m + ic * s.depth_multiplier;
                            let mut acc: i32 = 0;
                            s.for_each_tap((b, oy, ox), (ic, oc), |x, w| {
                                let input_val = i32::from(input[x]);
                                let filter_val = i32::from(filter[w]);
                                acc = acc.wrapping_add(
                                    filter_val
                                        .wrapping_mul(input_val.wrapping_add(self.input_offset)),
                                );
                            });
                            output[g.out_offset(b, oy, ox) + oc] =
                                self.epilogue.apply(acc, oc) as i8;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `reference_integer_ops::DepthwiseConvHybridPerChannel` after per-batch asymmetric input
/// quantization.
pub(crate) struct DwHybrid {
    pub(crate) label: String,
    pub(crate) shape: DwShape,
    pub(crate) filter: Vec<i8>,
    /// One weight scale per output channel.
    pub(crate) scales: Vec<f32>,
    pub(crate) act: (f32, f32),
}

impl Kernel for DwHybrid {
    fn run(&self, inputs: &[Option<&crate::Tensor>], outputs: &mut [crate::Tensor]) -> Result<()> {
        let s = &self.shape;
        let g = &s.g;
        let input = f32_arg(inputs, 0, g.input_len(), &self.label, "the input")?;
        let bias = opt_f32_arg(inputs, 2, g.out_c, &self.label)?;
        let output = f32_out(outputs, g.output_len(), &self.label)?;
        let q = quantize_asymmetric(input, g.batches);
        let filter = &self.filter;
        let (lo, hi) = self.act;
        for b in 0..g.batches {
            let input_offset = q.offset[b];
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for ic in 0..g.in_c {
                        for m in 0..s.depth_multiplier {
                            let oc = m + ic * s.depth_multiplier;
                            let mut acc: i32 = 0;
                            s.for_each_tap((b, oy, ox), (ic, oc), |x, w| {
                                let input_val = i32::from(q.data[x]);
                                let filter_val = i32::from(filter[w]);
                                acc = acc.wrapping_add(
                                    filter_val.wrapping_mul(input_val - input_offset),
                                );
                            });
                            let mut acc_float = acc as f32;
                            acc_float *= self.scales[oc] * q.scaling[b];
                            if let Some(bias) = bias {
                                acc_float += bias[oc];
                            }
                            output[g.out_offset(b, oy, ox) + oc] =
                                clamp_like_cpp(acc_float, lo, hi);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
