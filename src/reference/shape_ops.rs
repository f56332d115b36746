//! Data movement: RESHAPE/SQUEEZE, CONCATENATION, PAD/PADV2, STRIDED_SLICE, SLICE, TRANSPOSE.

use crate::model::{Activation, StridedSliceOptions};
use crate::Result;

use super::{Kernel, OpCtx};

pub(super) fn prepare_reshape(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_concatenation(
    ctx: &OpCtx,
    axis: i32,
    activation: Activation,
) -> Result<Box<dyn Kernel>> {
    let _ = axis;
    let _ = activation;
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_pad(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_strided_slice(
    ctx: &OpCtx,
    o: &StridedSliceOptions,
) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_slice(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_transpose(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}
