//! BATCH_MATMUL on the GPU, twin of `src/reference/fully_connected/bmm`: the reference's
//! [`Plan`] gives every matrix product of the (broadcast) batch loop; the operands are laid
//! out as the reference lays them (the LHS as `[.., M, K]`, transposed on the device for
//! `adj_x`; the RHS as `[.., N, K]`: at prepare when constant, else transposed on the device
//! unless `adj_y`), and one dispatch runs every product.

use super::gemm::{pack_rows, word_bytes, Gemm, Rescale, Tiles};
use super::{float_act, hybrid, Arg, Command, GpuOpCtx};
use crate::reference::fully_connected::bmm::hybrid::HybridBmm;
use crate::reference::fully_connected::bmm::plan::Plan;
use crate::reference::fully_connected::bmm::{BmmOut, FloatBmm, Int8Bmm, Operands};
use crate::reference::fully_connected::FloatAct;
use crate::Result;

/// BATCH_MATMUL.
pub(crate) fn prepare_batch_matmul(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    if let Ok(k) = ctx.kernel::<Int8Bmm<i8>>() {
        return prepare_int8(ctx, k, false);
    }
    if let Ok(k) = ctx.kernel::<Int8Bmm<i32>>() {
        return prepare_int8(ctx, k, true);
    }
    if let Ok(k) = ctx.kernel::<HybridBmm>() {
        return prepare_hybrid(ctx, k);
    }
    if let Ok(k) = ctx.kernel::<crate::reference::fully_connected::bmm::int16::Int16Bmm>() {
        return super::fc16::prepare_bmm(ctx, k);
    }
    let k: &FloatBmm = ctx.kernel()?;
    prepare_float(ctx, k)
}

/// The batch offsets of the plan's products, in rows (`k` elements) and elements.
fn zoff(plan: &Plan) -> Vec<[u32; 8]> {
    let k = plan.k.max(1);
    plan.steps
        .iter()
        .map(|s| {
            [
                (s.input / k) as u32,
                (s.filter / k) as u32,
                s.output as u32,
                s.scale as u32,
                s.row_sum as u32,
                0,
                0,
                0,
            ]
        })
        .collect()
}

fn gemm_of(plan: &Plan) -> Result<Gemm> {
    let g = Gemm::new(plan.m, plan.n, plan.k, plan.steps.len())?;
    if plan.output_len() > u32::MAX as usize {
        return Err(crate::Error::Unsupported(
            "GPU engine: BATCH_MATMUL output over 2^32 elements".into(),
        ));
    }
    Ok(g)
}

/// `shape`'s element count over its last two dimensions: (batches, rows = last, cols =
/// second-to-last) of a `[.., C, R]` operand to transpose into `[.., R, C]`.
fn adjoint_dims(shape: &[usize]) -> (u32, u32) {
    let r = shape.len();
    let (c, rr) = (shape[r - 2], shape[r - 1]);
    let total: usize = shape.iter().product();
    ((total / (c * rr).max(1)) as u32, rr as u32)
}

/// The LHS as `[.., M, K]` rows (8-bit: row-padded words).
fn lhs_rows(
    ctx: &GpuOpCtx,
    g: &Gemm,
    ops: &Operands,
    eight_bit: bool,
    cmds: &mut Vec<Command>,
) -> Result<Arg> {
    let x = ctx.input(0)?;
    let total: usize = ops.lhs_shape.iter().product();
    if ops.adj_x {
        let (batches, r) = adjoint_dims(&ops.lhs_shape);
        let (cmd, a) = g.transpose(ctx, batches, r, &x, eight_bit)?;
        cmds.push(cmd);
        return Ok(a);
    }
    if eight_bit && g.k % 4 != 0 {
        let rows = (total / g.k.max(1) as usize) as u32;
        let (cmd, a) = g.repack(ctx, rows, &x)?;
        cmds.push(cmd);
        return Ok(a);
    }
    Ok(x)
}

/// The RHS as `[.., N, K]` rows: the reference's constant layout uploaded, or laid out on
/// the device.
fn rhs_rows(
    ctx: &GpuOpCtx,
    g: &Gemm,
    ops: &Operands,
    constant: Option<Vec<u8>>,
    eight_bit: bool,
    cmds: &mut Vec<Command>,
) -> Result<Arg> {
    let k = g.k as usize;
    if let Some(bytes) = constant {
        if !eight_bit {
            return ctx.upload("bmm rhs", &bytes);
        }
        let rows = bytes.len() / k.max(1);
        return ctx.upload("bmm rhs", &pack_rows(&bytes, rows, k, true).0);
    }
    let y = ctx.input(1)?;
    if !ops.adj_y {
        let (batches, r) = adjoint_dims(&ops.rhs_shape);
        let (cmd, b) = g.transpose(ctx, batches, r, &y, eight_bit)?;
        cmds.push(cmd);
        return Ok(b);
    }
    if eight_bit && k % 4 != 0 {
        let total: usize = ops.rhs_shape.iter().product();
        let (cmd, b) = g.repack(ctx, (total / k.max(1)) as u32, &y)?;
        cmds.push(cmd);
        return Ok(b);
    }
    Ok(y)
}

fn prepare_int8<O: BmmOut>(ctx: &GpuOpCtx, k: &Int8Bmm<O>, out_i32: bool) -> Result<Vec<Command>> {
    let plan = &k.plan;
    if plan.output_len() == 0 {
        return Ok(Vec::new());
    }
    let mut g = gemm_of(plan)?;
    let (io, fo) = (k.input_offset, k.filter_offset);
    g.filter_offset = fo;
    g.input_offset = io;
    let folded_k = (plan.k as i32).wrapping_mul(fo).wrapping_mul(io);
    let col = match &k.requant {
        Some(ep) => {
            g.kind = Rescale::FixedPoint as u32;
            g.output_zero_point = ep.output_zero_point;
            g.act_min = ep.act_min;
            g.act_max = ep.act_max;
            let m = ep.multipliers[0];
            [
                ep.bias[0].wrapping_add(folded_k) as u32,
                m.multiplier as u32,
                m.shift as u32,
                0,
            ]
        }
        None => {
            g.kind = Rescale::None as u32;
            [folded_k as u32, 0, 0, 0]
        }
    };
    let cols = ctx.upload("bmm columns", &word_bytes((0..plan.n).flat_map(|_| col)))?;
    let mut cmds = Vec::new();
    let a = lhs_rows(ctx, &g, &k.operands, true, &mut cmds)?;
    let rhs_t = k
        .rhs_t
        .as_ref()
        .map(|w| w.iter().map(|&v| v as u8).collect());
    let b = rhs_rows(ctx, &g, &k.operands, rhs_t, true, &mut cmds)?;
    let out = ctx.output(0)?;
    cmds.push(Command::Clear {
        buffer: out.buffer.clone(),
    });
    let tiles = Tiles::for_rows(plan.m);
    let key = tiles
        .key("gemm_q8")
        .constant("COL_SUMS", f64::from(u8::from(io != 0)))
        .constant("OUT_I32", f64::from(u8::from(out_i32)));
    cmds.push(g.dispatch(
        ctx,
        &tiles,
        "gemm_q8",
        key,
        &zoff(plan),
        &[&a, &b, &cols, &out],
    )?);
    Ok(cmds)
}

fn prepare_hybrid(ctx: &GpuOpCtx, k: &HybridBmm) -> Result<Vec<Command>> {
    let plan = &k.plan;
    if plan.output_len() == 0 {
        return Ok(Vec::new());
    }
    let mut g = gemm_of(plan)?;
    let n = plan.n;
    if plan.steps.iter().any(|s| s.row_sum % n.max(1) != 0) {
        return Err(ctx.unsupported("hybrid row sums not aligned to the output columns"));
    }
    let cols: Vec<u32> = k
        .row_sums
        .iter()
        .enumerate()
        .flat_map(|(r, &sum)| {
            let cs = k.per_channel.as_ref().map_or(0.0, |pc| pc[r % n]);
            [cs.to_bits(), sum as u32, 0, 0]
        })
        .collect();
    g.kind = u32::from(k.per_channel.is_some());
    g.filter_scale = k.filter_scale;
    g.float_offset = true;
    float_act(&mut g, FloatAct::Clamp(f32::MIN, f32::MAX));
    let mut cmds = Vec::new();
    let x = lhs_rows_float(ctx, &g, &k.operands, &mut cmds)?;
    let rows = (k.operands.lhs_shape.iter().product::<usize>() / plan.k) as u32;
    let (qcmds, q) = hybrid::quantize_rows(ctx, &x, rows, g.k, !k.asymmetric)?;
    cmds.extend(qcmds);
    let w: Vec<u8> = k.weights.iter().map(|&v| v as u8).collect();
    let b = ctx.upload("bmm rhs", &pack_rows(&w, w.len() / plan.k, plan.k, true).0)?;
    let cols = ctx.upload("bmm row sums", &word_bytes(cols))?;
    let bias = ctx.upload("no bias", &vec![0u8; n * 4])?;
    let out = ctx.output(0)?;
    let tiles = Tiles::for_rows(plan.m);
    let key = tiles.key("gemm_hybrid");
    cmds.push(g.dispatch(
        ctx,
        &tiles,
        "gemm_hybrid",
        key,
        &zoff(plan),
        &[&q.q, &b, &cols, &bias, &q.scale, &q.zero_point, &out],
    )?);
    Ok(cmds)
}

/// The float LHS as `[.., M, K]`.
fn lhs_rows_float(
    ctx: &GpuOpCtx,
    g: &Gemm,
    ops: &Operands,
    cmds: &mut Vec<Command>,
) -> Result<Arg> {
    lhs_rows(ctx, g, ops, false, cmds)
}

fn prepare_float(ctx: &GpuOpCtx, k: &FloatBmm) -> Result<Vec<Command>> {
    let plan = &k.plan;
    if plan.output_len() == 0 {
        return Ok(Vec::new());
    }
    let g = gemm_of(plan)?;
    let mut cmds = Vec::new();
    let a = lhs_rows_float(ctx, &g, &k.operands, &mut cmds)?;
    let rhs_t = k
        .rhs_t
        .as_ref()
        .map(|w| w.iter().flat_map(|v| v.to_le_bytes()).collect());
    let b = rhs_rows(ctx, &g, &k.operands, rhs_t, false, &mut cmds)?;
    let bias = ctx.upload("no bias", &vec![0u8; plan.n * 4])?;
    let out = ctx.output(0)?;
    let tiles = Tiles::for_rows(plan.m);
    let key = tiles.key("gemm_f32");
    cmds.push(g.dispatch(
        ctx,
        &tiles,
        "gemm_f32",
        key,
        &zoff(plan),
        &[&a, &b, &bias, &out],
    )?);
    Ok(cmds)
}
