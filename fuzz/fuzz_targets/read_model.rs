//! Fuzz the reader and the writer.
//!
//! Contract, for any input bytes:
//! - `Model::from_bytes` never panics and returns `Ok` or an `Err` with a message;
//! - it never allocates much more than the input warrants: a counting global allocator aborts
//!   (a crash for libFuzzer) when one allocation, or all live allocations together, exceed a
//!   budget linear in the input length (see `budget`), so a small file cannot make a huge
//!   allocation or unfold quadratically;
//! - if it is `Ok`, `to_bytes` is `Ok`, reading those bytes is `Ok`, and writing the re-read
//!   model gives the same bytes again (bytes are compared, not models: NaN != NaN).
//!
//! `LITEQUANT_FUZZ_REPORT=1` prints, for every input, its length, the peak memory it used
//! and the outcome (to calibrate the budget: `cargo fuzz run read_model corpus -- -runs=0`).

#![no_main]

mod guard;

use libfuzzer_sys::fuzz_target;
use litequant::Model;

/// Bytes one input may hold live at once and in one allocation: `(total, single)`.
/// Linear in the input: reading unfolds each small table into Rust structs of a few hundred
/// bytes, and the round trip holds two models and two files at once.
fn budget(len: usize) -> (usize, usize) {
    let total = len.saturating_mul(256).saturating_add(16 << 20);
    let single = len.saturating_mul(64).saturating_add(1 << 20);
    (total, single)
}

fn round_trip(data: &[u8]) -> &'static str {
    let model = match Model::from_bytes(data) {
        Ok(m) => m,
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty(), "an error without a message: {e:?}");
            if guard::report() {
                eprintln!("litequant-fuzz: error: {msg}");
            }
            return "rejected";
        }
    };
    let first = model
        .to_bytes()
        .unwrap_or_else(|e| panic!("from_bytes accepted the input, but to_bytes failed: {e}"));
    drop(model);
    let again = Model::from_bytes(&first)
        .unwrap_or_else(|e| panic!("the writer's output does not read back: {e}"));
    let second = again
        .to_bytes()
        .unwrap_or_else(|e| panic!("to_bytes of the re-read model failed: {e}"));
    if first != second {
        let at = first.iter().zip(&second).position(|(a, b)| a != b);
        panic!(
            "writing is not stable: {} bytes, then {} bytes (first difference at {at:?})",
            first.len(),
            second.len()
        );
    }
    "accepted"
}

fuzz_target!(|data: &[u8]| {
    let report = guard::report();
    let (total, single) = budget(data.len());
    let base = guard::arm(total, single);
    let outcome = round_trip(data);
    guard::disarm();
    if report {
        let peak = guard::peak(base);
        eprintln!(
            "litequant-fuzz: len {} peak {} ratio {:.1} {outcome}",
            data.len(),
            peak,
            peak as f64 / data.len().max(1) as f64
        );
    }
});
