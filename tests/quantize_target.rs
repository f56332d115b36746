//! Error-guided mixed precision (`litequant::quant::target`, `quantize --target-sqnr`): on
//! the digits CNN fixture, a target that no single float op meets forces at least two moves,
//! the result meets it when checked independently, and no moved op can be dropped; an
//! unreachable target is refused and writes nothing.

mod target_common;

use std::process::Command;

use litequant::data::InMemory;
use litequant::quant::target::{quantize_to_target, Precision, Target, TargetOptions};
use litequant::quant::{quantize, IoType, QuantizeOptions};
use litequant::{ConverterFloatEngine, Error, Model, Stats};
use target_common::{fixture, search, setup};

/// The worst output's relative RMSE of `m` quantized with these ops kept float, measured
/// here (not by the search).
fn worst_rel(m: &Model, stats: &Stats, held: &InMemory, keep: &[String]) -> f64 {
    let moves: Vec<(String, Precision)> =
        keep.iter().map(|k| (k.clone(), Precision::Float)).collect();
    target_common::worst_rel(m, stats, held, &moves)
}

fn op_outputs(m: &Model) -> Vec<String> {
    let sg = m.main();
    sg.operators
        .iter()
        .filter_map(|op| op.output_tensors().next())
        .map(|t| sg.tensors[t].name.clone())
        .collect()
}

#[test]
fn a_met_target_moves_nothing() {
    let (m, stats, held) = setup();
    let topts = TargetOptions::new(Target::MaxRelRmse(1.0));
    let (_, _, r) = search(&m, &stats, &held, &topts).unwrap();
    assert!(r.moved.is_empty());
    assert_eq!(r.before, r.after);
    assert_eq!(r.probes, 1);
    let independent = worst_rel(&m, &stats, &held, &[]);
    assert!((r.before.worst_rel_rmse - independent).abs() <= 1e-12 * independent.max(1.0));
}

#[test]
fn a_target_no_single_move_meets_forces_several_minimal_moves() {
    let (m, stats, held) = setup();
    let before = worst_rel(&m, &stats, &held, &[]);
    let singles: Vec<f64> = op_outputs(&m)
        .iter()
        .map(|o| worst_rel(&m, &stats, &held, std::slice::from_ref(o)))
        .collect();
    let best_single = singles.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(best_single > 0.0 && best_single <= before);
    // Below what any single float op reaches: at least two moves are needed (float moves
    // only here; int16 moves: tests/quantize_target16.rs).
    let target = best_single * 0.98;
    let topts = TargetOptions {
        int16: false,
        ..TargetOptions::new(Target::MaxRelRmse(target))
    };
    let (q, _, r) = search(&m, &stats, &held, &topts).unwrap();
    assert!(r.moved.len() >= 2, "moved {}", r.moved.len());
    assert!(
        r.moved.len() < op_outputs(&m).len(),
        "not everything: {}",
        r.moved.len()
    );
    let moved: Vec<String> = r.moved.iter().map(|x| x.tensor.clone()).collect();
    // Met, measured independently, and the returned model is that one.
    let got = worst_rel(&m, &stats, &held, &moved);
    assert!(got <= target, "{got} > {target}");
    assert!((got - r.after.worst_rel_rmse).abs() <= 1e-12);
    let expected = quantize(
        &m,
        Some(&stats),
        &QuantizeOptions {
            keep_float: moved
                .iter()
                .cloned()
                .map(litequant::KeepFloat::Tensor)
                .collect(),
            ..QuantizeOptions::int8()
        },
    )
    .unwrap()
    .0;
    assert_eq!(q.to_bytes().unwrap(), expected.to_bytes().unwrap());
    assert_eq!(r.after.bytes, q.to_bytes().unwrap().len());
    // Minimal: dropping any moved op misses the target.
    for drop in &moved {
        let fewer: Vec<String> = moved.iter().filter(|x| *x != drop).cloned().collect();
        let e = worst_rel(&m, &stats, &held, &fewer);
        assert!(e > target, "'{drop}' was not needed: {e} <= {target}");
    }
}

#[test]
fn an_unreachable_target_is_refused() {
    let (m, stats, held) = setup();
    // int8 model input: even all-float quantizes the input, so a zero error is unreachable.
    let opts = QuantizeOptions {
        input_type: IoType::Int8,
        ..QuantizeOptions::int8()
    };
    let topts = TargetOptions::new(Target::MaxRelRmse(0.0));
    let err = quantize_to_target(&m, &ConverterFloatEngine, &stats, &held, &opts, &topts)
        .err()
        .expect("refused");
    assert!(matches!(err, Error::TargetUnreachable(_)), "{err}");
    assert!(err.to_string().contains("every op float"), "{err}");
    // With float I/O the all-float fallback is the float model: a zero error is met.
    let (_, _, r) = search(&m, &stats, &held, &topts).unwrap();
    assert_eq!(r.after.worst_rel_rmse, 0.0);
    // int8-only has no float ops to move to.
    let err = quantize_to_target(
        &m,
        &ConverterFloatEngine,
        &stats,
        &held,
        &QuantizeOptions::int8_only(),
        &topts,
    )
    .err()
    .expect("refused");
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
}

#[test]
fn cli_target_prints_the_moves_and_refuses_clearly() {
    let dir = std::env::temp_dir().join(format!("litequant-target-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("q.tflite");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_litequant"))
            .arg("quantize")
            .arg(fixture("cnn_float32.tflite"))
            .arg("--calib")
            .arg(fixture("digits_calib.npy"))
            .args(["--max-samples", "40"])
            .arg("-o")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&["--target-sqnr", "60", "--target-float-only"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("target: SQNR >= 60 dB"), "{text}");
    assert!(
        text.contains("before:") && text.contains("after:"),
        "{text}"
    );
    assert!(text.contains("-> Float"), "{text}");
    assert!(Model::from_file(&out).is_ok());
    std::fs::remove_file(&out).unwrap();
    let o = run(&["--max-rel-rmse", "0", "--input-type", "int8"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("accuracy target cannot be met"), "{err}");
    assert!(!out.exists(), "nothing written on refusal");
    let o = run(&["--target-sqnr", "30", "--mode", "int8-only"]);
    assert!(!o.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
