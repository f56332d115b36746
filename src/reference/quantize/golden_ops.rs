//! Every op of a family, run alone on LiteRT's recorded inputs of every fixture that holds
//! it, against LiteRT's recorded output (so a kernel is checked even in models whose other
//! ops are not written yet). Other families may call [`check`] with their op names.

use std::path::{Path, PathBuf};

use crate::data::Npz;
use crate::{Buf, Model, Tensor};

use crate::reference::{constant_value, prepare_op, OpCtx};

fn fixture_pairs() -> Vec<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v = Vec::new();
    for (dir, golden_dir) in [
        (root.join("ops"), root.join("ops")),
        (root.clone(), root.join("golden")),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "tflite") {
                let g = golden_dir.join(p.with_extension("npz").file_name().unwrap_or_default());
                if g.exists() {
                    v.push((p, g));
                }
            }
        }
    }
    v.sort();
    v
}

fn sample(stacked: &Tensor, s: usize) -> Tensor {
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
    Tensor::new(shape, buf).expect("golden sample")
}

/// Runs every op named in `ops` of every fixture; returns (op instances × samples
/// checked, failures). Outputs must equal LiteRT's bit for bit (floats too).
pub(in crate::reference) fn check(ops: &[&str]) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (model_path, golden_path) in fixture_pairs() {
        let model = Model::from_file(&model_path).expect("fixture reads");
        let sg = model.main();
        let consts: Vec<Option<Tensor>> = sg
            .tensors
            .iter()
            .enumerate()
            .map(|(ti, t)| constant_value(0, ti, t).expect("constant decodes"))
            .collect();
        let mut npz = Npz::open(&golden_path).expect("golden opens");
        let names = npz.names();
        let mut golden = |i: usize| -> Option<Tensor> {
            let key = format!("t{i}");
            names
                .contains(&key)
                .then(|| npz.read(&key).expect("golden reads"))
        };
        let label = model_path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
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
                    failures.push(format!("{label}: {e}"));
                    continue;
                }
            };
            let ins: Vec<Option<Tensor>> = op
                .inputs
                .iter()
                .map(|&t| {
                    usize::try_from(t)
                        .ok()
                        .and_then(|t| consts[t].clone().or_else(|| golden(t)))
                })
                .collect();
            let outs: Vec<usize> = op.output_tensors().collect();
            let want: Vec<Option<Tensor>> = outs.iter().map(|&t| golden(t)).collect();
            let samples = want
                .iter()
                .flatten()
                .map(|w| w.shape()[0])
                .next()
                .unwrap_or(0);
            for s in 0..samples {
                let ins_s: Vec<Option<Tensor>> = op
                    .inputs
                    .iter()
                    .zip(&ins)
                    .map(|(&t, v)| {
                        let t = usize::try_from(t).ok()?;
                        let v = v.as_ref()?;
                        Some(if consts[t].is_some() {
                            v.clone()
                        } else {
                            sample(v, s)
                        })
                    })
                    .collect();
                let refs: Vec<Option<&Tensor>> = ins_s.iter().map(|t| t.as_ref()).collect();
                // Allocated with the recorded shapes (models converted with dynamic
                // dimensions store 1 there; LiteRT resized them).
                let mut got: Vec<Tensor> = outs
                    .iter()
                    .zip(&want)
                    .map(|(&t, w)| {
                        let shape: Vec<usize> = match w {
                            Some(w) => w.shape()[1..].to_vec(),
                            None => sg.tensors[t]
                                .shape
                                .iter()
                                .map(|&d| d.max(0) as usize)
                                .collect(),
                        };
                        Tensor::zeros(sg.tensors[t].dtype, &shape).expect("output dtype")
                    })
                    .collect();
                if let Err(e) = kernel.run(&refs, &mut got) {
                    failures.push(format!("{label} op {index} sample {s}: {e}"));
                    continue;
                }
                for (k, w) in want.iter().enumerate() {
                    let Some(w) = w else { continue };
                    checked += 1;
                    let w = sample(w, s);
                    if got[k] != w {
                        let bad = match (got[k].buf(), w.buf()) {
                            (Buf::F32(a), Buf::F32(b)) => a
                                .iter()
                                .zip(b)
                                .filter(|(x, y)| x.to_bits() != y.to_bits())
                                .count(),
                            _ => usize::MAX,
                        };
                        failures.push(format!(
                            "{label} op {index} ({}) sample {s} output {k}: differs ({bad} floats)",
                            op.op.name()
                        ));
                    }
                }
            }
        }
    }
    (checked, failures)
}

#[test]
fn quantize_and_dequantize_match_litert_in_every_fixture() {
    let (checked, failures) = check(&["QUANTIZE", "DEQUANTIZE"]);
    println!("QUANTIZE/DEQUANTIZE: {checked} outputs checked");
    assert!(checked > 100, "only {checked} outputs checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
