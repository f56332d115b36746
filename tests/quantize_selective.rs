//! Selective quantization (`keep_float`) and float islands in `int8` mode against the
//! TensorFlow Lite converter (TF 2.21): `tests/fixtures/selective/`, made by
//! `tools/make_selective_pairs.py` (the converter's `QuantizationDebugger` with
//! `denylisted_nodes` / `denylisted_ops`, `get_nondebug_quantized_model()`; the `*_int8`
//! cases are the plain converter). Each case is calibrated on the converter's exact
//! representative samples, quantized with the matching `keep_float` (output tensor names, or
//! a builtin op name for `denylisted_ops`), and compared with the converter's model field
//! for field; then both models run on the reference engine over the held-out samples whose
//! LiteRT `BUILTIN_REF` results the fixture holds.
//!
//! Calibration as the converter's: float kernels in its summation order
//! ([`ConverterFloatEngine`]) and ranges widened where LiteRT runs an op in place
//! (`CalibrationOptions::converter_in_place`); every scale then equals the converter's to
//! the bit. What remains different, each pinned below: the debugger's metadata, and
//! MAX_POOL_2D, AVERAGE_POOL_2D and STRIDED_SLICE, which the converter quantizes although
//! they are denylisted.

mod quantize_common;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use litequant::data::{Npz, NpzDataset};
use litequant::model::{DType, Op};
use litequant::quant::passes::full_integer::activation_params;
use litequant::quant::passes::metadata::{model_hash, ConversionMetadata, CONVERSION_METADATA};
use litequant::quant::{quantize_int8_with_report, Int8Options, Int8Report};
use litequant::{
    calibrate, Buf, CalibrationOptions, ConverterFloatEngine, Engine, Model, Observer,
    ReferenceEngine,
};
use litequant::{Session, Stats, Tensor};
use quantize_common::{diffs, fixtures};

struct Case {
    name: String,
    model: String,
    float: Model,
    theirs: Model,
    calib: PathBuf,
    golden: PathBuf,
    keep_float: Vec<String>,
    /// Made through the debugger (every case but the plain `*_int8` ones).
    debugger: bool,
}

fn cases() -> Vec<Case> {
    let dir = fixtures().join("selective");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut v: Vec<Case> = manifest["cases"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, c)| {
            let file = |k: &str| dir.join(c[k].as_str().unwrap());
            Case {
                name: name.clone(),
                model: c["model"].as_str().unwrap().to_string(),
                float: Model::from_file(file("float_file")).unwrap(),
                theirs: Model::from_file(file("file")).unwrap(),
                calib: file("calib_file"),
                golden: file("golden_file"),
                keep_float: c["keep_float"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
                debugger: c["converter"]
                    .as_str()
                    .unwrap()
                    .starts_with("QuantizationDebugger"),
            }
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(v.len(), 19, "cases");
    v
}

fn ours(case: &Case) -> (Model, Int8Report, Stats) {
    ours_with(case, &CalibrationOptions::default())
}

/// Calibrated as the CLI does (the converter's float order) with `copts`, then quantized.
fn ours_with(case: &Case, copts: &CalibrationOptions) -> (Model, Int8Report, Stats) {
    let specs = ReferenceEngine
        .prepare(&case.float)
        .unwrap()
        .inputs()
        .to_vec();
    let mut data = NpzDataset::for_inputs(&case.calib, &specs).unwrap();
    let stats = calibrate(&case.float, &ConverterFloatEngine, &mut data, copts).unwrap();
    assert_eq!(stats.samples, 20, "{}", case.name);
    let opts = Int8Options {
        keep_float: case.keep_float.iter().map(|k| k.as_str().into()).collect(),
        ..Int8Options::int8()
    };
    let (q, report) = quantize_int8_with_report(&case.float, &stats, &opts).unwrap();
    (q, report, stats)
}

/// The converter's calibrator logs an op's inputs after the op ran; LiteRT runs some ops in
/// place (here ADD on an input whose only reader it is), so that input's range also spans
/// the op's output; litequant's calibration does the same by default. Per model: (the
/// overwritten tensor, the in-place op's output), as named in the float model.
const IN_PLACE: &[(&str, &str, &str)] = &[
    ("res", "BiasAdd_1;Conv2D_1;BiasAdd_1/bias1", "add"),
    ("mix", "Relu;BiasAdd;Conv2D;BiasAdd/bias1", "add"),
];

/// The int8 tensor of `m` that carries float tensor `name`'s parameters: the tensor itself,
/// or the output of the QUANTIZE that reads it (after a float op).
fn carrier(m: &Model, name: &str) -> usize {
    let sg = m.main();
    let t = sg.tensors.iter().position(|t| t.name == name).unwrap();
    if sg.tensors[t].dtype == DType::I8 {
        return t;
    }
    sg.operators
        .iter()
        .find(|o| matches!(o.op, Op::Quantize) && o.inputs[0] == t as i32)
        .map(|o| o.outputs[0] as usize)
        .unwrap_or_else(|| panic!("no int8 carrier of '{name}'"))
}

#[test]
fn the_converters_selective_models_are_reproduced() {
    let mut problems = Vec::new();
    let mut exact = 0;
    for case in cases() {
        let (q, report, _) = ours(&case);
        if IGNORED.iter().any(|(n, _, _)| *n == case.name) {
            continue; // see `the_converter_quantizes_some_denylisted_ops`
        }
        // Field for field, every scale to the bit; the debugger's metadata apart.
        let mut differs = false;
        for d in diffs(&q, &case.theirs) {
            if !(case.debugger && d.starts_with("metadata")) {
                problems.push(format!("{}: {d}", case.name));
                differs = true;
            }
        }
        exact += usize::from(!differs);
        // The ops left float are the converter's float ops.
        let theirs_float: Vec<String> = case
            .theirs
            .main()
            .operators
            .iter()
            .filter(|o| !matches!(o.op, Op::Quantize | Op::Dequantize))
            .filter(|o| {
                o.output_tensors()
                    .all(|t| case.theirs.main().tensors[t].dtype == DType::F32)
            })
            .map(|o| o.op.name())
            .collect();
        let ours_float: Vec<String> = report.float_ops.iter().map(|f| f.op.name()).collect();
        if ours_float != theirs_float {
            problems.push(format!(
                "{}: float ops ours {ours_float:?} theirs {theirs_float:?}",
                case.name
            ));
        }
    }
    println!("{exact} selective models equal the converter's");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(exact, 19 - IGNORED.len());
}

#[test]
fn the_converters_calibrator_sees_values_written_in_place() {
    let mut checked = 0;
    for case in cases() {
        let Some(&(_, x, y)) = IN_PLACE.iter().find(|(m, _, _)| *m == case.model) else {
            continue;
        };
        let index = |name: &str| {
            let sg = case.float.main();
            sg.tensors.iter().position(|t| t.name == name).unwrap()
        };
        // LiteRT's planner makes the two share a buffer.
        let pairs = litequant::quant::calibrate::in_place_pairs(&case.float);
        assert!(
            pairs.contains(&(index(x), index(y))),
            "{}: {pairs:?}",
            case.name
        );
        let quant = |m: &Model, t: usize| {
            let qp = m.main().tensors[t].quant.clone().unwrap();
            (qp.scale[0], qp.zero_point[0])
        };
        let theirs = quant(&case.theirs, carrier(&case.theirs, x));
        // Calibrated as TF's calibrator: the range of x spans y's; the converter's
        // parameters to the bit.
        let (q, _, stats) = ours(&case);
        assert_eq!(quant(&q, carrier(&q, x)), theirs, "{}", case.name);
        // The values x holds: a narrower range, other parameters.
        let own_opts = CalibrationOptions {
            converter_in_place: false,
            ..Default::default()
        };
        let (q_own, _, own) = ours_with(&case, &own_opts);
        let (sx, sy) = (own.tensors[&index(x)], own.tensors[&index(y)]);
        let own_params = activation_params(sx.min, sx.max);
        assert_eq!(
            quant(&q_own, carrier(&q_own, x)),
            (own_params.0, own_params.1),
            "{}",
            case.name
        );
        assert_ne!((own_params.0, own_params.1), theirs, "{}", case.name);
        let wide = stats.tensors[&index(x)];
        assert_eq!(
            (wide.min, wide.max),
            (sx.min.min(sy.min), sx.max.max(sy.max)),
            "{}",
            case.name
        );
        checked += 1;
    }
    assert_eq!(checked, 9);
}

/// Ops the converter quantizes although they are denylisted (same-scale ops on an int8
/// input; RESHAPE is kept float): seen in the cases below and in `subsets.json`.
const IGNORED_OPS: &[&str] = &["MAX_POOL_2D", "AVERAGE_POOL_2D", "STRIDED_SLICE"];

/// Cases whose denylist the converter ignores (same-scale ops on an int8 input: its model
/// is its plain int8 model), with that plain case and the op litequant keeps float.
const IGNORED: &[(&str, &str, &str)] = &[
    ("res_kf_pool", "res_int8", "MAX_POOL_2D"),
    ("mix_kf_slice", "mix_int8", "STRIDED_SLICE"),
];

#[test]
fn the_converter_quantizes_some_denylisted_ops() {
    let all = cases();
    let find = |n: &str| all.iter().find(|c| c.name == n).unwrap();
    for &(name, plain, op) in IGNORED {
        let (kept, plain) = (find(name), find(plain));
        for d in diffs(&kept.theirs, &plain.theirs) {
            assert!(d.starts_with("metadata"), "{name}: {d}");
        }
        // litequant honours the request: the op float between DEQUANTIZE and QUANTIZE.
        let (q, report, _) = ours(kept);
        let names: Vec<String> = report.float_ops.iter().map(|f| f.op.name()).collect();
        assert_eq!(names, [op], "{name}");
        let ops: Vec<String> = q.main().operators.iter().map(|o| o.op.name()).collect();
        let at = ops.iter().position(|o| o == op).unwrap();
        assert_eq!(
            &ops[at - 1..=at + 1],
            ["DEQUANTIZE", op, "QUANTIZE"],
            "{name}"
        );
    }
}

#[test]
fn the_debuggers_metadata_is_the_calibrated_models() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.debugger) {
        let (q, _, _) = ours(case);
        let names = |m: &Model| {
            m.metadata
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&case.theirs),
            [CONVERSION_METADATA, "min_runtime_version"]
        );
        assert_eq!(names(&q), ["min_runtime_version", CONVERSION_METADATA]);
        let data = |m: &Model, n: &str| m.metadata(n).unwrap().data.clone();
        assert_eq!(
            data(&q, "min_runtime_version"),
            data(&case.theirs, "min_runtime_version")
        );
        let parse = |m: &Model| ConversionMetadata::parse(&data(m, CONVERSION_METADATA)).unwrap();
        let (mut a, b) = (parse(&q), parse(&case.theirs));
        // The debugger returns the quantizer's output as is: the entry still describes the
        // calibrated float model. Ours describes the model written, like the converter.
        assert_eq!(b.model_hash, model_hash(&case.float), "{}", case.name);
        assert_eq!(a.model_hash, model_hash(&q), "{}", case.name);
        a.model_hash = b.model_hash;
        assert_eq!(a, b, "{}", case.name);
        checked += 1;
    }
    assert_eq!(checked, 15);
}

struct Record(HashMap<usize, Tensor>);
impl Observer for Record {
    fn observe(&mut self, tensor: usize, _: &str, value: &Tensor) -> litequant::Result<()> {
        self.0.insert(tensor, value.clone());
        Ok(())
    }
}

/// Run `m` on sample `s` of the golden inputs, recording every computed tensor.
fn run(m: &Model, x: &Tensor, s: usize) -> (Vec<Tensor>, HashMap<usize, Tensor>) {
    let shape = &x.shape()[1..];
    let n: usize = shape.iter().product();
    let input = Tensor::from_f32(shape, &x.as_f32().unwrap()[s * n..(s + 1) * n]).unwrap();
    let mut rec = Record(HashMap::new());
    let mut session = ReferenceEngine.prepare(m).unwrap();
    let out = session.run_observed(&[input], Some(&mut rec)).unwrap();
    (out, rec.0)
}

fn same(a: &Tensor, b: &Tensor, float_tol: bool) -> bool {
    match (a.buf(), b.buf()) {
        (Buf::F32(x), Buf::F32(y)) if float_tol => x
            .iter()
            .zip(y)
            .all(|(p, q)| (p - q).abs() <= 1e-5 + 1e-5 * q.abs()),
        (x, y) => x == y,
    }
}

/// The golden's sample `s` of `key` as a tensor (the leading sample axis dropped).
fn golden_sample(npz: &mut Npz, key: &str, s: usize) -> Tensor {
    let t = npz.read(key).unwrap();
    let shape = t.shape()[1..].to_vec();
    let n: usize = shape.iter().product();
    let buf = match t.buf() {
        Buf::F32(v) => Buf::F32(v[s * n..(s + 1) * n].to_vec()),
        Buf::I8(v) => Buf::I8(v[s * n..(s + 1) * n].to_vec()),
        Buf::I32(v) => Buf::I32(v[s * n..(s + 1) * n].to_vec()),
        other => panic!("{key}: {:?}", other.dtype()),
    };
    Tensor::new(&shape, buf).unwrap()
}

#[test]
fn the_engine_reproduces_litert_on_both_models() {
    let mut report = Vec::new();
    for case in cases() {
        let (q, _, _) = ours(&case);
        let mut npz = Npz::open(&case.golden).unwrap();
        let x = npz.read("input_0").unwrap();
        let keys: Vec<String> = npz
            .names()
            .into_iter()
            .filter(|k| k.starts_with('t'))
            .collect();
        let samples = x.shape()[0];
        let (mut exact, mut max_diff) = (0, 0f32);
        for s in 0..samples {
            // The converter's model on the reference engine: every tensor LiteRT recorded,
            // integers exactly, floats within the float kernels' tolerance.
            let (out, rec) = run(&case.theirs, &x, s);
            let golden = golden_sample(&mut npz, "output_0", s);
            assert!(same(&out[0], &golden, true), "{} sample {s}", case.name);
            for k in &keys {
                let t: usize = k[1..].parse().unwrap();
                let g = golden_sample(&mut npz, k, s);
                let ours_t = rec.get(&t).unwrap_or_else(|| panic!("{}: {k}", case.name));
                assert!(same(ours_t, &g, true), "{} sample {s} {k}", case.name);
            }
            // Our model on the same inputs.
            let (mine, _) = run(&q, &x, s);
            exact += usize::from(same(&mine[0], &golden, false));
            let (a, b) = (mine[0].as_f32().unwrap(), golden.as_f32().unwrap());
            for (p, g) in a.iter().zip(b) {
                max_diff = max_diff.max((p - g).abs());
            }
        }
        report.push(format!(
            "{}: {exact}/{samples} outputs identical to LiteRT's on the converter's model, max |diff| {max_diff}",
            case.name
        ));
        // The models are the same (ranges widened as the converter's calibrator sees
        // in-place writes): identical outputs.
        assert_eq!(exact, samples, "{}", report.last().unwrap());
    }
    println!("{}", report.join("\n"));
}

#[test]
fn the_cli_writes_the_librarys_model() {
    let all = cases();
    let case = all.iter().find(|c| c.name == "cnn_kf_op_conv").unwrap();
    let (q, _, _) = ours(case);
    let out = quantize_common::temp_path("selective-cli");
    let dir = fixtures().join("selective");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_litequant"))
        .args(["quantize", "--keep-float", "CONV_2D", "--calib"])
        .arg(dir.join("cnn.calib.npz"))
        .arg(dir.join("cnn_f32.tflite"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let written = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).ok();
    assert_eq!(written, q.to_bytes().unwrap());
}

/// Every set of one or two ops of the cnn, res and mix models kept float: the converter's
/// layout (`subsets.json`: tensor names and types in order, operators and their output
/// types) is ours; where the converter ignored the denylist (`IGNORED_OPS`), ours keeps those
/// ops float, and without them in the list it is the converter's.
#[test]
fn every_small_keep_float_set_is_laid_out_as_the_converter_does() {
    let dir = fixtures().join("selective");
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("subsets.json")).unwrap()).unwrap();
    let all = cases();
    let mut models: HashMap<String, (Model, Stats)> = HashMap::new();
    let (mut same, mut ignored, mut problems) = (0, 0, Vec::new());
    for row in &rows {
        let model = row["model"].as_str().unwrap();
        let (float, stats) = models.entry(model.to_string()).or_insert_with(|| {
            let case = all.iter().find(|c| c.model == model).unwrap();
            let (_, _, stats) = ours(case);
            (case.float.clone(), stats)
        });
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect()
        };
        let keep = strings(&row["keep_float"]);
        let quantize = |keep_float: Vec<String>| {
            let opts = Int8Options {
                keep_float: keep_float.into_iter().map(Into::into).collect(),
                ..Int8Options::int8()
            };
            quantize_int8_with_report(float, stats, &opts).unwrap()
        };
        let (mut q, report) = quantize(keep.clone());
        let mut retried = false;
        let pairs = |key: &str| -> Vec<(String, String)> {
            row[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let p = strings(p);
                    (p[0].clone(), p[1].clone())
                })
                .collect()
        };
        let (tensors, ops) = (pairs("tensors"), pairs("ops"));
        let theirs_float = ops
            .iter()
            .filter(|(o, t)| t == "FLOAT32" && o != "DEQUANTIZE")
            .count();
        if report.float_ops.len() != theirs_float {
            // Only where the converter quantized a denylisted same-scale op.
            let extra = report
                .float_ops
                .iter()
                .filter(|f| IGNORED_OPS.contains(&f.op.name().as_str()))
                .count();
            assert_eq!(report.float_ops.len() - extra, theirs_float, "{keep:?}");
            ignored += 1;
            retried = true;
            // Without those ops in the list, the converter's layout.
            let sg = float.main();
            let honoured: Vec<String> = keep
                .iter()
                .filter(|n| {
                    sg.operators.iter().all(|o| {
                        !(o.output_tensors().any(|t| sg.tensors[t].name == **n)
                            && IGNORED_OPS.contains(&o.op.name().as_str()))
                    })
                })
                .cloned()
                .collect();
            q = quantize(honoured).0;
        }
        let sg = q.main();
        let ours_tensors: Vec<(String, String)> = sg
            .tensors
            .iter()
            .map(|t| (t.name.clone(), t.dtype.name()))
            .collect();
        let ours_ops: Vec<(String, String)> = sg
            .operators
            .iter()
            .map(|o| (o.op.name(), sg.tensors[o.outputs[0] as usize].dtype.name()))
            .collect();
        // After a denylisted op the converter quantized anyway, its DEQUANTIZE for a float
        // reader is `tfl.dequantize` rather than the same-scale output's name: names may
        // differ there only.
        let dequantized: HashSet<String> = sg
            .operators
            .iter()
            .filter(|o| matches!(o.op, Op::Dequantize))
            .map(|o| sg.tensors[o.outputs[0] as usize].name.clone())
            .collect();
        let tensors_match = ours_tensors.len() == tensors.len()
            && ours_tensors
                .iter()
                .zip(&tensors)
                .all(|(a, b)| a == b || (retried && a.1 == b.1 && dequantized.contains(&a.0)));
        if ours_ops == ops && tensors_match {
            same += 1;
        } else {
            let differing: Vec<String> = ours_tensors
                .iter()
                .zip(&tensors)
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| format!("tensor {i}: ours {a:?} theirs {b:?}"))
                .collect();
            problems.push(format!(
                "{model} {keep:?}:\n  ours   {ours_ops:?}\n  theirs {ops:?}\n  {}",
                differing.join("\n  ")
            ));
        }
    }
    println!("{same} converter layouts reproduced ({ignored} once the ops it ignored are dropped)");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(same, rows.len());
    assert_eq!(ignored, 16);
}

/// An integer input type for an input that only kept-float ops read is an error naming the
/// input (before, the input silently stayed float32).
#[test]
fn an_integer_input_type_for_an_input_only_float_ops_read_is_refused() {
    use litequant::quant::{quantize, IoType, QuantizeOptions};
    let float = Model::from_file(fixtures().join("cnn_float32.tflite")).unwrap();
    let stats = quantize_common::calibrate_npy(&float, &fixtures().join("digits_calib.npy"));
    let opts = QuantizeOptions {
        keep_float: vec!["CONV_2D".into()],
        input_type: IoType::Int8,
        ..QuantizeOptions::int8()
    };
    let e = quantize(&float, Some(&stats), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("read only by ops that stay float") && e.contains("serving_default_image"),
        "{e}"
    );
    // Quantized, the same input takes the type asked for.
    let opts = QuantizeOptions {
        input_type: IoType::Int8,
        ..QuantizeOptions::int8()
    };
    let (q, _) = quantize(&float, Some(&stats), &opts).unwrap();
    assert_eq!(q.main().tensors[q.main().inputs[0]].dtype, DType::I8);
}
