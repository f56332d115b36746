//! The library as an app uses it (issue 12): samples from an iterator or memory, progress
//! closures, cancellation, shape checks on every sample, errors that keep their variant.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{fixtures, TempDir};
use litequant::prelude::*;

fn cnn() -> Model {
    Model::from_file(fixtures().join("cnn_float32.tflite")).unwrap()
}

/// The first `n` demo digits as in-memory samples, one `Vec<Tensor>` each.
fn digits(n: usize) -> Vec<Vec<Tensor>> {
    let all = litequant::data::read_npy_file(fixtures().join("digits_calib.npy")).unwrap();
    let x = all.as_f32().unwrap();
    (0..n)
        .map(|i| vec![Tensor::from_f32(&[1, 8, 8, 1], &x[i * 64..(i + 1) * 64]).unwrap()])
        .collect()
}

#[test]
fn a_dataset_from_an_iterator_calibrates_as_the_file_does() {
    let float = cnn();
    let engine = ConverterFloatEngine;
    let from_memory = calibrate(
        &float,
        &engine,
        &mut litequant::data::from_iter(digits(100)),
        &Default::default(),
    )
    .unwrap();
    let spec = engine.prepare(&float).unwrap().inputs()[0].clone();
    let mut file = NpyDataset::open(fixtures().join("digits_calib.npy"))
        .unwrap()
        .with_input(&spec)
        .unwrap();
    let from_file = calibrate(&float, &engine, &mut file, &Default::default()).unwrap();
    assert_eq!(from_memory.samples, 100);
    assert_eq!(from_memory, from_file);

    // Named pairs, a lazy iterator, and an InMemory built from them: the same statistics.
    let name = spec.key().to_string();
    let named = digits(100)
        .into_iter()
        .map(|s| vec![(name.clone(), s.into_iter().next().unwrap())]);
    let mem = InMemory::new(named).unwrap();
    let again = calibrate(&float, &engine, &mut mem.dataset(), &Default::default()).unwrap();
    assert_eq!(again, from_file);
}

#[test]
fn file_datasets_are_send() {
    fn send<T: Send>(_: &T) {}
    let float = cnn();
    let inputs = ReferenceEngine.prepare(&float).unwrap().inputs().to_vec();
    let data = litequant::data::open(
        fixtures().join("digits_calib.npy"),
        &inputs,
        &Default::default(),
    )
    .unwrap();
    send(&data);
    // ... and can be moved to a worker thread that calibrates.
    let stats = std::thread::spawn(move || {
        let mut data = data;
        calibrate(
            &float,
            &ConverterFloatEngine,
            &mut data,
            &Default::default(),
        )
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(stats.samples, 100);
}

#[test]
fn a_progress_closure_counts_every_sample() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let (tx, rx) = std::sync::mpsc::channel();
    let opts = CalibrationOptions {
        progress: Some(ProgressFn::new(move |p: Progress| {
            seen.fetch_add(1, Ordering::SeqCst);
            tx.send(p).unwrap();
        })),
        ..Default::default()
    };
    let stats = calibrate(
        &cnn(),
        &ConverterFloatEngine,
        &mut litequant::data::from_iter(digits(12)),
        &opts,
    )
    .unwrap();
    assert_eq!(stats.samples, 12);
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    let got: Vec<Progress> = rx.try_iter().collect();
    assert_eq!(got.len(), 12);
    for (i, p) in got.iter().enumerate() {
        assert_eq!(
            (p.done, p.total, p.phase),
            (i + 1, Some(12), Phase::Calibration)
        );
    }
}

#[test]
fn cancelling_mid_calibration_is_a_distinct_error_and_writes_nothing() {
    let dir = TempDir::new("library_api_cancel");
    let out = dir.join("cnn_int8.tflite");
    let float = cnn();
    let cancel = CancelToken::new();
    let ui = cancel.clone();
    let done = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&done);
    let mut opts = QuantizeOptions::int8();
    opts.cancel = cancel.clone();
    let mut copts = opts.calibration_options();
    // The "Cancel" button is pressed after the 5th sample.
    copts.progress = Some(ProgressFn::new(move |p: Progress| {
        seen.store(p.done, Ordering::SeqCst);
        if p.done == 5 {
            ui.cancel();
        }
    }));
    // What an app does: calibrate, quantize, write.
    let job = || -> litequant::Result<()> {
        let mut data = litequant::data::from_iter(digits(100));
        let stats = calibrate(&float, &ConverterFloatEngine, &mut data, &copts)?;
        let (q, _) = quantize(&float, Some(&stats), &opts)?;
        q.write_file(&out)
    };
    let e = job().unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e:?}");
    assert!(e.is_cancelled());
    assert_eq!(
        done.load(Ordering::SeqCst),
        5,
        "stopped before the 6th sample"
    );
    assert!(!out.exists(), "a cancelled job wrote {}", out.display());
    // A cancelled token also stops quantize itself (statistics from before).
    let stats = calibrate(
        &float,
        &ConverterFloatEngine,
        &mut litequant::data::from_iter(digits(4)),
        &Default::default(),
    )
    .unwrap();
    let e = quantize(&float, Some(&stats), &opts).unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e:?}");
    // ... and evaluation.
    let eopts = EvalOptions {
        cancel: cancel.clone(),
        ..Default::default()
    };
    let e = evaluate(
        &float,
        &float,
        &ReferenceEngine,
        &mut litequant::data::from_iter(digits(4)),
        None,
        &eopts,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e:?}");
}

#[test]
fn a_wrong_shape_sample_is_an_error_naming_sample_input_and_shapes() {
    let float = cnn();
    let spec = ReferenceEngine.prepare(&float).unwrap().inputs()[0].clone();
    // Three good samples, then one of another shape: unfitted, straight from memory.
    let mut samples = digits(3);
    samples.push(vec![Tensor::from_f32(&[1, 9, 9, 1], &[0.0; 81]).unwrap()]);
    let e = calibrate(
        &float,
        &ConverterFloatEngine,
        &mut litequant::data::from_iter(samples),
        &Default::default(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("sample 3")
            && msg.contains(&format!("'{}'", spec.key()))
            && msg.contains("[1, 8, 8, 1]")
            && msg.contains("[1, 9, 9, 1]"),
        "{msg}"
    );
    // The variant survives: the sample wrapper, then the shape error itself.
    match &e {
        Error::Sample { index, source, .. } => {
            assert_eq!(*index, 3);
            assert!(
                matches!(&**source, Error::InputShape { expected, actual, .. }
                    if expected == &[1, 8, 8, 1] && actual == &[1, 9, 9, 1]),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(e.root(), Error::InputShape { .. }));
    let src = std::error::Error::source(&e).expect("a source");
    assert!(src.to_string().contains("[1, 9, 9, 1]"), "{src}");

    // An unfitted .npy of another sample shape: the same check (the file's [1, 9, 9, 6]
    // batch-of-one samples are not silently re-prepared for).
    let dir = TempDir::new("library_api_shape");
    let path = dir.join("wrong.npy");
    let bad = Tensor::from_f32(&[4, 9, 9, 6], &vec![0.0; 4 * 9 * 9 * 6]).unwrap();
    std::fs::write(&path, litequant::data::npy_bytes(&bad)).unwrap();
    let mut data = NpyDataset::open(&path).unwrap();
    let e = calibrate(
        &float,
        &ConverterFloatEngine,
        &mut data,
        &Default::default(),
    )
    .unwrap_err();
    assert!(matches!(e.root(), Error::InputShape { .. }), "{e:?}");
    assert!(e.to_string().contains("sample 0"), "{e}");

    // A wrong dtype: InputType, through evaluation too.
    let ints = vec![vec![Tensor::from_i8(&[1, 8, 8, 1], &[0; 64]).unwrap()]];
    let e = evaluate(
        &float,
        &float,
        &ReferenceEngine,
        &mut litequant::data::from_iter(ints),
        None,
        &Default::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Sample { index: 0, source, .. }
            if matches!(**source, Error::InputType { .. })),
        "{e:?}"
    );
}

#[test]
fn a_calibration_errors_underlying_variant_is_kept() {
    // A sample whose iterator item is an I/O error: the variant comes through calibration.
    let float = cnn();
    let mut items: Vec<std::io::Result<Vec<Tensor>>> = digits(2).into_iter().map(Ok).collect();
    items.push(Err(std::io::Error::other("camera unplugged")));
    let e = calibrate(
        &float,
        &ConverterFloatEngine,
        &mut litequant::data::from_iter(items),
        &Default::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Sample { index: 2, source, .. }
            if matches!(&**source, Error::Io { source, .. } if source.to_string() == "camera unplugged")),
        "{e:?}"
    );
    // `?` on an io::Error in an app's own function gives an Error too.
    fn read() -> litequant::Result<()> {
        Err(std::io::Error::other("x"))?;
        Ok(())
    }
    assert!(matches!(read(), Err(Error::Io { .. })));
}

#[test]
fn reports_name_ops_and_types_by_typed_values() {
    use litequant::model::code;
    // Keep every CONV_2D float by its typed kind; the report names them by the same kind.
    let float = cnn();
    let stats = calibrate(
        &float,
        &ConverterFloatEngine,
        &mut litequant::data::from_iter(digits(8)),
        &Default::default(),
    )
    .unwrap();
    let conv: OpKind = "CONV_2D".parse().unwrap();
    assert_eq!(conv, OpKind::Builtin(code::CONV_2D));
    let opts = QuantizeOptions {
        keep_float: vec![KeepFloat::OpType(conv.clone())],
        ..QuantizeOptions::int8()
    };
    let (quantized, report) = quantize(&float, Some(&stats), &opts).unwrap();
    let kept: Vec<&OpKind> = report.float_ops.iter().map(|f| &f.op).collect();
    let convs = float
        .main()
        .operators
        .iter()
        .filter(|o| o.op.kind() == conv)
        .count();
    assert!(convs > 0);
    assert_eq!(kept, vec![&conv; convs], "{:?}", report.float_ops);
    // inspect's report: typed ops and dtypes, printed and serialized by their TFLite names.
    let info = litequant::inspect::Report::new(&quantized, None);
    let sg = &info.subgraphs[0];
    assert_eq!(sg.inputs[0].dtype, DType::F32);
    assert_eq!(sg.op_histogram.get(&conv), Some(&convs));
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["subgraphs"][0]["inputs"][0]["dtype"], "FLOAT32");
    assert_eq!(json["op_histogram"]["CONV_2D"], convs);
    let first = &sg.operators[0];
    assert_eq!(first.op.to_string(), first.op.name());
    assert_eq!(first.op.builtin_code(), first.builtin_code);
}
