//! Read a `.tflite` file into litequant's model and write it back:
//! `cargo run --release --example roundtrip -- IN.tflite OUT.tflite`.
//! Used by `tools/verify_roundtrip.py` to check that LiteRT runs what litequant writes.

use anyhow::{bail, Context};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        bail!("usage: roundtrip IN.tflite OUT.tflite");
    };
    let model = litequant::Model::from_file(input).with_context(|| format!("reading {input}"))?;
    model
        .write_file(output)
        .with_context(|| format!("writing {output}"))?;
    let again =
        litequant::Model::from_file(output).with_context(|| format!("re-reading {output}"))?;
    if again != model {
        bail!("{output}: the written model reads back differently");
    }
    Ok(())
}
