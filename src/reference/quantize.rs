//! QUANTIZE (float→int, int→int requantize) and DEQUANTIZE (int8/uint8/float16→float32).

use crate::Result;

use super::{Kernel, OpCtx};

pub(super) fn prepare_quantize(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}

pub(super) fn prepare_dequantize(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    Err(ctx.unsupported("not implemented yet"))
}
