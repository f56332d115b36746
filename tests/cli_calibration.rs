//! `litequant quantize --calibration METHOD`, `--histogram-bins`, `--save-stats`,
//! `--load-stats`: the CLI's model equals the library's, a cache quantizes to the same
//! bytes without the data, and misuse is a clear error that writes nothing.

mod common;

use common::cli::{litequant, s, TempDir};
use std::path::PathBuf;
use std::process::Output;

use litequant::quant::{calibrate_for, quantize, CalibrationMethod, QuantizeOptions, TargetGrid};
use litequant::{CalibrationOptions, Engine, Model, ReferenceEngine, Session, Stats};

fn fixture(name: &str) -> PathBuf {
    common::fixtures().join("calib_methods").join(name)
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    String::from_utf8_lossy(&out.stdout).to_string() + &err
}

fn fails(out: &Output) -> String {
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// The library's int8 model of `ema_cnn` with `method`.
fn library(method: CalibrationMethod, bins: usize) -> Vec<u8> {
    let m = Model::from_file(fixture("ema_cnn_f32.tflite")).unwrap();
    let inputs = ReferenceEngine.prepare(&m).unwrap().inputs().to_vec();
    let calib = fixture("ema_cnn.calib.npz");
    let mut open = || litequant::data::open(&calib, &inputs, &Default::default());
    let engine = litequant::ConverterFloatEngine::default();
    let stats = calibrate_for(
        &m,
        &engine,
        &mut open,
        &method.needs(bins),
        &CalibrationOptions::default(),
    )
    .unwrap();
    let chosen = stats
        .with_method(method, TargetGrid::Int8Asymmetric)
        .unwrap();
    let (q, _) = quantize(&m, Some(&chosen), &QuantizeOptions::int8()).unwrap();
    q.to_bytes().unwrap()
}

#[test]
fn methods_equal_the_library_and_the_cache_needs_no_data() {
    let dir = TempDir::new("methods");
    let model = fixture("ema_cnn_f32.tflite");
    let calib = fixture("ema_cnn.calib.npz");
    let stats = dir.join("stats.json");
    // minmax with --save-stats: the plain output, and the statistics saved.
    let plain = dir.join("plain.tflite");
    ok(&litequant(&[
        "quantize",
        s(&model),
        "-o",
        s(&plain),
        "--calib",
        s(&calib),
    ]));
    let saved = dir.join("saved.tflite");
    let out = ok(&litequant(&[
        "quantize",
        s(&model),
        "-o",
        s(&saved),
        "--calib",
        s(&calib),
        "--save-stats",
        s(&stats),
    ]));
    assert!(out.contains("two passes"), "{out}");
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        std::fs::read(&plain).unwrap()
    );
    let from_cache = dir.join("cache.tflite");
    ok(&litequant(&[
        "quantize",
        s(&model),
        "-o",
        s(&from_cache),
        "--load-stats",
        s(&stats),
    ]));
    assert_eq!(
        std::fs::read(&from_cache).unwrap(),
        std::fs::read(&plain).unwrap()
    );
    for method in ["moving-average", "percentile:99.9", "mse", "entropy"] {
        let parsed: CalibrationMethod = method.parse().unwrap();
        let want = library(parsed, 2048);
        let direct = dir.join("direct.tflite");
        let report = dir.join("report.json");
        let out = ok(&litequant(&[
            "quantize",
            s(&model),
            "-o",
            s(&direct),
            "--calib",
            s(&calib),
            "--calibration",
            method,
            "--report",
            s(&report),
        ]));
        assert!(
            out.contains(&format!("activation ranges by {parsed}")),
            "{out}"
        );
        assert_eq!(std::fs::read(&direct).unwrap(), want, "{method}");
        assert_ne!(want, std::fs::read(&plain).unwrap(), "{method} = minmax");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(r["calibration_method"], parsed.to_string());
        let cached = dir.join("cached.tflite");
        ok(&litequant(&[
            "quantize",
            s(&model),
            "-o",
            s(&cached),
            "--load-stats",
            s(&stats),
            "--calibration",
            method,
        ]));
        assert_eq!(
            std::fs::read(&cached).unwrap(),
            want,
            "{method} from the cache"
        );
    }
    // --histogram-bins changes the histograms.
    let few = dir.join("few.tflite");
    ok(&litequant(&[
        "quantize",
        s(&model),
        "-o",
        s(&few),
        "--calib",
        s(&calib),
        "--calibration",
        "mse",
        "--histogram-bins",
        "64",
    ]));
    assert_eq!(
        std::fs::read(&few).unwrap(),
        library(CalibrationMethod::Mse, 64)
    );
}

#[test]
fn misuse_is_a_clear_error_and_writes_nothing() {
    let dir = TempDir::new("misuse");
    let model = fixture("ema_cnn_f32.tflite");
    let calib = fixture("ema_cnn.calib.npz");
    let out = dir.join("out.tflite");
    let stats = dir.join("stats.json");
    let q = |extra: &[&str]| {
        let mut args = vec!["quantize", s(&model), "-o", s(&out)];
        args.extend_from_slice(extra);
        litequant(&args)
    };
    let e = fails(&q(&["--calibration", "kl"]));
    assert!(e.contains("unknown calibration method 'kl'"), "{e}");
    let e = fails(&q(&[
        "--calibration",
        "percentile:20",
        "--calib",
        s(&calib),
    ]));
    assert!(e.contains("percentile 20"), "{e}");
    let e = fails(&q(&["--save-stats", s(&stats)]));
    assert!(e.contains("--calib DATA"), "{e}");
    let e = fails(&q(&["--mode", "dynamic", "--calibration", "mse"]));
    assert!(e.contains("mode dynamic"), "{e}");
    // Statistics of this model without histograms or another momentum.
    let m = Model::from_file(&model).unwrap();
    let inputs = ReferenceEngine.prepare(&m).unwrap().inputs().to_vec();
    let mut data = litequant::data::open(&calib, &inputs, &Default::default()).unwrap();
    let plain: Stats =
        litequant::calibrate(&m, &ReferenceEngine, &mut data, &Default::default()).unwrap();
    plain.save(&stats, &m, "ema_cnn_f32.tflite").unwrap();
    let e = fails(&q(&["--load-stats", s(&stats), "--calib", s(&calib)]));
    assert!(e.contains("not both"), "{e}");
    let e = fails(&q(&["--load-stats", s(&stats), "--calibration", "entropy"]));
    assert!(e.contains("histograms") && e.contains("stats.json"), "{e}");
    let e = fails(&q(&[
        "--load-stats",
        s(&stats),
        "--calibration",
        "moving-average:0.9",
    ]));
    assert!(e.contains("momentum 0.9") && e.contains("none"), "{e}");
    // Statistics of another model: both named.
    let other = common::fixtures().join("cnn_float32.tflite");
    let e = fails(&litequant(&[
        "quantize",
        s(&other),
        "-o",
        s(&out),
        "--load-stats",
        s(&stats),
    ]));
    assert!(
        e.contains("ema_cnn_f32.tflite") && e.contains("cnn_float32.tflite"),
        "{e}"
    );
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, b"{not json").unwrap();
    let e = fails(&q(&["--load-stats", s(&garbage)]));
    assert!(e.contains("not a litequant statistics file"), "{e}");
    assert!(!out.exists());
}
