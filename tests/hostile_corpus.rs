//! The hostile-but-valid corpus of `tools/make_hostile.py` (tests/fixtures/hostile): each
//! model is either a clean error or computes LiteRT's outputs, and `quantize` either refuses
//! it cleanly or writes exactly the file the generator checked with stock LiteRT (LiteRT
//! 2.3.0 loaded, prepared and ran it; its outputs are the `.int8.npz` golden). The verdicts
//! (LiteRT's and ours) are in manifest.json; this test needs no Python.
//!
//! Commands run as the generator ran them: in the corpus folder, files by relative name, so
//! the recorded error lines are compared as they are.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::golden::{check_model_on, Outcome};
use litequant::{Engine, Model, ReferenceEngine};
use serde_json::Value;

fn dir() -> PathBuf {
    common::fixtures().join("hostile")
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join("manifest.json")).expect("manifest");
    let m: Value = serde_json::from_str(&text).expect("JSON");
    m["cases"].as_array().expect("cases").clone()
}

/// `litequant ARGS` in the corpus folder: (exit code, last line of stderr).
fn litequant(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_litequant"))
        .current_dir(dir())
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.trim_end().lines().last().unwrap_or("").to_string();
    (out.status.code(), last)
}

fn check_run(name: &str, model: &Path, input: &str, rec: &Value, tmp: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let o = tmp.join("o.npz");
    // An int8/uint8-input file runs on the values LiteRT was given (its own .in.npy).
    let input = rec["input"].as_str().unwrap_or(input);
    let (code, err) = litequant(
        &["run", model.to_str().unwrap(), "--input", input, "-o"]
            .into_iter()
            .chain([o.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    match rec["run"].as_str().unwrap() {
        "ok" => {
            if code != Some(0) {
                bad.push(format!("{name}: run failed: {err}"));
            }
            let golden = dir().join(rec["golden"].as_str().expect("a golden"));
            match check_model_on(&ReferenceEngine, &dir().join(model), &golden, 1e-5, 1e-5) {
                Outcome::Pass { compared } => assert!(compared > 0),
                Outcome::Unsupported(e) => bad.push(format!("{name}: prepare: {e}")),
                Outcome::Fail(f) => bad.push(format!("{name}: differs from LiteRT: {f:?}")),
            }
        }
        _ => {
            let want = rec["run_message"].as_str().unwrap();
            if code != Some(1) || err != want {
                bad.push(format!(
                    "{name}: run: exit {code:?}, {err:?}; want {want:?}"
                ));
            }
            // The library says the same as the CLI.
            let lib = Model::from_file(dir().join(model))
                .and_then(|m| ReferenceEngine.prepare(&m).map(|_| ()));
            if let Err(e) = lib {
                if !want.contains(&e.to_string()) {
                    bad.push(format!("{name}: library error {e} vs {want}"));
                }
            }
        }
    }
    bad
}

#[test]
fn hostile_models_are_clean_errors_or_litert_equal() {
    let cases = cases();
    assert!(cases.len() >= 49, "{} cases", cases.len());
    let tmp = common::TempDir::new("hostile-corpus");
    let mut bad = Vec::new();
    let (mut written, mut refused) = (0, 0);
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let model = PathBuf::from(c["model"].as_str().unwrap());
        let input = c["input"].as_str().unwrap();
        // The policy the generator enforced, restated: where LiteRT refuses or crashes, so
        // do we; where LiteRT runs and we refuse, the case names why (an undefined result).
        let litert = c["litert"].as_str().unwrap();
        if litert != "ok" {
            assert_eq!(c["run"], "error", "{name}: LiteRT {litert}, we run it");
        } else if c["run"] == "error" {
            assert!(
                c["run_error_needle"].is_string(),
                "{name}: refused without a reason"
            );
        }
        bad.extend(check_run(name, &model, input, c, &tmp.0));
        let Some(calib) = c["calib"].as_str() else {
            continue;
        };
        let q = tmp.join("q.tflite");
        let _ = std::fs::remove_file(&q);
        let mut args = vec![
            "quantize",
            model.to_str().unwrap(),
            "-o",
            q.to_str().unwrap(),
            "--mode",
            "int8",
            "--calib",
            calib,
        ];
        let extra = c["quantize_args"].as_array().cloned().unwrap_or_default();
        args.extend(extra.iter().map(|a| a.as_str().unwrap()));
        let (code, err) = litequant(&args);
        match c["quantize"].as_str().unwrap() {
            "written" => {
                written += 1;
                let file = c["quantized"].as_str().unwrap();
                let check = &c["quantized_check"];
                assert_eq!(
                    check["litert"], "ok",
                    "{name}: a written file LiteRT refuses"
                );
                if code != Some(0) {
                    bad.push(format!("{name}: quantize failed: {err}"));
                    continue;
                }
                let ours = std::fs::read(&q).unwrap();
                let checked = std::fs::read(dir().join(file)).unwrap();
                if ours != checked {
                    bad.push(format!(
                        "{name}: quantize wrote other bytes than the file LiteRT accepted \
                         ({} vs {} bytes): rerun tools/make_hostile.py",
                        ours.len(),
                        checked.len()
                    ));
                    continue;
                }
                bad.extend(check_run(name, Path::new(file), input, check, &tmp.0));
            }
            _ => {
                refused += 1;
                let want = c["quantize_message"].as_str().unwrap();
                if code != Some(1) || err != want {
                    bad.push(format!(
                        "{name}: quantize: exit {code:?}, {err:?}; want {want:?}"
                    ));
                }
                if q.exists() {
                    bad.push(format!("{name}: quantize failed but wrote {}", q.display()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(
        written >= 9 && refused >= 11,
        "{written} written, {refused} refused"
    );
}

/// `inspect` reads what LiteRT loads and names what is odd in it: odd quantization
/// parameters and a constant model input are warnings, not refusals.
#[test]
fn inspect_warns_about_odd_parameters_and_constant_inputs() {
    for (file, needle) in [
        (
            "q_quantize_int8_scale0.tflite",
            "scale 0 is not a positive finite number",
        ),
        (
            "q_quantize_int8_scale_nan.tflite",
            "scale NaN is not a positive finite number",
        ),
        (
            "q_quantize_uint8_zp_out.tflite",
            "zero point -1 is outside UINT8's range [0, 255]",
        ),
        (
            "q_add_int8_zp_out.tflite",
            "zero point 200 is outside INT8's range [-128, 127]",
        ),
        ("constant_input.tflite", "which holds constant data"),
    ] {
        let m = Model::from_file(dir().join(file)).unwrap();
        let w = m.warnings().join("\n");
        assert!(w.contains(needle), "{file}: {w}");
    }
    let clean = Model::from_file(dir().join("fc_bias_absent.tflite")).unwrap();
    assert!(clean.warnings().is_empty(), "{:?}", clean.warnings());
}

/// The GPU engine agrees: where the reference engine refuses a model (float or written), so
/// does it; where LiteRT's outputs were matched, it matches them (GPU tolerance, docs/gpu.md)
/// or leaves the model to the CPU with an "unsupported" error.
#[test]
fn the_gpu_engine_refuses_and_computes_alike() -> litequant::Result<()> {
    use litequant::gpu::{self, GpuEngine};
    let Some(ctx) = gpu::context_or_skip("the_gpu_engine_refuses_and_computes_alike")? else {
        return Ok(());
    };
    let engine = GpuEngine::new(ctx);
    let mut bad = Vec::new();
    let mut compared = 0;
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let mut files = vec![(c["model"].as_str().unwrap().to_string(), c.clone())];
        if let Some(q) = c["quantized"].as_str() {
            files.push((q.to_string(), c["quantized_check"].clone()));
        }
        for (file, rec) in files {
            let path = dir().join(&file);
            if rec["run"] == "ok" {
                let golden = dir().join(rec["golden"].as_str().unwrap());
                match check_model_on(&engine, &path, &golden, 1e-4, 1e-4) {
                    Outcome::Pass { .. } => compared += 1,
                    Outcome::Unsupported(e) if e.contains("unsupported") => {}
                    Outcome::Unsupported(e) => bad.push(format!("{name}: {file}: {e}")),
                    Outcome::Fail(f) => bad.push(format!("{name}: {file}: {f:?}")),
                }
            } else if let Ok(m) = Model::from_file(&path) {
                if engine.prepare(&m).is_ok() && ReferenceEngine.prepare(&m).is_err() {
                    bad.push(format!("{name}: {file}: the GPU engine prepares it"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(compared >= 20, "{compared} files compared");
    Ok(())
}
