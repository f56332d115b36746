//! The 16x8 FULLY_CONNECTED: `fc16` of `shaders/fc16.wgsl`, twin of `QuantFc16`
//! (`reference::fully_connected::fc16`); and the int16 BATCH_MATMUL (`shaders/bmm16.wgsl`).
//!
//! The reference's prepared kernel is uploaded as it is: per output unit the int64 bias (two
//! words) and the double multiplier `s_in · s_w / s_out` as its significand and exponent
//! ([`RescaleMultiplier`]), which the shader applies with `double_rescale64`
//! (`shaders/common/double_rescale.wgsl`, twin of `quant::fixedpoint::double_rescale64`).
//! One invocation per output word (two int16 outputs).

use super::super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::quant::fixedpoint::double_rescale::RescaleMultiplier;
use crate::reference::fully_connected::bmm::int16::Int16Bmm;
use crate::reference::fully_connected::fc16::QuantFc16;
use crate::Result;

/// Invocations per workgroup (the shader's `@workgroup_size`).
const WG: u64 = 64;

/// FULLY_CONNECTED 16x8.
pub(crate) fn prepare(ctx: &GpuOpCtx, k: &QuantFc16) -> Result<Vec<Command>> {
    let d = &k.dims;
    let e = &k.epilogue;
    let n = d.batches * d.units;
    if [n, d.batches * d.depth, d.units * d.depth]
        .iter()
        .any(|&v| v > i32::MAX as usize)
    {
        return Err(ctx.unsupported(format!(
            "{} × {} × {} exceeds the 32-bit indexing of the 16x8 FULLY_CONNECTED kernel",
            d.batches, d.units, d.depth
        )));
    }
    let mut uniform = Vec::new();
    for v in [d.batches as u32, d.units as u32, d.depth as u32] {
        uniform.extend(v.to_le_bytes());
    }
    uniform.extend(u32::from(e.bias.is_some()).to_le_bytes());
    for v in [k.input_offset, e.output_zero_point, e.act_min, e.act_max] {
        uniform.extend(v.to_le_bytes());
    }
    let mut records = Vec::with_capacity(d.units * 32);
    for (u, &scale) in e.scale.iter().enumerate() {
        let b = e.bias.as_ref().map_or(0, |b| b[u]) as u64;
        let m = RescaleMultiplier::new(scale).ok_or_else(|| {
            ctx.unsupported(format!(
                "unit {u}: rescale multiplier {scale} is not finite"
            ))
        })?;
        for w in [b as u32, (b >> 32) as u32, 0, 0] {
            records.extend(w.to_le_bytes());
        }
        for w in m.words() {
            records.extend(w.to_le_bytes());
        }
    }
    let uniform = ctx.uniform("fc16 params", &uniform)?;
    let records = ctx.upload("fc16 units", &records)?;
    let input = ctx.input(0)?;
    let weights = ctx.input(1)?;
    let output = ctx.output(0)?;
    let words = n.div_ceil(2) as u64;
    Ok(vec![ctx.dispatch(
        &PipelineKey::new("fc16", "fc16"),
        &[&uniform, &input, &weights, &records, &output],
        ctx.grid(words.div_ceil(WG))?,
    )?])
}

/// BATCH_MATMUL 16x8 (int16 × int16): `bmm16` of `shaders/bmm16.wgsl`, twin of `Int16Bmm`
/// (`reference::fully_connected::bmm::int16`), reading the model's operands where they are
/// (the plan's step offsets index them; the shader applies the adjoints).
pub(crate) fn prepare_bmm(ctx: &GpuOpCtx, k: &Int16Bmm) -> Result<Vec<Command>> {
    let plan = &k.plan;
    let out_len = plan.output_len();
    let lhs_len: usize = k.operands.lhs_shape.iter().product();
    let rhs_len: usize = k.operands.rhs_shape.iter().product();
    if [out_len, lhs_len, rhs_len]
        .iter()
        .any(|&v| v > i32::MAX as usize)
    {
        return Err(ctx.unsupported(
            "the operands exceed the 32-bit indexing of the int16 BATCH_MATMUL kernel",
        ));
    }
    let mut p = Vec::new();
    for v in [
        plan.n as u32,
        plan.m as u32,
        plan.k as u32,
        u32::from(k.operands.adj_x),
        u32::from(k.operands.adj_y),
        k.multiplier.multiplier as u32,
        k.multiplier.total_shift,
        out_len as u32,
    ] {
        p.extend(v.to_le_bytes());
    }
    let steps: Vec<u8> = plan
        .steps
        .iter()
        .flat_map(|s| [s.filter as u32, s.input as u32, 0, 0])
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let params = ctx.uniform("bmm16 params", &p)?;
    let steps = ctx.upload("bmm16 steps", &steps)?;
    let lhs = ctx.input(0)?;
    let rhs = ctx.input(1)?;
    let output = ctx.output(0)?;
    Ok(vec![ctx.dispatch(
        &PipelineKey::new("bmm16", "bmm16"),
        &[&params, &lhs, &rhs, &steps, &output],
        ctx.grid((out_len as u64).div_ceil(2).div_ceil(WG))?,
    )?])
}
