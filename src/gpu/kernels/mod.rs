//! The host side of the GPU kernels: one file per family (`<family>.rs` beside
//! `shaders/<family>.wgsl`), mirroring `src/reference/<family>`.
//!
//! A family's `prepare` gets a [`GpuOpCtx`]: the op, the reference engine's prepared kernel
//! for it (`ctx.kernel`, downcast to the family's struct — the multipliers, tables, geometry
//! and epilogue are computed once, by the normative code, and only uploaded here), and the
//! device buffers of the op's tensors. It returns the [`Command`]s that compute the op's
//! outputs; the session records them, with every other op's, into one submission.

mod activations;
mod binary;
mod cast;
pub(crate) mod conv;
pub(crate) mod elementwise;
mod fully_connected;
pub(crate) mod hybrid;
mod pooling;
mod quantize;
mod reduce;
mod resize;
mod shape_ops;
mod softmax;
mod softmax16;
mod unary16;

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::num::NonZeroU64;

use super::shaders::PipelineKey;
use super::GpuContext;
use crate::reference::OpCtx;
use crate::{Error, Result};

/// One unit of recorded GPU work.
pub(crate) enum Command {
    /// A compute dispatch: `workgroups` from [`GpuOpCtx::grid`] (or explicit).
    Dispatch {
        pipeline: wgpu::ComputePipeline,
        bind_group: wgpu::BindGroup,
        workgroups: [u32; 3],
    },
    /// Zero a buffer (e.g. before kernels that OR bytes into shared words).
    Clear { buffer: wgpu::Buffer },
    /// Copy `size` bytes (a multiple of 4) from offset 0 of `src` to offset 0 of `dst`.
    Copy {
        src: wgpu::Buffer,
        dst: wgpu::Buffer,
        size: u64,
    },
}

/// A buffer range bound to one `@binding` (always from offset 0).
#[derive(Clone, Debug)]
pub(crate) struct Arg {
    pub buffer: wgpu::Buffer,
    /// Bytes bound: a multiple of 4, at least 4.
    pub size: u64,
}

/// The device memory of a session: one buffer per slot of the plan, constants uploaded on
/// first use.
pub(crate) struct DeviceTensors {
    /// Per tensor of the main subgraph: the slot buffer holding it and its device bytes.
    pub placed: Vec<Option<Arg>>,
    /// Constant tensors' little-endian bytes, by tensor index (uploaded when a kernel asks).
    pub const_bytes: Vec<Option<Vec<u8>>>,
    uploaded: RefCell<HashMap<usize, Arg>>,
    /// Run-time failure flags of kernels ([`GpuOpCtx::status`]).
    pub status: RefCell<Vec<Status>>,
}

/// A kernel's run-time failure flag: a word on the device, zeroed before every run, that the
/// kernel sets (`atomicOr`) where the reference engine would refuse the run. The session reads
/// it back with the outputs and turns a set flag into the reference's error.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    /// The op's index in execution order.
    pub index: usize,
    /// `operator 3 (SOFTMAX)`.
    pub op: String,
    /// What the reference says when it refuses.
    pub why: String,
    pub arg: Arg,
}

impl DeviceTensors {
    pub fn new(placed: Vec<Option<Arg>>, const_bytes: Vec<Option<Vec<u8>>>) -> Self {
        Self {
            placed,
            const_bytes,
            uploaded: RefCell::new(HashMap::new()),
            status: RefCell::new(Vec::new()),
        }
    }
}

/// Everything a GPU kernel's `prepare` may use.
pub(crate) struct GpuOpCtx<'a> {
    pub gpu: &'a GpuContext,
    /// The reference engine's view of the op (index, operator, subgraph, constants).
    pub op: &'a OpCtx<'a>,
    /// The reference engine's prepared kernel for this op (downcast to the family's struct).
    pub kernel: &'a dyn Any,
    pub tensors: &'a DeviceTensors,
}

impl GpuOpCtx<'_> {
    /// An "unsupported" error naming the op, index and dtypes.
    pub fn unsupported(&self, why: impl std::fmt::Display) -> Error {
        self.op.unsupported(format!("GPU engine: {why}"))
    }

    /// The reference kernel as `T`, or an error saying which path has no GPU kernel.
    pub fn kernel<T: Any>(&self) -> Result<&T> {
        self.kernel.downcast_ref::<T>().ok_or_else(|| {
            self.unsupported(format!(
                "no GPU kernel for this variant (reference kernel is not {})",
                std::any::type_name::<T>()
            ))
        })
    }

    /// The device buffer of tensor `t` (computed, or a constant uploaded on first use).
    pub fn tensor(&self, t: usize) -> Result<Arg> {
        if let Some(a) = self.tensors.placed.get(t).and_then(|a| a.clone()) {
            return Ok(a);
        }
        if let Some(a) = self.tensors.uploaded.borrow().get(&t) {
            return Ok(a.clone());
        }
        let Some(bytes) = self.tensors.const_bytes.get(t).and_then(|b| b.as_ref()) else {
            return Err(self.op.invalid(format!(
                "tensor {t} ('{}') is neither computed nor a constant",
                self.op
                    .sg
                    .tensors
                    .get(t)
                    .map(|x| x.name.as_str())
                    .unwrap_or("?")
            )));
        };
        let name = &self.op.sg.tensors[t].name;
        let a = self.upload(&format!("const {t} {name}"), bytes)?;
        self.tensors.uploaded.borrow_mut().insert(t, a.clone());
        Ok(a)
    }

    /// The buffer of the op's input `i` (which must be present).
    pub fn input(&self, i: usize) -> Result<Arg> {
        let t = self
            .op
            .op
            .input(i)
            .ok_or_else(|| self.op.invalid(format!("input {i} is missing")))?;
        self.tensor(t)
    }

    /// The buffer of the op's output `i`.
    pub fn output(&self, i: usize) -> Result<Arg> {
        let t = self
            .op
            .op
            .outputs
            .get(i)
            .and_then(|&t| usize::try_from(t).ok())
            .ok_or_else(|| self.op.invalid(format!("output {i} is missing")))?;
        self.tensor(t)
    }

    /// A read-only storage buffer holding `bytes` (padded to whole words, at least one):
    /// weights repacked for a kernel, tables, per-channel parameters.
    pub fn upload(&self, label: &str, bytes: &[u8]) -> Result<Arg> {
        self.buffer_with(label, bytes, wgpu::BufferUsages::STORAGE, 4)
    }

    /// A uniform buffer holding `bytes` (padded to 16 bytes).
    pub fn uniform(&self, label: &str, bytes: &[u8]) -> Result<Arg> {
        self.buffer_with(label, bytes, wgpu::BufferUsages::UNIFORM, 16)
    }

    /// A device-only scratch buffer of at least `bytes` (zeroed at creation), readable and
    /// writable by kernels: for intermediate results within one op.
    pub fn scratch(&self, label: &str, bytes: u64) -> Result<Arg> {
        let size = bytes.div_ceil(4).max(1) * 4;
        self.check_binding_size(label, size)?;
        let buffer = self.gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Arg { buffer, size })
    }

    fn buffer_with(
        &self,
        label: &str,
        bytes: &[u8],
        usage: wgpu::BufferUsages,
        align: u64,
    ) -> Result<Arg> {
        let size = (bytes.len() as u64).div_ceil(align).max(1) * align;
        self.check_binding_size(label, size)?;
        let mut contents = bytes.to_vec();
        contents.resize(size as usize, 0);
        let buffer = wgpu::util::DeviceExt::create_buffer_init(
            self.gpu.device(),
            &wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: &contents,
                usage: usage | wgpu::BufferUsages::COPY_DST,
            },
        );
        Ok(Arg { buffer, size })
    }

    fn check_binding_size(&self, what: &str, size: u64) -> Result<()> {
        let limits = self.gpu.device().limits();
        let max = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if size > max {
            return Err(self.unsupported(format!(
                "{what}: {size} bytes exceed the device's storage binding limit of {max} bytes"
            )));
        }
        Ok(())
    }

    /// A run-time failure flag for this op (bind as `array<atomic<u32>>`, set with
    /// `atomicOr`): a set flag makes the run fail with `why`, as the reference engine's run
    /// fails, instead of returning outputs the reference would not have produced.
    pub fn status(&self, why: &str) -> Result<Arg> {
        let buffer = self.gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("litequant status"),
            size: 4,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let arg = Arg { buffer, size: 4 };
        self.tensors.status.borrow_mut().push(Status {
            index: self.op.index,
            op: self.op.label(),
            why: why.to_string(),
            arg: arg.clone(),
        });
        Ok(arg)
    }

    /// A grid of `groups` workgroups within the device's per-dimension limit: `[n, 1, 1]`, or
    /// split over y (and z) when `n` is larger. Kernels index with `flat_workgroup`
    /// (`shaders/common/grid.wgsl`) and bounds-check the last, partial row.
    pub fn grid(&self, groups: u64) -> Result<[u32; 3]> {
        let max = u64::from(
            self.gpu
                .device()
                .limits()
                .max_compute_workgroups_per_dimension,
        );
        grid_within(groups, max).ok_or_else(|| {
            self.unsupported(format!(
                "{groups} workgroups exceed the device's {max}^3 dispatch limit"
            ))
        })
    }

    /// The cached pipeline for `key`.
    pub fn pipeline(&self, key: &PipelineKey) -> Result<wgpu::ComputePipeline> {
        self.gpu.pipeline(key)
    }

    /// A dispatch of `key` with `args` bound to `@group(0) @binding(0..)` in order.
    pub fn dispatch(
        &self,
        key: &PipelineKey,
        args: &[&Arg],
        workgroups: [u32; 3],
    ) -> Result<Command> {
        let bound: Vec<(u32, &Arg)> = (0u32..).zip(args.iter().copied()).collect();
        self.dispatch_bound(key, &bound, workgroups)
    }

    /// [`GpuOpCtx::dispatch`] with explicit `@binding` numbers.
    pub fn dispatch_bound(
        &self,
        key: &PipelineKey,
        args: &[(u32, &Arg)],
        workgroups: [u32; 3],
    ) -> Result<Command> {
        let pipeline = self.pipeline(key)?;
        let device = self.gpu.device();
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let layout = pipeline.get_bind_group_layout(0);
        let entries: Vec<wgpu::BindGroupEntry> = args
            .iter()
            .map(|&(i, a)| wgpu::BindGroupEntry {
                binding: i,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &a.buffer,
                    offset: 0,
                    size: NonZeroU64::new(a.size),
                }),
            })
            .collect();
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(key.entry()),
            layout: &layout,
            entries: &entries,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(self.unsupported(format!(
                "cannot bind {}::{}: {e}",
                key.shader(),
                key.entry()
            )));
        }
        Ok(Command::Dispatch {
            pipeline,
            bind_group,
            workgroups,
        })
    }
}

/// `[x, y, z]` with `x * y * z >= groups`, each at most `max`, `x` as large as possible.
pub(crate) fn grid_within(groups: u64, max: u64) -> Option<[u32; 3]> {
    let groups = groups.max(1);
    if groups <= max {
        return Some([groups as u32, 1, 1]);
    }
    let y = groups.div_ceil(max);
    if y <= max {
        return Some([max as u32, y as u32, 1]);
    }
    let z = y.div_ceil(max);
    (z <= max).then_some([max as u32, max as u32, z as u32])
}

/// The GPU kernels of the op in `ctx`: each family's `prepare`, by op.
pub(crate) fn prepare(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    use crate::model::Op;
    // Outputs fixed at prepare (SHAPE's and what is computed from it alone,
    // `reference::fold`) are constants uploaded like the model's own.
    let op = ctx.op.op;
    if !op.outputs.is_empty() && op.output_tensors().all(|t| ctx.op.consts[t].is_some()) {
        return Ok(Vec::new());
    }
    match &ctx.op.op.op {
        Op::Reshape { .. } | Op::Squeeze { .. } => shape_ops::prepare_reshape(ctx),
        Op::Quantize => quantize::prepare_quantize(ctx),
        Op::Dequantize => quantize::prepare_dequantize(ctx),
        Op::Logistic | Op::Tanh
            if ctx
                .kernel
                .is::<crate::reference::activations::sigmoid16::Sigmoid16>() =>
        {
            unary16::prepare_sigmoid16(ctx, ctx.kernel()?)
        }
        Op::Exp | Op::Log | Op::Gelu { .. } | Op::Rsqrt
            if ctx.kernel.is::<crate::reference::lut16::Table16>() =>
        {
            unary16::prepare_lut16(ctx, ctx.kernel()?)
        }
        Op::Relu | Op::Relu6 | Op::LeakyRelu { .. } | Op::HardSwish | Op::Logistic | Op::Tanh => {
            activations::prepare_unary(ctx)
        }
        Op::Prelu => activations::prepare_prelu(ctx),
        Op::Add(_) | Op::Sub(_) | Op::Mul { .. } | Op::Maximum | Op::Minimum => {
            binary::prepare_binary(ctx)
        }
        Op::Transpose | Op::Slice | Op::StridedSlice(_) => shape_ops::prepare_gather(ctx),
        Op::Pad | Op::PadV2 => shape_ops::prepare_pad(ctx),
        Op::Concatenation { .. } | Op::Pack { .. } => shape_ops::prepare_concatenation(ctx),
        Op::Split { .. } | Op::SplitV { .. } | Op::Unpack { .. } => shape_ops::prepare_split(ctx),
        Op::Gather { .. } => shape_ops::prepare_gather_index(ctx),
        Op::ExpandDims => shape_ops::prepare_reshape(ctx),
        Op::Cast { .. } => cast::prepare(ctx),
        Op::BroadcastTo => shape_ops::prepare_gather(ctx),
        Op::Fill => shape_ops::prepare_fill(ctx),
        Op::ZerosLike => shape_ops::prepare_zeros(ctx),
        Op::AveragePool2D(_) | Op::MaxPool2D(_) => pooling::prepare(ctx),
        Op::Mean { .. } => reduce::prepare_mean(ctx),
        Op::Sum { .. } | Op::ReduceMax { .. } | Op::ReduceMin { .. } | Op::ReduceProd { .. } => {
            reduce::prepare_reduce(ctx)
        }
        Op::Softmax { .. } if ctx.kernel.is::<crate::reference::softmax16::Softmax16>() => {
            softmax16::prepare(ctx, ctx.kernel()?)
        }
        Op::Softmax { .. } => softmax::prepare(ctx),
        Op::ResizeBilinear(_) => resize::prepare_bilinear(ctx),
        Op::ResizeNearestNeighbor(_) => resize::prepare_nearest(ctx),
        Op::Conv2D(_) => conv::prepare_conv2d(ctx),
        Op::DepthwiseConv2D(_) => conv::prepare_depthwise(ctx),
        Op::TransposeConv(_) => conv::prepare_transpose_conv(ctx),
        Op::FullyConnected(_) => fully_connected::prepare_fully_connected(ctx),
        Op::BatchMatMul(_) => fully_connected::prepare_batch_matmul(ctx),
        Op::Neg | Op::Rsqrt | Op::Sqrt | Op::Exp | Op::Log | Op::Gelu { .. } => {
            elementwise::prepare(ctx)
        }
        Op::SquaredDifference | Op::Div { .. } => binary::prepare_binary(ctx),
        // Densified on the host at prepare (reference::densify); its output is a constant
        // uploaded like the model's own weights, so there is nothing to dispatch.
        Op::Other(o) if o.code == crate::reference::densify::DENSIFY => Ok(Vec::new()),
        _ => Err(ctx.unsupported("the GPU engine has no kernel for this op yet")),
    }
}

#[cfg(test)]
mod tests {
    use super::grid_within;

    #[test]
    fn grids_split_over_the_dimension_limit() {
        assert_eq!(grid_within(0, 65535), Some([1, 1, 1]));
        assert_eq!(grid_within(65535, 65535), Some([65535, 1, 1]));
        assert_eq!(grid_within(65536, 65535), Some([65535, 2, 1]));
        assert_eq!(grid_within(10, 3), Some([3, 3, 2]));
        assert_eq!(grid_within(8, 2), Some([2, 2, 2]));
        assert_eq!(grid_within(9, 2), None);
    }
}
