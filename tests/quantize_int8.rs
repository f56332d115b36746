//! Full-integer quantization against the TensorFlow Lite converter: the digits CNN and MLP
//! calibrated on the converter's representative dataset (`digits_calib.npy`, the same 100
//! samples in order) on the reference engine, quantized in `int8` (float I/O) and
//! `int8-only` (int8 I/O) modes, and compared with the converter's `*_int8.tflite` and
//! `*_int8_only.tflite` field for field, then run on the held-out digits.

mod quantize_common;

use litequant::data::{NpyDataset, Npz};
use litequant::quant::{quantize_int8, quantize_int8_with_report, Int8Options};
use litequant::{
    calibrate, Buf, CalibrationOptions, ConverterFloatEngine, Engine, Model, ReferenceEngine,
    Session,
};
use quantize_common::{diffs, fixtures};

/// `model` calibrated on the digits as the converter does: float kernels in the converter's
/// summation order ([`ConverterFloatEngine`]).
fn calibrated(model: &str) -> (Model, litequant::Stats) {
    calibrated_on(model, &ConverterFloatEngine)
}

fn calibrated_on<E: Engine>(model: &str, engine: &E) -> (Model, litequant::Stats) {
    let m = Model::from_file(fixtures().join(model)).unwrap();
    let spec = ReferenceEngine.prepare(&m).unwrap().inputs()[0].clone();
    let mut data = NpyDataset::open(fixtures().join("digits_calib.npy"))
        .unwrap()
        .with_input(&spec)
        .unwrap();
    let stats = calibrate(&m, engine, &mut data, &CalibrationOptions::default()).unwrap();
    assert_eq!(stats.samples, 100);
    (m, stats)
}

const CASES: [(&str, &str, &str); 4] = [
    ("cnn_float32.tflite", "cnn_int8.tflite", "int8"),
    ("cnn_float32.tflite", "cnn_int8_only.tflite", "int8_only"),
    ("mlp_float32.tflite", "mlp_int8.tflite", "int8"),
    ("mlp_float32.tflite", "mlp_int8_only.tflite", "int8_only"),
];

fn options(mode: &str) -> Int8Options {
    match mode {
        "int8" => Int8Options::int8(),
        _ => Int8Options::int8_only_int8_io(),
    }
}

/// What calibrating on the reference engine's float kernels (TFLite's reference kernels,
/// another summation order than the optimized kernels the converter calibrates with) changes:
/// the scales of the FULLY_CONNECTED outputs (and of the bias that the next FULLY_CONNECTED
/// derives from such an output), by a few float32 ulp. Per case: tensor name → ulp distance
/// (ours − theirs, on the bits of every scale; the largest by magnitude).
fn residual(case: &str) -> Vec<(&'static str, i64)> {
    match case {
        "cnn_int8.tflite" | "cnn_int8_only.tflite" => {
            vec![("cnn_1/fc_1/MatMul;cnn_1/fc_1/BiasAdd", -2)]
        }
        "mlp_int8.tflite" | "mlp_int8_only.tflite" => vec![
            (
                "mlp_1/fc1_1/MatMul;mlp_1/fc1_1/Relu;mlp_1/fc1_1/BiasAdd",
                -2,
            ),
            ("mlp_1/fc2_1/MatMul;mlp_1/fc2_1/BiasAdd", 2),
            // s_in × s_w[c] with s_in the first FC's output scale above.
            ("mlp_1/fc2_1/BiasAdd", -3),
        ],
        _ => vec![],
    }
}

/// Tensors whose quantization differs only in scale bits (same length, zero points, axis):
/// (name, the signed ulp distance of largest magnitude).
fn scale_ulps(ours: &Model, theirs: &Model) -> Vec<(String, i64)> {
    let mut v = Vec::new();
    for (a, b) in ours.main().tensors.iter().zip(&theirs.main().tensors) {
        let (Some(qa), Some(qb)) = (&a.quant, &b.quant) else {
            continue;
        };
        if qa.scale.len() != qb.scale.len() || qa.zero_point != qb.zero_point {
            continue;
        }
        let worst = qa
            .scale
            .iter()
            .zip(&qb.scale)
            .map(|(x, y)| x.to_bits() as i64 - y.to_bits() as i64)
            .max_by_key(|d| d.abs())
            .unwrap_or(0);
        if worst != 0 {
            v.push((b.name.clone(), worst));
        }
    }
    v
}

#[test]
fn the_converters_int8_models_are_reproduced() {
    let mut problems = Vec::new();
    for (float, conv, mode) in CASES {
        let (m, stats) = calibrated(float);
        let theirs = Model::from_file(fixtures().join(conv)).unwrap();
        let ours = quantize_int8(&m, &stats, &options(mode)).unwrap();
        // Field for field, every scale to the bit.
        for d in diffs(&ours, &theirs) {
            problems.push(format!("{conv}: {d}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Calibrated in the reference kernels' summation order instead, the models differ from the
/// converter's exactly by the documented scale bits (`residual`) and in nothing else: the
/// summation order is the whole difference.
#[test]
fn reference_order_calibration_moves_only_the_documented_scales() {
    let mut problems = Vec::new();
    for (float, conv, mode) in CASES {
        let (m, stats) = calibrated_on(float, &ReferenceEngine);
        let theirs = Model::from_file(fixtures().join(conv)).unwrap();
        let ours = quantize_int8(&m, &stats, &options(mode)).unwrap();
        let expected = residual(conv);
        let mut ulps = scale_ulps(&ours, &theirs);
        ulps.sort();
        let mut want: Vec<(String, i64)> =
            expected.iter().map(|(n, u)| (n.to_string(), *u)).collect();
        want.sort();
        if ulps != want {
            problems.push(format!(
                "{conv}: scale residual {ulps:?}, documented {want:?}"
            ));
        }
        for d in diffs(&ours, &theirs) {
            let documented = d.contains("): quantization: ")
                && expected
                    .iter()
                    .any(|(n, _)| d.contains(&format!("('{n}')")));
            if !documented {
                problems.push(format!("{conv}: {d}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Quantize a float sample to an int8 model input as TFLite's QUANTIZE does.
fn to_input(model: &Model, x: &[f32], shape: &[usize]) -> litequant::Tensor {
    let t = &model.main().tensors[model.main().inputs[0]];
    match t.dtype {
        litequant::model::DType::I8 => {
            let q = t.quant.as_ref().unwrap();
            let (s, zp) = (q.scale[0], q.zero_point[0] as i32);
            let v: Vec<i8> = x
                .iter()
                .map(|&f| ((f / s).round() as i32 + zp).clamp(-128, 127) as i8)
                .collect();
            litequant::Tensor::from_i8(shape, &v).unwrap()
        }
        _ => litequant::Tensor::from_f32(shape, x).unwrap(),
    }
}

/// The output as float (dequantized with the output's parameters for int8 outputs).
fn output_f32(model: &Model, out: &litequant::Tensor) -> Vec<f32> {
    let t = &model.main().tensors[model.main().outputs[0]];
    match out.buf() {
        Buf::F32(v) => v.clone(),
        Buf::I8(v) => {
            let q = t.quant.as_ref().unwrap();
            v.iter()
                .map(|&x| (i32::from(x) - q.zero_point[0] as i32) as f32 * q.scale[0])
                .collect()
        }
        other => panic!("output {:?}", other.dtype()),
    }
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[test]
fn held_out_accuracy_equals_the_converters() {
    let mut npz = Npz::open(fixtures().join("digits_holdout.npz")).unwrap();
    let x = npz.read("x").unwrap();
    let y = npz.read("y").unwrap();
    let labels: Vec<i64> = match y.buf() {
        Buf::I64(v) => v.clone(),
        other => panic!("labels {:?}", other.dtype()),
    };
    let xs = x.as_f32().unwrap();
    let n = labels.len();
    let per = xs.len() / n;
    for (float, conv, mode) in CASES {
        let (m, stats) = calibrated(float);
        let theirs = Model::from_file(fixtures().join(conv)).unwrap();
        let (ours, report) = quantize_int8_with_report(&m, &stats, &options(mode)).unwrap();
        assert!(
            report.float_ops.is_empty(),
            "{conv}: {:?}",
            report.float_ops
        );
        // Written and read back unchanged.
        assert_eq!(Model::from_bytes(&ours.to_bytes().unwrap()).unwrap(), ours);
        let shape: Vec<usize> = m.main().tensors[m.main().inputs[0]]
            .shape
            .iter()
            .map(|&d| d as usize)
            .collect();
        let mut a = ReferenceEngine.prepare(&ours).unwrap();
        let mut b = ReferenceEngine.prepare(&theirs).unwrap();
        let (mut right_a, mut right_b, mut same_top1, mut identical) = (0, 0, 0, 0);
        let mut max_err = 0f32;
        for s in 0..n {
            let sample = &xs[s * per..(s + 1) * per];
            let oa = a.run(&[to_input(&ours, sample, &shape)]).unwrap();
            let ob = b.run(&[to_input(&theirs, sample, &shape)]).unwrap();
            let (fa, fb) = (output_f32(&ours, &oa[0]), output_f32(&theirs, &ob[0]));
            let (ta, tb) = (argmax(&fa), argmax(&fb));
            right_a += usize::from(ta as i64 == labels[s]);
            right_b += usize::from(tb as i64 == labels[s]);
            same_top1 += usize::from(ta == tb);
            identical += usize::from(fa == fb);
            for (p, q) in fa.iter().zip(&fb) {
                max_err = max_err.max((p - q).abs());
            }
        }
        println!(
            "{conv}: accuracy ours {right_a}/{n} converter {right_b}/{n}; top-1 agreement {same_top1}/{n}; \
             identical outputs {identical}/{n}; max |diff| {max_err}"
        );
        assert_eq!(right_a, right_b, "{conv}: accuracy");
        assert_eq!(same_top1, n, "{conv}: top-1 agreement");
        // The FC output scales differ by a few ulp (see `residual`): the int8 outputs may
        // differ by at most one step of the softmax output (1/256) on a few samples.
        assert!(
            max_err <= 1.0 / 256.0 + 1e-6,
            "{conv}: max |diff| {max_err}"
        );
    }
}

fn op_names(m: &Model) -> Vec<String> {
    m.main().operators.iter().map(|o| o.op.name()).collect()
}

#[test]
fn ops_kept_float_sit_between_dequantize_and_quantize() {
    let (m, stats) = calibrated("cnn_float32.tflite");
    let opts = Int8Options {
        keep_float: vec!["cnn_1/maxpool_1/MaxPool2d".into()],
        ..Int8Options::int8()
    };
    let (q, report) = quantize_int8_with_report(&m, &stats, &opts).unwrap();
    assert_eq!(report.float_ops.len(), 1, "{:?}", report.float_ops);
    assert_eq!(
        (
            report.float_ops[0].index,
            report.float_ops[0].op.name().as_str()
        ),
        (2, "MAX_POOL_2D")
    );
    assert_eq!(
        op_names(&q),
        [
            "QUANTIZE",
            "CONV_2D",
            "DEPTHWISE_CONV_2D",
            "DEQUANTIZE",
            "MAX_POOL_2D",
            "QUANTIZE",
            "AVERAGE_POOL_2D",
            "RESHAPE",
            "FULLY_CONNECTED",
            "SOFTMAX",
            "DEQUANTIZE"
        ]
    );
    let sg = q.main();
    let pool = &sg.operators[4];
    for t in pool.input_tensors().chain(pool.output_tensors()) {
        assert_eq!(sg.tensors[t].dtype, litequant::model::DType::F32);
    }
    // The QUANTIZE after the float op carries the pool's input parameters (a same-scale op
    // kept float, as the converter does for a float RESHAPE, tests/quantize_selective.rs),
    // and the average pool (same scale) carries them on.
    let requant = sg.tensors[sg.operators[5].outputs[0] as usize]
        .quant
        .clone()
        .unwrap();
    let pool_in = sg.tensors[sg.operators[3].inputs[0] as usize]
        .quant
        .clone()
        .unwrap();
    assert_eq!(requant, pool_in);
    let avg = sg.tensors[sg.operators[6].outputs[0] as usize]
        .quant
        .clone()
        .unwrap();
    assert_eq!(requant.scale, avg.scale);
    // It runs, and classifies the held-out digits like the converter's full-int8 model.
    let theirs = Model::from_file(fixtures().join("cnn_int8.tflite")).unwrap();
    let mut npz = Npz::open(fixtures().join("digits_holdout.npz")).unwrap();
    let x = npz.read("x").unwrap();
    let xs = x.as_f32().unwrap();
    let mut a = ReferenceEngine.prepare(&q).unwrap();
    let mut b = ReferenceEngine.prepare(&theirs).unwrap();
    let mut agree = 0;
    for s in 0..200 {
        let inp = litequant::Tensor::from_f32(&[1, 8, 8, 1], &xs[s * 64..(s + 1) * 64]).unwrap();
        let oa = a.run(std::slice::from_ref(&inp)).unwrap();
        let ob = b.run(&[inp]).unwrap();
        agree += usize::from(argmax(oa[0].as_f32().unwrap()) == argmax(ob[0].as_f32().unwrap()));
    }
    assert!(agree >= 198, "top-1 agreement {agree}/200");
}

#[test]
fn int8_only_lists_every_op_that_cannot_be_quantized() {
    let (mut m, stats) = calibrated("cnn_float32.tflite");
    // SOFTMAX → LOG (no int8 rule in the quantizer), and MAX_POOL kept float.
    m.subgraphs[0].operators[6].op = litequant::model::Op::Other(litequant::model::OtherOp {
        code: 73, // LOG
        custom_code: None,
        options: Default::default(),
        custom_options: Vec::new(),
        custom_options_format: 0,
    });
    let opts = Int8Options {
        keep_float: vec!["cnn_1/maxpool_1/MaxPool2d".into()],
        ..Int8Options::int8_only_int8_io()
    };
    let err = quantize_int8(&m, &stats, &opts).unwrap_err().to_string();
    assert!(err.contains("2 operator(s) cannot be quantized"), "{err}");
    assert!(
        err.contains("operator 2 (MAX_POOL_2D): kept float"),
        "{err}"
    );
    assert!(err.contains("operator 6 (LOG)"), "{err}");
    // The int8 mode leaves them float instead, and says so.
    let (q, report) = quantize_int8_with_report(&m, &stats, &Int8Options::int8()).unwrap();
    assert_eq!(report.float_ops.len(), 1);
    assert_eq!(report.float_ops[0].index, 6);
    let names = op_names(&q);
    assert_eq!(&names[names.len() - 2..], ["DEQUANTIZE", "LOG"]);
}

#[test]
fn uint8_io_requantizes_with_zero_point_plus_128() {
    let (m, stats) = calibrated("cnn_float32.tflite");
    let opts = Int8Options {
        input_type: litequant::quant::IoType::Uint8,
        output_type: litequant::quant::IoType::Uint8,
        ..Int8Options::int8_only_int8_io()
    };
    let q = quantize_int8(&m, &stats, &opts).unwrap();
    let int8 = quantize_int8(&m, &stats, &Int8Options::int8_only_int8_io()).unwrap();
    let names = op_names(&q);
    assert_eq!(names.first().map(String::as_str), Some("QUANTIZE"));
    assert_eq!(names.last().map(String::as_str), Some("QUANTIZE"));
    let (sg, s8) = (q.main(), int8.main());
    for (u, i) in [(sg.inputs[0], s8.inputs[0]), (sg.outputs[0], s8.outputs[0])] {
        let (u, i) = (&sg.tensors[u], &s8.tensors[i]);
        assert_eq!(u.dtype, litequant::model::DType::U8);
        assert_eq!(u.name, i.name);
        let (qu, qi) = (u.quant.as_ref().unwrap(), i.quant.as_ref().unwrap());
        assert_eq!(qu.scale, qi.scale);
        assert_eq!(qu.zero_point[0], qi.zero_point[0] + 128);
    }
    // The int8 core is the int8-only model's; uint8 inputs run to the same result.
    let mut a = ReferenceEngine.prepare(&q).unwrap();
    let mut b = ReferenceEngine.prepare(&int8).unwrap();
    let mut npz = Npz::open(fixtures().join("digits_holdout.npz")).unwrap();
    let x = npz.read("x").unwrap();
    let xs = x.as_f32().unwrap();
    for s in 0..20 {
        let sample = &xs[s * 64..(s + 1) * 64];
        let i8in = to_input(&int8, sample, &[1, 8, 8, 1]);
        let u8in: Vec<u8> = i8in
            .as_i8()
            .unwrap()
            .iter()
            .map(|&v| (i32::from(v) + 128) as u8)
            .collect();
        let oa = a
            .run(&[litequant::Tensor::from_u8(&[1, 8, 8, 1], &u8in).unwrap()])
            .unwrap();
        let ob = b.run(&[i8in]).unwrap();
        let back: Vec<i8> = oa[0]
            .as_u8()
            .unwrap()
            .iter()
            .map(|&v| (i32::from(v) - 128) as i8)
            .collect();
        assert_eq!(back, ob[0].as_i8().unwrap(), "sample {s}");
    }
}

/// The op fixtures' converter pairs of the int8 family, with the converter's exact
/// representative samples (`ops/CASE.calib.npz`): (name, float, converter model, calib,
/// options).
fn op_pairs() -> Vec<(String, Model, Model, std::path::PathBuf, Int8Options)> {
    let dir = fixtures().join("ops");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let models = manifest["models"].as_object().unwrap();
    let mut v = Vec::new();
    for (name, m) in models {
        let variant = m["variant"].as_str().unwrap();
        let opts = match variant {
            "int8" => Int8Options::int8(),
            "int8io" => Int8Options::int8_only_int8_io(),
            "uint8io" => Int8Options {
                input_type: litequant::quant::IoType::Uint8,
                output_type: litequant::quant::IoType::Uint8,
                ..Int8Options::int8_only_int8_io()
            },
            _ => continue,
        };
        let case = &m["case"];
        // Cases made only in the int8 family (requant_concat) have no float model.
        let Some(float) = models
            .values()
            .find(|f| &f["case"] == case && f["variant"] == "f32")
        else {
            continue;
        };
        let calib = dir.join(m["calib_file"].as_str().expect("calib_file"));
        v.push((
            name.clone(),
            Model::from_file(dir.join(float["file"].as_str().unwrap())).unwrap(),
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
fn op_fixtures_against_the_converter() {
    let mut exact = Vec::new();
    let mut problems = Vec::new();
    let pairs = op_pairs();
    let v_len = pairs.len();
    for (name, float, theirs, calib, opts) in pairs {
        let stats = match calibrate_on(&float, &calib) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{name}: calibration: {e}"));
                continue;
            }
        };
        let ours = match quantize_int8(&float, &stats, &opts) {
            Ok(q) => q,
            Err(e) => {
                problems.push(format!("{name}: quantize: {e}"));
                continue;
            }
        };
        let d = diffs(&ours, &theirs);
        if !d.is_empty() {
            problems.push(format!("{name}:\n    {}", d.join("\n    ")));
            continue;
        }
        // Identical models: identical results (float-input variants on the golden
        // inputs of the converter's model).
        if opts.input_type == litequant::quant::IoType::Float32 {
            let golden = fixtures().join("ops").join(format!("{name}.npz"));
            assert!(quantize_common::same_results(&ours, &theirs, &golden) > 0);
        }
        exact.push(name);
    }
    println!("{} op fixtures reproduced exactly: {exact:?}", exact.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(exact.len(), v_len, "every op pair reproduced exactly");
}

#[test]
fn the_report_lists_every_int8_activation() {
    let (m, stats) = calibrated("cnn_float32.tflite");
    let (q, report) = quantize_int8_with_report(&m, &stats, &Int8Options::int8()).unwrap();
    let sg = q.main();
    let activations: Vec<usize> = (0..sg.tensors.len())
        .filter(|&i| {
            sg.tensors[i].dtype == litequant::model::DType::I8 && sg.tensors[i].data.is_none()
        })
        .collect();
    let listed: Vec<usize> = report.tensors.iter().map(|t| t.index).collect();
    assert_eq!(listed, activations);
    for t in &report.tensors {
        let qp = sg.tensors[t.index].quant.as_ref().unwrap();
        assert_eq!(t.name, sg.tensors[t.index].name);
        assert_eq!((t.scale, t.zero_point), (qp.scale[0], qp.zero_point[0]));
    }
    // The input's int8 twin (`tfl.quantize`) reports the input's observed range; the
    // softmax output its fixed parameters.
    let input = &report.tensors[0];
    assert_eq!(input.name, "tfl.quantize");
    let s = stats.tensors[&m.main().inputs[0]];
    assert_eq!(input.range, Some((s.min, s.max)));
    let softmax = report.tensors.last().unwrap();
    assert_eq!((softmax.scale, softmax.zero_point), (1.0 / 256.0, -128));
    assert_eq!(softmax.source, "fixed by the op");
}

/// A converter pair of `tools/make_int8_pairs.py`: ours (calibrated in the converter's
/// order on the same samples) and the converter's file, with the report.
fn int8_pair(name: &str) -> (Model, Model, litequant::quant::Int8Report) {
    let dir = fixtures().join("int8_pairs");
    let m = Model::from_file(dir.join(format!("{name}_f32.tflite"))).unwrap();
    let stats = quantize_common::calibrate_npy(&m, &dir.join(format!("{name}_calib.npy")));
    assert_eq!(stats.samples, 16);
    let theirs = Model::from_file(dir.join(format!("{name}_int8.tflite"))).unwrap();
    let (ours, report) = quantize_int8_with_report(&m, &stats, &Int8Options::int8()).unwrap();
    (ours, theirs, report)
}

/// Differences, apart from the one residual of these Keras models: int32 biases whose float
/// constants carry the exporter's fallback name (`arith.constant`, `arith.constant1`, ...)
/// keep those names in the converter's file, where litequant names them
/// `tfl.pseudo_qconst…` as the converter does for dynamic-range weights with fallback names;
/// which rule holds when is not settled (issue 9). Returns (other differences, names).
fn diffs_but_fallback_names(ours: &Model, theirs: &Model) -> (Vec<String>, usize) {
    let (names, rest): (Vec<String>, Vec<String>) =
        diffs(ours, theirs).into_iter().partition(|d| {
            d.contains("('arith.constant") && d.contains("name: ours 'tfl.pseudo_qconst")
        });
    (rest, names.len())
}

/// A DenseNet-style block: the concatenation's output parameters reach back through
/// MAX_POOL_2D, PAD and AVERAGE_POOL_2D to the convolutions that compute its operands, as the
/// converter carries them — no requantizing QUANTIZE in between.
#[test]
fn concatenation_parameters_reach_back_through_same_scale_ops() {
    let (ours, theirs, _) = int8_pair("concat_backprop");
    let (rest, names) = diffs_but_fallback_names(&ours, &theirs);
    assert!(rest.is_empty(), "{}", rest.join("\n"));
    assert_eq!(names, 4);
}

/// A near-dead channel (weights 1e-6, bias 5) and a dead one (weights 0, bias 3): the
/// converter raises their weight scales so that the int32 bias fits in INT32_MAX / 2 (its
/// quantization driver's `SetBiasParamsWithAdjustments`), and so does litequant — the report
/// names the weight and counts the channels.
#[test]
fn weight_scales_rise_where_the_int32_bias_would_overflow() {
    let (ours, theirs, report) = int8_pair("bias_overflow");
    let (rest, names) = diffs_but_fallback_names(&ours, &theirs);
    assert!(rest.is_empty(), "{}", rest.join("\n"));
    assert_eq!(names, 0);
    assert_eq!(report.bias_fitted.len(), 1, "{:?}", report.bias_fitted);
    assert_eq!(report.bias_fitted[0].1, 2, "{:?}", report.bias_fitted);
}
