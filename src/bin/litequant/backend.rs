//! `--backend auto|gpu|cpu|reference`: which engine runs the models, and `auto`'s fallback.
//!
//! - `reference`: the CPU reference engine; the GPU is never touched.
//! - `cpu`: the fast CPU engine (`litequant::cpu`): the reference engine's results bit for
//!   bit, vectorised and on `--threads` threads; the GPU is never touched.
//! - `gpu`: the adapter the environment picks (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`,
//!   `WGPU_POWER_PREF`), software adapters (llvmpipe) included. No adapter, an op without a
//!   GPU kernel, a lost device or an out-of-memory allocation is an error.
//! - `auto`: with `WGPU_ADAPTER_NAME` set, the adapter it names (software or not: it was
//!   asked for); otherwise a hardware adapter (wgpu's device type other than `Cpu`), and the
//!   fast CPU engine when there is none. Any GPU failure — no adapter, an unsupported op
//!   at prepare, a lost device, out of memory, a panic inside wgpu — prints one line and
//!   the work is done again on the fast CPU engine.

use std::panic::AssertUnwindSafe;

use clap::ValueEnum;
use litequant::gpu::GpuEngine;
use litequant::{Error, FastCpuEngine, Result};

/// The fast CPU engine's options.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub(crate) struct CpuArgs {
    /// Threads of the fast CPU engine (--backend cpu, or auto without a GPU); default: all
    /// cores. The results are the same for every count.
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<usize>,
}

impl CpuArgs {
    /// The fast CPU engine with these options and the memory budget of `memory`.
    pub(crate) fn engine(self, memory: crate::MemoryArgs) -> FastCpuEngine {
        let mut e = FastCpuEngine::new();
        if let Some(n) = self.threads {
            e = e.with_threads(n);
        }
        if let Some(b) = memory.max_memory {
            e = e.with_max_memory(b);
        }
        e
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    /// A hardware GPU if there is one (or the adapter WGPU_ADAPTER_NAME names), else the
    /// fast CPU engine; a GPU failure falls back to the fast CPU engine, with a message.
    Auto,
    /// The GPU adapter the environment picks (WGPU_BACKEND, WGPU_ADAPTER_NAME,
    /// WGPU_POWER_PREF), software adapters included; GPU failures are errors.
    Gpu,
    /// The fast CPU engine: the reference engine's results bit for bit, vectorised and
    /// multi-threaded (--threads).
    Cpu,
    /// The CPU reference engine (bit-exact with TFLite's reference kernels).
    Reference,
}

/// The engine a backend resolved to.
pub(crate) enum Chosen {
    /// The GPU engine, and the fast CPU engine `auto` falls back to.
    Gpu(GpuEngine, FastCpuEngine),
    Cpu(FastCpuEngine),
    Reference,
}

const FALLBACK: &str = "falling back to the fast CPU engine";

impl Backend {
    /// Resolve the backend, printing what was chosen (stderr); the engine gets the memory
    /// budget of `memory` (the fast CPU engine also the options of `cpu`).
    pub(crate) fn choose(self, memory: crate::MemoryArgs, cpu: CpuArgs) -> Result<Chosen> {
        let chosen = self.choose_engine(memory, cpu)?;
        Ok(match (chosen, memory.max_memory) {
            (Chosen::Gpu(e, c), Some(b)) => Chosen::Gpu(e.with_max_memory(b), c),
            (c, _) => c,
        })
    }

    fn choose_engine(self, memory: crate::MemoryArgs, cpu: CpuArgs) -> Result<Chosen> {
        match self {
            Backend::Reference => {
                eprintln!("backend: reference (CPU reference engine)");
                Ok(Chosen::Reference)
            }
            Backend::Cpu => {
                let engine = cpu.engine(memory);
                eprintln!("backend: {}", litequant::Engine::name(&engine));
                Ok(Chosen::Cpu(engine))
            }
            Backend::Gpu => {
                let engine = guarded(GpuEngine::from_env)
                    .map_err(|e| Error::Gpu(format!("--backend gpu: {}", plain(&e))))?;
                eprintln!("backend: gpu on {}", engine.context().describe());
                Ok(Chosen::Gpu(engine, cpu.engine(memory)))
            }
            Backend::Auto => match guarded(auto_engine) {
                Ok(engine) => {
                    eprintln!("backend auto: gpu on {}", engine.context().describe());
                    Ok(Chosen::Gpu(engine, cpu.engine(memory)))
                }
                Err(e) => {
                    let engine = cpu.engine(memory);
                    eprintln!(
                        "backend auto: {}; using the fast CPU engine ({})",
                        plain(&e),
                        litequant::Engine::name(&engine)
                    );
                    Ok(Chosen::Cpu(engine))
                }
            },
        }
    }
}

/// The message of a GPU error without the `gpu: ` prefix.
fn plain(e: &Error) -> String {
    match e {
        Error::Gpu(m) => m.clone(),
        e => e.to_string(),
    }
}

/// `auto`'s adapter: the one `WGPU_ADAPTER_NAME` names, else the best hardware adapter.
fn auto_engine() -> Result<GpuEngine> {
    if std::env::var("WGPU_ADAPTER_NAME").is_ok_and(|v| !v.is_empty()) {
        return GpuEngine::from_env();
    }
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let low_power = std::env::var("WGPU_POWER_PREF")
        .is_ok_and(|v| v.eq_ignore_ascii_case("low") || v.eq_ignore_ascii_case("low-power"));
    let rank = |t: wgpu::DeviceType| match (t, low_power) {
        (wgpu::DeviceType::DiscreteGpu, false) | (wgpu::DeviceType::IntegratedGpu, true) => 0,
        (wgpu::DeviceType::DiscreteGpu, true) | (wgpu::DeviceType::IntegratedGpu, false) => 1,
        (wgpu::DeviceType::VirtualGpu, _) => 2,
        _ => 3,
    };
    let Some(adapter) = adapters
        .iter()
        .filter(|a| a.get_info().device_type != wgpu::DeviceType::Cpu)
        .min_by_key(|a| rank(a.get_info().device_type))
        .cloned()
    else {
        let software: Vec<String> = adapters
            .iter()
            .map(|a| format!("{:?}", a.get_info().name))
            .collect();
        return Err(Error::Gpu(if software.is_empty() {
            "no GPU adapter".to_string()
        } else {
            format!(
                "no hardware GPU adapter (software only: {}; --backend gpu or \
                 WGPU_ADAPTER_NAME runs on one)",
                software.join(", ")
            )
        }));
    };
    let info = adapter.get_info();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("litequant"),
        required_features: wgpu::Features::empty(),
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .map_err(|e| Error::Gpu(format!("cannot open a device on {:?}: {e}", info.name)))?;
    GpuEngine::with_device(instance, adapter, device, queue)
}

/// `f`, with a panic inside it (wgpu's default handlers panic on some device errors) turned
/// into an error.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    r.unwrap_or_else(|p| {
        let why = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown cause".into());
        Err(Error::Gpu(format!("the GPU engine panicked: {why}")))
    })
}

/// Whether `e` came from the GPU side (and the reference engine might succeed).
fn gpu_failure(e: &Error) -> bool {
    let m = e.to_string();
    matches!(e, Error::Gpu(_) | Error::Unsupported(_))
        || m.contains("gpu: ")
        || m.contains("GPU engine")
}

/// Run `on_gpu` with the GPU engine, `on_cpu` with the fast CPU engine, or `on_reference`:
/// under `auto`, a GPU failure prints a line and runs `on_cpu` instead (and `chosen` becomes
/// the fast CPU engine, for the rest of the command).
pub(crate) fn run_on<T>(
    backend: Backend,
    chosen: &mut Chosen,
    what: &str,
    on_gpu: impl FnOnce(&GpuEngine) -> Result<T>,
    on_cpu: impl FnOnce(&FastCpuEngine) -> Result<T>,
    on_reference: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let (engine, fallback) = match chosen {
        Chosen::Gpu(engine, fallback) => (engine, fallback.clone()),
        Chosen::Cpu(engine) => return on_cpu(engine),
        Chosen::Reference => return on_reference(),
    };
    match guarded(|| on_gpu(engine)) {
        Ok(v) => Ok(v),
        Err(e) if backend == Backend::Auto && gpu_failure(&e) => {
            eprintln!("backend auto: {what} failed on the GPU ({e}); {FALLBACK}");
            *chosen = Chosen::Cpu(fallback.clone());
            on_cpu(&fallback)
        }
        Err(e) => Err(e),
    }
}
