//! Hybrid per-channel CONV_2D / DEPTHWISE_CONV_2D and hybrid FULLY_CONNECTED as
//! ai-edge-quantizer's `dynamic_wi8_afp32` recipe writes them, on inputs built to sit on the
//! rounding edge of the run-time input quantization (`tools/make_hybrid_neon_fixtures.py`):
//! every tensor equals LiteRT's BUILTIN_REF results, on the reference engine and on the GPU.
//!
//! LiteRT on x86-64 quantizes with the NEON code of `neon_tensor_utils.cc` (through NEON_2_SSE):
//! on these inputs the portable formula it was once taken for gives 112 of the 648 input
//! values of the first op one step off, which moves the op's outputs by up to ~1e-3.

mod common;

use common::golden::{check_model, check_model_on, Outcome};
use litequant::gpu::{self, GpuEngine};

fn fixture() -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = common::fixtures().join("hybrid_neon");
    (
        dir.join("cnn_dynamic_wi8.tflite"),
        dir.join("cnn_dynamic_wi8.npz"),
    )
}

fn assert_pass(outcome: Outcome, what: &str) {
    match outcome {
        Outcome::Pass { compared } => assert!(compared >= 6 * 5, "{what}: {compared} compared"),
        Outcome::Unsupported(e) => panic!("{what}: unsupported: {e}"),
        Outcome::Fail(f) => panic!("{what}: {} differ:\n{}", f.len(), f.join("\n")),
    }
}

#[test]
fn reference_engine_quantizes_hybrid_inputs_as_litert_on_x86() {
    let (model, golden) = fixture();
    assert_pass(check_model(&model, &golden), "reference engine");
}

#[test]
fn gpu_engine_quantizes_hybrid_inputs_as_litert_on_x86() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_engine_quantizes_hybrid_inputs_as_litert_on_x86")?
    else {
        return Ok(());
    };
    let (model, golden) = fixture();
    let engine = GpuEngine::new(ctx);
    assert_pass(
        check_model_on(&engine, &model, &golden, 1e-4, 1e-4),
        "gpu engine",
    );
    Ok(())
}
