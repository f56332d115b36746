//! The int16 LOGISTIC/TANH and the int16 lookup-table ops (EXP, LOG, GELU, RSQRT):
//! `sigmoid16_main` / `lut16_main` of `shaders/unary16.wgsl`, twins of `Sigmoid16::apply`
//! (`reference::activations::sigmoid16`) and `int16_table_lookup` (`reference::lut16`). The
//! reference's prepared kernel gives the input multiplier and shift and the tables
//! (`sigmoid_table_uint16`, the 513-entry `LUTPopulateInt16` table), uploaded as they are.

use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::reference::activations::sigmoid16::Sigmoid16;
use crate::reference::common::shape_of;
use crate::reference::lut16::Table16;
use crate::Result;

/// Invocations per workgroup (the shader's `@workgroup_size`).
const WG: u64 = 64;

fn dispatch(
    ctx: &GpuOpCtx,
    entry: &'static str,
    params: [i32; 4],
    table: &[i32],
) -> Result<Vec<Command>> {
    let input = ctx.op.input(0)?;
    let len = shape_of(input).iter().product::<usize>();
    let len = u32::try_from(len).map_err(|_| ctx.unsupported("more than 2^32 elements"))?;
    let mut p = len.to_le_bytes().to_vec();
    for v in &params[1..] {
        p.extend(v.to_le_bytes());
    }
    let params = ctx.uniform("unary16 params", &p)?;
    let table: Vec<u8> = table.iter().flat_map(|v| v.to_le_bytes()).collect();
    let table = ctx.upload("unary16 table", &table)?;
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    Ok(vec![ctx.dispatch(
        &PipelineKey::new("unary16", entry),
        &[&x, &y, &params, &table],
        ctx.grid(u64::from(len.div_ceil(2)).div_ceil(WG))?,
    )?])
}

/// LOGISTIC / TANH on int16.
pub(crate) fn prepare_sigmoid16(ctx: &GpuOpCtx, k: &Sigmoid16) -> Result<Vec<Command>> {
    let table: Vec<i32> = k.table.iter().map(|&v| v as i32).collect();
    let params = [0, i32::from(k.tanh), k.input_multiplier, k.input_left_shift];
    dispatch(ctx, "sigmoid16_main", params, &table)
}

/// EXP / LOG / GELU / RSQRT on int16.
pub(crate) fn prepare_lut16(ctx: &GpuOpCtx, k: &Table16) -> Result<Vec<Command>> {
    let table: Vec<i32> = k.lut.iter().map(|&v| i32::from(v)).collect();
    dispatch(ctx, "lut16_main", [0; 4], &table)
}
