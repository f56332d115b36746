//! Runs every activation/softmax op of the committed op and model fixtures on its golden input
//! tensors and compares its output with the golden output tensor: the op's own check,
//! independent of the other families' kernels (QUANTIZE, DEQUANTIZE, ...).

use std::path::{Path, PathBuf};

use crate::data::Npz;
use crate::reference::{constant_value, prepare_op, OpCtx};
use crate::{Buf, Model, Tensor};

/// (model, golden) pairs: the op fixtures and the model fixtures.
fn fixtures() -> Vec<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v = Vec::new();
    for (dir, golden_dir) in [
        (root.join("ops"), root.join("ops")),
        (root.clone(), root.join("golden")),
    ] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "tflite") {
                let g = golden_dir.join(p.with_extension("npz").file_name().unwrap());
                if g.exists() {
                    v.push((p, g));
                }
            }
        }
    }
    v.sort();
    v
}

/// The golden value of tensor `t`: `t{t}`, or the model input/output it is.
fn golden(
    npz: &mut Npz,
    names: &[String],
    sg: &crate::model::Subgraph,
    t: usize,
) -> Option<Tensor> {
    let key = if names.contains(&format!("t{t}")) {
        format!("t{t}")
    } else if let Some(k) = sg.inputs.iter().position(|&i| i == t) {
        format!("input_{k}")
    } else if let Some(k) = sg.outputs.iter().position(|&i| i == t) {
        format!("output_{k}")
    } else {
        return None;
    };
    Some(npz.read(&key).unwrap())
}

fn sample(stacked: &Tensor, s: usize) -> Tensor {
    let shape = &stacked.shape()[1..];
    let n: usize = shape.iter().product();
    let r = s * n..(s + 1) * n;
    let buf = match stacked.buf() {
        Buf::F32(v) => Buf::F32(v[r].to_vec()),
        Buf::I8(v) => Buf::I8(v[r].to_vec()),
        Buf::U8(v) => Buf::U8(v[r].to_vec()),
        Buf::I16(v) => Buf::I16(v[r].to_vec()),
        Buf::I32(v) => Buf::I32(v[r].to_vec()),
        other => panic!("unexpected golden dtype {:?}", other.dtype()),
    };
    Tensor::new(shape, buf).unwrap()
}

fn differ(got: &Tensor, want: &Tensor) -> Option<String> {
    if got.shape() != want.shape() || got.dtype() != want.dtype() {
        return Some(format!("{:?} vs {:?}", got.shape(), want.shape()));
    }
    let bad: Vec<String> = match (got.buf(), want.buf()) {
        (Buf::F32(a), Buf::F32(b)) => (0..a.len())
            .filter(|&i| !((a[i] - b[i]).abs() <= 1e-5 + 1e-5 * b[i].abs() || a[i] == b[i]))
            .map(|i| format!("[{i}] {} vs {}", a[i], b[i]))
            .collect(),
        (Buf::I8(a), Buf::I8(b)) => (0..a.len())
            .filter(|&i| a[i] != b[i])
            .map(|i| format!("[{i}] {} vs {}", a[i], b[i]))
            .collect(),
        (Buf::U8(a), Buf::U8(b)) => (0..a.len())
            .filter(|&i| a[i] != b[i])
            .map(|i| format!("[{i}] {} vs {}", a[i], b[i]))
            .collect(),
        _ => vec!["dtype".into()],
    };
    (!bad.is_empty()).then(|| format!("{} differ: {}", bad.len(), bad.join(", ")))
}

/// Check every operator named in `ops` in every op fixture; returns how many operator
/// instances were checked. Panics listing every difference.
pub fn check(ops: &[&str]) -> usize {
    let (mut checked, mut failures) = (0, Vec::new());
    for (model_path, golden_path) in fixtures() {
        let model = Model::from_file(&model_path).unwrap();
        let sg = model.main();
        if !sg
            .operators
            .iter()
            .any(|o| ops.contains(&o.op.name().as_str()))
        {
            continue;
        }
        let consts: Vec<Option<Tensor>> = sg
            .tensors
            .iter()
            .enumerate()
            .map(|(ti, t)| constant_value(0, ti, t).unwrap())
            .collect();
        let mut npz = Npz::open(&golden_path).unwrap();
        let names = npz.names();
        for (index, op) in sg.operators.iter().enumerate() {
            if !ops.contains(&op.op.name().as_str()) {
                continue;
            }
            let ctx = OpCtx {
                index,
                op,
                sg,
                consts: &consts,
            };
            let kernel = match prepare_op(&ctx) {
                Ok(k) => k,
                Err(e) => {
                    failures.push(format!("{}: prepare: {e}", model_path.display()));
                    continue;
                }
            };
            let mut ins: Vec<Option<Tensor>> = Vec::new();
            let mut complete = true;
            for &t in &op.inputs {
                ins.push(match usize::try_from(t) {
                    Ok(t) => match consts[t].clone() {
                        Some(c) => Some(c),
                        None => {
                            let g = golden(&mut npz, &names, sg, t);
                            complete &= g.is_some();
                            g
                        }
                    },
                    Err(_) => None,
                });
            }
            let outs: Vec<usize> = op.output_tensors().collect();
            let wants: Vec<Option<Tensor>> = outs
                .iter()
                .map(|&t| golden(&mut npz, &names, sg, t))
                .collect();
            if !complete || wants.iter().any(|w| w.is_none()) {
                println!(
                    "  {} op {index} ({}): golden tensors not recorded, skipped",
                    model_path.display(),
                    op.op.name()
                );
                continue;
            }
            let wants: Vec<Tensor> = wants.into_iter().flatten().collect();
            let samples = wants[0].shape()[0];
            for s in 0..samples {
                let sample_ins: Vec<Option<Tensor>> = ins
                    .iter()
                    .zip(&op.inputs)
                    .map(|(t, &ti)| {
                        t.as_ref().map(|t| {
                            let is_const = usize::try_from(ti)
                                .map(|ti| consts[ti].is_some())
                                .unwrap_or(false);
                            if is_const {
                                t.clone()
                            } else {
                                sample(t, s)
                            }
                        })
                    })
                    .collect();
                let refs: Vec<Option<&Tensor>> = sample_ins.iter().map(|t| t.as_ref()).collect();
                let mut got: Vec<Tensor> = outs
                    .iter()
                    .map(|&t| {
                        let mt = &sg.tensors[t];
                        Tensor::zeros(mt.dtype, &crate::reference::dims(mt)).unwrap()
                    })
                    .collect();
                if let Err(e) = kernel.run(&refs, &mut got) {
                    failures.push(format!("{}: run: {e}", model_path.display()));
                    continue;
                }
                for (g, w) in got.iter().zip(&wants) {
                    if let Some(d) = differ(g, &sample(w, s)) {
                        failures.push(format!(
                            "{} op {index} ({}) sample {s}: {d}",
                            model_path.display(),
                            op.op.name()
                        ));
                    }
                }
            }
            println!(
                "  {} op {index} ({}): {samples} samples checked",
                model_path.display(),
                op.op.name()
            );
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    checked
}

#[test]
fn activation_ops_match_their_goldens() {
    let n = check(&[
        "RELU",
        "RELU6",
        "LEAKY_RELU",
        "PRELU",
        "HARD_SWISH",
        "LOGISTIC",
        "TANH",
    ]);
    println!("checked {n} activation op instances against their goldens");
    assert!(n >= 16, "only {n} activation ops found in the fixtures");
}
