//! The loops against a second formulation (explicitly padded input, no bounds tests) over
//! random shapes with odd sizes, strides, dilations, groups, batches, depth multipliers and
//! both paddings: float32, int8 (per-channel and per-tensor weights) and hybrid.

use crate::model::DType;
use crate::quant::fixedpoint::{multiply_by_quantized_multiplier, quantize_multiplier};
use crate::{Buf, Tensor};

use super::{qp, tensor, Case, Problem, Rng};

#[test]
fn float_loops_match_a_padded_formulation() {
    let mut rng = Rng(11);
    for i in 0..400 {
        let c = Case::random(&mut rng, i % 2 == 0);
        let n_in = c.batches * c.in_h * c.in_w * c.in_c;
        let x: Vec<f32> = (0..n_in).map(|_| rng.unit_f32() * 3.0).collect();
        let fshape = c.filter_shape();
        let w: Vec<f32> = (0..fshape.iter().product())
            .map(|_| rng.unit_f32())
            .collect();
        let bias: Vec<f32> = (0..c.out_c()).map(|_| rng.unit_f32()).collect();
        let with_bias = rng.below(4) > 0;
        let p = Problem::new(
            c.op(),
            vec![
                tensor("x", DType::F32, &[c.batches, c.in_h, c.in_w, c.in_c], None),
                tensor("w", DType::F32, &fshape, None),
                tensor("b", DType::F32, &[c.out_c()], None),
                tensor("y", DType::F32, &c.out_shape(), None),
            ],
            Tensor::from_f32(&fshape, &w).unwrap(),
            with_bias.then(|| Tensor::from_f32(&[c.out_c()], &bias).unwrap()),
        );
        let got = p.run(Tensor::from_f32(&[c.batches, c.in_h, c.in_w, c.in_c], &x).unwrap());
        let got = got.unwrap_or_else(|e| panic!("{c:?}: {e}"));
        let (xp, ..) = c.pad(&x, 0.0f32);
        let (lo, hi) = super::super::super::common::float_activation_range(c.act).unwrap();
        let want: Vec<f32> = c
            .taps()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let total = t.iter().fold(0.0f32, |acc, &(xi, wi)| acc + xp[xi] * w[wi]);
                let b = if with_bias { bias[i % c.out_c()] } else { 0.0 };
                (total + b).max(lo).min(hi)
            })
            .collect();
        assert_eq!(got.as_f32().unwrap(), want.as_slice(), "{c:?}");
    }
}

#[test]
fn int8_loops_match_a_padded_formulation() {
    let mut rng = Rng(12);
    for i in 0..400 {
        let c = Case::random(&mut rng, i % 2 == 1);
        let n_in = c.batches * c.in_h * c.in_w * c.in_c;
        let x: Vec<i8> = (0..n_in).map(|_| rng.i8()).collect();
        let fshape = c.filter_shape();
        let w: Vec<i8> = (0..fshape.iter().product())
            .map(|_| rng.i8().max(-127))
            .collect();
        let oc_n = c.out_c();
        let bias: Vec<i32> = (0..oc_n)
            .map(|_| (rng.next() % 20001) as i32 - 10000)
            .collect();
        let per_channel = rng.below(2) == 0;
        let w_scales: Vec<f32> = if per_channel {
            (0..oc_n)
                .map(|_| 0.002 + rng.unit_f32().abs() * 0.01)
                .collect()
        } else {
            vec![0.004]
        };
        let (s_in, zp_in) = (0.02 + rng.unit_f32().abs() * 0.05, rng.i8() as i64);
        let (s_out, zp_out) = (0.05 + rng.unit_f32().abs() * 0.1, rng.i8() as i64);
        let axis = if c.depthwise { 3 } else { 0 };
        let bias_scales: Vec<f32> = w_scales.iter().map(|s| s * s_in).collect();
        let p = Problem::new(
            c.op(),
            vec![
                tensor(
                    "x",
                    DType::I8,
                    &[c.batches, c.in_h, c.in_w, c.in_c],
                    qp(vec![s_in], vec![zp_in], 0),
                ),
                tensor(
                    "w",
                    DType::I8,
                    &fshape,
                    qp(w_scales.clone(), vec![0; w_scales.len()], axis),
                ),
                tensor(
                    "b",
                    DType::I32,
                    &[oc_n],
                    qp(bias_scales, vec![0; w_scales.len()], 0),
                ),
                tensor(
                    "y",
                    DType::I8,
                    &c.out_shape(),
                    qp(vec![s_out], vec![zp_out], 0),
                ),
            ],
            Tensor::new(&fshape, Buf::I8(w.clone())).unwrap(),
            Some(Tensor::new(&[oc_n], Buf::I32(bias.clone())).unwrap()),
        );
        let got = p.run(Tensor::from_i8(&[c.batches, c.in_h, c.in_w, c.in_c], &x).unwrap());
        let got = got.unwrap_or_else(|e| panic!("{c:?}: {e}"));
        // Padding with the input zero point makes out-of-image taps contribute 0.
        let (xp, ..) = c.pad(&x, zp_in as i8);
        let (lo, hi) = super::super::super::common::quantized_activation_range(
            c.act,
            DType::I8,
            s_out,
            zp_out as i32,
        )
        .unwrap();
        let want: Vec<i8> = c
            .taps()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let oc = i % oc_n;
                let acc: i64 = t
                    .iter()
                    .map(|&(xi, wi)| i64::from(w[wi]) * (i64::from(xp[xi]) - zp_in))
                    .sum();
                let s_w = w_scales[if per_channel { oc } else { 0 }];
                let m = quantize_multiplier(f64::from(s_in) * f64::from(s_w) / f64::from(s_out));
                let v = multiply_by_quantized_multiplier(acc as i32 + bias[oc], m) + zp_out as i32;
                v.clamp(lo, hi) as i8
            })
            .collect();
        assert_eq!(got.as_i8().unwrap(), want.as_slice(), "{c:?}");
    }
}

/// Hybrid kernels: the per-channel (asymmetric) and per-tensor (symmetric) CONV_2D paths and
/// the depthwise path, against the same steps written over the padded input.
#[test]
fn hybrid_loops_match_a_padded_formulation() {
    let mut rng = Rng(13);
    for i in 0..300 {
        let c = Case::random(&mut rng, i % 3 == 0);
        let n_in = c.batches * c.in_h * c.in_w * c.in_c;
        let x: Vec<f32> = (0..n_in).map(|_| rng.unit_f32() * 2.0 + 0.3).collect();
        let fshape = c.filter_shape();
        let w: Vec<i8> = (0..fshape.iter().product())
            .map(|_| rng.i8().max(-127))
            .collect();
        let oc_n = c.out_c();
        let bias: Vec<f32> = (0..oc_n).map(|_| rng.unit_f32()).collect();
        let groups = if c.depthwise {
            1
        } else {
            c.in_c / c.filter_in_c
        };
        // Per-tensor scales only where TFLite has that path (CONV_2D without groups).
        let per_channel = c.depthwise || groups != 1 || rng.below(2) == 0;
        let w_scales: Vec<f32> = if per_channel {
            (0..oc_n).map(|k| 0.01 + 0.001 * k as f32).collect()
        } else {
            vec![0.01; if rng.below(2) == 0 { 1 } else { oc_n }]
        };
        // TFLite's choice: depthwise is always per channel; CONV_2D only with distinct scales.
        let per_channel = c.depthwise || w_scales.iter().any(|&s| s != w_scales[0]);
        let axis = if c.depthwise { 3 } else { 0 };
        let p = Problem::new(
            c.op(),
            vec![
                tensor("x", DType::F32, &[c.batches, c.in_h, c.in_w, c.in_c], None),
                tensor(
                    "w",
                    DType::I8,
                    &fshape,
                    qp(w_scales.clone(), vec![0; w_scales.len()], axis),
                ),
                tensor("b", DType::F32, &[oc_n], None),
                tensor("y", DType::F32, &c.out_shape(), None),
            ],
            Tensor::new(&fshape, Buf::I8(w.clone())).unwrap(),
            Some(Tensor::from_f32(&[oc_n], &bias).unwrap()),
        );
        let got = p.run(Tensor::from_f32(&[c.batches, c.in_h, c.in_w, c.in_c], &x).unwrap());
        let got = got.unwrap_or_else(|e| panic!("{c:?}: {e}"));
        let per_batch = n_in / c.batches;
        let mut q = vec![0i8; n_in];
        let mut scaling = vec![0f32; c.batches];
        let mut offset = vec![0i32; c.batches];
        for b in 0..c.batches {
            let r = b * per_batch..(b + 1) * per_batch;
            if per_channel {
                let (s, zp) = super::super::super::common::asymmetric_quantize_floats(
                    &x[r.clone()],
                    &mut q[r],
                );
                scaling[b] = s;
                offset[b] = zp;
            } else {
                let s = super::super::super::common::symmetric_quantize_floats(
                    &x[r.clone()],
                    &mut q[r],
                );
                scaling[b] = s * w_scales[0];
            }
        }
        let (lo, hi) = super::super::super::common::float_activation_range(c.act).unwrap();
        let oh_ow = c.out_shape()[1] * c.out_shape()[2] * oc_n;
        // Centred values, padded with 0: out-of-image taps contribute nothing.
        let centred: Vec<i32> = (0..n_in)
            .map(|i| i32::from(q[i]) - offset[i / per_batch])
            .collect();
        let (xp, ..) = c.pad(&centred, 0i32);
        for (i, t) in c.taps().iter().enumerate() {
            let (b, oc) = (i / oh_ow, i % oc_n);
            let acc: i32 = t.iter().map(|&(xi, wi)| i32::from(w[wi]) * xp[xi]).sum();
            let v = if c.depthwise {
                acc as f32 * (w_scales[oc] * scaling[b])
            } else if per_channel {
                acc as f32 * w_scales[oc] * scaling[b]
            } else {
                acc as f32 * scaling[b]
            };
            let want = (v + bias[oc]).max(lo).min(hi);
            assert_eq!(got.as_f32().unwrap()[i], want, "{c:?} element {i}");
        }
    }
}
