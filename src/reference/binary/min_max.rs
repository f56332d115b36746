//! MAXIMUM and MINIMUM: the stored values compared, no rescaling.

use crate::model::DType;
use crate::Result;

use super::super::{Kernel, OpCtx};
use super::{common_dtype, BinaryKernel, BinaryOp, Operands};

/// `MaximumOp::op` / `MinimumOp::op`.
#[inline]
pub(super) fn max_min<T: PartialOrd>(max: bool, x: T, y: T) -> T {
    if max {
        if x > y {
            x
        } else {
            y
        }
    } else if x < y {
        x
    } else {
        y
    }
}

fn prepare_max_min(ctx: &OpCtx, max: bool) -> Result<Box<dyn Kernel>> {
    let operands = Operands::new(ctx)?;
    let dtype = common_dtype(ctx)?;
    if !matches!(
        dtype,
        DType::F32 | DType::I8 | DType::U8 | DType::I16 | DType::I32 | DType::I64
    ) {
        return Err(ctx.unsupported("MAXIMUM/MINIMUM support float32 and integer types"));
    }
    Ok(Box::new(BinaryKernel {
        name: if max { "MAXIMUM" } else { "MINIMUM" },
        operands,
        op: BinaryOp::MaxMin { max },
    }))
}

pub(crate) fn prepare_maximum(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    prepare_max_min(ctx, true)
}

pub(crate) fn prepare_minimum(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    prepare_max_min(ctx, false)
}
