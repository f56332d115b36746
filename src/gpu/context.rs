//! The wgpu instance, adapter, device and queue, acquired once and passed to the work functions.

use std::fmt::Write as _;

use super::shaders::{PipelineCache, PipelineKey};
use crate::{Error, Result};

/// Environment variables that decide which adapter [`GpuContext::from_env`] picks, named in
/// its error messages. The first three are read by wgpu's own helpers; the last two are the
/// Vulkan loader's (which ICDs, e.g. lavapipe, it can see).
const ADAPTER_ENV: &[&str] = &[
    "WGPU_BACKEND",
    "WGPU_ADAPTER_NAME",
    "WGPU_POWER_PREF",
    "VK_DRIVER_FILES",
    "VK_ICD_FILENAMES",
];

/// A GPU device ready for compute work: wgpu instance, adapter, device, queue, the adapter's
/// description, and a cache of compute pipelines built on this device.
///
/// Cheap handles (`wgpu` types are reference counted); build one per process and share it.
#[derive(Debug)]
pub struct GpuContext {
    instance: wgpu::Instance,
    adapter: wgpu::Adapter,
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pipelines: PipelineCache,
}

impl GpuContext {
    /// Pick an adapter from the environment and open a device on it (blocking).
    ///
    /// The instance comes from `wgpu::InstanceDescriptor::new_without_display_handle_from_env`
    /// (`WGPU_BACKEND`, `WGPU_DEBUG`, `WGPU_VALIDATION`, ...), the adapter from
    /// `wgpu::util::initialize_adapter_from_env_or_default` (`WGPU_ADAPTER_NAME`, a
    /// case-insensitive substring of the adapter name, else the default adapter under
    /// `WGPU_POWER_PREF`). Nothing is hard-coded.
    pub fn from_env() -> Result<Self> {
        pollster::block_on(Self::from_env_async())
    }

    /// The async form of [`GpuContext::from_env`].
    pub async fn from_env_async() -> Result<Self> {
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        let backends = desc.backends;
        let instance = wgpu::Instance::new(desc);

        // wgpu's helper panics ("WGPU_ADAPTER_NAME set but no matching adapter found!")
        // instead of returning an error; check first, with the same rule it uses.
        let available = instance.enumerate_adapters(wgpu::Backends::all()).await;
        if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME") {
            let wanted_lc = wanted.to_lowercase();
            let found = available
                .iter()
                .any(|a| a.get_info().name.to_lowercase().contains(&wanted_lc));
            if !found {
                return Err(no_adapter(
                    &format!("no adapter name contains WGPU_ADAPTER_NAME={wanted:?}"),
                    backends,
                    &available,
                ));
            }
        }

        let adapter = wgpu::util::initialize_adapter_from_env_or_default(&instance, None)
            .await
            .map_err(|e| no_adapter(&e.to_string(), backends, &available))?;
        Self::open(instance, adapter).await
    }

    /// Open a device on an adapter the caller chose.
    async fn open(instance: wgpu::Instance, adapter: wgpu::Adapter) -> Result<Self> {
        let info = adapter.get_info();
        check_compute(&adapter, &info)?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("litequant"),
                required_features: wgpu::Features::empty(),
                // Everything the adapter offers (large storage buffers, big workgroups).
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("cannot open a device on {}: {e}", describe(&info))))?;
        Ok(Self::assemble(instance, adapter, device, queue, info))
    }

    /// Wrap a device the caller already owns (shared with its renderer, say). The handles are
    /// reference counted; pass clones. The caller keeps its uncaptured-error handler.
    pub fn with_device(
        instance: wgpu::Instance,
        adapter: wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
    ) -> Result<Self> {
        let info = adapter.get_info();
        check_compute(&adapter, &info)?;
        Ok(Self::assemble(instance, adapter, device, queue, info))
    }

    fn assemble(
        instance: wgpu::Instance,
        adapter: wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
    ) -> Self {
        Self {
            instance,
            adapter,
            device,
            queue,
            info,
            pipelines: PipelineCache::default(),
        }
    }

    /// The wgpu instance.
    pub fn instance(&self) -> &wgpu::Instance {
        &self.instance
    }

    /// The adapter the device was opened on.
    pub fn adapter(&self) -> &wgpu::Adapter {
        &self.adapter
    }

    /// The device.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The device's queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// The adapter's name, backend, type and driver.
    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// One line for logs, e.g.
    /// `"llvmpipe (LLVM 15.0.6, 256 bits)" (Vulkan, Cpu, driver llvmpipe Mesa 22.3.6 (LLVM 15.0.6))`.
    pub fn describe(&self) -> String {
        describe(&self.info)
    }

    /// The compute pipeline for `key`, built on first use and cached on this context.
    pub fn pipeline(&self, key: &PipelineKey) -> Result<wgpu::ComputePipeline> {
        self.pipelines.get_or_build(&self.device, key)
    }

    /// Number of pipelines built so far (for tests of the cache).
    pub fn cached_pipelines(&self) -> usize {
        self.pipelines.len()
    }

    /// Copy the first `size` bytes of `buffer` (which needs `COPY_SRC`) to the host, blocking
    /// until the GPU work submitted before it is done.
    pub fn read_buffer(&self, buffer: &wgpu::Buffer, size: u64) -> Result<Vec<u8>> {
        if size == 0 {
            return Ok(Vec::new());
        }
        if size > buffer.size() {
            return Err(Error::Gpu(format!(
                "read_buffer: {size} bytes asked from a buffer of {} bytes",
                buffer.size()
            )));
        }
        if !buffer.usage().contains(wgpu::BufferUsages::COPY_SRC) {
            return Err(Error::Gpu(format!(
                "read_buffer: the buffer lacks COPY_SRC (usage {:?})",
                buffer.usage()
            )));
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        // Copies and mappings work in multiples of 4 bytes.
        let padded = size.div_ceil(wgpu::COPY_BUFFER_ALIGNMENT) * wgpu::COPY_BUFFER_ALIGNMENT;
        let padded = padded.min(buffer.size());
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("litequant readback"),
            size: padded,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("litequant readback"),
            });
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, padded);
        let index = self.queue.submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("read_buffer: {e}")));
        }

        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map_err(|e| Error::Gpu(format!("read_buffer: waiting for the device: {e}")))?;
        rx.recv()
            .map_err(|_| Error::Gpu("read_buffer: mapping callback never ran".into()))?
            .map_err(|e| Error::Gpu(format!("read_buffer: cannot map the staging buffer: {e}")))?;
        let bytes = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| Error::Gpu(format!("read_buffer: {e}")))?;
            view[..size as usize].to_vec()
        };
        staging.unmap();
        Ok(bytes)
    }
}

fn describe(info: &wgpu::AdapterInfo) -> String {
    let mut s = format!(
        "{:?} ({:?}, {:?}",
        info.name, info.backend, info.device_type
    );
    if !info.driver.is_empty() {
        let _ = write!(s, ", driver {}", info.driver);
    }
    if !info.driver_info.is_empty() {
        let _ = write!(s, " {}", info.driver_info);
    }
    s.push(')');
    s
}

fn check_compute(adapter: &wgpu::Adapter, info: &wgpu::AdapterInfo) -> Result<()> {
    let caps = adapter.get_downlevel_capabilities();
    if !caps.flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS) {
        return Err(Error::Gpu(format!(
            "adapter {} has no compute shaders",
            describe(info)
        )));
    }
    Ok(())
}

/// The error for "no adapter": why, which environment variables were consulted (and their
/// values), and which adapters were visible.
fn no_adapter(why: &str, backends: wgpu::Backends, available: &[wgpu::Adapter]) -> Error {
    let mut msg =
        format!("no GPU adapter: {why}; backends enabled: {backends:?}; environment consulted:");
    for var in ADAPTER_ENV {
        match std::env::var(var) {
            Ok(v) => {
                let _ = write!(msg, " {var}={v:?}");
            }
            Err(_) => {
                let _ = write!(msg, " {var} (unset)");
            }
        }
    }
    if available.is_empty() {
        msg.push_str("; no adapters visible (no Vulkan/Metal/DX12 driver? on Linux without a GPU, install lavapipe: mesa-vulkan-drivers)");
    } else {
        msg.push_str("; adapters visible:");
        for a in available {
            let _ = write!(msg, " {}", describe(&a.get_info()));
        }
    }
    Error::Gpu(msg)
}
