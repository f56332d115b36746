//! Calibration over samples in parallel (`CalibrationOptions::threads` on the fast CPU
//! engine) gives the statistics of one sample at a time, bit for bit: ranges (zero signs
//! included), counts, histograms and moving averages, at 1, 2, 3 and 7 threads, with and
//! without a sample limit that ends a batch early; and those of `ConverterFloatEngine`.

mod common;

use std::collections::BTreeMap;

use litequant::data::NpyDataset;
use litequant::quant::stats::HistogramSpec;
use litequant::{
    calibrate, CalibrationOptions, ConverterFloatEngine, Engine, FastCpuEngine, FloatOrder, Model,
    Session, Stats,
};

/// Everything in `s`, floats as bits.
fn fingerprint(s: &Stats) -> String {
    let mut out = format!("samples {}\n", s.samples);
    for (t, x) in &s.tensors {
        out += &format!(
            "{t}: {:08x} {:08x} {} {} {}\n",
            x.min.to_bits(),
            x.max.to_bits(),
            x.count,
            x.nan,
            x.inf
        );
    }
    for (t, h) in &s.histograms {
        out += &format!("h{t}: {:?} {} {}\n", h.counts, h.below, h.above);
    }
    for (t, x) in &s.unwidened {
        out += &format!("u{t}: {:08x} {:08x}\n", x.min.to_bits(), x.max.to_bits());
    }
    out += &format!("{:?}\n", s.moving_averages);
    out
}

fn run<E: Engine>(m: &Model, engine: &E, opts: &CalibrationOptions) -> Stats {
    let spec = engine.prepare(m).unwrap().inputs()[0].clone();
    let mut data = NpyDataset::open(common::fixtures().join("digits_calib.npy"))
        .unwrap()
        .with_input(&spec)
        .unwrap();
    calibrate(m, engine, &mut data, opts).unwrap()
}

#[test]
fn parallel_calibration_equals_sequential() {
    for model in ["cnn_float32.tflite", "mlp_float32.tflite"] {
        let m = Model::from_file(common::fixtures().join(model)).unwrap();
        // Histograms of every computed float tensor over a fixed range.
        let sg = m.main();
        let computed: Vec<usize> = sg
            .inputs
            .iter()
            .copied()
            .chain(sg.operators.iter().flat_map(|o| o.output_tensors()))
            .filter(|&t| sg.tensors[t].dtype == litequant::model::DType::F32)
            .collect();
        let spec = HistogramSpec::new(-3.0, 5.0, 64).unwrap();
        let histograms: BTreeMap<usize, HistogramSpec> =
            computed.iter().map(|&t| (t, spec)).collect();
        for max_samples in [None, Some(7)] {
            let opts = |threads: usize| CalibrationOptions {
                max_samples,
                histograms: histograms.clone(),
                moving_averages: vec![0.9, 0.99],
                threads,
                ..Default::default()
            };
            let want = fingerprint(&run(&m, &ConverterFloatEngine, &opts(1)));
            assert!(want.contains("h"), "no histograms");
            for threads in [1, 2, 3, 7] {
                let engine = FastCpuEngine::new()
                    .with_threads(threads)
                    .with_float_order(FloatOrder::Converter);
                let got = fingerprint(&run(&m, &engine, &opts(threads)));
                assert_eq!(got, want, "{model}, {threads} threads, {max_samples:?}");
            }
        }
    }
}
