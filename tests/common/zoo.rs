//! The reduced-size model zoo (`tests/fixtures/zoo`, written by `tools/make_zoo.py
//! --fixtures`): its manifest, read by `tests/zoo.rs` and `tests/gpu_zoo.rs`.

use std::path::PathBuf;

/// The architectures, as docs/zoo.md names them (each reduced; see tools/README.md).
pub const MODELS: [&str; 12] = [
    "ConvNeXtTiny",
    "DenseNet121",
    "EfficientNetB0",
    "EfficientNetV2B0",
    "GRU",
    "MobileNetV2",
    "MobileNetV3Large",
    "MobileNetV3Small",
    "NASNetMobile",
    "ResNet50",
    "TransformerBlock",
    "UNet",
];

/// The files per architecture: the converter's modes and ai-edge-quantizer's recipes.
pub const VARIANTS: [&str; 8] = [
    "float32",
    "dynamic",
    "int8",
    "int8_only",
    "float16",
    "aeq_dynamic_wi8_afp32",
    "aeq_weight_only_wi8_afp32",
    "aeq_static_wi8_ai8",
];

pub fn dir() -> PathBuf {
    super::fixtures().join("zoo")
}

/// One (architecture, variant) of the manifest.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `MODEL_VARIANT`.
    pub key: String,
    pub model: String,
    pub variant: String,
    /// The .tflite, absent where the converter or ai-edge-quantizer failed (`error`).
    pub file: Option<PathBuf>,
    /// LiteRT's goldens, absent where LiteRT could not run the file (`litert`).
    pub golden: Option<PathBuf>,
    pub error: Option<String>,
    pub litert: Option<String>,
    /// The calibration crops (float32 `[8, S, S, 3]`) the converter and ai-edge-quantizer
    /// consumed for this architecture, in order.
    pub calib: PathBuf,
}

/// Every entry of `tests/fixtures/zoo/manifest.json`, sorted by key.
pub fn entries() -> Vec<Entry> {
    let text = std::fs::read_to_string(dir().join("manifest.json")).expect("zoo manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("zoo manifest is JSON");
    let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let mut v: Vec<Entry> = m["models"]
        .as_object()
        .expect("models")
        .iter()
        .map(|(k, e)| Entry {
            key: k.clone(),
            model: s(&e["model"]).unwrap(),
            variant: s(&e["variant"]).unwrap(),
            file: s(&e["file"]).map(|f| dir().join(f)),
            golden: s(&e["golden_file"]).map(|f| dir().join(f)),
            error: s(&e["error"]),
            litert: s(&e["litert"]),
            calib: dir().join(s(&e["calib"]).expect("calib")),
        })
        .collect();
    v.sort_by(|a, b| a.key.cmp(&b.key));
    v
}
