//! CAST on the GPU (`shaders/cast.wgsl::cast_main`), twin of `src/reference/cast.rs`: the
//! element types are pipeline constants, every conversion is done in integer steps, so each
//! output element has the reference's bits (float16 and float32 results included).

use super::quantize::{grid_for, words_bytes, WG};
use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::model::DType;
use crate::reference::cast::CastKernel;
use crate::Result;

/// (element bits, kind) of a CAST operand: kinds 0 signed integer, 1 unsigned integer,
/// 2 float32, 3 float16, 4 bool (an input bool reads as the unsigned integer 0 / 1).
fn layout(dtype: DType, output: bool) -> Option<(u32, u32)> {
    Some(match dtype {
        DType::I8 => (8, 0),
        DType::U8 => (8, 1),
        DType::Bool => (8, if output { 4 } else { 1 }),
        DType::I16 => (16, 0),
        DType::F16 => (16, 3),
        DType::I32 => (32, 0),
        DType::F32 => (32, 2),
        DType::I64 => (64, 0),
        _ => return None,
    })
}

/// The range of an integer output of up to 32 bits (the shader's saturation bounds).
fn int_range(dtype: DType) -> (i32, i32) {
    match dtype {
        DType::I8 => (i8::MIN.into(), i8::MAX.into()),
        DType::U8 => (0, u8::MAX.into()),
        DType::I16 => (i16::MIN.into(), i16::MAX.into()),
        _ => (i32::MIN, i32::MAX),
    }
}

pub(crate) fn prepare(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &CastKernel = ctx.kernel()?;
    if k.len == 0 {
        return Ok(Vec::new());
    }
    let (ib, ik) =
        layout(k.from, false).ok_or_else(|| ctx.unsupported(format!("CAST from {}", k.from)))?;
    let (ob, ok) =
        layout(k.to, true).ok_or_else(|| ctx.unsupported(format!("CAST to {}", k.to)))?;
    let len = u32::try_from(k.len)
        .ok()
        .filter(|&n| n <= u32::MAX / 2)
        .ok_or_else(|| ctx.unsupported(format!("{} elements exceed 2^31", k.len)))?;
    let (min, max) = int_range(k.to);
    let params = ctx.uniform(
        "cast params",
        &words_bytes(&[len, min as u32, max as u32, 0]),
    )?;
    let key = PipelineKey::new("cast", "cast_main")
        .constant("WG", f64::from(WG))
        .constant("IN_BITS", f64::from(ib))
        .constant("IN_KIND", f64::from(ik))
        .constant("OUT_BITS", f64::from(ob))
        .constant("OUT_KIND", f64::from(ok));
    let invocations = if ob == 64 {
        u64::from(len)
    } else {
        u64::from(len).div_ceil(u64::from(32 / ob))
    };
    let (x, y) = (ctx.input(0)?, ctx.output(0)?);
    Ok(vec![ctx.dispatch(
        &key,
        &[&x, &y, &params],
        grid_for(ctx, invocations)?,
    )?])
}
