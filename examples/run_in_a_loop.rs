//! Prepare a quantized model once and run it on a stream of inputs (camera frames, audio
//! windows): `cargo run --release --example run_in_a_loop [-- MODEL.tflite]`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use litequant::prelude::*;

fn main() -> litequant::Result<()> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| demo.join("cnn_int8.tflite"), PathBuf::from);
    let model = Model::from_file(&path)?;
    // Kernels chosen and parameters precomputed once; every run reuses them.
    let mut session = ReferenceEngine.prepare(&model)?;
    let input = session.inputs()[0].clone();
    println!(
        "{}: input '{}' {} {:?}",
        path.display(),
        input.key(),
        input.dtype,
        input.shape
    );
    let start = Instant::now();
    let frames = 50;
    for frame in 0..frames {
        // A frame the app produced: here a float ramp, or zeros for a non-float input.
        let n: usize = input.shape.iter().product();
        let x = match input.dtype {
            DType::F32 => {
                let v: Vec<f32> = (0..n).map(|i| ((i + frame) % 17) as f32 / 17.0).collect();
                Tensor::from_f32(&input.shape, &v)?
            }
            other => Tensor::zeros(other, &input.shape).ok_or_else(|| {
                Error::Unsupported(format!("no {other} zeros for input '{}'", input.key()))
            })?,
        };
        let out = session.run(&[x])?;
        if frame == 0 {
            println!(
                "output '{}': {:?}",
                session.outputs()[0].key(),
                out[0].shape()
            );
        }
    }
    let per = start.elapsed() / frames as u32;
    println!("{frames} runs, {per:?} per run");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs() {
        super::main().unwrap();
    }
}
