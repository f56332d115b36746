//! SOFTMAX on the GPU (`shaders/softmax.wgsl`), twin of `src/reference/softmax.rs`: float32,
//! and int8/uint8 inputs (int8/uint8/int16 outputs) with gemmlowp's fixed-point exp
//! (`shaders/common/gemmlowp.wgsl`), the reference's `SoftmaxQuantParams` uploaded as they
//! are. Two dispatches: per-row statistics into a scratch buffer, then the outputs. Float32
//! in the converter's order runs the optimized kernel's Eigen steps (`eigen_rows`,
//! `eigen_out`): the CPU's bits, except where a result is subnormal on a GPU that flushes.
//!
//! Where the reference refuses a row at run time (the sum of exponentials needs a shift
//! outside [0, 31]: more than ~500 near-equal maxima with an 8-bit output), the row kernel
//! sets the op's status flag and the run fails with the reference's reason.

use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::model::DType;
use crate::reference::softmax::{SoftmaxF32, SoftmaxQuant};
use crate::Result;

const WG: u32 = 64;

/// SOFTMAX.
pub(crate) fn prepare(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let input = ctx.op.input(0)?;
    let output = ctx.op.output(0)?;
    let n: usize = crate::reference::dims(input).iter().product();
    let fit = |v: usize| {
        i32::try_from(v).map_err(|_| ctx.unsupported("the tensor is too large for 32-bit indices"))
    };
    fit(n)?;
    let mut eigen = false;
    let (depth, float, params) = if let Ok(k) = ctx.kernel::<SoftmaxF32>() {
        let mut p = [0i32; 14];
        p[11] = k.beta.to_bits() as i32;
        eigen = k.converter;
        (k.depth, true, p)
    } else {
        let k: &SoftmaxQuant = ctx.kernel()?;
        let (in_bits, in_signed, in_min) = match input.dtype {
            DType::I8 => (8, 1, -128),
            DType::U8 => (8, 0, 0),
            other => return Err(ctx.unsupported(format!("input dtype {other}"))),
        };
        let (out_bits, out_min, out_max) = match output.dtype {
            DType::I8 => (8, -128, 127),
            DType::U8 => (8, 0, 255),
            DType::I16 => (16, -32768, 32767),
            other => return Err(ctx.unsupported(format!("output dtype {other}"))),
        };
        let q = &k.params;
        let p = [
            0,
            0,
            in_bits,
            in_signed,
            in_min,
            out_bits,
            out_min,
            out_max,
            q.input_multiplier,
            q.input_left_shift,
            q.diff_min,
            0,
            0,
            0,
        ];
        (k.depth, false, p)
    };
    if n == 0 {
        return Ok(Vec::new());
    }
    let rows = n / depth;
    let mut params = params;
    params[0] = fit(rows)?;
    params[1] = fit(depth)?;
    params[12] = fit(n)?;
    let bytes: Vec<u8> = params.iter().flat_map(|v| v.to_le_bytes()).collect();
    let params = ctx.upload("softmax params", &bytes)?;
    let stats = ctx.scratch("softmax row statistics", rows as u64 * 16)?;
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    let (rows_entry, out_entry, per_word) = if eigen {
        ("eigen_rows", "eigen_out", 1)
    } else if float {
        ("float_rows", "float_out", 1)
    } else if params_out_bits(output.dtype) == 16 {
        ("quant_rows", "quant_out", 2)
    } else {
        ("quant_rows", "quant_out", 4)
    };
    let key = |e| PipelineKey::new("softmax", e).constant("WG", f64::from(WG));
    let wg = u64::from(WG);
    let rows_dispatch = if float {
        ctx.dispatch(
            &key(rows_entry),
            &[&params, &x, &stats],
            ctx.grid((rows as u64).div_ceil(wg))?,
        )?
    } else {
        let status = ctx.status(
            "a row's sum of exponentials needs a shift outside [0, 31] (TFLite's reference \
             kernel aborts on this row)",
        )?;
        ctx.dispatch_bound(
            &key(rows_entry),
            &[(0, &params), (1, &x), (2, &stats), (4, &status)],
            ctx.grid((rows as u64).div_ceil(wg))?,
        )?
    };
    Ok(vec![
        rows_dispatch,
        ctx.dispatch(
            &key(out_entry),
            &[&params, &x, &stats, &y],
            ctx.grid((n as u64).div_ceil(per_word).div_ceil(wg))?,
        )?,
    ])
}

fn params_out_bits(dtype: DType) -> u32 {
    if dtype == DType::I16 {
        16
    } else {
        8
    }
}
