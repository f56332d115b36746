//! `litequant eval` on the fixtures: float vs quantized metrics agree with what LiteRT's
//! goldens imply, accuracy on the held-out digits, and `--per-layer` names the tensors the
//! two models share.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use litequant::data::{npy_bytes, Npz};
use litequant::model::DType;
use litequant::{Buf, Model, Tensor};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d =
            std::env::temp_dir().join(format!("litequant-cli-eval-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn eval(args: &[&str]) -> (Output, String) {
    let res = Command::new(env!("CARGO_BIN_EXE_litequant"))
        .arg("eval")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    (res, stderr)
}

fn fixture(name: &str) -> PathBuf {
    common::fixtures().join(name)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Row-wise argmax of a golden output stacked as [samples, 1, classes].
fn golden_argmax(t: &Tensor) -> Vec<usize> {
    let classes = *t.shape().last().unwrap();
    t.as_f32()
        .unwrap()
        .chunks(classes)
        .map(|r| litequant::eval::argmax(r).unwrap())
        .collect()
}

#[test]
fn golden_samples_give_the_accuracy_litert_implies() {
    let dir = TempDir::new("golden");
    let manifest = common::manifest();
    let labels: Vec<i64> = manifest["golden_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let mut gf = Npz::open(fixture("golden/cnn_float32.npz")).unwrap();
    let mut gd = Npz::open(fixture("golden/cnn_dynamic.npz")).unwrap();
    let input = gf.read("input_0").unwrap();
    assert_eq!(input, gd.read("input_0").unwrap(), "same golden inputs");
    let (of, od) = (gf.read("output_0").unwrap(), gd.read("output_0").unwrap());
    let (af, ad) = (golden_argmax(&of), golden_argmax(&od));
    assert_eq!(af.len(), labels.len());
    let frac = |a: &[usize]| {
        a.iter()
            .zip(&labels)
            .filter(|(p, &y)| **p as i64 == y)
            .count() as f64
            / labels.len() as f64
    };
    let agree = af.iter().zip(&ad).filter(|(a, b)| a == b).count() as f64 / af.len() as f64;
    // LiteRT's own max |float - dynamic| over the golden samples.
    let litert_max = of
        .as_f32()
        .unwrap()
        .iter()
        .zip(od.as_f32().unwrap())
        .map(|(a, b)| (a - b).abs() as f64)
        .fold(0.0, f64::max);

    let x = dir.join("x.npy");
    std::fs::write(&x, npy_bytes(&input)).unwrap();
    let y = dir.join("y.npy");
    let yt = Tensor::new(&[labels.len()], Buf::I64(labels.clone())).unwrap();
    std::fs::write(&y, npy_bytes(&yt)).unwrap();
    let out = dir.join("eval.json");
    let (res, stderr) = eval(&[
        s(&fixture("cnn_float32.tflite")),
        s(&fixture("cnn_dynamic.tflite")),
        "--data",
        s(&x),
        "--labels",
        s(&y),
        "--json",
        s(&out),
    ]);
    assert!(res.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(stdout.contains("top-1 agreement"), "{stdout}");
    let j = json(&out);
    assert_eq!(j["samples"], 4);
    let o = &j["outputs"][0];
    assert_eq!(o["name"], "output_0");
    assert_eq!(o["accuracy_float"].as_f64().unwrap(), frac(&af));
    assert_eq!(o["accuracy_quant"].as_f64().unwrap(), frac(&ad));
    assert_eq!(o["top1_agreement"].as_f64().unwrap(), agree);
    // The manifest's record of LiteRT's argmax, for the record: all four right.
    assert_eq!(frac(&af), 1.0);
    assert_eq!(frac(&ad), 1.0);
    // Our engine reproduces LiteRT within 1e-5 per element on both models.
    let max = o["max_abs_error"].as_f64().unwrap();
    assert!(
        (max - litert_max).abs() <= 4e-5,
        "{max} vs LiteRT {litert_max}"
    );
    assert!(o["sqnr_db"].as_f64().unwrap() > 20.0);
}

#[test]
fn holdout_accuracy_and_labels_from_the_npz() {
    let dir = TempDir::new("holdout");
    let out = dir.join("eval.json");
    let (res, stderr) = eval(&[
        s(&fixture("cnn_float32.tflite")),
        s(&fixture("cnn_dynamic.tflite")),
        "--data",
        s(&fixture("digits_holdout.npz")),
        "--json",
        s(&out),
    ]);
    assert!(res.status.success(), "{stderr}");
    assert!(
        stderr.contains("'y' array"),
        "says where labels came from: {stderr}"
    );
    let j = json(&out);
    assert_eq!(j["samples"], 200);
    assert_eq!(j["labelled"], true);
    // The float model's accuracy is the Keras model's, recorded by the fixture generator.
    let keras = common::manifest()["keras_holdout_accuracy"]["cnn"]
        .as_f64()
        .unwrap();
    let float_acc = j["outputs"][0]["accuracy_float"].as_f64().unwrap();
    assert!((float_acc - keras).abs() < 1e-6, "{float_acc} vs {keras}");
    let agree = j["outputs"][0]["top1_agreement"].as_f64().unwrap();
    assert!(agree >= 0.95, "{agree}");
    assert_eq!(j["layers"].as_array().unwrap().len(), 0, "no --per-layer");

    // --max-samples
    let (res, stderr) = eval(&[
        s(&fixture("cnn_float32.tflite")),
        s(&fixture("cnn_dynamic.tflite")),
        "--data",
        s(&fixture("digits_holdout.npz")),
        "--max-samples",
        "7",
        "--json",
        s(&out),
    ]);
    assert!(res.status.success(), "{stderr}");
    assert_eq!(json(&out)["samples"], 7);
}

/// Names of the tensors a model computes (not constants) in its main subgraph.
fn computed(m: &Model) -> HashSet<String> {
    m.main()
        .tensors
        .iter()
        .filter(|t| t.data.is_none() && !t.name.is_empty())
        .map(|t| t.name.clone())
        .collect()
}

#[test]
fn per_layer_names_the_shared_tensors() {
    let dir = TempDir::new("per-layer");
    let float = Model::from_file(fixture("cnn_float32.tflite")).unwrap();
    for quant in ["cnn_dynamic.tflite", "cnn_int8.tflite"] {
        let q = Model::from_file(fixture(quant)).unwrap();
        let out = dir.join("eval.json");
        let (res, stderr) = eval(&[
            s(&fixture("cnn_float32.tflite")),
            s(&fixture(quant)),
            "--data",
            s(&fixture("digits_holdout.npz")),
            "--max-samples",
            "20",
            "--per-layer",
            "--json",
            s(&out),
        ]);
        assert!(res.status.success(), "{quant}: {stderr}");
        let stdout = String::from_utf8_lossy(&res.stdout);
        assert!(stdout.contains("rmse/scale"), "{stdout}");
        let j = json(&out);
        let layers = j["layers"].as_array().unwrap();
        let names: HashSet<String> = layers
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_string())
            .collect();
        let shared: HashSet<String> = computed(&float)
            .intersection(&computed(&q))
            .cloned()
            .collect();
        assert_eq!(names, shared, "{quant}: every shared tensor, only those");
        for name in &names {
            assert!(stdout.contains(name.as_str()), "{quant}: {name} printed");
        }
        for l in layers {
            let qi = l["quant_tensor"].as_u64().unwrap() as usize;
            let fi = l["float_tensor"].as_u64().unwrap() as usize;
            let name = l["name"].as_str().unwrap();
            assert_eq!(q.main().tensors[qi].name, name);
            assert_eq!(float.main().tensors[fi].name, name);
            assert_eq!(l["samples"], 20);
            let int8 = q.main().tensors[qi].dtype == DType::I8;
            if int8 {
                // Quantization error of the order of the rounding step.
                let r = l["rmse/scale"].as_f64().unwrap();
                assert!(r > 0.05 && r < 5.0, "{quant} {name}: rmse/scale {r}");
                let scale = q.main().tensors[qi].quant.as_ref().unwrap().scale[0];
                assert_eq!(l["scale"].as_f64().unwrap() as f32, scale);
            } else {
                assert!(
                    l["rmse/scale"].is_null(),
                    "{quant} {name}: float stays without"
                );
            }
        }
        if quant == "cnn_int8.tflite" {
            assert!(layers.iter().filter(|l| l["dtype"] == "INT8").count() >= 5);
        } else {
            // The model input is the same tensor in both: no error at all.
            let input = &float.main().tensors[float.main().inputs[0]].name;
            let l = layers.iter().find(|l| l["name"] == input.as_str()).unwrap();
            assert_eq!(l["mean_squared_error"].as_f64().unwrap(), 0.0);
        }
    }
}

#[test]
fn integer_only_models_get_quantized_inputs() {
    let (res, stderr) = eval(&[
        s(&fixture("mlp_float32.tflite")),
        s(&fixture("mlp_int8_only.tflite")),
        "--data",
        s(&fixture("digits_holdout.npz")),
    ]);
    assert!(res.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(stdout.contains("accuracy: float 95.50%"), "{stdout}");
}

#[test]
fn bad_eval_inputs_are_named() {
    let dir = TempDir::new("bad");
    let missing = dir.join("missing.npz");
    let (res, stderr) = eval(&[
        s(&fixture("cnn_float32.tflite")),
        s(&fixture("cnn_dynamic.tflite")),
        "--data",
        s(&missing),
    ]);
    assert!(!res.status.success());
    assert!(stderr.contains("missing.npz"), "{stderr}");

    // Fewer labels than samples.
    let y = dir.join("y.npy");
    let yt = Tensor::new(&[3], Buf::I64(vec![0, 1, 2])).unwrap();
    std::fs::write(&y, npy_bytes(&yt)).unwrap();
    let (res, stderr) = eval(&[
        s(&fixture("cnn_float32.tflite")),
        s(&fixture("cnn_dynamic.tflite")),
        "--data",
        s(&fixture("digits_calib.npy")),
        "--labels",
        s(&y),
    ]);
    assert!(!res.status.success());
    assert!(
        stderr.contains("labels") && stderr.contains("sample 3"),
        "{stderr}"
    );

    // Models that do not pair up: different outputs.
    let (res, stderr) = eval(&[
        s(&fixture("cnn_float32.tflite")),
        s(&fixture("custom_op.tflite")),
        "--data",
        s(&fixture("digits_calib.npy")),
    ]);
    assert!(!res.status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn image_directories_with_normalisation() {
    let dir = TempDir::new("images");
    let images = dir.join("imgs");
    std::fs::create_dir_all(&images).unwrap();
    for k in 0..3u8 {
        let img =
            image::GrayImage::from_fn(8, 8, |x, y| image::Luma([(x as u8 + y as u8) * 8 + k]));
        img.save(images.join(format!("{k}.png"))).unwrap();
    }
    let out = dir.join("eval.json");
    let (res, stderr) = eval(&[
        s(&fixture("cnn_float32.tflite")),
        s(&fixture("cnn_dynamic.tflite")),
        "--data",
        s(&images),
        "--scale",
        "0.0625",
        "--mean",
        "0.5",
        "--std",
        "2",
        "--json",
        s(&out),
    ]);
    assert!(res.status.success(), "{stderr}");
    let j = json(&out);
    assert_eq!(j["samples"], 3);
    assert_eq!(j["labelled"], false);
    assert!(j["outputs"][0]["accuracy_float"].is_null());
}
