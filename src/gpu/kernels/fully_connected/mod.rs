//! FULLY_CONNECTED and BATCH_MATMUL on the GPU (`shaders/fully_connected.wgsl`), twins of
//! `src/reference/fully_connected`: the reference's prepared kernels give the dims, offsets,
//! multipliers and activation ranges; this side lays the constant operands out (row-padded
//! 8-bit words, row sums, the zero-point terms folded into the bias) and records the tiled
//! products.
//!
//! - int8/uint8 FULLY_CONNECTED: `round(acc · (double)s_in·s_w[c]/s_out)` computed exactly in
//!   integers on the device (`double_rescale`, twin `quant::fixedpoint::double_rescale`);
//! - 16x8 FULLY_CONNECTED (int16 activations, int8 weights): `fc16.rs`, one output word per
//!   invocation, the int64 accumulator and its double rescale in u32 words;
//! - hybrid: the float input quantized per row on the device (`kernels::hybrid`), int8 dot
//!   products, the float epilogue;
//! - float32: the same tiling on floats, every output summed in the reference's order; in the
//!   converter's (`FloatOrder::Converter`), Eigen's GEMV/GEMM orders (`gemm_f32_converter`).

mod bmm;
mod fc16;
mod gemm;
#[cfg(test)]
mod tests;

use super::{hybrid, Arg, Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::quant::fixedpoint::double_rescale::RescaleMultiplier;
use crate::reference::fully_connected::fc::{FloatFc, HybridFc, QuantFc};
use crate::reference::fully_connected::{FloatAct, QElem};
use crate::reference::FloatOrder;
use crate::Result;
use gemm::{pack_rows, word_bytes, Gemm, Rescale, Tiles};

pub(crate) use bmm::prepare_batch_matmul;

/// FULLY_CONNECTED.
pub(crate) fn prepare_fully_connected(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    if let Ok(k) = ctx.kernel::<QuantFc<i8>>() {
        return prepare_quant(ctx, k, false);
    }
    if let Ok(k) = ctx.kernel::<QuantFc<u8>>() {
        return prepare_quant(ctx, k, true);
    }
    if let Ok(k) = ctx.kernel::<HybridFc>() {
        return prepare_hybrid(ctx, k);
    }
    if let Ok(k) = ctx.kernel::<crate::reference::fully_connected::fc16::QuantFc16>() {
        return fc16::prepare(ctx, k);
    }
    let k: &FloatFc = ctx.kernel()?;
    prepare_float(ctx, k)
}

/// The constant weights' bytes (the GPU kernels lay them out at prepare).
fn const_bytes<'a>(ctx: &'a GpuOpCtx, i: usize, what: &str) -> Result<&'a [u8]> {
    let t = ctx
        .op
        .op
        .input(i)
        .ok_or_else(|| ctx.op.invalid(format!("{what} (input {i}) is missing")))?;
    ctx.tensors
        .const_bytes
        .get(t)
        .and_then(|b| b.as_deref())
        .ok_or_else(|| ctx.unsupported(format!("{what} (input {i}) must be a constant")))
}

/// The output buffer zeroed (an empty depth: the reference writes zeros).
fn zeros(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    Ok(vec![Command::Clear {
        buffer: ctx.output(0)?.buffer,
    }])
}

/// `input` as row-padded words: itself when `k` is a multiple of 4, else repacked.
fn padded_rows(
    ctx: &GpuOpCtx,
    g: &Gemm,
    rows: u32,
    input: Arg,
    cmds: &mut Vec<Command>,
) -> Result<Arg> {
    if g.k % 4 == 0 {
        return Ok(input);
    }
    let (cmd, a) = g.repack(ctx, rows, &input)?;
    cmds.push(cmd);
    Ok(a)
}

fn prepare_quant<T: QElem>(ctx: &GpuOpCtx, k: &QuantFc<T>, unsigned: bool) -> Result<Vec<Command>> {
    let d = &k.dims;
    if d.batches * d.units == 0 {
        return Ok(Vec::new());
    }
    if d.depth == 0 {
        return zeros(ctx);
    }
    let ep = &k.epilogue;
    let (io, fo) = (k.input_offset, k.filter_offset);
    let kk = d.depth as i32;
    // Constant weights: laid out and summed here; run-time weights: repacked and summed on
    // the device (COL_SUMS).
    let constant = ctx.op.const_input(1).is_some();
    let (w_rows, wsum) = if constant {
        let (rows, sums) = pack_rows(
            const_bytes(ctx, 1, "the weights")?,
            d.units,
            d.depth,
            !unsigned,
        );
        (Some(rows), sums)
    } else {
        (None, vec![0; d.units])
    };
    let col_sums = !constant && io != 0;
    let mut cols = Vec::with_capacity(d.units * 4);
    for (o, (&bias, &sum)) in ep.bias.iter().zip(&wsum).enumerate() {
        let folded = bias
            .wrapping_add(io.wrapping_mul(sum))
            .wrapping_add(kk.wrapping_mul(fo).wrapping_mul(io));
        let m = RescaleMultiplier::new(ep.scale[o]).ok_or_else(|| {
            ctx.unsupported(format!(
                "requantization multiplier {} of unit {o}",
                ep.scale[o]
            ))
        })?;
        let [lo, hi, e, _] = m.words();
        cols.extend([folded as u32, lo, hi, e]);
    }
    let mut g = Gemm::new(d.batches, d.units, d.depth, 1)?;
    g.filter_offset = fo;
    g.output_zero_point = ep.output_zero_point;
    g.act_min = ep.act_min;
    g.act_max = ep.act_max;
    g.kind = Rescale::Double as u32;
    let tiles = Tiles::for_rows(d.batches);
    let mut cmds = Vec::new();
    g.input_offset = io;
    let a = padded_rows(ctx, &g, g.m, ctx.input(0)?, &mut cmds)?;
    let b = match w_rows {
        Some(rows) => ctx.upload("fc weights", &rows)?,
        None => padded_rows(ctx, &g, g.n, ctx.input(1)?, &mut cmds)?,
    };
    let cols = ctx.upload("fc columns", &word_bytes(cols))?;
    let out = ctx.output(0)?;
    cmds.push(Command::Clear {
        buffer: out.buffer.clone(),
    });
    let key = tiles
        .key("gemm_q8")
        .constant("UNSIGNED", f64::from(u8::from(unsigned)))
        .constant("COL_SUMS", f64::from(u8::from(col_sums)));
    cmds.push(g.dispatch(
        ctx,
        &tiles,
        "gemm_q8",
        key,
        &[[0; 8]],
        &[&a, &b, &cols, &out],
    )?);
    Ok(cmds)
}

/// The hybrid kernels' activation code and clamp.
fn float_act(g: &mut Gemm, act: FloatAct) {
    match act {
        FloatAct::Clamp(lo, hi) => {
            if !(lo == f32::MIN && hi == f32::MAX) {
                g.f_act = 1;
                g.f_min = lo;
                g.f_max = hi;
            }
        }
        FloatAct::Tanh => g.f_act = 2,
        FloatAct::SignBit => g.f_act = 3,
    }
}

/// The op's float bias (input 2), or zeros.
fn float_bias(ctx: &GpuOpCtx, has_bias: bool, units: usize) -> Result<Arg> {
    if has_bias {
        return ctx.input(2);
    }
    ctx.upload("no bias", &vec![0u8; units * 4])
}

fn prepare_hybrid(ctx: &GpuOpCtx, k: &HybridFc) -> Result<Vec<Command>> {
    let d = &k.dims;
    if d.batches * d.units == 0 {
        return Ok(Vec::new());
    }
    if d.depth == 0 {
        return zeros(ctx);
    }
    // Constant weights: laid out and summed here; run-time weights: repacked on the device
    // and summed in the product (COL_SUMS).
    let constant = ctx.op.const_input(1).is_some();
    let (w_rows, wsum) = if constant {
        let (rows, sums) = pack_rows(const_bytes(ctx, 1, "the weights")?, d.units, d.depth, true);
        (Some(rows), sums)
    } else {
        (None, vec![0; d.units])
    };
    let mut g = Gemm::new(d.batches, d.units, d.depth, 1)?;
    let mut cols = Vec::with_capacity(d.units * 4);
    for o in 0..d.units {
        let cs = k.per_channel.as_ref().map_or(0.0, |pc| pc[o]);
        cols.extend([cs.to_bits(), wsum[o] as u32, 0, 0]);
    }
    g.kind = u32::from(k.per_channel.is_some());
    g.filter_scale = k.filter_scale;
    float_act(&mut g, k.act);
    let (mut cmds, rows) = hybrid::quantize_rows(ctx, &ctx.input(0)?, g.m, g.k, !k.asymmetric)?;
    let tiles = Tiles::for_rows(d.batches);
    let b = match w_rows {
        Some(rows) => ctx.upload("fc weights", &rows)?,
        None => padded_rows(ctx, &g, g.n, ctx.input(1)?, &mut cmds)?,
    };
    let cols = ctx.upload("fc columns", &word_bytes(cols))?;
    let bias = float_bias(ctx, k.has_bias, d.units)?;
    let out = ctx.output(0)?;
    let key = tiles
        .key("gemm_hybrid")
        .constant("COL_SUMS", f64::from(u8::from(!constant)));
    cmds.push(g.dispatch(
        ctx,
        &tiles,
        "gemm_hybrid",
        key,
        &[[0; 8]],
        &[
            &rows.q,
            &b,
            &cols,
            &bias,
            &rows.scale,
            &rows.zero_point,
            &out,
        ],
    )?);
    Ok(cmds)
}

fn prepare_float(ctx: &GpuOpCtx, k: &FloatFc) -> Result<Vec<Command>> {
    let d = &k.dims;
    if d.batches * d.units == 0 {
        return Ok(Vec::new());
    }
    if d.depth == 0 {
        return zeros(ctx);
    }
    let mut g = Gemm::new(d.batches, d.units, d.depth, 1)?;
    g.f_act = 1;
    g.f_min = k.lo;
    g.f_max = k.hi;
    let tiles = Tiles::for_rows(d.batches);
    let (a, b) = (ctx.input(0)?, ctx.input(1)?);
    let bias = float_bias(ctx, k.has_bias, d.units)?;
    let out = ctx.output(0)?;
    let args = [&a, &b, &bias, &out];
    let mut cmds = Vec::new();
    // The converter's order: one input row or one unit goes through Eigen's GEMV, and a depth
    // over Eigen's `kc` is summed block by block (every output summed by
    // `gemm_f32_converter`); otherwise Eigen's GEMM sums the units past the blocks of 16, in
    // the rows within the blocks of four, in other orders.
    let kc = crate::reference::eigen_kc(d.depth, d.units, d.batches);
    g.kc = u32::try_from(kc).unwrap_or(g.k);
    let whole = d.batches == 1 || d.units == 1 || kc < d.depth;
    let converter = match k.order {
        FloatOrder::Reference => 0,
        FloatOrder::Converter if whole => d.units * d.batches,
        FloatOrder::Converter => (d.units - d.units / 16 * 16) * (d.batches / 4 * 4),
    };
    if !(k.order == FloatOrder::Converter && whole) {
        let key = tiles.key("gemm_f32");
        cmds.push(g.dispatch(ctx, &tiles, "gemm_f32", key, &[[0; 8]], &args)?);
    }
    if converter > 0 {
        let entry = "gemm_f32_converter";
        let key = PipelineKey::new("fully_connected", entry);
        let groups = converter.div_ceil(64) as u64;
        cmds.push(g.dispatch_groups(ctx, &tiles, (entry, key), &[[0; 8]], &args, groups)?);
    }
    Ok(cmds)
}
