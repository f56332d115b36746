//! A model prepared on the GPU: buffers from the liveness plan, every op's dispatches
//! recorded once, one submission per inference, readback of only what is asked for.

use std::sync::Arc;

use super::kernels::{self, Arg, Command, DeviceTensors, GpuOpCtx, Status};
use super::plan::{self, device_bytes};
use super::stats::{self as gstats, GpuStats};
use super::submit::{map_read, record};
use super::GpuContext;
use crate::engine::{IoSpec, Observer, Session};
use crate::model::{self, Model};
use crate::quant::stats::{StatsAccumulator, StatsRequest};
use crate::reference::{self, FloatOrder, OpCtx};
use crate::{Buf, Error, Result, Tensor};

struct Step {
    commands: Vec<Command>,
    outputs: Vec<usize>,
}

/// A model prepared on a [`super::GpuEngine`].
pub struct GpuSession {
    gpu: Arc<GpuContext>,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
    names: Vec<String>,
    specs: Vec<(model::DType, Vec<usize>)>,
    /// Host copies of the constants (model outputs that are constants come from here).
    consts: Vec<Option<Tensor>>,
    tensors: DeviceTensors,
    steps: Vec<Step>,
    /// The kernels' run-time failure flags, collected once at prepare.
    statuses: Vec<Status>,
    /// Readback buffer, grown as needed and reused across runs.
    staging: Option<wgpu::Buffer>,
    /// Total bytes of the planned slots (for reports and tests).
    planned_bytes: u64,
    /// Bytes the slots would take without sharing.
    unshared_bytes: u64,
    /// The statistics commands recorded for the last accumulator used ([`GpuStats::id`]).
    stats: Option<StatsCommands>,
}

/// The reductions of the observed tensors into one accumulator's per-sample scratch: of the
/// inputs (before step 0) and after each step.
struct StatsCommands {
    acc: u64,
    inputs: Vec<Command>,
    steps: Vec<Vec<Command>>,
}

impl std::fmt::Debug for GpuSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuSession")
            .field("adapter", &self.gpu.describe())
            .field("steps", &self.steps.len())
            .field("planned_bytes", &self.planned_bytes)
            .finish()
    }
}

fn elem_size(dtype: model::DType) -> Option<usize> {
    Buf::zeros(dtype, 1).map(|b| b.to_le_bytes().len())
}

impl GpuSession {
    pub(crate) fn new(
        gpu: Arc<GpuContext>,
        model: &Model,
        float_order: FloatOrder,
        max_memory: Option<u64>,
    ) -> Result<GpuSession> {
        model.validate_for_prepare()?;
        let sg = model.main();
        // Custom kernels are CPU code registered on the reference engines; this engine
        // runs none (docs/gpu.md).
        for (index, op) in sg.operators.iter().enumerate() {
            if let Some(name) = crate::custom::custom_name(op) {
                return Err(Error::Unsupported(format!(
                    "operator {index} is the custom op '{name}': the GPU engine does not run \
                     custom ops (their kernels are CPU code); run this model on \
                     ReferenceEngine::default().with_custom_op(\"{name}\", kernel)"
                )));
            }
        }
        // Host memory: the inputs and outputs (read back) and the kernels' tables; the
        // other activations live on the device (checked against its limits below).
        let budget = crate::memory::Budget::new(max_memory);
        reference::charge_tensors(sg, &budget, |t| {
            sg.inputs.contains(&t) || sg.outputs.contains(&t)
        })?;
        let mut consts = reference::densify::constants(0, sg, &budget)?;
        reference::fold::fold_shape_values(sg, &mut consts, float_order, &budget)?;
        let specs: Vec<(model::DType, Vec<usize>)> = sg
            .tensors
            .iter()
            .map(|t| (t.dtype, reference::dims(t)))
            .collect();
        let bytes_of = |t: usize| -> u64 {
            let (dtype, shape) = &specs[t];
            let n: usize = shape.iter().product();
            device_bytes(n, elem_size(*dtype).unwrap_or(4))
        };

        // Reference kernels first: every check and every parameter, computed once.
        let mut prepared = Vec::with_capacity(sg.operators.len());
        for (index, op) in sg.operators.iter().enumerate() {
            let ctx = OpCtx {
                index,
                op,
                sg,
                consts: &consts,
                float_order,
                budget: &budget,
            };
            prepared.push(reference::prepare_op(&ctx)?);
        }
        for &t in sg.inputs.iter().chain(sg.outputs.iter()) {
            if elem_size(specs[t].0).is_none() {
                return Err(Error::Unsupported(format!(
                    "tensor {t} ('{}'): dtype {} cannot be held",
                    sg.tensors[t].name, specs[t].0
                )));
            }
        }

        // The liveness plan.
        let step_io: Vec<(Vec<usize>, Vec<usize>)> = sg
            .operators
            .iter()
            .map(|op| {
                (
                    op.inputs
                        .iter()
                        .filter_map(|&t| usize::try_from(t).ok())
                        .collect(),
                    op.output_tensors().collect(),
                )
            })
            .collect();
        let lives = plan::lifetimes(
            &sg.inputs,
            &sg.outputs,
            &step_io,
            |t| consts[t].is_some() || sg.tensors[t].data.is_some(),
            bytes_of,
        );
        let unshared_bytes = lives.iter().map(|l| l.bytes).sum();
        let plan = plan::plan(&lives);
        let device = gpu.device();
        let limits = device.limits();
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        for l in &lives {
            if l.bytes > max_binding {
                return Err(Error::Unsupported(format!(
                    "GPU engine: tensor {} ('{}', {} {:?}) takes {} bytes, more than the \
                     device's storage binding limit of {max_binding} bytes ({})",
                    l.tensor,
                    sg.tensors[l.tensor].name,
                    specs[l.tensor].0,
                    specs[l.tensor].1,
                    l.bytes,
                    gpu.describe()
                )));
            }
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let slots: Vec<wgpu::Buffer> = plan
            .slot_bytes
            .iter()
            .enumerate()
            .map(|(k, &size)| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("litequant slot {k}")),
                    size,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .collect();
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "out of device memory allocating {} bytes of tensors on {}: {e}",
                plan.total_bytes(),
                gpu.describe()
            )));
        }
        let mut placed: Vec<Option<Arg>> = vec![None; sg.tensors.len()];
        for &(t, slot) in &plan.placement {
            placed[t] = Some(Arg {
                buffer: slots[slot].clone(),
                size: bytes_of(t),
            });
        }
        let const_bytes = consts
            .iter()
            .enumerate()
            .map(|(t, c)| match c {
                Some(v) => Some(v.buf().to_le_bytes()),
                // Constants the reference could not decode stay raw (only ops that read them
                // would fail, at prepare).
                None => sg.tensors[t].data.as_ref().map(|d| d.to_vec()),
            })
            .collect();
        let tensors = DeviceTensors::new(placed, const_bytes);

        let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let mut steps = Vec::with_capacity(sg.operators.len());
        for (index, op) in sg.operators.iter().enumerate() {
            let octx = OpCtx {
                index,
                op,
                sg,
                consts: &consts,
                float_order,
                budget: &budget,
            };
            let gctx = GpuOpCtx {
                gpu: &gpu,
                op: &octx,
                kernel: prepared[index].as_ref() as &dyn std::any::Any,
                tensors: &tensors,
            };
            steps.push(Step {
                commands: kernels::prepare(&gctx)?,
                outputs: op.output_tensors().collect(),
            });
        }
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "out of device memory uploading the weights on {}: {e}",
                gpu.describe()
            )));
        }
        let statuses = tensors.status.take();
        Ok(GpuSession {
            inputs: reference::io_specs(model, sg, &sg.inputs, true),
            outputs: reference::io_specs(model, sg, &sg.outputs, false),
            names: sg.tensors.iter().map(|t| t.name.clone()).collect(),
            specs,
            consts,
            tensors,
            statuses,
            steps,
            staging: None,
            planned_bytes: plan.total_bytes(),
            unshared_bytes,
            stats: None,
            gpu,
        })
    }

    /// Bytes of device memory the tensors take after sharing, and what they would take
    /// without it.
    pub fn tensor_memory(&self) -> (u64, u64) {
        (self.planned_bytes, self.unshared_bytes)
    }

    fn placed(&self, t: usize) -> Option<&Arg> {
        self.tensors.placed.get(t).and_then(|a| a.as_ref())
    }

    fn staging(&mut self, bytes: u64) -> wgpu::Buffer {
        match &self.staging {
            Some(b) if b.size() >= bytes => b.clone(),
            _ => {
                let b = self.gpu.device().create_buffer(&wgpu::BufferDescriptor {
                    label: Some("litequant readback"),
                    size: bytes.max(4),
                    usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                    mapped_at_creation: false,
                });
                self.staging = Some(b.clone());
                b
            }
        }
    }

    /// The tensors a run computes: (tensor, whether it is float32), inputs then each step's
    /// outputs.
    fn computed(&self) -> Vec<(usize, bool)> {
        self.inputs
            .iter()
            .map(|s| s.tensor)
            .chain(self.steps.iter().flat_map(|s| s.outputs.iter().copied()))
            // DENSIFY's outputs are constants from prepare on: nothing to observe.
            .filter(|&t| self.consts[t].is_none())
            .map(|t| (t, self.specs[t].0 == model::DType::F32))
            .collect()
    }

    /// The reductions of the tensors `acc` observes, recorded once per accumulator.
    fn stats_commands(&mut self, acc: &GpuStats) -> Result<()> {
        if self.stats.as_ref().is_some_and(|c| c.acc == acc.id()) {
            return Ok(());
        }
        let of = |t: usize| -> Result<Vec<Command>> {
            if !acc.observes(t) || self.specs[t].0 != model::DType::F32 {
                return Ok(Vec::new());
            }
            let arg = self.placed(t).ok_or_else(|| {
                Error::Gpu(format!("statistics of tensor {t}: it has no device buffer"))
            })?;
            acc.commands_for(t, arg, self.specs[t].1.iter().product())
        };
        let mut inputs = Vec::new();
        for spec in &self.inputs {
            inputs.extend(of(spec.tensor)?);
        }
        let mut steps = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let mut cmds = Vec::new();
            for &t in &step.outputs {
                cmds.extend(of(t)?);
            }
            steps.push(cmds);
        }
        self.stats = Some(StatsCommands {
            acc: acc.id(),
            inputs,
            steps,
        });
        Ok(())
    }

    fn decode(&self, t: usize, bytes: &[u8]) -> Result<Tensor> {
        let (dtype, shape) = &self.specs[t];
        let n: usize = shape.iter().product();
        let size = elem_size(*dtype).unwrap_or(4) * n;
        let buf = Buf::from_le_bytes(*dtype, &bytes[..size]).ok_or_else(|| {
            Error::Gpu(format!("tensor {t}: cannot decode {dtype} from the device"))
        })?;
        Tensor::new(shape, buf)
    }
}

impl Session for GpuSession {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }

    fn run_observed(
        &mut self,
        inputs: &[Tensor],
        observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<Tensor>> {
        reference::check_inputs(&self.inputs, inputs)?;
        let queue = self.gpu.queue().clone();
        for (spec, t) in self.inputs.iter().zip(inputs) {
            let Some(arg) = self.placed(spec.tensor) else {
                continue; // an input no op reads and that is no output
            };
            let mut bytes = t.buf().to_le_bytes();
            bytes.resize(arg.size as usize, 0);
            queue.write_buffer(&arg.buffer, 0, &bytes);
        }

        // What to read back, in the order the observer sees it: (tensor, staging offset).
        let mut total = 0u64;
        let mut take = |list: &mut Vec<(usize, u64)>, t: usize| {
            if let Some(a) = self.placed(t) {
                list.push((t, total));
                total += a.size;
            }
        };
        let wants = |t: usize| observer.as_deref().is_some_and(|o| o.wants(t));
        let observing = observer.is_some();
        let mut input_copies = Vec::new();
        let mut per_step: Vec<Vec<(usize, u64)>> = Vec::new();
        if observing {
            for spec in &self.inputs {
                if wants(spec.tensor) {
                    take(&mut input_copies, spec.tensor);
                }
            }
            for step in &self.steps {
                let mut list = Vec::new();
                for &t in step.outputs.iter().filter(|&&t| wants(t)) {
                    take(&mut list, t);
                }
                per_step.push(list);
            }
        }
        let mut output_copies = Vec::new();
        for spec in &self.outputs {
            take(&mut output_copies, spec.tensor);
        }
        // Kernels' run-time failure flags, after everything else.
        let status_at = total;
        total += 4 * self.statuses.len() as u64;
        let staging = self.staging(total);

        let device = self.gpu.device().clone();
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("litequant inference"),
        });
        let copy = |encoder: &mut wgpu::CommandEncoder, list: &[(usize, u64)], s: &GpuSession| {
            for &(t, at) in list {
                if let Some(a) = s.placed(t) {
                    encoder.copy_buffer_to_buffer(&a.buffer, 0, &staging, at, a.size);
                }
            }
        };
        for st in &self.statuses {
            encoder.clear_buffer(&st.arg.buffer, 0, None);
        }
        copy(&mut encoder, &input_copies, self);
        if observing {
            for (step, list) in self.steps.iter().zip(&per_step) {
                record(&mut encoder, &step.commands);
                copy(&mut encoder, list, self);
            }
        } else {
            record(&mut encoder, self.steps.iter().flat_map(|s| &s.commands));
        }
        copy(&mut encoder, &output_copies, self);
        for (k, st) in self.statuses.iter().enumerate() {
            encoder.copy_buffer_to_buffer(&st.arg.buffer, 0, &staging, status_at + 4 * k as u64, 4);
        }
        let index = queue.submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "the inference was rejected by {}: {e}",
                self.gpu.describe()
            )));
        }
        let bytes = map_read(&device, &staging, total, index)?;
        // The first op whose kernel flagged a failure: the reference stops there.
        let failed = self
            .statuses
            .iter()
            .enumerate()
            .filter(|(k, _)| {
                let at = (status_at + 4 * *k as u64) as usize;
                bytes[at..at + 4] != [0, 0, 0, 0]
            })
            .map(|(_, st)| st)
            .min_by_key(|st| st.index);

        if let Some(o) = observer {
            for &(t, at) in &input_copies {
                let v = self.decode(t, &bytes[at as usize..])?;
                o.observe(t, &self.names[t], &v)?;
            }
            let stop = failed.map_or(per_step.len(), |st| st.index);
            for (step, list) in self.steps.iter().zip(&per_step[..stop.min(per_step.len())]) {
                for &(t, at) in list {
                    let v = self.decode(t, &bytes[at as usize..])?;
                    o.observe(t, &self.names[t], &v)?;
                }
                // Outputs fixed at prepare (DENSIFY's) live on the device as constants.
                for &t in &step.outputs {
                    if self.placed(t).is_none() && o.wants(t) {
                        if let Some(v) = &self.consts[t] {
                            o.observe(t, &self.names[t], v)?;
                        }
                    }
                }
            }
        }
        if let Some(st) = failed {
            return Err(Error::Unsupported(format!("{}: {}", st.op, st.why)));
        }
        let mut out_at = output_copies.iter();
        self.outputs
            .iter()
            .map(|spec| match self.placed(spec.tensor) {
                Some(_) => {
                    let &(t, at) = out_at
                        .next()
                        .ok_or_else(|| Error::Gpu("output readback list is short".to_string()))?;
                    self.decode(t, &bytes[at as usize..])
                }
                None => self.consts[spec.tensor].clone().ok_or_else(|| {
                    Error::InvalidModel(format!("output tensor {} was not computed", spec.tensor))
                }),
            })
            .collect()
    }

    fn stats_accumulator(
        &mut self,
        request: &StatsRequest,
    ) -> Result<Option<Box<dyn StatsAccumulator>>> {
        let tensors = gstats::resolve(request, &self.computed())?;
        let acc = GpuStats::new(self.gpu.clone(), &tensors, &request.histograms, None)?;
        Ok(Some(Box::new(acc)))
    }

    fn run_statistics(&mut self, inputs: &[Tensor], acc: &mut dyn StatsAccumulator) -> Result<()> {
        let acc = acc.as_any_mut().downcast_mut::<GpuStats>().ok_or_else(|| {
            Error::Gpu("run_statistics: the accumulator is not a GPU engine's".into())
        })?;
        if acc.gpu().device() != self.gpu.device() {
            return Err(Error::Gpu(
                "run_statistics: the accumulator lives on another device".into(),
            ));
        }
        reference::check_inputs(&self.inputs, inputs)?;
        self.stats_commands(acc)?;
        let queue = self.gpu.queue().clone();
        for (spec, t) in self.inputs.iter().zip(inputs) {
            let Some(arg) = self.placed(spec.tensor) else {
                continue;
            };
            let mut bytes = t.buf().to_le_bytes();
            bytes.resize(arg.size as usize, 0);
            queue.write_buffer(&arg.buffer, 0, &bytes);
        }
        let Some(cmds) = &self.stats else {
            return Err(Error::Gpu("statistics commands were not recorded".into()));
        };
        let begin = acc.begin_sample();
        let all = std::iter::once(&begin)
            .chain(&cmds.inputs)
            .chain(
                self.steps
                    .iter()
                    .zip(&cmds.steps)
                    .flat_map(|(step, st)| step.commands.iter().chain(st)),
            )
            .chain(std::iter::once(acc.end_sample()));
        acc.submit(all)
    }
}
