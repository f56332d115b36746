//! Shared by the elementwise GPU tests: single-op models built in memory, random data, and a
//! harness that runs a model on the reference and GPU engines and compares the outputs.
#![allow(dead_code)]

pub use crate::common::Rng;

mod activations;
mod binary;
mod fixtures;
mod math;
mod mbqm64;
mod quantize;

use litequant::gpu::{self, shaders, GpuContext, GpuEngine};
use litequant::model::{self, DType, Model, Op, Operator, QuantParams, Subgraph};
use litequant::{Buf, Engine, ReferenceEngine, Session, Tensor};

/// Float tolerance of GPU results (as the conformance test).
pub const ATOL: f32 = 1e-4;
pub const RTOL: f32 = 1e-4;

impl Rng {
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in `[-1, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// The value range of an integer dtype.
pub fn range(dtype: DType) -> (i32, i32) {
    match dtype {
        DType::I8 => (-128, 127),
        DType::U8 => (0, 255),
        DType::I16 => (-32768, 32767),
        _ => (i32::MIN, i32::MAX),
    }
}

/// A shape of rank 0..=max_rank with at most `max_len` elements (often not a multiple of 4).
pub fn random_shape(rng: &mut Rng, max_rank: usize, max_len: usize) -> Vec<usize> {
    loop {
        let rank = rng.below(max_rank + 1);
        let shape: Vec<usize> = (0..rank).map(|_| 1 + rng.below(9)).collect();
        if shape.iter().product::<usize>() <= max_len {
            return shape;
        }
    }
}

/// `n` random values of an integer dtype, the range's edges among them.
pub fn random_ints(rng: &mut Rng, dtype: DType, n: usize) -> Buf {
    let (lo, hi) = range(dtype);
    let v: Vec<i64> = (0..n)
        .map(|i| match i % 5 {
            0 => lo as i64,
            1 => hi as i64,
            _ => lo as i64 + (rng.next() % ((hi as i64 - lo as i64 + 1) as u64)) as i64,
        })
        .collect();
    match dtype {
        DType::I8 => Buf::I8(v.iter().map(|&x| x as i8).collect()),
        DType::U8 => Buf::U8(v.iter().map(|&x| x as u8).collect()),
        DType::I16 => Buf::I16(v.iter().map(|&x| x as i16).collect()),
        _ => Buf::I32(v.iter().map(|&x| x as i32).collect()),
    }
}

/// A tensor of a model (an activation, or a constant with `data`).
pub fn tensor(
    name: &str,
    dtype: DType,
    shape: &[usize],
    quant: Option<QuantParams>,
) -> model::Tensor {
    let mut t = model::Tensor::new(name, dtype, shape.iter().map(|&d| d as i32).collect());
    t.quant = quant;
    t
}

/// A model of one operator: `tensors[..n_inputs]` are its inputs (model inputs unless they
/// hold data), the rest its outputs (model outputs).
pub fn one_op(op: Op, tensors: Vec<model::Tensor>, n_inputs: usize) -> Model {
    let n = tensors.len();
    let sg = Subgraph {
        name: None,
        inputs: (0..n_inputs)
            .filter(|&i| tensors[i].data.is_none())
            .collect(),
        outputs: (n_inputs..n).collect(),
        operators: vec![Operator {
            op,
            version: 1,
            inputs: (0..n_inputs as i32).collect(),
            outputs: (n_inputs as i32..n as i32).collect(),
            intermediates: Vec::new(),
            mutating_variable_inputs: Vec::new(),
            debug_metadata_index: -1,
            options_omitted: false,
        }],
        tensors,
        debug_metadata_index: -1,
    };
    Model {
        version: 3,
        description: None,
        subgraphs: vec![sg],
        metadata: Vec::new(),
        signature_defs: Vec::new(),
        legacy_metadata_buffers: Vec::new(),
        external_buffer_groups: Vec::new(),
        external_buffers: Vec::new(),
        unused_operator_codes: Vec::new(),
    }
}

/// Little-endian bytes of a buffer (constant tensor data).
pub fn le_bytes(b: &Buf) -> Vec<u8> {
    b.to_le_bytes()
}

/// `None` when equal (integers bit for bit; floats within tolerance, NaN matching NaN).
pub fn compare(got: &Tensor, want: &Tensor) -> Option<String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Some(format!(
            "got {} {:?}, want {} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    fn first_bad<T: PartialEq + std::fmt::Debug>(
        a: &[T],
        b: &[T],
        same: impl Fn(&T, &T) -> bool,
    ) -> Option<String> {
        let bad: Vec<usize> = (0..a.len()).filter(|&i| !same(&a[i], &b[i])).collect();
        bad.first().map(|&i| {
            format!(
                "{} of {} elements differ (first at {i}: gpu {:?}, reference {:?})",
                bad.len(),
                a.len(),
                a[i],
                b[i]
            )
        })
    }
    match (got.buf(), want.buf()) {
        (Buf::F32(a), Buf::F32(b)) => first_bad(a, b, |x: &f32, y: &f32| {
            (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= ATOL + RTOL * y.abs()
        }),
        (Buf::I8(a), Buf::I8(b)) => first_bad(a, b, |x, y| x == y),
        (Buf::U8(a), Buf::U8(b)) => first_bad(a, b, |x, y| x == y),
        (Buf::I16(a), Buf::I16(b)) => first_bad(a, b, |x, y| x == y),
        (Buf::I32(a), Buf::I32(b)) => first_bad(a, b, |x, y| x == y),
        _ => Some("unexpected dtypes".into()),
    }
}

/// The GPU engine of a test (or `None`: skipped).
pub struct Harness {
    pub engine: GpuEngine,
}

impl Harness {
    pub fn new(who: &str) -> litequant::Result<Option<Harness>> {
        Ok(gpu::context_or_skip(who)?.map(|ctx| Harness {
            engine: GpuEngine::new(ctx),
        }))
    }

    /// The model's outputs on the GPU.
    pub fn gpu(&self, m: &Model, inputs: &[Tensor]) -> litequant::Result<Vec<Tensor>> {
        self.engine.prepare(m)?.run(inputs)
    }

    /// Run on both engines; panic with `what` and the difference when they disagree.
    pub fn check(&self, m: &Model, inputs: &[Tensor], what: &str) -> litequant::Result<()> {
        let want = ReferenceEngine.prepare(m)?.run(inputs)?;
        let got = match self.gpu(m, inputs) {
            Ok(g) => g,
            Err(e) => panic!("{what}: GPU engine failed: {e}"),
        };
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if let Some(d) = compare(g, w) {
                panic!("{what}: output {i}: {d}");
            }
        }
        Ok(())
    }
}

/// Run the entry point `main` of a test shader (WGSL with `#import`s of the crate's common
/// files) over `inputs` bound at bindings 0.. and an output of `out_words` words bound after
/// them; one invocation per index `gid.x + gid.y * nwg.x * 64` (workgroups of 64).
pub fn run_wgsl(ctx: &GpuContext, src: &str, inputs: &[&[u32]], out_words: usize) -> Vec<u32> {
    use wgpu::util::DeviceExt as _;
    let src = shaders::expand("test", src, shaders::COMMON).expect("expands");
    let device = ctx.device();
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("test shader"),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("test shader"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let mut buffers: Vec<wgpu::Buffer> = inputs
        .iter()
        .map(|data| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("test input"),
                contents: bytemuck::cast_slice(data),
                usage: wgpu::BufferUsages::STORAGE,
            })
        })
        .collect();
    // A sentinel, so that an element the shader skips shows up.
    let sentinel = vec![0xdead_beef_u32; out_words];
    buffers.push(
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("test output"),
            contents: bytemuck::cast_slice(&sentinel),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        }),
    );
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    });
    let n = inputs.first().map_or(out_words, |i| i.len());
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        let groups = (n as u32).div_ceil(64).max(1);
        let x = groups.min(4096);
        pass.dispatch_workgroups(x, groups.div_ceil(x), 1);
    }
    ctx.queue().submit([enc.finish()]);
    let out = buffers.last().expect("output buffer");
    let bytes = ctx
        .read_buffer(out, 4 * out_words as u64)
        .expect("readback");
    bytemuck::cast_slice(&bytes).to_vec()
}
