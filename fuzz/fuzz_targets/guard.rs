//! The counting global allocator both fuzz targets install: between `arm` and `disarm`, an
//! allocation over the single limit, or live bytes (since `arm`) over the total limit,
//! abort the process, which libFuzzer records as a crash.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

pub struct Guard;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Live bytes when the current input started.
static BASE: AtomicUsize = AtomicUsize::new(0);
/// Limits while armed (`usize::MAX` when not).
static TOTAL_LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
static SINGLE_LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

#[global_allocator]
static GLOBAL: Guard = Guard;

pub fn disarm() {
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

/// Start counting for one input with these limits.
pub fn arm(total: usize, single: usize) -> usize {
    let base = LIVE.load(Relaxed);
    BASE.store(base, Relaxed);
    PEAK.store(base, Relaxed);
    TOTAL_LIMIT.store(total, Relaxed);
    SINGLE_LIMIT.store(single, Relaxed);
    base
}

/// Peak live bytes since `arm` returned `base`.
pub fn peak(base: usize) -> usize {
    PEAK.load(Relaxed) - base
}

/// `LITEQUANT_FUZZ_REPORT` is set: print per-input figures.
pub fn report() -> bool {
    static REPORT: OnceLock<bool> = OnceLock::new();
    *REPORT.get_or_init(|| std::env::var_os("LITEQUANT_FUZZ_REPORT").is_some())
}
