//! Shape ops on the GPU, twin of `src/reference/shape_ops`.
//!
//! - RESHAPE and SQUEEZE copy the bytes (`memcpy` in TFLite): a buffer-to-buffer copy.
//! - TRANSPOSE, SLICE, STRIDED_SLICE run the reference's [`Walk`] (base and per-axis steps)
//!   in `shaders/shape_ops.wgsl::gather`; PAD/PADV2 the same walk over the output box with
//!   the out-of-input positions taking the pad value; CONCATENATION one walk per input that
//!   writes only its slab of each output row (uint8 inputs with other parameters map their
//!   bytes through the reference's own requantization, tabulated for the 256 values).
//!
//! Elements move as units of 8, 16 or 32 bits (int64 as two 32-bit units); one invocation
//! owns one output word.

use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::model::DType;
use crate::reference::shape_ops::fill::FillKernel;
use crate::reference::shape_ops::gather::GatherIndexKernel;
use crate::reference::shape_ops::kernels::{
    ConcatKernel, CopyKernel, GatherKernel, PadKernel, PadValue, Walk,
};
use crate::reference::shape_ops::split_pack::SplitKernel;
use crate::{Buf, Result};

/// Invocations per workgroup of the gather kernel.
const WG: u32 = 64;

/// RESHAPE, SQUEEZE.
pub(crate) fn prepare_reshape(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &CopyKernel = ctx.kernel()?;
    if k.runtime_shape.is_some() {
        // The reference checks a computed shape input at run time; the device cannot refuse
        // a run, so the check would need a readback mid-inference.
        return Err(ctx.unsupported(
            "RESHAPE with a computed (non-constant) shape input is not run on the GPU",
        ));
    }
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    Ok(vec![Command::Copy {
        src: x.buffer,
        dst: y.buffer,
        size: x.size.min(y.size),
    }])
}

/// One axis of a gather plan, in elements (converted to units by [`Plan::words`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Axis {
    pub count: usize,
    pub step: i64,
    pub lo: usize,
    pub hi: usize,
}

/// What positions outside an axis box `[lo, hi)` get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outside {
    /// Never happens (every `lo = 0`, `hi = count`).
    Gather = 0,
    /// The pad value from `aux`.
    Pad = 1,
    /// The output keeps what is there.
    Keep = 2,
}

/// A gather over an output box: output element `k` (row-major over `axes`) reads input
/// element `base + Σ k_d · step_d` when every `lo_d <= k_d < hi_d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub elem_bytes: usize,
    pub base: i64,
    pub axes: Vec<Axis>,
    pub outside: Outside,
    pub table: bool,
    /// Output words before the one holding this element are not dispatched (a
    /// CONCATENATION input's slab starts there).
    pub first_unit: usize,
    /// Nor are the words after the one holding the element before this one (`None`: up to
    /// the end).
    pub end_unit: Option<usize>,
}

impl Plan {
    /// The `plan` words of the shader (in units), or `None` if a value does not fit `i32`.
    pub(crate) fn words(&self) -> Option<Vec<i32>> {
        let (bits, split) = match self.elem_bytes {
            1 => (8, 1),
            2 => (16, 1),
            4 => (32, 1),
            8 => (32, 2),
            _ => return None,
        };
        let mut axes = self.axes.clone();
        let mut base = self.base;
        if split > 1 {
            for a in &mut axes {
                a.step = a.step.checked_mul(split)?;
            }
            base = base.checked_mul(split)?;
            axes.push(Axis {
                count: split as usize,
                step: 1,
                lo: 0,
                hi: split as usize,
            });
        }
        let units = axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.count))?;
        let i = |v: i64| i32::try_from(v).ok();
        let u = |v: usize| i32::try_from(v).ok();
        let mut w = vec![
            u(axes.len())?,
            u(units)?,
            bits,
            i(base)?,
            self.outside as i32,
            i32::from(self.table),
            split as i32,
            u(self.first_unit.checked_mul(split as usize)? / (32 / bits as usize))?,
        ];
        for a in &axes {
            w.extend([u(a.count)?, i(a.step)?, u(a.lo)?, u(a.hi)?]);
        }
        Some(w)
    }
}

fn elem_bytes(ctx: &GpuOpCtx, dtype: DType) -> Result<usize> {
    Buf::zeros(dtype, 1)
        .map(|b| b.to_le_bytes().len())
        .ok_or_else(|| ctx.unsupported(format!("dtype {dtype}")))
}

fn output_dtype(ctx: &GpuOpCtx) -> Result<DType> {
    let t = ctx
        .op
        .op
        .outputs
        .first()
        .and_then(|&t| usize::try_from(t).ok())
        .and_then(|t| ctx.op.sg.tensors.get(t))
        .ok_or_else(|| ctx.op.invalid("output 0 is missing"))?;
    Ok(t.dtype)
}

/// Record one gather dispatch of `plan` from `src` (with `aux`) into the op's output.
fn gather(
    ctx: &GpuOpCtx,
    plan: &Plan,
    src: &super::Arg,
    aux: &super::Arg,
    label: &str,
) -> Result<Command> {
    gather_into(ctx, plan, src, aux, &ctx.output(0)?, label)
}

/// [`gather`] into `out`.
fn gather_into(
    ctx: &GpuOpCtx,
    plan: &Plan,
    src: &super::Arg,
    aux: &super::Arg,
    out: &super::Arg,
    label: &str,
) -> Result<Command> {
    let words = plan
        .words()
        .ok_or_else(|| ctx.unsupported("the tensor is too large for 32-bit indices"))?;
    let units = words[1] as u64;
    let per_word = 32 / words[2] as u64;
    let first_word = words[7] as u64;
    let bytes: Vec<u8> = words.iter().flat_map(|v| v.to_le_bytes()).collect();
    let plan_buf = ctx.upload(label, &bytes)?;
    // Units per element (2 for int64); dispatch up to the word holding the last element.
    let split = words[6] as u64;
    let end_word = match plan.end_unit {
        Some(e) => (e as u64 * split).div_ceil(per_word),
        None => units.div_ceil(per_word),
    };
    let groups = end_word.saturating_sub(first_word).div_ceil(u64::from(WG));
    let key = PipelineKey::new("shape_ops", "gather").constant("WG", f64::from(WG));
    ctx.dispatch(&key, &[&plan_buf, src, aux, out], ctx.grid(groups)?)
}

/// A placeholder `aux` binding for plans that read none.
fn no_aux(ctx: &GpuOpCtx) -> Result<super::Arg> {
    ctx.upload("shape_ops no aux", &[0; 4])
}

/// The gather plan of a [`Walk`].
fn walk_plan(elem_bytes: usize, w: &Walk) -> Plan {
    Plan {
        elem_bytes,
        base: w.base as i64,
        axes: w
            .counts
            .iter()
            .zip(&w.steps)
            .map(|(&count, &step)| Axis {
                count,
                step: step as i64,
                lo: 0,
                hi: count,
            })
            .collect(),
        outside: Outside::Gather,
        table: false,
        first_unit: 0,
        end_unit: None,
    }
}

/// SPLIT, SPLIT_V, UNPACK: one walk per output.
pub(crate) fn prepare_split(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &SplitKernel = ctx.kernel()?;
    let elem = elem_bytes(ctx, output_dtype(ctx)?)?;
    let x = ctx.input(k.input)?;
    let aux = no_aux(ctx)?;
    let mut commands = Vec::new();
    for (i, w) in k.walks.iter().enumerate() {
        if w.len() == 0 {
            continue;
        }
        let out = ctx.output(i)?;
        let label = format!("{} output {i}", k.what);
        commands.push(gather_into(
            ctx,
            &walk_plan(elem, w),
            &x,
            &aux,
            &out,
            &label,
        )?);
    }
    Ok(commands)
}

/// TRANSPOSE, SLICE, STRIDED_SLICE.
pub(crate) fn prepare_gather(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &GatherKernel = ctx.kernel()?;
    let w = &k.walk;
    let plan = walk_plan(elem_bytes(ctx, output_dtype(ctx)?)?, w);
    if w.len() == 0 {
        return Ok(Vec::new());
    }
    let x = ctx.input(0)?;
    Ok(vec![gather(ctx, &plan, &x, &no_aux(ctx)?, &k.what)?])
}

/// PAD, PADV2.
pub(crate) fn prepare_pad(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &PadKernel = ctx.kernel()?;
    if k.out_shape.iter().product::<usize>() == 0 {
        return Ok(Vec::new());
    }
    let rank = k.out_shape.len();
    let mut strides = vec![1i64; rank];
    for d in (0..rank.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * k.in_shape[d + 1] as i64;
    }
    let plan = Plan {
        elem_bytes: elem_bytes(ctx, output_dtype(ctx)?)?,
        base: -(0..rank)
            .map(|d| k.left[d] as i64 * strides[d])
            .sum::<i64>(),
        axes: (0..rank)
            .map(|d| Axis {
                count: k.out_shape[d],
                step: strides[d],
                lo: k.left[d],
                hi: k.left[d] + k.in_shape[d],
            })
            .collect(),
        outside: Outside::Pad,
        table: false,
        first_unit: 0,
        end_unit: None,
    };
    let value = match &k.value {
        PadValue::Fixed(b) => ctx.upload("pad value", &b.to_le_bytes())?,
        // The first element of the pad-value input (its first unit(s) of word 0 and 1).
        PadValue::Input(i) => ctx.input(*i)?,
    };
    let x = if k.in_shape.iter().product::<usize>() == 0 {
        no_aux(ctx)?
    } else {
        ctx.input(0)?
    };
    Ok(vec![gather(ctx, &plan, &x, &value, &k.what)?])
}

/// CONCATENATION.
pub(crate) fn prepare_concatenation(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &ConcatKernel = ctx.kernel()?;
    let elem = elem_bytes(ctx, output_dtype(ctx)?)?;
    let row: usize = k.copy.iter().sum();
    let mut commands = Vec::new();
    let mut offset = 0usize;
    for (i, (&n, rq)) in k.copy.iter().zip(&k.requant).enumerate() {
        if n == 0 || k.outer == 0 {
            offset += n;
            continue;
        }
        let plan = Plan {
            elem_bytes: elem,
            base: -(offset as i64),
            axes: vec![
                Axis {
                    count: k.outer,
                    step: n as i64,
                    lo: 0,
                    hi: k.outer,
                },
                Axis {
                    count: row,
                    step: 1,
                    lo: offset,
                    hi: offset + n,
                },
            ],
            // A single input covers every position.
            outside: if n == row {
                Outside::Gather
            } else {
                Outside::Keep
            },
            table: rq.is_some(),
            // The word holding the slab's first element of the first row.
            first_unit: offset,
            // One past the slab's last element of the last row.
            end_unit: Some((k.outer - 1) * row + offset + n),
        };
        let aux = match rq {
            // The reference's float requantization of each of the 256 uint8 values.
            Some(rq) => {
                let table: Vec<u8> = (0..=255u8)
                    .flat_map(|q| u32::from(rq.apply(q)).to_le_bytes())
                    .collect();
                ctx.upload("concatenation requantization", &table)?
            }
            None => no_aux(ctx)?,
        };
        let x = ctx.input(i)?;
        commands.push(gather(
            ctx,
            &plan,
            &x,
            &aux,
            &format!("{} input {i}", k.what),
        )?);
        offset += n;
    }
    Ok(commands)
}

/// GATHER: `shaders/shape_ops.wgsl::gather_index`, the indices read on the device; an index
/// out of bounds sets the op's status flag, so the run fails as the reference's does.
pub(crate) fn prepare_gather_index(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &GatherIndexKernel = ctx.kernel()?;
    if k.out_len() == 0 {
        return Ok(Vec::new());
    }
    let elem = elem_bytes(ctx, output_dtype(ctx)?)?;
    let (bits, split) = match elem {
        1 => (8u32, 1usize),
        2 => (16, 1),
        4 => (32, 1),
        8 => (32, 2),
        _ => return Err(ctx.unsupported(format!("{elem}-byte elements"))),
    };
    let index_bits = match ctx.op.input(1)?.dtype {
        DType::I16 => 16,
        DType::I32 => 32,
        DType::I64 => 64,
        d => return Err(ctx.unsupported(format!("{d} indices"))),
    };
    let too_large = || ctx.unsupported("the tensor is too large for 32-bit indices");
    let units = k.out_len().checked_mul(split).ok_or_else(too_large)?;
    // Every unit index the shader forms stays below 2^32 when the input's does.
    k.in_len
        .checked_mul(split)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(too_large)?;
    let words: Vec<i32> = [
        units,
        bits as usize,
        split,
        k.outer,
        k.coords,
        k.inner,
        k.axis_size,
        index_bits,
    ]
    .iter()
    .map(|&v| i32::try_from(v).map_err(|_| too_large()))
    .collect::<Result<_>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|v| v.to_le_bytes()).collect();
    let plan = ctx.upload(&k.what, &bytes)?;
    let status = ctx.status(&format!(
        "{}: a gather index is out of bounds for an axis of size {} (LiteRT fails the run)",
        k.what, k.axis_size
    ))?;
    let (x, indices, out) = (ctx.input(0)?, ctx.input(1)?, ctx.output(0)?);
    let per_word = 32 / bits as u64;
    let groups = (units as u64).div_ceil(per_word).div_ceil(u64::from(WG));
    let key = PipelineKey::new("shape_ops", "gather_index").constant("WG", f64::from(WG));
    Ok(vec![ctx.dispatch(
        &key,
        &[&plan, &x, &indices, &out, &status],
        ctx.grid(groups)?,
    )?])
}

/// FILL: the value's first element at every output position (a walk of step 0).
pub(crate) fn prepare_fill(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &FillKernel = ctx.kernel()?;
    if k.len == 0 {
        return Ok(Vec::new());
    }
    let walk = Walk::new(1, 0, vec![k.len], vec![0])
        .ok_or_else(|| ctx.unsupported("the fill does not fit a walk"))?;
    let plan = walk_plan(elem_bytes(ctx, output_dtype(ctx)?)?, &walk);
    let value = ctx.input(k.input)?;
    Ok(vec![gather(ctx, &plan, &value, &no_aux(ctx)?, &k.what)?])
}

/// ZEROS_LIKE: the output buffer cleared.
pub(crate) fn prepare_zeros(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let _: &crate::reference::shape_ops::fill::ZerosKernel = ctx.kernel()?;
    Ok(vec![Command::Clear {
        buffer: ctx.output(0)?.buffer,
    }])
}
