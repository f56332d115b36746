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

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

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

struct Guard;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Live bytes when the current input started.
static BASE: AtomicUsize = AtomicUsize::new(0);
/// Limits while armed (`usize::MAX` when not).
static TOTAL_LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
static SINGLE_LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

#[global_allocator]
static GLOBAL: Guard = Guard;

fn disarm() {
    TOTAL_LIMIT.store(usize::MAX, Relaxed);
    SINGLE_LIMIT.store(usize::MAX, Relaxed);
}

/// Abort (libFuzzer records the input as a crash) before making an allocation over budget.
fn check(size: usize) {
    let single = SINGLE_LIMIT.load(Relaxed);
    let total = TOTAL_LIMIT.load(Relaxed);
    if single == usize::MAX && total == usize::MAX {
        return;
    }
    let used = LIVE
        .load(Relaxed)
        .saturating_sub(BASE.load(Relaxed))
        .saturating_add(size);
    if size > single || used > total {
        disarm();
        // No allocation here: formatting integers to stderr does not allocate.
        eprintln!(
            "\n==litequant-fuzz== memory budget exceeded: allocation of {size} bytes \
             (single limit {single}), {used} bytes live for this input (limit {total})\n"
        );
        std::process::abort();
    }
}

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(live, Relaxed);
}

unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            check(new_size);
        }
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

fn report() -> bool {
    static REPORT: OnceLock<bool> = OnceLock::new();
    *REPORT.get_or_init(|| std::env::var_os("LITEQUANT_FUZZ_REPORT").is_some())
}

fn round_trip(data: &[u8]) -> &'static str {
    let model = match Model::from_bytes(data) {
        Ok(m) => m,
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty(), "an error without a message: {e:?}");
            if report() {
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
    let report = report();
    let (total, single) = budget(data.len());
    let base = LIVE.load(Relaxed);
    BASE.store(base, Relaxed);
    PEAK.store(base, Relaxed);
    TOTAL_LIMIT.store(total, Relaxed);
    SINGLE_LIMIT.store(single, Relaxed);
    let outcome = round_trip(data);
    disarm();
    if report {
        let peak = PEAK.load(Relaxed) - base;
        eprintln!(
            "litequant-fuzz: len {} peak {} ratio {:.1} {outcome}",
            data.len(),
            peak,
            peak as f64 / data.len().max(1) as f64
        );
    }
});
