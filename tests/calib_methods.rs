//! Calibration methods (`litequant::quant::methods`), the histogram pass and the statistics
//! cache, on `tests/fixtures/calib_methods/` (tools/make_calib_methods_fixture.py): a CNN
//! whose every value is exact in float32, so that ai-edge-quantizer (XNNPACK) and the
//! reference engine compute the same bits.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use litequant::data::Dataset;
use litequant::quant::methods::{tensor_range, DEFAULT_HISTOGRAM_BINS};
use litequant::quant::{
    calibrate_for, quantize, CalibrationMethod, QuantizeOptions, StatsNeeds, TargetGrid,
};
use litequant::{calibrate, CalibrationOptions, Engine, Model, ReferenceEngine, Session, Stats};

fn dir() -> PathBuf {
    common::fixtures().join("calib_methods")
}

fn model() -> Model {
    Model::from_file(dir().join("ema_cnn_f32.tflite")).unwrap()
}

fn open(m: &Model) -> Box<dyn Dataset> {
    let inputs = ReferenceEngine.prepare(m).unwrap().inputs().to_vec();
    litequant::data::open(
        dir().join("ema_cnn.calib.npz"),
        &inputs,
        &Default::default(),
    )
    .unwrap()
}

fn stats_for(m: &Model, needs: &StatsNeeds) -> Stats {
    let mut o = || Ok(open(m));
    calibrate_for(
        m,
        &ReferenceEngine,
        &mut o,
        needs,
        &CalibrationOptions::default(),
    )
    .unwrap()
}

#[test]
fn moving_average_equals_ai_edge_quantizer_to_the_bit() {
    let m = model();
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join("ema_cnn.aeq_qsvs.json")).unwrap(),
    )
    .unwrap();
    let momentum = golden["momentum"].as_f64().unwrap();
    let opts = CalibrationOptions {
        moving_averages: vec![momentum],
        ..Default::default()
    };
    let stats = calibrate(&m, &ReferenceEngine, &mut open(&m), &opts).unwrap();
    assert_eq!(stats.samples as u64, golden["samples"].as_u64().unwrap());
    let ema = stats.moving_average(momentum).unwrap();
    let names: BTreeMap<&str, usize> = m
        .main()
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let tensors = golden["tensors"].as_object().unwrap();
    assert!(tensors.len() >= 6);
    let mut moved = 0;
    for (name, v) in tensors {
        let t = names[name.as_str()];
        let want = (v[0].as_u64().unwrap() as u32, v[1].as_u64().unwrap() as u32);
        let (lo, hi) = ema.ranges[&t];
        assert_eq!(
            (lo.to_bits(), hi.to_bits()),
            want,
            "tensor {t} '{name}': ours [{lo}, {hi}], ai-edge-quantizer [{}, {}]",
            f32::from_bits(want.0),
            f32::from_bits(want.1)
        );
        let s = stats.unwidened.get(&t).unwrap_or(&stats.tensors[&t]);
        if (lo, hi) != (s.min, s.max) {
            moved += 1;
        }
    }
    // The average is not the global range (the fixture's samples differ in spread).
    assert!(moved >= 4, "{moved}");
    // The method reads it.
    let r = tensor_range(
        &stats,
        names["serving_default_x:0"],
        CalibrationMethod::MovingAverage(momentum),
        TargetGrid::Int8Asymmetric,
    )
    .unwrap();
    assert_eq!(r, Some(ema.ranges[&names["serving_default_x:0"]]));
    // Another momentum was not collected: a clear error.
    let e = stats
        .with_method(
            CalibrationMethod::MovingAverage(0.9),
            TargetGrid::Int8Asymmetric,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("momentum 0.9") && e.contains("0.95"), "{e}");
}

#[test]
fn minmax_is_calibration_unchanged_and_histogram_methods_choose_inside_the_own_range() {
    let m = model();
    let plain = calibrate(&m, &ReferenceEngine, &mut open(&m), &Default::default()).unwrap();
    let all = stats_for(&m, &StatsNeeds::all(DEFAULT_HISTOGRAM_BINS));
    // Pass 1 is the same calibration: the converter's ranges to the bit.
    assert_eq!(all.tensors, plain.tensors);
    assert_eq!(all.unwidened, plain.unwidened);
    assert_eq!(
        all.with_method(CalibrationMethod::MinMax, TargetGrid::Int8Asymmetric)
            .unwrap()
            .tensors,
        plain.tensors
    );
    // A histogram over every tensor with a range, counting every value.
    for (t, s) in &all.tensors {
        let own = all.unwidened.get(t).unwrap_or(s);
        if own.min == 0.0 && own.max == 0.0 {
            continue;
        }
        let h = &all.histograms[t];
        assert_eq!(h.total(), own.count, "tensor {t}");
        assert_eq!((h.below, h.above), (0, 0));
        assert_eq!(h.spec.bins(), DEFAULT_HISTOGRAM_BINS);
    }
    for method in [
        CalibrationMethod::Percentile(99.9),
        CalibrationMethod::Mse,
        CalibrationMethod::Entropy,
    ] {
        for grid in [TargetGrid::Int8Asymmetric, TargetGrid::Int16Symmetric] {
            let chosen = all.with_method(method, grid).unwrap();
            assert_eq!(
                chosen.chosen_by.as_deref(),
                Some(method.to_string().as_str())
            );
            let mut narrower = 0;
            for (t, s) in &chosen.tensors {
                let own = all.unwidened.get(t).unwrap_or(&all.tensors[t]);
                let (lo, hi) = (own.min.min(0.0), own.max.max(0.0));
                assert!(
                    s.min >= lo && s.max <= hi,
                    "{method} tensor {t}: {s:?} vs [{lo}, {hi}]"
                );
                assert!(s.min < s.max, "{method} tensor {t}: {s:?}");
                narrower += usize::from(s.min > lo || s.max < hi);
            }
            if grid == TargetGrid::Int8Asymmetric {
                assert!(narrower > 0, "{method}: every range is the full one");
            }
        }
        // The quantizer takes them as calibrated ranges.
        let chosen = all.with_method(method, TargetGrid::Int8Asymmetric).unwrap();
        let (_, report) = quantize(&m, Some(&chosen), &QuantizeOptions::int8()).unwrap();
        assert_eq!(report.calibration_method, Some(method.to_string()));
    }
    // percentile:100 is the own range (widened to 0).
    let p100 = all
        .with_method(
            CalibrationMethod::Percentile(100.0),
            TargetGrid::Int8Asymmetric,
        )
        .unwrap();
    for (t, s) in &p100.tensors {
        let own = all.unwidened.get(t).unwrap_or(&all.tensors[t]);
        assert_eq!(
            (s.min, s.max),
            (own.min.min(0.0), own.max.max(0.0)),
            "tensor {t}"
        );
    }
    // Methods that need histograms refuse statistics without them.
    let e = plain
        .with_method(CalibrationMethod::Mse, TargetGrid::Int8Asymmetric)
        .unwrap_err()
        .to_string();
    assert!(e.contains("histograms"), "{e}");
}

#[test]
fn the_histogram_pass_needs_the_same_data() {
    let m = model();
    let mut stats = calibrate(&m, &ReferenceEngine, &mut open(&m), &Default::default()).unwrap();
    let mut fewer = open(&m).max_samples(3);
    let e = litequant::quant::calibrate_histograms(
        &m,
        &ReferenceEngine,
        &mut fewer,
        &mut stats,
        64,
        &Default::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("3 samples") && e.contains("12"), "{e}");
}

#[test]
fn the_cache_round_trips_and_is_tied_to_its_model() {
    let m = model();
    let stats = stats_for(&m, &StatsNeeds::all(256));
    let tmp = std::env::temp_dir().join(format!("litequant-stats-{}.json", std::process::id()));
    stats.save(&tmp, &m, "ema_cnn_f32.tflite").unwrap();
    let back = Stats::load(&tmp, &m, "again.tflite").unwrap();
    assert_eq!(back, stats);
    for method in ["moving-average", "percentile", "mse", "entropy", "minmax"] {
        let method: CalibrationMethod = method.parse().unwrap();
        assert_eq!(
            back.with_method(method, TargetGrid::Int8Asymmetric)
                .unwrap(),
            stats
                .with_method(method, TargetGrid::Int8Asymmetric)
                .unwrap()
        );
    }
    // Another model: an error naming both.
    let other = Model::from_file(common::fixtures().join("cnn_float32.tflite")).unwrap();
    let e = Stats::load(&tmp, &other, "cnn_float32.tflite")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ema_cnn_f32.tflite") && e.contains("cnn_float32.tflite"),
        "{e}"
    );
    // Another version, another file: clear errors.
    let text = std::fs::read_to_string(&tmp).unwrap();
    let v2 = text.replacen("\"version\":1", "\"version\":2", 1);
    let e = Stats::from_cache_json(&v2, &m, "m", "s.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("version 2"), "{e}");
    let e = Stats::from_cache_json("{\"a\":1}", &m, "m", "s.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a litequant statistics file"), "{e}");
    let _ = std::fs::remove_file(&tmp);
}
