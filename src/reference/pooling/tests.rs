//! Tests of the pools: window geometry, rounding, activation clamps, prepare's refusals, and
//! the fixtures' pools alone on LiteRT's recorded inputs.

use super::*;
use crate::reference::test_support::{check_op, prepare_single, tensor};

fn geom(
    in_hw: (usize, usize),
    filter: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
    depth: usize,
) -> PoolGeom {
    let ph = compute_padding(padding, in_hw.0, filter.0, stride.0, 1).unwrap();
    let pw = compute_padding(padding, in_hw.1, filter.1, stride.1, 1).unwrap();
    PoolGeom {
        batches: 1,
        in_h: in_hw.0,
        in_w: in_hw.1,
        depth,
        out_h: ph.out,
        out_w: pw.out,
        stride_h: stride.0,
        stride_w: stride.1,
        filter_h: filter.0,
        filter_w: filter.1,
        pad_h: ph.before as usize,
        pad_w: pw.before as usize,
    }
}

#[test]
fn rounding_is_half_away_from_zero() {
    assert_eq!(round_div_away(5, 2), 3);
    assert_eq!(round_div_away(-5, 2), -3);
    assert_eq!(round_div_away(4, 3), 1);
    assert_eq!(round_div_away(-4, 3), -1);
    assert_eq!(round_div_away(-5, 3), -2);
    assert_eq!(round_div_away(0, 9), 0);
    // 4 taps: x.5 goes away from zero, x.25 and x.75 to the nearest.
    assert_eq!(round_div_away(-2, 4), -1);
    assert_eq!(round_div_away(2, 4), 1);
    assert_eq!(round_div_away(-1, 4), 0);
    assert_eq!(round_div_away(-3, 4), -1);
    // 9 taps of -128 and of 127.
    assert_eq!(round_div_away(-128 * 9, 9), -128);
    assert_eq!(round_div_away(127 * 9, 9), 127);
}

#[test]
fn same_padding_counts_only_in_bounds_taps() {
    // 3x3 input, 3x3 filter, stride 1, SAME: the corner window has 4 taps.
    let g = geom((3, 3), (3, 3), (1, 1), Padding::Same, 1);
    assert_eq!((g.out_h, g.out_w, g.pad_h, g.pad_w), (3, 3, 1, 1));
    let input: Vec<i8> = vec![-128, -127, 1, 2, 3, 4, 5, 6, 7];
    let mut out = vec![0i8; 9];
    average_int(&g, -128, 127, &input, &mut out);
    // Corner (0,0): taps -128, -127, 2, 3 -> -250/4 = -62.5 -> -63.
    assert_eq!(out[0], -63);
    // Centre: all 9 taps: -227/9 = -25.2 -> -25.
    assert_eq!(out[4], -25);
    let mut m = vec![0i8; 9];
    max_int(&g, -128, 127, &input, &mut m);
    assert_eq!(m, vec![3, 4, 4, 6, 7, 7, 6, 7, 7]);
}

#[test]
fn odd_sizes_and_strides() {
    // 7x5 input, 3x3 filter, stride 2, SAME: out 4x3, pad 1 both.
    let g = geom((7, 5), (3, 3), (2, 2), Padding::Same, 2);
    assert_eq!((g.out_h, g.out_w, g.pad_h, g.pad_w), (4, 3, 1, 1));
    let w = g.window(3, 2);
    assert_eq!(
        w,
        Window {
            y0: 5,
            y1: 7,
            x0: 3,
            x1: 5
        }
    );
    assert!(!g.has_empty_window());
    // 8 wide, 2 filter, stride 3, SAME: total pad (2*3+2-8)=0.
    let g = geom((1, 8), (1, 2), (1, 3), Padding::Same, 1);
    assert_eq!((g.out_w, g.pad_w), (3, 0));
    assert_eq!(
        g.window(0, 2),
        Window {
            y0: 0,
            y1: 1,
            x0: 6,
            x1: 8
        }
    );
    // VALID: every window is whole.
    let g = geom((7, 9), (3, 3), (2, 2), Padding::Valid, 1);
    assert_eq!((g.out_h, g.out_w), (3, 4));
    assert_eq!(
        g.window(2, 3),
        Window {
            y0: 4,
            y1: 7,
            x0: 6,
            x1: 9
        }
    );
}

#[test]
fn activation_clamps_apply() {
    let g = geom((2, 2), (2, 2), (2, 2), Padding::Valid, 1);
    let mut out = [0.0f32];
    average_f32(&g, 0.0, 6.0, &[-1.0, -2.0, -3.0, -4.0], &mut out);
    assert_eq!(out[0], 0.0);
    max_f32(&g, 0.0, 6.0, &[9.0, -2.0, -3.0, -4.0], &mut out);
    assert_eq!(out[0], 6.0);
    let mut q = [0i8];
    max_int(&g, -10, 20, &[-100i8, -50, -30, -20], &mut q);
    assert_eq!(q[0], -10);
    let mut u = [0u8];
    average_int(&g, 0, 255, &[255u8, 255, 254, 254], &mut u);
    // 1018 / 4 = 254.5 -> 255.
    assert_eq!(u[0], 255);
}

fn pool_opts(padding: Padding, filter: i32, stride: i32) -> Pool2DOptions {
    Pool2DOptions {
        padding,
        stride_w: stride,
        stride_h: stride,
        filter_w: filter,
        filter_h: filter,
        activation: crate::model::Activation::None,
    }
}

#[test]
fn prepare_refuses_what_the_kernels_cannot_run() {
    use crate::model::Op;
    let q = |s, z| Some((s, z));
    // Input and output quantization differ.
    let e = prepare_single(
        Op::AveragePool2D(pool_opts(Padding::Valid, 2, 2)),
        vec![
            tensor(DType::I8, &[1, 4, 4, 1], q(0.1, 0), None),
            tensor(DType::I8, &[1, 2, 2, 1], q(0.2, 0), None),
        ],
        1,
    );
    assert!(matches!(e, Err(Error::Unsupported(_))), "{:?}", e.err());
    // No quantization on an int8 tensor.
    let e = prepare_single(
        Op::MaxPool2D(pool_opts(Padding::Valid, 2, 2)),
        vec![
            tensor(DType::I8, &[1, 4, 4, 1], None, None),
            tensor(DType::I8, &[1, 2, 2, 1], None, None),
        ],
        1,
    );
    assert!(matches!(e, Err(Error::Unsupported(_))));
    // A wrong output shape.
    let e = prepare_single(
        Op::MaxPool2D(pool_opts(Padding::Same, 3, 2)),
        vec![
            tensor(DType::F32, &[1, 5, 5, 1], None, None),
            tensor(DType::F32, &[1, 2, 2, 1], None, None),
        ],
        1,
    );
    assert!(matches!(e, Err(Error::InvalidModel(_))));
    // Not 4-D; zero stride.
    let e = prepare_single(
        Op::MaxPool2D(pool_opts(Padding::Same, 3, 2)),
        vec![
            tensor(DType::F32, &[5, 5, 1], None, None),
            tensor(DType::F32, &[3, 3, 1], None, None),
        ],
        1,
    );
    assert!(matches!(e, Err(Error::Unsupported(_))));
    let e = prepare_single(
        Op::MaxPool2D(pool_opts(Padding::Same, 3, 0)),
        vec![
            tensor(DType::F32, &[1, 5, 5, 1], None, None),
            tensor(DType::F32, &[1, 3, 3, 1], None, None),
        ],
        1,
    );
    assert!(matches!(e, Err(Error::InvalidModel(_))));
    // A supported one runs; a mis-shaped run input is an error, not a panic.
    let k = prepare_single(
        Op::AveragePool2D(pool_opts(Padding::Same, 3, 2)),
        vec![
            tensor(DType::U8, &[1, 5, 5, 1], q(0.5, 128), None),
            tensor(DType::U8, &[1, 3, 3, 1], q(0.5, 128), None),
        ],
        1,
    )
    .unwrap();
    let x = Tensor::from_u8(&[1, 5, 5, 1], &[255; 25]).unwrap();
    let mut out = vec![Tensor::zeros(DType::U8, &[1, 3, 3, 1]).unwrap()];
    k.run(&[Some(&x)], &mut out).unwrap();
    assert_eq!(out[0].as_u8().unwrap(), &[255; 9]);
    let bad = Tensor::from_u8(&[1, 4, 5, 1], &[0; 20]).unwrap();
    assert!(k.run(&[Some(&bad)], &mut out).is_err());
    assert!(k.run(&[None], &mut out).is_err());
}

#[test]
fn fixtures_match_litert_in_isolation() {
    for f in [
        "avgpool_2x2_s2_valid_f32",
        "avgpool_2x2_s2_valid_int8",
        "avgpool_3x3_s1_same_f32",
        "avgpool_3x3_s1_same_int8",
        "avgpool_3x3_s2_same_f32",
        "avgpool_3x3_s2_same_int8",
        "avgpool_3x3_s2_same_int8io",
        "avgpool_3x3_s2_valid_f32",
        "avgpool_3x3_s2_valid_int8",
    ] {
        assert!(check_op(f, "AVERAGE_POOL_2D") > 0);
    }
    for f in [
        "maxpool_2x2_s2_valid_f32",
        "maxpool_2x2_s2_valid_int8",
        "maxpool_3x3_s1_same_f32",
        "maxpool_3x3_s1_same_int8",
        "maxpool_3x3_s2_same_f32",
        "maxpool_3x3_s2_same_int8",
        "maxpool_3x3_s2_same_int8io",
        "maxpool_3x3_s2_valid_f32",
        "maxpool_3x3_s2_valid_int8",
    ] {
        assert!(check_op(f, "MAX_POOL_2D") > 0);
    }
}
