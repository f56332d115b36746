//! Elementwise binary ops with numpy broadcasting: ADD, SUB, MUL, MAXIMUM, MINIMUM.
//!
//! TFLite sources followed (LiteRT `tflite/kernels/...`):
//! - `add.cc`, `sub.cc`, `mul.cc`, `maximum_minimum.cc` (Prepare: parameters; Eval: which
//!   reference function `BUILTIN_REF` runs).
//! - `internal/reference/integer_ops/add.h` (`AddFunc`), `internal/reference/sub.h`
//!   (`SubElementwise`, `BroadcastQuantSubSlow`), `internal/reference/integer_ops/mul.h`
//!   (`MulElementwise`), `internal/reference/mul.h` (uint8), `internal/reference/add.h`
//!   (float/int32), `internal/reference/maximum_minimum.h`.
//!
//! Facts:
//! - ADD/SUB int8/uint8: `left_shift = 20`, `twice_max_input_scale = 2·max(s1, s2)` (double),
//!   input multipliers `s_i / twice_max`, output multiplier `twice_max / (2^20 · s_out)`, all
//!   through `QuantizeMultiplierSmallerThanOneExp` (which aborts for multipliers ≥ 1). Each
//!   input: `MBQM((x + offset) · 2^20, M_i, shift_i)`; their sum (ADD) or difference (SUB):
//!   `MBQM(·, M_out, shift_out) + zp_out`, clamped to the fused activation range.
//!   SUB's `Sub` (same shapes) and `BroadcastQuantSubSlow` compute the same element function.
//! - MUL int8/uint8: `M = QuantizeMultiplier(f64(s1 · s2 / s_out))` with the product and
//!   quotient in float; `MBQM((x1 − zp1)(x2 − zp2), M) + zp_out`, clamped.
//! - MAXIMUM/MINIMUM compare the stored values (`a > b ? a : b`, `a < b ? a : b`): no
//!   rescaling even for quantized tensors (the converter gives inputs and output the same
//!   parameters).
//! - Float ADD/SUB/MUL: `min(max(a ∘ b, lo), hi)` with C++ `std::max`/`std::min` and the
//!   activation range of `CalculateActivationRange` (±FLT_MAX for none).
//! - Broadcasting is elementwise, so every reference loop order gives the same values: the
//!   kernels read each input through an index map precomputed at prepare.

mod add_sub;
mod min_max;
mod mul;
#[cfg(test)]
mod tests;

pub(super) use min_max::{prepare_maximum, prepare_minimum};

use crate::model::{Activation, AddSubOptions, DType};
use crate::{Buf, Error, Result, Tensor};

use super::common::{
    broadcast_shape, clamp_like_cpp, float_activation_range, qrange, quantized_activation_range,
    shape_of,
};
use super::quantize::dtype_error;
use super::{Kernel, OpCtx};
use add_sub::quant_add_sub;
pub(crate) use add_sub::AddSubParams;
use min_max::max_min;
use mul::quant_mul;
pub(crate) use mul::MulParams;

/// How each input is read for every output element.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operands {
    /// Element count of each input and of the output.
    pub(crate) len_a: usize,
    pub(crate) len_b: usize,
    pub(crate) len_out: usize,
    /// `None`: the input has the output's shape (identity); otherwise the input's flat
    /// index for each output element.
    map_a: Option<Vec<usize>>,
    map_b: Option<Vec<usize>>,
}

impl Operands {
    fn new(ctx: &OpCtx) -> Result<Operands> {
        if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
            return Err(ctx.invalid("takes two inputs and one output"));
        }
        let (a, b, out) = (
            shape_of(ctx.input(0)?),
            shape_of(ctx.input(1)?),
            shape_of(ctx.output(0)?),
        );
        let want = if a == b {
            Some(a.clone())
        } else {
            broadcast_shape(&a, &b)
        };
        if want.as_deref() != Some(out.as_slice()) {
            return Err(ctx.invalid(format!(
                "input shapes {a:?} and {b:?} do not broadcast to the output shape {out:?}"
            )));
        }
        let map = |s: &[usize]| -> Result<Option<Vec<usize>>> {
            if s == out.as_slice() {
                Ok(None)
            } else {
                ctx.broadcast_map(s, &out)?
                    .map(Some)
                    .ok_or_else(|| ctx.invalid(format!("{s:?} does not broadcast to {out:?}")))
            }
        };
        Ok(Operands {
            len_a: a.iter().product(),
            len_b: b.iter().product(),
            len_out: out.iter().product(),
            map_a: map(&a)?,
            map_b: map(&b)?,
        })
    }

    /// `out[i] = f(a[ia(i)], b[ib(i)])` over every output element.
    fn zip_with<T: Copy, U>(&self, a: &[T], b: &[T], out: &mut [U], f: impl Fn(T, T) -> U) {
        for (i, o) in out.iter_mut().enumerate() {
            let x = a[self.map_a.as_ref().map_or(i, |m| m[i])];
            let y = b[self.map_b.as_ref().map_or(i, |m| m[i])];
            *o = f(x, y);
        }
    }

    fn check(&self, op: &str, a: &Tensor, b: &Tensor, out: &Tensor) -> Result<()> {
        if a.len() != self.len_a || b.len() != self.len_b || out.len() != self.len_out {
            return Err(Error::Shape(format!(
                "{op}: expected {}, {} and {} elements, got {}, {} and {}",
                self.len_a,
                self.len_b,
                self.len_out,
                a.len(),
                b.len(),
                out.len()
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
}

impl Arith {
    fn name(self) -> &'static str {
        match self {
            Arith::Add => "ADD",
            Arith::Sub => "SUB",
            Arith::Mul => "MUL",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BinaryOp {
    /// float32 ADD/SUB/MUL with the fused activation's clamp.
    Float { arith: Arith, lo: f32, hi: f32 },
    /// Non-quantized int32 ADD/SUB/MUL (wrapping, as the C++ does on two's complement).
    Int32 { arith: Arith, lo: i32, hi: i32 },
    /// int8/uint8 ADD (`subtract == false`) and SUB.
    QuantAddSub { p: AddSubParams, subtract: bool },
    /// int8/uint8 MUL.
    QuantMul(MulParams),
    /// MAXIMUM (`max == true`) or MINIMUM on stored values of any held dtype.
    MaxMin { max: bool },
}

pub(crate) struct BinaryKernel {
    pub(crate) name: &'static str,
    pub(crate) operands: Operands,
    pub(crate) op: BinaryOp,
}

#[inline]
fn float_arith(arith: Arith, x: f32, y: f32) -> f32 {
    match arith {
        Arith::Add => x + y,
        Arith::Sub => x - y,
        Arith::Mul => x * y,
    }
}

#[inline]
fn int32_arith(arith: Arith, x: i32, y: i32) -> i32 {
    match arith {
        Arith::Add => x.wrapping_add(y),
        Arith::Sub => x.wrapping_sub(y),
        Arith::Mul => x.wrapping_mul(y),
    }
}

impl Kernel for BinaryKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let name = self.name;
        let get = |i: usize| {
            inputs
                .get(i)
                .copied()
                .flatten()
                .ok_or_else(|| Error::Shape(format!("{name}: missing input {i}")))
        };
        let (a, b) = (get(0)?, get(1)?);
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{name}: missing output")))?;
        let ops = &self.operands;
        ops.check(name, a, b, out)?;
        let mismatch = || Error::Shape(format!("{name}: unexpected operand dtypes"));
        match (&self.op, a.buf(), b.buf(), out.buf_mut()) {
            (BinaryOp::Float { arith, lo, hi }, Buf::F32(x), Buf::F32(y), Buf::F32(o)) => ops
                .zip_with(x, y, o, |x, y| {
                    clamp_like_cpp(float_arith(*arith, x, y), *lo, *hi)
                }),
            (BinaryOp::Int32 { arith, lo, hi }, Buf::I32(x), Buf::I32(y), Buf::I32(o)) => {
                ops.zip_with(x, y, o, |x, y| int32_arith(*arith, x, y).max(*lo).min(*hi))
            }
            (BinaryOp::QuantAddSub { p, subtract }, Buf::I8(x), Buf::I8(y), Buf::I8(o)) => {
                quant_add_sub(ops, p, *subtract, x, y, o)
            }
            (BinaryOp::QuantAddSub { p, subtract }, Buf::U8(x), Buf::U8(y), Buf::U8(o)) => {
                quant_add_sub(ops, p, *subtract, x, y, o)
            }
            (BinaryOp::QuantMul(p), Buf::I8(x), Buf::I8(y), Buf::I8(o)) => {
                quant_mul(ops, p, x, y, o)
            }
            (BinaryOp::QuantMul(p), Buf::U8(x), Buf::U8(y), Buf::U8(o)) => {
                quant_mul(ops, p, x, y, o)
            }
            (BinaryOp::MaxMin { max }, x, y, o) => match (x, y, o) {
                (Buf::F32(x), Buf::F32(y), Buf::F32(o)) => {
                    ops.zip_with(x, y, o, |x, y| max_min(*max, x, y))
                }
                (Buf::I8(x), Buf::I8(y), Buf::I8(o)) => {
                    ops.zip_with(x, y, o, |x, y| max_min(*max, x, y))
                }
                (Buf::U8(x), Buf::U8(y), Buf::U8(o)) => {
                    ops.zip_with(x, y, o, |x, y| max_min(*max, x, y))
                }
                (Buf::I16(x), Buf::I16(y), Buf::I16(o)) => {
                    ops.zip_with(x, y, o, |x, y| max_min(*max, x, y))
                }
                (Buf::I32(x), Buf::I32(y), Buf::I32(o)) => {
                    ops.zip_with(x, y, o, |x, y| max_min(*max, x, y))
                }
                (Buf::I64(x), Buf::I64(y), Buf::I64(o)) => {
                    ops.zip_with(x, y, o, |x, y| max_min(*max, x, y))
                }
                (_, _, o) => return Err(dtype_error(name, o)),
            },
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

/// Input and output dtypes must all agree (TFLite: `input1->type == input2->type`, the
/// output takes that type).
fn common_dtype(ctx: &OpCtx) -> Result<DType> {
    let (a, b, o) = (ctx.input(0)?, ctx.input(1)?, ctx.output(0)?);
    if a.dtype != b.dtype || a.dtype != o.dtype {
        return Err(ctx.unsupported("inputs and output must have the same dtype"));
    }
    Ok(a.dtype)
}

/// `CalculateActivationRange<int32_t>`.
fn int32_activation_range(act: Activation) -> Option<(i32, i32)> {
    Some(match act {
        Activation::None => (i32::MIN, i32::MAX),
        Activation::Relu => (0, i32::MAX),
        Activation::Relu6 => (0, 6),
        Activation::ReluN1To1 => (-1, 1),
        _ => return None,
    })
}

/// Per-tensor parameters of both inputs and the output, with zero points inside the
/// output type's range (`PrepareGeneralSubOp` checks this; the int8 kernels assume it).
fn quant_params(ctx: &OpCtx, dtype: DType) -> Result<[(f32, i32); 3]> {
    let (qmin, qmax) = qrange(dtype).ok_or_else(|| ctx.unsupported("not a quantized type"))?;
    let params = [
        ctx.per_tensor(ctx.input(0)?)?,
        ctx.per_tensor(ctx.input(1)?)?,
        ctx.per_tensor(ctx.output(0)?)?,
    ];
    for (scale, zp) in params {
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(ctx.unsupported(format!("quantization scale {scale} is not positive")));
        }
        if zp < qmin || zp > qmax {
            return Err(ctx.unsupported(format!("zero point {zp} outside [{qmin}, {qmax}]")));
        }
    }
    Ok(params)
}

fn prepare_arith(ctx: &OpCtx, arith: Arith, act: Activation) -> Result<Box<dyn Kernel>> {
    let operands = Operands::new(ctx)?;
    let dtype = common_dtype(ctx)?;
    let unsupported_act = || ctx.unsupported(format!("fused activation {act:?} is not supported"));
    let op = match dtype {
        DType::F32 => {
            let (lo, hi) = float_activation_range(act).ok_or_else(unsupported_act)?;
            BinaryOp::Float { arith, lo, hi }
        }
        DType::I32 => {
            let (lo, hi) = int32_activation_range(act).ok_or_else(unsupported_act)?;
            BinaryOp::Int32 { arith, lo, hi }
        }
        DType::I8 | DType::U8 => {
            let params = quant_params(ctx, dtype)?;
            let (_, zo) = params[2];
            let act_range = quantized_activation_range(act, dtype, params[2].0, zo)
                .ok_or_else(unsupported_act)?;
            match arith {
                Arith::Add | Arith::Sub => BinaryOp::QuantAddSub {
                    p: AddSubParams::prepare(ctx, params, act_range)?,
                    subtract: arith == Arith::Sub,
                },
                Arith::Mul => BinaryOp::QuantMul(MulParams::prepare(params, act_range)),
            }
        }
        _ => {
            return Err(ctx.unsupported(format!(
                "{} supports float32, int32, int8 and uint8",
                arith.name()
            )))
        }
    };
    Ok(Box::new(BinaryKernel {
        name: arith.name(),
        operands,
        op,
    }))
}

pub(super) fn prepare_add(ctx: &OpCtx, o: &AddSubOptions) -> Result<Box<dyn Kernel>> {
    prepare_arith(ctx, Arith::Add, o.activation)
}

pub(super) fn prepare_sub(ctx: &OpCtx, o: &AddSubOptions) -> Result<Box<dyn Kernel>> {
    prepare_arith(ctx, Arith::Sub, o.activation)
}

pub(super) fn prepare_mul(ctx: &OpCtx, activation: Activation) -> Result<Box<dyn Kernel>> {
    prepare_arith(ctx, Arith::Mul, activation)
}
