//! RELU, RELU6, LEAKY_RELU, PRELU, HARD_SWISH, LOGISTIC, TANH on the GPU, twin of
//! `src/reference/activations` (shader `shaders/activations.wgsl`). The reference's prepared
//! kernel says which element function runs and carries every parameter (multipliers, the
//! 16-bit HARD_SWISH constants, the LOGISTIC/TANH tables); this file lays them out.

use super::binary::broadcast_layout;
use super::quantize::{bits, grid_for, out_words, words_bytes, WG};
use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::reference::activations::hard_swish::{HardSwishOpt, HardSwishParams};
use crate::reference::activations::lut::Lut;
use crate::reference::activations::prelu::Prelu;
use crate::reference::activations::relu::{LeakyReluParams, ReluXParams};
use crate::reference::activations::{FloatFn, FloatMap, QuantMap};
use crate::reference::common::shape_of;
use crate::Result;

/// The shader's `Params` block, as words.
#[derive(Default)]
struct Params {
    len: u32,
    fkind: u32,
    f0: f32,
    f1: f32,
    in_zp: i32,
    out_zp: i32,
    m1: i32,
    s1: i32,
    m2: i32,
    s2: i32,
    m3: i32,
    s3: i32,
    lo: i32,
    hi: i32,
    rank: u32,
    qmin: i32,
}

impl Params {
    fn bytes(&self) -> Vec<u8> {
        words_bytes(&[
            self.len,
            self.fkind,
            self.f0.to_bits(),
            self.f1.to_bits(),
            self.in_zp as u32,
            self.out_zp as u32,
            self.m1 as u32,
            self.s1 as u32,
            self.m2 as u32,
            self.s2 as u32,
            self.m3 as u32,
            self.s3 as u32,
            self.lo as u32,
            self.hi as u32,
            self.rank,
            self.qmin as u32,
            // `fuse_guard` (always 0), then padding to a multiple of 16 bytes.
            0,
            0,
            0,
            0,
        ])
    }
}

/// The shader kind and parameters of a unary activation's reference kernel, plus its table
/// for a lookup.
fn unary_params(ctx: &GpuOpCtx) -> Result<(u32, Params, Option<Vec<u32>>)> {
    let any = ctx.kernel;
    if let Some(k) = any.downcast_ref::<FloatMap>() {
        let (fkind, f0, f1) = match k.f {
            FloatFn::Max { min } => (0, min, 0.0),
            FloatFn::ClampCpp { min, max } => (1, min, max),
            FloatFn::LeakyRelu { alpha } => (2, alpha, 0.0),
            FloatFn::HardSwish => (3, 0.0, 0.0),
            FloatFn::Logistic => (4, 0.0, 0.0),
            FloatFn::Tanh => (5, 0.0, 0.0),
            FloatFn::LogisticConverter => (7, 0.0, 0.0),
            FloatFn::TanhConverter => (8, 0.0, 0.0),
        };
        let p = Params {
            fkind,
            f0,
            f1,
            ..Default::default()
        };
        return Ok((0, p, None));
    }
    if any.is::<HardSwishOpt>() {
        let p = Params {
            fkind: 6,
            ..Default::default()
        };
        return Ok((0, p, None));
    }
    if let Some(k) = any.downcast_ref::<QuantMap<ReluXParams>>() {
        let q = &k.params;
        let p = Params {
            in_zp: q.input_zero_point,
            out_zp: q.output_zero_point,
            m1: q.multiplier.multiplier,
            s1: q.multiplier.shift,
            lo: q.act_min,
            hi: q.act_max,
            ..Default::default()
        };
        return Ok((1, p, None));
    }
    if let Some(k) = any.downcast_ref::<QuantMap<LeakyReluParams>>() {
        let q = &k.params;
        let p = Params {
            in_zp: q.input_zero_point,
            out_zp: q.output_zero_point,
            m1: q.identity.multiplier,
            s1: q.identity.shift,
            m2: q.alpha.multiplier,
            s2: q.alpha.shift,
            lo: q.qmin,
            hi: q.qmax,
            ..Default::default()
        };
        return Ok((2, p, None));
    }
    if let Some(k) = any.downcast_ref::<QuantMap<HardSwishParams>>() {
        let q = &k.params;
        let p = Params {
            in_zp: q.input_zero_point,
            out_zp: q.output_zero_point,
            m2: i32::from(q.output_multiplier_fixedpoint_int16),
            s2: q.output_multiplier_exponent,
            m3: i32::from(q.reluish_multiplier_fixedpoint_int16),
            s3: q.reluish_multiplier_exponent,
            lo: q.qmin,
            hi: q.qmax,
            ..Default::default()
        };
        return Ok((3, p, None));
    }
    if let Some(k) = any.downcast_ref::<QuantMap<Lut>>() {
        let t = &k.params;
        let p = Params {
            qmin: t.qmin,
            ..Default::default()
        };
        return Ok((4, p, Some(t.table.iter().map(|&v| v as u32).collect())));
    }
    Err(ctx.unsupported("no GPU kernel for this activation variant"))
}

/// RELU, RELU6, LEAKY_RELU, HARD_SWISH, LOGISTIC, TANH.
pub(crate) fn prepare_unary(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let input = ctx.op.input(0)?;
    let len = shape_of(input).iter().product::<usize>();
    let (nbits, signed) = bits(ctx, input.dtype)?;
    let (kind, mut p, table) = unary_params(ctx)?;
    p.len = u32::try_from(len).map_err(|_| ctx.unsupported("more than 2^32 elements"))?;
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    let params = ctx.uniform("activation params", &p.bytes())?;
    let aux = ctx.upload("activation table", &words_bytes(&table.unwrap_or_default()))?;
    let key = PipelineKey::new("activations", "main")
        .constant("WG", f64::from(WG))
        .constant("KIND", f64::from(kind))
        .constant("BITS", f64::from(nbits))
        .constant("SIGNED", f64::from(u8::from(signed)));
    let grid = grid_for(ctx, out_words(len, nbits))?;
    Ok(vec![ctx.dispatch(&key, &[&x, &y, &params, &aux], grid)?])
}

/// PRELU.
pub(crate) fn prepare_prelu(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &Prelu = ctx.kernel()?;
    let input = ctx.op.input(0)?;
    let (nbits, signed) = bits(ctx, input.dtype)?;
    let in_shape = shape_of(input);
    let alpha_shape = shape_of(ctx.op.input(1)?);
    let (dims, sx, sa) = broadcast_layout(&in_shape, &alpha_shape, &in_shape);
    let len = k.alpha_index.len();
    let mut p = Params {
        len: u32::try_from(len).map_err(|_| ctx.unsupported("more than 2^32 elements"))?,
        rank: dims.len() as u32,
        ..Default::default()
    };
    let kind = match &k.quant {
        None => 0,
        Some(q) => {
            p.in_zp = q.input_zero_point;
            p.out_zp = q.output_zero_point;
            p.m1 = q.multiplier_1.multiplier;
            p.s1 = q.multiplier_1.shift;
            p.m2 = q.multiplier_2.multiplier;
            p.s2 = q.multiplier_2.shift;
            p.m3 = q.alpha_zero_point;
            p.lo = q.qmin;
            p.hi = q.qmax;
            1
        }
    };
    let mut layout = Vec::with_capacity(3 * dims.len());
    for v in [&dims, &sx, &sa] {
        for &d in v.iter() {
            layout.push(u32::try_from(d).map_err(|_| ctx.unsupported("dimension beyond 2^32"))?);
        }
    }
    let x = ctx.input(0)?;
    let alpha = ctx.input(1)?;
    let y = ctx.output(0)?;
    let params = ctx.uniform("prelu params", &p.bytes())?;
    let l = ctx.upload("prelu layout", &words_bytes(&layout))?;
    let key = PipelineKey::new("activations", "prelu")
        .constant("WG", f64::from(WG))
        .constant("KIND", f64::from(kind))
        .constant("BITS", f64::from(nbits))
        .constant("SIGNED", f64::from(u8::from(signed)));
    let grid = grid_for(ctx, out_words(len, nbits))?;
    Ok(vec![ctx.dispatch(
        &key,
        &[&x, &y, &params, &alpha, &l],
        grid,
    )?])
}
