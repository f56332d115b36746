//! FULLY_CONNECTED and BATCH_MATMUL (float32, int8, hybrid).

use crate::model::{BatchMatMulOptions, FullyConnectedOptions};
use crate::Result;

use super::{Kernel, OpCtx};

pub(super) fn prepare_fully_connected(
    ctx: &OpCtx,
    o: &FullyConnectedOptions,
) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_batch_matmul(ctx: &OpCtx, o: &BatchMatMulOptions) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}
