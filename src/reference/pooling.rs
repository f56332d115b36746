//! AVERAGE_POOL_2D and MAX_POOL_2D.

use crate::model::Pool2DOptions;
use crate::Result;

use super::{Kernel, OpCtx};

pub(super) fn prepare_average_pool(ctx: &OpCtx, o: &Pool2DOptions) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_max_pool(ctx: &OpCtx, o: &Pool2DOptions) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}
