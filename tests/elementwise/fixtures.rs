//! Every elementwise op of every conformance fixture, cut out of its model and run alone on
//! the GPU over LiteRT's recorded inputs, against LiteRT's recorded output (integers bit for
//! bit, floats within the GPU tolerance). This checks the real parameters of the fixture
//! models (their QUANTIZE/DEQUANTIZE scales, ADD multipliers, tables) even where the rest of
//! a model still waits for other kernels.

use std::collections::BTreeMap;

use litequant::data::Npz;
use litequant::model::{Model, Operator, Subgraph};
use litequant::{Engine as _, Session as _, Tensor};

use super::super::common::golden::{cases, compare_tol, sample};
use super::*;

const OPS: &[&str] = &[
    "QUANTIZE",
    "DEQUANTIZE",
    "ADD",
    "SUB",
    "MUL",
    "MAXIMUM",
    "MINIMUM",
    "RELU",
    "RELU6",
    "LEAKY_RELU",
    "PRELU",
    "HARD_SWISH",
    "LOGISTIC",
    "TANH",
];

/// The recorded value (all samples) of tensor `t` of the main subgraph, if the golden has it.
fn recorded(npz: &mut Npz, names: &[String], sg: &Subgraph, t: usize) -> Option<Tensor> {
    let mut keys = vec![format!("t{t}")];
    if let Some(k) = sg.inputs.iter().position(|&i| i == t) {
        keys.push(format!("input_{k}"));
    }
    if let Some(k) = sg.outputs.iter().position(|&i| i == t) {
        keys.push(format!("output_{k}"));
    }
    keys.iter()
        .find(|k| names.contains(k))
        .and_then(|k| npz.read(k).ok())
}

/// Operator `op` of `m` alone: its tensors copied (constants keep their data), non-constant
/// shapes set to the recorded per-sample shapes.
fn cut(m: &Model, op: &Operator, shapes: &BTreeMap<usize, Vec<usize>>) -> (Model, Vec<usize>) {
    let sg = m.main();
    let mut used: Vec<usize> = Vec::new();
    for &t in op.inputs.iter().chain(&op.outputs) {
        if let Ok(t) = usize::try_from(t) {
            if !used.contains(&t) {
                used.push(t);
            }
        }
    }
    let map = |t: i32| -> i32 {
        usize::try_from(t).map_or(t, |t| used.iter().position(|&u| u == t).unwrap() as i32)
    };
    let tensors: Vec<_> = used
        .iter()
        .map(|&t| {
            let mut x = sg.tensors[t].clone();
            if let Some(s) = shapes.get(&t) {
                x.shape = s.iter().map(|&d| d as i32).collect();
                x.shape_signature = None;
            }
            x
        })
        .collect();
    let inputs: Vec<usize> = op
        .inputs
        .iter()
        .filter_map(|&t| usize::try_from(t).ok())
        .filter(|&t| sg.tensors[t].data.is_none())
        .collect();
    let mut one = m.clone();
    one.subgraphs = vec![Subgraph {
        name: None,
        inputs: inputs.iter().map(|&t| map(t as i32) as usize).collect(),
        outputs: op.outputs.iter().map(|&t| map(t) as usize).collect(),
        operators: vec![Operator {
            inputs: op.inputs.iter().map(|&t| map(t)).collect(),
            outputs: op.outputs.iter().map(|&t| map(t)).collect(),
            ..op.clone()
        }],
        tensors,
        debug_metadata_index: -1,
    }];
    one.signature_defs.clear();
    (one, inputs)
}

#[test]
fn fixture_elementwise_ops_alone_match_litert() -> litequant::Result<()> {
    let Some(h) = Harness::new("fixture_elementwise_ops_alone_match_litert")? else {
        return Ok(());
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in cases() {
        if !case.ops.iter().any(|o| OPS.contains(&o.as_str())) {
            continue;
        }
        let m = Model::from_file(&case.model)?;
        let mut npz = Npz::open(&case.golden)?;
        let names = npz.names();
        let sg = m.main();
        for (index, op) in sg.operators.iter().enumerate() {
            let name = op.op.name();
            if !OPS.contains(&name.as_str()) {
                continue;
            }
            // Recorded values of the op's non-constant tensors.
            let mut values = BTreeMap::new();
            let mut missing = false;
            for &t in op.inputs.iter().chain(&op.outputs) {
                let Ok(t) = usize::try_from(t) else { continue };
                if sg.tensors[t].data.is_some() {
                    continue;
                }
                match recorded(&mut npz, &names, sg, t) {
                    Some(v) => {
                        values.insert(t, v);
                    }
                    None => missing = true,
                }
            }
            if missing {
                continue;
            }
            let shapes = values
                .iter()
                .map(|(&t, v)| (t, v.shape()[1..].to_vec()))
                .collect();
            let (one, inputs) = cut(&m, op, &shapes);
            let what = format!("{} op {index} ({name})", case.name);
            let mut session = match h.engine.prepare(&one) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("{what}: GPU prepare: {e}"));
                    continue;
                }
            };
            let samples = values.values().next().map_or(0, |v| v.shape()[0]);
            for s in 0..samples {
                let ins: Vec<Tensor> = inputs.iter().map(|t| sample(&values[t], s)).collect();
                let outs = session.run(&ins)?;
                for (k, &t) in op.outputs.iter().enumerate() {
                    let want = sample(&values[&(t as usize)], s);
                    if let Some(d) = compare_tol(&outs[k], &want, ATOL, RTOL) {
                        failures.push(format!("{what} sample {s} output {k}: {d}"));
                    }
                }
            }
            *counts.entry(name).or_default() += 1;
        }
    }
    println!("ops checked alone on the GPU: {counts:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for op in ["QUANTIZE", "DEQUANTIZE", "ADD", "MUL", "LOGISTIC", "TANH"] {
        assert!(
            counts.get(op).copied().unwrap_or(0) > 0,
            "no {op} found: {counts:?}"
        );
    }
    Ok(())
}
