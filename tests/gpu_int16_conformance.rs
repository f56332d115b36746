//! The GPU engine on TF 2.21's 16x8 files (`tools/make_int16_fixtures.py`,
//! `tests/fixtures/int16/`) against LiteRT's `BUILTIN_REF` goldens (and so against the
//! reference engine, which equals them bit for bit, `tests/int16_conformance.rs`): every
//! recorded tensor of every sample, int16/int8/int32 with zero differing elements, floats
//! within `GPU_ATOL + GPU_RTOL·|x|` (the tolerance of `tests/gpu_conformance.rs`).
//!
//! Ops whose int16 GPU kernels are not written yet must be refused at prepare with an error
//! naming the op: a wrong result is a failure whatever the op. Runs on the adapter the
//! environment picks (lavapipe in CI); skips without one unless `LITEQUANT_REQUIRE_GPU=1`.
//! `LITEQUANT_CONFORMANCE=substring` runs only matching models.

mod common;

use common::golden::{check_model_on, Outcome};
use litequant::gpu::{self, GpuEngine};

/// Float tolerance of GPU results against the goldens (`tests/gpu_conformance.rs`).
const GPU_ATOL: f32 = 1e-4;
const GPU_RTOL: f32 = 1e-4;

/// Ops whose int16 paths have no GPU kernel yet (or no reference kernel: RSQRT and SUM, see
/// `tests/int16_conformance.rs`). A model with one of them must fail to prepare with an
/// error naming one of its pending ops; once every model with an op passes, the test asks
/// for the op's removal, so the list cannot go stale.
const PENDING_OPS: &[&str] = &["SUM"];

#[test]
fn gpu_engine_matches_litert_builtin_ref_16x8() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_engine_matches_litert_builtin_ref_16x8")? else {
        return Ok(());
    };
    let engine = GpuEngine::new(ctx);
    let dir = common::fixtures().join("int16");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let (mut passed, mut compared) = (0, 0);
    let (mut pending, mut problems) = (Vec::new(), Vec::new());
    let mut pending_pass: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    let models = manifest["models"].as_object().unwrap();
    assert!(models.len() >= 100, "{} 16x8 fixtures", models.len());
    for (name, m) in models.iter().filter(|(n, _)| n.contains(&filter)) {
        let ops: Vec<&str> = m["op_histogram"]
            .as_object()
            .unwrap()
            .keys()
            .map(|s| s.as_str())
            .collect();
        let pend: Vec<&str> = PENDING_OPS
            .iter()
            .copied()
            .filter(|o| ops.contains(o))
            .collect();
        let model = dir.join(m["file"].as_str().unwrap());
        let golden = dir.join(m["golden_file"].as_str().unwrap());
        let outcome = check_model_on(&engine, &model, &golden, GPU_ATOL, GPU_RTOL);
        for o in &pend {
            let e = pending_pass.entry(o).or_default();
            e.1 += 1;
            if matches!(outcome, Outcome::Pass { .. }) {
                e.0 += 1;
            }
        }
        match outcome {
            Outcome::Pass { compared: n } => {
                compared += n;
                passed += 1;
            }
            // A refusal is fine only for a pending op, and it must name it.
            Outcome::Unsupported(e) if pend.iter().any(|o| e.contains(&format!("({o})"))) => {
                pending.push(format!("{name}: {e}"))
            }
            Outcome::Unsupported(e) => problems.push(format!("{name}: unsupported: {e}")),
            Outcome::Fail(f) => problems.push(format!("{name}:\n    {}", f.join("\n    "))),
        }
    }
    let done: Vec<&str> = pending_pass
        .iter()
        .filter(|(_, (ok, all))| ok == all && filter.is_empty())
        .map(|(o, _)| *o)
        .collect();
    println!(
        "gpu 16x8 conformance on {}: {passed} models pass ({compared} tensors compared), {} \
         refused (pending ops), {} failing",
        engine.context().describe(),
        pending.len(),
        problems.len()
    );
    for p in &pending {
        println!("  pending {p}");
    }
    assert!(
        problems.is_empty(),
        "{} 16x8 models differ on the GPU or are refused without naming a pending op:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        done.is_empty(),
        "every model with {done:?} passes on the GPU: take them off PENDING_OPS"
    );
    Ok(())
}

/// TF 2.21's 16x8 files of reduced zoo models (`tools/make_int16_zoo.py`,
/// `tests/fixtures/zoo_int16/`: MobileNetV2, ResNet50, DenseNet121, UNet) on the GPU:
/// every op-written tensor equal to LiteRT's BUILTIN_REF goldens.
#[test]
fn gpu_engine_matches_litert_builtin_ref_16x8_zoo() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_engine_matches_litert_builtin_ref_16x8_zoo")? else {
        return Ok(());
    };
    let engine = GpuEngine::new(ctx);
    let dir = common::fixtures().join("zoo_int16");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let (mut problems, mut n) = (Vec::new(), 0);
    for (name, m) in manifest["models"].as_object().unwrap() {
        let (Some(file), Some(golden)) = (m["file"].as_str(), m["golden_file"].as_str()) else {
            continue;
        };
        match check_model_on(
            &engine,
            &dir.join(file),
            &dir.join(golden),
            GPU_ATOL,
            GPU_RTOL,
        ) {
            Outcome::Pass { compared } => {
                n += 1;
                println!("{name}: {compared} tensors equal on the GPU");
            }
            Outcome::Unsupported(e) => problems.push(format!("{name}: unsupported: {e}")),
            Outcome::Fail(f) => problems.push(format!("{name}:\n    {}", f.join("\n    "))),
        }
    }
    assert!(n >= 4, "{n} zoo models");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}
