//! Shared by the target-search tests (`quantize_target.rs`, `quantize_target16.rs`): the
//! digits CNN calibrated with every 4th sample held out, and the error of a set of moves
//! measured independently of the search.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use litequant::data::{Dataset, HoldoutSplit, InMemory, NpyDataset};
use litequant::eval::{evaluate, EvalOptions};
use litequant::quant::target::{quantize_to_target, Precision, TargetOptions, TargetReport};
use litequant::quant::{quantize, KeepFloat, QuantizeOptions, Report};
use litequant::{ConverterFloatEngine, Engine, Model, Session, Stats};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The CNN, calibrated on the calibration part of the first 40 digits (every 4th of them
/// held out: 10 samples).
pub fn setup() -> (Model, Stats, InMemory) {
    let m = Model::from_file(fixture("cnn_float32.tflite")).unwrap();
    let spec = ConverterFloatEngine.prepare(&m).unwrap().inputs()[0].clone();
    let data = NpyDataset::open(fixture("digits_calib.npy"))
        .unwrap()
        .with_input(&spec)
        .unwrap();
    let mut data = data.max_samples(40);
    let mut split = HoldoutSplit::new(&mut data, 4).unwrap();
    let stats =
        litequant::calibrate(&m, &ConverterFloatEngine, &mut split, &Default::default()).unwrap();
    assert_eq!(stats.samples, 30);
    let held = split.into_held_out();
    assert_eq!(held.len(), 10);
    (m, stats, held)
}

/// int8 options with these ops (by output tensor name) moved to int16 or kept float.
pub fn options(moves: &[(String, Precision)]) -> QuantizeOptions {
    let mut o = QuantizeOptions::int8();
    for (name, p) in moves {
        match p {
            Precision::Int16 => o.int16_ops.push(KeepFloat::Tensor(name.clone())),
            Precision::Float => o.keep_float.push(KeepFloat::Tensor(name.clone())),
        }
    }
    o
}

/// The worst output's relative RMSE with these moves, measured here (not by the search).
pub fn worst_rel(m: &Model, stats: &Stats, held: &InMemory, moves: &[(String, Precision)]) -> f64 {
    let (q, _) = quantize(m, Some(stats), &options(moves)).unwrap();
    let e = evaluate(
        m,
        &q,
        &ConverterFloatEngine,
        &mut held.dataset(),
        None,
        &EvalOptions::default(),
    )
    .unwrap();
    e.outputs
        .iter()
        .map(|o| 10f64.powf(-o.sqnr_db / 20.0))
        .fold(0.0, f64::max)
}

/// The target search on the int8 model with the calibrating engine; prints its report.
pub fn search(
    m: &Model,
    stats: &Stats,
    held: &InMemory,
    topts: &TargetOptions,
) -> litequant::Result<(Model, Report, TargetReport)> {
    let r = quantize_to_target(
        m,
        &ConverterFloatEngine,
        stats,
        held,
        &QuantizeOptions::int8(),
        topts,
    );
    if let Ok((_, _, report)) = &r {
        println!("{report}");
    }
    r
}
