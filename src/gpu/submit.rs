//! Putting recorded work on the device and reading results back: the commands of a run
//! recorded into one encoder (compute passes split around clears and copies), and the
//! blocking readback of a staging buffer after a submission.

use super::kernels::Command;
use crate::{Error, Result};

/// Records `commands` into `encoder`: consecutive dispatches share one compute pass; a
/// clear or copy ends it.
pub(crate) fn record<'c>(
    encoder: &mut wgpu::CommandEncoder,
    commands: impl IntoIterator<Item = &'c Command>,
) {
    let mut pass: Option<wgpu::ComputePass> = None;
    for c in commands {
        match c {
            Command::Dispatch {
                pipeline,
                bind_group,
                workgroups,
            } => {
                let p = pass.get_or_insert_with(|| {
                    encoder
                        .begin_compute_pass(&wgpu::ComputePassDescriptor {
                            label: Some("litequant"),
                            timestamp_writes: None,
                        })
                        .forget_lifetime()
                });
                p.set_pipeline(pipeline);
                p.set_bind_group(0, bind_group, &[]);
                p.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
            }
            Command::Clear { buffer } => {
                pass = None;
                encoder.clear_buffer(buffer, 0, None);
            }
            Command::Copy { src, dst, size } => {
                pass = None;
                encoder.copy_buffer_to_buffer(src, 0, dst, 0, *size);
            }
        }
    }
}

/// Map the first `size` bytes of `staging` after submission `index` completes.
pub(crate) fn map_read(
    device: &wgpu::Device,
    staging: &wgpu::Buffer,
    size: u64,
    index: wgpu::SubmissionIndex,
) -> Result<Vec<u8>> {
    if size == 0 {
        device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        return Ok(Vec::new());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, ..size, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(index),
            timeout: None,
        })
        .map_err(|e| Error::Gpu(format!("waiting for the device (lost?): {e}")))?;
    rx.recv()
        .map_err(|_| Error::Gpu("the readback mapping callback never ran".into()))?
        .map_err(|e| Error::Gpu(format!("cannot map the readback buffer: {e}")))?;
    let bytes = {
        let view = staging
            .get_mapped_range(..size)
            .map_err(|e| Error::Gpu(format!("readback: {e}")))?;
        view.to_vec()
    };
    staging.unmap();
    Ok(bytes)
}
