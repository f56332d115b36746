//! Elementwise binary ops with broadcasting: ADD, SUB, MUL, MAXIMUM, MINIMUM.

use crate::model::{Activation, AddSubOptions};
use crate::Result;

use super::{Kernel, OpCtx};

pub(super) fn prepare_add(ctx: &OpCtx, o: &AddSubOptions) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_sub(ctx: &OpCtx, o: &AddSubOptions) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_mul(ctx: &OpCtx, activation: Activation) -> Result<Box<dyn Kernel>> {
    let _ = activation;
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_maximum(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_minimum(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}
