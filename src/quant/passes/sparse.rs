//! Stored float weights before quantizing, as the float32 model they stand for:
//! - sparse: every sparse constant densified in place, and every DENSIFY of one dropped, its
//!   output made the dense constant it computes;
//! - float16 (the converter's float16 mode, as MediaPipe ships many of its models): every
//!   DEQUANTIZE of a FLOAT16 constant dropped, its output made the float32 constant it
//!   computes (each half widened exactly, as LiteRT's DEQUANTIZE does), and the file's
//!   float16 markers (`CONVERSION_METADATA`'s float16 mode, `reduced_precision_support`)
//!   dropped with them.
//!
//! The result is the dense float model the converter would have quantized: TF's converter
//! applies `EXPERIMENTAL_SPARSITY` to its own output only when asked, and without it writes
//! dense int8 weights (its int8 file of the same Keras model without the option is what
//! `tests/sparse.rs` compares with). Tensor indices are kept (calibration statistics are
//! by index, and calibrating the stored model computes the same float32 weights); the
//! tensors DENSIFY or DEQUANTIZE read are left unused, and the layout drops them as the
//! converter's exporter drops unused constants.

use super::Working;
use crate::model::sparsity;
use crate::model::{DType, Operator, Subgraph};
use crate::reference::densify::is_densify;
use crate::tensor::f16_to_f32;
use crate::{Error, Model, Result};

/// A DEQUANTIZE of a FLOAT16 constant (no scales, dense or already densified by an earlier
/// DENSIFY) into a float32 tensor of the same shape: (constant, output).
fn half_weight(sg: &Subgraph, op: &Operator) -> Option<(usize, usize)> {
    if op.op != crate::model::Op::Dequantize {
        return None;
    }
    let i = op.input(0)?;
    let o = op.output_tensors().next()?;
    let (ti, to) = (sg.tensors.get(i)?, sg.tensors.get(o)?);
    let plain = ti.quant.as_ref().is_none_or(|q| q.scale.is_empty());
    let fits = ti.data.as_ref().is_some_and(|d| {
        let n: usize = ti
            .shape
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .product();
        d.len() == 2 * n
    });
    (ti.dtype == DType::F16
        && to.dtype == DType::F32
        && ti.shape == to.shape
        && ti.sparsity.is_none()
        && plain
        && fits
        && to.data.is_none())
    .then_some((i, o))
}

/// A model with its sparse and float16 constants made dense float32.
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

/// `model` with its sparse and float16 constants dense float32, or `None` if it has none.
pub(crate) fn densified(model: &Model) -> Result<Option<Densified>> {
    let sparse = |m: &Model| {
        m.subgraphs
            .iter()
            .any(|sg| sg.tensors.iter().any(|t| t.sparsity.is_some()))
    };
    let half = |m: &Model| {
        m.subgraphs
            .iter()
            .any(|sg| sg.operators.iter().any(|op| half_weight(sg, op).is_some()))
    };
    if !sparse(model) && !half(model) {
        return Ok(None);
    }
    let mut out = model.clone();
    let mut dropped = vec![Vec::new(); out.subgraphs.len()];
    for (si, sg) in out.subgraphs.iter_mut().enumerate() {
        let mut stored_before: Vec<bool> =
            sg.tensors.iter().map(|t| t.sparsity.is_some()).collect();
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
            } else if let Some((i, o)) = half_weight(sg, &op) {
                // A DENSIFY before it has already made its input dense.
                let bytes = sg.tensors[i].data.as_deref().unwrap_or_default();
                let wide: Vec<u8> = bytes
                    .chunks_exact(2)
                    .flat_map(|h| f16_to_f32(u16::from_le_bytes([h[0], h[1]])).to_le_bytes())
                    .collect();
                sg.tensors[o].data = Some(wide.into());
                stored_before[i] = true;
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
            if stored_before[ti] && !read {
                t.data = None;
                dropped[si].push(ti);
            }
        }
    }
    // The float16 markers go with the float16 weights (the dense model is a float model).
    out.metadata
        .retain(|m| m.name != super::REDUCED_PRECISION_SUPPORT);
    if let Some(m) = out
        .metadata
        .iter_mut()
        .find(|m| m.name == super::metadata::CONVERSION_METADATA)
    {
        if let Some(mut cm) = super::metadata::ConversionMetadata::parse(&m.data) {
            if let Some(modes) = cm.modes.as_mut() {
                modes.retain(|&x| x != super::metadata::PTQ_FLOAT16);
            }
            m.data = cm.to_bytes().into();
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
