//! The GPU engine against LiteRT's reference kernels (and so against the reference engine,
//! which equals them bit for bit), on every conformance fixture: every recorded tensor of
//! every sample — int8, uint8 and int32 with zero differing elements, floats within
//! `GPU_ATOL + GPU_RTOL·|x|` (the GPU sums in another order).
//!
//! Runs on the adapter the environment picks (lavapipe in CI); skips without one unless
//! `LITEQUANT_REQUIRE_GPU=1`. `LITEQUANT_CONFORMANCE=substring` runs only matching models.

mod common;

use common::golden::{cases, check_model_on, Outcome};
use litequant::gpu::{self, GpuEngine};

/// Float tolerance of GPU results against the goldens.
const GPU_ATOL: f32 = 1e-4;
const GPU_RTOL: f32 = 1e-4;

/// Ops whose GPU kernels are not written yet. A model with any of them may fail to prepare
/// (reported, not failed); once every model with an op passes, the test asks for the op's
/// removal, so the list cannot go stale. Empty when the GPU engine is complete.
const PENDING_OPS: &[&str] = &[];

#[test]
fn gpu_engine_matches_litert_builtin_ref() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_engine_matches_litert_builtin_ref")? else {
        return Ok(());
    };
    let engine = GpuEngine::new(ctx);
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let (mut passed, mut pending, mut problems, mut done_ops) =
        (0, Vec::new(), Vec::new(), Vec::new());
    let mut compared = 0;
    let mut pending_pass: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for case in cases().iter().filter(|c| c.name.contains(&filter)) {
        let pend: Vec<&str> = PENDING_OPS
            .iter()
            .copied()
            .filter(|o| case.ops.iter().any(|c| c == o))
            .collect();
        let outcome = check_model_on(&engine, &case.model, &case.golden, GPU_ATOL, GPU_RTOL);
        let ok = matches!(outcome, Outcome::Pass { .. });
        for o in &pend {
            let e = pending_pass.entry(o).or_default();
            e.1 += 1;
            if ok {
                e.0 += 1;
            }
        }
        match outcome {
            Outcome::Pass { compared: n } => {
                compared += n;
                passed += 1;
            }
            Outcome::Unsupported(e) if !pend.is_empty() => {
                pending.push(format!("{}: {e}", case.name))
            }
            Outcome::Unsupported(e) => problems.push(format!("{}: unsupported: {e}", case.name)),
            Outcome::Fail(f) if !pend.is_empty() => {
                pending.push(format!("{}: {} (first: {})", case.name, f.len(), f[0]))
            }
            Outcome::Fail(f) => problems.push(format!("{}:\n    {}", case.name, f.join("\n    "))),
        }
    }
    for (op, (ok, all)) in &pending_pass {
        if ok == all && filter.is_empty() {
            done_ops.push(*op);
        }
    }
    println!(
        "gpu conformance on {}: {passed} models pass ({compared} tensors compared), {} pending, {} failing",
        engine.context().describe(),
        pending.len(),
        problems.len()
    );
    for p in &pending {
        println!("  pending {p}");
    }
    assert!(
        problems.is_empty(),
        "{} models differ on the GPU:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        done_ops.is_empty(),
        "every model with {done_ops:?} passes on the GPU: take them off PENDING_OPS"
    );
    Ok(())
}
