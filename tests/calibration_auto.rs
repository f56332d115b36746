//! `--calibration auto` (`litequant::quant::auto`): never worse than minmax on the held-out
//! samples, strictly better when one calibration sample is an outlier, and the model it
//! reports is the one measured; the CLI prints the choices.

use std::path::{Path, PathBuf};
use std::process::Command;

use litequant::data::{Dataset, HoldoutSplit, InMemory, NpyDataset};
use litequant::quant::auto::{choose_auto, choose_auto_folds, recalibrated, AutoOptions};
use litequant::quant::measure::measure;
use litequant::quant::methods::{tensor_range, StatsNeeds, TargetGrid, DEFAULT_HISTOGRAM_BINS};
use litequant::quant::two_pass::calibrate_for;
use litequant::quant::{quantize, QuantizeOptions};
use litequant::{Buf, ConverterFloatEngine, Engine, Model, Session, Stats, Tensor};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The first 40 digits, in memory; with `outlier`, sample 0 (a calibration sample) scaled
/// by 40.
fn digits(m: &Model, outlier: bool) -> InMemory {
    let spec = ConverterFloatEngine.prepare(m).unwrap().inputs()[0].clone();
    let mut data = NpyDataset::open(fixture("digits_calib.npy"))
        .unwrap()
        .with_input(&spec)
        .unwrap()
        .max_samples(40);
    let mut samples = Vec::new();
    while let Some(s) = data.next_sample() {
        samples.push(s.unwrap());
    }
    if outlier {
        let (name, t) = &samples[0][0];
        let Buf::F32(v) = t.buf() else { panic!() };
        let big: Vec<f32> = v.iter().map(|x| x * 40.0).collect();
        samples[0][0] = (name.clone(), Tensor::from_f32(t.shape(), &big).unwrap());
    }
    InMemory { samples }
}

/// Statistics for every method on the calibration part, and the held-out part.
fn calibrated(m: &Model, all: &InMemory) -> (Stats, InMemory) {
    let mut held = InMemory::default();
    let mut open =
        || -> litequant::Result<HoldoutSplit<'_>> { HoldoutSplit::new(all.dataset(), 4) };
    let stats = calibrate_for(
        m,
        &ConverterFloatEngine,
        &mut open,
        &StatsNeeds::all(DEFAULT_HISTOGRAM_BINS),
        &Default::default(),
    )
    .unwrap();
    let mut split = HoldoutSplit::new(all.dataset(), 4).unwrap();
    while split.next_sample().is_some() {}
    held.samples = split.into_held_out().samples;
    assert_eq!((stats.samples, held.len()), (30, 10));
    (stats, held)
}

fn run(outlier: bool) -> (f64, f64) {
    let m = Model::from_file(fixture("cnn_float32.tflite")).unwrap();
    let all = digits(&m, outlier);
    let (stats, held) = calibrated(&m, &all);
    let opts = QuantizeOptions::int8();
    let (chosen, r) = choose_auto(
        &m,
        &ConverterFloatEngine,
        &stats,
        &held,
        &opts,
        &AutoOptions::default(),
    )
    .unwrap();
    println!("{r}");
    // By construction: never worse than minmax on the held-out samples.
    assert!(r.after.worst_rel_rmse <= r.minmax.worst_rel_rmse);
    // The statistics returned give the error reported, measured here again.
    let (q, _) = quantize(&m, Some(&chosen), &opts).unwrap();
    let (again, _) = measure(&m, &q, &ConverterFloatEngine, &held, false).unwrap();
    assert_eq!(again.worst_rel_rmse, r.after.worst_rel_rmse);
    let (q0, _) = quantize(&m, Some(&stats), &opts).unwrap();
    let (mm, _) = measure(&m, &q0, &ConverterFloatEngine, &held, false).unwrap();
    assert_eq!(mm.worst_rel_rmse, r.minmax.worst_rel_rmse);
    // Every tensor with a range has a method, and the counts add up.
    assert_eq!(r.tensors_by_method.values().sum::<usize>(), r.chosen.len());
    assert!(!r.chosen.is_empty());
    // Each refined tensor's chosen method, when a change was taken, scored no worse than
    // anything tried for it, up to the margin (a later trial that won by less is not taken).
    for c in &r.refined {
        for t in &c.tried {
            if t.method == c.method {
                let best = c
                    .tried
                    .iter()
                    .filter_map(|x| x.worst_rel_rmse)
                    .fold(f64::INFINITY, f64::min);
                let got = t.worst_rel_rmse.unwrap();
                assert!(best >= got * (1.0 - r.margin), "{c:?}");
            }
        }
    }
    (r.minmax.worst_rel_rmse, r.after.worst_rel_rmse)
}

#[test]
fn auto_is_never_worse_than_minmax() {
    let (minmax, auto) = run(false);
    assert!(auto <= minmax);
}

#[test]
fn auto_beats_minmax_when_a_calibration_sample_is_an_outlier() {
    let (minmax, auto) = run(true);
    // The outlier stretches minmax's input range 40x; a clipping method keeps the resolution.
    assert!(auto < 0.75 * minmax, "auto {auto} vs minmax {minmax}");
}

#[test]
fn cli_auto_reports_its_choices() {
    let dir = std::env::temp_dir().join(format!("litequant-auto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("q.tflite");
    let o = Command::new(env!("CARGO_BIN_EXE_litequant"))
        .arg("quantize")
        .arg(fixture("cnn_float32.tflite"))
        .arg("--calib")
        .arg(fixture("digits_calib.npy"))
        .args(["--max-samples", "40", "--calibration", "auto", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Four folds by default (--holdout-every 4): every one of the 40 samples held out once.
    assert!(
        text.contains("calibration auto: measured on 40 held-out calibration samples in 4 folds"),
        "{text}"
    );
    assert!(text.contains("every tensor minmax"), "{text}");
    assert!(text.contains("tensors by method:"), "{text}");
    assert!(
        text.contains("final ranges: each tensor's method on all 40 calibration samples"),
        "{text}"
    );
    assert!(Model::from_file(&out).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_compare_methods_tables_every_method_from_one_calibration() {
    let dir = std::env::temp_dir().join(format!("litequant-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, stats) = (dir.join("rows.json"), dir.join("stats.json"));
    let eval = |extra: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_litequant"))
            .arg("eval")
            .arg(fixture("cnn_float32.tflite"))
            .args(["--compare-methods", "--max-samples", "20", "--data"])
            .arg(fixture("digits_holdout.npz"))
            .args(extra)
            .output()
            .unwrap()
    };
    let o = eval(&[
        "--calib".as_ref(),
        fixture("digits_calib.npy").as_os_str(),
        "--save-stats".as_ref(),
        stats.as_os_str(),
        "--json".as_ref(),
        json.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for m in [
        "minmax",
        "moving-average:0.95",
        "percentile:99.99",
        "mse",
        "entropy",
        "int16x8 minmax",
        "int16x8 moving-average:0.95",
        "int16x8 percentile:99.99",
        "int16x8 mse",
    ] {
        assert!(text.contains(m), "{m}: {text}");
    }
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = rows.as_array().unwrap();
    // 5 int8 rows, 4 16x8 rows (16x8 entropy keeps the full range: minmax's row).
    assert_eq!(rows.len(), 9);
    let starred = text.lines().filter(|l| l.starts_with('*')).count();
    assert!(starred >= 1, "{text}");
    assert_eq!(
        starred,
        rows.iter()
            .filter(|r| r["best"].as_bool() == Some(true))
            .count(),
        "{text}"
    );
    let best = rows
        .iter()
        .filter_map(|r| r["worst_rel_rmse"].as_f64())
        .fold(f64::INFINITY, f64::min);
    for r in rows {
        assert_eq!(
            r["best"].as_bool(),
            Some(r["worst_rel_rmse"].as_f64() == Some(best))
        );
    }
    // minmax's row is the model `quantize` writes by default, evaluated on the same data.
    let q = dir.join("q.tflite");
    let ok = Command::new(env!("CARGO_BIN_EXE_litequant"))
        .arg("quantize")
        .arg(fixture("cnn_float32.tflite"))
        .arg("--calib")
        .arg(fixture("digits_calib.npy"))
        .args(["--max-samples", "20", "-o"])
        .arg(&q)
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(
        rows[0]["bytes"].as_u64(),
        Some(std::fs::metadata(&q).unwrap().len())
    );
    // The same table from the saved statistics, without the calibration data.
    let again = eval(&["--load-stats".as_ref(), stats.as_os_str()]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let strip = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.contains('e') && !l.contains("calibration"))
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(strip(&text), strip(&String::from_utf8_lossy(&again.stdout)));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Statistics for every method over all the samples (held-out ones included).
fn calibrated_all(m: &Model, all: &InMemory) -> Stats {
    let mut open = || -> litequant::Result<_> { Ok(all.dataset()) };
    let stats = calibrate_for(
        m,
        &ConverterFloatEngine,
        &mut open,
        &StatsNeeds::all(DEFAULT_HISTOGRAM_BINS),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(stats.samples, 40);
    stats
}

#[test]
fn final_ranges_are_the_chosen_methods_on_all_samples() {
    let m = Model::from_file(fixture("cnn_float32.tflite")).unwrap();
    let data = digits(&m, true);
    let (split, held) = calibrated(&m, &data);
    let all = calibrated_all(&m, &data);
    let opts = QuantizeOptions::int8();
    let grid = TargetGrid::Int8Asymmetric;
    let aopts = AutoOptions::default();
    let (on_split, mut r) =
        choose_auto(&m, &ConverterFloatEngine, &split, &held, &opts, &aopts).unwrap();
    assert_eq!(r.final_samples, None);
    assert_eq!(r.methods.len(), r.chosen.len());
    let out = recalibrated(&all, &mut r, grid).unwrap();
    assert_eq!(r.final_samples, Some(40));
    assert!(r.to_string().contains("on all 40 calibration samples"));
    // Not every tensor kept minmax here (the outlier): the methods' ranges, over all 40.
    assert!(r.methods.values().any(|x| x.to_string() != "minmax"), "{r}");
    let mut differ = 0;
    for (t, method) in &r.methods {
        let want = tensor_range(&all, *t, *method, grid).unwrap().unwrap();
        let got = &out.tensors[t];
        assert_eq!((got.min, got.max), want, "tensor {t} {method}");
        let s = &on_split.tensors[t];
        differ += usize::from((s.min, s.max) != want);
    }
    // The 10 held-out samples moved some ranges: the final model is not the split's.
    assert!(differ > 0);
    // Only the ranges changed: everything else is the statistics over all samples.
    assert_eq!(out.samples, all.samples);
    assert_eq!(out.histograms, all.histograms);
}

#[test]
fn final_ranges_when_every_tensor_keeps_minmax_are_the_converters() {
    let m = Model::from_file(fixture("cnn_float32.tflite")).unwrap();
    let data = digits(&m, false);
    let (split, held) = calibrated(&m, &data);
    let all = calibrated_all(&m, &data);
    let opts = QuantizeOptions::int8();
    let aopts = AutoOptions {
        methods: vec![],
        ..Default::default()
    };
    let (_, mut r) = choose_auto(&m, &ConverterFloatEngine, &split, &held, &opts, &aopts).unwrap();
    let out = recalibrated(&all, &mut r, TargetGrid::Int8Asymmetric).unwrap();
    assert_eq!(out, all);
    let (a, _) = quantize(&m, Some(&out), &opts).unwrap();
    let (b, _) = quantize(&m, Some(&all), &opts).unwrap();
    assert_eq!(a.to_bytes().unwrap(), b.to_bytes().unwrap());
}

/// The four folds of `all` (every 4th sample held out, shifted by 0..4): each fold's
/// statistics for every method and its held-out samples.
fn folds(m: &Model, all: &InMemory) -> Vec<(Stats, InMemory)> {
    (0..4)
        .map(|f| {
            let mut open = || HoldoutSplit::fold(all.dataset(), 4, f);
            let stats = calibrate_for(
                m,
                &ConverterFloatEngine,
                &mut open,
                &StatsNeeds::all(DEFAULT_HISTOGRAM_BINS),
                &Default::default(),
            )
            .unwrap();
            let mut split = HoldoutSplit::fold(all.dataset(), 4, f).unwrap();
            while split.next_sample().is_some() {}
            (stats, split.into_held_out())
        })
        .collect()
}

#[test]
fn folds_pool_the_error_over_every_held_out_sample() {
    let m = Model::from_file(fixture("cnn_float32.tflite")).unwrap();
    let data = digits(&m, false);
    let (stats, held) = calibrated(&m, &data);
    let opts = QuantizeOptions::int8();
    let only_minmax = AutoOptions {
        methods: vec![],
        ..Default::default()
    };
    // The same statistics twice, with the held-out samples split in two: the pooled error
    // is the error measured on all of them at once.
    let (a, b) = held.samples.split_at(4);
    let (a, b) = (
        InMemory {
            samples: a.to_vec(),
        },
        InMemory {
            samples: b.to_vec(),
        },
    );
    let (_, r) = choose_auto_folds(
        &m,
        &ConverterFloatEngine,
        &[(&stats, &a), (&stats, &b)],
        &opts,
        &only_minmax,
    )
    .unwrap();
    let (q, _) = quantize(&m, Some(&stats), &opts).unwrap();
    let (whole, _) = measure(&m, &q, &ConverterFloatEngine, &held, false).unwrap();
    let (pa, pb) = (r.minmax.worst_rel_rmse, whole.worst_rel_rmse);
    assert!((pa - pb).abs() <= 1e-9 * pb, "pooled {pa} vs {pb}");
    assert_eq!((r.folds, r.held_out), (2, 10));
    // Four real folds: every sample held out once, and never worse than minmax pooled.
    let f = folds(&m, &digits(&m, true));
    let refs: Vec<(&Stats, &InMemory)> = f.iter().map(|(s, h)| (s, h)).collect();
    let (first, r) = choose_auto_folds(
        &m,
        &ConverterFloatEngine,
        &refs,
        &opts,
        &AutoOptions::default(),
    )
    .unwrap();
    println!("{r}");
    assert_eq!((r.folds, r.held_out), (4, 40));
    assert!(r.after.worst_rel_rmse <= r.minmax.worst_rel_rmse);
    // The outlier (sample 0) stretches minmax on the three folds that calibrate on it; the
    // fold that holds it out dominates the pooled error whatever the ranges (its outputs
    // are 40x larger), still a clipping method wins by more than the margin.
    assert!(
        r.after.worst_rel_rmse <= r.minmax.worst_rel_rmse * (1.0 - r.margin),
        "{r}"
    );
    assert_ne!(r.base, "minmax");
    // The statistics returned are the first fold's with the chosen methods' ranges.
    for (t, method) in &r.methods {
        let want = tensor_range(&f[0].0, *t, *method, TargetGrid::Int8Asymmetric)
            .unwrap()
            .unwrap();
        assert_eq!((first.tensors[t].min, first.tensors[t].max), want);
    }
}

#[test]
fn the_margin_keeps_minmax_unless_a_method_wins_by_it() {
    let m = Model::from_file(fixture("cnn_float32.tflite")).unwrap();
    let (stats, held) = calibrated(&m, &digits(&m, true));
    let opts = QuantizeOptions::int8();
    let run = |margin: f64| {
        let aopts = AutoOptions {
            margin,
            ..Default::default()
        };
        choose_auto(&m, &ConverterFloatEngine, &stats, &held, &opts, &aopts)
    };
    let (_, free) = run(0.0).unwrap();
    let best_other = free
        .global
        .iter()
        .filter(|g| g.method != "minmax")
        .filter_map(|g| g.worst_rel_rmse)
        .fold(f64::INFINITY, f64::min);
    assert!(best_other < free.minmax.worst_rel_rmse, "{free}");
    // A margin above the best method's gain keeps minmax as the base, and no single
    // tensor's change gains that much either: minmax everywhere, the statistics as they are.
    let gain = 1.0 - best_other / free.minmax.worst_rel_rmse;
    let (kept, r) = run((gain + 1.0) / 2.0).unwrap();
    assert_eq!(r.base, "minmax", "{r}");
    assert!(r.chosen.values().all(|m| m == "minmax"), "{r}");
    assert_eq!(r.after, r.minmax);
    assert_eq!(kept, stats);
    // A margin below it takes the best method.
    let (_, r) = run(gain / 2.0).unwrap();
    assert_ne!(r.base, "minmax", "{r}");
    // A margin outside [0, 1) is refused, not a panic.
    for bad in [1.0, -0.1, f64::NAN] {
        let e = run(bad).unwrap_err().to_string();
        assert!(e.contains("margin"), "{e}");
    }
}

#[test]
fn cli_auto_folds() {
    let dir = std::env::temp_dir().join(format!("litequant-folds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("q.tflite");
    let run = |folds: &str| {
        Command::new(env!("CARGO_BIN_EXE_litequant"))
            .arg("quantize")
            .arg(fixture("cnn_float32.tflite"))
            .arg("--calib")
            .arg(fixture("digits_calib.npy"))
            .args([
                "--max-samples",
                "40",
                "--calibration",
                "auto",
                "--auto-folds",
            ])
            .arg(folds)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap()
    };
    let o = run("1");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("measured on 10 held-out calibration samples in 1 fold "),
        "{text}"
    );
    for bad in ["0", "5"] {
        let o = run(bad);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("--auto-folds"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
