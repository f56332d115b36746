//! The GPU engine's float32 results against the CPU engines', bit for bit: on every
//! conformance fixture and every tensor of every recorded sample, `GpuEngine` in the
//! reference's order gives `ReferenceEngine`'s bits and, with
//! `with_float_order(FloatOrder::Converter)`, `ConverterFloatEngine`'s — the order that
//! calibration runs in. Every GPU kernel sums in the CPU kernel's order with every product
//! rounded (`shaders/common/unfused.wgsl`, `eigen_order.wgsl`) and divides in software.
//!
//! The exceptions are named: the ops built on the device's `exp` (LOGISTIC, TANH and SOFTMAX
//! in the reference's order, EXP, GELU in the converter's) or `log` (LOG) and every tensor computed from one of their outputs are compared within the conformance
//! tolerance instead. Integer tensors are compared exactly everywhere.

mod common;

use std::collections::{HashMap, HashSet};

use common::golden::{cases, compare_tol, sample};
use litequant::data::Npz;
use litequant::gpu::{self, GpuEngine};
use litequant::model::code;
use litequant::{
    Buf, ConverterFloatEngine, Engine, FloatOrder, Model, Observer, ReferenceEngine, Session,
    Tensor,
};

/// Ops whose float results use the device's `exp` (GELU: with an `erfc` polynomial) or
/// `log` (LOG).
const EXP_OPS: &[i32] = &[
    code::LOGISTIC,
    code::TANH,
    code::SOFTMAX,
    code::EXP,
    code::GELU,
    code::LOG,
];

/// Tolerance for the tensors downstream of an `exp` op (as `gpu_conformance`).
const ATOL: f32 = 1e-4;
const RTOL: f32 = 1e-4;

struct Record(HashMap<usize, Tensor>);

impl Observer for Record {
    fn observe(&mut self, tensor: usize, _name: &str, value: &Tensor) -> litequant::Result<()> {
        self.0.insert(tensor, value.clone());
        Ok(())
    }
}

/// Tensors computed, directly or not, from the output of an `exp` op.
fn exp_tainted(m: &Model, converter: bool) -> HashSet<usize> {
    let mut tainted = HashSet::new();
    for op in &m.main().operators {
        let code = op.op.code();
        // Eigen's forms are emulated exactly (shaders/common/eigen_exp.wgsl, eigen_act.wgsl):
        // GELU in the reference's order (its erfc divides), SOFTMAX, LOGISTIC and TANH in the
        // converter's (whose GELU takes the CPU's `rcpps`).
        let exact = if converter {
            [code::SOFTMAX, code::LOGISTIC, code::TANH].contains(&code)
        } else {
            code == code::GELU
        };
        let from_exp = EXP_OPS.contains(&code) && !exact;
        let fed = op
            .inputs
            .iter()
            .any(|&t| t >= 0 && tainted.contains(&(t as usize)));
        if from_exp || fed {
            tainted.extend(op.outputs.iter().filter(|&&t| t >= 0).map(|&t| t as usize));
        }
    }
    tainted
}

fn record<E: Engine>(engine: &E, m: &Model, inputs: &[Tensor]) -> litequant::Result<Record> {
    let mut session = engine.prepare(m)?;
    let mut rec = Record(HashMap::new());
    session.run_observed(inputs, Some(&mut rec))?;
    Ok(rec)
}

/// `None` when the two tensors hold the same bits (any NaN equals any NaN).
fn bits(got: &Tensor, want: &Tensor) -> Option<String> {
    if got.shape() != want.shape() || got.dtype() != want.dtype() {
        return compare_tol(got, want, 0.0, 0.0);
    }
    match (got.buf(), want.buf()) {
        (Buf::F32(a), Buf::F32(b)) => {
            let same = |x: f32, y: f32| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
            let bad: Vec<usize> = (0..a.len()).filter(|&i| !same(a[i], b[i])).collect();
            bad.first().map(|&i| {
                let ulp = (a[i].to_bits() as i64 - b[i].to_bits() as i64).abs();
                format!(
                    "{} of {} elements differ (first at {i}: got {:e}, want {:e}, {ulp} ulp)",
                    bad.len(),
                    a.len(),
                    a[i],
                    b[i]
                )
            })
        }
        _ => compare_tol(got, want, 0.0, 0.0),
    }
}

/// Every tensor of `gpu` against `cpu`: exact, or within tolerance where `exp` reached.
fn differences(m: &Model, gpu: &Record, cpu: &Record, tainted: &HashSet<usize>) -> Vec<String> {
    let mut out = Vec::new();
    for (t, want) in &cpu.0 {
        let Some(got) = gpu.0.get(t) else {
            out.push(format!("tensor {t}: not computed on the GPU"));
            continue;
        };
        let d = if tainted.contains(t) {
            compare_tol(got, want, ATOL, RTOL)
        } else {
            bits(got, want)
        };
        if let Some(d) = d {
            out.push(format!("tensor {t} ('{}'): {d}", m.main().tensors[*t].name));
        }
    }
    out
}

#[test]
fn gpu_float_bits_equal_the_cpu_engines() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_float_bits_equal_the_cpu_engines")? else {
        return Ok(());
    };
    let reference = GpuEngine::new(ctx);
    let converter = reference.clone().with_float_order(FloatOrder::Converter);
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let (mut models, mut exact, mut tolerated) = (0, 0usize, 0usize);
    let mut problems = Vec::new();
    for case in cases().iter().filter(|c| c.name.contains(&filter)) {
        let m = Model::from_file(&case.model)?;
        let mut npz = Npz::open(&case.golden)?;
        let n_in = m.main().inputs.len();
        let stacked: Vec<Tensor> = (0..n_in)
            .map(|k| npz.read(&format!("input_{k}")))
            .collect::<litequant::Result<_>>()?;
        // The fixtures whose inputs were resized are covered by gpu_conformance.
        let fits = stacked.iter().zip(&m.main().inputs).all(|(t, &i)| {
            let want = &m.main().tensors[i].shape;
            t.shape()[1..]
                .iter()
                .map(|&d| d as i32)
                .eq(want.iter().copied())
        });
        if !fits {
            continue;
        }
        let tainted = [exp_tainted(&m, false), exp_tainted(&m, true)];
        models += 1;
        // The first and the last recorded sample.
        let samples = stacked[0].shape()[0];
        for s in [0, samples - 1] {
            let inputs: Vec<Tensor> = stacked.iter().map(|t| sample(t, s)).collect();
            let pairs: [(&str, Record, Record); 2] = [
                (
                    "reference order",
                    record(&reference, &m, &inputs)?,
                    record(&ReferenceEngine, &m, &inputs)?,
                ),
                (
                    "converter order",
                    record(&converter, &m, &inputs)?,
                    record(&ConverterFloatEngine, &m, &inputs)?,
                ),
            ];
            for ((order, gpu, cpu), tainted) in pairs.iter().zip(&tainted) {
                let d = differences(&m, gpu, cpu, tainted);
                tolerated += cpu.0.keys().filter(|t| tainted.contains(t)).count();
                exact += cpu.0.keys().filter(|t| !tainted.contains(t)).count();
                if !d.is_empty() {
                    problems.push(format!(
                        "{} sample {s}, {order}: {} tensors differ; first: {}",
                        case.name,
                        d.len(),
                        d[0]
                    ));
                }
            }
        }
    }
    println!(
        "gpu float bits on {}: {models} models, {exact} tensors compared bit for bit, \
         {tolerated} downstream of exp within tolerance",
        reference.context().describe()
    );
    assert!(
        problems.is_empty(),
        "{} differ:\n{}",
        problems.len(),
        problems.join("\n")
    );
    Ok(())
}
