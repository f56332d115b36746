//! Shape ops on the GPU, twin of `src/reference/shape_ops`.
//!
//! RESHAPE and SQUEEZE copy the bytes (`memcpy` in TFLite): a buffer-to-buffer copy.

use super::{Command, GpuOpCtx};
use crate::reference::shape_ops::kernels::CopyKernel;
use crate::Result;

/// RESHAPE, SQUEEZE.
pub(crate) fn prepare_reshape(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &CopyKernel = ctx.kernel()?;
    if k.runtime_shape.is_some() {
        // The reference checks a computed shape input at run time; the device cannot refuse
        // a run, so the check would need a readback mid-inference.
        return Err(ctx.unsupported(
            "RESHAPE with a computed (non-constant) shape input is not run on the GPU",
        ));
    }
    let x = ctx.input(0)?;
    let y = ctx.output(0)?;
    Ok(vec![Command::Copy {
        src: x.buffer,
        dst: y.buffer,
        size: x.size.min(y.size),
    }])
}
