//! The 16x8 CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV on the GPU (`shaders/conv16.wgsl`)
//! against the reference engine, bit for bit, on random single-op problems: odd sizes,
//! strides, dilations, both paddings, groups, depth multipliers, batches, fused activations,
//! inputs at ±32767/−32768, int64 biases up to ±2^40, depths whose sums pass 2^31 (the
//! int64 accumulator on u32 pairs) and output scales that give both large and small shifts.
//!
//! Skips without an adapter unless `LITEQUANT_REQUIRE_GPU=1` (lavapipe in CI).

mod common;
pub use common::Rng;

use litequant::gpu::{self, GpuEngine};
use litequant::model::{
    Activation, Conv2DOptions, DType, DepthwiseConv2DOptions, Op, Padding, TransposeConvOptions,
};
use litequant::{Buf, Engine, Model, ReferenceEngine, Session, Tensor};

#[path = "gpu_conv/problems.rs"]
#[allow(dead_code)]
mod problems;

use problems::{constant, le, model_of, one_op_model, qp, tensor};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    Conv,
    Depthwise,
    Transpose,
}

/// A random 16x8 problem: the model and one int16 input.
fn problem(rng: &mut Rng, family: Family) -> (String, Model, Tensor) {
    let batches = rng.usize(1, 2);
    let (in_h, in_w) = (rng.usize(1, 9), rng.usize(1, 11));
    let (fh, fw) = (rng.usize(1, 4), rng.usize(1, 4));
    let (sh, sw) = (rng.usize(1, 3), rng.usize(1, 3));
    let (dh, dw) = if family == Family::Transpose {
        (1, 1)
    } else {
        (rng.pick(&[1, 1, 2, 3]), rng.pick(&[1, 1, 2]))
    };
    let fits = (fh - 1) * dh < in_h && (fw - 1) * dw < in_w;
    let padding = if fits && rng.next() % 2 == 0 {
        Padding::Valid
    } else {
        Padding::Same
    };
    let act = rng.pick(&[Activation::None, Activation::Relu, Activation::Relu6]);
    let (in_c, filter_in_c, out_c, mult) = match family {
        Family::Depthwise => {
            let c = rng.pick(&[1, 2, 3, 5, 8]);
            let m = rng.pick(&[1, 1, 2, 3]);
            (c, 1, c * m, m)
        }
        Family::Conv => {
            let groups = rng.pick(&[1, 1, 1, 2, 3]);
            let f = rng.pick(&[1, 2, 3, 5, 16, 33, 64]);
            (f * groups, f, groups * rng.pick(&[1, 2, 3, 5, 8]), 0)
        }
        Family::Transpose => {
            let c = rng.pick(&[1, 2, 3, 5, 16, 40]);
            (c, c, rng.pick(&[1, 2, 3, 5]), 0)
        }
    };
    let (out_h, out_w) = match (family, padding) {
        (Family::Transpose, Padding::Same) => (in_h * sh, in_w * sw),
        (Family::Transpose, _) => ((in_h - 1) * sh + fh, (in_w - 1) * sw + fw),
        (_, Padding::Same) => (in_h.div_ceil(sh), in_w.div_ceil(sw)),
        _ => (
            (in_h - (fh - 1) * dh - 1) / sh + 1,
            (in_w - (fw - 1) * dw - 1) / sw + 1,
        ),
    };
    let in_shape = [batches, in_h, in_w, in_c];
    let out_shape = [batches, out_h, out_w, out_c];
    let filter_shape = match family {
        Family::Depthwise => [1, fh, fw, out_c],
        _ => [out_c, fh, fw, filter_in_c],
    };
    let axis = if family == Family::Depthwise { 3 } else { 0 };
    let n_filter: usize = filter_shape.iter().product();
    let filter: Vec<i8> = (0..n_filter)
        .map(|_| match rng.next() % 5 {
            0 => rng.pick(&[-127i8, 127]),
            _ => rng.range(-127, 127) as i8,
        })
        .collect();
    let scales: Vec<f32> = (0..out_c).map(|_| 0.001 + rng.unit() * 0.02).collect();
    let s_in = 1e-4 + rng.unit() * 1e-3;
    let taps = (fh * fw * filter_in_c) as f32;
    // From about 2^-1 to 2^-20 of the accumulator's scale: shifts of every size.
    let s_out = s_in * 0.01 * taps.sqrt() * (0.05 + rng.unit() * 400.0);
    let bias: Vec<i64> = (0..out_c)
        .map(|_| match rng.next() % 6 {
            0 => rng.pick(&[-(1i64 << 40), 1 << 40, -1, 0, 1]),
            _ => rng.range(-50_000_000, 50_000_000),
        })
        .collect();
    let has_bias = rng.next() % 4 != 0 || family == Family::Conv;
    let mut tensors = vec![
        tensor("input", DType::I16, &in_shape, qp(vec![s_in], vec![0], 0)),
        constant(
            tensor(
                "filter",
                DType::I8,
                &filter_shape,
                qp(scales, vec![0; out_c], axis),
            ),
            le(&filter, |x| vec![x as u8]),
        ),
    ];
    if has_bias {
        tensors.push(constant(
            tensor("bias", DType::I64, &[out_c], qp(vec![1.0], vec![0], 0)),
            le(&bias, |x| x.to_le_bytes().to_vec()),
        ));
    }
    tensors.push(tensor(
        "output",
        DType::I16,
        &out_shape,
        qp(vec![s_out], vec![0], 0),
    ));
    let model = match family {
        Family::Conv => model_of(
            Op::Conv2D(Conv2DOptions {
                padding,
                stride_w: sw as i32,
                stride_h: sh as i32,
                activation: act,
                dilation_w: dw as i32,
                dilation_h: dh as i32,
                quantized_bias_type: DType::I64,
            }),
            tensors,
            has_bias,
        ),
        Family::Depthwise => model_of(
            Op::DepthwiseConv2D(DepthwiseConv2DOptions {
                padding,
                stride_w: sw as i32,
                stride_h: sh as i32,
                depth_multiplier: mult as i32,
                activation: act,
                dilation_w: dw as i32,
                dilation_h: dh as i32,
            }),
            tensors,
            has_bias,
        ),
        Family::Transpose => {
            // Inputs: output shape (int32 constant), weights, input, bias.
            let shape: Vec<i32> = out_shape.iter().map(|&d| d as i32).collect();
            let mut t = vec![tensors[0].clone()];
            t.push(tensors[1].clone());
            t.push(constant(
                tensor("output_shape", DType::I32, &[4], None),
                le(&shape, |x| x.to_le_bytes().to_vec()),
            ));
            t.extend(tensors[2..].iter().cloned());
            let out = t.len() - 1;
            let inputs = if has_bias {
                vec![2, 1, 0, 3]
            } else {
                vec![2, 1, 0]
            };
            let _ = out;
            one_op_model(
                Op::TransposeConv(TransposeConvOptions {
                    padding,
                    stride_w: sw as i32,
                    stride_h: sh as i32,
                    activation: act,
                    quantized_bias_type: DType::I64,
                }),
                t,
                inputs,
            )
        }
    };
    let n_in: usize = in_shape.iter().product();
    let x: Vec<i16> = (0..n_in)
        .map(|_| match rng.next() % 5 {
            0 => rng.pick(&[i16::MIN, i16::MAX, -32767, 0]),
            _ => rng.range(-32768, 32767) as i16,
        })
        .collect();
    let what = format!(
        "{family:?} in {in_shape:?} filter {filter_shape:?} out {out_shape:?} stride {sh}x{sw} \
         dilation {dh}x{dw} {padding:?} {act:?} bias {has_bias}"
    );
    (what, model, Tensor::new(&in_shape, Buf::I16(x)).unwrap())
}

#[test]
fn conv16_on_the_gpu_equals_the_reference() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_conv16")? else {
        return Ok(());
    };
    let gpu = GpuEngine::new(ctx);
    let mut rng = Rng(0x16_08);
    let mut checked = 0;
    let mut above_i32 = 0;
    for i in 0..90 {
        let family = [Family::Conv, Family::Depthwise, Family::Transpose][i % 3];
        let (what, model, x) = problem(&mut rng, family);
        let mut reference = match ReferenceEngine.prepare(&model) {
            Ok(s) => s,
            // A multiplier outside what TFLite's int64 MBQM defines: refused alike.
            Err(e) => {
                assert!(
                    gpu.prepare(&model).is_err(),
                    "{what}: the GPU prepares what {e}"
                );
                continue;
            }
        };
        let want = reference.run(std::slice::from_ref(&x))?;
        let got = gpu.prepare(&model)?.run(std::slice::from_ref(&x))?;
        assert_eq!(got[0].as_i16(), want[0].as_i16(), "{what}");
        // How often a single product sum leaves int32 (the 64-bit path matters).
        let taps: usize = model.main().tensors[1]
            .shape
            .iter()
            .map(|&d| d as usize)
            .product();
        if taps * 32768 * 127 > i32::MAX as usize {
            above_i32 += 1;
        }
        checked += 1;
    }
    println!("{checked} 16x8 convolution problems equal; {above_i32} with sums that can pass 2^31");
    assert!(
        checked >= 80 && above_i32 >= 10,
        "{checked} checked, {above_i32} deep"
    );
    Ok(())
}
