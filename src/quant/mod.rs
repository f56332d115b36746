//! Quantization: parameter math, the fixed-point primitives (the only copy of the CPU
//! integer arithmetic), calibration and the quantizer passes.
//!
//! The calibration-free modes, as the TensorFlow Lite converter produces them from the same
//! float model:
//!
//! ```no_run
//! # fn main() -> litequant::Result<()> {
//! use litequant::prelude::*;
//! let float = Model::from_file("model.tflite")?;
//! let (dynamic, _) = quantize(&float, None, &QuantizeOptions::dynamic())?;
//! dynamic.write_file("model_dynamic.tflite")?;
//! let (half, _) = quantize(&float, None, &QuantizeOptions::float16())?;
//! half.write_file("model_float16.tflite")?;
//! # Ok(()) }
//! ```
//!
//! Full integer, from calibration statistics, through the one entry point [`quantize`]
//! with [`QuantizeOptions`] (the passes under [`passes`] are its internals):
//!
//! ```no_run
//! # fn main() -> litequant::Result<()> {
//! use litequant::prelude::*;
//! let float = Model::from_file("model.tflite")?;
//! let spec = ReferenceEngine.prepare(&float)?.inputs()[0].clone();
//! let mut data = NpyDataset::open("calib.npy")?.with_input(&spec)?;
//! let stats = calibrate(&float, &ConverterFloatEngine, &mut data, &Default::default())?;
//! let (int8, report) = quantize(&float, Some(&stats), &QuantizeOptions::int8())?;
//! int8.write_file("model_int8.tflite")?;
//! for op in &report.float_ops {
//!     println!("left float: operator {} ({}): {}", op.index, op.op, op.reason);
//! }
//! # Ok(()) }
//! ```

pub mod api;
pub mod auto;
pub mod cache;
pub mod calibrate;
mod calibrate_par;
pub mod fixedpoint;
pub mod measure;
pub mod methods;
pub mod options;
pub mod passes;
pub mod report;
pub mod saturation;
pub mod stats;
pub mod target;
pub mod two_pass;
pub mod weights;

pub use api::{quantize, IoType, KeepFloat, Mode, QuantizeOptions, Report};
pub use methods::{CalibrationMethod, StatsNeeds, TargetGrid};
// The calibration-free passes' own entry points (as the full-integer one's below).
#[doc(hidden)]
pub use options::DynamicOptions;
#[doc(hidden)]
pub use passes::dynamic::quantize_dynamic;
#[doc(hidden)]
pub use passes::float16::quantize_float16;
// The full-integer pass's own entry points, kept for the conformance tests that drive it
// directly; apps use `quantize` with `QuantizeOptions` (one options type per concept).
#[doc(hidden)]
pub use passes::full_integer::{quantize_int8, quantize_int8_with_report, Int8Options, Int8Report};
pub use saturation::count_saturation;
pub use two_pass::{calibrate_for, calibrate_histograms};
