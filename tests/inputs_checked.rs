//! User inputs checked before any work: only regular files are read (a FIFO would block
//! forever), models that list one tensor twice as an output run as in LiteRT (both values,
//! unique keys), unknown `--keep-float` names and labels that are not class indices are
//! errors naming the culprit.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;
use litequant::data::{npy_bytes, Npz};
use litequant::quant::QuantizeOptions;
use litequant::tflite::fb;
use litequant::{Buf, Engine, Model, ReferenceEngine, Session, Tensor};

fn fixture(name: &str) -> String {
    common::fixtures().join(name).to_str().unwrap().to_string()
}

/// Run the CLI; a run past 60 s (blocked on a FIFO, say) is killed and fails the test.
fn litequant(args: &[&str]) -> (Output, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_litequant"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("litequant {args:?} still running after 60 s (blocked?)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, err)
}

fn mkfifo(path: &Path) -> bool {
    Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_fifo_is_refused_as_data_not_read() {
    let dir = TempDir::new("fifo");
    let fifo = dir.join("calib.npy");
    if !mkfifo(&fifo) {
        eprintln!("no mkfifo here: skipped");
        return;
    }
    let quantize_on = |calib: &Path| {
        litequant(&[
            "quantize",
            &fixture("cnn_float32.tflite"),
            "-o",
            dir.join("q.tflite").to_str().unwrap(),
            "--calib",
            calib.to_str().unwrap(),
        ])
    };
    let (out, err) = quantize_on(&fifo);
    assert!(!out.status.success());
    assert!(
        err.contains(fifo.to_str().unwrap()) && err.contains("FIFO"),
        "{err}"
    );
    // In an image folder, under an image's name.
    let images = dir.join("images");
    std::fs::create_dir(&images).unwrap();
    std::fs::write(images.join("notes.txt"), "not an image").unwrap();
    assert!(mkfifo(&images.join("b.png")));
    let (out, err) = quantize_on(&images);
    assert!(!out.status.success());
    assert!(
        err.contains("b.png") && err.contains("not a regular file"),
        "{err}"
    );
    // As a run's input, and as the model.
    let (out, err) = litequant(&[
        "run",
        &fixture("cnn_float32.tflite"),
        "--input",
        fifo.to_str().unwrap(),
        "-o",
        dir.join("o.npz").to_str().unwrap(),
    ]);
    assert!(!out.status.success() && err.contains("FIFO"), "{err}");
    let model_fifo = dir.join("m.tflite");
    assert!(mkfifo(&model_fifo));
    let e = Model::from_file(&model_fifo).unwrap_err().to_string();
    assert!(e.contains("m.tflite") && e.contains("FIFO"), "{e}");
    let e = litequant::data::read_npy_file(&fifo)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
}

/// `cnn_float32.tflite` with its output listed twice.
fn duplicate_outputs() -> Vec<u8> {
    let bytes = std::fs::read(fixture("cnn_float32.tflite")).unwrap();
    let mut m = fb::root_as_model(&bytes).unwrap().unpack();
    let sg = &mut m.subgraphs.as_mut().unwrap()[0];
    let o = sg.outputs.as_ref().unwrap()[0];
    sg.outputs = Some(vec![o, o]);
    let mut b = flatbuffers::FlatBufferBuilder::new();
    let root = m.pack(&mut b);
    b.finish(root, Some("TFL3"));
    b.finished_data().to_vec()
}

#[test]
fn a_tensor_listed_twice_as_an_output_runs_with_unique_keys() {
    // LiteRT runs such a model and returns the value at both output positions (checked
    // with ai-edge-litert 2.3.0: get_output_details() lists tensor 14 twice).
    let m = Model::from_bytes(&duplicate_outputs()).unwrap();
    let mut s = ReferenceEngine.prepare(&m).unwrap();
    let keys = litequant::output_keys(s.outputs());
    assert_eq!(keys, ["output_0", "output_0_output1"]);
    let x = Tensor::from_f32(&[1, 8, 8, 1], &[0.5; 64]).unwrap();
    let outs = s.run(&[x]).unwrap();
    assert_eq!(outs.len(), 2);
    assert_eq!(outs[0], outs[1]);

    let dir = TempDir::new("dup");
    let model = dir.join("dup.tflite");
    std::fs::write(&model, duplicate_outputs()).unwrap();
    let input = dir.join("x.npy");
    let x = Tensor::from_f32(&[1, 8, 8, 1], &[0.5; 64]).unwrap();
    std::fs::write(&input, npy_bytes(&x)).unwrap();
    let out = dir.join("o.npz");
    let (o, err) = litequant(&[
        "run",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{err}");
    let mut npz = Npz::open(&out).unwrap();
    let mut names = npz.names();
    names.sort();
    assert_eq!(names, ["output_0", "output_0_output1"]);
    assert_eq!(
        npz.read("output_0").unwrap(),
        npz.read("output_0_output1").unwrap()
    );
}

#[test]
fn unknown_or_empty_keep_float_names_are_errors_before_any_work() {
    let m = Model::from_file(fixture("cnn_float32.tflite")).unwrap();
    for bad in ["no_such_tensor", ""] {
        let opts = QuantizeOptions {
            keep_float: vec![bad.into()],
            ..QuantizeOptions::int8()
        };
        let e = opts.validate_for(&m).unwrap_err().to_string();
        assert!(e.contains(&format!("keep_float '{bad}'")), "{e}");
    }
    // A tensor name and an op type of the model are fine.
    let name = m.main().tensors[m.main().operators[0].outputs[0] as usize]
        .name
        .clone();
    for good in [name.as_str(), "CONV_2D"] {
        let opts = QuantizeOptions {
            keep_float: vec![good.into()],
            ..QuantizeOptions::int8()
        };
        opts.validate_for(&m).unwrap();
    }
    // The CLI stops before calibrating (the data here would take the whole run).
    let dir = TempDir::new("keep");
    let (o, err) = litequant(&[
        "quantize",
        &fixture("cnn_float32.tflite"),
        "-o",
        dir.join("q.tflite").to_str().unwrap(),
        "--calib",
        &fixture("digits_calib.npy"),
        "--keep-float",
        "CONV2D",
    ]);
    assert!(!o.status.success());
    assert!(err.contains("keep-float 'CONV2D'"), "{err}");
    assert!(!err.contains("samples"), "calibration ran: {err}");
    assert!(!dir.join("q.tflite").exists());
}

#[test]
fn labels_that_are_not_class_indices_are_refused() {
    let dir = TempDir::new("labels");
    for (bad, shown) in [(1000i64, "1000"), (-5, "-5"), (1 << 40, "1099511627776")] {
        let labels = dir.join("y.npy");
        let t = Tensor::new(&[4], Buf::I64(vec![3, bad, 1, 2])).unwrap();
        std::fs::write(&labels, npy_bytes(&t)).unwrap();
        let (o, err) = litequant(&[
            "eval",
            &fixture("cnn_float32.tflite"),
            &fixture("cnn_int8.tflite"),
            "--data",
            &fixture("digits_holdout.npz"),
            "--labels",
            labels.to_str().unwrap(),
            "--max-samples",
            "4",
        ]);
        assert!(!o.status.success(), "label {bad} accepted");
        assert!(
            err.contains(&format!("label 1 is {shown}")) && err.contains("10 classes"),
            "{err}"
        );
    }
}
