//! MEAN.

use crate::Result;

use super::{Kernel, OpCtx};

pub(super) fn prepare_mean(ctx: &OpCtx, keep_dims: bool) -> Result<Box<dyn Kernel>> {
    let _ = keep_dims;
    Err(ctx.unsupported("not implemented yet"))
}
