//! int16 ops inside int8 models (`--int16-ops`, `QuantizeOptions::int16_ops`) against stock
//! LiteRT: `tools/make_mixed16_fixtures.py` had the litequant binary write each file of
//! `tests/fixtures/mixed16/` and recorded LiteRT 2.3.0 `BUILTIN_REF`'s value of every tensor
//! on a few samples. Here:
//! - the reference engine equals those goldens on every tensor (integers bit for bit);
//! - the GPU engine equals them too (lavapipe in CI; skipped without an adapter unless
//!   `LITEQUANT_REQUIRE_GPU=1`);
//! - the same command today writes the same bytes (when the quantizer changes these files
//!   on purpose, regenerate: `cargo build --bin litequant && /work/venv/bin/python
//!   tools/make_mixed16_fixtures.py`, tools/README.md);
//! - the files have the shape the module docs promise (int16 ops on int16 tensors with
//!   int64 biases, no int8 → int16 QUANTIZE, which LiteRT refuses);
//! - misuse is refused with errors naming the op or the option.

mod common;

use common::cli::{litequant, s, TempDir};
use common::golden::{check_model, check_model_on, Outcome};
use litequant::model::{DType, Op};

fn manifest() -> serde_json::Value {
    let p = common::fixtures().join("mixed16").join("manifest.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn cases() -> Vec<(String, serde_json::Value)> {
    let m = manifest();
    let cases: Vec<(String, serde_json::Value)> = m["cases"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(cases.len() >= 9, "{} mixed16 fixtures", cases.len());
    cases
}

fn paths(c: &serde_json::Value) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = common::fixtures().join("mixed16");
    (
        dir.join(c["file"].as_str().unwrap()),
        dir.join(c["golden_file"].as_str().unwrap()),
    )
}

#[test]
fn reference_engine_matches_litert_builtin_ref_on_mixed_files() {
    let (mut compared, mut problems) = (0, Vec::new());
    for (name, c) in cases() {
        let (model, golden) = paths(&c);
        match check_model(&model, &golden) {
            Outcome::Pass { compared: n } => compared += n,
            Outcome::Unsupported(e) => problems.push(format!("{name}: unsupported: {e}")),
            Outcome::Fail(f) => problems.push(format!("{name}:\n    {}", f.join("\n    "))),
        }
    }
    println!("mixed16 conformance (reference): {compared} tensors compared");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(compared >= 800, "{compared} tensors");
}

#[test]
fn gpu_engine_matches_litert_builtin_ref_on_mixed_files() -> litequant::Result<()> {
    let Some(ctx) = litequant::gpu::context_or_skip("gpu mixed16")? else {
        return Ok(());
    };
    let engine = litequant::gpu::GpuEngine::new(ctx);
    let (mut compared, mut problems) = (0, Vec::new());
    for (name, c) in cases() {
        let (model, golden) = paths(&c);
        // Float tensors: the tolerance of tests/gpu_conformance.rs; integers exact.
        match check_model_on(&engine, &model, &golden, 1e-4, 1e-4) {
            Outcome::Pass { compared: n } => compared += n,
            Outcome::Unsupported(e) => problems.push(format!("{name}: unsupported: {e}")),
            Outcome::Fail(f) => problems.push(format!("{name}:\n    {}", f.join("\n    "))),
        }
    }
    println!("mixed16 conformance (gpu): {compared} tensors compared");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

/// The committed files are what the command writes today (bytes).
#[test]
fn the_same_command_writes_the_same_file() {
    let dir = TempDir::new("mixed16-det");
    let root = env!("CARGO_MANIFEST_DIR");
    for (name, c) in cases() {
        let (model, _) = paths(&c);
        let out = dir.join(&format!("{name}.tflite"));
        let float = format!("{root}/tests/fixtures/{}", c["float"].as_str().unwrap());
        let calib = format!("{root}/tests/fixtures/{}", c["calib"].as_str().unwrap());
        let ops: Vec<&str> = c["int16_ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let ops = ops.join(",");
        let args = [
            "quantize",
            &float,
            "-o",
            s(&out),
            "--mode",
            "int8",
            "--calib",
            &calib,
            "--int16-ops",
            &ops,
        ];
        let r = litequant(&args);
        assert!(
            r.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        let got = std::fs::read(&out).unwrap();
        let want = std::fs::read(&model).unwrap();
        assert!(
            got == want,
            "{name}: the file written today differs from tests/fixtures/mixed16 ({} vs {} \
             bytes); if the change is intended, regenerate with \
             tools/make_mixed16_fixtures.py",
            got.len(),
            want.len()
        );
    }
}

/// Every chosen op reads and writes int16 activations, weighted ones with int8 weights and
/// int64 biases; no QUANTIZE goes from int8 to int16 (LiteRT's quantize.cc refuses it);
/// each case has at least one int16 tensor a float or int8 op reads back.
#[test]
fn chosen_ops_are_16x8_and_edges_are_ones_litert_supports() {
    for (name, c) in cases() {
        let (model, _) = paths(&c);
        let m = litequant::Model::from_file(&model).unwrap();
        let sg = m.main();
        let dt = |t: i32| sg.tensors[t as usize].dtype;
        let chosen: Vec<String> = c["int16_ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let mut seen = 0;
        for op in &sg.operators {
            if matches!(op.op, Op::Quantize) {
                assert!(
                    !(dt(op.inputs[0]) == DType::I8 && dt(op.outputs[0]) == DType::I16),
                    "{name}: an int8 -> int16 QUANTIZE"
                );
            }
            if !chosen.contains(&op.op.name()) {
                continue;
            }
            seen += 1;
            assert_eq!(
                dt(op.outputs[0]),
                DType::I16,
                "{name}: {} output",
                op.op.name()
            );
            let q = sg.tensors[op.outputs[0] as usize].quant.as_ref().unwrap();
            assert_eq!(q.zero_point, vec![0], "{name}: int16 zero point");
            let weighted = matches!(
                op.op,
                Op::Conv2D(_) | Op::DepthwiseConv2D(_) | Op::FullyConnected(_)
            );
            for (slot, &t) in op.inputs.iter().enumerate() {
                if t < 0 {
                    continue;
                }
                let d = dt(t);
                match (weighted, slot) {
                    (true, 1) => assert_eq!(d, DType::I8, "{name}: weight"),
                    (true, 2) => assert_eq!(d, DType::I64, "{name}: bias"),
                    _ if d == DType::I32 => {} // shapes, axes
                    _ => assert_eq!(d, DType::I16, "{name}: {} input {slot}", op.op.name()),
                }
            }
        }
        assert!(seen > 0, "{name}: no chosen op in the file");
    }
}

fn quantize_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "quantize",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/selective/mix_f32.tflite"
        ),
        "-o",
        out,
        "--calib",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/selective/mix.calib.npz"
        ),
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn misuse_is_refused_by_name() {
    let dir = TempDir::new("mixed16-err");
    let out = dir.join("x.tflite");
    let out = s(&out);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--mode", "int16x8", "--int16-ops", "ADD"],
            "need mode int8 with float32 inputs and outputs",
        ),
        (
            &["--mode", "int8-only", "--int16-ops", "ADD"],
            "need mode int8",
        ),
        (
            &[
                "--mode",
                "int8",
                "--input-type",
                "int8",
                "--int16-ops",
                "ADD",
            ],
            "input int8",
        ),
        (
            &["--mode", "int8", "--int16-ops", "NOPE"],
            "int16-ops 'NOPE' names no op",
        ),
        (
            &[
                "--mode",
                "int8",
                "--int16-ops",
                "ADD",
                "--keep-float",
                "ADD",
            ],
            "'ADD' is asked both to stay float and to run on int16",
        ),
    ];
    for (extra, want) in cases {
        let r = litequant(&quantize_args(out, extra));
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{extra:?} succeeded");
        assert!(err.contains(want), "{extra:?}: {err}");
        assert!(
            !std::path::Path::new(out).exists(),
            "{extra:?} wrote a file"
        );
    }
}

/// An op without an int16 kernel (PRELU, HARD_SWISH: no 16x8 rule in TF 2.21) is an error
/// naming it, and nothing is written.
#[test]
fn an_op_without_int16_kernel_is_named() {
    let dir = TempDir::new("mixed16-nok");
    let ops = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ops");
    for (case, op) in [("prelu", "PRELU"), ("hard_swish", "HARD_SWISH")] {
        let out = dir.join(&format!("{case}.tflite"));
        let float = format!("{ops}/{case}_f32.tflite");
        let calib = format!("{ops}/{case}.calib.npz");
        let r = litequant(&[
            "quantize",
            &float,
            "-o",
            s(&out),
            "--mode",
            "int8",
            "--calib",
            &calib,
            "--int16-ops",
            op,
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{case} succeeded");
        assert!(
            err.contains(&format!("({op}) cannot run on int16 activations")),
            "{case}: {err}"
        );
        assert!(!out.exists());
    }
}
