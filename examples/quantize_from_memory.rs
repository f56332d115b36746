//! The quickstart job with the samples in memory, as an app has them:
//! `cargo run --example quantize_from_memory`. Calibrate on 100 demo digits, quantize to
//! int8 (int8 output), run the int8 model on 200 held-out digits, print its accuracy and the
//! output's scale and zero point.

use std::path::Path;

use litequant::data::{read_npy_file, Npz};
use litequant::prelude::*;

fn main() -> litequant::Result<()> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let float = Model::from_file(demo.join("cnn_float32.tflite"))?;
    // The app's data, in memory: 8x8 grayscale digits, and labels for the held-out ones.
    let calib = digits(&read_npy_file(demo.join("digits_calib.npy"))?)?;
    let mut holdout = Npz::open(demo.join("digits_holdout.npz"))?;
    let (images, labels) = (digits(&holdout.read("x")?)?, holdout.read("y")?);
    let (mut data, copts) = (from_iter(calib), CalibrationOptions::default());
    let stats = calibrate(&float, &ConverterFloatEngine, &mut data, &copts)?;
    let mut opts = QuantizeOptions::int8();
    opts.output_type = IoType::Int8;
    let (int8, _report) = quantize(&float, Some(&stats), &opts)?;
    let mut session = ReferenceEngine.prepare(&int8)?;
    let mut correct = 0;
    for (image, &label) in images.into_iter().zip(labels.as_i64().unwrap_or_default()) {
        let scores = session.run(&[image])?.remove(0);
        correct += usize::from(argmax(scores.as_i8().unwrap_or_default()) == label as usize);
    }
    let (scale, zero_point) = session.outputs()[0].quant.unwrap_or_default();
    println!("int8 held-out accuracy: {correct}/{}", labels.len());
    println!("output: int8, scale {scale}, zero point {zero_point}");
    Ok(())
}

/// An `[N, 8, 8, 1]` float array as N samples of shape `[1, 8, 8, 1]`.
fn digits(all: &Tensor) -> litequant::Result<Vec<Tensor>> {
    let pixels = all.as_f32().unwrap_or_default();
    pixels
        .chunks(64)
        .map(|px| Tensor::from_f32(&[1, 8, 8, 1], px))
        .collect()
}

/// The index of the largest score.
fn argmax(scores: &[i8]) -> usize {
    (0..scores.len()).max_by_key(|&i| scores[i]).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs() {
        super::main().unwrap();
    }
}
