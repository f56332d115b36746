//! Unit tests of the full-integer pass's parameter rules.

use super::*;

#[test]
fn activation_params_like_the_converter() {
    // Relu6 observed on [0, 6].
    let (s, zp, _) = activation_params(0.0, 6.0);
    assert_eq!((s, zp), ((6.0f64 / 255.0) as f32, -128));
    // Range widened to include 0.
    assert_eq!(activation_params(1.0, 2.0).1, -128);
    assert_eq!(activation_params(-2.0, -1.0).1, 127);
    // Constant zero.
    // TF 2.21's file for a ZEROS_LIKE output observed on [0, 0] (the zeros_like fixture).
    assert_eq!(activation_params(0.0, 0.0).0, 7.843_137e-9);
    assert_eq!(activation_params(0.0, 0.0).1, 0);
    // A small range widened by 1e-6 on each side: ConvNeXtTiny's first downsampling
    // LayerNorm mean in TF 2.21's int8 file (docs/zoo.md).
    let (s, zp, _) = activation_params(-3.725_290_3e-8, 1.986_821_4e-7);
    assert_eq!((s, zp), (8.768_373e-9, -10));
    // Symmetric range: -128 + 127.5 = -0.5 rounds away from zero.
    assert_eq!(activation_params(-1.0, 1.0).1, -1);
}

#[test]
fn int16_activation_params_like_the_converter() {
    use super::Activations;
    // GetSymmetricQuantizationParams(min, max, 32767) in float32: the range widened to 0.
    let (s, zp, s64) = Activations::Int16.params(-1.2948539, 2.0979416);
    assert_eq!((s, zp), (2.0979416f32 / 32767.0, 0));
    assert_eq!(s64, f64::from(s));
    // The 16x8 fixtures' input x0 of add_same (TF 2.21's file: 6.4026055e-5).
    assert_eq!(s.to_bits(), 6.402_605_5e-5f32.to_bits());
    assert_eq!(Activations::Int16.params(1.0, 2.0).0, 2.0 / 32767.0);
    assert_eq!(Activations::Int16.params(-3.0, -1.0).0, 3.0 / 32767.0);
    assert_eq!(Activations::Int16.qrange(), (-32768.0, 32767.0));
}
