//! SHAPE, FILL, ZEROS_LIKE, BROADCAST_TO: `kernels/shape.cc`, `fill.cc`, `zeros_like.cc`,
//! `broadcast_to.cc` (and `reference/broadcast_to.h`).
//!
//! The engines plan every shape at prepare, so SHAPE's output is known then: it is a
//! prepare-time constant ([`super::super::fold`]), and so are the int32/int64 tensors
//! computed from it alone (a STRIDED_SLICE of it, a PACK with constants, ...). A FILL or
//! BROADCAST_TO whose shape input is such a tensor has its output shape checked at prepare
//! like one with a constant shape; a shape that is only known at run time is refused.

use crate::model::DType;
use crate::{Buf, Error, Result, Tensor};

use super::kernels::{GatherKernel, Walk};
use super::{check_output_shape, int_values, legacy_params, movable, shape_of, Kernel, OpCtx};

/// A kernel whose single output is fixed at prepare (SHAPE's): it writes `value`.
pub(crate) struct ConstKernel {
    pub what: String,
    pub value: Tensor,
}

impl Kernel for ConstKernel {
    fn run(&self, _inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{}: no output", self.what)))?;
        if out.dtype() != self.value.dtype() || out.len() != self.value.len() {
            return Err(Error::Shape(format!(
                "{}: the output is {} of {} elements, the prepared value {} of {}",
                self.what,
                out.dtype(),
                out.len(),
                self.value.dtype(),
                self.value.len()
            )));
        }
        *out.buf_mut() = self.value.buf().clone();
        Ok(())
    }
}

/// SHAPE's output: the input's dimensions as int32 or int64 (`None` for other types).
pub(crate) fn shape_value(input: &crate::model::Tensor, out: DType) -> Option<Tensor> {
    let dims = shape_of(input);
    let buf = match out {
        DType::I32 => Buf::I32(dims.iter().map(|&d| d as i32).collect()),
        DType::I64 => Buf::I64(dims.iter().map(|&d| d as i64).collect()),
        _ => return None,
    };
    Tensor::new(&[dims.len()], buf).ok()
}

/// SHAPE (`kernels/shape.cc`): the output type must be int32 or int64.
pub(in crate::reference) fn prepare_shape(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 1 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("takes 1 input and 1 output"));
    }
    let (x, y) = (ctx.input(0)?, ctx.output(0)?);
    let value = shape_value(x, y.dtype).ok_or_else(|| {
        ctx.unsupported(format!(
            "output type {}: TFLite's SHAPE writes int32 or int64",
            y.dtype
        ))
    })?;
    check_output_shape(ctx, y, &[x.shape.len()])?;
    Ok(Box::new(ConstKernel {
        what: ctx.label(),
        value,
    }))
}

/// The dims of a FILL or the shape of a BROADCAST_TO: a constant (or prepare-time constant)
/// int32/int64 vector, each dimension non-negative.
fn shape_input(ctx: &OpCtx, i: usize, what: &str) -> Result<Vec<usize>> {
    let t = ctx.input(i)?;
    if !matches!(t.dtype, DType::I32 | DType::I64) || t.shape.len() != 1 {
        return Err(ctx.unsupported(format!(
            "{what} must be an int32 or int64 vector, is {} {:?}",
            t.dtype, t.shape
        )));
    }
    let Some(v) = ctx.const_input(i) else {
        return Err(ctx.unsupported(format!(
            "{what} (input {i}) is computed at run time from more than the input shapes: \
             the engines plan shapes at prepare and cannot follow an output shape that \
             changes with the data"
        )));
    };
    let v = int_values(v).ok_or_else(|| ctx.invalid(format!("unreadable {what}")))?;
    v.iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| ctx.invalid(format!("{what} {v:?} has a negative dimension")))
}

/// Every output element is the first element of input `input` (FILL's value).
pub(crate) struct FillKernel {
    pub what: String,
    pub input: usize,
    pub len: usize,
}

impl Kernel for FillKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let v = inputs
            .get(self.input)
            .copied()
            .flatten()
            .ok_or_else(|| Error::Shape(format!("{}: the value is missing", self.what)))?;
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{}: no output", self.what)))?;
        if v.len() != 1 || out.len() != self.len {
            return Err(Error::Shape(format!(
                "{}: a value of {} elements and an output of {}, the prepared op expects 1 \
                 and {}",
                self.what,
                v.len(),
                out.len(),
                self.len
            )));
        }
        macro_rules! go {
            ($($t:ident),*) => {
                match (v.buf(), out.buf_mut()) {
                    $((Buf::$t(s), Buf::$t(d)) => d.fill(s[0]),)*
                    (s, d) => {
                        return Err(Error::Shape(format!(
                            "{}: the value is {}, the output {}",
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

/// FILL (`kernels/fill.cc`): inputs (dims, value); the value is a scalar of the output's
/// type; quantized int8/int16 values need the output's scale and zero point.
pub(in crate::reference) fn prepare_fill(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("takes 2 inputs and 1 output"));
    }
    let (value, y) = (ctx.input(1)?, ctx.output(0)?);
    use DType::*;
    // TFLite also fills strings; the engines do not hold them.
    if !matches!(value.dtype, F32 | F16 | I8 | I16 | I32 | I64 | Bool) || y.dtype != value.dtype {
        return Err(ctx.unsupported(format!(
            "a {} value into a {} output: TFLite's FILL takes float32, float16, int8, int16, \
             int32, int64, bool and string of the output's type",
            value.dtype, y.dtype
        )));
    }
    if shape_of(value).iter().product::<usize>() != 1 || !value.shape.is_empty() {
        return Err(ctx.invalid(format!("the value must be a scalar, is {:?}", value.shape)));
    }
    if matches!(y.dtype, I8 | I16) {
        let ((sv, zv), (so, zo)) = (legacy_params(value), legacy_params(y));
        if sv.to_bits() != so.to_bits() || zv != zo {
            return Err(ctx.unsupported(
                "the value's scale and zero point differ from the output's (TFLite's FILL \
                 requires them equal)",
            ));
        }
    }
    let dims = shape_input(ctx, 0, "the dims")?;
    check_output_shape(ctx, y, &dims)?;
    Ok(Box::new(FillKernel {
        what: ctx.label(),
        input: 1,
        len: dims.iter().product(),
    }))
}

/// An output of zeros (the engines allocate outputs zeroed; the kernel writes them anyway).
pub(crate) struct ZerosKernel {
    pub what: String,
}

impl Kernel for ZerosKernel {
    fn run(&self, _inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{}: no output", self.what)))?;
        let z = Buf::zeros(out.dtype(), out.len())
            .ok_or_else(|| Error::Shape(format!("{}: {} output", self.what, out.dtype())))?;
        *out.buf_mut() = z;
        Ok(())
    }
}

/// ZEROS_LIKE (`kernels/zeros_like.cc`): int64, int32 and float32.
pub(in crate::reference) fn prepare_zeros_like(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 1 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("takes 1 input and 1 output"));
    }
    let (x, y) = (ctx.input(0)?, ctx.output(0)?);
    if !matches!(x.dtype, DType::I64 | DType::I32 | DType::F32) || y.dtype != x.dtype {
        return Err(ctx.unsupported(format!(
            "{} to {}: TFLite's ZEROS_LIKE takes int64, int32 and float32",
            x.dtype, y.dtype
        )));
    }
    check_output_shape(ctx, y, &shape_of(x))?;
    Ok(Box::new(ZerosKernel { what: ctx.label() }))
}

/// `kMaxDims` of `broadcast_to.cc`.
const BROADCAST_TO_MAX_DIMS: usize = 8;

/// BROADCAST_TO (`kernels/broadcast_to.cc`, `reference_ops::BroadcastTo`): inputs (input,
/// shape); the input's dimensions, right-aligned, are 1 or the shape's. The copy is a
/// strided walk whose broadcast axes step 0.
pub(in crate::reference) fn prepare_broadcast_to(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    if ctx.num_inputs() != 2 || ctx.op.outputs.len() != 1 {
        return Err(ctx.invalid("takes 2 inputs and 1 output"));
    }
    let (x, y) = (ctx.input(0)?, ctx.output(0)?);
    if x.dtype != y.dtype || !movable(x.dtype) {
        return Err(ctx.unsupported(format!("{} to {} is not supported", x.dtype, y.dtype)));
    }
    let in_shape = shape_of(x);
    let out_shape = shape_input(ctx, 1, "the shape")?;
    if in_shape.len() > BROADCAST_TO_MAX_DIMS || out_shape.len() > BROADCAST_TO_MAX_DIMS {
        return Err(ctx.unsupported(format!(
            "BroadcastTo only supports 1-{BROADCAST_TO_MAX_DIMS}D tensors"
        )));
    }
    if out_shape.len() < in_shape.len() {
        return Err(ctx.invalid(format!(
            "the shape {out_shape:?} has fewer dimensions than the input {in_shape:?}"
        )));
    }
    let extra = out_shape.len() - in_shape.len();
    let mut in_strides = vec![0i64; out_shape.len()];
    let mut stride = 1i64;
    for d in (0..in_shape.len()).rev() {
        let (i, o) = (in_shape[d], out_shape[d + extra]);
        if i != 1 && i != o {
            return Err(ctx.invalid(format!(
                "the input {in_shape:?} does not broadcast to {out_shape:?}"
            )));
        }
        in_strides[d + extra] = if i == 1 { 0 } else { stride };
        stride *= i as i64;
    }
    check_output_shape(ctx, y, &out_shape)?;
    let walk = Walk::new(in_shape.iter().product(), 0, out_shape.clone(), in_strides)
        .ok_or_else(|| ctx.invalid("the broadcast reads outside the input"))?;
    Ok(Box::new(GatherKernel {
        what: ctx.label(),
        walk,
    }))
}
