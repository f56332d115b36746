//! Random single-op TRANSPOSE_CONV problems for `tests/gpu_conv.rs`: output sizes the
//! padding implies and others (cropped or grown outputs), strides 1-3, SAME/VALID, batches,
//! zero points at the edges, per-channel and per-tensor weight scales, fused activations,
//! with and without bias, in int8, uint8, float32 and hybrid.

use litequant::model::{self, Activation, DType, Op, Padding, TransposeConvOptions};
use litequant::{Model, Tensor};

use super::problems::{constant, le, one_op_model, qp, tensor, Kind, Problem};
use super::Rng;

/// The one-op model: tensors input, weights, bias, output shape, output; the op reads
/// (output shape, weights, input, bias).
fn tconv_model(op: Op, tensors: Vec<model::Tensor>, has_bias: bool) -> Model {
    let bias = if has_bias { 2 } else { model::OPTIONAL };
    one_op_model(op, tensors, vec![3, 1, 0, bias])
}

pub(crate) fn tconv_problem(rng: &mut Rng, kind: Kind) -> Problem {
    let batches = rng.usize(1, 2);
    let (in_h, in_w) = (rng.usize(1, 7), rng.usize(1, 8));
    let (fh, fw) = (rng.usize(1, 4), rng.usize(1, 4));
    let (sh, sw) = (rng.usize(1, 3), rng.usize(1, 3));
    let padding = if rng.next() % 2 == 0 {
        Padding::Valid
    } else {
        Padding::Same
    };
    // The size the padding implies (Keras' Conv2DTranspose), sometimes one more or less.
    let size = |rng: &mut Rng, n: usize, k: usize, s: usize| {
        let base = match padding {
            Padding::Same => n * s,
            _ => (n - 1) * s + k,
        };
        match rng.next() % 6 {
            0 => base + 1,
            1 if base > k => base - 1,
            _ => base,
        }
    };
    let (out_h, out_w) = (size(rng, in_h, fh, sh), size(rng, in_w, fw, sw));
    let act = rng.pick(&[
        Activation::None,
        Activation::Relu,
        Activation::Relu6,
        Activation::ReluN1To1,
    ]);
    let per_channel = rng.next() % 3 != 0;
    let in_c = rng.pick(&[1, 2, 3, 4, 5, 8, 9, 16, 17]);
    let out_c = rng.pick(&[1, 2, 3, 4, 5, 7, 8, 12, 13]);
    let in_shape = [batches, in_h, in_w, in_c];
    let filter_shape = [out_c, fh, fw, in_c];
    let out_shape = [batches, out_h, out_w, out_c];
    let op = Op::TransposeConv(TransposeConvOptions {
        padding,
        stride_w: sw as i32,
        stride_h: sh as i32,
        activation: act,
        quantized_bias_type: DType::F32,
    });
    let n_in: usize = in_shape.iter().product();
    let n_filter: usize = filter_shape.iter().product();
    let has_bias = rng.next() % 4 != 0;
    let what = format!(
        "TRANSPOSE_CONV {kind:?} in {in_shape:?} weights {filter_shape:?} out {out_shape:?} \
         stride {sh}x{sw} {padding:?} {act:?} bias {has_bias}"
    );
    let f =
        |rng: &mut Rng, n: usize| -> Vec<f32> { (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect() };
    let scales: Vec<f32> = (0..if per_channel { out_c } else { 1 })
        .map(|_| 0.001 + rng.unit() * 0.02)
        .collect();
    let zeros = vec![0; scales.len()];
    let int_filter = |rng: &mut Rng| -> Vec<u8> {
        (0..n_filter)
            .map(|_| rng.range(-127, 127) as i8 as u8)
            .collect()
    };
    let (input_t, filter_t, bias_t, output_t, input);
    match kind {
        Kind::Int8 => {
            let any_zp = rng.range(-128, 127);
            let zp_in = rng.pick(&[-128i64, 127, 0, any_zp]);
            let s_in = 0.01 + rng.unit() * 0.1;
            let taps = (fh * fw * in_c) as f32;
            let s_out = s_in * 0.02 * taps.sqrt() * (0.5 + rng.unit() * 40.0);
            let any_zp = rng.range(-128, 127);
            let zp_out = rng.pick(&[-128i64, 127, 0, any_zp]);
            let bias: Vec<i32> = (0..out_c)
                .map(|_| match rng.next() % 8 {
                    0 => [i32::MIN / 2, i32::MAX / 2, -1, 0, 1][rng.usize(0, 4)],
                    _ => rng.range(-50_000, 50_000) as i32,
                })
                .collect();
            input_t = tensor(
                "input",
                DType::I8,
                &in_shape,
                qp(vec![s_in], vec![zp_in], 0),
            );
            filter_t = constant(
                tensor("weights", DType::I8, &filter_shape, qp(scales, zeros, 0)),
                int_filter(rng),
            );
            bias_t = constant(
                tensor("bias", DType::I32, &[out_c], qp(vec![1.0], vec![0], 0)),
                le(&bias, |x| x.to_le_bytes().to_vec()),
            );
            output_t = tensor(
                "output",
                DType::I8,
                &out_shape,
                qp(vec![s_out], vec![zp_out], 0),
            );
            let x: Vec<i8> = (0..n_in)
                .map(|_| match rng.next() % 6 {
                    0 => [-128, 127, zp_in as i8][rng.usize(0, 2)],
                    _ => rng.range(-128, 127) as i8,
                })
                .collect();
            input = Tensor::from_i8(&in_shape, &x).unwrap();
        }
        Kind::Uint8 => {
            let zp = |rng: &mut Rng| {
                let any = rng.range(0, 255);
                rng.pick(&[0i64, 255, 128, any])
            };
            let (zp_in, zp_w, zp_out) = (zp(rng), zp(rng), zp(rng));
            let s_in = 0.01 + rng.unit() * 0.1;
            let s_w = 0.001 + rng.unit() * 0.02;
            let taps = (fh * fw * in_c) as f32;
            let s_out = s_in * 0.02 * taps.sqrt() * (0.5 + rng.unit() * 40.0);
            let bias: Vec<i32> = (0..out_c)
                .map(|_| rng.range(-50_000, 50_000) as i32)
                .collect();
            input_t = tensor(
                "input",
                DType::U8,
                &in_shape,
                qp(vec![s_in], vec![zp_in], 0),
            );
            let w: Vec<u8> = (0..n_filter).map(|_| rng.range(0, 255) as u8).collect();
            filter_t = constant(
                tensor(
                    "weights",
                    DType::U8,
                    &filter_shape,
                    qp(vec![s_w], vec![zp_w], 0),
                ),
                w,
            );
            bias_t = constant(
                tensor(
                    "bias",
                    DType::I32,
                    &[out_c],
                    qp(vec![s_in * s_w], vec![0], 0),
                ),
                le(&bias, |x| x.to_le_bytes().to_vec()),
            );
            output_t = tensor(
                "output",
                DType::U8,
                &out_shape,
                qp(vec![s_out], vec![zp_out], 0),
            );
            let x: Vec<u8> = (0..n_in)
                .map(|_| match rng.next() % 6 {
                    0 => [0, 255, zp_in as u8][rng.usize(0, 2)],
                    _ => rng.range(0, 255) as u8,
                })
                .collect();
            input = Tensor::from_u8(&in_shape, &x).unwrap();
        }
        Kind::Hybrid | Kind::Float => {
            input_t = tensor("input", DType::F32, &in_shape, None);
            filter_t = if kind == Kind::Hybrid {
                constant(
                    tensor("weights", DType::I8, &filter_shape, qp(scales, zeros, 0)),
                    int_filter(rng),
                )
            } else {
                constant(
                    tensor("weights", DType::F32, &filter_shape, None),
                    le(&f(rng, n_filter), |x| x.to_le_bytes().to_vec()),
                )
            };
            bias_t = constant(
                tensor("bias", DType::F32, &[out_c], None),
                le(&f(rng, out_c), |x| x.to_le_bytes().to_vec()),
            );
            output_t = tensor("output", DType::F32, &out_shape, None);
            // Hybrid rows: mixed signs, all positive, all negative or all zero.
            let per_batch = n_in / batches;
            let mut x = Vec::with_capacity(n_in);
            for _ in 0..batches {
                let (lo, hi) = match (kind, rng.next() % 5) {
                    (Kind::Hybrid, 0) => (0.0, 3.0),
                    (Kind::Hybrid, 1) => (-2.0, -0.5),
                    (Kind::Hybrid, 2) => (0.0, 0.0),
                    _ => (-1.5, 1.0),
                };
                x.extend((0..per_batch).map(|_| lo + (hi - lo) * rng.unit()));
            }
            input = Tensor::from_f32(&in_shape, &x).unwrap();
        }
    }
    let dims: Vec<i32> = out_shape.iter().map(|&d| d as i32).collect();
    let shape_t = constant(
        tensor("output_shape", DType::I32, &[4], None),
        le(&dims, |x| x.to_le_bytes().to_vec()),
    );
    let tensors = vec![input_t, filter_t, bias_t, shape_t, output_t];
    Problem {
        what,
        model: tconv_model(op, tensors, has_bias),
        input,
    }
}
