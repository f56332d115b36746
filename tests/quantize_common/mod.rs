//! Shared by `tests/quantize_dynamic.rs` and `tests/quantize_float16.rs`: the converter's
//! (float, quantized) fixture pairs, and an exhaustive model comparison.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use litequant::data::Npz;
use litequant::model::{Model, QuantParams, Tensor};
use litequant::{Buf, Engine, Observer, ReferenceEngine, Session};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One converter pair: the float model and the converter's quantized model of the same
/// Keras model / function, with the quantized model's golden file.
#[derive(Debug, Clone)]
pub struct Pair {
    pub name: String,
    pub float: PathBuf,
    pub quantized: PathBuf,
    pub golden: PathBuf,
}

/// Every pair of the fixtures for a mode: the main fixtures' `{model}_float32` with
/// `{model}_{main_variant}`, and the op fixtures' `{case}_f32` with `{case}_{op_variant}`.
pub fn pairs(main_variant: &str, op_variant: &str) -> Vec<Pair> {
    let mut v = Vec::new();
    let main: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("fixtures.json")).unwrap())
            .unwrap();
    let fx = main["fixtures"].as_object().unwrap();
    for (name, m) in fx {
        if m["variant"] != main_variant {
            continue;
        }
        let model = m["model"].as_str().unwrap();
        let float = fx
            .values()
            .find(|f| f["model"] == model && f["variant"] == "float32")
            .expect("a float32 fixture for every model");
        v.push(Pair {
            name: name.clone(),
            float: fixtures().join(float["file"].as_str().unwrap()),
            quantized: fixtures().join(m["file"].as_str().unwrap()),
            golden: fixtures().join(m["golden_file"].as_str().unwrap()),
        });
    }
    let dir = fixtures().join("ops");
    let ops: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let models = ops["models"].as_object().unwrap();
    for (name, m) in models {
        if m["variant"] != op_variant {
            continue;
        }
        let case = &m["case"];
        let float = models
            .values()
            .find(|f| &f["case"] == case && f["variant"] == "f32")
            .unwrap_or_else(|| panic!("{name}: no f32 model of case {case}"));
        v.push(Pair {
            name: name.clone(),
            float: dir.join(float["file"].as_str().unwrap()),
            quantized: dir.join(m["file"].as_str().unwrap()),
            golden: dir.join(m["golden_file"].as_str().unwrap()),
        });
    }
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

fn quant_eq(a: &Option<QuantParams>, b: &Option<QuantParams>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            bits(&a.scale) == bits(&b.scale)
                && a.zero_point == b.zero_point
                && bits(&a.min) == bits(&b.min)
                && bits(&a.max) == bits(&b.max)
                && a.quantized_dimension == b.quantized_dimension
                && a.details == b.details
        }
        _ => false,
    }
}

fn tensor_diffs(i: usize, a: &Tensor, b: &Tensor, out: &mut Vec<String>) {
    let mut d = |what: &str, ok: bool, detail: String| {
        if !ok {
            out.push(format!("tensor {i} ('{}'): {what}: {detail}", b.name));
        }
    };
    d("name", a.name == b.name, format!("ours '{}'", a.name));
    d(
        "dtype",
        a.dtype == b.dtype,
        format!("ours {} theirs {}", a.dtype, b.dtype),
    );
    d(
        "shape",
        a.shape == b.shape,
        format!("ours {:?} theirs {:?}", a.shape, b.shape),
    );
    d(
        "shape_signature",
        a.shape_signature == b.shape_signature,
        format!(
            "ours {:?} theirs {:?}",
            a.shape_signature, b.shape_signature
        ),
    );
    d(
        "quantization",
        quant_eq(&a.quant, &b.quant),
        format!("ours {:?}\n      theirs {:?}", a.quant, b.quant),
    );
    let data_detail = match (&a.data, &b.data) {
        (Some(x), Some(y)) if x.len() == y.len() => {
            let n = x.iter().zip(y.iter()).filter(|(p, q)| p != q).count();
            format!("{n} of {} bytes differ", x.len())
        }
        (x, y) => format!(
            "ours {:?} bytes, theirs {:?} bytes",
            x.as_ref().map(|v| v.len()),
            y.as_ref().map(|v| v.len())
        ),
    };
    d("data", a.data == b.data, data_detail);
    d(
        "has_rank",
        a.has_rank == b.has_rank,
        format!("ours {}", a.has_rank),
    );
    d("is_variable", a.is_variable == b.is_variable, String::new());
    d("sparsity", a.sparsity == b.sparsity, String::new());
}

/// Every difference between our model and the converter's: operators (kind, options,
/// version, tensors), tensors (name, type, shape, quantization with scales compared as
/// float32 bits, data bytes), subgraph inputs/outputs, signatures, description and metadata
/// (bytes). Empty when the models are the same.
pub fn diffs(ours: &Model, theirs: &Model) -> Vec<String> {
    let mut out = Vec::new();
    if ours.description != theirs.description {
        out.push(format!(
            "description: ours {:?} theirs {:?}",
            ours.description, theirs.description
        ));
    }
    if ours.subgraphs.len() != theirs.subgraphs.len() {
        out.push("subgraph count".into());
        return out;
    }
    for (a, b) in ours.subgraphs.iter().zip(&theirs.subgraphs) {
        if a.operators.len() != b.operators.len() {
            out.push(format!(
                "operator count: ours {} theirs {}: ours {:?} theirs {:?}",
                a.operators.len(),
                b.operators.len(),
                a.operators.iter().map(|o| o.op.name()).collect::<Vec<_>>(),
                b.operators.iter().map(|o| o.op.name()).collect::<Vec<_>>()
            ));
        } else {
            for (k, (x, y)) in a.operators.iter().zip(&b.operators).enumerate() {
                if x.op != y.op {
                    out.push(format!(
                        "operator {k}: ours {:?}\n      theirs {:?}",
                        x.op, y.op
                    ));
                }
                if x.version != y.version {
                    out.push(format!(
                        "operator {k} ({}): version ours {} theirs {}",
                        y.op.name(),
                        x.version,
                        y.version
                    ));
                }
                if (&x.inputs, &x.outputs, &x.intermediates)
                    != (&y.inputs, &y.outputs, &y.intermediates)
                {
                    out.push(format!(
                        "operator {k} ({}): tensors ours {:?} -> {:?}, theirs {:?} -> {:?}",
                        y.op.name(),
                        x.inputs,
                        x.outputs,
                        y.inputs,
                        y.outputs
                    ));
                }
                if x.options_omitted != y.options_omitted {
                    out.push(format!(
                        "operator {k} ({}): options table ours {} theirs {}",
                        y.op.name(),
                        if x.options_omitted {
                            "omitted"
                        } else {
                            "written"
                        },
                        if y.options_omitted {
                            "omitted"
                        } else {
                            "written"
                        }
                    ));
                }
            }
        }
        if a.tensors.len() != b.tensors.len() {
            out.push(format!(
                "tensor count: ours {} theirs {}",
                a.tensors.len(),
                b.tensors.len()
            ));
        }
        for (i, (x, y)) in a.tensors.iter().zip(&b.tensors).enumerate() {
            tensor_diffs(i, x, y, &mut out);
        }
        if a.inputs != b.inputs || a.outputs != b.outputs {
            out.push(format!(
                "subgraph io: ours {:?} -> {:?}, theirs {:?} -> {:?}",
                a.inputs, a.outputs, b.inputs, b.outputs
            ));
        }
        if a.name != b.name {
            out.push(format!(
                "subgraph name: ours {:?} theirs {:?}",
                a.name, b.name
            ));
        }
    }
    if ours.signature_defs != theirs.signature_defs {
        out.push(format!(
            "signatures: ours {:?}\n      theirs {:?}",
            ours.signature_defs, theirs.signature_defs
        ));
    }
    let names = |m: &Model| {
        m.metadata
            .iter()
            .map(|e| e.name.clone())
            .collect::<Vec<_>>()
    };
    if names(ours) != names(theirs) {
        out.push(format!(
            "metadata entries: ours {:?} theirs {:?}",
            names(ours),
            names(theirs)
        ));
    }
    for e in &theirs.metadata {
        if let Some(o) = ours.metadata(&e.name) {
            if o.data != e.data {
                out.push(format!(
                    "metadata '{}': ours {:02x?}\n      theirs {:02x?}",
                    e.name,
                    &o.data[..],
                    &e.data[..]
                ));
            }
        }
    }
    out
}

struct Record(HashMap<usize, litequant::Tensor>);
impl Observer for Record {
    fn observe(
        &mut self,
        tensor: usize,
        _: &str,
        value: &litequant::Tensor,
    ) -> litequant::Result<()> {
        self.0.insert(tensor, value.clone());
        Ok(())
    }
}

fn bits(t: &litequant::Tensor) -> Vec<u8> {
    match t.buf() {
        Buf::F32(v) => v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect(),
        other => other.to_le_bytes(),
    }
}

/// Run both models on the reference engine over every golden input sample and require
/// every output and every computed tensor bit-identical. Returns the number of tensors
/// compared.
pub fn same_results(ours: &Model, theirs: &Model, golden: &Path) -> usize {
    let mut npz = Npz::open(golden).unwrap();
    let n_in = theirs.main().inputs.len();
    let inputs: Vec<litequant::Tensor> = (0..n_in)
        .map(|k| npz.read(&format!("input_{k}")).unwrap())
        .collect();
    let samples = inputs[0].shape()[0];
    let mut compared = 0;
    for s in 0..samples {
        let ins: Vec<litequant::Tensor> = inputs
            .iter()
            .map(|t| {
                let shape = &t.shape()[1..];
                let n: usize = shape.iter().product();
                let buf = match t.buf() {
                    Buf::F32(v) => Buf::F32(v[s * n..(s + 1) * n].to_vec()),
                    other => panic!("float inputs expected, got {:?}", other.dtype()),
                };
                litequant::Tensor::new(shape, buf).unwrap()
            })
            .collect();
        // The golden's shapes (dynamic inputs take the sample's).
        let shapes: Vec<Vec<usize>> = ins.iter().map(|t| t.shape().to_vec()).collect();
        let mut a = ReferenceEngine
            .prepare_with_input_shapes(ours, &shapes)
            .unwrap();
        let mut b = ReferenceEngine
            .prepare_with_input_shapes(theirs, &shapes)
            .unwrap();
        let (mut ra, mut rb) = (Record(HashMap::new()), Record(HashMap::new()));
        let oa = a.run_observed(&ins, Some(&mut ra)).unwrap();
        let ob = b.run_observed(&ins, Some(&mut rb)).unwrap();
        assert_eq!(oa.len(), ob.len());
        for (k, (x, y)) in oa.iter().zip(&ob).enumerate() {
            assert_eq!(x.shape(), y.shape(), "sample {s} output {k}");
            assert!(bits(x) == bits(y), "sample {s} output {k} differs");
            compared += 1;
        }
        for (t, y) in &rb.0 {
            let x =
                ra.0.get(t)
                    .unwrap_or_else(|| panic!("tensor {t} not computed"));
            assert!(bits(x) == bits(y), "sample {s} tensor {t} differs");
            compared += 1;
        }
    }
    compared
}

/// A path under the system temp folder for a test's output file.
pub fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("litequant-{}-{name}.tflite", std::process::id()))
}

/// Every float model among the fixtures with its golden file (if it has one): the main
/// fixtures that are not quantized and the op fixtures' `*_f32` models.
pub fn float_models() -> Vec<(String, PathBuf, Option<PathBuf>)> {
    let mut v = Vec::new();
    let main: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("fixtures.json")).unwrap())
            .unwrap();
    for (name, m) in main["fixtures"].as_object().unwrap() {
        if !m["variant"].as_str().unwrap().starts_with("float32") {
            continue;
        }
        let golden = m["golden_file"].as_str().map(|g| fixtures().join(g));
        v.push((
            name.clone(),
            fixtures().join(m["file"].as_str().unwrap()),
            golden,
        ));
    }
    let dir = fixtures().join("ops");
    let ops: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    for (name, m) in ops["models"].as_object().unwrap() {
        if m["variant"] == "f32" {
            v.push((
                name.clone(),
                dir.join(m["file"].as_str().unwrap()),
                Some(dir.join(m["golden_file"].as_str().unwrap())),
            ));
        }
    }
    v.sort();
    v
}

/// Run `model` on the reference engine over the first sample of `golden`'s inputs
/// (resizing dynamic inputs as LiteRT did); `None` if the engine cannot prepare it.
pub fn run_first_sample(model: &Model, golden: &Path) -> Option<Vec<litequant::Tensor>> {
    let mut npz = Npz::open(golden).unwrap();
    let n_in = model.main().inputs.len();
    let inputs: Vec<litequant::Tensor> = (0..n_in)
        .map(|k| {
            let t = npz.read(&format!("input_{k}")).unwrap();
            let shape = t.shape()[1..].to_vec();
            let n: usize = shape.iter().product();
            let buf = match t.buf() {
                Buf::F32(v) => Buf::F32(v[..n].to_vec()),
                Buf::I32(v) => Buf::I32(v[..n].to_vec()),
                Buf::I8(v) => Buf::I8(v[..n].to_vec()),
                Buf::U8(v) => Buf::U8(v[..n].to_vec()),
                other => panic!("input dtype {:?}", other.dtype()),
            };
            litequant::Tensor::new(&shape, buf).unwrap()
        })
        .collect();
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
    let static_shapes = shapes.iter().zip(&model.main().inputs).all(|(s, &t)| {
        model.main().tensors[t]
            .shape
            .iter()
            .map(|&d| d as usize)
            .eq(s.iter().copied())
    });
    let mut session = if static_shapes {
        ReferenceEngine.prepare(model).ok()?
    } else {
        ReferenceEngine
            .prepare_with_input_shapes(model, &shapes)
            .ok()?
    };
    Some(session.run(&inputs).expect("a prepared model runs"))
}

/// `ConverterFloatEngine`'s statistics of `m` over the `.npy` samples at `calib` (each
/// sample checked against the model's first input), as the converter-parity tests
/// calibrate.
pub fn calibrate_npy(m: &Model, calib: &Path) -> litequant::Stats {
    let spec = ReferenceEngine.prepare(m).unwrap().inputs()[0].clone();
    let mut data = litequant::data::NpyDataset::open(calib)
        .unwrap()
        .with_input(&spec)
        .unwrap();
    litequant::calibrate(
        m,
        &litequant::ConverterFloatEngine,
        &mut data,
        &litequant::CalibrationOptions::default(),
    )
    .unwrap()
}
