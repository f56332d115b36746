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

pub(crate) mod add_sub;
mod div;
mod min_max;
mod mul;
#[cfg(test)]
mod tests;

pub(super) use min_max::{prepare_maximum, prepare_minimum};

use crate::model::{Activation, AddSubOptions, DType};
use crate::{Buf, Error, Result, Tensor};

use super::common::{
    broadcast_shape, clamp_like_cpp, float_activation_range, qrange, quantized_activation_range,
    shape_of, QInt,
};
use super::quantize::dtype_error;
use super::{Kernel, OpCtx};
use add_sub::quant_add_sub;
pub(crate) use add_sub::AddSubParams;
pub(crate) use div::DivParams;
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

    /// Each input's period when every output element `i` reads element `i % len` of it
    /// (its own shape, or a block repeated over the outer dimensions: a scalar, one value
    /// per channel); `None` when either input is read otherwise.
    pub(crate) fn periods(&self) -> Option<(usize, usize)> {
        let period = |len: usize, map: &Option<Vec<usize>>| {
            let fits = len > 0
                && self.len_out % len == 0
                && map
                    .as_ref()
                    .is_none_or(|m| m.iter().enumerate().all(|(i, &k)| k == i % len));
            fits.then_some(len)
        };
        Some((
            period(self.len_a, &self.map_a)?,
            period(self.len_b, &self.map_b)?,
        ))
    }

    /// Whether either input is broadcast (read through an index map).
    fn is_broadcast(&self) -> bool {
        self.map_a.is_some() || self.map_b.is_some()
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
    /// SQUARED_DIFFERENCE: `(x - y) · (x - y)`.
    SquaredDifference,
    /// DIV: `x / y` (float32 only; int8/uint8 through [`DivParams`]).
    Div,
}

impl Arith {
    fn name(self) -> &'static str {
        match self {
            Arith::Add => "ADD",
            Arith::Sub => "SUB",
            Arith::Mul => "MUL",
            Arith::SquaredDifference => "SQUARED_DIFFERENCE",
            Arith::Div => "DIV",
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
    /// int8 SQUARED_DIFFERENCE (`left_shift = 7`, no fused activation).
    QuantSquaredDiff(AddSubParams),
    /// int8/uint8 DIV.
    QuantDiv(DivParams),
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
        Arith::SquaredDifference => {
            let d = x - y;
            d * d
        }
        Arith::Div => x / y,
    }
}

#[inline]
fn int32_arith(arith: Arith, x: i32, y: i32) -> i32 {
    match arith {
        Arith::Add => x.wrapping_add(y),
        Arith::Sub => x.wrapping_sub(y),
        Arith::Mul => x.wrapping_mul(y),
        Arith::SquaredDifference => {
            let d = x.wrapping_sub(y);
            d.wrapping_mul(d)
        }
        // Not prepared (int32 DIV is refused).
        Arith::Div => x.checked_div(y).unwrap_or(0),
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
            (BinaryOp::QuantAddSub { p, subtract }, Buf::I16(x), Buf::I16(y), Buf::I16(o)) => {
                quant_add_sub(ops, p, *subtract, x, y, o)
            }
            (BinaryOp::QuantMul(p), Buf::I16(x), Buf::I16(y), Buf::I16(o)) => {
                quant_mul(ops, p, x, y, o)
            }
            (BinaryOp::QuantMul(p), Buf::I8(x), Buf::I8(y), Buf::I8(o)) => {
                quant_mul(ops, p, x, y, o)
            }
            (BinaryOp::QuantMul(p), Buf::U8(x), Buf::U8(y), Buf::U8(o)) => {
                quant_mul(ops, p, x, y, o)
            }
            (BinaryOp::QuantDiv(p), Buf::I8(x), Buf::I8(y), Buf::I8(o)) => {
                quant_div(ops, p, x, y, o)?
            }
            (BinaryOp::QuantDiv(p), Buf::U8(x), Buf::U8(y), Buf::U8(o)) => {
                quant_div(ops, p, x, y, o)?
            }
            (BinaryOp::QuantSquaredDiff(p), Buf::I8(x), Buf::I8(y), Buf::I8(o)) => {
                ops.zip_with(x, y, o, |x, y| {
                    p.squared_difference(x.into(), y.into()) as i8
                })
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

/// Per-tensor parameters of both inputs and the output: positive finite scales (LiteRT
/// aborts on the others: an infinite or NaN multiplier fails `QuantizeMultiplier`'s checks),
/// and, where `zp_checked`, zero points inside the type's range (SUB's
/// `PrepareGeneralSubOp` and SQUARED_DIFFERENCE's Prepare refuse the others; ADD, MUL and
/// DIV take any zero point and compute with it in int32, wrapping as the compiled kernels
/// do; so do the kernels here).
fn quant_params(ctx: &OpCtx, dtype: DType, zp_checked: bool) -> Result<[(f32, i32); 3]> {
    let (qmin, qmax) = qrange(dtype).ok_or_else(|| ctx.unsupported("not a quantized type"))?;
    let params = [
        ctx.per_tensor(ctx.input(0)?)?,
        ctx.per_tensor(ctx.input(1)?)?,
        ctx.per_tensor(ctx.output(0)?)?,
    ];
    for (scale, zp) in params {
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(ctx.unsupported(format!(
                "quantization scale {scale} is not a positive finite number: the rescaling \
                 multipliers would be infinite or NaN, which LiteRT's QuantizeMultiplier turns \
                 into no defined result (ADD aborts; SUB and MUL give 0s)"
            )));
        }
        if zp_checked && (zp < qmin || zp > qmax) {
            return Err(ctx.unsupported(format!(
                "zero point {zp} outside [{qmin}, {qmax}] (LiteRT refuses it at prepare)"
            )));
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
        DType::I32 if arith != Arith::Div => {
            let (lo, hi) = int32_activation_range(act).ok_or_else(unsupported_act)?;
            BinaryOp::Int32 { arith, lo, hi }
        }
        DType::I8 | DType::U8 => {
            let params = quant_params(ctx, dtype, arith == Arith::Sub)?;
            let (_, zo) = params[2];
            let act_range = quantized_activation_range(act, dtype, params[2].0, zo)
                .ok_or_else(unsupported_act)?;
            match arith {
                Arith::Add | Arith::Sub => BinaryOp::QuantAddSub {
                    p: AddSubParams::prepare(ctx, params, act_range)?,
                    subtract: arith == Arith::Sub,
                },
                Arith::Mul => BinaryOp::QuantMul(MulParams::prepare(params, act_range)),
                Arith::Div => BinaryOp::QuantDiv(DivParams::prepare(ctx, params, act_range)?),
                Arith::SquaredDifference => {
                    return Err(ctx.unsupported("SQUARED_DIFFERENCE has its own prepare"))
                }
            }
        }
        // 16x8: add.cc / sub.cc with general scales (`pot_scale_int16` false, or scales
        // that are not powers of two) and mul.cc's `MulElementwise` on int16; every zero
        // point must be 0 (`TF_LITE_ENSURE_EQ` in ADD's and SUB's Prepare).
        DType::I16 if matches!(arith, Arith::Add | Arith::Sub | Arith::Mul) => {
            let params = quant_params(ctx, dtype, false)?;
            if matches!(arith, Arith::Add | Arith::Sub) && params.iter().any(|&(_, z)| z != 0) {
                return Err(ctx.unsupported(format!(
                    "int16 {} needs zero points 0 (LiteRT refuses others at prepare)",
                    arith.name()
                )));
            }
            let (so, zo) = params[2];
            let act_range =
                quantized_activation_range(act, dtype, so, zo).ok_or_else(unsupported_act)?;
            match arith {
                Arith::Mul => BinaryOp::QuantMul(MulParams::prepare(params, act_range)),
                _ => BinaryOp::QuantAddSub {
                    p: AddSubParams::prepare_with_shift(ctx, params, act_range, 15)?,
                    subtract: arith == Arith::Sub,
                },
            }
        }
        _ => {
            return Err(ctx.unsupported(format!(
                "{} supports float32, int32, int8 and uint8 (and int16 for ADD, SUB, MUL)",
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
    refuse_pot_int16(ctx, o)?;
    prepare_arith(ctx, Arith::Add, o.activation)
}

pub(super) fn prepare_sub(ctx: &OpCtx, o: &AddSubOptions) -> Result<Box<dyn Kernel>> {
    refuse_pot_int16(ctx, o)?;
    prepare_arith(ctx, Arith::Sub, o.activation)
}

/// int16 ADD/SUB with `pot_scale_int16` set and every scale a power of two take TFLite's
/// power-of-two path (`CheckedLog2`, `reference_ops::Add`'s gemmlowp `SaturatingAdd` of one
/// input shifted right): not written here, refused by name. The converter writes
/// `pot_scale_int16 = false` (general scales).
fn refuse_pot_int16(ctx: &OpCtx, o: &AddSubOptions) -> Result<()> {
    if !o.pot_scale_int16 || ctx.output(0)?.dtype != DType::I16 {
        return Ok(());
    }
    // add.cc `CheckedLog2`: log2 in float, |fraction| < 1e-3.
    let is_pot = |s: f32| {
        let l = s.ln() * (1.0f32 / 2.0f32.ln());
        (l - l.round()).abs() < 1e-3
    };
    let ts = [ctx.input(0)?, ctx.input(1)?, ctx.output(0)?];
    if ts.iter().all(|t| {
        t.quant
            .as_ref()
            .is_some_and(|q| q.scale.len() == 1 && is_pot(q.scale[0]))
    }) {
        return Err(ctx.unsupported(
            "int16 with pot_scale_int16 and power-of-two scales (TFLite's POT path) is not \
             supported; the converter writes pot_scale_int16 = false",
        ));
    }
    Ok(())
}

pub(super) fn prepare_mul(ctx: &OpCtx, activation: Activation) -> Result<Box<dyn Kernel>> {
    prepare_arith(ctx, Arith::Mul, activation)
}

/// DIV: float32 and int8/uint8 (int32 DIV, which TFLite also has, is refused here).
pub(super) fn prepare_div(ctx: &OpCtx, activation: Activation) -> Result<Box<dyn Kernel>> {
    prepare_arith(ctx, Arith::Div, activation)
}

/// int8/uint8 DIV over every output element; refused (as `CheckNonZero` refuses the run)
/// when a divisor equals its zero point.
fn quant_div<T: QInt>(
    ops: &Operands,
    p: &DivParams,
    a: &[T],
    b: &[T],
    out: &mut [T],
) -> Result<()> {
    let refused = std::cell::Cell::new(false);
    ops.zip_with(a, b, out, |x, y| match p.apply(x.to_i32(), y.to_i32()) {
        Some(v) => T::from_i32(v),
        None => {
            refused.set(true);
            T::from_i32(0)
        }
    });
    if refused.get() {
        return Err(Error::Unsupported(
            "DIV: a divisor equals its zero point (TFLite refuses the run)".into(),
        ));
    }
    Ok(())
}

/// SQUARED_DIFFERENCE (`kernels/squared_difference.cc`): float32 and int32 `(x − y)²` with
/// no clamp; int8 through the ADD/SUB-style rescale with `left_shift = 7`
/// ([`AddSubParams::prepare_squared_difference`]).
/// The broadcasting paths are `BroadcastBinaryFunction4DSlow`: at most 4 dimensions.
pub(super) fn prepare_squared_difference(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    let operands = Operands::new(ctx)?;
    let dtype = common_dtype(ctx)?;
    if operands.is_broadcast() && shape_of(ctx.output(0)?).len() > 4 {
        return Err(ctx.unsupported("a broadcast has at most 4 dimensions"));
    }
    let op = match dtype {
        DType::F32 => BinaryOp::Float {
            arith: Arith::SquaredDifference,
            lo: f32::NEG_INFINITY,
            hi: f32::INFINITY,
        },
        DType::I32 => BinaryOp::Int32 {
            arith: Arith::SquaredDifference,
            lo: i32::MIN,
            hi: i32::MAX,
        },
        DType::I8 => {
            let params = quant_params(ctx, dtype, true)?;
            BinaryOp::QuantSquaredDiff(AddSubParams::prepare_squared_difference(ctx, params)?)
        }
        _ => return Err(ctx.unsupported("SQUARED_DIFFERENCE supports float32, int32 and int8")),
    };
    Ok(Box::new(BinaryKernel {
        name: Arith::SquaredDifference.name(),
        operands,
        op,
    }))
}
