//! Quantization: parameter math, the fixed-point primitives (the only copy of the CPU
//! integer arithmetic), calibration and the quantizer passes.
//!
//! The calibration-free modes, as the TensorFlow Lite converter produces them from the same
//! float model:
//!
//! ```no_run
//! # fn main() -> litequant::Result<()> {
//! let float = litequant::Model::from_file("model.tflite")?;
//! let dynamic = litequant::quant::quantize_dynamic(&float, &Default::default())?;
//! dynamic.write_file("model_dynamic.tflite")?;
//! let half = litequant::quant::quantize_float16(&float)?;
//! half.write_file("model_float16.tflite")?;
//! # Ok(()) }
//! ```
//!
//! Full integer, from calibration statistics (see [`passes::full_integer`]):
//!
//! ```no_run
//! # fn main() -> litequant::Result<()> {
//! use litequant::{Engine, Session};
//! use litequant::quant::{quantize_int8_with_report, Int8Options};
//! let float = litequant::Model::from_file("model.tflite")?;
//! let engine = litequant::ReferenceEngine;
//! let spec = engine.prepare(&float)?.inputs()[0].clone();
//! let mut data = litequant::data::NpyDataset::open("calib.npy")?.with_input(&spec)?;
//! let stats = litequant::calibrate(&float, &engine, &mut data, &Default::default())?;
//! let (int8, report) = quantize_int8_with_report(&float, &stats, &Int8Options::int8())?;
//! int8.write_file("model_int8.tflite")?;
//! for op in &report.float_ops {
//!     println!("left float: operator {} ({}): {}", op.index, op.op, op.why);
//! }
//! # Ok(()) }
//! ```

pub mod api;
pub mod auto;
pub mod cache;
pub mod calibrate;
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

pub use api::{quantize, IoType, Mode, QuantizeOptions, Report};
pub use methods::{CalibrationMethod, StatsNeeds, TargetGrid};
pub use options::DynamicOptions;
pub use passes::dynamic::quantize_dynamic;
pub use passes::float16::quantize_float16;
pub use passes::full_integer::{quantize_int8, quantize_int8_with_report, Int8Options, Int8Report};
pub use saturation::count_saturation;
pub use two_pass::{calibrate_for, calibrate_histograms};
