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
pub mod quant;
pub mod reference;
mod tensor;
pub mod tflite;

pub use engine::{bind_inputs, output_keys, Engine, IoSpec, Observer, Session};
pub use error::{Error, Result};
pub use fsutil::write_atomic;
pub use model::Model;
pub use quant::calibrate::{calibrate, CalibrationOptions, Stats};
pub use reference::{ConverterFloatEngine, FloatOrder, ReferenceEngine};
pub use tensor::{f16_to_f32, Buf, Tensor};
