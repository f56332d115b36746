//! Activations: RELU, RELU6, LEAKY_RELU, PRELU, HARD_SWISH, LOGISTIC, TANH.

use crate::Result;

use super::{Kernel, OpCtx};

pub(super) fn prepare_relu(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_relu6(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_leaky_relu(ctx: &OpCtx, alpha: f32) -> Result<Box<dyn Kernel>> {
    let _ = alpha;
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_prelu(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_hard_swish(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_logistic(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_tanh(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}
