//! The reference engine against LiteRT's reference kernels (`BUILTIN_REF`), on the per-op
//! fixtures of `tools/make_op_fixtures.py` and the model fixtures of `tools/make_fixtures.py`:
//! every recorded tensor of every sample, int8/int32 with zero differing elements, floats
//! within `ATOL + RTOL·|x|`.
//!
//! `LITEQUANT_CONFORMANCE=substring` runs only the matching models (for kernel work).

mod common;

use common::golden::{check_model, Outcome};

/// Ops whose kernels are not written yet. A model whose main op is listed may fail to
/// prepare (reported, not failed); once it passes, the test asks for its removal, so the
/// list cannot go stale.
const PENDING_OPS: &[&str] = &[];

struct Case {
    name: String,
    model: std::path::PathBuf,
    golden: std::path::PathBuf,
    /// Every op in the model (a model is pending if any of its ops is).
    ops: Vec<String>,
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let dir = common::fixtures().join("ops");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    for (name, m) in manifest["models"].as_object().unwrap() {
        v.push(Case {
            name: name.clone(),
            model: dir.join(m["file"].as_str().unwrap()),
            golden: dir.join(m["golden_file"].as_str().unwrap()),
            ops: m["op_histogram"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect(),
        });
    }
    let main = common::manifest();
    for (name, m) in main["fixtures"].as_object().unwrap() {
        if m["goldens"] == true {
            v.push(Case {
                name: name.clone(),
                model: common::fixtures().join(m["file"].as_str().unwrap()),
                golden: common::fixtures().join(m["golden_file"].as_str().unwrap()),
                ops: m["op_histogram"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect(),
            });
        }
    }
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

#[test]
fn reference_engine_matches_litert_builtin_ref() {
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let (mut passed, mut pending, mut problems) = (0, Vec::new(), Vec::new());
    let mut compared = 0;
    for case in cases().iter().filter(|c| c.name.contains(&filter)) {
        let is_pending = case.ops.iter().any(|o| PENDING_OPS.contains(&o.as_str()));
        match check_model(&case.model, &case.golden) {
            Outcome::Pass { compared: n } => {
                compared += n;
                passed += 1;
                if is_pending {
                    let ops: Vec<&String> = case
                        .ops
                        .iter()
                        .filter(|o| PENDING_OPS.contains(&o.as_str()))
                        .collect();
                    println!(
                        "{}: passes; if every model with {ops:?} passes, take them off PENDING_OPS",
                        case.name
                    );
                }
            }
            Outcome::Unsupported(e) if is_pending => pending.push(format!("{}: {e}", case.name)),
            Outcome::Unsupported(e) => problems.push(format!("{}: unsupported: {e}", case.name)),
            Outcome::Fail(f) if is_pending => {
                pending.push(format!("{}: {} (first: {})", case.name, f.len(), f[0]))
            }
            Outcome::Fail(f) => problems.push(format!("{}:\n    {}", case.name, f.join("\n    "))),
        }
    }
    println!(
        "conformance: {passed} models pass ({compared} tensors compared), {} pending, {} failing",
        pending.len(),
        problems.len()
    );
    for p in &pending {
        println!("  pending {p}");
    }
    assert!(
        problems.is_empty(),
        "{} models differ from LiteRT:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
