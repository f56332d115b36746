//! CAST: `kernels/cast.cc` (`copyCast`, `CastValue`, `copyCastToFloat16`) between float32,
//! float16, int8, uint8, int16, int32, int64 and bool, element by element:
//!
//! - float (float16 widened to float32 first) → integer: `SaturatingCastFloatingToInteger`:
//!   NaN gives the type's maximum, values below its minimum the minimum, values above its
//!   largest float-representable maximum the maximum, the rest truncate toward zero.
//! - integer → integer: `static_cast`, two's complement wrap-around.
//! - anything → bool: `value != 0` (a NaN is true); bool → anything: 0 or 1.
//! - integer → float32: `static_cast<float>`, round to nearest even.
//! - anything → float16: `fp16_ieee_from_fp32_value(static_cast<float>(x))`: to float32
//!   first, then round to nearest even; overflow gives ±infinity, NaN a quiet NaN.
//!
//! Checked against LiteRT 2.3.0 (`BUILTIN_REF`) on NaN, ±3e9, ±1e20, 65504, 70000 and
//! fractional values for every float32 → integer/bool/float16 pair (docs/ops.md).

use crate::model::DType;
use crate::{Buf, Error, Result, Tensor};

use super::{Kernel, OpCtx};

/// The dtypes CAST moves between here (LiteRT also has uint16, uint32, float64, int4,
/// bfloat16, complex64, which the engines do not hold).
pub(crate) const CAST_TYPES: [DType; 8] = [
    DType::F32,
    DType::F16,
    DType::I8,
    DType::U8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::Bool,
];

/// float32 → IEEE binary16 bits, round to nearest even, overflow to ±infinity, NaN to a
/// quiet NaN with the sign kept (`fp16_ieee_from_fp32_value`).
pub(crate) fn f32_to_f16_ieee(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let abs = bits & 0x7fff_ffff;
    if abs > 0x7f80_0000 {
        return sign | 0x7e00;
    }
    let exp = (abs >> 23) as i32;
    let man = abs & 0x007f_ffff;
    let hexp = exp - 127 + 15;
    if hexp >= 0x1f {
        return sign | 0x7c00;
    }
    if hexp <= 0 {
        if hexp < -10 {
            return sign;
        }
        let full = man | 0x0080_0000;
        let shift = (14 - hexp) as u32;
        let half = full >> shift;
        let rem = full & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        let up = rem > halfway || (rem == halfway && (half & 1) == 1);
        return sign | (half + u32::from(up)) as u16;
    }
    let half = ((hexp as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    let up = rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1);
    // A carry out of the mantissa bumps the exponent (up to infinity, 0x7c00).
    sign | (half + u32::from(up)) as u16
}

/// One element on its way through CAST.
#[derive(Clone, Copy)]
enum Value {
    Int(i64),
    Float(f32),
}

fn get(b: &Buf, i: usize) -> Value {
    match b {
        Buf::F32(v) => Value::Float(v[i]),
        Buf::F16(v) => Value::Float(crate::tensor::f16_to_f32(v[i])),
        Buf::I8(v) => Value::Int(v[i] as i64),
        Buf::U8(v) => Value::Int(v[i] as i64),
        Buf::I16(v) => Value::Int(v[i] as i64),
        Buf::I32(v) => Value::Int(v[i] as i64),
        Buf::I64(v) => Value::Int(v[i]),
        Buf::Bool(v) => Value::Int(v[i] as i64),
    }
}

/// `SaturatingCastFloatingToInteger` into the range `[min, max]` of the target, as i64:
/// Rust's `as i64` saturates and truncates like it; NaN is the maximum.
fn float_to_int(x: f32, min: i64, max: i64) -> i64 {
    if x.is_nan() {
        max
    } else {
        (x as i64).clamp(min, max)
    }
}

fn set(b: &mut Buf, i: usize, v: Value) {
    match (b, v) {
        (Buf::F32(o), Value::Float(x)) => o[i] = x,
        (Buf::F32(o), Value::Int(x)) => o[i] = x as f32,
        (Buf::F16(o), Value::Float(x)) => o[i] = f32_to_f16_ieee(x),
        (Buf::F16(o), Value::Int(x)) => o[i] = f32_to_f16_ieee(x as f32),
        (Buf::Bool(o), Value::Float(x)) => o[i] = x != 0.0,
        (Buf::Bool(o), Value::Int(x)) => o[i] = x != 0,
        (Buf::I8(o), Value::Int(x)) => o[i] = x as i8,
        (Buf::I8(o), Value::Float(x)) => o[i] = float_to_int(x, -128, 127) as i8,
        (Buf::U8(o), Value::Int(x)) => o[i] = x as u8,
        (Buf::U8(o), Value::Float(x)) => o[i] = float_to_int(x, 0, 255) as u8,
        (Buf::I16(o), Value::Int(x)) => o[i] = x as i16,
        (Buf::I16(o), Value::Float(x)) => {
            o[i] = float_to_int(x, i16::MIN.into(), i16::MAX.into()) as i16
        }
        (Buf::I32(o), Value::Int(x)) => o[i] = x as i32,
        (Buf::I32(o), Value::Float(x)) => {
            o[i] = float_to_int(x, i32::MIN.into(), i32::MAX.into()) as i32
        }
        (Buf::I64(o), Value::Int(x)) => o[i] = x,
        (Buf::I64(o), Value::Float(x)) => o[i] = float_to_int(x, i64::MIN, i64::MAX),
    }
}

pub(crate) struct CastKernel {
    pub what: String,
    pub from: DType,
    pub to: DType,
    pub len: usize,
}

impl Kernel for CastKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let x = inputs
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| Error::Shape(format!("{}: input 0 was not given", self.what)))?;
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{}: no output", self.what)))?;
        if x.dtype() != self.from || out.dtype() != self.to {
            return Err(Error::Shape(format!(
                "{}: {} to {}, the prepared op casts {} to {}",
                self.what,
                x.dtype(),
                out.dtype(),
                self.from,
                self.to
            )));
        }
        if x.len() != self.len || out.len() != self.len {
            return Err(Error::Shape(format!(
                "{}: {} and {} elements, the prepared op expects {}",
                self.what,
                x.len(),
                out.len(),
                self.len
            )));
        }
        let src = x.buf();
        let dst = out.buf_mut();
        for i in 0..self.len {
            set(dst, i, get(src, i));
        }
        Ok(())
    }
}

/// CAST (`kernels/cast.cc`): one input, one output of the same shape; the options' types,
/// when given, are not read (LiteRT casts by the tensors' types).
pub(super) fn prepare_cast(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 1 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!(
            "takes 1 input and 1 output, has {} and {}",
            ctx.num_inputs(),
            ctx.op.outputs.len()
        )));
    }
    let (x, y) = (ctx.input(0)?, ctx.output(0)?);
    for t in [x, y] {
        if !CAST_TYPES.contains(&t.dtype) {
            return Err(ctx.unsupported(format!(
                "{} tensors: the engines cast between {CAST_TYPES:?}",
                t.dtype
            )));
        }
    }
    let shape = super::common::shape_of(x);
    if super::common::shape_of(y) != shape {
        return Err(ctx.invalid(format!(
            "the output {:?} is not the input's shape {shape:?}",
            y.shape
        )));
    }
    Ok(Box::new(CastKernel {
        what: ctx.label(),
        from: x.dtype,
        to: y.dtype,
        len: shape.iter().product(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float16_rounding_is_ieee() {
        // Every half value survives f16 → f32 → f16.
        for h in 0..=u16::MAX {
            let f = crate::tensor::f16_to_f32(h);
            let back = f32_to_f16_ieee(f);
            if f.is_nan() {
                assert_eq!(back & 0x7e00, 0x7e00, "{h:#06x}");
                assert_eq!(back & 0x8000, h & 0x8000, "{h:#06x}");
            } else {
                assert_eq!(back, h, "{h:#06x}");
            }
        }
        assert_eq!(f32_to_f16_ieee(65504.0), 0x7bff);
        assert_eq!(f32_to_f16_ieee(65519.99), 0x7bff);
        assert_eq!(f32_to_f16_ieee(65520.0), 0x7c00); // ties to even: infinity
        assert_eq!(f32_to_f16_ieee(70000.0), 0x7c00);
        assert_eq!(f32_to_f16_ieee(f32::NEG_INFINITY), 0xfc00);
        assert_eq!(f32_to_f16_ieee(2f32.powi(-25)), 0);
        assert_eq!(f32_to_f16_ieee(1.5 * 2f32.powi(-24)), 2);
        assert_eq!(f32_to_f16_ieee(200.7), 0x5a46); // 200.75
    }

    #[test]
    fn saturating_float_to_integer_as_litert() {
        // LiteRT 2.3.0 BUILTIN_REF on [NaN, 3e9, -3e9, 1e20, -1e20, 200.7, -1.5, 127.5,
        // -128.9, 65504, 70000, 2.5] (tools: docs/ops.md).
        let xs = [
            f32::NAN,
            3e9,
            -3e9,
            1e20,
            -1e20,
            200.7,
            -1.5,
            127.5,
            -128.9,
            65504.0,
            70000.0,
            2.5,
        ];
        let i8s: Vec<i64> = xs.iter().map(|&x| float_to_int(x, -128, 127)).collect();
        assert_eq!(
            i8s,
            [127, 127, -128, 127, -128, 127, -1, 127, -128, 127, 127, 2]
        );
        let u8s: Vec<i64> = xs.iter().map(|&x| float_to_int(x, 0, 255)).collect();
        assert_eq!(u8s, [255, 255, 0, 255, 0, 200, 0, 127, 0, 255, 255, 2]);
        let i32s: Vec<i64> = xs
            .iter()
            .map(|&x| float_to_int(x, i32::MIN.into(), i32::MAX.into()))
            .collect();
        assert_eq!(
            i32s,
            [
                2147483647,
                2147483647,
                -2147483648,
                2147483647,
                -2147483648,
                200,
                -1,
                127,
                -128,
                65504,
                70000,
                2
            ]
        );
        assert_eq!(float_to_int(f32::NAN, i64::MIN, i64::MAX), i64::MAX);
        assert_eq!(float_to_int(-1e20, i64::MIN, i64::MAX), i64::MIN);
        // int32 200 → int8 wraps to -56, as static_cast does.
        let mut b = Buf::I8(vec![0]);
        set(&mut b, 0, Value::Int(200));
        assert_eq!(b, Buf::I8(vec![-56]));
    }
}
