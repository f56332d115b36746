//! Random single-op convolution problems for `tests/gpu_conv.rs`: the seeded draws and the
//! one-op models (int8, float32 and hybrid convolutions and depthwise convolutions).

use litequant::model::{
    self, Activation, Conv2DOptions, DType, DepthwiseConv2DOptions, Op, Operator, Padding,
    QuantParams, Subgraph,
};
use std::sync::Arc;

use litequant::{Model, Tensor};

use super::Rng;

impl Rng {
    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    pub(crate) fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as i64, hi as i64) as usize
    }
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub(crate) fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.usize(0, v.len() - 1)]
    }
}

// ---- building one-op models -------------------------------------------------------------

pub(crate) fn tensor(
    name: &str,
    dtype: DType,
    shape: &[usize],
    quant: Option<QuantParams>,
) -> model::Tensor {
    let mut t = model::Tensor::new(name, dtype, shape.iter().map(|&d| d as i32).collect());
    t.has_rank = true;
    t.quant = quant;
    t
}

pub(crate) fn constant(mut t: model::Tensor, bytes: Vec<u8>) -> model::Tensor {
    t.data = Some(Arc::from(bytes));
    t
}

pub(crate) fn qp(scale: Vec<f32>, zero_point: Vec<i64>, axis: i32) -> Option<QuantParams> {
    Some(QuantParams {
        scale,
        zero_point,
        quantized_dimension: axis,
        ..Default::default()
    })
}

/// Without a bias, a DEPTHWISE_CONV_2D reads two inputs; a CONV_2D, which LiteRT (and so
/// the engines) refuses without one or with an omitted one, reads the zero bias tensor 2.
pub(crate) fn model_of(op: Op, tensors: Vec<model::Tensor>, has_bias: bool) -> Model {
    let inputs = if has_bias || matches!(op, Op::Conv2D(_)) {
        vec![0, 1, 2]
    } else {
        vec![0, 1]
    };
    one_op_model(op, tensors, inputs)
}

/// A model of one operator reading `inputs`: subgraph input tensor 0, output the last.
pub(crate) fn one_op_model(op: Op, tensors: Vec<model::Tensor>, inputs: Vec<i32>) -> Model {
    let version = if tensors[0].dtype == DType::I8 { 3 } else { 1 };
    let out = tensors.len() - 1;
    Model {
        version: 3,
        description: None,
        subgraphs: vec![Subgraph {
            name: None,
            inputs: vec![0],
            outputs: vec![out],
            operators: vec![Operator {
                op,
                version,
                inputs,
                outputs: vec![out as i32],
                intermediates: vec![],
                mutating_variable_inputs: vec![],
                debug_metadata_index: -1,
                options_omitted: false,
            }],
            tensors,
            debug_metadata_index: -1,
        }],
        metadata: vec![],
        signature_defs: vec![],
        legacy_metadata_buffers: vec![],
        external_buffer_groups: vec![],
        external_buffers: vec![],
        unused_operator_codes: vec![],
    }
}

/// A random convolution (depthwise or not) and one input for it.
pub(crate) struct Problem {
    pub(crate) what: String,
    pub(crate) model: Model,
    pub(crate) input: Tensor,
}

pub(crate) fn le<T: Copy>(v: &[T], f: impl Fn(T) -> Vec<u8>) -> Vec<u8> {
    v.iter().flat_map(|&x| f(x)).collect()
}

/// What a problem's tensors hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int8,
    Float,
    /// float32 input and output, int8 weights (dynamic range).
    Hybrid,
    /// uint8 tensors, per-tensor weights with a zero point (TRANSPOSE_CONV only).
    Uint8,
}

pub(crate) fn random_problem(rng: &mut Rng, depthwise: bool, kind: Kind) -> Problem {
    let batches = rng.usize(1, 2);
    let (in_h, in_w) = (rng.usize(1, 11), rng.usize(1, 13));
    let (fh, fw) = (rng.usize(1, 4), rng.usize(1, 4));
    let (sh, sw) = (rng.usize(1, 3), rng.usize(1, 3));
    let (dh, dw) = (rng.pick(&[1, 1, 2, 3]), rng.pick(&[1, 1, 2]));
    // VALID only where the dilated filter fits; SAME always does.
    let fits = (fh - 1) * dh < in_h && (fw - 1) * dw < in_w;
    let padding = if fits && rng.next() % 2 == 0 {
        Padding::Valid
    } else {
        Padding::Same
    };
    let act = rng.pick(&[
        Activation::None,
        Activation::Relu,
        Activation::Relu6,
        Activation::ReluN1To1,
    ]);
    // Hybrid depthwise needs one scale per channel; a grouped hybrid CONV_2D too.
    let per_channel = rng.next() % 3 != 0 || (kind == Kind::Hybrid && depthwise);
    let (in_c, filter_in_c, out_c, mult);
    if depthwise {
        in_c = rng.pick(&[1, 2, 3, 4, 5, 7, 8, 12]);
        mult = rng.pick(&[1, 1, 2, 3]);
        out_c = in_c * mult;
        filter_in_c = 1;
    } else {
        let groups = if kind == Kind::Hybrid && !per_channel {
            1
        } else {
            rng.pick(&[1, 1, 1, 2, 3])
        };
        filter_in_c = rng.pick(&[1, 2, 3, 4, 5, 8, 9, 16, 17]);
        in_c = filter_in_c * groups;
        out_c = groups * rng.pick(&[1, 2, 3, 4, 5, 7, 8, 12, 13]);
        mult = 0;
    }
    let out_h = match padding {
        Padding::Same => in_h.div_ceil(sh),
        _ => (in_h - (fh - 1) * dh - 1) / sh + 1,
    };
    let out_w = match padding {
        Padding::Same => in_w.div_ceil(sw),
        _ => (in_w - (fw - 1) * dw - 1) / sw + 1,
    };
    let in_shape = [batches, in_h, in_w, in_c];
    let filter_shape = if depthwise {
        [1, fh, fw, out_c]
    } else {
        [out_c, fh, fw, filter_in_c]
    };
    let out_shape = [batches, out_h, out_w, out_c];
    let op = if depthwise {
        Op::DepthwiseConv2D(DepthwiseConv2DOptions {
            padding,
            stride_w: sw as i32,
            stride_h: sh as i32,
            depth_multiplier: mult as i32,
            activation: act,
            dilation_w: dw as i32,
            dilation_h: dh as i32,
        })
    } else {
        Op::Conv2D(Conv2DOptions {
            padding,
            stride_w: sw as i32,
            stride_h: sh as i32,
            activation: act,
            dilation_w: dw as i32,
            dilation_h: dh as i32,
            quantized_bias_type: DType::F32,
        })
    };
    let n_in: usize = in_shape.iter().product();
    let n_filter: usize = filter_shape.iter().product();
    let has_bias = rng.next() % 4 != 0;
    let what = format!(
        "{} {:?} in {in_shape:?} filter {filter_shape:?} out {out_shape:?} stride {sh}x{sw} \
         dilation {dh}x{dw} {padding:?} {act:?} bias {has_bias}",
        if depthwise {
            "DEPTHWISE_CONV_2D"
        } else {
            "CONV_2D"
        },
        kind,
    );
    let mut tensors;
    let input;
    let f =
        |rng: &mut Rng, n: usize| -> Vec<f32> { (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect() };
    if kind == Kind::Int8 {
        let any_zp = rng.range(-128, 127);
        let zp_in = rng.pick(&[-128i64, 127, 0, any_zp]);
        let s_in = 0.01 + rng.unit() * 0.1;
        let axis = if depthwise { 3 } else { 0 };
        let scales: Vec<f32> = (0..if per_channel { out_c } else { 1 })
            .map(|_| 0.001 + rng.unit() * 0.02)
            .collect();
        let taps = (fh * fw * filter_in_c) as f32;
        let s_out = s_in * 0.02 * taps.sqrt() * (0.5 + rng.unit() * 40.0);
        let any_zp = rng.range(-128, 127);
        let zp_out = rng.pick(&[-128i64, 127, 0, any_zp]);
        let filter: Vec<i8> = (0..n_filter).map(|_| rng.range(-127, 127) as i8).collect();
        let bias: Vec<i32> = (0..out_c)
            .map(|_| match rng.next() % 8 {
                0 => [i32::MIN / 2, i32::MAX / 2, -1, 0, 1][rng.usize(0, 4)],
                _ => rng.range(-50_000, 50_000) as i32,
            })
            .collect();
        let zeros = vec![0; scales.len()];
        tensors = vec![
            tensor(
                "input",
                DType::I8,
                &in_shape,
                qp(vec![s_in], vec![zp_in], 0),
            ),
            constant(
                tensor("filter", DType::I8, &filter_shape, qp(scales, zeros, axis)),
                le(&filter, |x| vec![x as u8]),
            ),
            constant(
                tensor("bias", DType::I32, &[out_c], qp(vec![1.0], vec![0], 0)),
                le(&bias, |x| x.to_le_bytes().to_vec()),
            ),
            tensor(
                "output",
                DType::I8,
                &out_shape,
                qp(vec![s_out], vec![zp_out], 0),
            ),
        ];
        let x: Vec<i8> = (0..n_in)
            .map(|_| match rng.next() % 6 {
                0 => [-128, 127, zp_in as i8][rng.usize(0, 2)],
                _ => rng.range(-128, 127) as i8,
            })
            .collect();
        input = Tensor::from_i8(&in_shape, &x).unwrap();
    } else if kind == Kind::Hybrid {
        let axis = if depthwise { 3 } else { 0 };
        let scales: Vec<f32> = (0..if per_channel { out_c } else { 1 })
            .map(|_| 0.001 + rng.unit() * 0.02)
            .collect();
        let zeros = vec![0; scales.len()];
        let filter: Vec<i8> = (0..n_filter).map(|_| rng.range(-127, 127) as i8).collect();
        tensors = vec![
            tensor("input", DType::F32, &in_shape, None),
            constant(
                tensor("filter", DType::I8, &filter_shape, qp(scales, zeros, axis)),
                le(&filter, |x| vec![x as u8]),
            ),
            constant(
                tensor("bias", DType::F32, &[out_c], None),
                le(&f(rng, out_c), |x| x.to_le_bytes().to_vec()),
            ),
            tensor("output", DType::F32, &out_shape, None),
        ];
        // Rows of mixed signs, all positive, all negative, or all zero (scale 1, zp 0).
        let per_batch = n_in / batches;
        let mut x = Vec::with_capacity(n_in);
        for _ in 0..batches {
            let (lo, hi) = match rng.next() % 5 {
                0 => (0.0, 3.0),
                1 => (-2.0, -0.5),
                2 => (0.0, 0.0),
                _ => (-1.5, 1.0),
            };
            x.extend((0..per_batch).map(|_| lo + (hi - lo) * rng.unit()));
        }
        input = Tensor::from_f32(&in_shape, &x).unwrap();
    } else {
        let filter = f(rng, n_filter);
        let bias = f(rng, out_c);
        tensors = vec![
            tensor("input", DType::F32, &in_shape, None),
            constant(
                tensor("filter", DType::F32, &filter_shape, None),
                le(&filter, |x| x.to_le_bytes().to_vec()),
            ),
            constant(
                tensor("bias", DType::F32, &[out_c], None),
                le(&bias, |x| x.to_le_bytes().to_vec()),
            ),
            tensor("output", DType::F32, &out_shape, None),
        ];
        input = Tensor::from_f32(&in_shape, &f(rng, n_in)).unwrap();
    }
    if !has_bias {
        // Keep tensor indices 0..=2 dense: the bias stays, unused.
        tensors[2].data = Some(Arc::from(vec![
            0u8;
            tensors[2].dense_bytes().unwrap() as usize
        ]));
    }
    Problem {
        what,
        model: model_of(op, tensors, has_bias),
        input,
    }
}
