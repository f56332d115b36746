//! Golden comparison: run a model on the reference engine over LiteRT's recorded samples and
//! compare every recorded tensor (integers bit for bit, floats within a tight tolerance).

use std::collections::HashMap;
use std::path::Path;

use litequant::data::Npz;
use litequant::{Buf, Engine, Observer, ReferenceEngine, Session, Tensor};

/// Float tolerance: |got - want| <= ATOL + RTOL * |want|.
pub const ATOL: f32 = 1e-5;
pub const RTOL: f32 = 1e-5;

/// Sample `s` of a golden array stacked on a leading sample axis.
pub fn sample(stacked: &Tensor, s: usize) -> Tensor {
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
    Tensor::new(shape, buf).unwrap()
}

/// `None` if equal; otherwise a description of the difference.
pub fn compare(got: &Tensor, want: &Tensor) -> Option<String> {
    compare_tol(got, want, ATOL, RTOL)
}

/// [`compare`] with another float tolerance: |got - want| <= atol + rtol * |want|.
pub fn compare_tol(got: &Tensor, want: &Tensor, atol: f32, rtol: f32) -> Option<String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Some(format!(
            "got {} {:?}, want {} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    fn exact<T: PartialEq + std::fmt::Debug>(a: &[T], b: &[T]) -> Option<String> {
        let bad: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        (!bad.is_empty()).then(|| {
            let i = bad[0];
            format!(
                "{} of {} elements differ (first at {i}: got {:?}, want {:?})",
                bad.len(),
                a.len(),
                a[i],
                b[i]
            )
        })
    }
    match (got.buf(), want.buf()) {
        (Buf::F32(a), Buf::F32(b)) => {
            let bad: Vec<usize> = (0..a.len())
                .filter(|&i| {
                    let same = a[i] == b[i] || (a[i].is_nan() && b[i].is_nan());
                    !(same || (a[i] - b[i]).abs() <= atol + rtol * b[i].abs())
                })
                .collect();
            (!bad.is_empty()).then(|| {
                let worst = bad
                    .iter()
                    .copied()
                    .max_by(|&i, &j| (a[i] - b[i]).abs().total_cmp(&(a[j] - b[j]).abs()))
                    .unwrap();
                format!(
                    "{} of {} floats outside tolerance (worst at {worst}: got {}, want {})",
                    bad.len(),
                    a.len(),
                    a[worst],
                    b[worst]
                )
            })
        }
        (Buf::I8(a), Buf::I8(b)) => exact(a, b),
        (Buf::U8(a), Buf::U8(b)) => exact(a, b),
        (Buf::I16(a), Buf::I16(b)) => exact(a, b),
        (Buf::I32(a), Buf::I32(b)) => exact(a, b),
        (Buf::I64(a), Buf::I64(b)) => exact(a, b),
        (Buf::Bool(a), Buf::Bool(b)) => exact(a, b),
        (Buf::F16(a), Buf::F16(b)) => exact(a, b),
        _ => Some("dtype mismatch".into()),
    }
}

struct Record(HashMap<usize, Tensor>);
impl Observer for Record {
    fn observe(&mut self, tensor: usize, _name: &str, value: &Tensor) -> litequant::Result<()> {
        self.0.insert(tensor, value.clone());
        Ok(())
    }
}

/// What happened to one model.
pub enum Outcome {
    Pass {
        compared: usize,
    },
    /// Prepare failed (an unsupported op or dtype).
    Unsupported(String),
    Fail(Vec<String>),
}

/// Run `model` over every sample in `golden` and compare outputs and every `t{index}` tensor.
pub fn check_model(model: &Path, golden: &Path) -> Outcome {
    check_model_on(&ReferenceEngine, model, golden, ATOL, RTOL)
}

/// [`check_model`] on any engine, floats within `atol + rtol * |want|`.
pub fn check_model_on<E: Engine>(
    engine: &E,
    model: &Path,
    golden: &Path,
    atol: f32,
    rtol: f32,
) -> Outcome {
    let m = match litequant::Model::from_file(model) {
        Ok(m) => m,
        Err(e) => return Outcome::Fail(vec![format!("read: {e}")]),
    };
    let mut npz = Npz::open(golden).unwrap();
    let names = npz.names();
    let n_in = m.main().inputs.len();
    let inputs: Vec<Tensor> = (0..n_in)
        .map(|k| npz.read(&format!("input_{k}")).unwrap())
        .collect();
    // Dynamic-shape models were run by LiteRT after resizing their inputs.
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape()[1..].to_vec()).collect();
    let prepared = if shapes.iter().zip(&m.main().inputs).all(|(s, &t)| {
        m.main().tensors[t]
            .shape
            .iter()
            .map(|&d| d as usize)
            .eq(s.iter().copied())
    }) {
        engine.prepare(&m)
    } else {
        engine.prepare_with_input_shapes(&m, &shapes)
    };
    let mut session = match prepared {
        Ok(s) => s,
        Err(e) => return Outcome::Unsupported(e.to_string()),
    };
    let outputs: Vec<Tensor> = (0..session.outputs().len())
        .map(|k| npz.read(&format!("output_{k}")).unwrap())
        .collect();
    let tensors: Vec<(usize, Tensor)> = names
        .iter()
        .filter_map(|n| n.strip_prefix('t').and_then(|i| i.parse::<usize>().ok()))
        .map(|i| (i, npz.read(&format!("t{i}")).unwrap()))
        .collect();
    let samples = inputs[0].shape()[0];
    let mut failures = Vec::new();
    let mut compared = 0;
    for s in 0..samples {
        let ins: Vec<Tensor> = inputs.iter().map(|t| sample(t, s)).collect();
        let mut rec = Record(HashMap::new());
        let outs = match session.run_observed(&ins, Some(&mut rec)) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("sample {s}: run: {e}"));
                continue;
            }
        };
        for (k, (got, want)) in outs.iter().zip(&outputs).enumerate() {
            compared += 1;
            if let Some(d) = compare_tol(got, &sample(want, s), atol, rtol) {
                failures.push(format!("sample {s} output {k}: {d}"));
            }
        }
        for (i, want) in &tensors {
            compared += 1;
            match rec.0.get(i) {
                Some(got) => {
                    if let Some(d) = compare_tol(got, &sample(want, s), atol, rtol) {
                        failures.push(format!(
                            "sample {s} tensor {i} ('{}'): {d}",
                            m.main().tensors[*i].name
                        ));
                    }
                }
                None => failures.push(format!("sample {s} tensor {i}: not computed")),
            }
        }
    }
    if failures.is_empty() {
        Outcome::Pass { compared }
    } else {
        Outcome::Fail(failures)
    }
}

/// A conformance case: a model and its LiteRT goldens.
pub struct Case {
    pub name: String,
    pub model: std::path::PathBuf,
    pub golden: std::path::PathBuf,
    /// Every op in the model (a model is pending if any of its ops is).
    pub ops: Vec<String>,
}

/// Every per-op fixture (`tests/fixtures/ops`) and every model fixture with goldens.
pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let dir = super::fixtures().join("ops");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    for (name, m) in manifest["models"].as_object().unwrap() {
        v.push(Case {
            name: name.clone(),
            model: dir.join(m["file"].as_str().unwrap()),
            golden: dir.join(m["golden_file"].as_str().unwrap()),
            ops: m["op_histogram"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect(),
        });
    }
    let main = super::manifest();
    for (name, m) in main["fixtures"].as_object().unwrap() {
        if m["goldens"] == true {
            v.push(Case {
                name: name.clone(),
                model: super::fixtures().join(m["file"].as_str().unwrap()),
                golden: super::fixtures().join(m["golden_file"].as_str().unwrap()),
                ops: m["op_histogram"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect(),
            });
        }
    }
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}
