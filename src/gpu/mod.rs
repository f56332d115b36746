//! wgpu context and GPU kernels.
//!
//! The device is acquired once, outside the work functions, and passed in (wgpu's
//! `hello_compute` split): [`GpuContext::from_env`] picks the adapter from the environment
//! (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF`, through wgpu's own helpers), and
//! [`GpuContext::with_device`] wraps a device the caller already owns. Shaders live in
//! `shaders/*.wgsl` and are listed in [`shaders`]; compute pipelines are cached per context by
//! (shader, entry point, override constants).
//!
//! Tests that need a GPU use [`context_or_skip`]: without an adapter they print why and skip,
//! unless `LITEQUANT_REQUIRE_GPU=1` ([`require_gpu`]), where a missing adapter is a failure.

mod context;
mod engine;
pub(crate) mod kernels;
mod loops;
mod plan;
mod session;
pub mod shaders;
mod stats;
mod submit;

pub use context::GpuContext;
pub use engine::GpuEngine;
pub use kernels::conv::{with_conv_tiles, ConvTiles};
pub use session::GpuSession;
pub use shaders::PipelineKey;
pub use stats::GpuStats;

use crate::Result;

/// The environment variable that turns a missing GPU adapter from a skip into a failure (CI).
pub const REQUIRE_GPU_ENV: &str = "LITEQUANT_REQUIRE_GPU";

/// Whether `LITEQUANT_REQUIRE_GPU` asks for a GPU (`1`, `true` or `yes`, any case).
pub fn require_gpu() -> bool {
    match std::env::var(REQUIRE_GPU_ENV) {
        Ok(v) => matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"),
        Err(_) => false,
    }
}

/// A context from the environment for a test, bench or example named `who`.
///
/// - `Ok(Some(ctx))`: an adapter was found; its description is printed to stderr.
/// - `Ok(None)`: no adapter and [`require_gpu`] is false; the reason is printed, the caller
///   should return (skip).
/// - `Err(_)`: no adapter but `LITEQUANT_REQUIRE_GPU=1`.
pub fn context_or_skip(who: &str) -> Result<Option<GpuContext>> {
    match GpuContext::from_env() {
        Ok(ctx) => {
            eprintln!("{who}: using {}", ctx.describe());
            Ok(Some(ctx))
        }
        Err(e) => {
            let why = match e {
                crate::Error::Gpu(m) => m,
                other => other.to_string(),
            };
            if require_gpu() {
                return Err(crate::Error::Gpu(format!(
                    "{who}: {REQUIRE_GPU_ENV}=1 but no usable GPU: {why}"
                )));
            }
            eprintln!(
                "{who}: SKIPPED, no usable GPU ({why}); set {REQUIRE_GPU_ENV}=1 to make this a failure"
            );
            Ok(None)
        }
    }
}
