//! litequant: post-training quantization of TensorFlow Lite models, with int8 execution
//! on any GPU through wgpu and a CPU reference engine bit-exact with TFLite's.

extern crate alloc;

pub mod error;
mod fsutil;
pub mod gpu;
pub mod inspect;
pub mod model;
pub mod tflite;

pub use error::{Error, Result};
pub use fsutil::write_atomic;
pub use model::Model;
