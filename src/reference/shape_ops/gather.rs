//! GATHER: `kernels/gather.cc` (Prepare's checks and output shape) and `reference_ops::Gather`
//! (`reference/gather.h`, which `optimized_ops::Gather` is for these types).
//!
//! With `batch = prod(dims[..batch_dims])`, `outer = prod(dims[batch_dims..axis])`,
//! `inner = prod(dims[axis+1..])` and `coords = prod(indices dims[batch_dims..])`, output row
//! `(b, o, i)` is input row `(b, o, indices[b · coords + i])` of `inner` elements. A negative
//! index (any, checked first) or one at or past the axis size fails the run, as in LiteRT.
//! Indices are int16, int32 or int64; values of every element size move alike.

use crate::model::DType;
use crate::{Buf, Error, Result, Tensor};

use super::{check_output_shape, movable, shape_of, Kernel, OpCtx};

pub(crate) struct GatherIndexKernel {
    pub what: String,
    pub batch: usize,
    pub outer: usize,
    pub coords: usize,
    pub inner: usize,
    pub axis_size: usize,
    /// Elements of the params input and of the indices.
    pub in_len: usize,
    pub indices_len: usize,
}

impl GatherIndexKernel {
    pub fn out_len(&self) -> usize {
        self.batch * self.outer * self.coords * self.inner
    }

    /// The indices as i64, checked as LiteRT checks them (every index non-negative, then each
    /// below the axis size).
    pub fn indices(&self, t: &Tensor) -> Result<Vec<i64>> {
        let v: Vec<i64> = match t.buf() {
            Buf::I16(v) => v.iter().map(|&x| x as i64).collect(),
            Buf::I32(v) => v.iter().map(|&x| x as i64).collect(),
            Buf::I64(v) => v.clone(),
            b => {
                return Err(Error::Shape(format!(
                    "{}: indices are {}, not int16/int32/int64",
                    self.what,
                    b.dtype()
                )))
            }
        };
        if v.len() != self.indices_len {
            return Err(Error::Shape(format!(
                "{}: {} indices, the prepared op expects {}",
                self.what,
                v.len(),
                self.indices_len
            )));
        }
        if let Some(bad) = v
            .iter()
            .find(|&&i| i < 0)
            .or_else(|| v.iter().find(|&&i| i >= self.axis_size as i64))
        {
            return Err(Error::Shape(format!(
                "{}: gather index {bad} is out of bounds for an axis of size {} (LiteRT fails \
                 the run)",
                self.what, self.axis_size
            )));
        }
        Ok(v)
    }
}

fn gather<T: Copy>(src: &[T], dst: &mut [T], idx: &[i64], k: &GatherIndexKernel) {
    for b in 0..k.batch {
        for o in 0..k.outer {
            for i in 0..k.coords {
                let from = idx[b * k.coords + i] as usize;
                let out = ((b * k.outer + o) * k.coords + i) * k.inner;
                let at = ((b * k.outer + o) * k.axis_size + from) * k.inner;
                dst[out..out + k.inner].copy_from_slice(&src[at..at + k.inner]);
            }
        }
    }
}

impl Kernel for GatherIndexKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let get = |i: usize| {
            inputs
                .get(i)
                .copied()
                .flatten()
                .ok_or_else(|| Error::Shape(format!("{}: input {i} was not given", self.what)))
        };
        let (x, positions) = (get(0)?, get(1)?);
        let idx = self.indices(positions)?;
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{}: no output", self.what)))?;
        if x.len() != self.in_len || out.len() != self.out_len() {
            return Err(Error::Shape(format!(
                "{}: input of {} and output of {} elements, the prepared op expects {} and {}",
                self.what,
                x.len(),
                out.len(),
                self.in_len,
                self.out_len()
            )));
        }
        macro_rules! go {
            ($($v:ident),*) => {
                match (x.buf(), out.buf_mut()) {
                    $((Buf::$v(s), Buf::$v(d)) => gather(s, d, &idx, self),)*
                    (s, d) => {
                        return Err(Error::Shape(format!(
                            "{}: input is {}, output is {}",
                            self.what,
                            s.dtype(),
                            d.dtype()
                        )))
                    }
                }
            };
        }
        go!(F32, F16, I8, U8, I16, I32, I64, Bool);
        Ok(())
    }
}

pub(in crate::reference) fn prepare_gather(
    ctx: &OpCtx,
    axis: i32,
    batch_dims: i32,
) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid(format!(
            "takes 2 inputs and 1 output, has {} and {}",
            ctx.num_inputs(),
            ctx.op.outputs.len()
        )));
    }
    let (x, positions, y) = (ctx.input(0)?, ctx.input(1)?, ctx.output(0)?);
    if !matches!(positions.dtype, DType::I16 | DType::I32 | DType::I64) {
        return Err(ctx.unsupported(format!(
            "indices of type {}: TFLite's GATHER takes int16, int32, int64",
            positions.dtype
        )));
    }
    // TFLite also gathers strings, int4 and bfloat16; the engines do not hold them.
    if !movable(x.dtype) || y.dtype != x.dtype {
        return Err(ctx.unsupported(format!(
            "params {} and output {}: not supported",
            x.dtype, y.dtype
        )));
    }
    let in_shape = shape_of(x);
    let pos_shape = shape_of(positions);
    let rank = in_shape.len() as i32;
    let a = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&a) {
        return Err(ctx.invalid(format!("axis {axis} is out of range for rank {rank}")));
    }
    let bd = if batch_dims < 0 {
        batch_dims + pos_shape.len() as i32
    } else {
        batch_dims
    };
    if bd > a || bd < 0 || bd >= rank || bd as usize > pos_shape.len() {
        return Err(ctx.invalid(format!(
            "batch_dims {batch_dims} does not fit axis {a}, params rank {rank} and indices rank \
             {}",
            pos_shape.len()
        )));
    }
    let (a, bd) = (a as usize, bd as usize);
    if in_shape[..bd] != pos_shape[..bd] {
        return Err(ctx.invalid(format!(
            "the first {bd} dimensions of params {in_shape:?} and indices {pos_shape:?} differ"
        )));
    }
    let mut out_shape: Vec<usize> = in_shape[..a].to_vec();
    out_shape.extend_from_slice(&pos_shape[bd..]);
    out_shape.extend_from_slice(&in_shape[a + 1..]);
    check_output_shape(ctx, y, &out_shape)?;
    Ok(Box::new(GatherIndexKernel {
        what: ctx.label(),
        batch: in_shape[..bd].iter().product(),
        outer: in_shape[bd..a].iter().product(),
        coords: pos_shape[bd..].iter().product(),
        inner: in_shape[a + 1..].iter().product(),
        axis_size: in_shape[a],
        in_len: in_shape.iter().product(),
        indices_len: pos_shape.iter().product(),
    }))
}
