//! The fast CPU engine ([`FastCpuEngine`], `--backend cpu`): the reference engine's results,
//! bit for bit, at the speed of the hardware.
//!
//! A model is prepared by the reference kernels first ([`crate::reference`]: every check,
//! every parameter). The operators with a fast kernel then swap theirs in, built from the
//! reference kernel's own parameters (multipliers, epilogues, geometry); every other
//! operator runs its reference kernel. Fast kernels so far: CONV_2D (float32 in both
//! orders, one group; int8), DEPTHWISE_CONV_2D (depth multiplier 1: float32 in both orders,
//! int8), FULLY_CONNECTED (float32 in both orders, int8), float32 ADD/SUB/MUL and int8
//! ADD/SUB without broadcasting, and PRELU with one alpha per channel (float32, int8);
//! operators whose inputs are all constant (the DEQUANTIZE of float16 weights) are computed
//! once, at prepare. Each keeps the reference's per-element arithmetic: integer sums in any
//! order (they wrap the same), float sums vectorised across output elements only, each
//! element's steps in its engine's order — the reference's, or the converter's as
//! `ConverterFloatEngine` sums them (DESIGN.md; `gemm.rs`, `conv.rs`, `converter.rs`,
//! `depthwise.rs`).
//!
//! Calibration on this engine runs samples in parallel
//! ([`crate::CalibrationOptions::threads`], [`crate::Engine::sample_session`]).
//!
//! Every tensor of a run is allocated once, at prepare, and reused by every run. Outputs
//! are split across threads ([`FastCpuEngine::with_threads`]); the results do not depend on
//! the thread count.

mod binary;
mod conv;
mod converter;
mod depthwise;
mod gemm;
mod pad;
mod par;
mod prelu;
mod requant;
mod session;

pub use gemm::Simd;
pub use par::available_threads;
pub use session::FastSession;

use crate::custom::{CustomOp, CustomOps};
use crate::engine::Engine;
use crate::model::Model;
use crate::reference::FloatOrder;
use crate::Result;

/// The fast CPU engine: bit-identical to [`crate::ReferenceEngine`](struct@crate::ReferenceEngine)
/// in [`FloatOrder::Reference`] (the default, and the fastest), and to
/// [`crate::ConverterFloatEngine`](struct@crate::ConverterFloatEngine) in
/// [`FloatOrder::Converter`] (what calibration runs in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FastCpuEngine {
    threads: Option<usize>,
    min_work: Option<usize>,
    order: FloatOrder,
    simd: Option<Simd>,
    max_memory: Option<u64>,
    custom: CustomOps,
}

impl FastCpuEngine {
    /// The engine on all cores, in the reference's float order, with the best SIMD the CPU
    /// has.
    pub fn new() -> Self {
        Self::default()
    }

    /// This engine on `n` threads (0 or 1: the calling thread only).
    pub fn with_threads(self, n: usize) -> Self {
        Self {
            threads: Some(n.max(1)),
            ..self
        }
    }

    /// The threads a run uses (default: [`available_threads`]).
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or_else(available_threads)
    }

    /// This engine splitting a kernel's outputs across threads once each thread gets
    /// `work` multiply-adds (default: 2^17, below which a thread costs more than it
    /// saves). Tests set 1 to split every kernel that can be.
    pub fn with_min_work_per_thread(self, work: usize) -> Self {
        Self {
            min_work: Some(work.max(1)),
            ..self
        }
    }

    /// This engine with the float32 kernels summing in `order`.
    pub fn with_float_order(self, order: FloatOrder) -> Self {
        Self { order, ..self }
    }

    /// The order the float32 kernels sum in.
    pub fn float_order(&self) -> FloatOrder {
        self.order
    }

    /// This engine with the inner loops of `simd` ([`Simd::Portable`] runs anywhere; a SIMD
    /// level the CPU lacks falls back to it). The results are the same.
    pub fn with_simd(self, simd: Simd) -> Self {
        Self {
            simd: Some(simd),
            ..self
        }
    }

    /// The inner loops a run uses (default: [`Simd::detect`]).
    pub fn simd(&self) -> Simd {
        match (self.simd, Simd::detect()) {
            (Some(Simd::Avx2), Simd::Avx2) => Simd::Avx2,
            (Some(_), _) => Simd::Portable,
            (None, best) => best,
        }
    }

    /// This engine with a memory budget of `bytes` for each prepared model (activations,
    /// kernel tables, packed weights); a model over it is an [`crate::Error::Memory`] at
    /// prepare.
    pub fn with_max_memory(self, bytes: u64) -> Self {
        Self {
            max_memory: Some(bytes),
            ..self
        }
    }

    /// The budget set with `with_max_memory` (`None`: the memory available).
    pub fn max_memory(&self) -> Option<u64> {
        self.max_memory
    }

    /// This engine with `op` as the kernel of the custom op `name` ([`crate::custom`]).
    pub fn with_custom_op(mut self, name: impl Into<String>, op: impl CustomOp + 'static) -> Self {
        self.custom.register(name, op);
        self
    }

    /// This engine with the custom-op kernels `ops`.
    pub fn with_custom_ops(self, ops: CustomOps) -> Self {
        Self {
            custom: ops,
            ..self
        }
    }
}

impl Engine for FastCpuEngine {
    type Session = FastSession;

    fn name(&self) -> String {
        let order = match self.order {
            FloatOrder::Reference => "",
            FloatOrder::Converter => ", converter float order",
        };
        let simd = match self.simd() {
            Simd::Avx2 => "AVX2",
            Simd::Portable => "portable",
        };
        let threads = self.threads();
        let s = if threads == 1 { "" } else { "s" };
        format!("cpu ({threads} thread{s}, {simd}{order})")
    }

    fn prepare(&self, model: &Model) -> Result<FastSession> {
        let p = crate::reference::prepare_steps(model, self.order, self.max_memory, &self.custom)?;
        let par = par::Par {
            threads: self.threads(),
            min_work: self.min_work.unwrap_or(par::MIN_WORK_PER_THREAD),
        };
        FastSession::new(p, self.simd(), par)
    }

    fn sample_session(
        &self,
        model: &Model,
        shapes: Option<&[Vec<usize>]>,
        threads: usize,
    ) -> Option<Result<Box<dyn crate::engine::Session + Send>>> {
        let engine = self.clone().with_threads(threads);
        let session = match shapes {
            Some(shapes) => engine.prepare_with_input_shapes(model, shapes),
            None => engine.prepare(model),
        };
        Some(session.map(|s| Box::new(s) as Box<dyn crate::engine::Session + Send>))
    }
}
