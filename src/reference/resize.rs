//! RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR.

use crate::model::ResizeOptions;
use crate::Result;

use super::{Kernel, OpCtx};

pub(super) fn prepare_bilinear(ctx: &OpCtx, o: &ResizeOptions) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_nearest(ctx: &OpCtx, o: &ResizeOptions) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}
