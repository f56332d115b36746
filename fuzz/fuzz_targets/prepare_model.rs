//! Fuzz preparing a model on the reference engine under a small memory budget.
//!
//! Contract, for any input bytes that `Model::from_bytes` reads:
//! - `ReferenceEngine::default().with_max_memory(16 MiB).prepare` never panics and returns
//!   `Ok` or an `Err` with a message (an over-budget model is `Error::Memory`, never an
//!   abort);
//! - it never allocates past that budget: the counting allocator (`guard.rs`) aborts when
//!   one allocation exceeds `64 × input length + 17 MiB`, or the live bytes for the input
//!   exceed `256 × input length + 48 MiB` (the reader's own allowance, the engine's budget,
//!   and constants copied at prepare, which the file bounds);
//! - where prepare succeeds and the model declares at most 2^16 activation elements, one run
//!   on zero inputs returns `Ok` or an `Err` with a message (the compute stays small).

#![no_main]

mod guard;

use libfuzzer_sys::fuzz_target;
use litequant::{Engine, Model, ReferenceEngine, Session, Tensor};

const ENGINE_BUDGET: u64 = 16 << 20;

fn budget(len: usize) -> (usize, usize) {
    let total = len.saturating_mul(256).saturating_add(48 << 20);
    let single = len.saturating_mul(64).saturating_add(17 << 20);
    (total, single)
}

fn prepare(data: &[u8]) -> &'static str {
    let Ok(model) = Model::from_bytes(data) else {
        return "unread";
    };
    let engine = ReferenceEngine::default().with_max_memory(ENGINE_BUDGET);
    let mut session = match engine.prepare(&model) {
        Ok(s) => s,
        Err(e) => {
            assert!(
                !e.to_string().is_empty(),
                "an error without a message: {e:?}"
            );
            if guard::report() {
                eprintln!("litequant-fuzz: prepare: {e}");
            }
            return "refused";
        }
    };
    let sg = model.main();
    let elements: u64 = sg
        .tensors
        .iter()
        .filter(|t| t.data.is_none())
        .map(|t| t.num_elements().unwrap_or(u64::MAX))
        .fold(0u64, |a, n| a.saturating_add(n));
    if elements > 1 << 16 {
        return "prepared";
    }
    let inputs: Option<Vec<Tensor>> = session
        .inputs()
        .iter()
        .map(|s| Tensor::try_zeros(s.dtype, &s.shape).ok().flatten())
        .collect();
    let Some(inputs) = inputs else {
        return "prepared";
    };
    match session.run(&inputs) {
        Ok(_) => "ran",
        Err(e) => {
            assert!(
                !e.to_string().is_empty(),
                "a run error without a message: {e:?}"
            );
            "run refused"
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (total, single) = budget(data.len());
    let base = guard::arm(total, single);
    let outcome = prepare(data);
    guard::disarm();
    if guard::report() {
        eprintln!(
            "litequant-fuzz: len {} peak {} {outcome}",
            data.len(),
            guard::peak(base)
        );
    }
});
