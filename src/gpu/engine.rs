//! [`GpuEngine`]: the [`Engine`] that runs models as WGSL compute shaders through wgpu.

use std::sync::Arc;

use super::session::GpuSession;
use super::GpuContext;
use crate::engine::Engine;
use crate::model::Model;
use crate::reference::FloatOrder;
use crate::Result;

/// Runs models on a GPU. int8/uint8/int32 results are bit-identical to
/// [`crate::ReferenceEngine`](struct@crate::ReferenceEngine). Float32 results follow a [`FloatOrder`]: the reference's by
/// default, bit-identical to [`crate::ReferenceEngine`](struct@crate::ReferenceEngine)'s; [`FloatOrder::Converter`]
/// ([`GpuEngine::with_float_order`]) gives [`crate::ConverterFloatEngine`](struct@crate::ConverterFloatEngine)'s bits, the
/// order TensorFlow's converter calibrates with. Every kernel sums in the CPU's order with
/// every product rounded; the exceptions are the ops built on `exp` (LOGISTIC, TANH,
/// SOFTMAX), whose float results are within the conformance tolerance, and what is computed
/// from them.
///
/// Cheap to clone: the device context is shared, and so is its pipeline cache.
#[derive(Debug, Clone)]
pub struct GpuEngine {
    gpu: Arc<GpuContext>,
    order: FloatOrder,
    max_memory: Option<u64>,
}

impl GpuEngine {
    /// An engine on the adapter the environment picks ([`GpuContext::from_env`]:
    /// `WGPU_BACKEND`, `WGPU_ADAPTER_NAME`, `WGPU_POWER_PREF`).
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(GpuContext::from_env()?))
    }

    /// An engine on a device the application already owns (shared with its renderer, say).
    pub fn with_device(
        instance: wgpu::Instance,
        adapter: wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
    ) -> Result<Self> {
        Ok(Self::new(GpuContext::with_device(
            instance, adapter, device, queue,
        )?))
    }

    /// An engine on an existing context.
    pub fn new(gpu: GpuContext) -> Self {
        Self {
            gpu: Arc::new(gpu),
            order: FloatOrder::Reference,
            max_memory: None,
        }
    }

    /// The same engine with float32 kernels in `order`: [`FloatOrder::Converter`] to
    /// calibrate as `ConverterFloatEngine` does (the default of `litequant quantize`).
    pub fn with_float_order(mut self, order: FloatOrder) -> Self {
        self.order = order;
        self
    }

    /// The order the float32 kernels sum in.
    pub fn float_order(&self) -> FloatOrder {
        self.order
    }

    /// This engine with a host memory budget of `bytes` for each prepared model (its inputs,
    /// outputs and the tables kernels precompute; tensors on the device are checked against
    /// the device's limits). Default: the memory available at prepare ([`crate::memory`]).
    pub fn with_max_memory(self, bytes: u64) -> Self {
        Self {
            max_memory: Some(bytes),
            ..self
        }
    }

    /// The budget set with [`GpuEngine::with_max_memory`] (`None`: the default).
    pub fn max_memory(&self) -> Option<u64> {
        self.max_memory
    }

    /// The device context.
    pub fn context(&self) -> &GpuContext {
        &self.gpu
    }
}

impl Engine for GpuEngine {
    type Session = GpuSession;

    fn name(&self) -> String {
        match self.order {
            FloatOrder::Reference => format!("gpu ({})", self.gpu.describe()),
            FloatOrder::Converter => {
                format!("gpu ({}; the converter's float order)", self.gpu.describe())
            }
        }
    }

    fn prepare(&self, model: &Model) -> Result<GpuSession> {
        GpuSession::new(self.gpu.clone(), model, self.order, self.max_memory)
    }
}
