//! PAD and PADV2: `kernels/pad.cc` (Prepare, Eval, EvalInt) and `reference/pad.h` (`PadImpl`).

use crate::model::DType;
use crate::{Buf, Result, Tensor};

use super::kernels::{PadKernel, PadValue};
use super::{
    arity, check_output_shape, data_io, int_values, is_quantized, legacy_params, shape_of, Kernel,
    OpCtx,
};

/// `PadKernelMaxDimensionCount()`.
const PAD_MAX_DIMS: usize = 5;

/// The pad value as a one-element buffer of `dtype` from a constant (first element).
fn first_element(t: &Tensor) -> Option<Buf> {
    Some(match t.buf() {
        Buf::F32(v) => Buf::F32(vec![*v.first()?]),
        Buf::F16(v) => Buf::F16(vec![*v.first()?]),
        Buf::I8(v) => Buf::I8(vec![*v.first()?]),
        Buf::U8(v) => Buf::U8(vec![*v.first()?]),
        Buf::I16(v) => Buf::I16(vec![*v.first()?]),
        Buf::I32(v) => Buf::I32(vec![*v.first()?]),
        Buf::I64(v) => Buf::I64(vec![*v.first()?]),
        Buf::Bool(v) => Buf::Bool(vec![*v.first()?]),
    })
}

/// `dtype`'s value `v` as a one-element buffer (zero or a zero point).
fn scalar(dtype: DType, v: i32) -> Option<Buf> {
    Some(match dtype {
        DType::F32 => Buf::F32(vec![v as f32]),
        DType::F16 if v == 0 => Buf::F16(vec![0]),
        DType::I8 => Buf::I8(vec![i8::try_from(v).ok()?]),
        DType::U8 => Buf::U8(vec![u8::try_from(v).ok()?]),
        DType::I16 => Buf::I16(vec![i16::try_from(v).ok()?]),
        DType::I32 => Buf::I32(vec![v]),
        DType::I64 => Buf::I64(vec![v as i64]),
        DType::Bool => Buf::Bool(vec![v != 0]),
        _ => return None,
    })
}

/// PAD and PADV2 (one kernel in TFLite: PADV2's third input is the pad value).
pub(in crate::reference) fn prepare_pad(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    arity(ctx, &[2, 3])?;
    let (x, y) = data_io(ctx)?;
    let dtype = x.dtype;
    let in_shape = shape_of(x);
    let rank = in_shape.len();
    if rank > PAD_MAX_DIMS {
        return Err(ctx.unsupported(format!(
            "rank {rank}: TFLite's PAD supports up to {PAD_MAX_DIMS} dimensions"
        )));
    }
    let paddings_t = ctx.input(1)?;
    if !matches!(
        paddings_t.dtype,
        DType::I32 | DType::I64 | DType::I8 | DType::I16 | DType::Bool
    ) {
        return Err(ctx.unsupported(format!(
            "paddings of type {} are not supported",
            paddings_t.dtype
        )));
    }
    let paddings_shape = shape_of(paddings_t);
    if paddings_shape != [rank, 2] {
        return Err(ctx.invalid(format!(
            "paddings have shape {paddings_shape:?}, not [{rank}, 2]"
        )));
    }
    let paddings = ctx.require_const(1, "the paddings")?;
    let values = int_values(paddings).ok_or_else(|| ctx.invalid("unreadable paddings"))?;
    let mut left = vec![0usize; rank];
    let mut out_shape = vec![0usize; rank];
    for d in 0..rank {
        let (l, r) = (values[2 * d], values[2 * d + 1]);
        if l < 0 || r < 0 || l > i32::MAX as i64 || r > i32::MAX as i64 {
            return Err(ctx.invalid(format!(
                "paddings ({l}, {r}) of axis {d}: each must be in [0, INT32_MAX]"
            )));
        }
        left[d] = l as usize;
        out_shape[d] = in_shape[d] + l as usize + r as usize;
    }
    check_output_shape(ctx, y, &out_shape)?;

    // The pad value (pad.cc Eval / EvalInt).
    let constant = ctx.opt_input(2);
    if let Some(c) = constant {
        if c.dtype != dtype {
            return Err(ctx.unsupported("the pad value's dtype differs from the input's"));
        }
        if shape_of(c).iter().product::<usize>() != 1 {
            return Err(ctx.invalid("the pad value must have exactly one element"));
        }
    }
    let quantized_int = match dtype {
        DType::U8 => true,
        DType::I8 | DType::I16 => is_quantized(x),
        _ => false,
    };
    let value = if quantized_int {
        let (out_scale, out_zp) = legacy_params(y);
        match constant {
            None => PadValue::Fixed(scalar(dtype, out_zp).ok_or_else(|| {
                ctx.unsupported(format!(
                    "the output zero point {out_zp} is outside the {dtype} range"
                ))
            })?),
            Some(c) => {
                // "'constant_values' is represented in the same quantized range".
                let (cs, cz) = legacy_params(c);
                if cs != out_scale || cz != out_zp {
                    return Err(ctx.unsupported(format!(
                        "the pad value has scale {cs} and zero point {cz}, the output \
                         {out_scale} and {out_zp}: TFLite requires them equal"
                    )));
                }
                fixed_or_input(ctx)?
            }
        }
    } else if constant.is_some() {
        fixed_or_input(ctx)?
    } else {
        PadValue::Fixed(
            scalar(dtype, 0)
                .ok_or_else(|| ctx.unsupported(format!("{dtype} tensors are not supported")))?,
        )
    };
    Ok(Box::new(PadKernel {
        what: ctx.label(),
        in_shape,
        out_shape,
        left,
        value,
    }))
}

/// PADV2's pad value: the constant's first element, or input 2 at run time.
fn fixed_or_input(ctx: &OpCtx) -> Result<PadValue> {
    Ok(match ctx.const_input(2) {
        Some(c) => {
            PadValue::Fixed(first_element(c).ok_or_else(|| ctx.invalid("the pad value is empty"))?)
        }
        None => PadValue::Input(2),
    })
}
