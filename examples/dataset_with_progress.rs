//! Calibrate on a dataset on disk in a worker thread, with a progress bar fed through a
//! channel and a Cancel flag, as a desktop app's UI would:
//! `cargo run --example dataset_with_progress [-- MODEL DATA OUT.tflite]`.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use litequant::prelude::*;

fn main() -> litequant::Result<()> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (model, data, out) = match args.as_slice() {
        [m, d, o] => (m.clone(), d.clone(), o.clone()),
        _ => (
            demo.join("cnn_float32.tflite"),
            demo.join("digits_calib.npy"),
            std::env::temp_dir().join(format!("litequant-example-{}.tflite", std::process::id())),
        ),
    };
    let float = Model::from_file(&model)?;
    let inputs = ReferenceEngine.prepare(&float)?.inputs().to_vec();
    // A .npy, a .npz or a folder of images, fitted to the inputs; Send, so it can move.
    let dataset = litequant::data::open(&data, &inputs, &Default::default())?;

    let (tx, rx) = mpsc::channel::<Progress>();
    let cancel = CancelToken::new(); // a UI's Cancel button calls cancel.cancel()
    let opts = QuantizeOptions::int8();
    let mut calib = opts.calibration_options();
    calib.progress = Some(ProgressFn::new(move |p| {
        let _ = tx.send(p);
    }));
    calib.cancel = cancel.clone();
    let worker = std::thread::spawn(move || {
        let mut dataset = dataset;
        let stats = calibrate(&float, &ConverterFloatEngine, &mut dataset, &calib)?;
        let (int8, report) = quantize(&float, Some(&stats), &opts)?;
        int8.write_file(&out)?; // atomic; never reached when cancelled
        Ok::<_, Error>((out, report))
    });
    // The UI thread: redraw the bar as reports arrive (the channel closes with the worker).
    for p in rx {
        let total = p.total.map_or("?".into(), |n| n.to_string());
        eprint!("\r{} {}/{} samples", p.phase, p.done, total);
    }
    eprintln!();
    match worker.join().expect("the worker does not panic") {
        Ok((out, report)) => println!("wrote {} ({} bytes)", out.display(), report.size_after),
        Err(e) if e.is_cancelled() => println!("cancelled; nothing written"),
        Err(e) => return Err(e),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs() {
        super::main().unwrap();
        // The demo run writes its model to the temporary directory: remove it.
        let out = format!("litequant-example-{}.tflite", std::process::id());
        std::fs::remove_file(std::env::temp_dir().join(out)).unwrap();
    }
}
