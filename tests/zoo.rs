//! The reduced-size model zoo (`tests/fixtures/zoo`, `tools/make_zoo.py --fixtures`): every
//! architecture of docs/zoo.md built small, as the converter's float32 / dynamic / int8 /
//! int8_only / float16 files and ai-edge-quantizer's three recipes, with LiteRT BUILTIN_REF
//! goldens of every tensor on one photo crop.
//!
//! - every file loads and `inspect` summarises it;
//! - the reference engine equals LiteRT on every tensor (ints bit for bit, floats within
//!   the conformance tolerance); a file that a peer could not write or LiteRT could not run
//!   is listed in [`NO_GOLDENS`] with the reason (one: a peer's failure);
//! - `litequant`'s dynamic / float16 / int8 / int8_only quantization of each float32 file
//!   equals the converter's file field for field (scales to the bit), calibrated on the
//!   converter's own crops; what does not is listed per tensor, with its ulp bound and
//!   cause, in `tests/fixtures/zoo/residuals.json` (see `tests/common/zoo_residuals.rs`).
//!
//! The GPU twin is `tests/gpu_zoo.rs`. `LITEQUANT_ZOO=substring` runs only the matching
//! architectures (for kernel work; the manifest test then still wants all of them).

mod common;
mod quantize_common;
#[path = "common/zoo_residuals.rs"]
mod residuals;

use common::golden::{check_model, Outcome};
use common::zoo::{self, Entry, MODELS, VARIANTS};
use litequant::quant::Int8Options;
use litequant::quant::{quantize_dynamic, quantize_float16, quantize_int8, DynamicOptions};
use litequant::Model;
use residuals::Residuals;

/// Files LiteRT BUILTIN_REF cannot run, or a peer could not write: (key, why). Checked
/// against the manifest both ways, so the list cannot go stale.
const NO_GOLDENS: &[(&str, &str)] = &[(
    // The peer's failure: ai-edge-quantizer 0.10 cannot calibrate the unrolled GRU (as on the
    // full-size zoo).
    "GRU_aeq_static_wi8_ai8",
    "aeq fails: Tensor data is null. Run allocate_tensors() first",
)];

/// Pairs `litequant` refuses to quantize where the converter writes a file: (MODEL_MODE,
/// a substring of the error). NEG (LayerNormalization's mean subtraction) is kept float by
/// the converter even under `TFLITE_BUILTINS_INT8`; litequant's `int8-only` promises integer
/// only and says which operators stop it.
const QUANTIZE_REFUSED: &[(&str, &str)] = &[
    (
        "ConvNeXtTiny_int8_only",
        "int8-only quantization: 9 operator(s) cannot be quantized",
    ),
    (
        "TransformerBlock_int8_only",
        "int8-only quantization: 2 operator(s) cannot be quantized",
    ),
];

fn filter() -> String {
    std::env::var("LITEQUANT_ZOO").unwrap_or_default()
}

#[test]
fn the_manifest_has_every_architecture_and_variant() {
    let e = zoo::entries();
    for m in MODELS {
        for v in VARIANTS {
            let key = format!("{m}_{v}");
            let entry = e.iter().find(|x| x.key == key);
            assert!(entry.is_some(), "{key} missing from the zoo manifest");
        }
    }
    assert_eq!(
        e.len(),
        MODELS.len() * VARIANTS.len(),
        "unexpected manifest entries"
    );
    let missing: Vec<(String, String)> = e
        .iter()
        .filter(|x| x.golden.is_none())
        .map(|x| {
            let why = x.error.clone().or(x.litert.clone()).unwrap_or_default();
            (x.key.clone(), why)
        })
        .collect();
    let listed: Vec<(String, String)> = NO_GOLDENS
        .iter()
        .map(|(k, w)| (k.to_string(), w.to_string()))
        .collect();
    assert_eq!(missing, listed, "files without goldens vs NO_GOLDENS");
}

#[test]
fn every_zoo_file_loads_and_inspects() {
    let mut n = 0;
    for e in zoo::entries() {
        let Some(file) = &e.file else { continue };
        let bytes = std::fs::metadata(file).unwrap().len();
        let m = Model::from_file(file).unwrap_or_else(|err| panic!("{}: {err}", e.key));
        let report = litequant::inspect::Report::new(&m, Some(bytes));
        let json = report.to_json();
        assert!(json.contains("op_histogram"), "{}: {json}", e.key);
        assert!(!m.main().operators.is_empty(), "{}", e.key);
        n += 1;
    }
    assert_eq!(n, MODELS.len() * VARIANTS.len() - files_missing());
}

fn files_missing() -> usize {
    zoo::entries().iter().filter(|e| e.file.is_none()).count()
}

#[test]
fn reference_engine_matches_litert_on_the_zoo() {
    let (mut passed, mut compared, mut problems) = (0, 0, Vec::new());
    let entries: Vec<Entry> = zoo::entries()
        .into_iter()
        .filter(|e| e.model.contains(&filter()))
        .collect();
    for e in &entries {
        let (Some(file), Some(golden)) = (&e.file, &e.golden) else {
            continue;
        };
        match check_model(file, golden) {
            Outcome::Pass { compared: n } => {
                passed += 1;
                compared += n;
            }
            Outcome::Unsupported(err) => problems.push(format!("{}: unsupported: {err}", e.key)),
            Outcome::Fail(f) => problems.push(format!("{}:\n    {}", e.key, f.join("\n    "))),
        }
    }
    println!("zoo: {passed} files equal LiteRT BUILTIN_REF ({compared} tensors compared)");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let with_goldens = entries.iter().filter(|e| e.golden.is_some()).count();
    assert_eq!(passed, with_goldens);
    assert!(compared >= 10 * passed, "{compared} tensors compared");
}

/// The zoo's float32 model, calibrated on the converter's crops in the converter's float
/// summation order.
fn calibrated(model: &str) -> (Model, litequant::Stats) {
    let e = entry(model, "float32");
    let m = Model::from_file(e.file.as_ref().unwrap()).unwrap();
    let stats = quantize_common::calibrate_npy(&m, e.calib.as_ref());
    assert_eq!(stats.samples, 8, "{model}");
    (m, stats)
}

fn entry(model: &str, variant: &str) -> Entry {
    let key = format!("{model}_{variant}");
    zoo::entries().into_iter().find(|e| e.key == key).unwrap()
}

#[test]
fn litequant_quantizes_the_zoo_as_the_converter() {
    let documented = Residuals::load();
    let mut found = Residuals::default();
    let mut problems = Vec::new();
    let mut pairs = 0;
    for model in MODELS.into_iter().filter(|m| m.contains(&filter())) {
        let float = Model::from_file(zoo::dir().join(format!("{model}_float32.tflite"))).unwrap();
        let theirs = |variant: &str| {
            let e = entry(model, variant);
            Model::from_file(e.file.as_ref().expect("converter file")).unwrap()
        };
        let dynamic = quantize_dynamic(&float, &DynamicOptions::default()).unwrap();
        found.record(&format!("{model}_dynamic"), &dynamic, &theirs("dynamic"));
        pairs += 1;
        let f16 = quantize_float16(&float).unwrap();
        found.record(&format!("{model}_float16"), &f16, &theirs("float16"));
        pairs += 1;
        let (m, stats) = calibrated(model);
        for (variant, opts) in [
            ("int8", Int8Options::int8()),
            ("int8_only", Int8Options::int8_only_int8_io()),
        ] {
            let key = format!("{model}_{variant}");
            let refused = QUANTIZE_REFUSED.iter().find(|r| r.0 == key);
            match (quantize_int8(&m, &stats, &opts), refused) {
                (Ok(ours), None) => {
                    found.record(&key, &ours, &theirs(variant));
                    pairs += 1;
                }
                (Err(e), Some(r)) if e.to_string().contains(r.1) => {}
                (Ok(_), Some(_)) => problems.push(format!(
                    "{key}: now quantizes: take it off QUANTIZE_REFUSED"
                )),
                (Err(e), _) => problems.push(format!("{key}: quantize fails: {e}")),
            }
        }
    }
    if std::env::var("LITEQUANT_ZOO_RESIDUALS").as_deref() == Ok("write") {
        found.write();
    }
    problems.extend(documented.differences(&found));
    println!(
        "zoo parity: {pairs} pairs quantized, {} with fields equal, {} with documented residuals \
         ({} tensors), {} refused as documented",
        pairs - found.pairs(),
        found.pairs(),
        found.tensors(),
        QUANTIZE_REFUSED.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
