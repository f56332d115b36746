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

use crate::model::{Activation, AddSubOptions, DType};
use crate::quant::fixedpoint::{
    multiply_by_quantized_multiplier, quantize_multiplier, QuantizedMultiplier,
};
use crate::{Buf, Error, Result, Tensor};

use super::common::{
    broadcast_map, broadcast_shape, float_activation_range, qrange, quantized_activation_range,
    shape_of,
};
use super::quantize::{dtype_error, QInt};
use super::{Kernel, OpCtx};

/// How each input is read for every output element.
#[derive(Debug, Clone, PartialEq)]
struct Operands {
    /// Element count of each input and of the output.
    len_a: usize,
    len_b: usize,
    len_out: usize,
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
                broadcast_map(s, &out)
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

/// `ActivationFunctionWithMinMax` as C++ computes it: `std::min(std::max(x, lo), hi)`
/// (a NaN passes through).
#[inline]
fn clamp_like_cpp(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x < lo { lo } else { x };
    if hi < x {
        hi
    } else {
        x
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arith {
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

/// The precomputed parameters of the int8/uint8 ADD and SUB (TFLite's `ArithmeticParams`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AddSubParams {
    left_shift: i32,
    input1_offset: i32,
    input1_multiplier: QuantizedMultiplier,
    input2_offset: i32,
    input2_multiplier: QuantizedMultiplier,
    output_offset: i32,
    output_multiplier: QuantizedMultiplier,
    act_min: i32,
    act_max: i32,
}

impl AddSubParams {
    /// `AddFunc` (`subtract == false`) and the element function of `SubElementwise` /
    /// `BroadcastQuantSubSlow` (`subtract == true`). `MultiplyByQuantizedMultiplierSmallerThanOneExp`
    /// is MBQM with a shift ≤ 0, which prepare guarantees.
    #[inline]
    fn apply(&self, x: i32, y: i32, subtract: bool) -> i32 {
        let input1_val = self.input1_offset.wrapping_add(x);
        let input2_val = self.input2_offset.wrapping_add(y);
        let shifted_input1_val = input1_val.wrapping_mul(1 << self.left_shift);
        let shifted_input2_val = input2_val.wrapping_mul(1 << self.left_shift);
        let scaled_input1_val =
            multiply_by_quantized_multiplier(shifted_input1_val, self.input1_multiplier);
        let scaled_input2_val =
            multiply_by_quantized_multiplier(shifted_input2_val, self.input2_multiplier);
        let raw = if subtract {
            scaled_input1_val.wrapping_sub(scaled_input2_val)
        } else {
            scaled_input1_val.wrapping_add(scaled_input2_val)
        };
        let raw_output = multiply_by_quantized_multiplier(raw, self.output_multiplier)
            .wrapping_add(self.output_offset);
        raw_output.max(self.act_min).min(self.act_max)
    }
}

/// The precomputed parameters of the int8/uint8 MUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MulParams {
    input1_offset: i32,
    input2_offset: i32,
    output_offset: i32,
    output_multiplier: QuantizedMultiplier,
    act_min: i32,
    act_max: i32,
}

impl MulParams {
    /// `MulElementwise`.
    #[inline]
    fn apply(&self, x: i32, y: i32) -> i32 {
        let input1_val = self.input1_offset.wrapping_add(x);
        let input2_val = self.input2_offset.wrapping_add(y);
        let unclamped = self
            .output_offset
            .wrapping_add(multiply_by_quantized_multiplier(
                input1_val.wrapping_mul(input2_val),
                self.output_multiplier,
            ));
        unclamped.max(self.act_min).min(self.act_max)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum BinaryOp {
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

struct BinaryKernel {
    name: &'static str,
    operands: Operands,
    op: BinaryOp,
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

/// `MaximumOp::op` / `MinimumOp::op`.
#[inline]
fn max_min<T: PartialOrd>(max: bool, x: T, y: T) -> T {
    if max {
        if x > y {
            x
        } else {
            y
        }
    } else if x < y {
        x
    } else {
        y
    }
}

fn quant_add_sub<T: QInt>(
    ops: &Operands,
    p: &AddSubParams,
    subtract: bool,
    a: &[T],
    b: &[T],
    out: &mut [T],
) {
    ops.zip_with(a, b, out, |x, y| {
        T::from_i32(p.apply(x.to_i32(), y.to_i32(), subtract))
    })
}

fn quant_mul<T: QInt>(ops: &Operands, p: &MulParams, a: &[T], b: &[T], out: &mut [T]) {
    ops.zip_with(a, b, out, |x, y| {
        T::from_i32(p.apply(x.to_i32(), y.to_i32()))
    })
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

/// `QuantizeMultiplierSmallerThanOneExp`: `None` where TFLite's checks abort
/// (multiplier outside `[0, 1)` or a positive shift after rounding).
fn quantize_multiplier_smaller_than_one(real: f64) -> Option<QuantizedMultiplier> {
    if !(0.0..1.0).contains(&real) {
        return None;
    }
    let q = quantize_multiplier(real);
    (q.shift <= 0).then_some(q)
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
            let [(s1, z1), (s2, z2), (so, zo)] = quant_params(ctx, dtype)?;
            let (act_min, act_max) =
                quantized_activation_range(act, dtype, so, zo).ok_or_else(unsupported_act)?;
            match arith {
                Arith::Add | Arith::Sub => {
                    let left_shift = 20;
                    let twice_max_input_scale = 2.0 * (if s1 < s2 { s2 } else { s1 }) as f64;
                    let real_input1_multiplier = s1 as f64 / twice_max_input_scale;
                    let real_input2_multiplier = s2 as f64 / twice_max_input_scale;
                    let real_output_multiplier =
                        twice_max_input_scale / ((1i64 << left_shift) as f64 * so as f64);
                    let q = |m: f64, what: &str| {
                        quantize_multiplier_smaller_than_one(m).ok_or_else(|| {
                            ctx.unsupported(format!(
                                "{what} multiplier {m} is not below 1 (TFLite aborts)"
                            ))
                        })
                    };
                    BinaryOp::QuantAddSub {
                        p: AddSubParams {
                            left_shift,
                            input1_offset: -z1,
                            input1_multiplier: q(real_input1_multiplier, "input 1")?,
                            input2_offset: -z2,
                            input2_multiplier: q(real_input2_multiplier, "input 2")?,
                            output_offset: zo,
                            output_multiplier: q(real_output_multiplier, "output")?,
                            act_min,
                            act_max,
                        },
                        subtract: arith == Arith::Sub,
                    }
                }
                Arith::Mul => {
                    // mul.cc: `input1->params.scale * input2->params.scale /
                    // output->params.scale`, all float, then widened.
                    let real_multiplier = (s1 * s2 / so) as f64;
                    BinaryOp::QuantMul(MulParams {
                        input1_offset: -z1,
                        input2_offset: -z2,
                        output_offset: zo,
                        output_multiplier: quantize_multiplier(real_multiplier),
                        act_min,
                        act_max,
                    })
                }
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

fn prepare_max_min(ctx: &OpCtx, max: bool) -> Result<Box<dyn Kernel>> {
    let operands = Operands::new(ctx)?;
    let dtype = common_dtype(ctx)?;
    if !matches!(
        dtype,
        DType::F32 | DType::I8 | DType::U8 | DType::I16 | DType::I32 | DType::I64
    ) {
        return Err(ctx.unsupported("MAXIMUM/MINIMUM support float32 and integer types"));
    }
    Ok(Box::new(BinaryKernel {
        name: if max { "MAXIMUM" } else { "MINIMUM" },
        operands,
        op: BinaryOp::MaxMin { max },
    }))
}

pub(super) fn prepare_maximum(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    prepare_max_min(ctx, true)
}

pub(super) fn prepare_minimum(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    prepare_max_min(ctx, false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn binary_ops_match_litert_in_every_fixture() {
        let (checked, failures) =
            super::super::quantize::golden_ops::check(&["ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM"]);
        println!("binary ops: {checked} outputs checked");
        assert!(checked >= 39, "only {checked} outputs checked");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
