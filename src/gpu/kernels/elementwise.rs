//! NEG, RSQRT, SQRT, EXP, LOG, GELU on the GPU, twin of `src/reference/elementwise` (shader
//! `shaders/elementwise.wgsl`). Float kernels compute the function; int8/uint8 kernels look
//! up the reference's evaluation of its element function on every input value
//! ([`QuantUnary::table`]), with refused inputs raising the op's status flag.

use super::quantize::{bits, grid_for, out_words, words_bytes, WG};
use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::reference::common::shape_of;
use crate::reference::elementwise::{FloatUnary, QuantUnary, UnaryFloatFn};
use crate::Result;

/// The table word of a refused input (`i32::MIN`; no int8/uint8 result has it).
const REFUSED: i32 = i32::MIN;

/// The shader's code of a float function.
fn fkind(f: UnaryFloatFn) -> u32 {
    match f {
        UnaryFloatFn::Neg => 0,
        UnaryFloatFn::Rsqrt => 1,
        UnaryFloatFn::Sqrt => 2,
        UnaryFloatFn::Exp => 3,
        UnaryFloatFn::Gelu | UnaryFloatFn::GeluConverter => 4,
        UnaryFloatFn::GeluApprox => 5,
        UnaryFloatFn::Log => 6,
    }
}

/// The int8/uint8 kernel's table: the output value of every input value, `REFUSED` where
/// the reference refuses the run.
pub(crate) fn device_table(k: &QuantUnary) -> Vec<u32> {
    k.table()
        .into_iter()
        .map(|v| v.unwrap_or(REFUSED) as u32)
        .collect()
}

/// NEG, RSQRT, SQRT, EXP, LOG, GELU.
pub(crate) fn prepare(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let input = ctx.op.input(0)?;
    let len = shape_of(input).iter().product::<usize>();
    let len32 = u32::try_from(len).map_err(|_| ctx.unsupported("more than 2^32 elements"))?;
    let (nbits, signed) = bits(ctx, input.dtype)?;
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    let key = |entry| {
        PipelineKey::new("elementwise", entry)
            .constant("WG", f64::from(WG))
            .constant("BITS", f64::from(nbits))
            .constant("SIGNED", f64::from(u8::from(signed)))
    };
    if let Some(k) = ctx.kernel.downcast_ref::<FloatUnary>() {
        let params = ctx.uniform(
            "elementwise params",
            &words_bytes(&[len32, fkind(k.f), 0, 0]),
        )?;
        let grid = grid_for(ctx, len as u64)?;
        return Ok(vec![ctx.dispatch(
            &key("float_main"),
            &[&x, &y, &params],
            grid,
        )?]);
    }
    let k: &QuantUnary = ctx.kernel()?;
    let params = ctx.uniform(
        "elementwise params",
        &words_bytes(&[len32, 0, k.qmin as u32, 0]),
    )?;
    let words = device_table(k);
    // A flag only where the reference can refuse a run (RSQRT, SQRT); otherwise a scratch
    // word the shader never sets, which is not read back.
    let status = if words.contains(&(REFUSED as u32)) {
        ctx.status(k.refusal)?
    } else {
        ctx.scratch("elementwise status (unused)", 4)?
    };
    let table = ctx.upload("elementwise table", &words_bytes(&words))?;
    let grid = grid_for(ctx, out_words(len, nbits))?;
    Ok(vec![ctx.dispatch(
        &key("table_main"),
        &[&x, &y, &params, &table, &status],
        grid,
    )?])
}
