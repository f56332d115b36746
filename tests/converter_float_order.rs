//! The converter's float kernels, reproduced: [`ConverterFloatEngine`] against goldens of the
//! TFLite interpreter built into TensorFlow's wheel (the one TF's calibrator runs), made by
//! `tools/make_converter_float_goldens.py`:
//! - every output of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, HARD_SWISH, AVERAGE_POOL_2D
//!   and MEAN in the goldens, bit for bit;
//! - every range TF's `Calibrator` recorded over the calibration samples, bit for bit.
//!
//! And the reason it exists: the reference engine (TFLite's reference kernels) differs from
//! those goldens in some elements and ranges.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use litequant::data::{Npz, NpzDataset};
use litequant::{
    calibrate, Buf, CalibrationOptions, ConverterFloatEngine, Engine, Model, Observer,
    ReferenceEngine, Session, Tensor,
};

/// The goldens were made on a machine with a 32 KiB L1 data cache (Eigen's kc = 400 for the
/// float GEMMs), 1 MiB of L2 and an L3 that Eigen reads as 320 MiB (AMD's CPUID, 640 units
/// of 512 KiB after Eigen's mask): the blocking of contractions spread over threads follows
/// L2 and L3. The converter order's cache sizes are a process-wide setting: each test holds
/// this lock while it runs, with the L1 size it needs.
static CACHE: Mutex<()> = Mutex::new(());

fn with_l1d(bytes: usize) -> MutexGuard<'static, ()> {
    let guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    litequant::reference::set_converter_l1d_cache(Some(bytes));
    litequant::reference::set_converter_l2_l3_cache(Some((1 << 20, 640 * 512 * 1024)));
    guard
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

struct Record(HashMap<usize, Tensor>);

impl Observer for Record {
    fn observe(&mut self, tensor: usize, _name: &str, value: &Tensor) -> litequant::Result<()> {
        self.0.insert(tensor, value.clone());
        Ok(())
    }
}

fn f32s(t: &Tensor) -> &[f32] {
    match t.buf() {
        Buf::F32(v) => v,
        other => panic!("float32 expected, got {:?}", other.dtype()),
    }
}

/// Sample `s` of an array stacked over samples.
fn sample(t: &Tensor, s: usize) -> Tensor {
    let shape = &t.shape()[1..];
    let n: usize = shape.iter().product();
    Tensor::new(shape, Buf::F32(f32s(t)[s * n..(s + 1) * n].to_vec())).unwrap()
}

/// (golden tensors compared, elements that differ) running `model` on `engine` over the
/// golden's samples.
fn against_golden<E: Engine>(engine: &E, model: &Model, golden: &Path) -> (usize, usize) {
    let mut npz = Npz::open(golden).unwrap();
    let names = npz.names();
    let n_in = names.iter().filter(|n| n.starts_with("input_")).count();
    let inputs: Vec<Tensor> = (0..n_in)
        .map(|k| npz.read(&format!("input_{k}")).unwrap())
        .collect();
    let wanted: BTreeMap<usize, Tensor> = names
        .iter()
        .filter_map(|n| Some((n.strip_prefix('t')?.parse().ok()?, npz.read(n).unwrap())))
        .collect();
    let samples = inputs[0].shape()[0];
    let mut compared = 0;
    let mut differing = 0;
    for s in 0..samples {
        let ins: Vec<Tensor> = inputs.iter().map(|t| sample(t, s)).collect();
        let shapes: Vec<Vec<usize>> = ins.iter().map(|t| t.shape().to_vec()).collect();
        let mut session = engine.prepare_with_input_shapes(model, &shapes).unwrap();
        let mut rec = Record(HashMap::new());
        let outs = session.run_observed(&ins, Some(&mut rec)).unwrap();
        for (k, &t) in model.main().outputs.iter().enumerate() {
            rec.0.insert(t, outs[k].clone());
        }
        for (t, want) in &wanted {
            let got = rec
                .0
                .get(t)
                .unwrap_or_else(|| panic!("tensor {t} not computed"));
            let want = sample(want, s);
            assert_eq!(
                got.shape(),
                want.shape(),
                "{}: tensor {t}",
                golden.display()
            );
            differing += f32s(got)
                .iter()
                .zip(f32s(&want))
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            compared += 1;
        }
    }
    (compared, differing)
}

fn golden_models() -> Vec<(String, Model, PathBuf)> {
    let dir = fixtures().join("converter_float");
    let mut v = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".npz"))
        else {
            continue;
        };
        let own = dir.join(format!("{stem}.tflite"));
        let model = match stem {
            "cnn" | "mlp" => fixtures().join(format!("{stem}_float32.tflite")),
            _ if own.exists() => own,
            case => fixtures().join("ops").join(format!("{case}_f32.tflite")),
        };
        v.push((stem.to_string(), Model::from_file(&model).unwrap(), path));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn float_kernels_equal_the_converters_bit_for_bit() {
    let _cache = with_l1d(32 * 1024);
    let cases = golden_models();
    assert!(cases.len() >= 30, "{} golden files", cases.len());
    let mut problems = Vec::new();
    let (mut tensors, mut reference_differs) = (0, Vec::new());
    for (name, model, golden) in &cases {
        let (n, bad) = against_golden(&ConverterFloatEngine, model, golden);
        if RCPPS_DEPENDENT.contains(&name.as_str()) && !rcpps_is_the_fixture_machines() {
            eprintln!("{name}: not compared (this CPU's rcpps is not the fixture machine's)");
            continue;
        }
        tensors += n;
        if bad > 0 {
            problems.push(format!("{name}: {bad} elements differ"));
        }
        let (_, bad_ref) = against_golden(&ReferenceEngine, model, golden);
        if bad_ref > 0 {
            reference_differs.push(format!("{name} ({bad_ref})"));
        }
    }
    println!(
        "{} models, {tensors} golden tensors equal; the reference order differs in {}: {}",
        cases.len(),
        reference_differs.len(),
        reference_differs.join(", ")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The emulation is not vacuous: the reference kernels' order differs on these.
    for must in [
        "cnn",
        "mlp",
        "conv2d_s2_valid",
        "dwconv_m2_valid",
        "fc_keepdims",
        "tconv_same",
        "gemm_tconv3x3_s2_c19_o6",
        "gemv_tconv_1px_c13_o5",
        "gemv_tconv_rowvec_c12",
        "gemv_conv_1px_c300_o13",
        "gemv_conv_1ch_c24",
        "gemv_fc_b5_k40_u1",
        "kc_conv1x1_408x28",
        "kc_fc_b5_k820_u13",
        "softmax",
        "softmax_7x37_s30",
        "softmax_3x200_s120",
        "softmax_fc_4x24_u10",
        "mt_inner4_conv3x3_c128_o13",
        "mt_inner2_conv1x1_c144_o24",
        "mt_inner4_patch16_c3_o64",
        "mt_row4_conv3x3_c32_o144",
        "mt_col4_conv3x3_c36_o12",
    ] {
        assert!(
            reference_differs
                .iter()
                .any(|r| r.starts_with(&format!("{must} "))),
            "{must}: the reference order should differ from the converter's"
        );
    }
}

/// Eigen's depth blocking is what makes the deep products equal (they are in the test
/// above): without it — an L1 so large that `kc` covers every depth — they differ.
#[test]
fn deep_products_need_eigens_depth_blocking() {
    let _cache = with_l1d(1 << 30);
    let deep: Vec<_> = golden_models()
        .into_iter()
        .filter(|(name, ..)| name.starts_with("kc_"))
        .collect();
    assert_eq!(deep.len(), 4);
    for (name, model, golden) in &deep {
        let (n, bad) = against_golden(&ConverterFloatEngine, model, golden);
        assert!(n > 0 && bad > 0, "{name}: equal without the blocking");
        println!("{name}: {bad} elements differ without Eigen's depth blocking");
    }
}

/// The CONV_2D contractions Eigen's cost model spreads over the calibrator's 4 threads
/// (`mt_*`, tools/make_converter_float_goldens.py: sharded by depth into 2, 3 and 4 ranges,
/// by row, by column, with kc = 320) equal the interpreter's bit for bit. On one thread's
/// order (before `eigen_threads`) 30–3,370 elements of each differed, and 4 calibrated
/// ranges.
#[test]
fn multithreaded_contractions_follow_eigens_thread_pool() {
    let _cache = with_l1d(32 * 1024);
    let cases: Vec<_> = golden_models()
        .into_iter()
        .filter(|(name, ..)| name.starts_with("mt_"))
        .collect();
    assert_eq!(cases.len(), 8);
    for (name, model, golden) in &cases {
        let (n, bad) = against_golden(&ConverterFloatEngine, model, golden);
        assert!(n > 0 && bad == 0, "{name}: {bad} elements differ");
    }
}

/// TF's Calibrator ranges, `{model: {tensor index: [min bits, max bits]}}`.
fn converter_ranges() -> BTreeMap<String, BTreeMap<usize, [u32; 2]>> {
    let text = std::fs::read_to_string(fixtures().join("converter_float/ranges.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = BTreeMap::new();
    for (model, tensors) in v.as_object().unwrap() {
        let mut m = BTreeMap::new();
        for (t, r) in tensors.as_object().unwrap() {
            let r = r.as_array().unwrap();
            let bits = |i: usize| r[i].as_u64().unwrap() as u32;
            m.insert(t.parse().unwrap(), [bits(0), bits(1)]);
        }
        out.insert(model.clone(), m);
    }
    out
}

/// Samples held in memory, one input each.
struct Samples(Vec<Tensor>);

impl litequant::data::Dataset for Samples {
    fn len_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }

    fn next_sample(&mut self) -> Option<litequant::Result<litequant::data::Sample>> {
        if self.0.is_empty() {
            return None;
        }
        Some(Ok(vec![(None, self.0.remove(0))]))
    }
}

fn calibrated_with<E: Engine>(engine: &E, model_rel: &str, m: &Model) -> litequant::Stats {
    let specs = ReferenceEngine.prepare(m).unwrap().inputs().to_vec();
    let opts = CalibrationOptions::default();
    if let Some(stem) = model_rel
        .strip_prefix("converter_float/")
        .and_then(|n| n.strip_suffix(".tflite"))
    {
        // Made with the goldens: calibrated on the golden's samples.
        let golden = fixtures().join(format!("converter_float/{stem}.npz"));
        let all = Npz::open(&golden).unwrap().read("input_0").unwrap();
        let mut data = Samples((0..all.shape()[0]).map(|s| sample(&all, s)).collect());
        calibrate(m, engine, &mut data, &opts).unwrap()
    } else if let Some(case) = model_rel
        .strip_prefix("ops/")
        .and_then(|n| n.strip_suffix("_f32.tflite"))
    {
        let calib = fixtures().join("ops").join(format!("{case}.calib.npz"));
        let mut data = NpzDataset::for_inputs(&calib, &specs).unwrap();
        calibrate(m, engine, &mut data, &opts).unwrap()
    } else {
        let mut data = litequant::data::NpyDataset::open(fixtures().join("digits_calib.npy"))
            .unwrap()
            .with_input(&specs[0])
            .unwrap();
        calibrate(m, engine, &mut data, &opts).unwrap()
    }
}

/// Ranges the converter-order engine does not reproduce, and why that changes no quantized
/// model: (model, tensor). RESIZE_BILINEAR's output takes its input's parameters
/// (same-scale), and the optimized kernel interpolates half-pixel centres in another order.
/// The quantized models of these cases equal the converter's (tests/quantize_int8.rs).
/// (LOGISTIC, TANH and GELU were here until their Eigen forms were reproduced,
/// `reference::eigen_math`.)
const RANGE_UNUSED: &[(&str, usize)] = &[("ops/resize_bilinear_half_f32.tflite", 2)];

/// Golden models whose float kernels can only be reproduced on the CPU family the goldens
/// were made on: the optimized GELU takes erfc's `1/x²` from the CPU's approximate `rcpps`
/// (`reference::eigen_math`), whose bits differ between vendors. They are checked bit for
/// bit where this CPU's `rcpps` is the fixture machine's.
const RCPPS_DEPENDENT: &[&str] = &["gelu_mlp", "gelu"];

/// A digest of this CPU's `rcpps` over 4,096 mantissas, and its value on the machine the
/// goldens were made on (AMD EPYC): the same digest as `reference::eigen_math`'s tests.
fn rcpps_is_the_fixture_machines() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cvtss_f32, _mm_rcp_ss, _mm_set_ss};
        let digest = (0..4096u32).fold(0xcbf2_9ce4_8422_2325u64, |h, i| {
            let a = f32::from_bits(0x3f80_0000 | (i << 11));
            // SAFETY: SSE is part of the x86-64 baseline.
            let r = unsafe { _mm_cvtss_f32(_mm_rcp_ss(_mm_set_ss(a))) };
            (h ^ u64::from(r.to_bits())).wrapping_mul(0x0100_0000_01b3)
        });
        digest == 0xe9c6_a84b_ade3_9325
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// TF's calibrator starts every tensor's maximum at `std::numeric_limits<float>::min()`
/// (`calibration_logger.h`: FLT_MIN, the smallest *positive* normal float), so a tensor whose
/// values are all negative (or zero) reports FLT_MIN as its maximum. The quantized range
/// includes 0 either way (`activation_params`), so no scale or zero point changes.
fn calibrator_max(ours: f32) -> f32 {
    if ours < f32::MIN_POSITIVE {
        f32::MIN_POSITIVE
    } else {
        ours
    }
}

#[test]
fn calibration_ranges_equal_the_converters_calibrator() {
    let _cache = with_l1d(32 * 1024);
    let ranges = converter_ranges();
    assert!(ranges.len() >= 90, "{} models", ranges.len());
    let mut problems = Vec::new();
    let mut reference_moved = 0;
    let mut compared = 0;
    for (rel, want) in &ranges {
        let m = Model::from_file(fixtures().join(rel)).unwrap();
        let ours = calibrated_with(&ConverterFloatEngine, rel, &m);
        let reference = calibrated_with(&ReferenceEngine, rel, &m);
        for (t, [lo, hi]) in want {
            let Some(s) = ours.tensors.get(t) else {
                problems.push(format!("{rel}: tensor {t} has no range"));
                continue;
            };
            let rcpps_dependent = RCPPS_DEPENDENT
                .iter()
                .any(|stem| rel.as_str() == format!("ops/{stem}_f32.tflite"));
            if rcpps_dependent && !rcpps_is_the_fixture_machines() {
                continue;
            }
            compared += 1;
            let unused = RANGE_UNUSED.contains(&(rel.as_str(), *t));
            let max = calibrator_max(s.max);
            if ((s.min.to_bits(), max.to_bits()) == (*lo, *hi)) == unused {
                problems.push(format!(
                    "{rel}: tensor {t} (documented as differing: {unused}): ours [{}, {}], \
                     the calibrator's [{}, {}]",
                    s.min,
                    s.max,
                    f32::from_bits(*lo),
                    f32::from_bits(*hi)
                ));
            }
            let r = &reference.tensors[t];
            if (r.min.to_bits(), calibrator_max(r.max).to_bits()) != (*lo, *hi) {
                reference_moved += 1;
            }
        }
    }
    println!(
        "{} models, {} of {compared} ranges equal to TF's calibrator; {reference_moved} differ \
         in the reference order",
        ranges.len(),
        compared - RANGE_UNUSED.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(reference_moved > 0);
}
