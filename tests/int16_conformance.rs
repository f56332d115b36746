//! The reference engine against LiteRT's reference kernels (`BUILTIN_REF`) on TF 2.21's 16x8
//! files (`tools/make_int16_fixtures.py`, `tests/fixtures/int16/`): every recorded tensor of
//! every sample, int16/int8/int32 with zero differing elements, floats within
//! `ATOL + RTOL·|x|`.
//!
//! `LITEQUANT_CONFORMANCE=substring` runs only the matching models.

mod common;

use common::golden::{check_model, Outcome};

/// Ops whose int16 kernels are not written yet: a model containing one may fail to prepare
/// (reported, not failed); once every such model passes, the test asks for the op's
/// removal, so the list cannot go stale.
const PENDING_OPS: &[&str] = &["SUM"];

#[test]
fn reference_engine_matches_litert_builtin_ref_16x8() {
    let dir = common::fixtures().join("int16");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let (mut passed, mut compared) = (0, 0);
    let (mut pending, mut problems, mut stale) = (Vec::new(), Vec::new(), Vec::new());
    let models = manifest["models"].as_object().unwrap();
    assert!(models.len() >= 100, "{} 16x8 fixtures", models.len());
    for (name, m) in models.iter().filter(|(n, _)| n.contains(&filter)) {
        let ops: Vec<&str> = m["op_histogram"]
            .as_object()
            .unwrap()
            .keys()
            .map(|s| s.as_str())
            .collect();
        let pend: Vec<&str> = ops
            .iter()
            .copied()
            .filter(|o| PENDING_OPS.contains(o))
            .collect();
        let model = dir.join(m["file"].as_str().unwrap());
        let golden = dir.join(m["golden_file"].as_str().unwrap());
        match check_model(&model, &golden) {
            Outcome::Pass { compared: n } => {
                compared += n;
                passed += 1;
                if !pend.is_empty() {
                    stale.push(format!("{name} passes with {pend:?}"));
                }
            }
            Outcome::Unsupported(e) if !pend.is_empty() => pending.push(format!("{name}: {e}")),
            Outcome::Fail(f) if !pend.is_empty() => {
                pending.push(format!("{name}: {} (first: {})", f.len(), f[0]))
            }
            Outcome::Unsupported(e) => problems.push(format!("{name}: unsupported: {e}")),
            Outcome::Fail(f) => problems.push(format!("{name}:\n    {}", f.join("\n    "))),
        }
    }
    println!(
        "16x8 conformance: {passed} models pass ({compared} tensors compared), {} pending, {} \
         failing",
        pending.len(),
        problems.len()
    );
    for p in &pending {
        println!("  pending {p}");
    }
    for s in &stale {
        println!("  {s}: if every model with it passes, take it off PENDING_OPS");
    }
    assert!(
        problems.is_empty(),
        "{} models differ from LiteRT:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// TF 2.21's 16x8 files of reduced zoo models (`tools/make_int16_zoo.py`,
/// `tests/fixtures/zoo_int16/`): every op-written tensor equal to LiteRT's BUILTIN_REF.
#[test]
fn reference_engine_matches_litert_builtin_ref_16x8_zoo() {
    let dir = common::fixtures().join("zoo_int16");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut problems = Vec::new();
    let mut n = 0;
    for (name, m) in manifest["models"].as_object().unwrap() {
        let (Some(file), Some(golden)) = (m["file"].as_str(), m["golden_file"].as_str()) else {
            continue;
        };
        match check_model(&dir.join(file), &dir.join(golden)) {
            Outcome::Pass { compared } => {
                n += 1;
                println!("{name}: {compared} tensors equal");
            }
            Outcome::Unsupported(e) => problems.push(format!("{name}: unsupported: {e}")),
            Outcome::Fail(f) => problems.push(format!("{name}:\n    {}", f.join("\n    "))),
        }
    }
    assert!(n >= 7, "{n} zoo models");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
