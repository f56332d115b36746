//! litequant: post-training quantization of TensorFlow Lite models, with int8 execution
//! on any GPU through wgpu and a CPU reference engine bit-exact with TFLite's.
//!
//! Everything a typical program needs is in the [`prelude`]. The three typical programs
//! (more in `docs/library.md` and `examples/`):
//!
//! **Quantize a model with samples the app has in memory.** Calibrate on
//! [`ConverterFloatEngine`](struct@ConverterFloatEngine) (its float kernels sum in the order of those TensorFlow's
//! converter calibrates with, so the int8 scales are the converter's to the bit); any
//! iterator of samples is a dataset ([`data::from_iter`]):
//!
//! ```no_run
//! use litequant::prelude::*;
//! # fn main() -> litequant::Result<()> {
//! let float = Model::from_file("model.tflite")?;
//! let samples: Vec<Vec<Tensor>> = vec![vec![Tensor::from_f32(&[1, 8, 8, 1], &[0.5; 64])?]];
//! let stats = calibrate(&float, &ConverterFloatEngine, &mut from_iter(samples), &Default::default())?;
//! let (int8, report) = quantize(&float, Some(&stats), &QuantizeOptions::int8())?;
//! int8.write_file("model_int8.tflite")?;
//! print!("{report}");
//! # Ok(()) }
//! ```
//!
//! **Quantize with a dataset on disk, a progress bar and a Cancel button.** Progress is an
//! `FnMut(Progress) + Send` closure ([`ProgressFn`]); a [`CancelToken`] stops the pass with
//! [`Error::Cancelled`], and nothing is written:
//!
//! ```no_run
//! use litequant::prelude::*;
//! # fn main() -> litequant::Result<()> {
//! let float = Model::from_file("model.tflite")?;
//! let inputs = ReferenceEngine.prepare(&float)?.inputs().to_vec();
//! let mut data = litequant::data::open("calib.npy", &inputs, &Default::default())?; // Send
//! let cancel = CancelToken::new(); // a clone goes to the UI's Cancel button
//! let mut opts = QuantizeOptions::int8();
//! opts.cancel = cancel.clone();
//! let mut calib = opts.calibration_options();
//! calib.progress = Some(ProgressFn::new(|p: Progress| eprint!("\r{}/{:?}", p.done, p.total)));
//! let stats = calibrate(&float, &ConverterFloatEngine, &mut data, &calib)?;
//! let (int8, _) = quantize(&float, Some(&stats), &opts)?;
//! int8.write_file("model_int8.tflite")?;
//! # Ok(()) }
//! ```
//!
//! **Run a quantized model in a loop, and compare it with the float one.** A session is
//! prepared once ([`Engine::prepare`]) and run many times ([`Session::run`]);
//! [`eval::evaluate`] runs both models over the same data:
//!
//! ```no_run
//! use litequant::prelude::*;
//! # fn main() -> litequant::Result<()> {
//! let (float, int8) = (Model::from_file("model.tflite")?, Model::from_file("model_int8.tflite")?);
//! let mut session = ReferenceEngine.prepare(&int8)?;
//! for _frame in 0..10 {
//!     let out = session.run(&[Tensor::from_f32(&[1, 8, 8, 1], &[0.5; 64])?])?;
//!     println!("{:?}", out[0].as_f32());
//! }
//! let frames = (0..10).map(|_| Tensor::from_f32(&[1, 8, 8, 1], &[0.5; 64]));
//! let report = evaluate(&float, &int8, &ReferenceEngine, &mut from_iter(frames), None, &Default::default())?;
//! print!("{report}");
//! # Ok(()) }
//! ```
//!
//! Errors are one enum, [`Error`]; a sample's failure in a pass over data is
//! [`Error::Sample`] with the failure itself as its source ([`Error::root`]).
//!
//! Cargo features (all on by default): `gpu` ([`gpu`]: wgpu, naga), `npz` (`.npz` files:
//! zip), `images` (folders of PNG/JPEG: image), `cli` (the `litequant` binary: clap).
//! `default-features = false` is the CPU-only library.

#![deny(missing_docs)]

extern crate alloc;

pub mod cpu;
pub mod custom;
pub mod data;
pub mod engine;
pub mod error;
pub mod eval;
mod fsutil;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod inspect;
pub mod memory;
pub mod model;
pub mod progress;
pub mod quant;
pub mod reference;
mod tensor;
pub mod tflite;

pub use cpu::FastCpuEngine;
pub use engine::{bind_inputs, check_inputs, output_keys, Engine, IoSpec, Observer, Session};
pub use error::{Error, Result};
pub use fsutil::write_atomic;
pub use model::{DType, Model, OpKind};
pub use progress::{CancelToken, Phase, Progress, ProgressFn};
pub use quant::calibrate::{calibrate, CalibrationOptions, Stats};
pub use quant::{quantize, IoType, KeepFloat, Mode, QuantizeOptions, Report};
pub use reference::{ConverterFloatEngine, FloatOrder, ReferenceEngine};
pub use tensor::{f16_to_f32, Buf, Tensor};

/// Everything a typical program touches, in one import: `use litequant::prelude::*;`.
///
/// The model and its tensors ([`Model`], [`Tensor`]); the engines ([`ReferenceEngine`](struct@ReferenceEngine) to
/// run, [`ConverterFloatEngine`](struct@ConverterFloatEngine) to calibrate — it sums float kernels in the order of the
/// kernels TensorFlow's converter calibrates with, so the scales equal the converter's — and
/// `GpuEngine` with the `gpu` feature) and the [`Engine`]/[`Session`] traits whose methods
/// they are called through; datasets ([`Dataset`](data::Dataset), [`from_iter`](data::from_iter),
/// [`InMemory`](data::InMemory), the file datasets); [`calibrate`], [`quantize`] and their
/// options, [`Mode`], [`IoType`] and the [`Report`]; [`evaluate`](eval::evaluate); progress
/// and cancellation; [`Error`] and [`Result`].
pub mod prelude {
    #[cfg(feature = "images")]
    pub use crate::data::ImageDirDataset;
    #[cfg(feature = "npz")]
    pub use crate::data::NpzDataset;
    pub use crate::data::{from_iter, Dataset, InMemory, IntoSample, NpyDataset, Sample};
    pub use crate::eval::{evaluate, EvalOptions, EvalReport};
    #[cfg(feature = "gpu")]
    pub use crate::gpu::GpuEngine;
    pub use crate::model::{DType, OpKind};
    pub use crate::{
        calibrate, quantize, CalibrationOptions, CancelToken, ConverterFloatEngine, Engine, Error,
        IoSpec, IoType, KeepFloat, Mode, Model, Phase, Progress, ProgressFn, QuantizeOptions,
        ReferenceEngine, Report, Result, Session, Stats, Tensor,
    };
}

/// The README's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// docs/library.md's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/library.md")]
pub struct LibraryGuideDoctests;
