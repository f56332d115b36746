//! TFLite's sparse tensor format (`SparsityParameters`): checking the metadata and expanding
//! a sparse constant to its dense contents.
//!
//! A sparse tensor of rank `n` with a `k`-dimensional block is stored as a tree of `n + k`
//! levels, one per entry of `traversal_order` (a permutation of the `n` original dimensions
//! followed by a permutation of the `k` block dimensions, `block_map[i]` naming the original
//! dimension block dimension `n + i` splits). A DENSE level stores every index implicitly
//! (`dense_size` of them); a SPARSE_CSR level stores, for each node of the level above,
//! the range `array_segments[p] .. array_segments[p + 1]` of `array_indices` holding the
//! indices present. The buffer holds the leaves' values in traversal order.
//!
//! [`Sparsity::stored_elements`] applies the checks of LiteRT's verifier
//! (`VerifyAndCountSparseElements`, `tflite/core/tools/verifier.cc`); [`densify`] expands
//! the values as `internal::sparsity::FormatConverter::SparseToDense` does
//! (`kernels/internal/utils/sparsity_format_converter.cc`: zeros everywhere, then each stored
//! value at the position its path through the tree names), which DENSIFY and the reference
//! FULLY_CONNECTED with sparse weights both run.

use super::{SegmentArray, Sparsity, Tensor};

/// `DimensionType::DENSE`.
pub const DENSE: i8 = 0;
/// `DimensionType::SPARSE_CSR`.
pub const SPARSE_CSR: i8 = 1;

impl SegmentArray {
    /// Number of entries.
    pub fn len(&self) -> usize {
        match self {
            SegmentArray::I32(v) => v.len(),
            SegmentArray::U16(v) => v.len(),
            SegmentArray::U8(v) => v.len(),
        }
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i` widened to `i64` (as TFLite widens every width to `int`).
    pub fn get(&self, i: usize) -> Option<i64> {
        match self {
            SegmentArray::I32(v) => v.get(i).map(|&x| i64::from(x)),
            SegmentArray::U16(v) => v.get(i).map(|&x| i64::from(x)),
            SegmentArray::U8(v) => v.get(i).map(|&x| i64::from(x)),
        }
    }
}

/// The most levels (dimensions plus block dimensions) a sparse tensor may have here: the walk
/// recurses once per level.
const MAX_LEVELS: usize = 256;

/// One level of the tree, checked.
enum Level<'a> {
    Dense(usize),
    Sparse {
        segments: &'a SegmentArray,
        indices: &'a SegmentArray,
    },
}

/// The metadata, checked against a shape: what [`densify`] walks.
struct Plan<'a> {
    shape: Vec<usize>,
    /// Per level: the expanded dimension it enumerates (`traversal_order`).
    order: Vec<usize>,
    /// Per block dimension: the original dimension it splits, and the block size.
    blocks: Vec<(usize, usize)>,
    levels: Vec<Level<'a>>,
    stored: u64,
}

impl Sparsity {
    /// The number of values a tensor of `shape` with this metadata stores, after LiteRT's
    /// verifier checks (`VerifyAndCountSparseElements`): `traversal_order` has one entry per
    /// dimension and block dimension, its first `rank` entries a permutation of the original
    /// dimensions and the rest of the block dimensions; `block_map` names one original
    /// dimension per block dimension; block sizes are positive; every DENSE level's
    /// `dense_size` is its dimension's size; every SPARSE_CSR level has segments and
    /// indices, segments non-negative and non-decreasing, one segment per node of the level
    /// above, as many indices as the last segment says, each inside its dimension.
    pub fn stored_elements(&self, shape: &[i32]) -> Result<u64, String> {
        Ok(self.plan(shape)?.stored)
    }

    fn plan(&self, shape: &[i32]) -> Result<Plan<'_>, String> {
        let rank = shape.len();
        let total = self.traversal_order.len();
        if total == 0 || self.dim_metadata.is_empty() {
            return Err("sparsity has no traversal_order or no dim_metadata".into());
        }
        if total < rank || self.dim_metadata.len() != total {
            return Err(format!(
                "sparsity traversal_order has {total} entries and dim_metadata {}, but the \
                 shape has {rank} dimensions (both must be the rank plus the block rank)",
                self.dim_metadata.len()
            ));
        }
        if total > MAX_LEVELS {
            return Err(format!(
                "sparsity traversal_order has {total} levels; densifying supports {MAX_LEVELS}"
            ));
        }
        let block_rank = total - rank;
        if self.block_map.len() != block_rank {
            return Err(format!(
                "sparsity block_map has {} entries, but traversal_order has {block_rank} \
                 block dimensions",
                self.block_map.len()
            ));
        }
        let mut head: Vec<i32> = self.traversal_order[..rank].to_vec();
        head.sort_unstable();
        let mut tail: Vec<i32> = self.traversal_order[rank..].to_vec();
        tail.sort_unstable();
        if head.iter().enumerate().any(|(i, &d)| d != i as i32)
            || tail
                .iter()
                .enumerate()
                .any(|(i, &d)| d != (rank + i) as i32)
        {
            return Err(format!(
                "sparsity traversal_order {:?} is not a permutation of the {rank} dimensions \
                 followed by a permutation of the {block_rank} block dimensions",
                self.traversal_order
            ));
        }
        let mut dims: Vec<usize> = Vec::with_capacity(total);
        for &d in shape {
            dims.push(usize::try_from(d).map_err(|_| format!("negative dimension in {shape:?}"))?);
        }
        // Sizes of the expanded dimensions (original dimensions divided by their blocks,
        // then the blocks), indexed by expanded dimension as the verifier fills them.
        let mut expanded = dims.clone();
        expanded.resize(total, 0);
        for i in 0..block_rank {
            let block_dim = self.traversal_order[rank + i] as usize;
            let size = self.dim_metadata[rank + i].dense_size;
            if size <= 0 {
                return Err(format!(
                    "sparsity block dimension {i} has size {size} (dim_metadata[{}].dense_size)",
                    rank + i
                ));
            }
            expanded[block_dim] = size as usize;
            let mapped = self.block_map[i];
            if mapped < 0 || mapped as usize >= rank {
                return Err(format!(
                    "sparsity block_map[{i}] = {mapped} is not a dimension of the shape {shape:?}"
                ));
            }
            expanded[mapped as usize] /= size as usize;
        }
        let mut levels = Vec::with_capacity(total);
        let mut count: u64 = 1;
        for (level, dm) in self.dim_metadata.iter().enumerate() {
            let dim = self.traversal_order[level] as usize;
            match dm.format {
                DENSE => {
                    if usize::try_from(dm.dense_size).ok() != Some(expanded[dim]) {
                        return Err(format!(
                            "sparsity dim_metadata[{level}] is DENSE with dense_size {}, but \
                             its dimension ({dim}) has size {}",
                            dm.dense_size, expanded[dim]
                        ));
                    }
                    count = count
                        .checked_mul(expanded[dim] as u64)
                        .ok_or("sparsity: the element count overflows")?;
                    levels.push(Level::Dense(expanded[dim]));
                }
                SPARSE_CSR => {
                    let (Some(segments), Some(indices)) = (&dm.array_segments, &dm.array_indices)
                    else {
                        return Err(format!(
                            "sparsity dim_metadata[{level}] is SPARSE_CSR without \
                             array_segments or array_indices"
                        ));
                    };
                    let n = segments.len();
                    for j in 0..n {
                        let s = segments.get(j).unwrap_or(-1);
                        let prev = if j == 0 {
                            0
                        } else {
                            segments.get(j - 1).unwrap_or(0)
                        };
                        if s < 0 || s < prev {
                            return Err(format!(
                                "sparsity dim_metadata[{level}].array_segments is negative or \
                                 decreasing at entry {j}"
                            ));
                        }
                    }
                    if n as u64 != count + 1 {
                        return Err(format!(
                            "sparsity dim_metadata[{level}].array_segments has {n} entries, but \
                             the levels above have {count} nodes (needs {})",
                            count.saturating_add(1)
                        ));
                    }
                    let last = segments.get(n - 1).unwrap_or(0);
                    if indices.len() as i64 != last {
                        return Err(format!(
                            "sparsity dim_metadata[{level}].array_indices has {} entries, but \
                             the last segment ends at {last}",
                            indices.len()
                        ));
                    }
                    for j in 0..indices.len() {
                        let x = indices.get(j).unwrap_or(-1);
                        if x < 0 || x as u64 >= expanded[dim] as u64 {
                            return Err(format!(
                                "sparsity dim_metadata[{level}].array_indices[{j}] = {x} is \
                                 outside its dimension ({dim}) of size {}",
                                expanded[dim]
                            ));
                        }
                    }
                    count = indices.len() as u64;
                    levels.push(Level::Sparse { segments, indices });
                }
                f => {
                    return Err(format!(
                        "sparsity dim_metadata[{level}] has format {f} (neither DENSE nor \
                         SPARSE_CSR)"
                    ))
                }
            }
        }
        // FormatConverter's block sizes: the dense_size of the level that the block
        // dimension's traversal entry names (equal to the verifier's for block dimensions
        // traversed in order; any other order is caught by the bounds check of `densify`).
        let mut blocks = Vec::with_capacity(block_rank);
        for i in 0..block_rank {
            let level = self.traversal_order[rank + i] as usize;
            let size = self.dim_metadata[level].dense_size.max(1) as usize;
            blocks.push((self.block_map[i] as usize, size));
        }
        Ok(Plan {
            shape: dims,
            order: self.traversal_order.iter().map(|&d| d as usize).collect(),
            blocks,
            levels,
            stored: count,
        })
    }
}

impl Sparsity {
    /// One line for `inspect`: `sparse: 92 of 288 values; levels D8 D3 D3 S4(u8); block
    /// [4] on dims [1]`, or why the metadata is invalid.
    pub fn summary(&self, shape: &[i32]) -> String {
        let total = shape.iter().try_fold(1u64, |a, &d| {
            u64::try_from(d).ok().and_then(|d| a.checked_mul(d))
        });
        let stored = match (self.stored_elements(shape), total) {
            (Ok(n), Some(t)) => format!("{n} of {t} values"),
            (Err(e), _) => return format!("sparse, invalid: {e}"),
            (Ok(n), None) => format!("{n} values"),
        };
        let levels: Vec<String> = self
            .dim_metadata
            .iter()
            .zip(&self.traversal_order)
            .map(|(d, &dim)| match (d.format, &d.array_indices) {
                (DENSE, _) => format!("d{dim}:{}", d.dense_size),
                (_, Some(SegmentArray::U8(_))) => format!("d{dim}:csr(u8)"),
                (_, Some(SegmentArray::U16(_))) => format!("d{dim}:csr(u16)"),
                (_, _) => format!("d{dim}:csr(i32)"),
            })
            .collect();
        let mut s = format!("sparse: {stored}; levels {}", levels.join(" "));
        if !self.block_map.is_empty() {
            let sizes: Vec<i32> = self.dim_metadata[shape.len().min(self.dim_metadata.len())..]
                .iter()
                .map(|d| d.dense_size)
                .collect();
            s += &format!("; blocks {sizes:?} on dims {:?}", self.block_map);
        }
        s
    }
}

/// The bytes per element of a type that densifies (fixed whole-byte elements).
fn element_bytes(t: &Tensor) -> Option<usize> {
    let one = t.dtype.storage_bytes(1)?;
    (t.dtype.storage_bytes(2)? == 2 * one).then_some(one as usize)
}

/// A description of a sparse tensor for errors: `tensor 'name' (FLOAT32 [32, 1024])`.
fn label(t: &Tensor) -> String {
    format!("tensor '{}' ({} {:?})", t.name, t.dtype, t.shape)
}

/// The dense little-endian contents of a sparse constant tensor: `FormatConverter::
/// SparseToDense` on its data. Errors name the tensor: metadata LiteRT's verifier refuses,
/// data whose size is not the stored element count, a type that has no fixed element size.
/// The dense buffer is allocated fallibly; its size is the caller's to charge beforehand
/// (`Tensor::dense_bytes`).
pub fn densify(t: &Tensor) -> Result<Vec<u8>, String> {
    let Some(sparsity) = &t.sparsity else {
        return Err(format!("{} is not stored sparse", label(t)));
    };
    let Some(data) = &t.data else {
        return Err(format!("{} is sparse but holds no data", label(t)));
    };
    let esize = element_bytes(t).ok_or_else(|| {
        format!(
            "{}: sparse tensors of this type cannot be densified",
            label(t)
        )
    })?;
    let plan = sparsity
        .plan(&t.shape)
        .map_err(|e| format!("{} has invalid sparsity parameters: {e}", label(t)))?;
    let want = plan.stored.checked_mul(esize as u64);
    if want != Some(data.len() as u64) {
        return Err(format!(
            "{} stores {} elements by its sparsity parameters, but holds {} bytes of data",
            label(t),
            plan.stored,
            data.len()
        ));
    }
    let bytes = t
        .dense_bytes()
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("{}: the dense size cannot be counted", label(t)))?;
    let mut dense = Vec::new();
    dense
        .try_reserve_exact(bytes)
        .map_err(|e| format!("{}: allocating {bytes} dense bytes failed ({e})", label(t)))?;
    dense.resize(bytes, 0u8);
    let mut walk = Walk {
        plan: &plan,
        src: data,
        esize,
        next: 0,
        path: vec![0; plan.levels.len()],
        dst: &mut dense,
    };
    walk.level(0, 0)
        .map_err(|e| format!("{} has invalid sparsity parameters: {e}", label(t)))?;
    Ok(dense)
}

/// The depth-first walk of `FormatConverter::Populate`.
struct Walk<'a> {
    plan: &'a Plan<'a>,
    src: &'a [u8],
    esize: usize,
    /// Next stored value to place.
    next: usize,
    /// The index chosen at each level so far.
    path: Vec<usize>,
    dst: &'a mut [u8],
}

impl Walk<'_> {
    fn level(&mut self, level: usize, parent: usize) -> Result<(), String> {
        let plan = self.plan;
        if level == plan.levels.len() {
            return self.leaf();
        }
        match &plan.levels[level] {
            Level::Dense(size) => {
                for i in 0..*size {
                    self.path[level] = i;
                    self.level(level + 1, parent * size + i)?;
                }
            }
            Level::Sparse { segments, indices } => {
                // Checked: segments has a node for every parent, indices fit their dimension.
                let from = segments.get(parent).unwrap_or(0) as usize;
                let to = segments.get(parent + 1).unwrap_or(0) as usize;
                for i in from..to {
                    self.path[level] = indices.get(i).unwrap_or(0) as usize;
                    self.level(level + 1, i)?;
                }
            }
        }
        Ok(())
    }

    fn leaf(&mut self) -> Result<(), String> {
        let plan = self.plan;
        let rank = plan.shape.len();
        let mut at = vec![0usize; rank];
        for (level, &dim) in plan.order.iter().enumerate().take(rank) {
            at[dim] = self.path[level];
        }
        for level in rank..plan.order.len() {
            let (dim, size) = plan.blocks[plan.order[level] - rank];
            at[dim] = at[dim] * size + self.path[level];
        }
        let mut flat = 0usize;
        for (d, (&i, &n)) in at.iter().zip(&plan.shape).enumerate() {
            if i >= n {
                return Err(format!(
                    "a stored value lands at index {i} of dimension {d} (size {n})"
                ));
            }
            flat = flat * n + i;
        }
        let e = self.esize;
        let (s, d) = (self.next * e, flat * e);
        let (Some(src), Some(dst)) = (self.src.get(s..s + e), self.dst.get_mut(d..d + e)) else {
            return Err("more stored values are placed than the data holds".into());
        };
        dst.copy_from_slice(src);
        self.next += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
