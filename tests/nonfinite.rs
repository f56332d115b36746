//! NaN and ±Inf inputs through every float op fixture and the demo models, against LiteRT's
//! BUILTIN_REF results on the same values (`tools/make_nonfinite_goldens.py`): every tensor,
//! NaN where LiteRT has NaN, the same infinities, finite values within the usual tolerance —
//! on the reference engine, and on the GPU engine within the GPU tolerance.

mod common;

use common::golden::{check_model_on, Outcome};
use litequant::gpu::{self, GpuEngine};
use litequant::{Engine, ReferenceEngine};

fn cases() -> Vec<(String, std::path::PathBuf, std::path::PathBuf)> {
    let dir = common::fixtures();
    let text = std::fs::read_to_string(dir.join("nonfinite/manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    m["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                dir.join(c["model"].as_str().unwrap()),
                dir.join(c["golden"].as_str().unwrap()),
            )
        })
        .collect()
}

fn check_all<E: Engine>(engine: &E, atol: f32, rtol: f32) {
    let cases = cases();
    assert!(cases.len() > 80, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (name, model, golden) in &cases {
        match check_model_on(engine, model, golden, atol, rtol) {
            Outcome::Pass { .. } => {}
            Outcome::Unsupported(e) => failures.push(format!("{name}: unsupported: {e}")),
            Outcome::Fail(f) => failures.push(format!("{name}: {}", f.join("; "))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from LiteRT:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn nonfinite_values_propagate_as_in_litert() {
    check_all(&ReferenceEngine, 1e-5, 1e-5);
}

#[test]
fn nonfinite_values_propagate_as_in_litert_on_the_gpu() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("nonfinite_values_propagate_as_in_litert_on_the_gpu")?
    else {
        return Ok(());
    };
    check_all(&GpuEngine::new(ctx), 1e-4, 1e-4);
    Ok(())
}
