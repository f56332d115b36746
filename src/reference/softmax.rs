//! SOFTMAX (float32; int8/uint8 as the reference kernel computes it), over the last axis.
//!
//! `BUILTIN_REF` runs `Register_SOFTMAX_REF` (`kernels/activations.cc`):
//! - float32: `reference_ops::Softmax` (`reference/softmax.h`): per row, the max, then
//!   `e = expf((x - max) * beta)` summed in float in order, then `e / sum`.
//! - int8/uint8 input (`SoftmaxPrepare<kReference>`): `PreprocessSoftmaxScaling(beta, s_in,
//!   5)` gives `input_multiplier`/`input_left_shift` for `min(beta * s_in * 2^26, 2^31 - 1)`
//!   (double), `diff_min = -CalculateInputRadius(5, input_left_shift)`; the kernel is the
//!   quantized `reference_ops::Softmax`: gemmlowp `exp_on_negative_values` on Q5.26
//!   differences, a Q12.19 sum, `GetReciprocal`, and a rounding shift to the output's
//!   8 or 16 bits, offset by the output type's minimum (not its zero point). int8 → int8
//!   requires the output zero point -128 and scale within 0.1% of 1/256; uint8 → uint8 and
//!   int8/uint8 → int16 are not checked by TFLite (the kernel ignores the output params).
//!   The optimized kernel's float table is not used by the reference resolver.
//! - int16 → int16: `reference_ops::SoftmaxInt16`'s two 513-entry tables (`softmax16.rs`).
//!
//! Float32 in the converter's order ([`FloatOrder::Converter`]): the optimized kernel's Eigen
//! expressions (`optimized_ops::Softmax`; `float_order.rs`): Eigen's own vectorised `exp`,
//! the row sum in Eigen's `redux` order, and a product by the sum's inverse.

use crate::model::DType;
use crate::quant::fixedpoint::{
    calculate_input_radius, exp_on_negative_values, get_reciprocal,
    multiply_by_quantized_multiplier_greater_than_one, quantize_multiplier, rounding_divide_by_pot,
    saturating_rounding_multiply_by_pot, srdhm,
};
use crate::{Buf, Error, Result, Tensor};

use super::activations::{one_in_one_out, unary_run_io};
use super::common::shape_of;
use super::float_order::{eigen_pexp, eigen_redux_sum};
use super::{FloatOrder, Kernel, OpCtx};

/// Integer bits of the scaled input differences (Q5.26).
const SCALED_DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials (Q12.19).
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// The quantized softmax's parameters (`SoftmaxParams` as `SoftmaxPrepare` fills them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SoftmaxQuantParams {
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    pub diff_min: i32,
}

/// `PreprocessSoftmaxScaling(beta, input_scale, 5)` and `diff_min`; `Err` where TFLite's
/// `QuantizeMultiplierGreaterThanOne` would fail its checks.
pub(crate) fn softmax_quant_params(
    beta: f64,
    input_scale: f64,
) -> std::result::Result<SoftmaxQuantParams, String> {
    let max_real_multiplier = (1i64 << 31) as f64 - 1.0;
    let raw = beta * input_scale * (1i64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64;
    // `f64::min` would drop a NaN (std::min(NaN, max) in C++ keeps it, and
    // QuantizeMultiplierGreaterThanOne's TFLITE_CHECK_GT then aborts LiteRT).
    let real = if raw.is_nan() {
        raw
    } else {
        raw.min(max_real_multiplier)
    };
    if real.is_nan() || real <= 1.0 {
        return Err(format!(
            "beta * input scale * 2^26 = {real} must exceed 1 (QuantizeMultiplierGreaterThanOne)"
        ));
    }
    let m = quantize_multiplier(real);
    if !(0..=31).contains(&m.shift) {
        return Err(format!("input left shift {} is out of range", m.shift));
    }
    Ok(SoftmaxQuantParams {
        input_multiplier: m.multiplier,
        input_left_shift: m.shift,
        diff_min: -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, m.shift, 31),
    })
}

/// The quantized `reference_ops::Softmax` on one row: `input` values (int8/uint8 as
/// `i32`), the input type's minimum, and the output type's `[min, max]` and bit width.
/// `Err` where TFLite's `TFLITE_CHECK(0 <= exponent && exponent <= 31)` aborts (more than
/// ~256 near-equal maxima with an 8-bit output).
pub(crate) fn softmax_row_q(
    p: &SoftmaxQuantParams,
    input: &[i32],
    input_min: i32,
    (output_min, output_max, output_bits): (i32, i32, i32),
    output: &mut [i32],
) -> std::result::Result<(), String> {
    let max_in_row = input.iter().copied().fold(input_min, i32::max);
    let scaled_diff = |x: i32| -> Option<i32> {
        let input_diff = x - max_in_row;
        (input_diff >= p.diff_min).then(|| {
            multiply_by_quantized_multiplier_greater_than_one(
                input_diff,
                p.input_multiplier,
                p.input_left_shift,
            )
        })
    };
    // Sum of exp in Q12.19 (Rescale<12> of a Q0.31 value; plain int32 additions).
    let mut sum_of_exps = 0i32;
    for &x in input {
        if let Some(d) = scaled_diff(x) {
            let e = exp_on_negative_values(d, SCALED_DIFF_INTEGER_BITS);
            sum_of_exps = sum_of_exps.wrapping_add(saturating_rounding_multiply_by_pot(
                e,
                -ACCUMULATION_INTEGER_BITS,
            ));
        }
    }
    let (shifted_scale, num_bits_over_unit) =
        get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
    let exponent = num_bits_over_unit + 31 - output_bits;
    if !(0..=31).contains(&exponent) {
        return Err(format!(
            "the sum of exponentials needs a shift of {exponent} (TFLite's reference kernel \
             aborts on this row)"
        ));
    }
    for (y, &x) in output.iter_mut().zip(input) {
        *y = match scaled_diff(x) {
            Some(d) => {
                let exp_in_0 = exp_on_negative_values(d, SCALED_DIFF_INTEGER_BITS);
                let unsat_output = rounding_divide_by_pot(srdhm(shifted_scale, exp_in_0), exponent);
                unsat_output
                    .wrapping_add(output_min)
                    .min(output_max)
                    .max(output_min)
            }
            None => output_min,
        };
    }
    Ok(())
}

/// Input and output hold the same whole number of rows of `depth` elements.
fn check_rows(label: &str, input_len: usize, output_len: usize, depth: usize) -> Result<()> {
    if input_len != output_len || depth == 0 || input_len % depth != 0 {
        return Err(Error::Shape(format!(
            "{label}: input and output do not fit"
        )));
    }
    Ok(())
}

pub(crate) struct SoftmaxF32 {
    label: String,
    pub(crate) beta: f32,
    pub(crate) depth: usize,
    /// The converter's kernel (`optimized_ops::Softmax`, [`FloatOrder::Converter`]).
    pub(crate) converter: bool,
}

impl SoftmaxF32 {
    /// `SoftmaxImpl`'s Eigen expressions on row `row` (`float_order.rs`): Eigen's `pexp`,
    /// the row summed by `redux`, each value times the sum's inverse.
    fn converter_row(&self, row: usize, x: &[f32], y: &mut [f32]) {
        let max = x
            .iter()
            .copied()
            .fold(f32::MIN, |m, v| if m < v { v } else { m });
        for (y, &x) in y.iter_mut().zip(x) {
            *y = eigen_pexp((x - max) * self.beta);
        }
        let inv = 1.0 / eigen_redux_sum(y, (row * self.depth) % 8);
        for y in y.iter_mut() {
            *y *= inv;
        }
    }
}

impl Kernel for SoftmaxF32 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let label = &self.label;
        let (input, output) = unary_run_io(label, inputs, outputs)?;
        let (Buf::F32(x), Buf::F32(y)) = (input.buf(), output.buf_mut()) else {
            return Err(Error::Shape(format!("{label}: float32 tensors expected")));
        };
        check_rows(label, x.len(), y.len(), self.depth)?;
        if self.converter {
            for (row, (x, y)) in x
                .chunks_exact(self.depth)
                .zip(y.chunks_exact_mut(self.depth))
                .enumerate()
            {
                self.converter_row(row, x, y);
            }
            return Ok(());
        }
        for (x, y) in x
            .chunks_exact(self.depth)
            .zip(y.chunks_exact_mut(self.depth))
        {
            let max = x
                .iter()
                .copied()
                .fold(f32::MIN, |m, v| if m < v { v } else { m });
            let mut sum = 0.0f32;
            for (y, &x) in y.iter_mut().zip(x) {
                let e = ((x - max) * self.beta).exp();
                *y = e;
                sum += e;
            }
            for y in y.iter_mut() {
                *y /= sum;
            }
        }
        Ok(())
    }
}

pub(crate) struct SoftmaxQuant {
    label: String,
    pub(crate) params: SoftmaxQuantParams,
    pub(crate) depth: usize,
}

impl Kernel for SoftmaxQuant {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let label = &self.label;
        let (input, output) = unary_run_io(label, inputs, outputs)?;
        let (x, input_min): (Vec<i32>, i32) = match input.buf() {
            Buf::I8(v) => (v.iter().map(|&v| v as i32).collect(), i8::MIN as i32),
            Buf::U8(v) => (v.iter().map(|&v| v as i32).collect(), 0),
            _ => return Err(Error::Shape(format!("{label}: int8/uint8 input expected"))),
        };
        let out_range = match output.dtype() {
            DType::I8 => (-128, 127, 8),
            DType::U8 => (0, 255, 8),
            DType::I16 => (-32768, 32767, 16),
            d => return Err(Error::Shape(format!("{label}: {d} output unexpected"))),
        };
        check_rows(label, x.len(), output.len(), self.depth)?;
        let mut y = vec![0i32; x.len()];
        for (x, y) in x
            .chunks_exact(self.depth)
            .zip(y.chunks_exact_mut(self.depth))
        {
            softmax_row_q(&self.params, x, input_min, out_range, y)
                .map_err(|why| Error::Unsupported(format!("{label}: {why}")))?;
        }
        match output.buf_mut() {
            Buf::I8(o) => o.iter_mut().zip(&y).for_each(|(o, &v)| *o = v as i8),
            Buf::U8(o) => o.iter_mut().zip(&y).for_each(|(o, &v)| *o = v as u8),
            Buf::I16(o) => o.iter_mut().zip(&y).for_each(|(o, &v)| *o = v as i16),
            _ => {}
        }
        Ok(())
    }
}

pub(super) fn prepare_softmax(ctx: &OpCtx, beta: f32) -> Result<Box<dyn Kernel>> {
    let (input, output) = one_in_one_out(ctx)?;
    let shape = shape_of(input);
    if shape.is_empty() {
        return Err(ctx.unsupported("the input must have rank >= 1"));
    }
    if shape_of(output) != shape {
        return Err(ctx.invalid(format!(
            "output shape {:?} differs from input shape {:?}",
            output.shape, input.shape
        )));
    }
    let depth = shape[shape.len() - 1];
    if depth == 0 {
        return Err(ctx.unsupported("the last dimension is empty"));
    }
    let label = ctx.label();
    match (input.dtype, output.dtype) {
        (DType::F32, DType::F32) => Ok(Box::new(SoftmaxF32 {
            label,
            beta,
            depth,
            converter: ctx.float_order == FloatOrder::Converter,
        })),
        (DType::I8 | DType::U8, DType::I8 | DType::U8 | DType::I16)
            if input.dtype == output.dtype || output.dtype == DType::I16 =>
        {
            let (s_in, _) = ctx.per_tensor(input)?;
            if output.dtype == DType::I8 {
                let (s_out, zp_out) = ctx.per_tensor(output)?;
                if zp_out != -128 {
                    return Err(
                        ctx.unsupported(format!("the output zero point must be -128, is {zp_out}"))
                    );
                }
                // TF_LITE_ENSURE_NEAR in float.
                if (s_out - 1.0f32 / 256.0).abs() > 0.001f32 * 1.0 / 256.0 {
                    return Err(ctx.unsupported(format!(
                        "the output scale must be 1/256 (within 0.1%), is {s_out}"
                    )));
                }
            }
            let params = softmax_quant_params(beta as f64, s_in as f64)
                .map_err(|why| ctx.unsupported(why))?;
            Ok(Box::new(SoftmaxQuant {
                label,
                params,
                depth,
            }))
        }
        (DType::I16, DType::I16) => Ok(Box::new(super::softmax16::Softmax16::prepare(
            ctx, beta, depth,
        )?)),
        (i, o) => Err(ctx.unsupported(format!(
            "{} input with {} output is not supported",
            i.name(),
            o.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::test_support::{run_alone_everywhere, Compare};

    /// The quantized softmax tracks the real softmax within about one output step.
    #[test]
    fn quantized_softmax_tracks_the_real_function() {
        let mut state = 12345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        for &(scale, beta) in &[(0.0133f32, 1.0f32), (0.1, 1.0), (0.05, 2.0), (0.5, 0.7)] {
            let p = softmax_quant_params(beta as f64, scale as f64).unwrap();
            for depth in [1usize, 2, 7, 10, 31, 255] {
                let x: Vec<i32> = (0..depth).map(|_| (next() % 256) as i32 - 128).collect();
                let mut y = vec![0; depth];
                softmax_row_q(&p, &x, -128, (-128, 127, 8), &mut y).unwrap();
                let max = *x.iter().max().unwrap() as f64;
                let e: Vec<f64> = x
                    .iter()
                    .map(|&v| ((v as f64 - max) * scale as f64 * beta as f64).exp())
                    .collect();
                let sum: f64 = e.iter().sum();
                for (i, &q) in y.iter().enumerate() {
                    let want = (e[i] / sum * 256.0 - 128.0).round().clamp(-128.0, 127.0);
                    assert!(
                        (q as f64 - want).abs() <= 1.0,
                        "scale {scale} depth {depth} [{i}]: {q} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn one_element_rows_give_one() {
        let p = softmax_quant_params(1.0, 0.01).unwrap();
        let mut y = [0];
        softmax_row_q(&p, &[-77], -128, (-128, 127, 8), &mut y).unwrap();
        // 1.0 is 256 - 128 = 128, saturated to 127.
        assert_eq!(y, [127]);
        softmax_row_q(&p, &[200], 0, (0, 255, 8), &mut y).unwrap();
        assert_eq!(y, [255]);
        let mut y16 = [0];
        softmax_row_q(&p, &[3], -128, (-32768, 32767, 16), &mut y16).unwrap();
        assert_eq!(y16, [32767]);
    }

    #[test]
    fn differences_below_diff_min_give_the_minimum() {
        // A large scale: the radius is small and far-below values are dropped.
        let p = softmax_quant_params(1.0, 1.0).unwrap();
        assert!(p.diff_min > -255, "{p:?}");
        let mut y = [0; 2];
        softmax_row_q(&p, &[127, -128], -128, (-128, 127, 8), &mut y).unwrap();
        assert_eq!(y, [127, -128]);
    }

    #[test]
    fn params_follow_preprocess_softmax_scaling() {
        // beta * scale * 2^26 = 2^20 exactly: multiplier 2^30, left shift 21.
        let p = softmax_quant_params(1.0, 2f64.powi(-6)).unwrap();
        assert_eq!(p.input_multiplier, 1 << 30);
        assert_eq!(p.input_left_shift, 21);
        assert_eq!(p.diff_min, -calculate_input_radius(5, 21, 31));
        assert_eq!(p.diff_min, -992); // floor(31 * 2^26 / 2^21)
                                      // Capped at 2^31 - 1.
        let p = softmax_quant_params(1.0, 1e6).unwrap();
        assert_eq!(p.input_left_shift, 31);
        // Too small a product fails like QuantizeMultiplierGreaterThanOne.
        assert!(softmax_quant_params(1.0, 1e-9).is_err());
    }

    #[test]
    fn too_many_equal_maxima_abort_like_tflite() {
        let p = softmax_quant_params(1.0, 0.01).unwrap();
        let x = vec![5; 600];
        let mut y = vec![0; 600];
        assert!(softmax_row_q(&p, &x, -128, (-128, 127, 8), &mut y).is_err());
        // With 511 the sum stays below 2^28 and the shift within 31.
        let x = vec![5; 511];
        let mut y = vec![0; 511];
        softmax_row_q(&p, &x, -128, (-128, 127, 8), &mut y).unwrap();
    }

    /// Every SOFTMAX of the fixtures, alone on LiteRT's recorded inputs.
    #[test]
    fn softmax_ops_match_their_goldens() {
        let r = run_alone_everywhere(&["SOFTMAX"], Compare::Tolerance);
        assert!(r.failures.is_empty(), "{}", r.failures.join("\n"));
        println!(
            "checked {} softmax op instances against their goldens",
            r.ops
        );
        assert!(
            r.ops >= 6,
            "only {} softmax ops found in the fixtures",
            r.ops
        );
    }
}
