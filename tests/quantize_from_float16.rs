//! Quantizing a model whose weights are stored as float16 (the converter's float16 mode, as
//! MediaPipe ships many of its models): litequant quantizes the float32 model those weights
//! stand for. For every converter float16 pair (`*_float32` + `*_float16`, `*_f32` +
//! `*_f16`), the float16 file quantizes to the same model as the converter's float32 file
//! with each weight replaced by its float16 value widened: dynamic range on every pair,
//! int8 (calibrated on the same digits) on the cnn and mlp models. Every operator, option,
//! version, type, shape, scale bit, zero point and data byte is equal; tensor names may
//! differ (the float16 file names a widened weight after its DEQUANTIZE output) and so may
//! the structure hash in `CONVERSION_METADATA`, which hashes them.

mod quantize_common;

use litequant::f16_to_f32;
use litequant::model::DType;
use litequant::quant::{quantize, QuantizeOptions};
use litequant::Model;
use quantize_common::{calibrate_npy, diffs, fixtures, pairs};

/// `float` with every float32 constant replaced by the widened value of the float16
/// constant of the same name in `half` (every one must have such a twin).
fn with_half_weights(float: &Model, half: &Model) -> Model {
    let mut out = float.clone();
    let hsg = half.main();
    let mut replaced = 0;
    for t in &mut out.subgraphs[0].tensors {
        if t.dtype != DType::F32 || t.data.is_none() {
            continue;
        }
        let twin = hsg
            .tensors
            .iter()
            .find(|h| h.name == t.name && h.dtype == DType::F16)
            .unwrap_or_else(|| panic!("no float16 twin of constant '{}'", t.name));
        let bytes = twin.data.as_deref().expect("a float16 constant holds data");
        let wide: Vec<u8> = bytes
            .chunks_exact(2)
            .flat_map(|h| f16_to_f32(u16::from_le_bytes([h[0], h[1]])).to_le_bytes())
            .collect();
        t.data = Some(wide.into());
        replaced += 1;
    }
    assert!(replaced > 0, "no float32 constant in the float model");
    out
}

/// The differences that are not names (nor the hash over them).
fn non_name_diffs(ours: &Model, theirs: &Model) -> Vec<String> {
    diffs(ours, theirs)
        .into_iter()
        .filter(|d| !d.contains(" name") && !d.contains("name:") && !d.contains("metadata"))
        .collect()
}

#[test]
fn a_float16_file_quantizes_as_the_float32_model_of_its_weights() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for p in pairs("float16", "f16") {
        let float = Model::from_file(&p.float).unwrap();
        let half = Model::from_file(&p.quantized).unwrap();
        let expected = with_half_weights(&float, &half);
        let (ours, _) = quantize(&half, None, &QuantizeOptions::dynamic())
            .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        let (theirs, _) = quantize(&expected, None, &QuantizeOptions::dynamic()).unwrap();
        let d = non_name_diffs(&ours, &theirs);
        if !d.is_empty() {
            problems.push(format!("{} dynamic:\n    {}", p.name, d.join("\n    ")));
        }
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} float16 pairs");
    for name in ["cnn", "mlp"] {
        let half = Model::from_file(fixtures().join(format!("{name}_float16.tflite"))).unwrap();
        let float = Model::from_file(fixtures().join(format!("{name}_float32.tflite"))).unwrap();
        let expected = with_half_weights(&float, &half);
        let calib = fixtures().join("digits_calib.npy");
        let s16 = calibrate_npy(&half, &calib);
        let s32 = calibrate_npy(&expected, &calib);
        let (ours, report) = quantize(&half, Some(&s16), &QuantizeOptions::int8()).unwrap();
        let (theirs, _) = quantize(&expected, Some(&s32), &QuantizeOptions::int8()).unwrap();
        let d = non_name_diffs(&ours, &theirs);
        if !d.is_empty() {
            problems.push(format!("{name} int8:\n    {}", d.join("\n    ")));
        }
        // Nothing float16 is left in the int8 model, and the report saw the weights.
        assert!(ours.main().tensors.iter().all(|t| t.dtype != DType::F16));
        assert!(!report.tensors.is_empty());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
