//! FULLY_CONNECTED on hand-made cases (weight zero points, hybrid rows, an all-zero input),
//! and what both ops refuse at prepare.

use crate::model::{Activation, BatchMatMulOptions, DType, FullyConnectedOptions, Op, QuantParams};
use crate::{Buf, Tensor};

use super::{one_op, tensor, Rng};

fn fc_options(activation: Activation, keep_num_dims: bool, asym: bool) -> Op {
    Op::FullyConnected(FullyConnectedOptions {
        activation,
        weights_format: 0,
        keep_num_dims,
        asymmetric_quantize_inputs: asym,
        quantized_bias_type: DType::F32,
        quant_spec: Vec::new(),
    })
}

#[test]
fn int8_fully_connected_per_tensor_applies_the_weight_zero_point() {
    // Per-tensor weights with a zero point (kept "for backward compatibility"), odd sizes.
    let mut rng = Rng(14);
    let (batches, units, depth) = (3usize, 5usize, 7usize);
    let x: Vec<i8> = (0..batches * depth).map(|_| rng.i8()).collect();
    let w: Vec<i8> = (0..units * depth).map(|_| rng.i8()).collect();
    let bias: Vec<i32> = (0..units).map(|i| i as i32 * 97 - 200).collect();
    let (s_in, z_in, s_w, z_w, s_out, z_out) = (0.05f32, -3i32, 0.004f32, 7i32, 0.07f32, 10i32);
    let eff = f64::from(s_in) * f64::from(s_w) / f64::from(s_out);
    let mut want = Vec::new();
    for b in 0..batches {
        for o in 0..units {
            let mut acc = 0i32;
            for d in 0..depth {
                acc += (w[o * depth + d] as i32 - z_w) * (x[b * depth + d] as i32 - z_in);
            }
            acc += bias[o];
            // Relu: clamp below at the zero point.
            let q = ((f64::from(acc) * eff).round() as i32 + z_out).clamp(z_out, 127);
            want.push(q as i8);
        }
    }
    let mut bt = tensor(DType::I32, &[units], Some((s_in * s_w, 0)));
    bt.quant = Some(QuantParams::per_tensor(s_in * s_w, 0));
    let wt = Tensor::from_i8(&[units, depth], &w).unwrap();
    let bv = Tensor::new(&[units], Buf::I32(bias)).unwrap();
    let consts = vec![None, Some(wt.clone()), Some(bv.clone()), None];
    let k = one_op(
        fc_options(Activation::Relu, false, false),
        vec![
            tensor(DType::I8, &[batches, depth], Some((s_in, z_in as i64))),
            tensor(DType::I8, &[units, depth], Some((s_w, z_w as i64))),
            bt,
            tensor(DType::I8, &[batches, units], Some((s_out, z_out as i64))),
        ],
        vec![0, 1, 2],
        &consts,
    )
    .unwrap();
    let xt = Tensor::from_i8(&[batches, depth], &x).unwrap();
    let mut outs = vec![Tensor::zeros(DType::I8, &[batches, units]).unwrap()];
    k.run(&[Some(&xt), Some(&wt), Some(&bv)], &mut outs)
        .unwrap();
    assert_eq!(outs[0].as_i8().unwrap(), want.as_slice());
}

#[test]
fn hybrid_fully_connected_per_tensor_symmetric_and_zero_input() {
    let (batches, units, depth) = (2usize, 3usize, 5usize);
    let mut rng = Rng(15);
    let w: Vec<i8> = (0..units * depth).map(|_| rng.i8().max(-127)).collect();
    let bias = [0.5f32, -0.25, 1.0];
    let s_w = 0.02f32;
    let mut wt_model = tensor(DType::I8, &[units, depth], Some((s_w, 0)));
    wt_model.quant = Some(QuantParams::per_tensor(s_w, 0));
    let wt = Tensor::from_i8(&[units, depth], &w).unwrap();
    let bv = Tensor::from_f32(&[units], &bias).unwrap();
    let consts = vec![None, Some(wt.clone()), Some(bv.clone()), None];
    let k = one_op(
        fc_options(Activation::Relu6, false, false),
        vec![
            tensor(DType::F32, &[batches, depth], None),
            wt_model,
            tensor(DType::F32, &[units], None),
            tensor(DType::F32, &[batches, units], None),
        ],
        vec![0, 1, 2],
        &consts,
    )
    .unwrap();
    // All-zero input: bias through the activation only.
    let zero = Tensor::from_f32(&[batches, depth], &[0.0; 10]).unwrap();
    let mut outs = vec![Tensor::zeros(DType::F32, &[batches, units]).unwrap()];
    k.run(&[Some(&zero), Some(&wt), Some(&bv)], &mut outs)
        .unwrap();
    assert_eq!(outs[0].as_f32().unwrap(), &[0.5, 0.0, 1.0, 0.5, 0.0, 1.0]);
    // Symmetric per-row quantization, per-tensor weight scale folded into the row factor.
    let x: Vec<f32> = (0..batches * depth)
        .map(|_| rng.milli_f32() * 4.0)
        .collect();
    let mut q = vec![0i8; x.len()];
    let rows = super::super::batch_quantize(&x, depth, false, &mut q);
    let mut want = Vec::new();
    for b in 0..batches {
        let sf = rows[b].scale * s_w;
        for o in 0..units {
            let mut dot = 0i32;
            for d in 0..depth {
                dot += w[o * depth + d] as i32 * q[b * depth + d] as i32;
            }
            want.push((bias[o] + dot as f32 * sf).clamp(0.0, 6.0));
        }
    }
    let xt = Tensor::from_f32(&[batches, depth], &x).unwrap();
    k.run(&[Some(&xt), Some(&wt), Some(&bv)], &mut outs)
        .unwrap();
    assert_eq!(outs[0].as_f32().unwrap(), want.as_slice());
}

#[test]
fn unsupported_cases_fail_at_prepare() {
    // Shuffled weights.
    let op = Op::FullyConnected(FullyConnectedOptions {
        activation: Activation::None,
        weights_format: 1,
        keep_num_dims: false,
        asymmetric_quantize_inputs: false,
        quantized_bias_type: DType::F32,
        quant_spec: Vec::new(),
    });
    let ts = vec![
        tensor(DType::F32, &[1, 4], None),
        tensor(DType::F32, &[2, 4], None),
        tensor(DType::F32, &[1, 2], None),
    ];
    assert!(one_op(op, ts, vec![0, 1], &[None, None, None]).is_err());
    // A fused TANH on a float FULLY_CONNECTED.
    let ts = vec![
        tensor(DType::F32, &[1, 4], None),
        tensor(DType::F32, &[2, 4], None),
        tensor(DType::F32, &[1, 2], None),
    ];
    assert!(one_op(
        fc_options(Activation::Tanh, false, false),
        ts,
        vec![0, 1],
        &[None, None, None]
    )
    .is_err());
    // A hybrid BATCH_MATMUL whose int8 RHS is not a constant.
    let ts = vec![
        tensor(DType::F32, &[2, 4], None),
        tensor(DType::I8, &[4, 3], Some((0.1, 0))),
        tensor(DType::F32, &[2, 3], None),
    ];
    let op = Op::BatchMatMul(BatchMatMulOptions {
        adj_x: false,
        adj_y: false,
        asymmetric_quantize_inputs: true,
    });
    assert!(one_op(op, ts, vec![0, 1], &[None, None, None]).is_err());
    // Mismatched depths.
    let ts = vec![
        tensor(DType::F32, &[2, 4], None),
        tensor(DType::F32, &[5, 3], None),
        tensor(DType::F32, &[2, 3], None),
    ];
    let op = Op::BatchMatMul(BatchMatMulOptions {
        adj_x: false,
        adj_y: false,
        asymmetric_quantize_inputs: false,
    });
    assert!(one_op(op, ts, vec![0, 1], &[None, None, None]).is_err());
}
