//! The GPU engine on the reduced-size model zoo (`tests/fixtures/zoo`; the CPU twin is
//! `tests/zoo.rs`): every file with LiteRT goldens, every recorded tensor — ints bit for bit,
//! floats within the GPU conformance tolerance of `tests/gpu_conformance.rs`.
//!
//! Runs on the adapter the environment picks (lavapipe in CI); skips without one unless
//! `LITEQUANT_REQUIRE_GPU=1`.

mod common;

use common::golden::{check_model_on, Outcome};
use common::zoo;
use litequant::gpu::{self, GpuEngine};

/// Float tolerance of GPU results against the goldens (as tests/gpu_conformance.rs).
const GPU_ATOL: f32 = 1e-4;
const GPU_RTOL: f32 = 1e-4;

#[test]
fn gpu_engine_matches_litert_on_the_zoo() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_engine_matches_litert_on_the_zoo")? else {
        return Ok(());
    };
    let engine = GpuEngine::new(ctx);
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let (mut passed, mut compared, mut problems) = (0, 0, Vec::new());
    let entries: Vec<zoo::Entry> = zoo::entries()
        .into_iter()
        .filter(|e| e.key.contains(&filter))
        .collect();
    for e in &entries {
        let (Some(file), Some(golden)) = (&e.file, &e.golden) else {
            continue;
        };
        match check_model_on(&engine, file, golden, GPU_ATOL, GPU_RTOL) {
            Outcome::Pass { compared: n } => {
                passed += 1;
                compared += n;
            }
            Outcome::Unsupported(err) => problems.push(format!("{}: unsupported: {err}", e.key)),
            Outcome::Fail(f) => problems.push(format!("{}:\n    {}", e.key, f.join("\n    "))),
        }
    }
    println!(
        "gpu zoo on {}: {passed} files equal LiteRT BUILTIN_REF ({compared} tensors compared)",
        engine.context().describe()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let with_goldens = entries.iter().filter(|e| e.golden.is_some()).count();
    assert_eq!(passed, with_goldens);
    Ok(())
}
