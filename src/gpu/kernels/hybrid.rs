//! Run-time quantization of float activations on the device, shared by the hybrid
//! (dynamic-range) kernels: `shaders/hybrid.wgsl`, TFLite's `BatchQuantizeFloats`.
//!
//! [`quantize_rows`] quantizes each `row_len`-long row of a float32 tensor to int8 exactly as
//! `reference::common::{symmetric,asymmetric}_quantize_floats` do (TFLite's NEON quantizers,
//! which x86 LiteRT runs): `std::minmax_element` semantics (NaNs included), the scale and zero
//! point in double (asymmetric) or float (symmetric), `x * inv` rounded as the vector code
//! rounds it (`x ± 0.5` truncated) for the first `len & !7` elements of a row and with
//! `round` after them — all with the soft-float functions of
//! `shaders/common/softfloat.wgsl`, never the device's float unit, so the int8 values, scales
//! and zero points are bit-identical to the reference on every GPU.
//!
//! The CPU twin of the shader's arithmetic is [`row_params`] and [`quantize_value`] (on
//! `crate::quant::fixedpoint::softfloat`); the tests prove it equal to the reference
//! functions, and run the shader against the reference.

use super::{Arg, Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::quant::fixedpoint::softfloat::{
    f32_add, f32_div, f32_lt, f32_max, f32_min, f32_mul, f32_round_i32, f32_to_f64, f32_trunc_i32,
    f64_add, f64_div, f64_le, f64_lt, f64_round_i32, f64_sub, f64_to_f32, i32_to_f32, W,
};
use crate::Result;

/// The device result of [`quantize_rows`].
#[derive(Clone, Debug)]
pub(crate) struct HybridRows {
    /// int8 values, row `r` packed four per word in words `[r * row_words, (r + 1) *
    /// row_words)`; the bytes past `row_len` are 0.
    pub q: Arg,
    /// `ceil(row_len / 4)`.
    pub row_words: u32,
    /// Per row: the scaling factor (f32).
    pub scale: Arg,
    /// Per row: the zero point ("offset"; 0 for symmetric quantization) (i32).
    pub zero_point: Arg,
}

/// Workgroup size of the quantization kernel (one workgroup per row).
const WG: u32 = 64;

/// Quantizes `rows` rows of `row_len` floats of `input` (float32) to int8, symmetric
/// (`PortableSymmetricQuantizeFloats`) or asymmetric (`PortableAsymmetricQuantizeFloats`).
pub(crate) fn quantize_rows(
    ctx: &GpuOpCtx,
    input: &Arg,
    rows: u32,
    row_len: u32,
    symmetric: bool,
) -> Result<(Vec<Command>, HybridRows)> {
    let row_words = row_len.div_ceil(4);
    let out = HybridRows {
        q: ctx.scratch("hybrid q", u64::from(rows) * u64::from(row_words) * 4)?,
        row_words,
        scale: ctx.scratch("hybrid scales", u64::from(rows) * 4)?,
        zero_point: ctx.scratch("hybrid zero points", u64::from(rows) * 4)?,
    };
    let commands = quantize_rows_into(ctx, input, rows, row_len, symmetric, WG, &out)?;
    Ok((commands, out))
}

/// [`quantize_rows`] into given buffers, with workgroup size `wg`.
pub(crate) fn quantize_rows_into(
    ctx: &GpuOpCtx,
    input: &Arg,
    rows: u32,
    row_len: u32,
    symmetric: bool,
    wg: u32,
    out: &HybridRows,
) -> Result<Vec<Command>> {
    let need = u64::from(rows) * u64::from(row_len) * 4;
    if input.size < need {
        return Err(ctx.unsupported(format!(
            "hybrid input quantization: the input holds {} bytes, {rows} rows of {row_len} \
             floats need {need}",
            input.size
        )));
    }
    let params: Vec<u8> = [rows, row_len, out.row_words, u32::from(symmetric)]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let params = ctx.uniform("hybrid params", &params)?;
    let key = PipelineKey::new("hybrid", "quantize_rows").constant("WG", f64::from(wg));
    let grid = ctx.grid(u64::from(rows))?;
    if rows == 0 {
        return Ok(Vec::new());
    }
    Ok(vec![ctx.dispatch(
        &key,
        &[&params, input, &out.q, &out.scale, &out.zero_point],
        grid,
    )?])
}

// ---- CPU twin of the shader's arithmetic ---------------------------------------------------

/// A row's parameters: (scale bits, inv bits, offset, all values 0), from its min and max as
/// `std::minmax_element` finds them (twin of `row_params` in `shaders/hybrid.wgsl`).
#[cfg_attr(not(test), allow(dead_code))] // the shader's twin, run by the tests
pub(crate) fn row_params(min_v: u32, max_v: u32, symmetric: bool) -> (u32, u32, i32, bool) {
    let one = 0x3f80_0000;
    if symmetric {
        let range = f32_max(min_v & 0x7fff_ffff, max_v & 0x7fff_ffff);
        if (range & 0x7fff_ffff) == 0 {
            return (one, 0, 0, true);
        }
        let c127 = 0x42fe_0000;
        return (f32_div(range, c127), f32_div(c127, range), 0, false);
    }
    let rmin32 = f32_min(0, min_v);
    let rmax32 = f32_max(0, max_v);
    let rmin = f32_to_f64(rmin32);
    let rmax = f32_to_f64(rmax32);
    if f64_le(rmin, rmax) && f64_le(rmax, rmin) {
        return (one, 0, 0, true);
    }
    let qmin: W = [0, 0xc060_0000];
    let qmax: W = [0, 0x405f_c000];
    let c128: W = [0, 0x4060_0000];
    let c255: W = [0, 0x406f_e000];
    // The range's width in float, the scale in double.
    let width = f32_add(rmax32, rmin32 ^ 0x8000_0000);
    let scale = f64_div(f32_to_f64(width), c255);
    let min_q = f64_div(rmin, scale);
    let max_q = f64_div(rmax, scale);
    let zp_from_min = f64_sub(qmin, min_q);
    let zp_from_max = f64_sub(qmax, max_q);
    let err_min = f64_add(c128, [min_q[0], min_q[1] & 0x7fff_ffff]);
    let err_max = f64_add(qmax, [max_q[0], max_q[1] & 0x7fff_ffff]);
    let zp = if f64_lt(err_min, err_max) {
        zp_from_min
    } else {
        zp_from_max
    };
    let offset = if f64_le(zp, qmin) {
        -128
    } else if f64_le(qmax, zp) {
        127
    } else {
        f64_round_i32(zp)
    };
    let scale32 = f64_to_f32(scale);
    // (float)(1.0 / (double)scale); 0 for a zero scale.
    let inv = if (scale32 & 0x7fff_ffff) == 0 {
        0
    } else {
        f64_to_f32(f64_div([0, 0x3ff0_0000], f32_to_f64(scale32)))
    };
    (scale32, inv, offset, false)
}

/// x86's float-to-int32 truncation on bits (twin of `reference::common::cvtt_i32`): NaN
/// and magnitudes from 2^31 give `i32::MIN`.
#[cfg_attr(not(test), allow(dead_code))] // the shader's twin, run by the tests
fn cvtt(a: u32) -> i32 {
    let e = (a >> 23) & 0xff;
    if e >= 158 {
        // |a| >= 2^31, infinities and NaNs.
        return i32::MIN;
    }
    f32_trunc_i32(a)
}

/// One value quantized (twin of `quantize_value` in `shaders/hybrid.wgsl`): element `i` of a
/// row whose first `block` elements the NEON code handles in vectors.
#[cfg_attr(not(test), allow(dead_code))] // the shader's twin, run by the tests
pub(crate) fn quantize_value(v: u32, inv: u32, offset: i32, symmetric: bool, vector: bool) -> i32 {
    let p = f32_mul(v, inv);
    let r = if vector {
        // RoundToNearest: (p ± 0.5) truncated.
        let half = if f32_lt(p, 0) {
            0xbf00_0000
        } else {
            0x3f00_0000
        };
        let n = cvtt(f32_add(p, half));
        if symmetric {
            n
        } else {
            n.wrapping_add(offset)
        }
    } else if (p >> 23) & 0xff >= 158 {
        // round(p) is p: NaN, an infinity or beyond 2^31, where no offset brings it back.
        i32::MIN
    } else {
        let rounded = i32_to_f32(f32_round_i32(p));
        if symmetric {
            cvtt(rounded)
        } else {
            cvtt(f32_add(i32_to_f32(offset), rounded))
        }
    };
    if symmetric {
        r.clamp(-127, 127)
    } else {
        r.clamp(-128, 127)
    }
}

/// `std::minmax_element` on bit patterns (the shader's sequential path, taken when a row
/// holds a NaN; without NaNs it reduces in any order to the same values up to the sign of
/// zero, which no result depends on).
#[cfg_attr(not(test), allow(dead_code))] // the shader's twin, run by the tests
pub(crate) fn row_min_max(row: &[u32]) -> (u32, u32) {
    let (mut lo, mut hi) = (row[0], row[0]);
    for &b in &row[1..] {
        if f32_lt(b, lo) {
            lo = b;
        }
        if !f32_lt(b, hi) {
            hi = b;
        }
    }
    (lo, hi)
}

/// A whole row through the twin: (int8 values, scale, offset).
#[cfg(test)]
pub(crate) fn quantize_row_twin(row: &[f32], symmetric: bool) -> (Vec<i8>, f32, i32) {
    if row.is_empty() {
        return (Vec::new(), 1.0, 0);
    }
    let bits: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
    let (lo, hi) = row_min_max(&bits);
    let (scale, inv, offset, zero) = row_params(lo, hi, symmetric);
    let block = bits.len() & !7;
    let q = bits
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if zero {
                0
            } else {
                quantize_value(b, inv, offset, symmetric, i < block) as i8
            }
        })
        .collect();
    (q, f32::from_bits(scale), offset)
}

#[cfg(test)]
#[path = "hybrid_tests.rs"]
mod tests;
