//! `litequant run` on the model fixtures reproduces LiteRT's outputs: the test writes the
//! golden input sample as .npy, runs the CLI, reads its .npz and compares with the output
//! LiteRT's reference kernels recorded.

mod common;

use std::process::Command;

use common::golden::{compare, sample};
use litequant::data::{npy_bytes, Npz};

fn tmpdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("litequant-run-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn run_reproduces_litert_outputs_on_the_model_fixtures() {
    let manifest = common::manifest();
    let mut checked = 0;
    for (name, m) in manifest["fixtures"].as_object().unwrap() {
        if m["goldens"] != true {
            continue;
        }
        let dir = tmpdir(name);
        let mut golden =
            Npz::open(common::fixtures().join(m["golden_file"].as_str().unwrap())).unwrap();
        let input = sample(&golden.read("input_0").unwrap(), 1);
        let want = sample(&golden.read("output_0").unwrap(), 1);
        let x = dir.join("x.npy");
        std::fs::write(&x, npy_bytes(&input)).unwrap();
        let out = dir.join("out.npz");
        let model = common::fixtures().join(m["file"].as_str().unwrap());
        let res = Command::new(env!("CARGO_BIN_EXE_litequant"))
            .args([
                "run",
                model.to_str().unwrap(),
                "--input",
                x.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert!(res.status.success(), "{name}: {stderr}");
        assert!(
            stderr.contains("ran in"),
            "{name}: prints the run time: {stderr}"
        );
        let mut got = Npz::open(&out).unwrap();
        // Saved under the signature's output name.
        assert_eq!(got.names(), ["output_0"], "{name}");
        let got = got.read("output_0").unwrap();
        if let Some(d) = compare(&got, &want) {
            panic!("{name}: {d}");
        }
        std::fs::remove_dir_all(&dir).ok();
        checked += 1;
    }
    assert_eq!(checked, 11, "every runnable model fixture");
}

#[test]
fn run_reports_bad_inputs_clearly() {
    let dir = tmpdir("bad");
    let model = common::fixtures().join("mlp_float32.tflite");
    let wrong = dir.join("wrong.npy");
    std::fs::write(
        &wrong,
        npy_bytes(&litequant::Tensor::from_f32(&[1, 63], &[0.0; 63]).unwrap()),
    )
    .unwrap();
    let out = dir.join("out.npz");
    let res = Command::new(env!("CARGO_BIN_EXE_litequant"))
        .args([
            "run",
            model.to_str().unwrap(),
            "--input",
            wrong.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(!out.exists(), "no output file on failure");
    assert!(
        err.contains("'pixels' FLOAT32 [1, 63] (model: [1, 64])"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
