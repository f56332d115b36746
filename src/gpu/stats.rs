//! Calibration statistics on the device: the host side of `shaders/stats.wgsl`, twin of
//! [`crate::quant::stats`] (the host fold).
//!
//! A [`GpuStats`] holds, on the device, one accumulator per observed tensor (running min and
//! max, 64-bit NaN/Inf/finite counts, the sign of the first zero, histogram counts) and a
//! per-sample scratch of the same shape. A session records, after each step that writes an
//! observed tensor, a reduction of that tensor into the scratch, and at the end of the
//! sample a merge of the scratch into the accumulator — all in the inference's one
//! submission. Device memory depends on the number of tensors and bins, not on the number
//! of samples; [`StatsAccumulator::read`] reads back only the accumulator.

use std::collections::BTreeMap;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::kernels::{grid_within, Arg, Command};
use super::{GpuContext, PipelineKey};
use crate::quant::stats::{
    Histogram, HistogramSpec, StatsAccumulator, StatsRequest, StatsSummary, TensorStats,
};
use crate::{Error, Result};

/// The shader's default workgroup size and values per invocation.
const WG: u32 = 64;
const ITEMS: u32 = 8;

/// Header words per tensor (see `shaders/stats.wgsl`).
const HEAD: u64 = 4;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct HistSlot {
    spec: HistogramSpec,
    /// First counter (below, bins, above).
    counts: u32,
    /// `[key(lo), key(hi), key(interior edges)..]`.
    edges: Arg,
}

/// Per-tensor statistics accumulated on a GPU across samples
/// (a [`StatsAccumulator`] for [`super::GpuSession`]).
pub struct GpuStats {
    gpu: Arc<GpuContext>,
    id: u64,
    /// Observed tensors; position = header slot.
    tensors: Vec<usize>,
    slot: BTreeMap<usize, u32>,
    hist: BTreeMap<usize, HistSlot>,
    counters: u32,
    part: Arg,
    acc: Arg,
    merge: Command,
    wg: u32,
    items: u32,
}

impl std::fmt::Debug for GpuStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuStats")
            .field("tensors", &self.tensors)
            .field("histograms", &self.hist.keys().collect::<Vec<_>>())
            .field("counters", &self.counters)
            .finish()
    }
}

/// The order key of `shaders/stats.wgsl` (finite values; -0.0 taken as +0.0).
pub(crate) fn order_key(x: f32) -> u32 {
    let b = if x == 0.0 { 0 } else { x.to_bits() };
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

fn from_key(key: u32) -> f32 {
    if key & 0x8000_0000 != 0 {
        f32::from_bits(key & 0x7fff_ffff)
    } else {
        f32::from_bits(!key)
    }
}

fn words(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

fn uniform(gpu: &GpuContext, label: &str, words: [u32; 4]) -> Arg {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let buffer = wgpu::util::DeviceExt::create_buffer_init(
        gpu.device(),
        &wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: &bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        },
    );
    Arg { buffer, size: 16 }
}

/// A dispatch of `stats::<entry>` with `args` bound at the given bindings.
fn dispatch(
    gpu: &GpuContext,
    (wg, items): (u32, u32),
    entry: &'static str,
    args: &[(u32, &Arg)],
    groups: u64,
) -> Result<Command> {
    let key = PipelineKey::new("stats", entry)
        .constant("WG", f64::from(wg))
        .constant("ITEMS", f64::from(items));
    let pipeline = gpu.pipeline(&key)?;
    let device = gpu.device();
    let max = u64::from(device.limits().max_compute_workgroups_per_dimension);
    let workgroups = grid_within(groups, max).ok_or_else(|| {
        Error::Gpu(format!(
            "statistics kernel {entry}: {groups} workgroups exceed the dispatch limit"
        ))
    })?;
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let layout = pipeline.get_bind_group_layout(0);
    let entries: Vec<wgpu::BindGroupEntry> = args
        .iter()
        .map(|(binding, a)| wgpu::BindGroupEntry {
            binding: *binding,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &a.buffer,
                offset: 0,
                size: NonZeroU64::new(a.size),
            }),
        })
        .collect();
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(entry),
        layout: &layout,
        entries: &entries,
    });
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(Error::Gpu(format!("cannot bind stats::{entry}: {e}")));
    }
    Ok(Command::Dispatch {
        pipeline,
        bind_group,
        workgroups,
    })
}

impl GpuStats {
    /// An accumulator on `gpu` for the float32 tensors `tensors` (histograms from
    /// `request.histograms`; their tensors are added to the list). `wg`/`items`: the
    /// shader's workgroup size and values per invocation (`None`: the defaults; tests use
    /// small odd ones).
    pub fn new(
        gpu: Arc<GpuContext>,
        tensors: &[usize],
        histograms: &BTreeMap<usize, HistogramSpec>,
        tiles: Option<(u32, u32)>,
    ) -> Result<Self> {
        let (wg, items) = tiles.unwrap_or((WG, ITEMS));
        let max_wg = gpu.device().limits().max_compute_invocations_per_workgroup;
        if wg == 0 || items == 0 || wg > max_wg || wg > 1024 {
            return Err(Error::Gpu(format!(
                "statistics kernel: workgroup {wg} x {items} values is not possible on {}",
                gpu.describe()
            )));
        }
        let mut list: Vec<usize> = tensors.iter().chain(histograms.keys()).copied().collect();
        list.sort_unstable();
        list.dedup();
        let slot: BTreeMap<usize, u32> = list
            .iter()
            .enumerate()
            .map(|(j, &t)| (t, j as u32))
            .collect();
        let t = list.len() as u64;
        let mut counters = 3 * t;
        let device = gpu.device().clone();
        let mut hist = BTreeMap::new();
        for (&tensor, &spec) in histograms {
            let edges = spec.edges();
            let mut keys = vec![order_key(spec.lo()), order_key(spec.hi())];
            keys.extend(edges[1..edges.len() - 1].iter().map(|&e| order_key(e)));
            let bytes: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
            let buffer = wgpu::util::DeviceExt::create_buffer_init(
                &device,
                &wgpu::util::BufferInitDescriptor {
                    label: Some("litequant stats edges"),
                    contents: &bytes,
                    usage: wgpu::BufferUsages::STORAGE,
                },
            );
            hist.insert(
                tensor,
                HistSlot {
                    spec,
                    counts: counters as u32,
                    edges: Arg {
                        buffer,
                        size: bytes.len() as u64,
                    },
                },
            );
            counters += spec.bins() as u64 + 2;
        }
        let part_bytes = (HEAD * t + counters).max(1) * 4;
        let acc_bytes = (HEAD * t + 2 * counters).max(1) * 4;
        let limits = device.limits();
        let max = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if acc_bytes > max || counters > u64::from(u32::MAX / 4) {
            return Err(Error::Gpu(format!(
                "statistics of {t} tensors with {counters} counters take {acc_bytes} bytes, \
                 more than the device's storage binding limit of {max} bytes ({})",
                gpu.describe()
            )));
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = |label: &str, size: u64, extra: wgpu::BufferUsages| Arg {
            buffer: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | extra,
                mapped_at_creation: false,
            }),
            size,
        };
        // wgpu zero-initialises buffers: the accumulator starts empty.
        // Read back after a sample for per-sample statistics (moving averages).
        let part = buffer(
            "litequant stats sample",
            part_bytes,
            wgpu::BufferUsages::COPY_SRC,
        );
        let acc = buffer("litequant stats", acc_bytes, wgpu::BufferUsages::COPY_SRC);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "out of device memory for the statistics ({acc_bytes} bytes) on {}: {e}",
                gpu.describe()
            )));
        }
        let u = uniform(
            &gpu,
            "litequant stats merge",
            [t as u32, counters as u32, 0, 0],
        );
        let groups = t.max(counters).div_ceil(u64::from(wg));
        let merge = dispatch(
            &gpu,
            (wg, items),
            "merge",
            &[(5, &part), (6, &acc), (7, &u)],
            groups,
        )?;
        Ok(GpuStats {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            tensors: list,
            slot,
            hist,
            counters: counters as u32,
            part,
            acc,
            merge,
            wg,
            items,
            gpu,
        })
    }

    /// A unique id (sessions cache their recorded statistics commands by it).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The device the statistics live on.
    pub(crate) fn gpu(&self) -> &Arc<GpuContext> {
        &self.gpu
    }

    /// The observed tensors, sorted.
    pub fn tensors(&self) -> &[usize] {
        &self.tensors
    }

    /// Whether `tensor` is observed.
    pub(crate) fn observes(&self, tensor: usize) -> bool {
        self.slot.contains_key(&tensor)
    }

    /// The commands that fold `tensor` (held in `x`, `n` float32 values) into the sample's
    /// scratch: nothing when the tensor is not observed.
    pub(crate) fn commands_for(&self, tensor: usize, x: &Arg, n: usize) -> Result<Vec<Command>> {
        let Some(&j) = self.slot.get(&tensor) else {
            return Ok(Vec::new());
        };
        // The first zero's index is kept as index * 2 + sign in a u32.
        if n >= 1 << 31 || (n as u64) * 4 > x.size {
            return Err(Error::Gpu(format!(
                "statistics of tensor {tensor}: {n} values in a buffer of {} bytes",
                x.size
            )));
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let n32 = n as u32;
        let t = self.tensors.len() as u32;
        let groups = (n as u64).div_ceil(u64::from(self.wg) * u64::from(self.items));
        let head = j * HEAD as u32;
        let counts = HEAD as u32 * t + 3 * j;
        let tiles = (self.wg, self.items);
        let u = uniform(&self.gpu, "litequant stats reduce", [n32, head, counts, 0]);
        let mut cmds = vec![dispatch(
            &self.gpu,
            tiles,
            "reduce",
            &[(0, x), (1, &self.part), (2, &u)],
            groups,
        )?];
        if let Some(h) = self.hist.get(&tensor) {
            let inner = h.spec.bins() as u32 - 1;
            let u = uniform(
                &self.gpu,
                "litequant stats histogram",
                [n32, HEAD as u32 * t + h.counts, inner, 0],
            );
            cmds.push(dispatch(
                &self.gpu,
                tiles,
                "histogram",
                &[(0, x), (1, &self.part), (3, &u), (4, &h.edges)],
                groups,
            )?);
        }
        Ok(cmds)
    }

    /// Clear the sample's scratch (first, in every sample's submission).
    pub(crate) fn begin_sample(&self) -> Command {
        Command::Clear {
            buffer: self.part.buffer.clone(),
        }
    }

    /// Merge the sample's scratch into the accumulator (last, in every sample's submission).
    pub(crate) fn end_sample(&self) -> &Command {
        &self.merge
    }

    /// Fold `values` of `tensor` in as one sample (uploaded, reduced and merged on the
    /// device): the kernels on values of the caller's choosing, for tests.
    pub fn add_values(&mut self, tensor: usize, values: &[f32]) -> Result<()> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut padded = bytes;
        padded.resize(padded.len().max(4), 0);
        let device = self.gpu.device().clone();
        let x = Arg {
            size: padded.len() as u64,
            buffer: wgpu::util::DeviceExt::create_buffer_init(
                &device,
                &wgpu::util::BufferInitDescriptor {
                    label: Some("litequant stats values"),
                    contents: &padded,
                    usage: wgpu::BufferUsages::STORAGE,
                },
            ),
        };
        let mut cmds = vec![self.begin_sample()];
        cmds.extend(self.commands_for(tensor, &x, values.len())?);
        self.submit(cmds.iter().chain(std::iter::once(self.end_sample())))
    }

    /// Record `commands` into one submission and wait for it.
    pub(crate) fn submit<'c>(&self, commands: impl IntoIterator<Item = &'c Command>) -> Result<()> {
        let device = self.gpu.device();
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("litequant stats"),
        });
        super::submit::record(&mut encoder, commands);
        let index = self.gpu.queue().submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "the statistics were rejected by {}: {e}",
                self.gpu.describe()
            )));
        }
        wait(device, index)
    }
}

/// Wait for submission `index`; a lost device is an error, not a hang.
pub(crate) fn wait(device: &wgpu::Device, index: wgpu::SubmissionIndex) -> Result<()> {
    device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(index),
            timeout: None,
        })
        .map(drop)
        .map_err(|e| Error::Gpu(format!("waiting for the device (lost?): {e}")))
}

impl StatsAccumulator for GpuStats {
    fn read(&mut self) -> Result<StatsSummary> {
        let bytes = self.gpu.read_buffer(&self.acc.buffer, self.acc.size)?;
        let w: Vec<u32> = words(&bytes).collect();
        let t = self.tensors.len();
        let count = |c: usize| -> u64 {
            let a = HEAD as usize * t + 2 * c;
            u64::from(w[a]) | (u64::from(w[a + 1]) << 32)
        };
        let mut summary = StatsSummary::default();
        for (j, &tensor) in self.tensors.iter().enumerate() {
            let h = j * HEAD as usize;
            let negative_zero = w[h + 3] == 2;
            let value = |key: u32, none: f32| {
                if key == 0 {
                    return none;
                }
                let v = from_key(key);
                // The host fold keeps the first of equal values: a zero extreme has the
                // sign of the first zero seen.
                if v == 0.0 && negative_zero {
                    -0.0
                } else {
                    v
                }
            };
            let c = 3 * j;
            summary.tensors.insert(
                tensor,
                TensorStats {
                    min: value(if w[h] == 0 { 0 } else { !w[h] }, f32::INFINITY),
                    max: value(w[h + 1], f32::NEG_INFINITY),
                    nan: count(c),
                    inf: count(c + 1),
                    count: count(c + 2),
                },
            );
        }
        for (&tensor, slot) in &self.hist {
            let base = slot.counts as usize;
            let bins = slot.spec.bins();
            let mut hist = Histogram::new(slot.spec);
            hist.below = count(base);
            for (k, c) in hist.counts.iter_mut().enumerate() {
                *c = count(base + 1 + k);
            }
            hist.above = count(base + 1 + bins);
            summary.histograms.insert(tensor, hist);
        }
        Ok(summary)
    }

    /// The scratch of the last sample (cleared at the start of each sample and left as the
    /// sample made it): min/max keys, the first zero's sign, the 32-bit counts.
    fn read_sample(&mut self) -> Result<BTreeMap<usize, TensorStats>> {
        let bytes = self.gpu.read_buffer(&self.part.buffer, self.part.size)?;
        let w: Vec<u32> = words(&bytes).collect();
        let t = self.tensors.len();
        let mut out = BTreeMap::new();
        for (j, &tensor) in self.tensors.iter().enumerate() {
            let h = j * HEAD as usize;
            // The first zero's word holds ~(index * 2 + sign); 0 = none.
            let negative_zero = w[h + 2] != 0 && (!w[h + 2]) & 1 == 1;
            let value = |key: u32, none: f32| {
                if key == 0 {
                    return none;
                }
                let v = from_key(key);
                if v == 0.0 && negative_zero {
                    -0.0
                } else {
                    v
                }
            };
            let c = HEAD as usize * t + 3 * j;
            out.insert(
                tensor,
                TensorStats {
                    min: value(if w[h] == 0 { 0 } else { !w[h] }, f32::INFINITY),
                    max: value(w[h + 1], f32::NEG_INFINITY),
                    nan: u64::from(w[c]),
                    inf: u64::from(w[c + 1]),
                    count: u64::from(w[c + 2]),
                },
            );
        }
        Ok(out)
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// The tensors `request` asks for among `computed` (the float32 tensors a run computes,
/// `(tensor, is_float32)`), or an error naming one it cannot have.
pub(crate) fn resolve(request: &StatsRequest, computed: &[(usize, bool)]) -> Result<Vec<usize>> {
    let float: Vec<usize> = computed.iter().filter(|c| c.1).map(|c| c.0).collect();
    let wanted: Vec<usize> = match &request.tensors {
        None => float.clone(),
        Some(list) => list.clone(),
    };
    for &t in wanted.iter().chain(request.histograms.keys()) {
        if !float.contains(&t) {
            return Err(Error::Data(format!(
                "statistics of tensor {t} were asked for: only float32 tensors the model \
                 computes (inputs, operator outputs) have them"
            )));
        }
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_keys_order_as_the_floats() {
        let mut vals = vec![
            f32::MIN,
            -1.0,
            -f32::MIN_POSITIVE,
            -f32::from_bits(1),
            0.0,
            f32::from_bits(1),
            f32::MIN_POSITIVE,
            1.0,
            f32::MAX,
        ];
        let keys: Vec<u32> = vals.iter().map(|&v| order_key(v)).collect();
        assert!(keys.windows(2).all(|k| k[0] < k[1]), "{keys:x?}");
        assert!(keys[0] >= 0x0080_0000);
        assert_eq!(order_key(-0.0), order_key(0.0));
        for v in vals.drain(..) {
            assert_eq!(from_key(order_key(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn counts_carry_into_the_high_word() {
        let Some(ctx) = crate::gpu::context_or_skip("counts_carry").expect("GPU required") else {
            return;
        };
        let spec = HistogramSpec::new(0.0, 1.0, 2).unwrap();
        let hist = BTreeMap::from([(3usize, spec)]);
        let mut acc = GpuStats::new(Arc::new(ctx), &[3], &hist, Some((3, 2))).unwrap();
        // Every 64-bit count starts 5 below 2^32 (as after ~4 G values).
        let t = acc.tensors.len();
        let near = (1u64 << 32) - 5;
        let mut init = vec![0u32; HEAD as usize * t];
        for _ in 0..acc.counters {
            init.extend([near as u32, (near >> 32) as u32]);
        }
        let bytes: Vec<u8> = init.iter().flat_map(|w| w.to_le_bytes()).collect();
        acc.gpu.queue().write_buffer(&acc.acc.buffer, 0, &bytes);
        let mut values = vec![f32::NAN; 7];
        values.extend([f32::INFINITY; 7]);
        values.extend([0.25f32; 7]);
        values.extend([0.75f32; 7]);
        values.extend([-1.0f32; 7]);
        values.extend([2.0f32; 7]);
        acc.add_values(3, &values).unwrap();
        let got = acc.read().unwrap();
        let s = got.tensors[&3];
        let want = near + 7;
        assert_eq!((s.nan, s.inf, s.count), (want, want, near + 28));
        let h = &got.histograms[&3];
        assert_eq!(
            (h.below, h.counts.clone(), h.above),
            (want, vec![want, want], want)
        );
        assert_eq!((s.min, s.max), (-1.0, 2.0));
    }
}
