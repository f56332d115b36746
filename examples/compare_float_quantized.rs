//! Float vs quantized on held-out data: per output the error, SQNR, top-1 agreement and
//! both accuracies, and the tensors with the largest quantization error:
//! `cargo run --example compare_float_quantized [-- FLOAT QUANT HOLDOUT.npz]`
//! (HOLDOUT: the inputs and integer labels `y`).

use std::path::{Path, PathBuf};

use litequant::prelude::*;

fn main() -> litequant::Result<()> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (float, quant, holdout) = match args.as_slice() {
        [f, q, h] => (f.clone(), q.clone(), h.clone()),
        _ => (
            demo.join("cnn_float32.tflite"),
            demo.join("cnn_int8.tflite"),
            demo.join("digits_holdout.npz"),
        ),
    };
    let (float, quant) = (Model::from_file(float)?, Model::from_file(quant)?);
    let inputs = ReferenceEngine.prepare(&float)?.inputs().to_vec();
    let mut data = litequant::data::open(&holdout, &inputs, &Default::default())?;
    let labels = litequant::eval::labels_from_npz(&holdout, "y")?;
    let opts = EvalOptions {
        per_layer: true,
        ..Default::default()
    };
    let report = evaluate(
        &float,
        &quant,
        &ReferenceEngine,
        &mut data,
        labels.as_deref(),
        &opts,
    )?;
    print!("{report}"); // the table `litequant eval` prints
    let worst = report
        .layers
        .iter()
        .filter(|l| l.rmse.is_finite())
        .max_by(|a, b| a.rmse.total_cmp(&b.rmse));
    if let Some(l) = worst {
        println!("largest RMSE: '{}' ({}), {:.3e}", l.name, l.dtype, l.rmse);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs() {
        super::main().unwrap();
    }
}
