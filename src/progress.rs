//! Progress reports and cancellation for long passes over data (calibration, evaluation,
//! the saturation count), for apps that show a progress bar and a Cancel button.
//!
//! ```
//! use litequant::prelude::*;
//! use std::sync::mpsc;
//!
//! let (tx, rx) = mpsc::channel();
//! let cancel = CancelToken::new();
//! let opts = CalibrationOptions {
//!     progress: Some(ProgressFn::new(move |p: Progress| {
//!         let _ = tx.send((p.done, p.total)); // to the UI thread
//!     })),
//!     cancel: cancel.clone(), // cancel.cancel() from the UI stops the pass
//!     ..Default::default()
//! };
//! # drop((opts, rx));
//! ```

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Which pass over the data a [`Progress`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Running the float model over calibration samples ([`crate::calibrate`]).
    Calibration,
    /// The second pass that counts saturated values ([`crate::quant::count_saturation`]).
    SaturationCount,
    /// Running the float and quantized models side by side ([`crate::eval`]).
    Evaluation,
}

impl Phase {
    /// The phase's name in messages: `calibration`, `saturation count`, `evaluation`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Calibration => "calibration",
            Phase::SaturationCount => "saturation count",
            Phase::Evaluation => "evaluation",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One progress report: `done` samples of `total` (when the dataset knows its length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Samples done so far in this phase.
    pub done: usize,
    /// Samples in this phase, when known.
    pub total: Option<usize>,
    /// The pass.
    pub phase: Phase,
}

/// A progress callback: any `FnMut(Progress) + Send` closure (updating a UI, sending on a
/// channel). Clones share the one closure, so options holding it can be cloned.
#[derive(Clone)]
pub struct ProgressFn(Arc<Mutex<dyn FnMut(Progress) + Send>>);

impl ProgressFn {
    /// Wrap a closure.
    pub fn new(f: impl FnMut(Progress) + Send + 'static) -> ProgressFn {
        ProgressFn(Arc::new(Mutex::new(f)))
    }

    /// Call it (a closure that panicked before is still called).
    pub fn call(&self, p: Progress) {
        let mut f = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (*f)(p)
    }
}

impl fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressFn(..)")
    }
}

/// A flag that stops calibration, quantization and evaluation cleanly: set it from any
/// thread ([`CancelToken::cancel`]) and the pass stops before its next sample (or the
/// quantizer before its next step) with [`crate::Error::Cancelled`]; nothing is written.
/// Clones share the flag. The default token is never cancelled unless someone holding a
/// clone cancels it.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh token, not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// A token sharing an existing flag (e.g. one a UI already has).
    pub fn from_flag(flag: Arc<AtomicBool>) -> CancelToken {
        CancelToken(flag)
    }

    /// Ask every holder of this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst)
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(Error::Cancelled)` once cancelled.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() {
            Err(crate::Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

impl PartialEq for CancelToken {
    /// Tokens are equal when they share one flag.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CancelToken {}
