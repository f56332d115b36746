//! The reference engine against LiteRT's reference kernels (`BUILTIN_REF`), on the per-op
//! fixtures of `tools/make_op_fixtures.py` and the model fixtures of `tools/make_fixtures.py`:
//! every recorded tensor of every sample, int8/int32 with zero differing elements, floats
//! within `ATOL + RTOL·|x|`.
//!
//! `LITEQUANT_CONFORMANCE=substring` runs only the matching models (for kernel work).

mod common;

use common::golden::{cases, check_model, Outcome};

/// Ops whose kernels are not written yet. A model whose main op is listed may fail to
/// prepare (reported, not failed); once it passes, the test asks for its removal, so the
/// list cannot go stale.
const PENDING_OPS: &[&str] = &[];

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
