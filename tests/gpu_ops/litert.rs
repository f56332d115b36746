//! Every op of these families in every conformance fixture (the whole-model fixtures
//! included, whose other ops may not run on the GPU yet), cut out and run alone on the GPU
//! over the tensors LiteRT recorded under `BUILTIN_REF`: integer outputs equal to LiteRT's bit
//! for bit, float32 within the conformance tolerance (1e-4 abs + 1e-4 rel).

use std::collections::HashMap;

use litequant::data::Npz;
use litequant::{Engine, Model, Session, Tensor};

use super::common::golden::{cases, compare_tol, sample};
use super::engine;
use super::families::{cut, FAMILY_OPS};

#[test]
fn family_ops_in_every_fixture_match_litert_on_recorded_tensors() {
    let Some(engine) = engine("family_ops_in_every_fixture_match_litert_on_recorded_tensors")
    else {
        return;
    };
    let (mut compared, mut ops, mut failures) = (0, Vec::new(), Vec::new());
    for case in cases() {
        if !case.ops.iter().any(|o| FAMILY_OPS.contains(&o.as_str())) {
            continue;
        }
        let model = Model::from_file(&case.model).unwrap();
        let mut npz = Npz::open(&case.golden).unwrap();
        let arrays: HashMap<String, Tensor> = npz
            .names()
            .into_iter()
            .map(|n| {
                let t = npz.read(&n).unwrap();
                (n, t)
            })
            .collect();
        let sg = model.main();
        let recorded = |t: usize| -> Option<&Tensor> {
            let io = |list: &[usize], prefix: &str| {
                let k = list.iter().position(|&i| i == t)?;
                arrays.get(&format!("{prefix}_{k}"))
            };
            arrays
                .get(&format!("t{t}"))
                .or_else(|| io(&sg.inputs, "input"))
                .or_else(|| io(&sg.outputs, "output"))
        };
        for (i, op) in sg.operators.iter().enumerate() {
            let name = op.op.name();
            if !FAMILY_OPS.contains(&name.as_str()) {
                continue;
            }
            let ins: Vec<usize> = op
                .input_tensors()
                .filter(|&t| sg.tensors[t].data.is_none())
                .collect();
            let outs: Vec<usize> = op.output_tensors().collect();
            let (Some(xs), Some(ys)) = (
                ins.iter().map(|&t| recorded(t)).collect::<Option<Vec<_>>>(),
                outs.iter()
                    .map(|&t| recorded(t))
                    .collect::<Option<Vec<_>>>(),
            ) else {
                continue;
            };
            let mut one = cut(&model, i);
            // The recorded shapes (models with dynamic dimensions store 1 there).
            // As `cut` lists them (a tensor read twice in a row, as a STRIDED_SLICE's end and
            // strides may be, once).
            let mut used: Vec<usize> = op.input_tensors().chain(op.output_tensors()).collect();
            used.dedup();
            for (k, &t) in used.iter().enumerate() {
                if let Some(r) = recorded(t) {
                    one.subgraphs[0].tensors[k].shape =
                        r.shape()[1..].iter().map(|&d| d as i32).collect();
                }
            }
            let what = format!("{} op {i} ({name})", case.name);
            let mut session = match engine.prepare(&one) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("{what}: the GPU refuses: {e}"));
                    continue;
                }
            };
            for s in 0..xs[0].shape()[0] {
                let inputs: Vec<Tensor> = xs.iter().map(|x| sample(x, s)).collect();
                let got = match session.run(&inputs) {
                    Ok(g) => g,
                    Err(e) => {
                        failures.push(format!("{what} sample {s}: {e}"));
                        continue;
                    }
                };
                for (k, (g, y)) in got.iter().zip(&ys).enumerate() {
                    compared += 1;
                    if let Some(d) = compare_tol(g, &sample(y, s), 1e-4, 1e-4) {
                        failures.push(format!("{what} sample {s} output {k}: {d}"));
                    }
                }
            }
            ops.push(name);
        }
    }
    ops.sort();
    ops.dedup();
    eprintln!("{compared} recorded outputs of {ops:?} compared with LiteRT");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(ops.len(), FAMILY_OPS.len(), "families seen: {ops:?}");
    assert!(compared >= 250, "only {compared} outputs compared");
}
