//! FULLY_CONNECTED (`kernels/fully_connected.cc`, `Register_FULLY_CONNECTED_REF`).
//!
//! Shapes: weights `[units, depth]`; the input is any tensor of `batches * depth` elements
//! (rows of `depth`); the output `batches * units` elements (`[batches, units]`, or the input's
//! shape with the last dimension replaced when `keep_num_dims`).

use std::marker::PhantomData;

use crate::model::{DType, FullyConnectedOptions};
use crate::{Result, Tensor};

use super::super::common::{clamp_i32, clamp_like_cpp, quantized_activation_range, shape_of};
use super::super::float_order::eigen_product_dot;
use super::super::{FloatOrder, Kernel, OpCtx};
use super::{
    arg, batch_quantize, check_len, f32s, f32s_mut, i32s, i8s, out0, qs, qs_mut, row_sums,
    FloatAct, QElem, Slice,
};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Dims {
    pub(crate) batches: usize,
    pub(crate) units: usize,
    pub(crate) depth: usize,
}

impl Dims {
    /// A run's input and weights, checked against the prepared sizes.
    fn operands<'t, X, W>(
        &self,
        l: &str,
        inputs: &[Option<&'t Tensor>],
        input: Slice<'t, X>,
        weights: Slice<'t, W>,
    ) -> Result<(&'t [X], &'t [W])> {
        let x = input(l, "the input", arg(l, inputs, 0)?)?;
        let w = weights(l, "the weights", arg(l, inputs, 1)?)?;
        check_len(l, "the input", x.len(), self.batches * self.depth)?;
        check_len(l, "the weights", w.len(), self.units * self.depth)?;
        Ok((x, w))
    }

    /// A float kernel's output, checked; `None` once zeroed for an empty depth (Eval
    /// memsets the output).
    fn float_output<'o>(
        &self,
        l: &str,
        outputs: &'o mut [Tensor],
    ) -> Result<Option<&'o mut [f32]>> {
        let out = f32s_mut(l, out0(l, outputs)?)?;
        check_len(l, "the output", out.len(), self.batches * self.units)?;
        if self.depth == 0 {
            out.iter_mut().for_each(|v| *v = 0.0);
            return Ok(None);
        }
        Ok(Some(out))
    }

    /// A run's float bias, checked (`None` when the op has none).
    fn float_bias<'t>(
        &self,
        l: &str,
        inputs: &[Option<&'t Tensor>],
        has_bias: bool,
    ) -> Result<Option<&'t [f32]>> {
        if !has_bias {
            return Ok(None);
        }
        let b = f32s(l, "the bias", arg(l, inputs, 2)?)?;
        check_len(l, "the bias", b.len(), self.units)?;
        Ok(Some(b))
    }
}

pub(super) fn prepare(ctx: &OpCtx, o: &FullyConnectedOptions) -> Result<Box<dyn Kernel>> {
    let n = ctx.num_inputs();
    if n != 2 && n != 3 {
        return Err(ctx.invalid(format!("takes 2 or 3 inputs, has {n}")));
    }
    if o.weights_format != 0 {
        return Err(ctx.unsupported(format!(
            "weights format {} (shuffled weights) is not supported",
            o.weights_format
        )));
    }
    if ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!("has {} outputs, 1 expected", ctx.op.outputs.len())));
    }
    let input = ctx.input(0)?;
    let filter = ctx.input(1)?;
    let bias = if n == 3 { ctx.opt_input(2) } else { None };
    let output = ctx.output(0)?;

    let fshape = shape_of(filter);
    if fshape.len() != 2 {
        return Err(ctx.invalid(format!("the weights must be 2-D, got {fshape:?}")));
    }
    let (units, depth) = (fshape[0], fshape[1]);
    let ishape = shape_of(input);
    let input_size: usize = ishape.iter().product();
    let batches = if depth == 0 {
        ishape.iter().rev().skip(1).product()
    } else {
        if input_size % depth != 0 {
            return Err(ctx.invalid(format!(
                "input {ishape:?} is not a whole number of rows of the weights' depth {depth}"
            )));
        }
        input_size / depth
    };
    if o.keep_num_dims && depth != 0 && ishape.last() != Some(&depth) {
        return Err(ctx.invalid(format!(
            "keep_num_dims needs the input's last dimension to be {depth}, input {ishape:?}"
        )));
    }
    // TFLite sizes the output itself (`UpdateOutputSize`); the model's shape must hold the same
    // elements in the same order.
    let oshape = shape_of(output);
    let out_elems: usize = oshape.iter().product();
    if out_elems != batches * units || (out_elems != 0 && oshape.last() != Some(&units)) {
        return Err(ctx.invalid(format!(
            "output {oshape:?} does not hold {batches} rows of {units} units"
        )));
    }
    if let Some(b) = bias {
        let nb: usize = shape_of(b).iter().product();
        if nb != units {
            return Err(ctx.invalid(format!("bias has {nb} elements, the weights {units} units")));
        }
    }
    let dims = Dims {
        batches,
        units,
        depth,
    };
    let label = ctx.label();
    match (input.dtype, filter.dtype, output.dtype) {
        (DType::F32, DType::F32, DType::F32) => {
            if let Some(b) = bias {
                if b.dtype != DType::F32 {
                    return Err(ctx.unsupported("a float FULLY_CONNECTED needs a float32 bias"));
                }
            }
            let (lo, hi) = super::super::common::float_activation_range(o.activation)
                .ok_or_else(|| ctx.unsupported(format!("fused activation {:?}", o.activation)))?;
            Ok(Box::new(FloatFc {
                label,
                dims,
                lo,
                hi,
                has_bias: bias.is_some(),
                order: ctx.float_order,
            }))
        }
        (DType::F32, DType::I8, DType::F32) => prepare_hybrid(ctx, o, dims, bias),
        (DType::I8, DType::I8, DType::I8) => prepare_quantized::<i8>(ctx, o, dims, bias),
        (DType::U8, DType::U8, DType::U8) => prepare_quantized::<u8>(ctx, o, dims, bias),
        (DType::I16, DType::I8, DType::I16) => super::fc16::prepare(ctx, o, dims, bias),
        _ => Err(ctx.unsupported(
            "supported: float32, int8 (per-tensor or per-channel weights), uint8, 16x8 (int16 \
             activations with int8 weights), and hybrid (float32 activations with int8 weights)",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// float32: `reference_ops::FullyConnected`.

pub(crate) struct FloatFc {
    pub(crate) label: String,
    pub(crate) dims: Dims,
    pub(crate) lo: f32,
    pub(crate) hi: f32,
    pub(crate) has_bias: bool,
    pub(crate) order: FloatOrder,
}

impl Kernel for FloatFc {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let Dims {
            batches,
            units,
            depth,
        } = self.dims;
        let (x, w) = self.dims.operands(l, inputs, f32s, f32s)?;
        let bias = self.dims.float_bias(l, inputs, self.has_bias)?;
        let Some(out) = self.dims.float_output(l, outputs)? else {
            return Ok(());
        };
        for b in 0..batches {
            for o in 0..units {
                let (xr, wr) = (&x[b * depth..][..depth], &w[o * depth..][..depth]);
                let total = match self.order {
                    FloatOrder::Reference => {
                        let mut total = 0.0f32;
                        for d in 0..depth {
                            total += xr[d] * wr[d];
                        }
                        total
                    }
                    // One input row (or one unit): Eigen's GEMV; else its GEMM kernel.
                    FloatOrder::Converter => eigen_product_dot(wr, xr, (o, units), (b, batches)),
                };
                let bias_value = bias.map_or(0.0, |v| v[o]);
                out[o + units * b] = clamp_like_cpp(total + bias_value, self.lo, self.hi);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// int8 / uint8: `reference_integer_ops::FullyConnected` (per-tensor weights, weight zero point
// applied), `FullyConnectedPerChannel` (weights symmetric, zero point ignored), and
// `reference_ops::FullyConnected` for uint8.

/// The requantization of the reference kernels that take the float scales (the ones
/// `Eval<kReference>` calls): `round((double)acc * effective_output_scale)`, rounding half away
/// from zero, then `+ output zero point` and the clamp. Not `MultiplyByQuantizedMultiplier`:
/// the multipliers `Prepare` computes feed only the optimized kernels. (The goldens tell the
/// two apart: `fc_keepdims_int8` differs by one in two elements with the fixed-point form.)
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DoubleEpilogue {
    /// Per output unit (zeros when the op has no bias).
    pub(crate) bias: Vec<i32>,
    /// `input_scale * filter_scale[c] / output_scale`, in double, per output unit.
    pub(crate) scale: Vec<f64>,
    pub(crate) output_zero_point: i32,
    pub(crate) act_min: i32,
    pub(crate) act_max: i32,
}

impl DoubleEpilogue {
    /// The requantized output of accumulator `acc` of output unit `channel`.
    #[inline]
    pub(crate) fn apply(&self, acc: i32, channel: usize) -> i32 {
        let acc = acc.wrapping_add(self.bias[channel]);
        // static_cast<int32_t>(round(double)): f64::round is half away from zero; `as`
        // saturates where C++ would be undefined.
        let scaled = (f64::from(acc) * self.scale[channel]).round() as i32;
        clamp_i32(
            scaled.wrapping_add(self.output_zero_point),
            self.act_min,
            self.act_max,
        )
    }
}

/// Per-channel weight scales: one per output unit, along the weights' dimension 0.
fn check_per_unit_scales(
    ctx: &OpCtx,
    filter: &crate::model::Tensor,
    fq: &crate::model::QuantParams,
    units: usize,
) -> Result<()> {
    let qdim = usize::try_from(fq.quantized_dimension).ok();
    let fshape = shape_of(filter);
    if qdim.and_then(|d| fshape.get(d)) != Some(&fq.scale.len()) || fq.scale.len() != units {
        return Err(ctx.unsupported(format!(
            "{} weight scales along dimension {} of weights {fshape:?}: one per output \
             unit (dimension 0) is supported",
            fq.scale.len(),
            fq.quantized_dimension
        )));
    }
    Ok(())
}

pub(crate) struct QuantFc<T: QElem> {
    pub(crate) label: String,
    pub(crate) dims: Dims,
    /// `-input zero point`.
    pub(crate) input_offset: i32,
    /// `-weights zero point` (per-tensor weights; 0 for per-channel).
    pub(crate) filter_offset: i32,
    pub(crate) epilogue: DoubleEpilogue,
    pub(crate) _t: PhantomData<T>,
}

fn prepare_quantized<T: QElem>(
    ctx: &OpCtx,
    o: &FullyConnectedOptions,
    dims: Dims,
    bias: Option<&crate::model::Tensor>,
) -> Result<Box<dyn Kernel>> {
    let input = ctx.input(0)?;
    let filter = ctx.input(1)?;
    let output = ctx.output(0)?;
    let (in_scale, in_zp) = ctx.per_tensor(input)?;
    let (out_scale, out_zp) = ctx.per_tensor(output)?;
    let fq = filter
        .quant
        .as_ref()
        .filter(|q| !q.scale.is_empty())
        .ok_or_else(|| ctx.unsupported("the weights need quantization parameters"))?;
    let units = dims.units;
    let per_channel = fq.scale.len() > 1;
    let (scales, filter_offset) = if per_channel {
        if input.dtype != DType::I8 {
            return Err(ctx.unsupported("per-channel weights need int8 activations"));
        }
        check_per_unit_scales(ctx, filter, fq, units)?;
        // FullyConnectedPerChannel: input_scale * filter_scale / output_scale, in double.
        let eff: Vec<f64> = fq
            .scale
            .iter()
            .map(|&fs| f64::from(in_scale) * f64::from(fs) / f64::from(out_scale))
            .collect();
        (eff, 0)
    } else {
        let fs = fq.scale[0];
        let fzp = fq.zero_point.first().copied().unwrap_or(0) as i32;
        if let Some(b) = bias {
            // GetQuantizedConvolutionMultipler: the bias scale must be close to
            // input_scale * filter_scale (relative to the output scale).
            let bias_scale = b
                .quant
                .as_ref()
                .filter(|q| q.scale.len() == 1)
                .map_or(0.0, |q| f64::from(q.scale[0]));
            let product = f64::from(in_scale) * f64::from(fs);
            if (product - bias_scale).abs() / f64::from(out_scale) > 0.02 {
                return Err(ctx.unsupported(format!(
                    "bias scale {bias_scale} is not input scale × weight scale ({product})"
                )));
            }
        }
        // Prepare's GetQuantizedConvolutionMultipler (float product of the scales) must
        // succeed, but the reference kernel rescales with the double product.
        let real = f64::from(in_scale * fs) / f64::from(out_scale);
        if real.is_nan() || real < 0.0 {
            return Err(ctx.unsupported(format!("requantization multiplier {real}")));
        }
        let eff = f64::from(in_scale) * f64::from(fs) / f64::from(out_scale);
        (vec![eff; units], fzp.wrapping_neg())
    };
    let (act_min, act_max) =
        quantized_activation_range(o.activation, output.dtype, out_scale, out_zp)
            .ok_or_else(|| ctx.unsupported(format!("fused activation {:?}", o.activation)))?;
    let bias = match bias {
        None => vec![0; units],
        Some(b) => {
            if b.dtype != DType::I32 {
                return Err(
                    ctx.unsupported(format!("bias of type {} (int32 expected)", b.dtype.name()))
                );
            }
            let v = ctx.require_const(2, "the bias")?;
            let v = i32s(&ctx.label(), "the bias", v)?;
            v.to_vec()
        }
    };
    Ok(Box::new(QuantFc::<T> {
        label: ctx.label(),
        dims,
        input_offset: in_zp.wrapping_neg(),
        filter_offset,
        epilogue: DoubleEpilogue {
            bias,
            scale: scales,
            output_zero_point: out_zp,
            act_min,
            act_max,
        },
        _t: PhantomData,
    }))
}

impl<T: QElem> Kernel for QuantFc<T> {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let Dims {
            batches,
            units,
            depth,
        } = self.dims;
        let (x, w) = self.dims.operands(l, inputs, qs::<T>, qs::<T>)?;
        let out = qs_mut::<T>(l, out0(l, outputs)?)?;
        check_len(l, "the output", out.len(), batches * units)?;
        if depth == 0 {
            out.iter_mut().for_each(|v| *v = T::from_i32(0));
            return Ok(());
        }
        let ep = &self.epilogue;
        for b in 0..batches {
            for o in 0..units {
                let mut acc = 0i32;
                for d in 0..depth {
                    let input_val = x[b * depth + d].to_i32();
                    let filter_val = w[o * depth + d].to_i32();
                    acc = acc.wrapping_add(
                        // Wrapping as the C++ int32 arithmetic compiles (an offset from a zero
                        // point far outside the type can overflow the product).
                        (filter_val.wrapping_add(self.filter_offset))
                            .wrapping_mul(input_val.wrapping_add(self.input_offset)),
                    );
                }
                out[o + units * b] = T::from_i32(ep.apply(acc, o));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Hybrid: `EvalHybridDense` (float activations quantized per row at run time, int8 weights,
// float bias and output).

pub(crate) struct HybridFc {
    pub(crate) label: String,
    pub(crate) dims: Dims,
    pub(crate) asymmetric: bool,
    /// Per output unit (per-channel weights), or `None` with `filter_scale` folded into each
    /// row's scaling factor.
    pub(crate) per_channel: Option<Vec<f32>>,
    pub(crate) filter_scale: f32,
    pub(crate) act: FloatAct,
    pub(crate) has_bias: bool,
}

fn prepare_hybrid(
    ctx: &OpCtx,
    o: &FullyConnectedOptions,
    dims: Dims,
    bias: Option<&crate::model::Tensor>,
) -> Result<Box<dyn Kernel>> {
    let filter = ctx.input(1)?;
    if let Some(b) = bias {
        if b.dtype != DType::F32 {
            return Err(ctx.unsupported("a hybrid FULLY_CONNECTED needs a float32 bias"));
        }
    }
    let fq = filter
        .quant
        .as_ref()
        .filter(|q| !q.scale.is_empty())
        .ok_or_else(|| ctx.unsupported("the int8 weights need a quantization scale"))?;
    let per_channel = if fq.scale.len() > 1 {
        check_per_unit_scales(ctx, filter, fq, dims.units)?;
        Some(fq.scale.clone())
    } else {
        None
    };
    let act = FloatAct::of(o.activation)
        .ok_or_else(|| ctx.unsupported(format!("fused activation {:?}", o.activation)))?;
    Ok(Box::new(HybridFc {
        label: ctx.label(),
        dims,
        asymmetric: o.asymmetric_quantize_inputs,
        per_channel,
        filter_scale: fq.scale[0],
        act,
        has_bias: bias.is_some(),
    }))
}

impl Kernel for HybridFc {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let Dims {
            batches,
            units,
            depth,
        } = self.dims;
        let (x, w) = self.dims.operands(l, inputs, f32s, i8s)?;
        let bias = self.dims.float_bias(l, inputs, self.has_bias)?;
        let Some(out) = self.dims.float_output(l, outputs)? else {
            return Ok(());
        };
        // Output = bias (or 0) per row.
        for row in out.chunks_exact_mut(units.max(1)) {
            for (o, v) in row.iter_mut().enumerate() {
                *v = bias.map_or(0.0, |b| b[o]);
            }
        }
        // An all-zero input skips the product.
        if !x.iter().all(|&v| v == 0.0) {
            let mut q = vec![0i8; x.len()];
            let rows = batch_quantize(x, depth, self.asymmetric, &mut q);
            let mut scaling: Vec<f32> = rows.iter().map(|r| r.scale).collect();
            if self.per_channel.is_none() {
                for s in &mut scaling {
                    *s *= self.filter_scale;
                }
            }
            // PortableMatrixBatchVectorMultiplyAccumulate with input offsets and row sums.
            let sums = row_sums(w, depth);
            for b in 0..batches {
                let batch_scaling_factor = scaling[b];
                let batch_offset = rows[b].offset;
                for o in 0..units {
                    let mut dotprod = 0i32;
                    let mut scale = batch_scaling_factor;
                    if let Some(pc) = &self.per_channel {
                        scale *= pc[o];
                    }
                    for d in 0..depth {
                        dotprod =
                            dotprod.wrapping_add(w[o * depth + d] as i32 * q[b * depth + d] as i32);
                    }
                    dotprod = dotprod.wrapping_sub(sums[o].wrapping_mul(batch_offset));
                    out[b * units + o] += dotprod as f32 * scale;
                }
            }
        }
        for v in out.iter_mut() {
            *v = self.act.apply(*v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod epilogue_tests {
    use super::DoubleEpilogue;
    use crate::quant::fixedpoint::{multiply_by_quantized_multiplier, quantize_multiplier};

    fn ep(scale: f64, zp: i32, lo: i32, hi: i32) -> DoubleEpilogue {
        DoubleEpilogue {
            bias: vec![0, 1000],
            scale: vec![scale, scale],
            output_zero_point: zp,
            act_min: lo,
            act_max: hi,
        }
    }

    #[test]
    fn rounds_half_away_from_zero_in_double() {
        let e = ep(0.5, 0, -128, 127);
        assert_eq!(e.apply(5, 0), 3);
        assert_eq!(e.apply(-5, 0), -3);
        // The fixed-point form rounds the negative tie up: the two kernels differ here.
        let m = quantize_multiplier(0.5);
        assert_eq!(multiply_by_quantized_multiplier(-5, m), -2);
        // Bias, zero point and clamp.
        assert_eq!(e.apply(-1000, 1), 0);
        let e = ep(0.01, -128, -128, 127);
        assert_eq!(e.apply(100_000, 0), 127);
        assert_eq!(e.apply(-100_000, 0), -128);
        assert_eq!(e.apply(1249, 0), -116);
        assert_eq!(e.apply(1250, 0), -115);
    }

    #[test]
    fn extreme_accumulators_saturate() {
        let e = ep(1e6, 0, -128, 127);
        assert_eq!(e.apply(i32::MAX, 0), 127);
        assert_eq!(e.apply(i32::MIN, 0), -128);
        // The bias add wraps like the C++ int32 addition does on two's complement.
        assert_eq!(
            ep(1.0, 0, i32::MIN, i32::MAX).apply(i32::MAX, 1),
            i32::MIN + 999
        );
    }
}
