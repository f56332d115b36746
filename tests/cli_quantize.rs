//! `litequant quantize` end to end: the model it writes loads, runs (reproducing LiteRT's
//! goldens of the converter's model of the same mode) and equals the library's result;
//! bad inputs give clear errors, write nothing, and never touch the input model.

mod common;

use common::cli::{litequant, s, TempDir};
use std::path::{Path, PathBuf};

use common::golden::{check_model, Outcome};
use litequant::data::npy_bytes;
use litequant::quant::{quantize, QuantizeOptions};
use litequant::{Model, Tensor};

/// A copy of a fixture in `dir`, so that a test can check that the CLI never touches it.
fn copy_fixture(dir: &TempDir, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(common::fixtures().join(name), &to).unwrap();
    to
}

#[test]
fn dynamic_and_float16_equal_the_library_and_reproduce_litert() {
    let dir = TempDir::new("modes");
    for model in ["cnn", "mlp"] {
        let float_path = common::fixtures().join(format!("{model}_float32.tflite"));
        let float = Model::from_file(&float_path).unwrap();
        for (mode, opts) in [
            ("dynamic", QuantizeOptions::dynamic()),
            ("float16", QuantizeOptions::float16()),
        ] {
            let out = dir.join(&format!("{model}_{mode}.tflite"));
            let report = dir.join(&format!("{model}_{mode}.json"));
            let res = litequant(&[
                "quantize",
                s(&float_path),
                "-o",
                s(&out),
                "--mode",
                mode,
                "--report",
                s(&report),
            ]);
            let stderr = String::from_utf8_lossy(&res.stderr);
            assert!(res.status.success(), "{model} {mode}: {stderr}");
            let stdout = String::from_utf8_lossy(&res.stdout);
            assert!(stdout.contains(&format!("mode {mode}: size")), "{stdout}");

            // Equals the library's result, byte for byte.
            let (want, want_report) = quantize(&float, None, &opts).unwrap();
            let got_bytes = std::fs::read(&out).unwrap();
            assert_eq!(got_bytes, want.to_bytes().unwrap(), "{model} {mode}");
            let got = Model::from_file(&out).unwrap();
            assert_eq!(got, want);

            // Runs, and reproduces LiteRT's BUILTIN_REF goldens of the converter's model.
            let golden = common::fixtures().join(format!("golden/{model}_{mode}.npz"));
            match check_model(&out, &golden) {
                Outcome::Pass { compared } => assert!(compared > 0),
                Outcome::Unsupported(e) => panic!("{model} {mode}: {e}"),
                Outcome::Fail(v) => panic!("{model} {mode}: {}", v.join("; ")),
            }

            // The JSON report is the library's.
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
            assert_eq!(json["mode"], mode);
            assert_eq!(json["size_before"], float.to_bytes().unwrap().len());
            assert_eq!(json["size_after"], got_bytes.len());
            assert_eq!(
                json,
                serde_json::from_str::<serde_json::Value>(&want_report.to_json()).unwrap()
            );
            assert!(json["tensors"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| { !t["scale"].as_array().unwrap().is_empty() }));
        }
    }
}

#[test]
fn per_tensor_dynamic_equals_the_library() {
    let dir = TempDir::new("per-tensor");
    let float_path = common::fixtures().join("cnn_float32.tflite");
    let out = dir.join("q.tflite");
    let res = litequant(&["quantize", s(&float_path), "-o", s(&out), "--per-tensor"]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let float = Model::from_file(&float_path).unwrap();
    let opts = QuantizeOptions {
        per_tensor: true,
        ..QuantizeOptions::dynamic()
    };
    let (want, report) = quantize(&float, None, &opts).unwrap();
    assert_eq!(Model::from_file(&out).unwrap(), want);
    assert!(report.tensors.iter().all(|t| t.scale.len() == 1));
}

#[test]
fn mode_defaults_to_dynamic_without_calibration_data() {
    let dir = TempDir::new("default");
    let float_path = common::fixtures().join("mlp_float32.tflite");
    let out = dir.join("q.tflite");
    let report = dir.join("r.json");
    let res = litequant(&[
        "quantize",
        s(&float_path),
        "-o",
        s(&out),
        "--report",
        s(&report),
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["mode"], "dynamic");
}

/// A failed run: non-zero exit, the error contains every `needles`, no output file (and no
/// temporary file left beside it), the input model unchanged (bytes and mtime).
fn assert_fails_cleanly(dir: &TempDir, args: &[&str], model: &Path, needles: &[&str]) {
    let before = std::fs::read(model).unwrap();
    let mtime = std::fs::metadata(model).unwrap().modified().unwrap();
    let out = dir.join("out.tflite");
    let report = dir.join("out.json");
    let mut all = vec!["quantize", s(model), "-o", s(&out), "--report", s(&report)];
    all.extend_from_slice(args);
    let res = litequant(&all);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success(), "{args:?} should fail: {stderr}");
    assert!(stderr.contains("litequant: error:"), "{stderr}");
    for n in needles {
        assert!(
            stderr.contains(n),
            "{args:?}: the error should mention '{n}': {stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists(), "{args:?}: no output on failure");
    assert!(!report.exists(), "{args:?}: no report on failure");
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    assert_eq!(
        std::fs::read(model).unwrap(),
        before,
        "input bytes untouched"
    );
    assert_eq!(
        std::fs::metadata(model).unwrap().modified().unwrap(),
        mtime,
        "input mtime untouched"
    );
}

fn write_npy(path: &Path, t: &Tensor) {
    std::fs::write(path, npy_bytes(t)).unwrap();
}

#[test]
fn bad_calibration_data_fails_cleanly() {
    let dir = TempDir::new("bad");
    let model = copy_fixture(&dir, "cnn_float32.tflite");

    // Missing file: named.
    let missing = dir.join("missing.npy");
    assert_fails_cleanly(&dir, &["--calib", s(&missing)], &model, &["missing.npy"]);

    // Wrong shape: the file and both shapes named.
    let wrong = dir.join("wrong.npy");
    write_npy(
        &wrong,
        &Tensor::from_f32(&[3, 7, 7, 1], &[0.5; 147]).unwrap(),
    );
    assert_fails_cleanly(
        &dir,
        &["--calib", s(&wrong)],
        &model,
        &["wrong.npy", "7, 7"],
    );

    // Empty: no samples.
    let empty = dir.join("empty.npy");
    write_npy(&empty, &Tensor::from_f32(&[0, 8, 8, 1], &[]).unwrap());
    assert_fails_cleanly(
        &dir,
        &["--calib", s(&empty)],
        &model,
        &["empty.npy", "empty"],
    );

    // Wrong dtype: int32 samples for the float32 input.
    let ints = dir.join("ints.npy");
    write_npy(
        &ints,
        &Tensor::new(&[3, 8, 8, 1], litequant::Buf::I32(vec![1; 3 * 64])).unwrap(),
    );
    assert_fails_cleanly(
        &dir,
        &["--calib", s(&ints)],
        &model,
        &["ints.npy", "INT32", "FLOAT32", "image"],
    );

    // Not an array at all: a string of bytes that is no .npy.
    let junk = dir.join("junk.npy");
    std::fs::write(&junk, b"not an array").unwrap();
    assert_fails_cleanly(&dir, &["--calib", s(&junk)], &model, &["junk.npy"]);

    // NaN in the data, int8: counted and refused, naming the input tensor.
    let mut v = vec![0.25f32; 2 * 64];
    v[3] = f32::NAN;
    v[70] = f32::INFINITY;
    let nan = dir.join("nan.npy");
    write_npy(&nan, &Tensor::from_f32(&[2, 8, 8, 1], &v).unwrap());
    assert_fails_cleanly(
        &dir,
        &["--calib", s(&nan)],
        &model,
        &["nan.npy", "1 NaN", "1 Inf", "serving_default_image:0"],
    );

    // Not a dataset at all.
    let txt = dir.join("calib.txt");
    std::fs::write(&txt, "1 2 3").unwrap();
    assert_fails_cleanly(&dir, &["--calib", s(&txt)], &model, &["calib.txt"]);
}

#[test]
fn int8_modes_equal_the_library_and_refuse_what_cannot_be_quantized() {
    use litequant::data::NpyDataset;
    use litequant::quant::{quantize_int8, Int8Options};
    use litequant::{calibrate, CalibrationOptions, Engine, Model, ReferenceEngine, Session};

    let dir = TempDir::new("int8");
    let model = copy_fixture(&dir, "cnn_float32.tflite");
    let calib = common::fixtures().join("digits_calib.npy");
    // The library's result from the same model and samples.
    let float = Model::from_file(&model).unwrap();
    let spec = ReferenceEngine.prepare(&float).unwrap().inputs()[0].clone();
    let mut data = NpyDataset::open(&calib).unwrap().with_input(&spec).unwrap();
    // The CLI calibrates in the converter's float summation order.
    let stats = calibrate(
        &float,
        &litequant::ConverterFloatEngine,
        &mut data,
        &CalibrationOptions::default(),
    )
    .unwrap();
    for (args, opts) in [
        (vec![], Int8Options::int8()),
        (
            vec![
                "--mode",
                "int8-only",
                "--input-type",
                "int8",
                "--output-type",
                "int8",
            ],
            {
                let mut o = Int8Options::int8_only_int8_io();
                o.input_type = litequant::quant::IoType::Int8;
                o.output_type = litequant::quant::IoType::Int8;
                o
            },
        ),
    ] {
        let out = dir.join("q.tflite");
        // --calib alone selects int8 (as the converter).
        let mut all = vec!["quantize", s(&model), "-o", s(&out), "--calib", s(&calib)];
        all.extend_from_slice(&args);
        let res = litequant(&all);
        assert!(
            res.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&res.stderr)
        );
        let ours = std::fs::read(&out).unwrap();
        let lib = quantize_int8(&float, &stats, &opts)
            .unwrap()
            .to_bytes()
            .unwrap();
        assert!(
            ours == lib,
            "{args:?}: the CLI's file differs from the library's"
        );
        Model::from_bytes(&ours).unwrap();
        std::fs::remove_file(&out).unwrap();
    }
    // int8 without data.
    assert_fails_cleanly(&dir, &["--mode", "int8"], &model, &["--calib"]);
    // A custom op cannot be quantized: int8-only names it.
    let custom = copy_fixture(&dir, "custom_op.tflite");
    let x = dir.join("x.npy");
    write_npy(&x, &Tensor::from_f32(&[3, 1, 8], &[0.5; 24]).unwrap());
    assert_fails_cleanly(
        &dir,
        &["--mode", "int8-only", "--calib", s(&x)],
        &custom,
        &["Cumprod"],
    );
}

#[test]
fn inconsistent_options_and_bad_models_fail_cleanly() {
    let dir = TempDir::new("options");
    let model = copy_fixture(&dir, "cnn_float32.tflite");
    assert_fails_cleanly(
        &dir,
        &["--input-type", "int8"],
        &model,
        &["int8", "dynamic"],
    );
    assert_fails_cleanly(&dir, &["--keep-float", "x"], &model, &["keep-float"]);
    assert_fails_cleanly(
        &dir,
        &["--mode", "float16", "--per-tensor"],
        &model,
        &["per-tensor"],
    );

    // Not a model.
    let junk = dir.join("junk.tflite");
    std::fs::write(&junk, b"definitely not a flatbuffer").unwrap();
    assert_fails_cleanly(&dir, &[], &junk, &["junk.tflite"]);

    // The output may not overwrite the input.
    let before = std::fs::read(&model).unwrap();
    let res = litequant(&["quantize", s(&model), "-o", s(&model)]);
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("overwrite"));
    assert_eq!(std::fs::read(&model).unwrap(), before);

    // An output in a folder that does not exist: named, nothing written.
    let nowhere = dir.join("no/such/dir/q.tflite");
    let res = litequant(&["quantize", s(&model), "-o", s(&nowhere)]);
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("no/such/dir"));
    assert!(!nowhere.exists());
}

/// The report's saturation counts: the CLI runs the second pass over the calibration data
/// (with the same --max-samples) where a range does not fit, and its JSON equals the
/// library's (`quantize` + `count_saturation`).
#[test]
fn report_has_saturation_counts_equal_to_the_library() {
    use litequant::quant::count_saturation;
    use litequant::{calibrate, CalibrationOptions, Engine, ReferenceEngine, Session};

    let dir = TempDir::new("saturation");
    let ops = common::fixtures().join("ops");
    let (model, calib) = (
        ops.join("minimum_f32.tflite"),
        ops.join("minimum.calib.npz"),
    );
    let (out, report) = (dir.join("q.tflite"), dir.join("r.json"));
    let res = litequant(&[
        "quantize",
        s(&model),
        "-o",
        s(&out),
        "--calib",
        s(&calib),
        "--max-samples",
        "9",
        "--report",
        s(&report),
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr),
    );
    assert!(res.status.success(), "{stderr}");
    assert!(stderr.contains("second pass"), "{stderr}");
    assert!(
        stdout.contains("saturation: 2 of 3 tensors clip "),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let tensors = json["tensors"].as_array().unwrap();
    assert!(tensors.iter().all(|t| t["saturated"].is_u64()
        && t["observed"].as_u64() == Some(9 * 48)
        && t["float_tensor"].is_u64()));
    assert!(tensors.iter().any(|t| t["saturated"].as_u64() > Some(0)));

    let float = Model::from_file(&model).unwrap();
    let inputs = ReferenceEngine.prepare(&float).unwrap().inputs().to_vec();
    let opts = QuantizeOptions {
        max_samples: Some(9),
        ..QuantizeOptions::int8()
    };
    let copts: CalibrationOptions = opts.calibration_options();
    let open = || litequant::data::open(&calib, &inputs, &Default::default()).unwrap();
    let engine = litequant::ConverterFloatEngine;
    let stats = calibrate(&float, &engine, &mut open(), &copts).unwrap();
    let (q, mut want) = quantize(&float, Some(&stats), &opts).unwrap();
    count_saturation(&float, &q, &engine, &mut open(), &mut want, &copts).unwrap();
    let want: serde_json::Value = serde_json::from_str(&want.to_json()).unwrap();
    assert_eq!(json, want);
}

/// `--mode int16x8` writes the library's 16x8 file (int16 I/O with `--input-type int16`),
/// and int16 I/O outside that mode is an error before any work.
#[test]
fn int16x8_mode_and_int16_io() {
    let dir = TempDir::new("int16x8");
    let ops = common::fixtures().join("ops");
    let float = ops.join("conv2d_same_f32.tflite");
    let calib = ops.join("conv2d_same.calib.npz");
    let out = dir.join("q16.tflite");
    let o = litequant(&[
        "quantize",
        s(&float),
        "-o",
        s(&out),
        "--mode",
        "int16x8",
        "--calib",
        s(&calib),
        "--input-type",
        "int16",
        "--output-type",
        "int16",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let q = Model::from_file(&out).unwrap();
    let sg = q.main();
    for &t in sg.inputs.iter().chain(&sg.outputs) {
        assert_eq!(sg.tensors[t].dtype, litequant::model::DType::I16);
        assert_eq!(sg.tensors[t].quant.as_ref().unwrap().zero_point, vec![0]);
    }
    let bias = sg.operators[0].input(2).unwrap();
    assert_eq!(sg.tensors[bias].dtype, litequant::model::DType::I64);
    // int16 I/O needs the 16x8 mode, and the 16x8 mode takes no int8 I/O.
    for (mode, io) in [("int8-only", "int16"), ("int16x8", "int8")] {
        let bad = dir.join("bad.tflite");
        let o = litequant(&[
            "quantize",
            s(&float),
            "-o",
            s(&bad),
            "--mode",
            mode,
            "--calib",
            s(&calib),
            "--input-type",
            io,
        ]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("does not go with mode"), "{err}");
        assert!(!bad.exists());
    }
}
