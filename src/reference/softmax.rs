//! SOFTMAX (float32; int8 as the reference kernel computes it).

use crate::Result;

use super::{Kernel, OpCtx};

pub(super) fn prepare_softmax(ctx: &OpCtx, beta: f32) -> Result<Box<dyn Kernel>> {
    let _ = beta;
    Err(ctx.unsupported("not implemented yet"))
}
