//! TRANSPOSE_CONV: the fixtures' ops run alone on LiteRT's recorded tensors, and the gathered
//! loops against TFLite's scatter loops written out literally (every input element adds its
//! products to the outputs under the filter, in order batch, input row, input column, input
//! channel, filter row, filter column, output channel), bit for bit, over random shapes with
//! output sizes on and off the ones the padding implies.

use super::super::transpose_conv::{TconvF32, TconvInt, TconvShape};
use crate::model::Padding;
use crate::quant::fixedpoint::quantize_multiplier;
use crate::reference::common::{clamp_like_cpp, compute_padding, Epilogue};
use crate::reference::test_support::{fixture_pairs, run_alone, Compare, Rng};
use crate::reference::{FloatOrder, Kernel};
use crate::Tensor;

#[test]
fn fixture_transpose_convs_match_litert_in_isolation() {
    let mut compared = 0;
    for pair in fixture_pairs()
        .into_iter()
        .filter(|p| p.is_op_fixture() && p.name.starts_with("tconv_"))
    {
        let r = run_alone(&pair, &["TRANSPOSE_CONV"], Compare::Tolerance);
        assert!(r.failures.is_empty(), "{}", r.failures.join("\n"));
        assert!(r.skipped.is_empty(), "not recorded: {:?}", r.skipped);
        compared += r.outputs;
    }
    assert!(compared >= 50, "only {compared} outputs compared");
}

fn random_shape(rng: &mut Rng) -> TconvShape {
    let (in_h, in_w) = (rng.range(1, 5), rng.range(1, 6));
    let (filter_h, filter_w) = (rng.range(1, 4), rng.range(1, 4));
    let (stride_h, stride_w) = (rng.range(1, 3), rng.range(1, 3));
    let padding = if rng.below(2) == 0 {
        Padding::Same
    } else {
        Padding::Valid
    };
    let size = |rng: &mut Rng, n: usize, k: usize, s: usize| {
        let base = if padding == Padding::Same {
            n * s
        } else {
            (n - 1) * s + k
        };
        base + rng.below(2)
    };
    let out_h = size(rng, in_h, filter_h, stride_h).max(filter_h);
    let out_w = size(rng, in_w, filter_w, stride_w).max(filter_w);
    let rows = compute_padding(padding, out_h, filter_h, stride_h, 1).unwrap();
    let cols = compute_padding(padding, out_w, filter_w, stride_w, 1).unwrap();
    TconvShape {
        batches: rng.range(1, 2),
        in_h,
        in_w,
        in_c: rng.range(1, 5),
        out_h,
        out_w,
        out_c: rng.range(1, 5),
        filter_h,
        filter_w,
        stride_h,
        stride_w,
        pad_h: rows.before as usize,
        pad_w: cols.before as usize,
        grid_h: in_h,
        grid_w: in_w,
    }
}

/// TFLite's scatter loop: `add(output index, input index, filter index)` in its order.
fn scatter(s: &TconvShape, mut add: impl FnMut(usize, usize, usize)) {
    for b in 0..s.batches {
        for iy in 0..s.in_h {
            for ix in 0..s.in_w {
                for ic in 0..s.in_c {
                    let oy0 = (iy * s.stride_h) as i64 - s.pad_h as i64;
                    let ox0 = (ix * s.stride_w) as i64 - s.pad_w as i64;
                    for fy in 0..s.filter_h {
                        for fx in 0..s.filter_w {
                            for oc in 0..s.out_c {
                                let (oy, ox) = (oy0 + fy as i64, ox0 + fx as i64);
                                if oy < 0 || ox < 0 || oy >= s.out_h as i64 || ox >= s.out_w as i64
                                {
                                    continue;
                                }
                                let o = s.out_offset(b, oy as usize, ox as usize) + oc;
                                let x = ((b * s.in_h + iy) * s.in_w + ix) * s.in_c + ic;
                                let w = ((oc * s.filter_h + fy) * s.filter_w + fx) * s.in_c + ic;
                                add(o, x, w);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn shape_input(s: &TconvShape) -> Tensor {
    let dims = [s.batches, s.out_h, s.out_w, s.out_c].map(|d| d as i32);
    Tensor::new(&[4], crate::Buf::I32(dims.to_vec())).unwrap()
}

#[test]
fn float_gather_equals_tflites_scatter_bit_for_bit() {
    let mut rng = Rng(17);
    for case in 0..300 {
        let s = random_shape(&mut rng);
        let x: Vec<f32> = (0..s.input_len()).map(|_| rng.unit_f32()).collect();
        let w: Vec<f32> = (0..s.filter_len()).map(|_| rng.unit_f32()).collect();
        let bias: Vec<f32> = (0..s.out_c).map(|_| rng.unit_f32()).collect();
        let act = [(f32::MIN, f32::MAX), (0.0, 6.0), (-1.0, 1.0)][rng.below(3)];
        let mut want = vec![0.0f32; s.output_len()];
        scatter(&s, |o, i, f| want[o] += x[i] * w[f]);
        for (o, v) in want.iter_mut().enumerate() {
            *v = clamp_like_cpp(*v + bias[o % s.out_c], act.0, act.1);
        }
        let kernel = TconvF32 {
            label: "test".into(),
            shape: s,
            act,
            order: FloatOrder::Reference,
        };
        let dims = [s.batches, s.in_h, s.in_w, s.in_c];
        let fdims = [s.out_c, s.filter_h, s.filter_w, s.in_c];
        let args = [
            shape_input(&s),
            Tensor::from_f32(&fdims, &w).unwrap(),
            Tensor::from_f32(&dims, &x).unwrap(),
            Tensor::from_f32(&[s.out_c], &bias).unwrap(),
        ];
        let refs: Vec<Option<&Tensor>> = args.iter().map(Some).collect();
        let mut out = [Tensor::from_f32(&[s.output_len()], &vec![0.0; s.output_len()]).unwrap()];
        kernel.run(&refs, &mut out).unwrap();
        let got = out[0].as_f32().unwrap();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(got), bits(&want), "case {case}: {s:?}");
    }
}

#[test]
fn int8_gather_equals_tflites_scatter() {
    let mut rng = Rng(18);
    for case in 0..300 {
        let s = random_shape(&mut rng);
        let x: Vec<i8> = (0..s.input_len()).map(|_| rng.i8()).collect();
        let w: Vec<i8> = (0..s.filter_len()).map(|_| rng.i8().max(-127)).collect();
        let zp_in = [-128, 127, 0, i32::from(rng.i8())][rng.below(4)];
        let epilogue = Epilogue {
            bias: (0..s.out_c).map(|_| rng.next() as i32 >> 12).collect(),
            multipliers: (0..s.out_c)
                .map(|_| quantize_multiplier(f64::from(rng.unit_f32().abs()) * 0.01 + 1e-5))
                .collect(),
            output_zero_point: i32::from(rng.i8()),
            act_min: -128,
            act_max: 127,
        };
        let mut acc = vec![0i32; s.output_len()];
        scatter(&s, |o, i, f| {
            acc[o] = acc[o].wrapping_add((i32::from(x[i]) - zp_in).wrapping_mul(i32::from(w[f])));
        });
        let want: Vec<i8> = acc
            .iter()
            .enumerate()
            .map(|(o, &a)| epilogue.apply(a, o % s.out_c) as i8)
            .collect();
        let kernel = TconvInt {
            label: "test".into(),
            shape: s,
            dtype: crate::model::DType::I8,
            input_offset: -zp_in,
            filter_offset: 0,
            filter: w.iter().map(|&v| i32::from(v)).collect(),
            epilogue,
        };
        let dims = [s.batches, s.in_h, s.in_w, s.in_c];
        let args = [
            shape_input(&s),
            shape_input(&s),
            Tensor::from_i8(&dims, &x).unwrap(),
        ];
        let refs: Vec<Option<&Tensor>> = args.iter().map(Some).collect();
        let mut out = [Tensor::from_i8(&[s.output_len()], &vec![0; s.output_len()]).unwrap()];
        kernel.run(&refs, &mut out).unwrap();
        assert_eq!(out[0].as_i8().unwrap(), &want[..], "case {case}: {s:?}");
    }
}

/// A TRANSPOSE_CONV of a 1x2x2x3 input, 3x3 weights, 2 output channels, stride 2, SAME.
fn prepare_tconv(
    dtype: crate::model::DType,
    weights: crate::model::DType,
    out_shape: [i32; 4],
    weight_zp: i64,
) -> crate::Result<Box<dyn Kernel>> {
    use crate::model::{Activation, DType, Op, TransposeConvOptions};
    use crate::reference::test_support::{prepare_single, tensor};
    let q = |zp| (dtype != DType::F32).then_some((0.05, zp));
    let shape_bytes = out_shape.iter().flat_map(|d| d.to_le_bytes()).collect();
    let wq = (weights != DType::F32).then_some((0.01, weight_zp));
    let op = Op::TransposeConv(TransposeConvOptions {
        padding: Padding::Same,
        stride_w: 2,
        stride_h: 2,
        activation: Activation::None,
        quantized_bias_type: DType::F32,
    });
    let tensors = vec![
        tensor(DType::I32, &[4], None, Some(shape_bytes)),
        tensor(
            weights,
            &[2, 3, 3, 3],
            wq,
            Some(vec![1; weights.storage_bytes(54).unwrap_or(54) as usize]),
        ),
        tensor(dtype, &[1, 2, 2, 3], q(0), None),
        tensor(dtype, &out_shape, q(0), None),
    ];
    prepare_single(op, tensors, 3)
}

#[test]
fn refusals_name_what_is_wrong() {
    use crate::model::DType;
    assert!(prepare_tconv(DType::F32, DType::F32, [1, 4, 4, 2], 0).is_ok());
    assert!(prepare_tconv(DType::I8, DType::I8, [1, 4, 4, 2], 0).is_ok());
    assert!(prepare_tconv(DType::U8, DType::U8, [1, 4, 4, 2], 3).is_ok());
    let err = |r: crate::Result<Box<dyn Kernel>>| r.err().map(|e| e.to_string()).unwrap();
    // 16x8 (int16 input, int8 weights) runs; int16 weights do not.
    assert!(prepare_tconv(DType::I16, DType::I8, [1, 4, 4, 2], 0).is_ok());
    let e = err(prepare_tconv(DType::I16, DType::I16, [1, 4, 4, 2], 0));
    assert!(
        e.contains("TRANSPOSE_CONV") && e.contains("int16 with int8 weights"),
        "{e}"
    );
    // The output's channels must be the weights' output channels.
    let e = err(prepare_tconv(DType::F32, DType::F32, [1, 4, 4, 3], 0));
    assert!(e.contains("channels must be"), "{e}");
    // int8 weights need zero points 0.
    let e = err(prepare_tconv(DType::I8, DType::I8, [1, 4, 4, 2], 2));
    assert!(e.contains("zero point"), "{e}");
}
