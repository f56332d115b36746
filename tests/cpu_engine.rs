//! The fast CPU engine against the reference engines, bit for bit: on every conformance
//! fixture (the per-op fixtures and the model fixtures `reference_conformance` runs), every
//! tensor of every recorded sample, `FastCpuEngine` gives `ReferenceEngine`'s bits in the
//! reference's float order and `ConverterFloatEngine`'s in the converter's — at 1, 2 and 7
//! threads (every kernel that can split does, at any size), with the AVX2 loops and with
//! the portable ones.
//!
//! `LITEQUANT_CONFORMANCE=substring` runs only matching models.

mod common;

use std::collections::HashMap;

use common::golden::{cases, sample};
use litequant::cpu::Simd;
use litequant::data::Npz;
use litequant::{
    ConverterFloatEngine, Engine, FastCpuEngine, FloatOrder, Model, Observer, ReferenceEngine,
    Session, Tensor,
};

struct Record(HashMap<usize, Tensor>);

impl Observer for Record {
    fn observe(&mut self, tensor: usize, _name: &str, value: &Tensor) -> litequant::Result<()> {
        self.0.insert(tensor, value.clone());
        Ok(())
    }
}

/// Whether two tensors hold the same bits (NaN payloads and the sign of zero included).
fn same_bits(a: &Tensor, b: &Tensor) -> bool {
    a.dtype() == b.dtype()
        && a.shape() == b.shape()
        && a.buf().to_le_bytes() == b.buf().to_le_bytes()
}

/// The golden's inputs, one list per sample.
fn samples(model: &Model, golden: &std::path::Path) -> Vec<Vec<Tensor>> {
    let mut npz = Npz::open(golden).unwrap();
    let stacked: Vec<Tensor> = (0..model.main().inputs.len())
        .map(|k| npz.read(&format!("input_{k}")).unwrap())
        .collect();
    (0..stacked[0].shape()[0])
        .map(|s| stacked.iter().map(|t| sample(t, s)).collect())
        .collect()
}

fn prepare<E: Engine>(engine: &E, m: &Model, ins: &[Tensor]) -> litequant::Result<E::Session> {
    let shapes: Vec<Vec<usize>> = ins.iter().map(|t| t.shape().to_vec()).collect();
    let s = engine.prepare(m)?;
    if s.inputs().iter().zip(&shapes).all(|(i, s)| &i.shape == s) {
        Ok(s)
    } else {
        engine.prepare_with_input_shapes(m, &shapes)
    }
}

/// Every tensor of every sample on `engine`, or `None` where the model does not prepare.
fn record<E: Engine>(engine: &E, m: &Model, data: &[Vec<Tensor>]) -> Option<Vec<Record>> {
    let mut session = prepare(engine, m, &data[0]).ok()?;
    let mut out = Vec::new();
    for ins in data {
        let mut rec = Record(HashMap::new());
        let outs = session.run_observed(ins, Some(&mut rec)).ok()?;
        for (k, t) in outs.into_iter().enumerate() {
            rec.0.insert(usize::MAX - k, t);
        }
        out.push(rec);
    }
    Some(out)
}

/// The fast engine's variants: (description, engine).
fn variants(order: FloatOrder) -> Vec<(String, FastCpuEngine)> {
    let mut v = Vec::new();
    for (threads, simd) in [
        (1, Simd::detect()),
        (2, Simd::detect()),
        (7, Simd::detect()),
        (7, Simd::Portable),
    ] {
        let e = FastCpuEngine::new()
            .with_threads(threads)
            .with_min_work_per_thread(1)
            .with_simd(simd)
            .with_float_order(order);
        v.push((format!("{threads} threads, {simd:?}, {order:?}"), e));
    }
    v
}

#[test]
fn fast_cpu_engine_equals_the_reference_engines_bit_for_bit() {
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let (mut models, mut tensors, mut fast_ops) = (0, 0, 0);
    let mut problems = Vec::new();
    for case in cases().iter().filter(|c| c.name.contains(&filter)) {
        let m = Model::from_file(&case.model).unwrap();
        let data = samples(&m, &case.golden);
        for order in [FloatOrder::Reference, FloatOrder::Converter] {
            let want = match order {
                FloatOrder::Reference => record(&ReferenceEngine, &m, &data),
                FloatOrder::Converter => record(&ConverterFloatEngine, &m, &data),
            };
            let Some(want) = want else { continue };
            models += 1;
            for (what, engine) in variants(order) {
                match prepare(&engine, &m, &data[0]) {
                    Ok(s) => fast_ops += s.fast_ops(),
                    Err(e) => {
                        problems.push(format!("{} ({what}): prepare: {e}", case.name));
                        continue;
                    }
                }
                let Some(got) = record(&engine, &m, &data) else {
                    problems.push(format!("{} ({what}): a run failed", case.name));
                    continue;
                };
                for (s, (g, w)) in got.iter().zip(&want).enumerate() {
                    for (t, wt) in &w.0 {
                        tensors += 1;
                        match g.0.get(t) {
                            Some(gt) if same_bits(gt, wt) => {}
                            Some(_) => problems.push(format!(
                                "{} ({what}): sample {s} tensor {t} differs",
                                case.name
                            )),
                            None => problems.push(format!(
                                "{} ({what}): sample {s} tensor {t} missing",
                                case.name
                            )),
                        }
                    }
                }
            }
        }
    }
    println!(
        "fast cpu engine: {models} model/order pairs, {tensors} tensors compared bit for bit, \
         {fast_ops} fast kernels prepared, {} problems",
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(models > 0);
    if filter.is_empty() {
        // The fast kernels did run (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED fixtures).
        assert!(fast_ops > 50, "only {fast_ops} fast kernels");
    }
}

/// Repeated runs reuse the buffers planned at prepare: the second run of other inputs
/// gives what a fresh session gives.
#[test]
fn runs_do_not_leak_into_each_other() {
    let case = cases()
        .into_iter()
        .find(|c| c.name.contains("cnn") || c.ops.iter().any(|o| o == "CONV_2D"))
        .expect("a fixture with CONV_2D");
    let m = Model::from_file(&case.model).unwrap();
    let data = samples(&m, &case.golden);
    let engine = FastCpuEngine::new().with_threads(2);
    let mut s = prepare(&engine, &m, &data[0]).unwrap();
    let last = data.last().unwrap();
    for ins in &data {
        s.run(ins).unwrap();
    }
    let again = s.run(last).unwrap();
    let fresh = prepare(&engine, &m, last).unwrap().run(last).unwrap();
    for (a, b) in again.iter().zip(&fresh) {
        assert!(same_bits(a, b));
    }
    assert!(engine.name().starts_with("cpu (2 threads"));
}

/// float32 ADD, SUB and MUL with one input repeated over the outer dimensions (one value
/// per channel, a constant or an input), and PAD/PADV2 of every dtype, take the fast
/// kernels; the bits are checked above.
#[test]
fn broadcast_float_arithmetic_and_pad_run_the_fast_kernels() {
    let (mut arith, mut pads) = (0, 0);
    for case in cases() {
        let repeated = ["add_", "sub_", "mul_"]
            .iter()
            .any(|p| case.name.starts_with(p))
            && (case.name.contains("bcast_c_f32") || case.name.contains("const_c_f32"));
        let pad = case.name.starts_with("pad");
        if !repeated && !pad {
            continue;
        }
        let m = Model::from_file(&case.model).unwrap();
        let data = samples(&m, &case.golden);
        let s = prepare(&FastCpuEngine::new(), &m, &data[0]).unwrap();
        assert_eq!(s.fast_ops(), 1, "{}", case.name);
        *(if pad { &mut pads } else { &mut arith }) += 1;
    }
    assert_eq!((arith, pads), (6, 8), "the fixtures moved");
}
