//! Test support shared by the op families' tests:
//! - the committed fixtures (a model and the tensors LiteRT recorded running it under
//!   `BUILTIN_REF`) and every operator of a fixture run alone on those tensors, its outputs
//!   compared with LiteRT's (so a kernel is checked even in models whose other ops are not
//!   written yet, and int8 models before QUANTIZE/DEQUANTIZE);
//! - one-operator subgraphs built by hand, and operators of (edited) fixture models,
//!   prepared for prepare-time checks;
//! - the seeded random source of the property tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::data::Npz;
use crate::model::{self, DType, Model, Op, Operator, QuantParams, Subgraph};
use crate::{Buf, Result, Tensor};

use super::{densify, prepare_op, Kernel, OpCtx};

pub(crate) use crate::quant::fixedpoint::test_rng::SplitMix64 as Rng;

/// `tests/fixtures`.
pub(crate) fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

// ---- fixtures -----------------------------------------------------------------------------

/// A fixture model and the file of the tensors LiteRT recorded running it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FixturePair {
    /// The manifest's name, the file stem (`conv2d_same_f32`, `cnn_int8`).
    pub name: String,
    pub model: PathBuf,
    pub golden: PathBuf,
    /// The ops the manifest lists for the model (its `op_histogram`).
    pub ops: Vec<String>,
}

impl FixturePair {
    /// A single-op fixture (`tests/fixtures/ops`), not a whole model.
    pub fn is_op_fixture(&self) -> bool {
        self.model.starts_with(fixtures_dir().join("ops"))
    }

    /// Whether the manifest lists one of `ops` in the model.
    pub fn holds_any(&self, ops: &[&str]) -> bool {
        self.ops.iter().any(|o| ops.contains(&o.as_str()))
    }
}

fn manifest(path: PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(&path).expect("fixture manifest");
    serde_json::from_str(&text).expect("manifest JSON")
}

/// Every fixture with goldens, by name: the op fixtures (`ops/manifest.json`) and the model
/// fixtures (`fixtures.json`, those with `goldens: true`).
pub(crate) fn fixture_pairs() -> Vec<FixturePair> {
    let mut v = Vec::new();
    let ops_dir = fixtures_dir().join("ops");
    let models_dir = fixtures_dir();
    let ops = manifest(ops_dir.join("manifest.json"));
    let models = manifest(fixtures_dir().join("fixtures.json"));
    let entries = ops["models"]
        .as_object()
        .expect("models")
        .iter()
        .map(|e| (e, &ops_dir))
        .chain(
            models["fixtures"]
                .as_object()
                .expect("fixtures")
                .iter()
                .filter(|(_, m)| m["goldens"] == true)
                .map(|e| (e, &models_dir)),
        );
    for ((name, m), dir) in entries {
        v.push(FixturePair {
            name: name.clone(),
            model: dir.join(m["file"].as_str().expect("file")),
            golden: dir.join(m["golden_file"].as_str().expect("golden_file")),
            ops: m["op_histogram"]
                .as_object()
                .map(|h| h.keys().cloned().collect())
                .unwrap_or_default(),
        });
    }
    v.sort();
    v
}

/// The op fixture `tests/fixtures/ops/{name}.tflite`.
pub(crate) fn op_fixture(name: &str) -> FixturePair {
    fixture_pairs()
        .into_iter()
        .find(|p| p.name == name && p.is_op_fixture())
        .unwrap_or_else(|| panic!("no op fixture {name}"))
}

/// The model of the op fixture `tests/fixtures/ops/{name}.tflite`.
pub(crate) fn op_fixture_model(name: &str) -> Model {
    Model::from_file(fixtures_dir().join("ops").join(format!("{name}.tflite")))
        .expect("fixture reads")
}

/// Sample `s` of a recorded array (the samples are stacked on a leading axis).
pub(crate) fn sample(stacked: &Tensor, s: usize) -> Tensor {
    let shape = &stacked.shape()[1..];
    let n: usize = shape.iter().product();
    let r = s * n..(s + 1) * n;
    let buf = match stacked.buf() {
        Buf::F32(v) => Buf::F32(v[r].to_vec()),
        Buf::F16(v) => Buf::F16(v[r].to_vec()),
        Buf::I8(v) => Buf::I8(v[r].to_vec()),
        Buf::U8(v) => Buf::U8(v[r].to_vec()),
        Buf::I16(v) => Buf::I16(v[r].to_vec()),
        Buf::I32(v) => Buf::I32(v[r].to_vec()),
        Buf::I64(v) => Buf::I64(v[r].to_vec()),
        Buf::Bool(v) => Buf::Bool(v[r].to_vec()),
    };
    Tensor::new(shape, buf).expect("sample shape")
}

/// What LiteRT recorded for one fixture: `t{i}` for tensor `i`, `input_{k}` / `output_{k}`
/// for the model's inputs and outputs.
struct Recorded {
    arrays: HashMap<String, Tensor>,
}

impl Recorded {
    fn open(path: &Path) -> Recorded {
        let mut npz = Npz::open(path).expect("golden opens");
        let arrays = npz
            .names()
            .into_iter()
            .map(|n| {
                let t = npz.read(&n).expect("golden reads");
                (n, t)
            })
            .collect();
        Recorded { arrays }
    }

    /// The recorded (stacked) value of tensor `t` of the main subgraph.
    fn get(&self, sg: &Subgraph, t: usize) -> Option<&Tensor> {
        let io = |list: &[usize], prefix: &str| {
            let k = list.iter().position(|&i| i == t)?;
            self.arrays.get(&format!("{prefix}_{k}"))
        };
        self.arrays
            .get(&format!("t{t}"))
            .or_else(|| io(&sg.inputs, "input"))
            .or_else(|| io(&sg.outputs, "output"))
    }

    /// Give the tensors recorded as `t{i}` their recorded shapes, as an engine-level input
    /// resize with shape propagation would (models converted with dynamic dimensions store 1
    /// there: the squeeze_dyn2 fixtures are stored as [1,1,1,1] and recorded at [1,4,1,3]).
    fn reshape(&self, model: &mut Model) {
        for (name, t) in &self.arrays {
            if let Some(i) = name.strip_prefix('t').and_then(|i| i.parse::<usize>().ok()) {
                model.subgraphs[0].tensors[i].shape =
                    t.shape()[1..].iter().map(|&d| d as i32).collect();
            }
        }
    }
}

/// An operator's input for runs on recorded samples.
enum Input {
    Omitted,
    /// A constant of the model: the same for every sample.
    Const(Tensor),
    /// LiteRT's recorded values, one per sample.
    Recorded(Tensor),
}

impl Input {
    fn at(&self, s: usize) -> Option<Tensor> {
        match self {
            Input::Omitted => None,
            Input::Const(t) => Some(t.clone()),
            Input::Recorded(t) => Some(sample(t, s)),
        }
    }
}

/// How outputs are compared with LiteRT's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    /// Bit for bit (ops that only move elements).
    Bits,
    /// Every element `==` (integers exactly, floats by value: `-0 == 0`).
    Equal,
    /// The conformance test's comparison: integers exactly, float32 within
    /// `1e-5 + 1e-5·|want|`.
    Tolerance,
}

fn mismatches<T: Copy + std::fmt::Display>(
    a: &[T],
    b: &[T],
    same: impl Fn(T, T) -> bool,
) -> Vec<String> {
    a.iter()
        .zip(b)
        .enumerate()
        .filter(|(_, (&x, &y))| !same(x, y))
        .map(|(i, (x, y))| format!("[{i}] got {x} want {y}"))
        .collect()
}

/// How `got` differs from `want`, or `None` when they agree.
pub(crate) fn compare(got: &Tensor, want: &Tensor, how: Compare) -> Option<String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Some(format!(
            "got {} {:?}, want {} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    fn eq<T: PartialEq>(x: T, y: T) -> bool {
        x == y
    }
    let bad = match (got.buf(), want.buf()) {
        (Buf::F32(a), Buf::F32(b)) => match how {
            Compare::Bits => mismatches(a, b, |x, y| x.to_bits() == y.to_bits()),
            Compare::Equal => mismatches(a, b, eq),
            Compare::Tolerance => mismatches(a, b, |x, y| {
                (x - y).abs() <= 1e-5 + 1e-5 * y.abs() || x == y
            }),
        },
        (Buf::F16(a), Buf::F16(b)) => mismatches(a, b, eq),
        (Buf::I8(a), Buf::I8(b)) => mismatches(a, b, eq),
        (Buf::U8(a), Buf::U8(b)) => mismatches(a, b, eq),
        (Buf::I16(a), Buf::I16(b)) => mismatches(a, b, eq),
        (Buf::I32(a), Buf::I32(b)) => mismatches(a, b, eq),
        (Buf::I64(a), Buf::I64(b)) => mismatches(a, b, eq),
        (Buf::Bool(a), Buf::Bool(b)) => mismatches(a, b, eq),
        _ => unreachable!("equal dtypes hold equal buffers"),
    };
    (!bad.is_empty()).then(|| {
        format!(
            "{} of {} differ: {}",
            bad.len(),
            got.len(),
            bad[..bad.len().min(8)].join(", ")
        )
    })
}

/// What running operators alone on a fixture's recorded tensors found.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Operator instances run on every recorded sample.
    pub ops: usize,
    /// Outputs compared (operator instances × samples × outputs).
    pub outputs: usize,
    /// Operators not run: LiteRT did not record all their inputs and outputs (the model
    /// fixtures of float models record only the model's inputs and outputs).
    pub skipped: Vec<String>,
    pub failures: Vec<String>,
}

impl Report {
    fn add(&mut self, other: Report) {
        self.ops += other.ops;
        self.outputs += other.outputs;
        self.skipped.extend(other.skipped);
        self.failures.extend(other.failures);
    }
}

/// Runs every operator named in `ops` of a fixture alone on LiteRT's recorded inputs (a
/// constant input keeps the model's value) and compares each output with LiteRT's, sample
/// by sample. Tensors recorded as `t{i}` first take their recorded shapes.
pub(crate) fn run_alone(pair: &FixturePair, ops: &[&str], how: Compare) -> Report {
    let mut report = Report::default();
    let mut model = Model::from_file(&pair.model).expect("fixture reads");
    let named = |o: &Operator| ops.contains(&o.op.name().as_str());
    if !model.main().operators.iter().any(named) {
        return report;
    }
    let recorded = Recorded::open(&pair.golden);
    recorded.reshape(&mut model);
    let sg = model.main();
    let consts = constants(sg);
    for (index, op) in sg.operators.iter().enumerate() {
        if !named(op) {
            continue;
        }
        let what = format!("{} op {index} ({})", pair.name, op.op.name());
        let kernel = match prepare_at(sg, &consts, index) {
            Ok(k) => k,
            Err(e) => {
                report.failures.push(format!("{what}: prepare: {e}"));
                continue;
            }
        };
        let inputs: Option<Vec<Input>> = op
            .inputs
            .iter()
            .map(|&t| match usize::try_from(t) {
                Err(_) => Some(Input::Omitted),
                Ok(t) => match &consts[t] {
                    Some(c) => Some(Input::Const(c.clone())),
                    None => recorded.get(sg, t).cloned().map(Input::Recorded),
                },
            })
            .collect();
        let outs: Vec<usize> = op.output_tensors().collect();
        let wants: Option<Vec<&Tensor>> = outs.iter().map(|&t| recorded.get(sg, t)).collect();
        let (Some(inputs), Some(wants)) = (inputs, wants) else {
            report.skipped.push(what);
            continue;
        };
        let samples = wants.first().map_or(0, |w| w.shape()[0]);
        for s in 0..samples {
            let args: Vec<Option<Tensor>> = inputs.iter().map(|i| i.at(s)).collect();
            let refs: Vec<Option<&Tensor>> = args.iter().map(|a| a.as_ref()).collect();
            let mut got: Vec<Tensor> = outs
                .iter()
                .zip(&wants)
                .map(|(&t, w)| {
                    Tensor::zeros(sg.tensors[t].dtype, &w.shape()[1..]).expect("output dtype")
                })
                .collect();
            if let Err(e) = kernel.run(&refs, &mut got) {
                report.failures.push(format!("{what} sample {s}: run: {e}"));
                continue;
            }
            for (k, (g, w)) in got.iter().zip(&wants).enumerate() {
                report.outputs += 1;
                if let Some(d) = compare(g, &sample(w, s), how) {
                    report
                        .failures
                        .push(format!("{what} sample {s} output {k}: {d}"));
                }
            }
        }
        report.ops += 1;
    }
    report
}

/// [`run_alone`] over every fixture.
pub(crate) fn run_alone_everywhere(ops: &[&str], how: Compare) -> Report {
    let mut report = Report::default();
    for pair in fixture_pairs() {
        report.add(run_alone(&pair, ops, how));
    }
    report
}

/// Runs every `op` of the op fixture `ops/{fixture}` alone on LiteRT's recorded tensors
/// (integers exactly, floats within the conformance tolerance); panics on a difference or
/// an operator LiteRT did not record. Returns the outputs compared.
pub(crate) fn check_op(fixture: &str, op: &str) -> usize {
    let r = run_alone(&op_fixture(fixture), &[op], Compare::Tolerance);
    assert!(
        r.failures.is_empty(),
        "{fixture}:\n{}",
        r.failures.join("\n")
    );
    assert!(
        r.skipped.is_empty(),
        "{fixture}: not recorded: {:?}",
        r.skipped
    );
    r.outputs
}

// ---- preparing operators ------------------------------------------------------------------

/// The decoded constant values of a subgraph's tensors.
pub(crate) fn constants(sg: &Subgraph) -> Vec<Option<Tensor>> {
    densify::constants(0, sg, &crate::memory::Budget::new(None)).expect("constants decode")
}

/// Prepares operator `index` of `sg`.
pub(crate) fn prepare_at(
    sg: &Subgraph,
    consts: &[Option<Tensor>],
    index: usize,
) -> Result<Box<dyn Kernel>> {
    prepare_op(&OpCtx {
        index,
        op: &sg.operators[index],
        sg,
        consts,
        float_order: super::FloatOrder::Reference,
        budget: &crate::memory::Budget::new(None),
    })
}

/// Prepares the first operator named `op` of a (possibly edited) model.
pub(crate) fn prepare_first(model: &Model, op: &str) -> Result<Box<dyn Kernel>> {
    let sg = model.main();
    let index = sg
        .operators
        .iter()
        .position(|o| o.op.name() == op)
        .unwrap_or_else(|| panic!("no {op} in the model"));
    prepare_at(sg, &constants(sg), index)
}

/// A subgraph of one operator reading tensors `inputs` and writing `outputs`.
pub(crate) fn one_op_subgraph(
    op: Op,
    tensors: Vec<model::Tensor>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
) -> Subgraph {
    Subgraph {
        name: None,
        tensors,
        inputs: Vec::new(),
        outputs: outputs.iter().map(|&t| t as usize).collect(),
        operators: vec![Operator {
            op,
            version: 1,
            inputs,
            outputs,
            intermediates: Vec::new(),
            mutating_variable_inputs: Vec::new(),
            debug_metadata_index: -1,
            options_omitted: false,
        }],
        debug_metadata_index: -1,
    }
}

/// A tensor for [`prepare_single`]: dtype, shape, optional (scale, zero point), optional
/// constant little-endian bytes.
pub(crate) fn tensor(
    dtype: DType,
    shape: &[i32],
    quant: Option<(f32, i64)>,
    data: Option<Vec<u8>>,
) -> model::Tensor {
    let mut t = model::Tensor::new("t", dtype, shape.to_vec());
    t.quant = quant.map(|(s, z)| QuantParams::per_tensor(s, z));
    t.data = data.map(|d| d.into());
    t
}

/// Prepares one operator reading `tensors[..n_inputs]` and writing the rest (tensors with
/// data are constants).
pub(crate) fn prepare_single(
    op: Op,
    tensors: Vec<model::Tensor>,
    n_inputs: usize,
) -> Result<Box<dyn Kernel>> {
    let n = tensors.len() as i32;
    let sg = one_op_subgraph(
        op,
        tensors,
        (0..n_inputs as i32).collect(),
        (n_inputs as i32..n).collect(),
    );
    prepare_at(&sg, &constants(&sg), 0)
}
