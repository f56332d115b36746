//! The main job in one command: `cargo run --release --example quickstart`.
//!
//! With nothing else given it quantizes the demo model shipped in the repo (a small digits
//! CNN, `tests/fixtures/cnn_float32.tflite`) with the demo calibration samples shipped beside
//! it (`digits_calib.npy`, 100 samples), writes the int8 model (`target/quickstart/cnn_int8.tflite`), and prints the size before
//! and after and the float vs quantized accuracy on the held-out samples
//! (`digits_holdout.npz`, 200 samples with labels `y`) — all on the CPU reference engine.
//!
//! Your own model: `cargo run --release --example quickstart -- MODEL CALIB HOLDOUT.npz OUT`
//! (HOLDOUT: a .npz with the inputs and integer labels `y`).

use std::path::PathBuf;

use anyhow::Context;
use litequant::quant::{quantize, QuantizeOptions};
use litequant::{Engine, ReferenceEngine, Session};

fn main() -> anyhow::Result<()> {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (model_path, calib, holdout, out) = match args.as_slice() {
        [] => (
            demo.join("cnn_float32.tflite"),
            demo.join("digits_calib.npy"),
            demo.join("digits_holdout.npz"),
            None,
        ),
        [m, c, h, o] => (m.clone(), c.clone(), h.clone(), Some(o.clone())),
        _ => anyhow::bail!("usage: quickstart [MODEL CALIB HOLDOUT.npz OUT.tflite]"),
    };

    let engine = ReferenceEngine;
    let float = litequant::Model::from_file(&model_path)?;
    let inputs = engine.prepare(&float)?.inputs().to_vec();
    println!("model:       {}", model_path.display());

    // 1. Calibrate: run the float model over the representative samples, the float kernels
    //    summing in the order of those TensorFlow's converter calibrates with (its scales, to
    //    the bit).
    let calibrator = litequant::ConverterFloatEngine;
    let mut data = litequant::data::open(&calib, &inputs, &Default::default())?;
    let stats = litequant::calibrate(&float, &calibrator, &mut data, &Default::default())
        .with_context(|| format!("calibrating on {}", calib.display()))?;
    println!(
        "calibration: {} samples from {} on {}",
        stats.samples,
        calib.display(),
        calibrator.name()
    );

    // 2. Quantize to full integer (float I/O kept).
    let (quantized, report) = quantize(&float, Some(&stats), &QuantizeOptions::int8())?;
    // The demo writes target/quickstart/cnn_<mode>.tflite.
    let out = out.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/quickstart")
            .join(format!(
                "cnn_{}.tflite",
                report.mode.name().replace('-', "_")
            ))
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    quantized.write_file(&out)?;
    println!("mode:        {}", report.mode);
    println!(
        "size:        {} -> {} bytes ({:.1}%)",
        report.size_before,
        report.size_after,
        100.0 * report.size_after as f64 / report.size_before as f64
    );
    println!("written:     {}", out.display());

    // 3. Evaluate float vs quantized on the held-out samples.
    let mut holdout_data = litequant::data::open(&holdout, &inputs, &Default::default())?;
    let labels = litequant::eval::labels_from_npz(&holdout, "y")?
        .with_context(|| format!("{}: no labels array 'y'", holdout.display()))?;
    let eval = litequant::eval::evaluate(
        &float,
        &quantized,
        &engine,
        &mut holdout_data,
        Some(&labels),
        &Default::default(),
    )?;
    let o = &eval.outputs[0];
    let pct = |v: Option<f64>| v.map_or("-".into(), |x| format!("{:.2}%", 100.0 * x));
    println!(
        "held-out:    {} samples from {}",
        eval.samples,
        holdout.display()
    );
    println!(
        "accuracy:    float {}, quantized {} (top-1 agreement {})",
        pct(o.accuracy_float),
        pct(o.accuracy_quant),
        pct(o.top1_agreement)
    );
    println!(
        "output error: max |err| {:.3e}, RMSE {:.3e}, SQNR {:.1} dB",
        o.max_abs_error, o.rmse, o.sqnr_db
    );
    Ok(())
}
