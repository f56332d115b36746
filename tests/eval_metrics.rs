//! Evaluation metrics on small cases worked out by hand (the expected numbers are derived in
//! the comments, not taken from the implementation).

use litequant::eval::{
    argmax, dequantize, labels_from_tensor, sqnr_db, LayerAccumulator, OutputAccumulator,
};
use litequant::model::DType;
use litequant::{Buf, Tensor};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn one_sample_two_classes() {
    // ref = [3, 4], q = [3, 3]: err = [0, 1].
    // max |err| = 1; RMSE = sqrt((0 + 1) / 2) = sqrt(0.5);
    // SQNR = 10 log10((9 + 16) / 1) = 10 log10(25) = 13.979400086720377 dB.
    // argmax ref = 1, argmax q = 0 (tie: the first) → agreement 0;
    // label 1: float right, quantized wrong.
    let mut acc = OutputAccumulator::default();
    acc.add(&[3.0, 4.0], &[3.0, 3.0], 2, Some(&[1]));
    let m = acc.finish("out", "out_q");
    assert_eq!(m.elements, 2);
    assert_eq!(m.max_abs_error, 1.0);
    assert!(close(m.rmse, 0.5f64.sqrt()), "{}", m.rmse);
    assert!(close(m.sqnr_db, 13.979400086720377), "{}", m.sqnr_db);
    assert_eq!(m.top1_agreement, Some(0.0));
    assert_eq!(m.accuracy_float, Some(1.0));
    assert_eq!(m.accuracy_quant, Some(0.0));
    assert_eq!((m.name.as_str(), m.quant_name.as_str()), ("out", "out_q"));
}

#[test]
fn two_samples_three_classes() {
    // A: ref [1, 0, 0], q [1, 0, 0], label 0 — equal.
    // B: ref [0, 2, 1], q [0, 1, 2], label 1 — err [0, 1, -1].
    // Σ ref² = 1 + 4 + 1 = 6, Σ err² = 2 over 6 elements:
    // RMSE = sqrt(2 / 6) = 0.5773502691896257, SQNR = 10 log10(3) = 4.771212547196624 dB,
    // max |err| = 1. Top-1: A agrees (0, 0), B does not (1 vs 2) → 0.5.
    // Accuracy: float 2/2, quantized 1/2.
    let mut acc = OutputAccumulator::default();
    acc.add(&[1.0, 0.0, 0.0], &[1.0, 0.0, 0.0], 3, Some(&[0]));
    acc.add(&[0.0, 2.0, 1.0], &[0.0, 1.0, 2.0], 3, Some(&[1]));
    let m = acc.finish("y", "y");
    assert_eq!(m.elements, 6);
    assert_eq!(m.max_abs_error, 1.0);
    assert!(close(m.rmse, 0.5773502691896257), "{}", m.rmse);
    assert!(close(m.sqnr_db, 4.771212547196624), "{}", m.sqnr_db);
    assert_eq!(m.top1_agreement, Some(0.5));
    assert_eq!(m.accuracy_float, Some(1.0));
    assert_eq!(m.accuracy_quant, Some(0.5));
}

#[test]
fn batched_rows_and_non_finite_pairs() {
    // One sample of shape [2, 2] (two rows): ref [[1, 2], [5, 4]], q [[1, 2], [NaN, 4]].
    // The NaN pair is left out: 3 finite pairs, all equal → max 0, RMSE 0,
    // SQNR = +inf (no noise). Rows: argmax 1/1 agree; row 2: ref 0, q 1 (NaN never wins).
    // Labels [1, 0]: float 2/2, quantized 1/2.
    let mut acc = OutputAccumulator::default();
    acc.add(
        &[1.0, 2.0, 5.0, 4.0],
        &[1.0, 2.0, f32::NAN, 4.0],
        2,
        Some(&[1, 0]),
    );
    let m = acc.finish("o", "o");
    assert_eq!((m.elements, m.non_finite), (3, 1));
    assert_eq!((m.max_abs_error, m.rmse), (0.0, 0.0));
    assert_eq!(m.sqnr_db, f64::INFINITY);
    assert_eq!(m.top1_agreement, Some(0.5));
    assert_eq!(m.accuracy_float, Some(1.0));
    assert_eq!(m.accuracy_quant, Some(0.5));
    // A single-value output has no classes.
    let mut one = OutputAccumulator::default();
    one.add(&[2.0], &[1.5], 1, None);
    let m = one.finish("r", "r");
    assert_eq!(m.top1_agreement, None);
    assert_eq!(m.accuracy_float, None);
    // |2 - 1.5| = 0.5; SQNR = 10 log10(4 / 0.25) = 10 log10(16) = 12.041199826559248.
    assert_eq!(m.max_abs_error, 0.5);
    assert!(close(m.sqnr_db, 12.041199826559248));
}

#[test]
fn sqnr_and_argmax_edges() {
    assert_eq!(sqnr_db(1.0, 0.0), f64::INFINITY);
    assert!(sqnr_db(0.0, 0.0).is_nan());
    assert!(close(sqnr_db(100.0, 1.0), 20.0));
    assert_eq!(argmax(&[1.0, 3.0, 3.0]), Some(1));
    assert_eq!(argmax(&[f32::NAN, -1.0]), Some(1));
    assert_eq!(argmax(&[f32::NAN]), None);
}

#[test]
fn layer_statistics_as_the_quantization_debugger() {
    // scale 0.5. Sample 1: d = [0.5, -0.5] → mean 0, std 0.5, max|d| 0.5, mse 0.25.
    // Sample 2: d = [0.25, 0.25] → mean 0.25, std 0, max|d| 0.25, mse 0.0625.
    // Sample 3: d = [NaN, 0] → mean, std, max|d| and mse are NaN: left out (np.nanmean);
    //           num_elements 2 counts.
    // Averages: mean_error 0.125, stddev 0.25, max_abs_error 0.375,
    // mean_squared_error 0.15625, rmse = sqrt(0.15625) = 0.3952847075210474,
    // rmse/scale = 0.7905694150420948.
    let mut acc = LayerAccumulator::default();
    acc.add(&[0.5, -0.5]);
    acc.add(&[0.25, 0.25]);
    acc.add(&[f64::NAN, 0.0]);
    let l = acc.finish("conv", (3, 7), DType::I8, Some((0.5, -3)));
    assert_eq!((l.float_tensor, l.quant_tensor, l.samples), (3, 7, 3));
    assert_eq!(l.num_elements, 2.0);
    assert!(close(l.mean_error, 0.125));
    assert!(close(l.stddev, 0.25));
    assert!(close(l.max_abs_error, 0.375));
    assert!(close(l.mean_squared_error, 0.15625));
    assert!(close(l.rmse, 0.3952847075210474));
    assert!(close(l.rmse_over_scale.unwrap(), 0.7905694150420948));
    assert_eq!((l.scale, l.zero_point), (Some(0.5), Some(-3)));
    // JSON uses the debugger's column name.
    let j = serde_json::to_value(&l).unwrap();
    assert!(close(j["rmse/scale"].as_f64().unwrap(), 0.7905694150420948));
    // A float tensor has no scale.
    let f = acc.finish("fc", (1, 1), DType::F32, None);
    assert_eq!(f.rmse_over_scale, None);
}

#[test]
fn dequantize_and_labels() {
    // (q - zp) * scale with scale 0.5, zp -1: -128 → -63.5, 0 → 0.5, 127 → 64.
    let t = Tensor::from_i8(&[3], &[-128, 0, 127]).unwrap();
    assert_eq!(
        dequantize(&t, Some((0.5, -1)), "t").unwrap(),
        [-63.5, 0.5, 64.0]
    );
    let u = Tensor::from_u8(&[2], &[0, 255]).unwrap();
    assert_eq!(
        dequantize(&u, Some((0.25, 128)), "u").unwrap(),
        [-32.0, 31.75]
    );
    let err = dequantize(&t, None, "tensor 'x'").unwrap_err().to_string();
    assert!(err.contains("tensor 'x'") && err.contains("scale"), "{err}");

    let y = Tensor::new(&[3], Buf::I64(vec![4, 0, 9])).unwrap();
    assert_eq!(labels_from_tensor(&y, "y").unwrap(), [4, 0, 9]);
    let y = Tensor::from_f32(&[2, 1], &[1.0, 2.0]).unwrap();
    assert_eq!(labels_from_tensor(&y, "y").unwrap(), [1, 2]);
    let onehot = Tensor::from_f32(&[1, 2], &[0.0, 1.0]).unwrap();
    let e = labels_from_tensor(&onehot, "y.npy")
        .unwrap_err()
        .to_string();
    assert!(e.contains("y.npy") && e.contains("[1, 2]"), "{e}");
    let frac = Tensor::from_f32(&[1], &[0.5]).unwrap();
    assert!(labels_from_tensor(&frac, "y").is_err());
}
