//! Warnings: what LiteRT tolerates in a file and litequant therefore reads, keeps and writes
//! back as it is, but a careful writer would not produce. Each line names the field and says
//! why it is harmless. The refusals are in [`super::validate`]; docs/reading.md lists both.

use super::{builtin_name, LegacyMetadataBuffer, Model};

pub(super) fn warnings(model: &Model) -> Vec<String> {
    let mut w = Vec::new();
    for (i, m) in model.metadata.iter().enumerate() {
        if let Some(b) = m.dangling_buffer {
            w.push(format!(
                "metadata {i} ('{}') names buffer {b}, which the file does not have (or cannot \
                 read): LiteRT skips the entry (FlatBufferModel::ReadAllMetadata); kept as it is",
                m.name
            ));
        }
    }
    for (i, b) in model.legacy_metadata_buffers.iter().enumerate() {
        if let LegacyMetadataBuffer::Dangling(b) = b {
            w.push(format!(
                "metadata_buffer entry {i} refers to buffer {b}, which the file does not have: \
                 LiteRT never reads metadata_buffer; kept as it is"
            ));
        }
    }
    for code in &model.unused_operator_codes {
        let name = match &code.custom_code {
            Some(c) => format!("custom '{c}'"),
            None => builtin_name(code.builtin_code),
        };
        w.push(format!(
            "operator code {name} (version {}) is used by no operator: LiteRT still resolves \
             it; kept as it is",
            code.version
        ));
    }
    let debug = |index: i32, what: &str, w: &mut Vec<String>| {
        if index < -1 || index >= 0 && index as usize >= model.metadata.len() {
            w.push(format!(
                "{what}: debug_metadata_index {index} names no metadata entry (the model has {}): \
                 LiteRT does not read it; kept as it is",
                model.metadata.len()
            ));
        }
    };
    for (si, sg) in model.subgraphs.iter().enumerate() {
        debug(sg.debug_metadata_index, &format!("subgraph {si}"), &mut w);
        for (oi, op) in sg.operators.iter().enumerate() {
            debug(
                op.debug_metadata_index,
                &format!("subgraph {si}, operator {oi} ({})", op.op.name()),
                &mut w,
            );
        }
        for (ti, t) in sg.tensors.iter().enumerate() {
            if let Some(sig) = &t.shape_signature {
                if sig.iter().any(|&d| d < -1) {
                    w.push(format!(
                        "subgraph {si}, tensor {ti} ('{}'): shape_signature {sig:?} has a \
                         dimension below -1 (LiteRT keeps it; only -1 marks a dimension that \
                         inputs may resize strictly); kept as it is",
                        t.name
                    ));
                }
            }
        }
    }
    for (i, sig) in model.signature_defs.iter().enumerate() {
        let Some(sg) = model.subgraphs.get(sig.subgraph) else {
            w.push(format!(
                "signature {i} ('{}') names subgraph {}, but the model has {} subgraphs: \
                 LiteRT loads the file (its signature runner would fail); the signature \
                 names nothing here",
                sig.key,
                sig.subgraph,
                model.subgraphs.len()
            ));
            continue;
        };
        for (kind, maps) in [("input", &sig.inputs), ("output", &sig.outputs)] {
            for m in maps.iter().filter(|m| m.tensor >= sg.tensors.len()) {
                w.push(format!(
                    "signature {i} ('{}') {kind} '{}' names tensor {}, but subgraph {} has {} \
                     tensors: LiteRT loads the file; the name is not used here",
                    sig.key,
                    m.name,
                    m.tensor,
                    sig.subgraph,
                    sg.tensors.len()
                ));
            }
        }
    }
    w
}
