//! The GPU engine on TF 2.21's 16x8 files (`tests/fixtures/int16/`, `tests/fixtures/zoo_int16/`)
//! against LiteRT's BUILTIN_REF goldens: every recorded tensor, int16 with zero differing
//! elements, floats within `1e-4 + 1e-4·|x|`.
//!
//! Skips without an adapter unless `LITEQUANT_REQUIRE_GPU=1`.

mod common;

use common::golden::{check_model_on, Outcome};
use litequant::gpu::{self, GpuEngine};

/// The ops whose 16x8 kernels the GPU engine does not have yet (a model with one of them is
/// refused at prepare: reported, not failed; once every model with an op passes, the test
/// asks for its removal).
const PENDING_OPS: &[&str] = &["FULLY_CONNECTED", "BATCH_MATMUL", "SOFTMAX", "SUM"];

#[test]
fn gpu_engine_matches_litert_builtin_ref_16x8() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_engine_matches_litert_builtin_ref_16x8")? else {
        return Ok(());
    };
    let engine = GpuEngine::new(ctx);
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let (mut passed, mut compared) = (0, 0);
    let (mut pending, mut problems, mut stale) = (Vec::new(), Vec::new(), Vec::new());
    for folder in ["int16", "zoo_int16"] {
        let dir = common::fixtures().join(folder);
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
                .unwrap();
        for (name, m) in manifest["models"].as_object().unwrap() {
            if !name.contains(&filter) {
                continue;
            }
            let (Some(file), Some(golden)) = (m["file"].as_str(), m["golden_file"].as_str()) else {
                continue;
            };
            let ops: Vec<&str> = m["op_histogram"]
                .as_object()
                .unwrap()
                .keys()
                .map(|s| s.as_str())
                .filter(|o| PENDING_OPS.contains(o))
                .collect();
            let outcome = check_model_on(&engine, &dir.join(file), &dir.join(golden), 1e-4, 1e-4);
            match outcome {
                Outcome::Pass { compared: n } => {
                    passed += 1;
                    compared += n;
                    if !ops.is_empty() {
                        stale.push(format!("{name} passes with {ops:?}"));
                    }
                }
                Outcome::Unsupported(e) if !ops.is_empty() => pending.push(format!("{name}: {e}")),
                Outcome::Unsupported(e) => problems.push(format!("{name}: unsupported: {e}")),
                Outcome::Fail(f) => problems.push(format!("{name}:\n    {}", f.join("\n    "))),
            }
        }
    }
    println!(
        "GPU 16x8 conformance: {passed} models pass ({compared} tensors), {} pending, {} failing",
        pending.len(),
        problems.len()
    );
    for p in &pending {
        println!("  pending {p}");
    }
    for s in &stale {
        println!("  {s}");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}
