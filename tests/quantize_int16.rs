//! 16x8 quantization against the TensorFlow Lite converter: every op case of
//! `tests/fixtures/int16/` (`tools/make_int16_fixtures.py`) whose float model is
//! `tests/fixtures/ops/CASE_f32.tflite`, calibrated on the converter's exact representative
//! samples (`ops/CASE.calib.npz`) with the converter's float kernels, quantized in 16x8 mode
//! (float I/O, `int16`; int16 I/O, `int16io`) and compared with TF 2.21's file parameter
//! for parameter; the files litequant writes run on the reference engine.
//!
//! TF 2.21 writes 16x8 files with its legacy quantizer (`toco_legacy/quantize_model.cc`):
//! the float model's tensors quantized in place, `NAME_int16` input tensors appended, the
//! calibrated min/max kept in every quantization table. litequant lays out its 16x8 files as
//! its int8 ones (the MLIR exporter's order and names), so the comparison pairs the
//! operators that compute (every op but the QUANTIZE from float and the DEQUANTIZE to float
//! at the float edges) in order, and compares each one's kind, options and version and, for
//! every operand and result, dtype, shape, scales (bits), zero points, quantized dimension
//! and constant data; then the model's inputs and outputs (dtype, scale, zero point).

mod quantize_common;

use litequant::model::{DType, Model, Op, QuantParams, Tensor};
use litequant::quant::{quantize_int8, Int8Options, IoType};
use litequant::{
    calibrate, CalibrationOptions, ConverterFloatEngine, Engine, ReferenceEngine, Session,
};

// Our files' outputs equal LiteRT's on the converter's files where the parameters agree
// (`same_outputs`).
use quantize_common::fixtures;

/// Cases where litequant deliberately differs from the converter, and why.
const DIFFERENT: &[(&str, &str)] = &[
    (
        "sum_hw_keepdims_int16",
        "SUM stays float: LiteRT's int16 SUM is wrong (reads int16 as bytes)",
    ),
    (
        "sum_hw_keepdims_int16io",
        "refused: SUM has no usable int16 kernel in LiteRT",
    ),
];

/// The operators that compute: all but QUANTIZE from float32 and DEQUANTIZE, with each
/// requantizing QUANTIZE (int16 to int16) placed right before the first operator that reads
/// its result, in that operator's input order (the converter and litequant place those
/// independent ops differently).
fn compute_ops(m: &Model) -> Vec<&litequant::model::Operator> {
    let sg = m.main();
    let requant = |op: &litequant::model::Operator| {
        matches!(op.op, Op::Quantize)
            && op
                .input(0)
                .is_some_and(|t| sg.tensors[t].dtype != DType::F32)
    };
    let mut out: Vec<&litequant::model::Operator> = Vec::new();
    let mut placed = vec![false; sg.operators.len()];
    for op in &sg.operators {
        if matches!(op.op, Op::Dequantize | Op::Quantize) {
            continue;
        }
        for t in op.input_tensors() {
            for (k, q) in sg.operators.iter().enumerate() {
                if !placed[k] && requant(q) && q.output_tensors().any(|o| o == t) {
                    placed[k] = true;
                    out.push(q);
                }
            }
        }
        out.push(op);
    }
    out.extend(
        sg.operators
            .iter()
            .enumerate()
            .filter(|(k, q)| !placed[*k] && requant(q))
            .map(|(_, q)| q),
    );
    out
}

fn tensor_params(t: &Tensor) -> (DType, Vec<i32>, Vec<u32>, Vec<i64>, i32, Option<Vec<u8>>) {
    let q = t.quant.clone().unwrap_or_else(QuantParams::default);
    (
        t.dtype,
        t.shape.clone(),
        q.scale.iter().map(|s| s.to_bits()).collect(),
        q.zero_point.clone(),
        if q.scale.len() > 1 {
            q.quantized_dimension
        } else {
            0
        },
        t.data.as_ref().map(|d| d.to_vec()),
    )
}

/// Every parameter difference (see the module docs); empty when the files agree.
fn param_diffs(ours: &Model, theirs: &Model) -> Vec<String> {
    let (a, b) = (compute_ops(ours), compute_ops(theirs));
    let name = |ops: &[&litequant::model::Operator]| -> Vec<String> {
        ops.iter().map(|o| o.op.name()).collect()
    };
    if name(&a) != name(&b) {
        return vec![format!(
            "operators: ours {:?}, theirs {:?}",
            name(&a),
            name(&b)
        )];
    }
    let (sa, sb) = (ours.main(), theirs.main());
    let mut d = Vec::new();
    let cmp = |d: &mut Vec<String>,
               what: String,
               x: Option<usize>,
               y: Option<usize>,
               sx: &litequant::model::Subgraph,
               sy: &litequant::model::Subgraph| {
        match (x, y) {
            (None, None) => {}
            (Some(x), Some(y)) => {
                let (px, py) = (tensor_params(&sx.tensors[x]), tensor_params(&sy.tensors[y]));
                if px != py {
                    let short =
                        |p: &(DType, Vec<i32>, Vec<u32>, Vec<i64>, i32, Option<Vec<u8>>)| {
                            format!(
                                "{} {:?} scales {:?} zp {:?} axis {} data {:?}",
                                p.0,
                                p.1,
                                p.2.iter().map(|&b| f32::from_bits(b)).collect::<Vec<_>>(),
                                p.3,
                                p.4,
                                p.5.as_ref().map(|v| v.len())
                            )
                        };
                    let data = match (&px.5, &py.5) {
                        (Some(u), Some(v)) if u.len() == v.len() => format!(
                            " ({} bytes differ)",
                            u.iter().zip(v).filter(|(p, q)| p != q).count()
                        ),
                        _ => String::new(),
                    };
                    d.push(format!(
                        "{what}: ours {}\n      theirs {}{data}",
                        short(&px),
                        short(&py)
                    ));
                }
            }
            (x, y) => d.push(format!("{what}: ours {x:?}, theirs {y:?}")),
        }
    };
    for (k, (x, y)) in a.iter().zip(&b).enumerate() {
        let op = x.op.name();
        if x.op != y.op {
            d.push(format!(
                "op {k} ({op}): options ours {:?}\n      theirs {:?}",
                x.op, y.op
            ));
        }
        if x.version != y.version {
            d.push(format!(
                "op {k} ({op}): version ours {} theirs {}",
                x.version, y.version
            ));
        }
        for i in 0..x.inputs.len().max(y.inputs.len()) {
            cmp(
                &mut d,
                format!("op {k} ({op}) input {i}"),
                x.input(i),
                y.input(i),
                sa,
                sb,
            );
        }
        for i in 0..x.outputs.len().max(y.outputs.len()) {
            let o = |op: &litequant::model::Operator| op.outputs.get(i).map(|&t| t as usize);
            cmp(
                &mut d,
                format!("op {k} ({op}) output {i}"),
                o(x),
                o(y),
                sa,
                sb,
            );
        }
    }
    for (what, xa, xb) in [
        ("input", &sa.inputs, &sb.inputs),
        ("output", &sa.outputs, &sb.outputs),
    ] {
        let key = |sg: &litequant::model::Subgraph, t: usize| {
            let q = sg.tensors[t].quant.clone().unwrap_or_default();
            (
                sg.tensors[t].dtype.to_string(),
                q.scale.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
                q.zero_point,
            )
        };
        let mut ka: Vec<_> = xa.iter().map(|&t| key(sa, t)).collect();
        let mut kb: Vec<_> = xb.iter().map(|&t| key(sb, t)).collect();
        ka.sort();
        kb.sort();
        if ka != kb {
            d.push(format!("model {what}s: ours {ka:?}, theirs {kb:?}"));
        }
    }
    d
}

/// Our file run on the reference engine over the golden inputs of the converter's file
/// gives LiteRT's outputs of the converter's file bit for bit (inputs and outputs matched by
/// name). Returns the outputs compared.
fn same_outputs(ours: &Model, theirs: &Model, golden: &std::path::Path) -> Result<usize, String> {
    use litequant::data::Npz;
    let mut npz = Npz::open(golden).map_err(|e| e.to_string())?;
    let (so, st) = (ours.main(), theirs.main());
    let by_name = |names: &[usize], sg: &litequant::model::Subgraph, other: &str| {
        names.iter().position(|&t| sg.tensors[t].name == other)
    };
    let mut session = ReferenceEngine.prepare(ours).map_err(|e| e.to_string())?;
    let ins: Vec<litequant::Tensor> = (0..st.inputs.len())
        .map(|k| npz.read(&format!("input_{k}")).unwrap())
        .collect();
    let outs: Vec<litequant::Tensor> = (0..st.outputs.len())
        .map(|k| npz.read(&format!("output_{k}")).unwrap())
        .collect();
    let order: Vec<usize> = (0..so.inputs.len())
        .map(|i| {
            let name = &so.tensors[so.inputs[i]].name;
            by_name(&st.inputs, st, name).unwrap_or(i)
        })
        .collect();
    let mut compared = 0;
    for s in 0..ins[0].shape()[0] {
        let sample = |t: &litequant::Tensor| {
            let shape = &t.shape()[1..];
            let n: usize = shape.iter().product();
            let buf = match t.buf() {
                litequant::Buf::F32(v) => litequant::Buf::F32(v[s * n..(s + 1) * n].to_vec()),
                litequant::Buf::I16(v) => litequant::Buf::I16(v[s * n..(s + 1) * n].to_vec()),
                other => panic!("unexpected golden dtype {:?}", other.dtype()),
            };
            litequant::Tensor::new(shape, buf).unwrap()
        };
        let x: Vec<litequant::Tensor> = order.iter().map(|&k| sample(&ins[k])).collect();
        let y = session.run(&x).map_err(|e| e.to_string())?;
        for (i, got) in y.iter().enumerate() {
            let name = &so.tensors[so.outputs[i]].name;
            let k = by_name(&st.outputs, st, name).unwrap_or(i);
            let want = sample(&outs[k]);
            let same = match (got.buf(), want.buf()) {
                (litequant::Buf::F32(a), litequant::Buf::F32(b)) => {
                    a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits())
                }
                (litequant::Buf::I16(a), litequant::Buf::I16(b)) => a == b,
                _ => false,
            };
            if !same || got.shape() != want.shape() {
                return Err(format!(
                    "sample {s} output {i} ('{name}') differs from LiteRT's"
                ));
            }
            compared += 1;
        }
    }
    Ok(compared)
}

fn pairs() -> Vec<(String, Model, Model, std::path::PathBuf, Int8Options)> {
    let dir = fixtures().join("int16");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let ops = fixtures().join("ops");
    let mut v = Vec::new();
    for (name, m) in manifest["models"].as_object().unwrap() {
        let opts = match m["variant"].as_str().unwrap() {
            "int16" => Int8Options::int16x8(),
            "int16io" => Int8Options {
                input_type: IoType::Int16,
                output_type: IoType::Int16,
                integer_only: true,
                ..Int8Options::int16x8()
            },
            _ => continue,
        };
        let float = ops.join(format!("{}_f32.tflite", m["case"].as_str().unwrap()));
        if !float.exists() {
            continue;
        }
        let calib = dir.join(m["calib_file"].as_str().unwrap());
        v.push((
            name.clone(),
            Model::from_file(&float).unwrap(),
            Model::from_file(dir.join(m["file"].as_str().unwrap())).unwrap(),
            calib,
            opts,
        ));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn calibrate_on(m: &Model, calib: &std::path::Path) -> litequant::Result<litequant::Stats> {
    let specs = ReferenceEngine.prepare(m)?.inputs().to_vec();
    let mut data = litequant::data::NpzDataset::for_inputs(calib, &specs)?;
    calibrate(
        m,
        &ConverterFloatEngine,
        &mut data,
        &CalibrationOptions::default(),
    )
}

#[test]
fn int16x8_against_the_converter() {
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let (mut exact, mut problems, mut expected) = (Vec::new(), Vec::new(), Vec::new());
    for (name, float, theirs, calib, opts) in pairs().into_iter().filter(|p| p.0.contains(&filter))
    {
        let stats = match calibrate_on(&float, &calib) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{name}: calibration: {e}"));
                continue;
            }
        };
        let known = DIFFERENT.iter().find(|(n, _)| *n == name);
        let ours = match (quantize_int8(&float, &stats, &opts), known) {
            (Ok(q), _) => q,
            (Err(e), Some((_, why))) => {
                expected.push(format!("{name}: {why} ({e})"));
                continue;
            }
            (Err(e), None) => {
                problems.push(format!("{name}: quantize: {e}"));
                continue;
            }
        };
        // What litequant writes runs on its reference engine.
        if let Err(e) = ReferenceEngine.prepare(&ours) {
            problems.push(format!("{name}: our file does not prepare: {e}"));
            continue;
        }
        let d = param_diffs(&ours, &theirs);
        match (d.is_empty(), known) {
            (true, None) => {
                let golden = fixtures().join("int16").join(format!("{name}.npz"));
                match same_outputs(&ours, &theirs, &golden) {
                    Ok(n) if n > 0 => exact.push(name),
                    Ok(_) => problems.push(format!("{name}: no output compared")),
                    Err(e) => problems.push(format!("{name}: {e}")),
                }
            }
            (true, Some(_)) => problems.push(format!("{name}: now equal; take it off DIFFERENT")),
            (false, Some((_, why))) => expected.push(format!("{name}: {why}")),
            (false, None) => problems.push(format!("{name}:\n    {}", d.join("\n    "))),
        }
    }
    println!("{} 16x8 files reproduced exactly: {exact:?}", exact.len());
    for e in &expected {
        println!("  differs as documented: {e}");
    }
    assert!(
        problems.is_empty(),
        "{} cases:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The reduced zoo models of `tests/fixtures/zoo_int16/` (`tools/make_int16_zoo.py`),
/// calibrated on the converter's crops: parameters equal to TF 2.21's 16x8 files, outputs to
/// LiteRT's.
#[test]
fn int16x8_zoo_against_the_converter() {
    let dir = fixtures().join("zoo_int16");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let (mut exact, mut problems) = (Vec::new(), Vec::new());
    for (name, m) in manifest["models"].as_object().unwrap() {
        let Some(file) = m["file"].as_str() else {
            continue;
        };
        let float = Model::from_file(dir.join(m["float"].as_str().unwrap())).unwrap();
        let theirs = Model::from_file(dir.join(file)).unwrap();
        let stats = quantize_common::calibrate_npy(&float, &dir.join(m["calib"].as_str().unwrap()));
        let ours = match quantize_int8(&float, &stats, &Int8Options::int16x8()) {
            Ok(q) => q,
            Err(e) => {
                problems.push(format!("{name}: quantize: {e}"));
                continue;
            }
        };
        // TF 2.21 shares one all-zero bias constant (`arith.constant`) between convolutions
        // and stores it with one consumer's scale `s_in · s_w`; litequant gives every
        // convolution its own zero bias at its own scale. Only those stored scales differ
        // (the data is zeros): allowed, counted, the outputs still compared.
        let (bias_scale, d): (Vec<String>, Vec<String>) = param_diffs(&ours, &theirs)
            .into_iter()
            .partition(|l| l.contains(" input 2: ") && l.ends_with("(0 bytes differ)"));
        if !d.is_empty() {
            problems.push(format!("{name}:\n    {}", d.join("\n    ")));
            continue;
        }
        if !bias_scale.is_empty() {
            println!(
                "{name}: {} bias scales differ (data equal)",
                bias_scale.len()
            );
        }
        let golden = dir.join(m["golden_file"].as_str().unwrap());
        match same_outputs(&ours, &theirs, &golden) {
            Ok(n) if n > 0 => exact.push(name.clone()),
            Ok(_) => problems.push(format!("{name}: no output compared")),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    println!("{} zoo 16x8 files reproduced: {exact:?}", exact.len());
    assert!(
        problems.is_empty(),
        "{} models:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
