//! Random 16x8 problems for `tests/gpu_int16.rs`: one-op CONV_2D, DEPTHWISE_CONV_2D,
//! TRANSPOSE_CONV and FULLY_CONNECTED models with int16 activations (zero point 0), int8
//! weights (per channel or per tensor) and an int64 bias, drawn so that the edges of the
//! 16x8 arithmetic come up: odd sizes, long reductions whose int64 accumulator passes 32
//! bits (inputs at ±32767 with the weights' signs), biases up to 2^62 (the int64 multiply
//! wraps), multipliers from 2^-30 to 2^6 and at the 16-bit reduction's saturation
//! (`M >= 0x7FFF0000`), fused activations.

use litequant::model::{
    Activation, Conv2DOptions, DType, DepthwiseConv2DOptions, FullyConnectedOptions, Op, Padding,
    TransposeConvOptions, OPTIONAL,
};
use litequant::{Buf, Tensor};

use super::problems::{constant, le, one_op_model, qp, tensor, Problem};
use super::Rng;

/// Which 16x8 op a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family16 {
    Conv,
    Depthwise,
    Transpose,
    FullyConnected,
}

/// A requantization multiplier `s_in · s_w / s_out` at an edge or spread over its range.
fn real_multiplier(rng: &mut Rng) -> f64 {
    match rng.next() % 6 {
        // Just below a power of two: the Q31 multiplier rounds to >= 0x7FFF0000, which the
        // 16-bit reduction saturates to 0x7FFF.
        0 => (1.0 - 1e-6) * 2f64.powi(rng.range(-20, 4) as i32),
        // A power of two.
        1 => 2f64.powi(rng.range(-30, 6) as i32),
        _ => 2f64.powf(-30.0 + 36.0 * f64::from(rng.unit())),
    }
}

/// Weight scales (one or one per channel) and the output scale for input scale `s_in`;
/// `long` reductions get multipliers from 2^-31 to 2^-20, so that accumulators past 2^32
/// give outputs inside the int16 range.
fn scales(rng: &mut Rng, channels: usize, s_in: f32, long: bool) -> (Vec<f32>, f32) {
    let s_out = 0.5f32 + rng.unit();
    let s_w = (0..channels)
        .map(|_| {
            let real = match long {
                true => 2f64.powf(-31.0 + 11.0 * f64::from(rng.unit())),
                false => real_multiplier(rng),
            };
            (real * f64::from(s_out) / f64::from(s_in)) as f32
        })
        .collect();
    (s_w, s_out)
}

fn int64_bias(rng: &mut Rng, n: usize) -> Vec<i64> {
    (0..n)
        .map(|_| match rng.next() % 8 {
            0 => [0, 1, -1, 1 << 40, -(1 << 40), i64::MAX / 2, i64::MIN / 2][rng.usize(0, 6)],
            1 => (rng.next() as i64) >> rng.usize(1, 63),
            _ => rng.range(-(1 << 24), 1 << 24),
        })
        .collect()
}

/// `n` int8 weights laid out as `[channels, taps, depth]`; with `signs` (one per depth
/// element), the `first` of channel 0 are `±127` with those signs, the others `±127` at
/// random.
fn weights(rng: &mut Rng, n: usize, first: usize, signs: Option<&[i8]>) -> Vec<i8> {
    (0..n)
        .map(|j| match signs {
            Some(s) if j < first => s[j % s.len()] * 127,
            Some(_) => [-127i8, 127][rng.usize(0, 1)],
            None => rng.range(-127, 127) as i8,
        })
        .collect()
}

/// int16 inputs laid out as `[.., depth]`; with `signs`, mostly `±32767` with the sign
/// of their depth element (channel 0's accumulator then grows past 32 bits).
fn inputs(rng: &mut Rng, n: usize, signs: Option<&[i8]>) -> Vec<i16> {
    (0..n)
        .map(|i| match signs {
            Some(s) if rng.next() % 16 != 0 => i16::from(s[i % s.len()]) * 32767,
            _ => match rng.next() % 6 {
                0 => [-32768, 32767, 0, -1][rng.usize(0, 3)],
                _ => rng.range(-32768, 32767) as i16,
            },
        })
        .collect()
}

fn signs(rng: &mut Rng, n: usize) -> Vec<i8> {
    (0..n).map(|_| [-1i8, 1][rng.usize(0, 1)]).collect()
}

fn activation(rng: &mut Rng) -> Activation {
    rng.pick(&[
        Activation::None,
        Activation::None,
        Activation::Relu,
        Activation::Relu6,
        Activation::ReluN1To1,
    ])
}

/// A random 16x8 problem of `family`; `long` draws a reduction whose accumulator passes
/// 32 bits (not for DEPTHWISE_CONV_2D, whose reduction is the filter window).
pub(crate) fn problem16(rng: &mut Rng, family: Family16, long: bool) -> Problem {
    if family == Family16::FullyConnected {
        return fc_problem(rng, long);
    }
    let batches = rng.usize(1, 2);
    let (mut in_h, mut in_w) = (rng.usize(1, 9), rng.usize(1, 11));
    let (fh, fw) = (rng.usize(1, 4), rng.usize(1, 4));
    let (sh, sw) = (rng.usize(1, 3), rng.usize(1, 3));
    let (dh, dw) = match family {
        Family16::Transpose => (1, 1),
        _ => (rng.pick(&[1, 1, 2, 3]), rng.pick(&[1, 1, 2])),
    };
    let (in_c, filter_in_c, out_c, mult);
    match family {
        Family16::Depthwise => {
            in_c = rng.pick(&[1, 2, 3, 5, 8]);
            mult = rng.pick(&[1, 1, 2, 3]);
            out_c = in_c * mult;
            filter_in_c = 1;
        }
        _ => {
            let groups = if family == Family16::Conv && !long {
                rng.pick(&[1, 1, 2, 3])
            } else {
                1
            };
            filter_in_c = if long {
                rng.usize(1100, 1500)
            } else {
                rng.pick(&[1, 2, 3, 5, 8, 17])
            };
            in_c = filter_in_c * groups;
            out_c = groups * rng.pick(&[1, 2, 3, 5, 7]);
            mult = 1;
        }
    }
    if long {
        in_h = in_h.min(4);
        in_w = in_w.min(4);
    }
    let padding = if (fh - 1) * dh < in_h && (fw - 1) * dw < in_w && rng.next() % 2 == 0 {
        Padding::Valid
    } else {
        Padding::Same
    };
    let (out_h, out_w) = match (family, padding) {
        (Family16::Transpose, Padding::Same) => (in_h * sh, in_w * sw),
        (Family16::Transpose, _) => ((in_h - 1) * sh + fh, (in_w - 1) * sw + fw),
        (_, Padding::Same) => (in_h.div_ceil(sh), in_w.div_ceil(sw)),
        _ => (
            (in_h - (fh - 1) * dh - 1) / sh + 1,
            (in_w - (fw - 1) * dw - 1) / sw + 1,
        ),
    };
    let act = activation(rng);
    let per_channel = rng.next() % 3 != 0;
    let in_shape = [batches, in_h, in_w, in_c];
    let filter_shape = match family {
        Family16::Depthwise => [1, fh, fw, out_c],
        Family16::Transpose => [out_c, fh, fw, in_c],
        _ => [out_c, fh, fw, filter_in_c],
    };
    let out_shape = [batches, out_h, out_w, out_c];
    let n_filter: usize = filter_shape.iter().product();
    let n_in: usize = in_shape.iter().product();
    let s_in = 1.0 / 32768.0 * (0.5 + rng.unit());
    let (s_w, s_out) = scales(rng, if per_channel { out_c } else { 1 }, s_in, long);
    let zeros = vec![0; s_w.len()];
    let axis = if family == Family16::Depthwise { 3 } else { 0 };
    // Long reductions: input channels and output channel 0's weights share signs, so that
    // channel 0's accumulator grows past 32 bits.
    let sg = signs(rng, in_c);
    let sg = long.then_some(sg.as_slice());
    let w = weights(rng, n_filter, n_filter / out_c, sg);
    let x = inputs(rng, n_in, sg);
    let has_bias = family == Family16::Conv || rng.next() % 4 != 0;
    let bias = int64_bias(rng, out_c);
    let input_t = tensor("input", DType::I16, &in_shape, qp(vec![s_in], vec![0], 0));
    let filter_t = constant(
        tensor("filter", DType::I8, &filter_shape, qp(s_w, zeros, axis)),
        le(&w, |v| vec![v as u8]),
    );
    let bias_t = constant(
        tensor("bias", DType::I64, &[out_c], qp(vec![1.0], vec![0], 0)),
        le(&bias, |v| v.to_le_bytes().to_vec()),
    );
    let output_t = tensor(
        "output",
        DType::I16,
        &out_shape,
        qp(vec![s_out], vec![0], 0),
    );
    let what = format!(
        "{family:?} in {in_shape:?} filter {filter_shape:?} out {out_shape:?} stride \
         {sh}x{sw} dilation {dh}x{dw} {padding:?} {act:?} bias {has_bias} long {long}"
    );
    let model = match family {
        Family16::Transpose => {
            let shape: Vec<i32> = out_shape.iter().map(|&d| d as i32).collect();
            let shape_t = constant(
                tensor("output_shape", DType::I32, &[4], None),
                le(&shape, |v| v.to_le_bytes().to_vec()),
            );
            let op = Op::TransposeConv(TransposeConvOptions {
                padding,
                stride_w: sw as i32,
                stride_h: sh as i32,
                activation: act,
                quantized_bias_type: DType::F32,
            });
            let b = if has_bias { 2 } else { OPTIONAL };
            one_op_model(
                op,
                vec![input_t, filter_t, bias_t, shape_t, output_t],
                vec![3, 1, 0, b],
            )
        }
        Family16::Depthwise => {
            let op = Op::DepthwiseConv2D(DepthwiseConv2DOptions {
                padding,
                stride_w: sw as i32,
                stride_h: sh as i32,
                depth_multiplier: mult as i32,
                activation: act,
                dilation_w: dw as i32,
                dilation_h: dh as i32,
            });
            let inputs = if has_bias { vec![0, 1, 2] } else { vec![0, 1] };
            one_op_model(op, vec![input_t, filter_t, bias_t, output_t], inputs)
        }
        _ => {
            let op = Op::Conv2D(Conv2DOptions {
                padding,
                stride_w: sw as i32,
                stride_h: sh as i32,
                activation: act,
                dilation_w: dw as i32,
                dilation_h: dh as i32,
                quantized_bias_type: DType::F32,
            });
            one_op_model(op, vec![input_t, filter_t, bias_t, output_t], vec![0, 1, 2])
        }
    };
    Problem {
        what,
        model,
        input: Tensor::new(&in_shape, Buf::I16(x)).unwrap(),
    }
}

/// FULLY_CONNECTED 16x8: `[batches, depth]` × `[units, depth]`, with or without a bias
/// (without one the accumulator is int32 and wraps), input and output zero points mostly 0.
fn fc_problem(rng: &mut Rng, long: bool) -> Problem {
    let batches = rng.usize(1, 3);
    let units = rng.pick(&[1, 2, 3, 5, 7, 13]);
    let depth = if long {
        rng.usize(2000, 5000)
    } else {
        rng.usize(1, 40)
    };
    let act = activation(rng);
    let per_channel = rng.next() % 3 != 0;
    let s_in = 1.0 / 32768.0 * (0.5 + rng.unit());
    let (s_w, s_out) = scales(rng, if per_channel { units } else { 1 }, s_in, long);
    let zeros = vec![0; s_w.len()];
    let zp_in = if rng.next() % 4 == 0 {
        rng.range(-300, 300)
    } else {
        0
    };
    let zp_out = if rng.next() % 4 == 0 {
        rng.range(-300, 300)
    } else {
        0
    };
    let sg = signs(rng, depth);
    let sg = long.then_some(sg.as_slice());
    let w = weights(rng, units * depth, depth, sg);
    let x = inputs(rng, batches * depth, sg);
    let has_bias = rng.next() % 3 != 0;
    let bias = int64_bias(rng, units);
    let tensors = vec![
        tensor(
            "input",
            DType::I16,
            &[batches, depth],
            qp(vec![s_in], vec![zp_in], 0),
        ),
        constant(
            tensor("weights", DType::I8, &[units, depth], qp(s_w, zeros, 0)),
            le(&w, |v| vec![v as u8]),
        ),
        constant(
            tensor("bias", DType::I64, &[units], qp(vec![1.0], vec![0], 0)),
            le(&bias, |v| v.to_le_bytes().to_vec()),
        ),
        tensor(
            "output",
            DType::I16,
            &[batches, units],
            qp(vec![s_out], vec![zp_out], 0),
        ),
    ];
    let op = Op::FullyConnected(FullyConnectedOptions {
        activation: act,
        weights_format: 0,
        keep_num_dims: false,
        asymmetric_quantize_inputs: false,
        quantized_bias_type: DType::F32,
        quant_spec: vec![],
    });
    let inputs = if has_bias {
        vec![0, 1, 2]
    } else {
        vec![0, 1, OPTIONAL]
    };
    Problem {
        what: format!(
            "FULLY_CONNECTED [{batches}, {depth}] x [{units}, {depth}] zp {zp_in}/{zp_out} \
             {act:?} bias {has_bias} per-channel {per_channel} long {long}"
        ),
        model: one_op_model(op, tensors, inputs),
        input: Tensor::new(&[batches, depth], Buf::I16(x)).unwrap(),
    }
}
