//! Calibration on the reference engine: global min/max per float tensor over the samples,
//! checked against the data itself and against the activation scales the TensorFlow
//! converter computed from the same float model and the same 100 calibration samples.

mod common;

use litequant::data::NpyDataset;
use litequant::{calibrate, CalibrationOptions, Engine, Model, ReferenceEngine, Session};

fn stats_for(model: &str) -> (Model, litequant::Stats) {
    let m = Model::from_file(common::fixtures().join(model)).unwrap();
    let spec = ReferenceEngine.prepare(&m).unwrap().inputs()[0].clone();
    let mut data = NpyDataset::open(common::fixtures().join("digits_calib.npy"))
        .unwrap()
        .with_input(&spec)
        .unwrap();
    let stats = calibrate(
        &m,
        &ReferenceEngine,
        &mut data,
        &CalibrationOptions::default(),
    )
    .unwrap();
    (m, stats)
}

#[test]
fn input_range_is_the_data_range() {
    let (m, stats) = stats_for("cnn_float32.tflite");
    assert_eq!(stats.samples, 100);
    let all = litequant::data::read_npy_file(&common::fixtures().join("digits_calib.npy")).unwrap();
    let v = all.as_f32().unwrap();
    let (lo, hi) = v
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let s = stats.tensors[&m.main().inputs[0]];
    assert_eq!(
        (s.min, s.max, s.count, s.nan, s.inf),
        (lo, hi, v.len() as u64, 0, 0)
    );
}

/// The converter's scale for an observed range, computed as its Python code does in float32:
/// the range widened to include 0, `(max - min) / 255`.
fn converter_scale(min: f32, max: f32) -> f32 {
    let (min, max) = (min.min(0.0), max.max(0.0));
    (max - min) / 255.0
}

#[test]
fn activation_ranges_give_the_converters_scales() {
    let (float, stats) = stats_for("cnn_float32.tflite");
    let int8 = Model::from_file(common::fixtures().join("cnn_int8.tflite")).unwrap();
    let mut compared = 0;
    for (ti, t) in float.main().tensors.iter().enumerate() {
        let Some(s) = stats.tensors.get(&ti) else {
            continue;
        };
        // The converter keeps names; its quantized twin carries the scale it computed.
        let Some(q) = int8
            .main()
            .tensors
            .iter()
            .find(|u| u.name == t.name && u.dtype == litequant::model::DType::I8)
        else {
            continue;
        };
        let want = q.quant.as_ref().unwrap().scale[0];
        let got = converter_scale(s.min, s.max);
        let ulps = (got.to_bits() as i64 - want.to_bits() as i64).abs();
        println!(
            "{:60} observed [{}, {}] scale {got:e} converter {want:e} ({ulps} ulp)",
            t.name, s.min, s.max
        );
        compared += 1;
        // Outputs of pooling/reshape carry their input's scale (same-scale constraint), so
        // only ops whose own range sets the scale are compared.
        // The converter's calibrator observes with LiteRT's optimized float kernels; our
        // reference kernels sum in another order, so the FC output's range (and scale) can
        // differ by a few ulp. Convolutions with ReLU/ReLU6 here match exactly.
        let allowed = if t.name.contains("MatMul") { 2 } else { 0 };
        if ["Relu", "MatMul;"].iter().any(|k| t.name.contains(k)) && !t.name.contains("Pool") {
            assert!(
                ulps <= allowed,
                "{}: {got:e} vs {want:e} ({ulps} ulp)",
                t.name
            );
        }
    }
    assert!(compared >= 3, "compared {compared} tensors");
}
