//! `litequant inspect` on every fixture, the JSON form checked against what LiteRT's
//! interpreter reported for the same files (the generator's manifest).

mod common;

use std::process::Command;

use serde_json::Value;

fn litequant(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_litequant"))
        .args(args)
        .output()
        .expect("run litequant")
}

fn inspect_json(path: &std::path::Path) -> Value {
    let out = litequant(&["inspect", "--json", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("inspect --json prints JSON")
}

/// The interpreter's dtype names are numpy's (`float32`); inspect uses TFLite's (`FLOAT32`).
fn same_dtype(numpy: &str, tflite: &str) -> bool {
    numpy.eq_ignore_ascii_case(tflite)
}

#[test]
fn json_matches_litert_for_every_fixture() {
    let manifest = common::manifest();
    for path in common::tflite_fixtures() {
        let name = common::stem(&path);
        let expect = &manifest["fixtures"][&name];
        let got = inspect_json(&path);
        assert_eq!(got["format"], 1);
        assert_eq!(got["schema_version"], 3);
        assert_eq!(got["file_bytes"], expect["size"], "{name}");
        // The manifest writes custom ops as `CUSTOM:<code>`; inspect names them by their code.
        let want_hist: serde_json::Map<String, Value> = expect["op_histogram"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.trim_start_matches("CUSTOM:").to_string(), v.clone()))
            .collect();
        assert_eq!(
            got["op_histogram"],
            Value::Object(want_hist),
            "{name}: op histogram"
        );
        if expect["runnable"] != true {
            continue;
        }
        let sg = &got["subgraphs"][0];
        for (kind, list) in [("inputs", &sg["inputs"]), ("outputs", &sg["outputs"])] {
            let want = expect[kind].as_array().unwrap();
            let got = list.as_array().unwrap();
            assert_eq!(got.len(), want.len(), "{name} {kind}");
            for (g, w) in got.iter().zip(want) {
                assert_eq!(g["name"], w["name"], "{name} {kind}");
                assert_eq!(g["tensor"], w["index"], "{name} {kind}");
                assert_eq!(g["shape"], w["shape"], "{name} {kind}");
                assert!(
                    same_dtype(w["dtype"].as_str().unwrap(), g["dtype"].as_str().unwrap()),
                    "{name} {kind}: {} vs {}",
                    g["dtype"],
                    w["dtype"]
                );
                match (&w["quantization"], &g["quantization"]) {
                    (Value::Null, q) => assert!(q.is_null() || q["kind"] == "none", "{name}"),
                    (wq, gq) => {
                        assert_eq!(gq["kind"], "per_tensor", "{name}");
                        assert_eq!(
                            gq["scale"][0].as_f64().map(|s| s as f32),
                            wq["scale"].as_f64().map(|s| s as f32),
                            "{name} {kind} scale"
                        );
                        assert_eq!(gq["zero_point"][0], wq["zero_point"], "{name} {kind} zp");
                    }
                }
            }
        }
        // Signature names as the converter wrote them.
        assert_eq!(got["signatures"][0]["key"], "serving_default", "{name}");
        assert!(sg["inputs"][0]["signature_name"].is_string(), "{name}");
    }
}

#[test]
fn json_reports_per_axis_quantization_and_weight_bytes() {
    let got = inspect_json(&common::fixtures().join("cnn_int8.tflite"));
    let tensors = got["subgraphs"][0]["tensors"].as_array().unwrap();
    let depthwise = tensors
        .iter()
        .find(|t| t["name"] == "cnn_1/dwconv_1/depthwise")
        .expect("depthwise weights");
    assert_eq!(depthwise["dtype"], "INT8");
    assert_eq!(depthwise["constant"], true);
    assert_eq!(depthwise["quantization"]["kind"], "per_axis");
    assert_eq!(depthwise["quantization"]["axis"], 3);
    assert_eq!(
        depthwise["quantization"]["scale"].as_array().unwrap().len(),
        16
    );
    // Weight bytes by dtype add up to the constant tensors' data.
    let sum: u64 = tensors
        .iter()
        .map(|t| t["data_bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(got["weight_bytes_total"].as_u64().unwrap(), sum);
    let by_dtype: u64 = got["weight_bytes"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_dtype, sum);
    assert!(got["weight_bytes"]["INT8"].as_u64().unwrap() > 1000);
    let ops = got["subgraphs"][0]["operators"].as_array().unwrap();
    let conv = ops.iter().find(|o| o["op"] == "CONV_2D").unwrap();
    assert_eq!(conv["version"], 3, "int8 CONV_2D is version 3");
}

#[test]
fn text_form_names_everything() {
    let path = common::fixtures().join("mlp_int8_only.tflite");
    let out = litequant(&["inspect", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "serving_default_pixels:0",
        "INT8",
        "FULLY_CONNECTED",
        "per-axis",
        "op histogram",
        "weights:",
        "signature 'serving_default'",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn bad_files_are_clear_errors_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("litequant-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("garbage.tflite");
    std::fs::write(&bad, b"this is not a model at all").unwrap();
    let out = litequant(&["inspect", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("garbage.tflite") && err.contains("identifier"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let missing = dir.join("missing.tflite");
    let out = litequant(&["inspect", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.tflite"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
