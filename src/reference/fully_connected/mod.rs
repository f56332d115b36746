//! FULLY_CONNECTED and BATCH_MATMUL (float32, int8/uint8, hybrid).
//!
//! - `fc.rs`: FULLY_CONNECTED as `kernels/fully_connected.cc` runs it under `BUILTIN_REF`:
//!   `reference_ops::FullyConnected` (float), `reference_integer_ops::FullyConnected[PerChannel]`
//!   (int8, uint8) and `EvalHybridDense` (int8 weights, float activations).
//! - `fc16.rs`: the 16x8 FULLY_CONNECTED (int16 activations, int8 weights, int64 bias).
//! - `bmm.rs`: BATCH_MATMUL as `kernels/batch_matmul.cc` runs it (it only has a reference
//!   kernel): the RHS is transposed into `[.., N, K]` and the reference loops of
//!   `reference/batch_matmul.h` run with the operands swapped.
//! - this file: what both share: typed access to run-time tensors and the run-time input
//!   quantization of the hybrid kernels (`reference/portable_tensor_utils.cc`).

pub(crate) mod bmm;
pub(crate) mod fc;
pub(crate) mod fc16;
#[cfg(test)]
mod tests;

use crate::model::{Activation, BatchMatMulOptions, FullyConnectedOptions};
use crate::{Buf, Error, Result, Tensor};

use super::common::QInt;
use super::{Kernel, OpCtx};

pub(super) fn prepare_fully_connected(
    ctx: &OpCtx,
    o: &FullyConnectedOptions,
) -> Result<Box<dyn Kernel>> {
    fc::prepare(ctx, o)
}

pub(super) fn prepare_batch_matmul(ctx: &OpCtx, o: &BatchMatMulOptions) -> Result<Box<dyn Kernel>> {
    bmm::prepare(ctx, o)
}

// ---------------------------------------------------------------------------------------------
// Run-time tensor access (prepare checked the dtypes; these only turn a surprise into an error).

/// Integer element types of quantized activations: [`QInt`] values held in a tensor.
pub(crate) trait QElem: QInt + Send + Sync + 'static {
    fn slice(t: &Tensor) -> Option<&[Self]>;
    fn slice_mut(t: &mut Tensor) -> Option<&mut [Self]>;
}

macro_rules! q_elem {
    ($t:ty, $variant:ident, $as_slice:ident) => {
        impl QElem for $t {
            fn slice(t: &Tensor) -> Option<&[$t]> {
                t.$as_slice()
            }
            fn slice_mut(t: &mut Tensor) -> Option<&mut [$t]> {
                match t.buf_mut() {
                    Buf::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
q_elem!(i8, I8, as_i8);
q_elem!(u8, U8, as_u8);
q_elem!(i16, I16, as_i16);

/// Input `i` of a run, which must be present.
pub(super) fn arg<'t>(label: &str, inputs: &[Option<&'t Tensor>], i: usize) -> Result<&'t Tensor> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| Error::Shape(format!("{label}: input {i} is missing")))
}

fn wrong(label: &str, what: &str, t: &Tensor, want: &str) -> Error {
    Error::Shape(format!(
        "{label}: {what} must be {want}, got {} {:?}",
        t.dtype(),
        t.shape()
    ))
}

/// How a run-time tensor is read as a typed slice ([`f32s`], [`i8s`], [`qs`]).
pub(super) type Slice<'t, T> = fn(&str, &str, &'t Tensor) -> Result<&'t [T]>;

pub(super) fn f32s<'t>(label: &str, what: &str, t: &'t Tensor) -> Result<&'t [f32]> {
    t.as_f32().ok_or_else(|| wrong(label, what, t, "float32"))
}

pub(super) fn i32s<'t>(label: &str, what: &str, t: &'t Tensor) -> Result<&'t [i32]> {
    t.as_i32().ok_or_else(|| wrong(label, what, t, "int32"))
}

pub(super) fn i8s<'t>(label: &str, what: &str, t: &'t Tensor) -> Result<&'t [i8]> {
    t.as_i8().ok_or_else(|| wrong(label, what, t, "int8"))
}

pub(super) fn qs<'t, T: QElem>(label: &str, what: &str, t: &'t Tensor) -> Result<&'t [T]> {
    T::slice(t).ok_or_else(|| wrong(label, what, t, "the prepared integer type"))
}

pub(super) fn f32s_mut<'t>(label: &str, t: &'t mut Tensor) -> Result<&'t mut [f32]> {
    let (dtype, shape) = (t.dtype(), t.shape().to_vec());
    match t.buf_mut() {
        Buf::F32(v) => Ok(v),
        _ => Err(Error::Shape(format!(
            "{label}: the output must be float32, got {dtype} {shape:?}"
        ))),
    }
}

pub(super) fn qs_mut<'t, T: QElem>(label: &str, t: &'t mut Tensor) -> Result<&'t mut [T]> {
    let (dtype, shape) = (t.dtype(), t.shape().to_vec());
    T::slice_mut(t).ok_or_else(|| {
        Error::Shape(format!(
            "{label}: the output is {dtype} {shape:?}, not the prepared integer type"
        ))
    })
}

/// Checks a run-time value against the element count prepare planned for.
pub(super) fn check_len(label: &str, what: &str, len: usize, want: usize) -> Result<()> {
    if len == want {
        Ok(())
    } else {
        Err(Error::Shape(format!(
            "{label}: {what} holds {len} elements, {want} expected"
        )))
    }
}

/// The output tensor of a single-output op.
pub(super) fn out0<'t>(label: &str, outputs: &'t mut [Tensor]) -> Result<&'t mut Tensor> {
    outputs
        .first_mut()
        .ok_or_else(|| Error::Shape(format!("{label}: no output tensor")))
}

// ---------------------------------------------------------------------------------------------
// Hybrid kernels: run-time quantization of float activations
// (`tensor_utils::BatchQuantizeFloats` and the portable functions it calls).

/// One row quantized: int8 values, the row's scaling factor and zero point ("offset").
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RowQuant {
    pub scale: f32,
    pub offset: i32,
}

/// `PortableAsymmetricQuantizeFloats` (shared with the hybrid convolutions).
pub(super) fn asymmetric_quantize(values: &[f32], out: &mut [i8]) -> RowQuant {
    let (scale, offset) = super::common::asymmetric_quantize_floats(values, out);
    RowQuant { scale, offset }
}

/// `PortableSymmetricQuantizeFloats` (shared with the hybrid convolutions).
pub(super) fn symmetric_quantize(values: &[f32], out: &mut [i8]) -> RowQuant {
    let scale = super::common::symmetric_quantize_floats(values, out);
    RowQuant { scale, offset: 0 }
}

/// `BatchQuantizeFloats`: each row of `depth` values on its own.
pub(super) fn batch_quantize(
    values: &[f32],
    depth: usize,
    asymmetric: bool,
    out: &mut [i8],
) -> Vec<RowQuant> {
    if depth == 0 {
        return Vec::new();
    }
    values
        .chunks_exact(depth)
        .zip(out.chunks_exact_mut(depth))
        .map(|(v, q)| {
            if asymmetric {
                asymmetric_quantize(v, q)
            } else {
                symmetric_quantize(v, q)
            }
        })
        .collect()
}

/// `ReductionSumVector`: the sum of each `depth`-long row of an int8 matrix.
pub(super) fn row_sums(matrix: &[i8], depth: usize) -> Vec<i32> {
    if depth == 0 {
        return Vec::new();
    }
    matrix
        .chunks_exact(depth)
        .map(|r| r.iter().map(|&w| w as i32).fold(0i32, i32::wrapping_add))
        .collect()
}

/// The fused activation of a hybrid kernel (`ApplyActivationToVector`), which, unlike the
/// float and integer kernels, takes every activation TFLite has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FloatAct {
    Clamp(f32, f32),
    Tanh,
    SignBit,
}

impl FloatAct {
    pub fn of(act: Activation) -> Option<FloatAct> {
        Some(match act {
            Activation::None => return Some(FloatAct::Clamp(f32::MIN, f32::MAX)),
            Activation::Relu => FloatAct::Clamp(0.0, f32::MAX),
            Activation::ReluN1To1 => FloatAct::Clamp(-1.0, 1.0),
            Activation::Relu6 => FloatAct::Clamp(0.0, 6.0),
            Activation::Tanh => FloatAct::Tanh,
            Activation::SignBit => FloatAct::SignBit,
            Activation::Other(_) => return None,
        })
    }

    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            FloatAct::Clamp(lo, hi) => {
                // ApplyActivationToVector: kNone leaves values alone (also NaN and ±inf).
                if lo == f32::MIN && hi == f32::MAX {
                    x
                } else {
                    super::common::clamp_f32(x, lo, hi)
                }
            }
            FloatAct::Tanh => x.tanh(),
            FloatAct::SignBit => {
                if x.is_sign_negative() {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}
