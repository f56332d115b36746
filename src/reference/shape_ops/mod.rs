//! Data movement: RESHAPE/SQUEEZE, CONCATENATION, PAD/PADV2, STRIDED_SLICE, SLICE, TRANSPOSE,
//! SPLIT/SPLIT_V/UNPACK/PACK/EXPAND_DIMS ([`split_pack`]) and GATHER ([`gather`]).
//!
//! Each `prepare_*` follows the op's `Prepare` in LiteRT's `kernels/*.cc`: it checks arity,
//! dtypes and the constant index inputs, computes the output shape the way TFLite does and
//! requires it to equal the shape the model stores (the engine runs with static shapes), and
//! turns the index arithmetic of the reference kernel into a plan ([`kernels`]). Running
//! moves elements only, so float32, int8, uint8, int16, int32, int64, float16 and bool share
//! one loop, as they share one `memcpy`/size-dispatched template in TFLite. The only
//! arithmetic is uint8 CONCATENATION of inputs whose parameters differ from the output's.

mod concatenation;
pub(crate) mod fill;
pub(crate) mod gather;
pub(crate) mod kernels;
mod pad;
pub(crate) mod split_pack;
mod strided_slice;
#[cfg(test)]
mod tests;

use crate::model::{self, DType, Op, StridedSliceOptions};
use crate::{Buf, Result, Tensor};

use super::common::shape_of;
use super::{Kernel, OpCtx};
pub(super) use concatenation::prepare_concatenation;
pub(super) use fill::{prepare_broadcast_to, prepare_fill, prepare_shape, prepare_zeros_like};
pub(super) use gather::prepare_gather;
use kernels::{CopyKernel, GatherKernel, Walk};
pub(super) use pad::prepare_pad;
pub(super) use split_pack::{
    prepare_expand_dims, prepare_pack, prepare_split, prepare_split_v, prepare_unpack,
};

/// Whether the engines can hold the dtype (what every data-movement kernel needs).
fn movable(dtype: DType) -> bool {
    Buf::zeros(dtype, 0).is_some()
}

/// `TfLiteTensor::params`, the legacy per-tensor parameters the kernels compare: the scale
/// and zero point when the tensor has exactly one of each, else `(0, 0)`.
fn legacy_params(t: &model::Tensor) -> (f32, i32) {
    match &t.quant {
        Some(q) if q.scale.len() == 1 && q.zero_point.len() == 1 => {
            (q.scale[0], q.zero_point[0] as i32)
        }
        _ => (0.0, 0),
    }
}

/// `quantization.type != kTfLiteNoQuantization`: the tensor has a scale vector.
fn is_quantized(t: &model::Tensor) -> bool {
    t.quant.as_ref().is_some_and(|q| !q.scale.is_empty())
}

/// Integer values of a constant index input (int32 or int64; other dtypes as allowed).
fn int_values(t: &Tensor) -> Option<Vec<i64>> {
    Some(match t.buf() {
        Buf::I32(v) => v.iter().map(|&x| x as i64).collect(),
        Buf::I64(v) => v.clone(),
        Buf::I16(v) => v.iter().map(|&x| x as i64).collect(),
        Buf::I8(v) => v.iter().map(|&x| x as i64).collect(),
        Buf::Bool(v) => v.iter().map(|&x| x as i64).collect(),
        _ => return None,
    })
}

/// Row-major element strides of a shape.
fn strides_of(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Arity check: the op has `n` inputs (counting omitted ones) and one output.
fn arity(ctx: &OpCtx, inputs: &[usize]) -> Result<()> {
    if !inputs.contains(&ctx.num_inputs()) {
        return Err(ctx.invalid(format!("takes {inputs:?} inputs, has {}", ctx.num_inputs())));
    }
    if ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!("has {} outputs, not 1", ctx.op.outputs.len())));
    }
    Ok(())
}

/// Input 0 and output 0, same dtype, one the engines can hold.
fn data_io<'a>(ctx: &OpCtx<'a>) -> Result<(&'a model::Tensor, &'a model::Tensor)> {
    let (x, y) = (ctx.input(0)?, ctx.output(0)?);
    if x.dtype != y.dtype {
        return Err(ctx.unsupported("input and output dtypes differ"));
    }
    if !movable(x.dtype) {
        return Err(ctx.unsupported(format!("{} tensors are not supported", x.dtype)));
    }
    Ok((x, y))
}

/// The computed output shape must be the model's (static shapes).
fn check_output_shape(ctx: &OpCtx, y: &model::Tensor, want: &[usize]) -> Result<()> {
    let got = shape_of(y);
    if got != want {
        return Err(ctx.invalid(format!(
            "the output '{}' is stored as {got:?}, TFLite computes {want:?}",
            y.name
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// RESHAPE, SQUEEZE (kernels/reshape.cc, kernels/squeeze.cc)

/// `reshape::ResizeOutput`: resolve the one `-1` (stretch) dimension so that the element
/// counts match; `None` if they cannot.
fn reshape_output_shape(input_shape: &[usize], requested: &[i64]) -> Option<Vec<usize>> {
    // Checked: a shape with a zero dimension holds no elements however large the others
    // are, and the product of its non-zero dimensions can overflow (a fuzz find).
    let dims = || input_shape.iter().map(|&d| d as i64);
    let num_input = dims().try_fold(1i64, |a, d| a.checked_mul(d))?;
    let non_zero_input = dims()
        .filter(|&d| d != 0)
        .try_fold(1i64, |a, d| a.checked_mul(d))?;
    let (mut num_output, mut non_zero_output) = (1i64, 1i64);
    let mut stretch = None;
    for (i, &v) in requested.iter().enumerate() {
        if v == -1 {
            if stretch.is_some() {
                return None;
            }
            stretch = Some(i);
            continue;
        } else if v != 0 {
            non_zero_output = non_zero_output.checked_mul(v)?;
        }
        num_output = num_output.checked_mul(v)?;
    }
    let mut shape = requested.to_vec();
    if let Some(s) = stretch {
        shape[s] = if num_input == 0 && num_output != 0 {
            0
        } else if non_zero_output == 0 {
            return None;
        } else {
            non_zero_input / non_zero_output
        };
        num_output = num_output.checked_mul(shape[s])?;
    }
    if num_input != num_output {
        return None;
    }
    shape.iter().map(|&d| usize::try_from(d).ok()).collect()
}

/// RESHAPE and SQUEEZE: a copy under the output's shape.
pub(super) fn prepare_reshape(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    match &ctx.op.op {
        Op::Squeeze { squeeze_dims } => prepare_squeeze(ctx, squeeze_dims),
        Op::Reshape { new_shape } => prepare_reshape_op(ctx, new_shape.as_deref()),
        _ => Err(ctx.unsupported("not a RESHAPE or SQUEEZE")),
    }
}

fn prepare_reshape_op(ctx: &OpCtx, new_shape: Option<&[i32]>) -> Result<Box<dyn Kernel>> {
    arity(ctx, &[1, 2])?;
    let (x, y) = data_io(ctx)?;
    let in_shape = shape_of(x);
    let what = ctx.label();
    // `GetOutputShape`: the shape input when it is an int32 vector, else the options.
    let shape_tensor = (ctx.num_inputs() == 2)
        .then(|| ctx.opt_input(1))
        .flatten()
        .filter(|t| t.shape.len() == 1 && t.dtype == DType::I32);
    let mut runtime_shape = None;
    let requested: Vec<i64> = match shape_tensor {
        Some(_) => match ctx.const_input(1) {
            Some(v) => int_values(v).ok_or_else(|| ctx.invalid("unreadable shape input"))?,
            None => {
                // Known only at run time in TFLite; here the stored output shape must hold.
                runtime_shape = Some(kernels::RuntimeShape {
                    input: 1,
                    input_shape: in_shape.clone(),
                    output_shape: shape_of(y),
                });
                shape_of(y).iter().map(|&d| d as i64).collect()
            }
        },
        None => {
            let dims: &[i32] = new_shape.unwrap_or(&[]);
            // Legacy models write [0] for a scalar.
            if dims == [0] {
                Vec::new()
            } else {
                dims.iter().map(|&d| d as i64).collect()
            }
        }
    };
    let out_shape = reshape_output_shape(&in_shape, &requested).ok_or_else(|| {
        ctx.invalid(format!(
            "cannot reshape {in_shape:?} to {requested:?} (element counts differ)"
        ))
    })?;
    check_output_shape(ctx, y, &out_shape)?;
    Ok(Box::new(CopyKernel {
        what,
        len: in_shape.iter().product(),
        runtime_shape,
    }))
}

/// `squeeze::Prepare`: the listed size-1 axes (all size-1 axes when none are listed) go.
fn squeeze_output_shape(in_shape: &[usize], squeeze_dims: &[i32]) -> Option<Vec<usize>> {
    let rank = in_shape.len();
    if rank > 8 {
        return None;
    }
    let mut squeeze = [false; 8];
    if squeeze_dims.is_empty() {
        for (d, &n) in in_shape.iter().enumerate() {
            squeeze[d] = n == 1;
        }
    } else {
        for &s in squeeze_dims {
            let current = if s < 0 { s + rank as i32 } else { s };
            let current = usize::try_from(current).ok().filter(|&c| c < rank)?;
            if in_shape[current] != 1 {
                return None;
            }
            squeeze[current] = true;
        }
    }
    Some(
        in_shape
            .iter()
            .enumerate()
            .filter(|&(d, _)| !squeeze[d])
            .map(|(_, &n)| n)
            .collect(),
    )
}

fn prepare_squeeze(ctx: &OpCtx, squeeze_dims: &[i32]) -> Result<Box<dyn Kernel>> {
    arity(ctx, &[1])?;
    let (x, y) = data_io(ctx)?;
    let in_shape = shape_of(x);
    let out_shape = squeeze_output_shape(&in_shape, squeeze_dims).ok_or_else(|| {
        ctx.invalid(format!(
            "cannot squeeze axes {squeeze_dims:?} of {in_shape:?} (rank above 8, an axis out \
             of range or not of size 1)"
        ))
    })?;
    check_output_shape(ctx, y, &out_shape)?;
    Ok(Box::new(CopyKernel {
        what: ctx.label(),
        len: in_shape.iter().product(),
        runtime_shape: None,
    }))
}

// ---------------------------------------------------------------------------------------
// STRIDED_SLICE (kernels/strided_slice.cc, reference/strided_slice.h)

/// An int32 vector constant input.
fn const_i32_vector(ctx: &OpCtx, i: usize, what: &str) -> Result<Vec<i32>> {
    let t = ctx.input(i)?;
    if t.dtype != DType::I32 {
        return Err(ctx.unsupported(format!("{what} must be int32, is {}", t.dtype)));
    }
    if t.shape.len() != 1 {
        return Err(ctx.invalid(format!("{what} must be a vector")));
    }
    match ctx.require_const(i, what)?.buf() {
        Buf::I32(v) => Ok(v.clone()),
        _ => Err(ctx.invalid(format!("unreadable {what}"))),
    }
}

pub(super) fn prepare_strided_slice(
    ctx: &OpCtx,
    o: &StridedSliceOptions,
) -> Result<Box<dyn Kernel>> {
    arity(ctx, &[4])?;
    let (x, y) = data_io(ctx)?;
    let begin = const_i32_vector(ctx, 1, "begin")?;
    let end = const_i32_vector(ctx, 2, "end")?;
    let strides = const_i32_vector(ctx, 3, "strides")?;
    if begin.len() != end.len() || strides.len() != begin.len() {
        return Err(ctx.invalid(format!(
            "begin, end and strides have {}, {} and {} elements",
            begin.len(),
            end.len(),
            strides.len()
        )));
    }
    if begin.len() > 31 {
        return Err(ctx.invalid("StridedSlice op only supports up to 31 indices"));
    }
    let in_shape = shape_of(x);
    let in_dims: Vec<i32> = x.shape.clone();
    let unsupported_masks = || {
        ctx.unsupported(format!(
            "masks (begin {}, end {}, ellipsis {}, new axis {}, shrink {}) that index past the \
             {} given indices or the input's rank {} (LiteRT would read out of bounds), or \
             more than 32 effective dimensions",
            o.begin_mask,
            o.end_mask,
            o.ellipsis_mask,
            o.new_axis_mask,
            o.shrink_axis_mask,
            begin.len(),
            in_shape.len()
        ))
    };
    let shape_params = strided_slice::build_params(o, &in_dims, &begin, &end, &strides, !o.offset)
        .ok_or_else(unsupported_masks)?;
    let out_shape = strided_slice::output_shape(&shape_params, &end)
        .map_err(|e| ctx.unsupported(format!("StridedSlice: {e}")))?;
    check_output_shape(ctx, y, &out_shape)?;

    // Eval: BuildStridedSliceParams(..., true), then the loops of StridedSlice over the
    // effective input shape.
    let p = strided_slice::build_params(o, &in_dims, &begin, &end, &strides, true)
        .ok_or_else(unsupported_masks)?;
    let eff: Vec<usize> = p
        .effective_shape
        .iter()
        .map(|&d| d.max(0) as usize)
        .collect();
    let in_strides = strides_of(&eff);
    let loops = strided_slice::loops(&p);
    let base: i64 = loops
        .iter()
        .zip(&in_strides)
        .map(|(&(start, _, count), &s)| if count > 0 { start * s as i64 } else { 0 })
        .sum();
    let counts: Vec<usize> = loops.iter().map(|l| l.2).collect();
    let steps: Vec<i64> = loops
        .iter()
        .zip(&in_strides)
        .map(|(&(_, stride, _), &s)| stride * s as i64)
        .collect();
    let in_len: usize = in_shape.iter().product();
    let out_len: usize = out_shape.iter().product();
    // A rank-0 input is one write of element 0.
    let walk = Walk::new(in_len, base, counts, steps)
        .filter(|w| w.len() == out_len)
        .ok_or_else(|| {
            ctx.unsupported(format!(
                "the slice of {in_shape:?} (begin {begin:?}, end {end:?}, strides {strides:?}) \
                 does not fill the output {out_shape:?} with in-range elements"
            ))
        })?;
    Ok(Box::new(GatherKernel {
        what: ctx.label(),
        walk,
    }))
}

// ---------------------------------------------------------------------------------------
// SLICE (kernels/slice.cc, reference/slice.h)

pub(super) fn prepare_slice(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    arity(ctx, &[3])?;
    let (x, y) = data_io(ctx)?;
    let in_shape = shape_of(x);
    let rank = in_shape.len();
    let (bt, st) = (ctx.input(1)?, ctx.input(2)?);
    if !matches!(bt.dtype, DType::I32 | DType::I64) || bt.dtype != st.dtype {
        return Err(ctx.unsupported(format!(
            "begin and size must both be int32 or int64, are {} and {}",
            bt.dtype, st.dtype
        )));
    }
    if shape_of(bt) != [rank] || shape_of(st) != [rank] {
        return Err(ctx.invalid(format!(
            "begin and size must be vectors of {rank} elements (the input rank)"
        )));
    }
    let begin = int_values(ctx.require_const(1, "begin")?)
        .ok_or_else(|| ctx.invalid("unreadable begin"))?;
    let size =
        int_values(ctx.require_const(2, "size")?).ok_or_else(|| ctx.invalid("unreadable size"))?;
    // CalculateOutputShapeVector; the reference loop is `for i = begin; i < stop` with
    // `stop = size == -1 ? dim : begin + size`.
    let mut out_shape = Vec::with_capacity(rank);
    for d in 0..rank {
        let dim = in_shape[d] as i64;
        let (b, s) = (begin[d], size[d]);
        let n = if b < 0 || dim < b {
            None
        } else if s == -1 {
            Some(dim - b)
        } else if s < 0 || dim - b < s {
            None
        } else {
            Some(s)
        };
        let n = n.ok_or_else(|| {
            ctx.invalid(format!(
                "begin {b} and size {s} do not fit axis {d} of size {dim}"
            ))
        })?;
        out_shape.push(n as usize);
    }
    check_output_shape(ctx, y, &out_shape)?;
    let in_strides = strides_of(&in_shape);
    let base: i64 = (0..rank).map(|d| begin[d] * in_strides[d] as i64).sum();
    let steps: Vec<i64> = in_strides.iter().map(|&s| s as i64).collect();
    let walk = Walk::new(in_shape.iter().product(), base, out_shape.clone(), steps)
        .ok_or_else(|| ctx.invalid("the slice reads outside the input"))?;
    Ok(Box::new(GatherKernel {
        what: ctx.label(),
        walk,
    }))
}

// ---------------------------------------------------------------------------------------
// TRANSPOSE (kernels/transpose.cc, reference/transpose.h)

/// `kTransposeMaxDimensions`.
const TRANSPOSE_MAX_DIMS: usize = 6;

pub(super) fn prepare_transpose(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    arity(ctx, &[2])?;
    let (x, y) = data_io(ctx)?;
    let in_shape = shape_of(x);
    let dims = in_shape.len();
    if dims > TRANSPOSE_MAX_DIMS {
        return Err(ctx.unsupported(format!(
            "rank {dims}: TFLite's TRANSPOSE supports up to {TRANSPOSE_MAX_DIMS} dimensions"
        )));
    }
    let perm = const_i32_vector(ctx, 1, "the permutation")?;
    if perm.len() != dims {
        return Err(ctx.invalid(format!(
            "the permutation has {} entries for rank {dims}",
            perm.len()
        )));
    }
    let mut seen = 0u64;
    let mut axes = Vec::with_capacity(dims);
    for &p in &perm {
        if p < -(dims as i32) || p >= dims as i32 {
            return Err(ctx.invalid(format!("permutation {perm:?} is out of bounds")));
        }
        let a = if p < 0 { p + dims as i32 } else { p } as usize;
        if seen & (1 << a) != 0 {
            return Err(ctx.invalid(format!("permutation {perm:?} repeats an axis")));
        }
        seen |= 1 << a;
        axes.push(a);
    }
    let out_shape: Vec<usize> = axes.iter().map(|&a| in_shape[a]).collect();
    check_output_shape(ctx, y, &out_shape)?;
    // reference_ops::Transpose: output position o reads input Σ o_k · in_stride[perm[k]].
    let in_strides = strides_of(&in_shape);
    let steps: Vec<i64> = axes.iter().map(|&a| in_strides[a] as i64).collect();
    let walk = Walk::new(in_shape.iter().product(), 0, out_shape, steps)
        .ok_or_else(|| ctx.invalid("the permutation reads outside the input"))?;
    Ok(Box::new(GatherKernel {
        what: ctx.label(),
        walk,
    }))
}
