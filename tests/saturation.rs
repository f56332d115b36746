//! Saturation counts of the quantization report against a brute-force count made here: the
//! float model run on the reference engine over the same calibration samples, every value
//! of each quantized activation's float twin kept and mapped with TFLite's QUANTIZE formula
//! (`static_cast<int32>(round(x / scale)) + zero_point`, written out below); constants
//! checked on float models altered so that a known number of values cannot fit.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use litequant::data::{open, Dataset, ImageOptions, Sample};
use litequant::model::{DType, Model, Op};
use litequant::quant::{count_saturation, quantize, QuantizeOptions, Report};
use litequant::{
    bind_inputs, calibrate, CalibrationOptions, Engine, Error, Observer, ReferenceEngine, Session,
    Stats, Tensor,
};

fn op_fixture(case: &str) -> (PathBuf, PathBuf) {
    let ops = common::fixtures().join("ops");
    (
        ops.join(format!("{case}_f32.tflite")),
        ops.join(format!("{case}.calib.npz")),
    )
}

fn cnn() -> (PathBuf, PathBuf) {
    let f = common::fixtures();
    (f.join("cnn_float32.tflite"), f.join("digits_calib.npy"))
}

fn data(model: &Model, path: &Path) -> Box<dyn Dataset> {
    let inputs = ReferenceEngine.prepare(model).unwrap().inputs().to_vec();
    open(path, &inputs, &ImageOptions::default()).unwrap()
}

fn calibrated(model: &Path, calib: &Path, max: Option<usize>) -> (Model, Stats) {
    let float = Model::from_file(model).unwrap();
    let opts = CalibrationOptions {
        max_samples: max,
        ..Default::default()
    };
    let stats = calibrate(&float, &ReferenceEngine, &mut data(&float, calib), &opts).unwrap();
    (float, stats)
}

/// Every float tensor's values over the first `max` samples (all by default).
struct Dump(HashMap<usize, Vec<f32>>);

impl Observer for Dump {
    fn observe(&mut self, tensor: usize, _: &str, value: &Tensor) -> litequant::Result<()> {
        if let Some(v) = value.as_f32() {
            self.0.entry(tensor).or_default().extend_from_slice(v);
        }
        Ok(())
    }
}

fn dump(float: &Model, calib: &Path, max: Option<usize>) -> HashMap<usize, Vec<f32>> {
    let mut session = ReferenceEngine.prepare(float).unwrap();
    let mut samples = data(float, calib);
    let mut d = Dump(HashMap::new());
    let mut n = 0;
    while max.is_none_or(|m| n < m) {
        let Some(s) = samples.next_sample() else {
            break;
        };
        let inputs = bind_inputs(session.inputs(), s.unwrap()).unwrap();
        session.run_observed(&inputs, Some(&mut d)).unwrap();
        n += 1;
    }
    d.0
}

/// The float model's tensor whose values int8 tensor `t` of `q` holds, read off the graph:
/// a QUANTIZE output holds its input's values; otherwise the float tensor of the same
/// name; otherwise (an output's int8 tensor, renamed) the DEQUANTIZE result it feeds.
fn twin(float: &Model, q: &Model, t: usize) -> usize {
    let sg = q.main();
    let by_name = |name: &str| float.main().tensors.iter().position(|x| x.name == name);
    if let Some(op) = sg
        .operators
        .iter()
        .find(|o| matches!(o.op, Op::Quantize) && o.outputs[0] == t as i32)
    {
        let src = op.inputs[0] as usize;
        return match sg.tensors[src].dtype {
            DType::F32 => by_name(&sg.tensors[src].name).unwrap(),
            _ => twin(float, q, src),
        };
    }
    if let Some(i) = by_name(&sg.tensors[t].name) {
        return i;
    }
    let op = sg
        .operators
        .iter()
        .find(|o| matches!(o.op, Op::Dequantize) && o.inputs[0] == t as i32)
        .unwrap_or_else(|| panic!("no float twin for tensor {t}"));
    by_name(&sg.tensors[op.outputs[0] as usize].name).unwrap()
}

/// Values outside `[lo, hi]` after TFLite's QUANTIZE mapping.
fn clipped(values: &[f32], scale: f32, zero_point: i64, lo: i64, hi: i64) -> u64 {
    values
        .iter()
        .filter(|&&x| {
            let q = (x / scale).round() as i64 + zero_point;
            q < lo || q > hi
        })
        .count() as u64
}

/// Every activation of the report equals the brute-force count; returns the values clipped.
fn check_activations(
    float: &Model,
    q: &Model,
    report: &Report,
    values: &HashMap<usize, Vec<f32>>,
) -> u64 {
    let mut total = 0;
    let mut seen = 0;
    for t in report.tensors.iter().filter(|t| !t.constant) {
        let qt = &q.main().tensors[t.index];
        let qp = qt.quant.as_ref().unwrap();
        let (lo, hi) = match qt.dtype {
            DType::I8 => (-128, 127),
            DType::U8 => (0, 255),
            d => panic!("{}: {d}", t.name),
        };
        let f = twin(float, q, t.index);
        assert_eq!(t.float_tensor, Some(f), "{}", t.name);
        let v = &values[&f];
        let want = clipped(v, qp.scale[0], qp.zero_point[0], lo, hi);
        assert_eq!(t.observed, Some(v.len() as u64), "{}", t.name);
        assert_eq!(t.saturated, Some(want), "{}", t.name);
        total += want;
        seen += 1;
    }
    assert!(seen > 0);
    total
}

/// MINIMUM's operands take the output's parameters: the second input's values above the
/// output's range clip. The second pass counts them exactly.
#[test]
fn minimum_operands_saturate_and_the_second_pass_counts_them() {
    let (model, calib) = op_fixture("minimum");
    let (float, stats) = calibrated(&model, &calib, None);
    let (q, mut report) = quantize(&float, Some(&stats), &QuantizeOptions::int8()).unwrap();
    assert!(report.needs_saturation_pass());
    let counted = count_saturation(
        &float,
        &q,
        &ReferenceEngine,
        &mut data(&float, &calib),
        &mut report,
        &CalibrationOptions::default(),
    )
    .unwrap();
    assert_eq!(counted, 2, "both operands' ranges exceed the output's");
    assert!(!report.needs_saturation_pass());
    let clipped = check_activations(&float, &q, &report, &dump(&float, &calib, None));
    assert!(clipped > 0, "the fixture saturates");
    let (tensors, values, _, _) = report.saturation_totals();
    assert_eq!((tensors, values), (2, clipped));
    let printed = report.to_string();
    assert!(
        printed.contains(&format!("saturation: 2 of 3 tensors clip {clipped} of")),
        "{printed}"
    );
}

/// The same with `max_samples`: the second pass reads as many samples as calibration.
#[test]
fn the_second_pass_reads_the_calibration_samples_only() {
    let (model, calib) = op_fixture("maximum");
    let (float, stats) = calibrated(&model, &calib, Some(7));
    let opts = QuantizeOptions {
        max_samples: Some(7),
        ..QuantizeOptions::int8()
    };
    let (q, mut report) = quantize(&float, Some(&stats), &opts).unwrap();
    assert!(report.needs_saturation_pass());
    // Other data than calibration's: refused, naming the difference.
    let mut all = report.clone();
    let e = count_saturation(
        &float,
        &q,
        &ReferenceEngine,
        &mut data(&float, &calib),
        &mut all,
        &CalibrationOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Data(m) if m.contains("20 samples") && m.contains("on 7")),
        "{e}"
    );
    count_saturation(
        &float,
        &q,
        &ReferenceEngine,
        &mut data(&float, &calib),
        &mut report,
        &opts.calibration_options(),
    )
    .unwrap();
    check_activations(&float, &q, &report, &dump(&float, &calib, Some(7)));
}

/// A dataset that must not be read.
struct Untouchable;

impl Dataset for Untouchable {
    fn len_hint(&self) -> Option<usize> {
        panic!("the second pass should not run")
    }
    fn next_sample(&mut self) -> Option<litequant::Result<Sample>> {
        panic!("the second pass should not run")
    }
}

/// The digits CNN: every range fits except the SOFTMAX output's (fixed 1/256, -128: an
/// output of 255.5/256 or more lands on 128). Those that fit are 0 before any second
/// pass, equal to the brute-force count; the softmax output's count comes from the pass.
#[test]
fn cnn_counts_equal_the_brute_force_count() {
    let (model, calib) = cnn();
    let (float, stats) = calibrated(&model, &calib, None);
    let (q, mut report) = quantize(&float, Some(&stats), &QuantizeOptions::int8()).unwrap();
    let pending: Vec<&str> = report
        .tensors
        .iter()
        .filter(|t| t.saturated.is_none())
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(pending, ["StatefulPartitionedCall_1:01"]);
    for t in report.tensors.iter().filter(|t| t.saturated.is_some()) {
        assert_eq!(t.saturated, Some(0), "{}", t.name);
    }
    // Constants: every element checked.
    for t in report.tensors.iter().filter(|t| t.constant) {
        let n: i32 = t.shape.iter().product();
        assert_eq!(t.observed, Some(n as u64), "{}", t.name);
    }
    let n = count_saturation(
        &float,
        &q,
        &ReferenceEngine,
        &mut data(&float, &calib),
        &mut report,
        &CalibrationOptions::default(),
    )
    .unwrap();
    assert_eq!(n, 1);
    let clipped = check_activations(&float, &q, &report, &dump(&float, &calib, None));
    assert!(clipped > 0);
    // Nothing left to count: the pass is skipped, the data never read.
    assert_eq!(
        count_saturation(
            &float,
            &q,
            &ReferenceEngine,
            &mut Untouchable,
            &mut report,
            &Default::default()
        )
        .unwrap(),
        0
    );
}

/// A model whose ranges all fit needs no second pass: TANH's output never reaches 1.0 on
/// this fixture's data.
#[test]
fn no_second_pass_when_every_range_fits() {
    let (model, calib) = op_fixture("tanh");
    let (float, stats) = calibrated(&model, &calib, None);
    let (q, mut report) = quantize(&float, Some(&stats), &QuantizeOptions::int8()).unwrap();
    assert!(!report.needs_saturation_pass());
    let before = report.clone();
    let n = count_saturation(
        &float,
        &q,
        &ReferenceEngine,
        &mut Untouchable,
        &mut report,
        &Default::default(),
    )
    .unwrap();
    assert_eq!((n, &report), (0, &before));
    assert_eq!(
        check_activations(&float, &q, &report, &dump(&float, &calib, None)),
        0
    );
}

fn f32_data(t: &litequant::model::Tensor) -> Vec<f32> {
    litequant::quant::weights::f32_values(t.data.as_deref().unwrap())
}

fn set_f32(t: &mut litequant::model::Tensor, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    t.data = Some(bytes.into());
}

/// Constants: the quantizer's own weights and biases never clip; values that cannot fit
/// the stored parameters are counted exactly (weights against [-127, 127], biases against
/// int32), here on a float model altered after quantizing.
#[test]
fn constants_are_counted_against_the_stored_parameters() {
    let (model, calib) = cnn();
    let (float, stats) = calibrated(&model, &calib, None);
    let (q, report) = quantize(&float, Some(&stats), &QuantizeOptions::int8()).unwrap();
    let constants: Vec<_> = report.tensors.iter().filter(|t| t.constant).collect();
    assert_eq!(constants.len(), 6);
    assert!(constants.iter().all(|t| t.saturated == Some(0)));

    let find = |name: &str| report.tensors.iter().find(|t| t.name == name).unwrap();
    let mut altered = float.clone();
    // The FULLY_CONNECTED weight [10, 144], per channel on axis 0.
    let w = find("cnn_1/fc_1/MatMul");
    let wi = w.float_tensor.unwrap();
    let mut v = f32_data(&altered.main().tensors[wi]);
    let s1 = w.scale[1];
    v[144] = -127.4 * s1; // channel 1: rounds to -127, fits
    v[145] = -127.6 * s1; // rounds to -128: clips in the weights' narrow range
    v[146] = 200.0 * s1;
    set_f32(&mut altered.subgraphs[0].tensors[wi], &v);
    // The FULLY_CONNECTED bias [10]: channel 3 beyond int32 at its scale.
    let b = find("cnn_1/fc_1/BiasAdd");
    let bi = b.float_tensor.unwrap();
    let mut v = f32_data(&altered.main().tensors[bi]);
    v[3] = b.scale[3] * 2.2e9;
    v[4] = -b.scale[4] * 2.1e9; // within int32
    set_f32(&mut altered.subgraphs[0].tensors[bi], &v);

    let r = Report::new(&altered, &q, Some(&stats), &QuantizeOptions::int8()).unwrap();
    let get = |name: &str| r.tensors.iter().find(|t| t.name == name).unwrap();
    assert_eq!(get("cnn_1/fc_1/MatMul").saturated, Some(2));
    assert_eq!(get("cnn_1/fc_1/BiasAdd").saturated, Some(1));
    assert_eq!(get("cnn_1/conv_1/convolution").saturated, Some(0));
}

/// Modes without calibration: weights only; the JSON carries the fields.
#[test]
fn dynamic_mode_counts_weights_only() {
    let float = Model::from_file(cnn().0).unwrap();
    let (_, report) = quantize(&float, None, &QuantizeOptions::dynamic()).unwrap();
    assert!(!report.tensors.is_empty());
    for t in &report.tensors {
        assert!(t.constant);
        assert_eq!(t.saturated, Some(0));
        assert!(t.observed.is_some_and(|n| n > 0));
    }
    assert!(!report.needs_saturation_pass());
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    for key in ["float_tensor", "saturated", "observed"] {
        assert!(json["tensors"][0].get(key).is_some(), "{key}");
    }
}

/// The second pass over samples in parallel (the fast CPU engine, `threads` over 1) counts
/// what the sequential pass counts, with and without a sample limit.
#[test]
fn parallel_second_pass_counts_the_same() {
    for (model, calib) in [op_fixture("minimum"), cnn()] {
        for max in [None, Some(5)] {
            let (float, stats) = calibrated(&model, &calib, max);
            let (q, report) = quantize(&float, Some(&stats), &QuantizeOptions::int8()).unwrap();
            assert!(report.needs_saturation_pass());
            let opts = |threads: usize| CalibrationOptions {
                max_samples: max,
                threads,
                ..Default::default()
            };
            let mut want = report.clone();
            count_saturation(
                &float,
                &q,
                &ReferenceEngine,
                &mut data(&float, &calib),
                &mut want,
                &opts(1),
            )
            .unwrap();
            for threads in [2, 3, 7] {
                let mut got = report.clone();
                let engine = litequant::FastCpuEngine::new().with_threads(threads);
                count_saturation(
                    &float,
                    &q,
                    &engine,
                    &mut data(&float, &calib),
                    &mut got,
                    &opts(threads),
                )
                .unwrap();
                assert_eq!(got, want, "{model:?} {max:?} {threads}");
                assert!(!got.needs_saturation_pass());
            }
        }
    }
}
