//! Quantization: parameter math, the fixed-point primitives (the only copy of the CPU
//! integer arithmetic), calibration and the quantizer passes.

pub mod calibrate;
pub mod fixedpoint;
