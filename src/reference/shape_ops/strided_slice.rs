//! STRIDED_SLICE index logic, as LiteRT's `kernels/strided_slice.cc` (`BuildStridedSliceParams`,
//! `ResizeOutputTensor`) and `kernels/internal/reference/strided_slice.h`
//! (`DynamicStridedSliceParams`, `StartForAxis`, `EndForAxis`, `StridedSlice`) compute it.
//!
//! Facts carried over:
//! - `ellipsis_mask` and `new_axis_mask` are folded away first: the input gets an *effective
//!   shape* with a 1 for every new axis, and the ellipsis expands into full ranges (begin and
//!   end mask bits set, stride 1). A new-axis bit at the same index as an ellipsis bit has no
//!   effect. Axes past the given indices are full ranges too.
//! - `StartForAxis`: negative begin += size; clamp to `[0, size]` (stride > 0) or
//!   `[-1, size-1]` (stride < 0); then a begin-mask bit overrides with `0` or `size-1`.
//! - `EndForAxis`: a shrink bit gives `start + 1` (or `start` when `start >= size`); with
//!   `offset`, end += start; negative end += size; the same clamps; an end-mask bit overrides
//!   with `size` or `-1`.
//! - The output shape (`ResizeOutputTensor`) drops shrunk axes and has
//!   `ceil((end - begin) / stride)` elements per axis (0 when the signs disagree); with
//!   `offset` it is the raw end value.

use crate::model::StridedSliceOptions;

/// `reference_ops::DynamicStridedSliceParams` over the effective input shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Params {
    pub start_indices: Vec<i32>,
    pub stop_indices: Vec<i32>,
    pub strides: Vec<i32>,
    pub begin_mask: u32,
    pub end_mask: u32,
    pub shrink_axis_mask: u32,
    pub offset: bool,
    /// `StridedSliceContext::effective_input_shape`.
    pub effective_shape: Vec<i32>,
}

fn bit(mask: u32, i: usize) -> bool {
    i < 32 && mask & (1u32 << i) != 0
}

/// `BuildStridedSliceParams(op_context, start_and_end_indices)`. `begin`, `end` and
/// `strides` have one entry per given index. `None` where LiteRT would read past the index
/// vectors or the input shape (masks with bits beyond the given indices can make it), or
/// beyond 32 effective dimensions.
pub(super) fn build_params(
    o: &StridedSliceOptions,
    input_shape: &[i32],
    begin: &[i32],
    end: &[i32],
    strides: &[i32],
    start_and_end_indices: bool,
) -> Option<Params> {
    let (ellipsis_mask, new_axis_mask) = (o.ellipsis_mask as u32, o.new_axis_mask as u32);
    let begin_count = begin.len();
    let input_dims = input_shape.len();
    let num_add_axis = (0..begin_count)
        .filter(|&i| !bit(ellipsis_mask, i) && bit(new_axis_mask, i))
        .count();
    let effective_dims = input_dims + num_add_axis;
    if effective_dims > 32 {
        return None;
    }
    let mut p = Params {
        start_indices: vec![0; effective_dims],
        stop_indices: vec![0; effective_dims],
        strides: vec![1; effective_dims],
        begin_mask: 0,
        end_mask: 0,
        shrink_axis_mask: 0,
        offset: o.offset,
        effective_shape: vec![0; effective_dims],
    };

    // Expand the ellipsis; find which effective axes are new axes.
    let (mut effective_ellipsis_mask, mut effective_new_axis_mask) = (0u64, 0u64);
    let (mut ellipsis_start_idx, mut expanded_ellipsis) = (effective_dims, 0usize);
    let mut i = 0;
    while i < effective_dims {
        if bit(ellipsis_mask, i) {
            ellipsis_start_idx = i;
            let ellipsis_end_idx = (i + 1).max(
                ((i + 1 + num_add_axis + input_dims) as i64 - begin_count as i64)
                    .min(effective_dims as i64)
                    .max(0) as usize,
            );
            expanded_ellipsis = ellipsis_end_idx - ellipsis_start_idx - 1;
            while i < ellipsis_end_idx {
                effective_ellipsis_mask |= 1u64 << i;
                i += 1;
            }
            continue;
        }
        if i >= expanded_ellipsis && bit(new_axis_mask, i - expanded_ellipsis) {
            effective_new_axis_mask |= 1u64 << i;
        }
        i += 1;
    }

    let (mut added_ellipsis, mut added_axises) = (0usize, 0usize);
    for i in 0..effective_dims {
        if effective_ellipsis_mask & (1u64 << i) != 0 {
            added_ellipsis = i.saturating_sub(ellipsis_start_idx);
            p.begin_mask |= 1 << i;
            p.end_mask |= 1 << i;
            p.strides[i] = 1;
            p.effective_shape[i] = *input_shape.get(i.checked_sub(added_axises)?)?;
        } else if effective_new_axis_mask & (1u64 << i) != 0 {
            p.start_indices[i] = 0;
            p.stop_indices[i] = 1;
            p.strides[i] = 1;
            p.effective_shape[i] = 1;
            added_axises += 1;
        } else if i >= begin_count + expanded_ellipsis {
            p.start_indices[i] = 0;
            p.stop_indices[i] = 0;
            p.strides[i] = 1;
            p.begin_mask |= 1 << i;
            p.end_mask |= 1 << i;
            p.effective_shape[i] = *input_shape.get(i.checked_sub(added_axises)?)?;
        } else {
            let orig_idx = i.checked_sub(added_ellipsis)?;
            if start_and_end_indices {
                p.start_indices[i] = *begin.get(orig_idx)?;
                p.stop_indices[i] = *end.get(orig_idx)?;
            }
            p.strides[i] = *strides.get(orig_idx)?;
            if bit(o.begin_mask as u32, orig_idx) {
                p.begin_mask |= 1 << i;
            }
            if bit(o.end_mask as u32, orig_idx) {
                p.end_mask |= 1 << i;
            }
            if bit(o.shrink_axis_mask as u32, orig_idx) {
                p.shrink_axis_mask |= 1 << i;
            }
            p.effective_shape[i] = *input_shape.get(i.checked_sub(added_axises)?)?;
        }
    }
    Some(p)
}

fn clamp(v: i32, lo: i32, hi: i32) -> i32 {
    if hi < v {
        hi
    } else if v < lo {
        lo
    } else {
        v
    }
}

/// `reference_ops::StartForAxis`.
pub(super) fn start_for_axis(p: &Params, axis: usize) -> i32 {
    let axis_size = p.effective_shape[axis];
    let mut start = p.start_indices[axis];
    let stride = p.strides[axis];
    if start < 0 {
        start = start.wrapping_add(axis_size);
    }
    start = if stride > 0 {
        clamp(start, 0, axis_size)
    } else {
        clamp(start, -1, axis_size - 1)
    };
    if bit(p.begin_mask, axis) {
        start = if stride > 0 { 0 } else { axis_size - 1 };
    }
    start
}

/// `reference_ops::EndForAxis`.
pub(super) fn end_for_axis(p: &Params, axis: usize, start: i32) -> i32 {
    let axis_size = p.effective_shape[axis];
    if bit(p.shrink_axis_mask, axis) {
        return if start >= axis_size { start } else { start + 1 };
    }
    let mut end = p.stop_indices[axis];
    if p.offset {
        end = end.wrapping_add(start);
    }
    let stride = p.strides[axis];
    if end < 0 {
        end = end.wrapping_add(axis_size);
    }
    end = if stride > 0 {
        clamp(end, 0, axis_size)
    } else {
        clamp(end, -1, axis_size - 1)
    };
    if bit(p.end_mask, axis) {
        end = if stride > 0 { axis_size } else { -1 };
    }
    end
}

/// `ResizeOutputTensor`: the output shape, or why there is none.
pub(super) fn output_shape(p: &Params, end_data: &[i32]) -> Result<Vec<usize>, String> {
    let mut shape = Vec::new();
    for idx in (0..p.effective_shape.len()).rev() {
        let stride = p.strides[idx];
        if stride == 0 {
            return Err("stride value has to be non-zero".into());
        }
        if bit(p.shrink_axis_mask, idx) {
            continue;
        }
        let mut dim_shape: i64 = if p.offset {
            // As LiteRT does: the raw end value at the effective index.
            *end_data
                .get(idx)
                .ok_or("offset with an ellipsis or new axes reads past the end input")?
                as i64
        } else {
            let begin = start_for_axis(p, idx);
            let end = end_for_axis(p, idx, begin);
            end as i64 - begin as i64
        };
        if stride == i32::MIN {
            return Err("stride value INT32_MIN is not supported".into());
        }
        let stride = stride as i64;
        if (dim_shape < 0) != (stride < 0) {
            dim_shape = 0;
        } else if stride < 0 {
            dim_shape = (dim_shape + 1) / stride + 1;
        } else {
            dim_shape = if dim_shape == 0 {
                0
            } else {
                (dim_shape - 1) / stride + 1
            };
        }
        if dim_shape < 0 || dim_shape > i32::MAX as i64 {
            return Err(format!(
                "integer overflow computing output dim at axis {idx}"
            ));
        }
        shape.push(dim_shape as usize);
    }
    shape.reverse();
    Ok(shape)
}

/// The loops of `reference_ops::StridedSlice`: per effective axis the first index, the
/// index step and the iteration count (`for (offset = start; stride > 0 ? offset < stop :
/// offset > stop; offset += stride)`).
pub(super) fn loops(p: &Params) -> Vec<(i64, i64, usize)> {
    (0..p.effective_shape.len())
        .map(|axis| {
            let start = start_for_axis(p, axis) as i64;
            let stop = end_for_axis(p, axis, start as i32) as i64;
            let stride = p.strides[axis] as i64;
            let count = if stride > 0 && start < stop {
                (stop - start + stride - 1) / stride
            } else if stride < 0 && start > stop {
                (start - stop - stride - 1) / -stride
            } else {
                0
            };
            (start, stride, count as usize)
        })
        .collect()
}
