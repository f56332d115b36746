//! Convolutions: CONV_2D and DEPTHWISE_CONV_2D (float32, int8 per-channel, hybrid).

use crate::model::{Conv2DOptions, DepthwiseConv2DOptions};
use crate::Result;

use super::{Kernel, OpCtx};

pub(super) fn prepare_conv2d(ctx: &OpCtx, o: &Conv2DOptions) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_depthwise(
    ctx: &OpCtx,
    o: &DepthwiseConv2DOptions,
) -> Result<Box<dyn Kernel>> {
    let _ = o;
    Err(ctx.unsupported("not implemented yet"))
}
