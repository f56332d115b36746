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

/// add.cc / sub.cc Prepare: the real multipliers of input 1, input 2 and the output, with
/// `twice_max_input_scale = 2·max(s1, s2)` and the divisions in double.
fn add_sub_real_multipliers(s1: f32, s2: f32, so: f32, left_shift: i32) -> [f64; 3] {
    // std::max(s1, s2) is `s1 < s2 ? s2 : s1`.
    let twice_max_input_scale = 2.0 * (if s1 < s2 { s2 } else { s1 }) as f64;
    [
        s1 as f64 / twice_max_input_scale,
        s2 as f64 / twice_max_input_scale,
        twice_max_input_scale / ((1i64 << left_shift) as f64 * so as f64),
    ]
}

/// mul.cc Prepare: `input1->params.scale * input2->params.scale / output->params.scale` is
/// evaluated in float, then widened to double.
fn mul_real_multiplier(s1: f32, s2: f32, so: f32) -> f64 {
    (s1 * s2 / so) as f64
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
                    let [real_input1_multiplier, real_input2_multiplier, real_output_multiplier] =
                        add_sub_real_multipliers(s1, s2, so, left_shift);
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
                    let real_multiplier = mul_real_multiplier(s1, s2, so);
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
    use super::*;
    use crate::model::Model;
    use crate::reference::test_support::{
        op_fixture_model as fixture, prepare_first, run_alone_everywhere, Compare,
    };
    use crate::Error;

    fn set_scale(model: &mut Model, op: &str, which: &str, scale: f32) {
        let sg = &mut model.subgraphs[0];
        let o = sg
            .operators
            .iter()
            .find(|o| o.op.name() == op)
            .expect("op present");
        let t = match which {
            "in0" => o.input(0),
            "in1" => o.input(1),
            _ => o.output_tensors().next(),
        }
        .expect("tensor");
        sg.tensors[t].quant.as_mut().expect("quantized").scale = vec![scale];
    }

    fn operands(a: &[usize], b: &[usize], out: &[usize]) -> Operands {
        let map = |s: &[usize]| (s != out).then(|| broadcast_map(s, out).expect("broadcasts"));
        Operands {
            len_a: a.iter().product(),
            len_b: b.iter().product(),
            len_out: out.iter().product(),
            map_a: map(a),
            map_b: map(b),
        }
    }

    #[test]
    fn both_inputs_broadcast() {
        // [3,1] - [1,4] -> [3,4]; [4] + [2,3,4] (rank extension) -> [2,3,4].
        let ops = operands(&[3, 1], &[1, 4], &[3, 4]);
        let mut out = vec![0i32; 12];
        ops.zip_with(&[10, 20, 30], &[1, 2, 3, 4], &mut out, |x, y| x - y);
        assert_eq!(out, [9, 8, 7, 6, 19, 18, 17, 16, 29, 28, 27, 26]);
        let ops = operands(&[4], &[2, 3, 4], &[2, 3, 4]);
        let b: Vec<i32> = (0..24).collect();
        let mut out = vec![0i32; 24];
        ops.zip_with(&[100, 200, 300, 400], &b, &mut out, |x, y| x + y);
        let want: Vec<i32> = (0..24).map(|i| (i % 4 + 1) * 100 + i).collect();
        assert_eq!(out, want);
        // A scalar (rank 0) against anything.
        let ops = operands(&[], &[5], &[5]);
        let mut out = vec![0i32; 5];
        ops.zip_with(&[7], &[1, 2, 3, 4, 5], &mut out, |x, y| x * y);
        assert_eq!(out, [7, 14, 21, 28, 35]);
    }

    #[test]
    fn cpp_clamp_and_max_min_semantics() {
        assert_eq!(clamp_like_cpp(7.0, 0.0, 6.0), 6.0);
        assert_eq!(clamp_like_cpp(-1.0, 0.0, 6.0), 0.0);
        assert!(clamp_like_cpp(f32::NAN, 0.0, 6.0).is_nan());
        // No activation still clamps infinities to ±FLT_MAX.
        let (lo, hi) = float_activation_range(Activation::None).expect("range");
        assert_eq!(clamp_like_cpp(f32::INFINITY, lo, hi), f32::MAX);
        // `a > b ? a : b`: a NaN first operand yields the second, a NaN second yields NaN.
        assert_eq!(max_min(true, f32::NAN, 1.0), 1.0);
        assert!(max_min(true, 1.0, f32::NAN).is_nan());
        assert_eq!(max_min(false, f32::NAN, 1.0), 1.0);
        assert_eq!(max_min(true, -0.0f32, 0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(max_min(false, -3i8, 4), -3);
    }

    fn add_params(s1: f32, z1: i32, s2: f32, z2: i32, so: f32, zo: i32) -> AddSubParams {
        let q = |m: f64| quantize_multiplier_smaller_than_one(m).expect("below one");
        let [m1, m2, mo] = add_sub_real_multipliers(s1, s2, so, 20);
        AddSubParams {
            left_shift: 20,
            input1_offset: -z1,
            input1_multiplier: q(m1),
            input2_offset: -z2,
            input2_multiplier: q(m2),
            output_offset: zo,
            output_multiplier: q(mo),
            act_min: -128,
            act_max: 127,
        }
    }

    /// Over every int8 pair, the ADD/SUB/MUL results stay within one step of the exact
    /// real result (the fixed-point pipeline's double rounding), and hit the clamps.
    #[test]
    fn quantized_arith_tracks_the_real_result_over_all_int8_pairs() {
        let (s1, z1, s2, z2, so, zo) = (0.0132f32, -31, 0.0087f32, 17, 0.0211f32, -5);
        let add = add_params(s1, z1, s2, z2, so, zo);
        let mul = MulParams {
            input1_offset: -z1,
            input2_offset: -z2,
            output_offset: zo,
            output_multiplier: quantize_multiplier((s1 * s2 / so) as f64),
            act_min: -128,
            act_max: 127,
        };
        let mut clamped = 0;
        for x in -128..=127 {
            for y in -128..=127 {
                let rx = s1 as f64 * (x - z1) as f64;
                let ry = s2 as f64 * (y - z2) as f64;
                for (got, real) in [
                    (add.apply(x, y, false), rx + ry),
                    (add.apply(x, y, true), rx - ry),
                    (mul.apply(x, y), rx * ry),
                ] {
                    let exact = (real / so as f64 + zo as f64).clamp(-128.0, 127.0);
                    assert!(
                        (got as f64 - exact).abs() <= 1.0,
                        "x={x} y={y}: got {got}, exact {exact}"
                    );
                    if got == -128 || got == 127 {
                        clamped += 1;
                    }
                }
            }
        }
        assert!(clamped > 0);
    }

    #[test]
    fn add_edge_values() {
        // Equal scales: input multipliers are exactly 1/2 = (2^30, 0).
        let p = add_params(0.5, 0, 0.5, 0, 1.0, 0);
        assert_eq!(
            p.input1_multiplier,
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: 0
            }
        );
        // 0.5*(-128) + 0.5*(-128) = -128 -> -128; 127 + 127 halves -> 127.
        assert_eq!(p.apply(-128, -128, false), -128);
        assert_eq!(p.apply(127, 127, false), 127);
        assert_eq!(p.apply(127, -128, true), 127);
        // Ties: 0.5 * (1 + 0) = 0.5 rounds away from zero, -0.5 likewise through the
        // double rounding of the output stage.
        assert_eq!(p.apply(1, 0, false), 1);
        assert_eq!(p.apply(-1, 0, false), -1);
        assert_eq!(p.apply(0, 1, true), -1);
        // Fused activation clamp.
        let relu = AddSubParams { act_min: 0, ..p };
        assert_eq!(relu.apply(-5, -5, false), 0);
    }

    #[test]
    fn mul_multiplier_is_computed_in_float() {
        // Scales where the float product/quotient and the double one quantize to different
        // multipliers: prepare must take the float one (mul.cc multiplies `float` scales).
        let so = 0.0171f32;
        let mut found = 0;
        for i in 1..2000 {
            let s1 = 0.01f32 + i as f32 * 1.3e-5;
            for s2 in [0.0131f32, 0.0077, 0.0203] {
                let float = quantize_multiplier((s1 * s2 / so) as f64);
                let double = quantize_multiplier(s1 as f64 * s2 as f64 / so as f64);
                assert_eq!(quantize_multiplier(mul_real_multiplier(s1, s2, so)), float);
                found += (float != double) as usize;
            }
        }
        assert!(found > 0, "no float/double disagreement found");
        // ADD's are in double: 2·max is exact, so s/twice_max is exactly 1/2 for the larger.
        let [m1, m2, _] = add_sub_real_multipliers(0.3, 0.1, 0.2, 20);
        assert_eq!(m1, 0.5);
        assert_eq!(m2, 0.1f32 as f64 / (2.0 * 0.3f32 as f64));
    }

    #[test]
    fn add_and_sub_reject_what_tflite_aborts_on() {
        for (name, op) in [("add_same_int8", "ADD"), ("sub_same_int8", "SUB")] {
            assert!(prepare_first(&fixture(name), op).is_ok());
            // A tiny output scale makes twice_max / (2^20 s_out) >= 1.
            let mut m = fixture(name);
            set_scale(&mut m, op, "out", 1e-9);
            match prepare_first(&m, op) {
                Err(Error::Unsupported(e)) => assert!(e.contains("multiplier"), "{e}"),
                Err(e) => panic!("{op}: unexpected error {e}"),
                Ok(_) => panic!("{op}: expected unsupported"),
            }
            // A non-positive scale.
            let mut m = fixture(name);
            set_scale(&mut m, op, "in1", 0.0);
            assert!(matches!(prepare_first(&m, op), Err(Error::Unsupported(_))));
        }
    }

    #[test]
    fn mismatched_dtypes_and_shapes_are_rejected_at_prepare() {
        let mut m = fixture("add_same_f32");
        let o = m.subgraphs[0].operators[0].clone();
        let out = o.output_tensors().next().expect("output");
        m.subgraphs[0].tensors[out].shape = vec![1, 4, 4, 2];
        assert!(matches!(
            prepare_first(&m, "ADD"),
            Err(Error::InvalidModel(_))
        ));
        let mut m = fixture("maximum_f32");
        let out = m.subgraphs[0].operators[0]
            .output_tensors()
            .next()
            .expect("output");
        m.subgraphs[0].tensors[out].dtype = DType::I8;
        assert!(matches!(
            prepare_first(&m, "MAXIMUM"),
            Err(Error::Unsupported(_))
        ));
    }

    /// Every ADD, SUB, MUL, MAXIMUM and MINIMUM of the fixtures, alone on LiteRT's recorded
    /// inputs: outputs must equal LiteRT's (floats too).
    #[test]
    fn binary_ops_match_litert_in_every_fixture() {
        let r = run_alone_everywhere(&["ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM"], Compare::Equal);
        println!("binary ops: {} outputs checked", r.outputs);
        assert!(r.outputs >= 39, "only {} outputs checked", r.outputs);
        assert!(r.failures.is_empty(), "{}", r.failures.join("\n"));
    }
}
