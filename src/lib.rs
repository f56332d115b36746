//! litequant: post-training quantization of TensorFlow Lite models, with int8 execution
//! on any GPU through wgpu and a CPU reference engine bit-exact with TFLite's.

extern crate alloc;

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

pub use engine::{bind_inputs, check_inputs, output_keys, Engine, IoSpec, Observer, Session};
pub use error::{Error, Result};
pub use fsutil::write_atomic;
pub use model::Model;
pub use progress::{CancelToken, Phase, Progress, ProgressFn};
pub use quant::calibrate::{calibrate, CalibrationOptions, Stats};
pub use quant::{quantize, IoType, Mode, QuantizeOptions, Report};
pub use reference::{ConverterFloatEngine, FloatOrder, ReferenceEngine};
pub use tensor::{f16_to_f32, Buf, Tensor};

/// Everything a typical program touches, in one import: `use litequant::prelude::*;`.
///
/// The model and its tensors ([`Model`], [`Tensor`]); the engines ([`ReferenceEngine`] to
/// run, [`ConverterFloatEngine`] to calibrate — it sums float kernels in the order of the
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
    pub use crate::model::DType;
    pub use crate::{
        calibrate, quantize, CalibrationOptions, CancelToken, ConverterFloatEngine, Engine, Error,
        IoSpec, IoType, Mode, Model, Phase, Progress, ProgressFn, QuantizeOptions, ReferenceEngine,
        Report, Result, Session, Stats, Tensor,
    };
}

/// The README's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
