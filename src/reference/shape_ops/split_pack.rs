//! SPLIT, SPLIT_V, UNPACK (one input, several outputs), PACK (several inputs, one output) and
//! EXPAND_DIMS: `kernels/split.cc`, `split_v.cc`, `unpack.cc`, `pack.cc`, `expand_dims.cc`
//! (Prepare's checks), `reference_ops::Split`, `Unpack`, `Pack` (`reference/reference_ops.h`)
//! and the memcpy of EXPAND_DIMS.
//!
//! `Split` walks the input once per outer row (`prod(dims[..axis])`), copying each output's
//! `Dims(axis) · inner` elements in turn; so output `i` is the strided walk `base = offset_i ·
//! inner`, counts `[outer, d_i · inner]`, steps `[D · inner, 1]` ([`Walk`]). `Unpack` is the
//! same with `d_i = 1`. `Pack` is `Concatenation` along a new axis of size 1 per input
//! ([`ConcatKernel`] without requantization). Elements only move: one loop per element size,
//! as TFLite dispatches these kernels.

use crate::model::{self, DType};
use crate::{Buf, Error, Result, Tensor};

use super::kernels::{ConcatKernel, CopyKernel, Walk};
use super::{check_output_shape, int_values, legacy_params, movable, shape_of, Kernel, OpCtx};

/// `TfLiteTensor::params` equal on two tensors (what PACK, UNPACK and EXPAND_DIMS require).
fn same_params(a: &model::Tensor, b: &model::Tensor) -> bool {
    let ((sa, za), (sb, zb)) = (legacy_params(a), legacy_params(b));
    sa.to_bits() == sb.to_bits() && za == zb
}

/// Several outputs, each a strided walk over one input ([`Walk`]).
pub(crate) struct SplitKernel {
    pub what: String,
    /// The op's input slot holding the data (1 for SPLIT, 0 otherwise).
    pub input: usize,
    pub walks: Vec<Walk>,
}

fn walk_into<T: Copy>(src: &[T], dst: &mut [T], w: &Walk) {
    let rank = w.counts.len();
    let mut k = vec![0usize; rank];
    let mut at = w.base as isize;
    for o in dst.iter_mut() {
        *o = src[at as usize];
        let mut d = rank;
        while d > 0 {
            d -= 1;
            k[d] += 1;
            at += w.steps[d];
            if k[d] < w.counts[d] {
                break;
            }
            at -= w.steps[d] * w.counts[d] as isize;
            k[d] = 0;
        }
    }
}

impl Kernel for SplitKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let x = inputs
            .get(self.input)
            .copied()
            .flatten()
            .ok_or_else(|| Error::Shape(format!("{}: the data input is missing", self.what)))?;
        if outputs.len() != self.walks.len() {
            return Err(Error::Shape(format!(
                "{}: {} outputs, the prepared op has {}",
                self.what,
                outputs.len(),
                self.walks.len()
            )));
        }
        for (i, (out, w)) in outputs.iter_mut().zip(&self.walks).enumerate() {
            if x.len() != w.in_len || out.len() != w.len() {
                return Err(Error::Shape(format!(
                    "{}: input of {} and output {i} of {} elements, the prepared op expects {} \
                     and {}",
                    self.what,
                    x.len(),
                    out.len(),
                    w.in_len,
                    w.len()
                )));
            }
            macro_rules! go {
                ($($v:ident),*) => {
                    match (x.buf(), out.buf_mut()) {
                        $((Buf::$v(s), Buf::$v(d)) => walk_into(s, d, w),)*
                        (s, d) => {
                            return Err(Error::Shape(format!(
                                "{}: input is {}, output {i} is {}",
                                self.what,
                                s.dtype(),
                                d.dtype()
                            )))
                        }
                    }
                };
            }
            go!(F32, F16, I8, U8, I16, I32, I64, Bool);
        }
        Ok(())
    }
}

/// An axis in `[-rank, rank)` made non-negative.
fn norm_axis(axis: i64, rank: usize) -> Option<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a).ok().filter(|&a| a < rank)
}

/// The outputs of a split of `in_shape` along `axis` into pieces of `sizes`, as walks;
/// checks each stored output shape.
fn split_walks(ctx: &OpCtx, in_shape: &[usize], axis: usize, sizes: &[usize]) -> Result<Vec<Walk>> {
    let outer: usize = in_shape[..axis].iter().product();
    let inner: usize = in_shape[axis + 1..].iter().product();
    let in_len: usize = in_shape.iter().product();
    let dim = in_shape[axis];
    let mut walks = Vec::with_capacity(sizes.len());
    let mut offset = 0usize;
    for (i, &d) in sizes.iter().enumerate() {
        let mut out_shape = in_shape.to_vec();
        out_shape[axis] = d;
        check_output_shape(ctx, ctx.output(i)?, &out_shape)?;
        let w = Walk::new(
            in_len,
            (offset * inner) as i64,
            vec![outer, d * inner],
            vec![(dim * inner) as i64, 1],
        )
        .ok_or_else(|| ctx.invalid(format!("output {i} reads outside the input")))?;
        walks.push(w);
        offset += d;
    }
    Ok(walks)
}

/// Every output has the input's dtype; the dtype is one of `allowed`.
fn check_outputs(ctx: &OpCtx, x: &model::Tensor, allowed: &[DType]) -> Result<()> {
    if !allowed.contains(&x.dtype) || !movable(x.dtype) {
        return Err(ctx.unsupported(format!(
            "{} tensors: TFLite's {} takes {allowed:?}",
            x.dtype,
            ctx.op.op.name()
        )));
    }
    for i in 0..ctx.op.outputs.len() {
        let y = ctx.output(i)?;
        if y.dtype != x.dtype {
            return Err(
                ctx.unsupported(format!("output {i} is {}, the input {}", y.dtype, x.dtype))
            );
        }
    }
    Ok(())
}

/// A scalar-like constant integer input (one int32/int64 element).
fn const_scalar(ctx: &OpCtx, i: usize, what: &str, dtypes: &[DType]) -> Result<i64> {
    let t = ctx.input(i)?;
    if !dtypes.contains(&t.dtype) {
        return Err(ctx.unsupported(format!("{what} must be {dtypes:?}, is {}", t.dtype)));
    }
    let v = int_values(ctx.require_const(i, what)?)
        .ok_or_else(|| ctx.invalid(format!("unreadable {what}")))?;
    match v.as_slice() {
        [a] => Ok(*a),
        _ => Err(ctx.invalid(format!("{what} must hold one element, has {}", v.len()))),
    }
}

/// SPLIT (`kernels/split.cc`): inputs (axis, input), `num_splits` equal pieces.
pub(in crate::reference) fn prepare_split(ctx: &OpCtx, num_splits: i32) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 2 {
        return Err(ctx.invalid(format!("takes 2 inputs, has {}", ctx.num_inputs())));
    }
    if i64::from(num_splits) != ctx.op.outputs.len() as i64 {
        return Err(ctx.invalid(format!(
            "has {} outputs, num_splits is {num_splits}",
            ctx.op.outputs.len()
        )));
    }
    let x = ctx.input(1)?;
    use DType::*;
    check_outputs(ctx, x, &[F32, U8, I8, I16, I32])?;
    // `GetTensorData<int>(axis)[0]`: the axis is read as int32.
    let axis = const_scalar(ctx, 0, "the axis", &[I32])?;
    let in_shape = shape_of(x);
    let axis = norm_axis(axis, in_shape.len()).ok_or_else(|| {
        ctx.invalid(format!(
            "axis {axis} is out of range for rank {}",
            in_shape.len()
        ))
    })?;
    let n = num_splits as usize;
    if n == 0 || in_shape[axis] % n != 0 {
        return Err(ctx.invalid(format!(
            "not an even split: axis {axis} of {in_shape:?} into {num_splits}"
        )));
    }
    let walks = split_walks(ctx, &in_shape, axis, &vec![in_shape[axis] / n; n])?;
    Ok(Box::new(SplitKernel {
        what: ctx.label(),
        input: 1,
        walks,
    }))
}

/// SPLIT_V (`kernels/split_v.cc`): inputs (input, size_splits, axis); one `-1` size takes
/// the rest.
pub(in crate::reference) fn prepare_split_v(
    ctx: &OpCtx,
    num_splits: i32,
) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 3 {
        return Err(ctx.invalid(format!("takes 3 inputs, has {}", ctx.num_inputs())));
    }
    if i64::from(num_splits) != ctx.op.outputs.len() as i64 {
        return Err(ctx.invalid(format!(
            "has {} outputs, num_splits is {num_splits}",
            ctx.op.outputs.len()
        )));
    }
    let x = ctx.input(0)?;
    use DType::*;
    check_outputs(ctx, x, &[F32, U8, I16, I32, I64, I8])?;
    let st = ctx.input(1)?;
    if !matches!(st.dtype, I32 | I64) {
        return Err(ctx.unsupported(format!(
            "size_splits must be int32 or int64, is {}",
            st.dtype
        )));
    }
    if st.shape.len() != 1 || st.shape[0] as i64 != ctx.op.outputs.len() as i64 {
        return Err(ctx.invalid(format!(
            "size_splits {:?} must be a vector with one element per output ({})",
            st.shape,
            ctx.op.outputs.len()
        )));
    }
    let sizes = int_values(ctx.require_const(1, "size_splits")?)
        .ok_or_else(|| ctx.invalid("unreadable size_splits"))?;
    let axis = const_scalar(ctx, 2, "the axis", &[I32])?;
    let in_shape = shape_of(x);
    let axis = norm_axis(axis, in_shape.len()).ok_or_else(|| {
        ctx.invalid(format!(
            "axis {axis} is out of range for rank {}",
            in_shape.len()
        ))
    })?;
    let dim = in_shape[axis] as i64;
    let bad = || {
        ctx.invalid(format!(
            "size_splits {sizes:?} do not split axis {axis} of {in_shape:?} (sizes must be \
             non-negative, at most one -1, and sum to {dim})"
        ))
    };
    let minus_one: Vec<usize> = (0..sizes.len()).filter(|&i| sizes[i] == -1).collect();
    if minus_one.len() > 1 || sizes.iter().any(|&s| s < -1) {
        return Err(bad());
    }
    let known: i64 = sizes.iter().filter(|&&s| s != -1).sum();
    let mut resolved = sizes.clone();
    match minus_one.first() {
        Some(&m) if known <= dim => resolved[m] = dim - known,
        None if known == dim => {}
        _ => return Err(bad()),
    }
    let resolved: Vec<usize> = resolved.iter().map(|&s| s as usize).collect();
    let walks = split_walks(ctx, &in_shape, axis, &resolved)?;
    Ok(Box::new(SplitKernel {
        what: ctx.label(),
        input: 0,
        walks,
    }))
}

/// UNPACK (`kernels/unpack.cc`): `num` outputs, each the input without `axis`.
pub(in crate::reference) fn prepare_unpack(
    ctx: &OpCtx,
    num: i32,
    axis: i32,
) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 1 {
        return Err(ctx.invalid(format!("takes 1 input, has {}", ctx.num_inputs())));
    }
    if i64::from(num) != ctx.op.outputs.len() as i64 {
        return Err(ctx.invalid(format!(
            "has {} outputs, num is {num}",
            ctx.op.outputs.len()
        )));
    }
    let x = ctx.input(0)?;
    use DType::*;
    check_outputs(ctx, x, &[I32, F32, F16, U8, I8, I16, Bool])?;
    let in_shape = shape_of(x);
    if in_shape.iter().product::<usize>() == 0 {
        return Err(ctx.invalid("the input has no elements"));
    }
    let a = norm_axis(i64::from(axis), in_shape.len()).ok_or_else(|| {
        ctx.invalid(format!(
            "axis {axis} is out of range for rank {}",
            in_shape.len()
        ))
    })?;
    if in_shape[a] != num as usize {
        return Err(ctx.invalid(format!("num {num} differs from axis {a} of {in_shape:?}")));
    }
    for i in 0..ctx.op.outputs.len() {
        if !same_params(x, ctx.output(i)?) {
            return Err(ctx.unsupported(format!(
                "output {i}'s scale and zero point differ from the input's (TFLite's UNPACK \
                 does not rescale)"
            )));
        }
    }
    let outer: usize = in_shape[..a].iter().product();
    let inner: usize = in_shape[a + 1..].iter().product();
    let in_len: usize = in_shape.iter().product();
    let mut out_shape = in_shape.clone();
    out_shape.remove(a);
    let mut walks = Vec::with_capacity(num as usize);
    for i in 0..num as usize {
        check_output_shape(ctx, ctx.output(i)?, &out_shape)?;
        let w = Walk::new(
            in_len,
            (i * inner) as i64,
            vec![outer, inner],
            vec![(in_shape[a] * inner) as i64, 1],
        )
        .ok_or_else(|| ctx.invalid(format!("output {i} reads outside the input")))?;
        walks.push(w);
    }
    Ok(Box::new(SplitKernel {
        what: ctx.label(),
        input: 0,
        walks,
    }))
}

/// PACK (`kernels/pack.cc`): `values_count` inputs of one shape stacked on a new `axis`.
pub(in crate::reference) fn prepare_pack(
    ctx: &OpCtx,
    values_count: i32,
    axis: i32,
) -> Result<Box<dyn Kernel>> {
    if i64::from(values_count) != ctx.num_inputs() as i64 || values_count < 1 {
        return Err(ctx.invalid(format!(
            "has {} inputs, values_count is {values_count}",
            ctx.num_inputs()
        )));
    }
    if ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!("has {} outputs, not 1", ctx.op.outputs.len())));
    }
    let x0 = ctx.input(0)?;
    let y = ctx.output(0)?;
    use DType::*;
    // UINT32 is in TFLite's list too; the engines do not hold it.
    if !matches!(x0.dtype, I32 | F32 | U8 | I8 | I16 | I64) {
        return Err(ctx.unsupported(format!(
            "{} tensors: TFLite's PACK takes int32, float32, uint8, uint32, int8, int16, int64",
            x0.dtype
        )));
    }
    let in_shape = shape_of(x0);
    let rank = in_shape.len() + 1;
    let a = if axis < 0 { axis + rank as i32 } else { axis };
    let a = usize::try_from(a)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| ctx.invalid(format!("axis {axis} is out of range for rank {rank}")))?;
    for i in 0..ctx.num_inputs() {
        let t = ctx.input(i)?;
        if t.dtype != x0.dtype || shape_of(t) != in_shape {
            return Err(ctx.invalid(format!(
                "input {i} is {} {:?}, input 0 {} {in_shape:?}: PACK needs one shape and type",
                t.dtype, t.shape, x0.dtype
            )));
        }
        if !same_params(t, y) {
            return Err(ctx.unsupported(format!(
                "input {i}'s scale and zero point differ from the output's (TFLite's PACK does \
                 not rescale)"
            )));
        }
    }
    if y.dtype != x0.dtype {
        return Err(ctx.unsupported("the output's dtype differs from the inputs'"));
    }
    let mut out_shape = in_shape.clone();
    out_shape.insert(a, values_count as usize);
    check_output_shape(ctx, y, &out_shape)?;
    let outer: usize = in_shape[..a].iter().product();
    let inner: usize = in_shape[a..].iter().product();
    Ok(Box::new(ConcatKernel {
        what: ctx.label(),
        outer,
        copy: vec![inner; values_count as usize],
        requant: vec![None; values_count as usize],
    }))
}

/// EXPAND_DIMS (`kernels/expand_dims.cc`): a size-1 axis inserted; the data is copied.
pub(in crate::reference) fn prepare_expand_dims(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!(
            "takes 2 inputs and 1 output, has {} and {}",
            ctx.num_inputs(),
            ctx.op.outputs.len()
        )));
    }
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    if x.dtype != y.dtype || !movable(x.dtype) {
        return Err(ctx.unsupported(format!("{} to {} is not supported", x.dtype, y.dtype)));
    }
    if !same_params(x, y) {
        return Err(ctx.unsupported(
            "the output's scale and zero point differ from the input's (TFLite's EXPAND_DIMS \
             requires them equal)",
        ));
    }
    // A computed axis makes TFLite's output dynamic; the engines plan shapes at prepare.
    let axis = const_scalar(ctx, 1, "the axis", &[DType::I32, DType::I64])?;
    let in_shape = shape_of(x);
    let rank = in_shape.len() as i64;
    let a = if axis < 0 { rank + 1 + axis } else { axis };
    if !(0..=rank).contains(&a) {
        return Err(ctx.invalid(format!(
            "axis {axis} is out of range for an input of rank {rank}"
        )));
    }
    let mut out_shape = in_shape.clone();
    out_shape.insert(a as usize, 1);
    check_output_shape(ctx, y, &out_shape)?;
    Ok(Box::new(CopyKernel {
        what: ctx.label(),
        len: in_shape.iter().product(),
        runtime_shape: None,
    }))
}
