//! Sparse float weights before quantizing: every sparse constant densified in place, and
//! every DENSIFY of one dropped, its output made the dense constant it computes.
//!
//! The result is the dense float model the converter would have quantized: TF's converter
//! applies `EXPERIMENTAL_SPARSITY` to its own output only when asked, and without it writes
//! dense int8 weights (its int8 file of the same Keras model without the option is what
//! `tests/sparse.rs` compares with). Tensor indices are kept (calibration statistics are
//! by index); the sparse tensors DENSIFY read are left unused, and the layout drops them
//! as the converter's exporter drops unused constants.

use super::Working;
use crate::model::sparsity;
use crate::reference::densify::is_densify;
use crate::{Error, Model, Result};

/// A model with its sparse constants made dense.
pub(crate) struct Densified {
    pub model: Model,
    /// Per subgraph: the sparse tensors only a dropped DENSIFY read (now unused, no data).
    dropped: Vec<Vec<usize>>,
}

impl Densified {
    /// Leave the dropped tensors out of the prepared bodies (the converter's dense model
    /// never had them).
    pub(crate) fn forget_dropped(&self, works: &mut [Working]) {
        for (w, dropped) in works.iter_mut().zip(&self.dropped) {
            w.body.loose.retain(|t| !dropped.contains(t));
        }
    }
}

/// `model` with its sparse constants dense, or `None` if it has none.
pub(crate) fn densified(model: &Model) -> Result<Option<Densified>> {
    let sparse = |m: &Model| {
        m.subgraphs
            .iter()
            .any(|sg| sg.tensors.iter().any(|t| t.sparsity.is_some()))
    };
    if !sparse(model) {
        return Ok(None);
    }
    let mut out = model.clone();
    let mut dropped = vec![Vec::new(); out.subgraphs.len()];
    for (si, sg) in out.subgraphs.iter_mut().enumerate() {
        let sparse_before: Vec<bool> = sg.tensors.iter().map(|t| t.sparsity.is_some()).collect();
        for (ti, t) in sg.tensors.iter_mut().enumerate() {
            if t.sparsity.is_none() || t.data.is_none() {
                continue;
            }
            let dense = sparsity::densify(t)
                .map_err(|e| Error::InvalidModel(format!("subgraph {si} tensor {ti}: {e}")))?;
            t.data = Some(dense.into());
            t.sparsity = None;
        }
        let mut kept = Vec::with_capacity(sg.operators.len());
        for op in std::mem::take(&mut sg.operators) {
            let (Some(i), Some(o)) = (op.input(0), op.output_tensors().next()) else {
                kept.push(op);
                continue;
            };
            let same = sg.tensors[i].dtype == sg.tensors[o].dtype
                && sg.tensors[i].shape == sg.tensors[o].shape;
            if is_densify(&op) && sg.tensors[i].data.is_some() && same {
                sg.tensors[o].data = sg.tensors[i].data.clone();
            } else {
                kept.push(op);
            }
        }
        sg.operators = kept;
        // A sparse tensor only DENSIFY read is gone with it (the converter's dense model has
        // no such constant): no data, no readers.
        for (ti, t) in sg.tensors.iter_mut().enumerate() {
            let read = sg
                .operators
                .iter()
                .any(|op| op.input_tensors().any(|x| x == ti))
                || sg.outputs.contains(&ti);
            if sparse_before[ti] && !read {
                t.data = None;
                dropped[si].push(ti);
            }
        }
    }
    // The input's op versions and `min_runtime_version` counted the sparse kernels; the
    // dense model's are what its own ops need.
    super::versions::set_versions(&mut out);
    let floor = super::versions::runtime_version(&out, "");
    if let (Some(m), Some(bytes)) = (
        out.metadata
            .iter_mut()
            .find(|m| m.name == super::MIN_RUNTIME_VERSION),
        super::versions::runtime_version_bytes(&floor),
    ) {
        m.data = bytes.into();
    }
    if sparse(&out) {
        return Err(Error::InvalidModel(
            "a sparse tensor holds no data: it cannot be densified".into(),
        ));
    }
    Ok(Some(Densified {
        model: out,
        dropped,
    }))
}
