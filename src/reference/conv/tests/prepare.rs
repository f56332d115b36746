//! The window geometry, what prepare refuses, and the int8 epilogue's fixed-point corners
//! through a whole kernel.

use crate::model::{Activation, Conv2DOptions, DType, Op, Padding};
use crate::quant::fixedpoint::{multiply_by_quantized_multiplier, quantize_multiplier};
use crate::{Buf, Tensor};

use super::{qp, tensor, Case, Problem};

#[test]
fn geometry_pads_before_with_the_smaller_half() {
    // 8 wide, 3 taps, stride 2, SAME: 4 outputs, total padding 1, all of it after.
    let g = super::super::Geom {
        batches: 1,
        in_h: 8,
        in_w: 8,
        in_c: 1,
        out_h: 4,
        out_w: 4,
        out_c: 1,
        filter_h: 3,
        filter_w: 3,
        stride_h: 2,
        stride_w: 2,
        dilation_h: 1,
        dilation_w: 1,
        pad_h: 0,
        pad_w: 0,
    };
    assert_eq!(g.in_y(3, 2), None); // 6 + 2 = 8: outside
    assert_eq!(g.in_y(3, 1), Some(7));
    let g = super::super::Geom {
        pad_w: 1,
        dilation_w: 2,
        ..g
    };
    assert_eq!(g.in_x(0, 0), None);
    assert_eq!(g.in_x(0, 1), Some(1));
    assert_eq!(g.in_x(3, 2), None); // 6 + 4 - 1 = 9
}

#[test]
fn unsupported_shapes_and_types_fail_at_prepare() {
    let c = Case {
        depthwise: false,
        batches: 1,
        in_h: 4,
        in_w: 4,
        in_c: 2,
        filter_in_c: 2,
        out: 3,
        fh: 3,
        fw: 3,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        same: false,
        act: Activation::Tanh,
    };
    let fshape = c.filter_shape();
    let mk = |act: Activation, out_shape: Vec<usize>, w_scales: Vec<f32>| {
        let c = Case { act, ..c };
        Problem::new(
            c.op(),
            vec![
                tensor("x", DType::F32, &[1, 4, 4, 2], None),
                tensor(
                    "w",
                    DType::I8,
                    &fshape,
                    qp(w_scales.clone(), vec![0; w_scales.len()], 0),
                ),
                tensor("b", DType::F32, &[3], None),
                tensor("y", DType::F32, &out_shape, None),
            ],
            Tensor::new(&fshape, Buf::I8(vec![1; 54])).unwrap(),
            Some(Tensor::from_f32(&[3], &[0.0; 3]).unwrap()),
        )
    };
    let err = |p: &Problem| p.prepare().err().map(|e| e.to_string()).unwrap_or_default();
    // A fused TANH is not applied by TFLite's conv kernels: refused.
    assert!(err(&mk(Activation::Tanh, vec![1, 2, 2, 3], vec![0.1])).contains("fused activation"));
    // The output shape must be what the window gives.
    assert!(err(&mk(Activation::None, vec![1, 3, 3, 3], vec![0.1])).contains("output"));
    // Two scales for three channels.
    assert!(err(&mk(Activation::None, vec![1, 2, 2, 3], vec![0.1, 0.2])).contains("scales"));
    assert!(mk(Activation::None, vec![1, 2, 2, 3], vec![0.1, 0.2, 0.3])
        .prepare()
        .is_ok());
}

/// Fixed-point corners of the epilogue through a whole kernel: a large accumulator, a
/// multiplier above 1 (left shift), clamping at both ends.
#[test]
fn int8_extremes() {
    // 1x1 conv, 64 input channels all -128 with zp 127 and weights -127: acc = 64 * 127 * 255.
    let x = vec![-128i8; 64];
    let w = vec![-127i8; 2 * 64];
    let p = Problem::new(
        Op::Conv2D(Conv2DOptions {
            padding: Padding::Valid,
            stride_w: 1,
            stride_h: 1,
            activation: Activation::None,
            dilation_w: 1,
            dilation_h: 1,
            quantized_bias_type: DType::F32,
        }),
        vec![
            tensor("x", DType::I8, &[1, 1, 1, 64], qp(vec![1.0], vec![127], 0)),
            tensor(
                "w",
                DType::I8,
                &[2, 1, 1, 64],
                qp(vec![1e-6, 3.0], vec![0, 0], 0),
            ),
            tensor("b", DType::I32, &[2], None),
            tensor("y", DType::I8, &[1, 1, 1, 2], qp(vec![1.0], vec![-3], 0)),
        ],
        Tensor::new(&[2, 1, 1, 64], Buf::I8(w)).unwrap(),
        Some(Tensor::new(&[2], Buf::I32(vec![i32::MIN / 2, 7])).unwrap()),
    );
    let y = p.run(Tensor::from_i8(&[1, 1, 1, 64], &x).unwrap()).unwrap();
    let acc = 64 * 127 * 255;
    let m0 = quantize_multiplier(1e-6f32 as f64);
    let v0 = multiply_by_quantized_multiplier(acc + i32::MIN / 2, m0) - 3;
    assert_eq!(y.as_i8().unwrap(), &[v0.clamp(-128, 127) as i8, 127]);
}
