//! Property tests of the GPU kernels of pooling, MEAN, SOFTMAX, resize and the shape ops
//! against the reference engine: one-op models built in memory with random shapes (not
//! multiples of 4, so packed words straddle rows), odd windows and strides, both paddings,
//! edge zero points and every dtype path of the reference; each run on `ReferenceEngine` and
//! `GpuEngine` with the same random inputs. Integer outputs must be equal bit for bit, float32
//! within 1e-4 abs + 1e-4 rel. Also: every op of these families in the int8 fixture models,
//! cut out as a one-op model and run on random inputs (the fixtures' real quantization
//! parameters), and the gemmlowp WGSL functions against their Rust twins.
//!
//! Without an adapter the tests print why and pass, unless `LITEQUANT_REQUIRE_GPU=1`.

mod common;
pub use common::Rng;
#[path = "gpu_ops/cast.rs"]
mod cast;
#[path = "gpu_ops/families.rs"]
mod families;
#[path = "gpu_ops/gemmlowp.rs"]
mod gemmlowp;
#[path = "gpu_ops/litert.rs"]
mod litert;
#[path = "gpu_ops/reductions.rs"]
mod reductions;
#[path = "gpu_ops/shape.rs"]
mod shape;
#[path = "gpu_ops/split_gather.rs"]
mod split_gather;

use litequant::gpu::{self, GpuEngine};
use litequant::model::{self, DType, Model, Op, Operator, QuantParams, Subgraph};
use litequant::{Buf, Engine, ReferenceEngine, Session, Tensor};

impl Rng {
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }

    pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
}

/// A tensor for [`one_op`]: dtype, shape, optional (scale, zero point), optional constant.
pub fn tensor(
    dtype: DType,
    shape: &[usize],
    quant: Option<(f32, i64)>,
    data: Option<Vec<u8>>,
) -> model::Tensor {
    let mut t = model::Tensor::new("t", dtype, shape.iter().map(|&d| d as i32).collect());
    t.quant = quant.map(|(s, z)| QuantParams::per_tensor(s, z));
    t.data = data.map(|d| d.into());
    t
}

/// Little-endian bytes of int32 values (constant index tensors).
pub fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A model of one operator reading `tensors[..n_inputs]` (those without data are the model's
/// inputs) and writing the rest.
pub fn one_op(op: Op, tensors: Vec<model::Tensor>, n_inputs: usize) -> Model {
    let n = tensors.len();
    let inputs: Vec<usize> = (0..n_inputs)
        .filter(|&i| tensors[i].data.is_none())
        .collect();
    Model {
        version: model::SCHEMA_VERSION,
        description: None,
        subgraphs: vec![Subgraph {
            name: None,
            tensors,
            inputs,
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
            debug_metadata_index: -1,
        }],
        metadata: Vec::new(),
        signature_defs: Vec::new(),
        legacy_metadata_buffers: Vec::new(),
        external_buffer_groups: Vec::new(),
        external_buffers: Vec::new(),
        unused_operator_codes: Vec::new(),
    }
}

/// Random values of `dtype`: the whole range of integer types, floats in [-4, 4].
pub fn random_tensor(rng: &mut Rng, dtype: DType, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let buf = match dtype {
        DType::F32 => Buf::F32((0..n).map(|_| rng.f32(-4.0, 4.0)).collect()),
        DType::F16 => Buf::F16((0..n).map(|_| rng.next() as u16 & 0x7bff).collect()),
        DType::I8 => Buf::I8((0..n).map(|_| rng.next() as i8).collect()),
        DType::U8 => Buf::U8((0..n).map(|_| rng.next() as u8).collect()),
        DType::I16 => Buf::I16((0..n).map(|_| rng.next() as i16).collect()),
        DType::I32 => Buf::I32((0..n).map(|_| rng.next() as i32).collect()),
        DType::I64 => Buf::I64((0..n).map(|_| rng.next() as i64).collect()),
        DType::Bool => Buf::Bool((0..n).map(|_| rng.next() & 1 == 1).collect()),
        other => panic!("no random {other}"),
    };
    Tensor::new(shape, buf).expect("random tensor")
}

/// `None` if `got` equals `want` (integers and every non-f32 type bit for bit, f32 within
/// 1e-4 abs + 1e-4 rel, NaN where NaN); otherwise what differs.
pub fn differs(got: &Tensor, want: &Tensor) -> Option<String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Some(format!(
            "got {} {:?}, want {} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    if let (Some(g), Some(w)) = (got.as_f32(), want.as_f32()) {
        let bad: Vec<usize> = (0..g.len())
            .filter(|&i| {
                let (a, b) = (g[i], w[i]);
                !((a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-4 + 1e-4 * b.abs())
            })
            .collect();
        return (!bad.is_empty()).then(|| {
            format!(
                "{} of {} differ (first at {}: got {}, want {})",
                bad.len(),
                g.len(),
                bad[0],
                g[bad[0]],
                w[bad[0]]
            )
        });
    }
    let (g, w) = (got.buf().to_le_bytes(), want.buf().to_le_bytes());
    let size = g.len() / got.len().max(1);
    let bad: Vec<usize> = (0..got.len())
        .filter(|&i| g[i * size..(i + 1) * size] != w[i * size..(i + 1) * size])
        .collect();
    (!bad.is_empty()).then(|| {
        let i = bad[0];
        format!(
            "{} of {} elements differ (first at {i}: got {:?}, want {:?})",
            bad.len(),
            got.len(),
            &g[i * size..(i + 1) * size],
            &w[i * size..(i + 1) * size]
        )
    })
}

/// What one case came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Ran {
    /// Both engines ran and agree.
    Agree,
    /// The reference refuses the model at prepare (the GPU must refuse it too).
    Refused,
}

/// Run `model` on both engines with random inputs; panic with `what` on any difference.
pub fn check(engine: &GpuEngine, rng: &mut Rng, model: &Model, what: &str) -> Ran {
    let reference = match ReferenceEngine.prepare(model) {
        Ok(s) => s,
        Err(e) => {
            assert!(
                engine.prepare(model).is_err(),
                "{what}: the reference refuses ({e}) but the GPU prepares"
            );
            return Ran::Refused;
        }
    };
    let mut reference = reference;
    let mut gpu = engine
        .prepare(model)
        .unwrap_or_else(|e| panic!("{what}: the GPU refuses: {e}"));
    let inputs: Vec<Tensor> = reference
        .inputs()
        .iter()
        .map(|s| random_tensor(rng, s.dtype, &s.shape))
        .collect();
    let want = match reference.run(&inputs) {
        Ok(w) => w,
        // A run-time refusal of the reference (e.g. softmax rows it aborts on): not compared.
        Err(_) => return Ran::Refused,
    };
    let got = gpu
        .run(&inputs)
        .unwrap_or_else(|e| panic!("{what}: the GPU run fails: {e}"));
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        if let Some(d) = differs(g, w) {
            panic!("{what}: output {k}: {d}");
        }
    }
    Ran::Agree
}

/// The GPU engine, or `None` (skip) without an adapter.
pub fn engine(who: &str) -> Option<GpuEngine> {
    gpu::context_or_skip(who)
        .expect("LITEQUANT_REQUIRE_GPU=1 but no GPU")
        .map(GpuEngine::new)
}

/// A random activation quantization of `dtype`: edge zero points included.
pub fn random_quant(rng: &mut Rng, dtype: DType) -> Option<(f32, i64)> {
    let scale = rng.pick(&[0.0039f32, 0.0173, 0.05, 0.31, 1.7]);
    match dtype {
        DType::I8 => Some((scale, rng.pick(&[-128, -127, -1, 0, 3, 126, 127]))),
        DType::U8 => Some((scale, rng.pick(&[0, 1, 128, 254, 255]))),
        DType::I16 => Some((scale, 0)),
        _ => None,
    }
}
