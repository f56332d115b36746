//! The int16 SOFTMAX: `softmax16_rows` then `softmax16_out` of `shaders/softmax16.wgsl`, twin
//! of `Softmax16` (`reference::softmax16`). The reference's prepared kernel gives the input
//! multiplier and the two 513-entry tables, uploaded as they are.

use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::reference::common::shape_of;
use crate::reference::softmax16::Softmax16;
use crate::Result;

/// Invocations per workgroup (the shader's `@workgroup_size`).
const WG: u64 = 64;

/// The longest row: 65537 × 32767 < 2^31, so the row's int32 sum of exps cannot wrap (the
/// shader's 32-bit steps rely on it).
const MAX_DEPTH: usize = 65537;

/// SOFTMAX on int16.
pub(crate) fn prepare(ctx: &GpuOpCtx, k: &Softmax16) -> Result<Vec<Command>> {
    let len = shape_of(ctx.op.input(0)?).iter().product::<usize>();
    if k.depth == 0 || k.depth > MAX_DEPTH || len % k.depth != 0 {
        return Err(ctx.unsupported(format!(
            "int16 SOFTMAX rows of {} elements (the GPU kernel takes 1 to {MAX_DEPTH})",
            k.depth
        )));
    }
    let rows = len / k.depth;
    let (Ok(rows32), Ok(_)) = (u32::try_from(rows), i32::try_from(len)) else {
        return Err(ctx.unsupported("the tensor is too large for 32-bit indices"));
    };
    let m = k.input_multiplier;
    let mut p = Vec::new();
    for v in [rows32, k.depth as u32, m.multiplier as u32, m.shift as u32] {
        p.extend(v.to_le_bytes());
    }
    let params = ctx.uniform("softmax16 params", &p)?;
    let luts: Vec<u8> = k
        .exp_lut
        .iter()
        .chain(k.one_over_one_plus_x_lut.iter())
        .flat_map(|&v| i32::from(v).to_le_bytes())
        .collect();
    let luts = ctx.upload("softmax16 tables", &luts)?;
    let stats = ctx.scratch("softmax16 row statistics", rows as u64 * 16)?;
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    Ok(vec![
        // The row pass writes no output (binding 1 is not in its layout).
        ctx.dispatch_bound(
            &PipelineKey::new("softmax16", "softmax16_rows"),
            &[(0, &x), (2, &params), (3, &luts), (4, &stats)],
            ctx.grid((rows as u64).div_ceil(WG))?,
        )?,
        ctx.dispatch(
            &PipelineKey::new("softmax16", "softmax16_out"),
            &[&x, &y, &params, &luts, &stats],
            ctx.grid((len as u64).div_ceil(2).div_ceil(WG))?,
        )?,
    ])
}
