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
        for (k, &t) in sg.inputs.iter().enumerate() {
            if let Some(tensor) = sg.tensors.get(t).filter(|x| x.is_constant()) {
                w.push(format!(
                    "subgraph {si}: input {k} is tensor {t} ('{}'), which holds constant data: \
                     LiteRT loads the file but crashes when the input is set (read-only \
                     kTfLiteMmapRo data); litequant reads it but refuses to run or quantize it",
                    tensor.name
                ));
            }
        }
        for (ti, t) in sg.tensors.iter().enumerate() {
            if let Some(why) = t.quant.as_ref().and_then(|q| quant_oddity(t.dtype, q)) {
                w.push(format!(
                    "subgraph {si}, tensor {ti} ('{}', {}): {why}: LiteRT reads it \
                     (InterpreterBuilder::ParseQuantization checks only the counts); a kernel \
                     that needs it may refuse the model at prepare, and litequant's engines \
                     refuse it where LiteRT's kernels do; kept as it is",
                    t.name, t.dtype
                ));
            }
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

/// What is odd in a tensor's quantization parameters: a scale that is not a positive finite
/// number, or a zero point outside the range of the tensor's type.
pub(crate) fn quant_oddity(dtype: super::DType, q: &super::QuantParams) -> Option<String> {
    use super::DType;
    let (lo, hi) = match dtype {
        DType::I8 => (-128, 127),
        DType::U8 => (0, 255),
        DType::I16 => (-32768, 32767),
        DType::I4 => (-8, 7),
        DType::I32 | DType::I64 => (i64::MIN, i64::MAX),
        _ => return None,
    };
    if let Some(s) = q.scale.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Some(format!("scale {s} is not a positive finite number"));
    }
    q.zero_point
        .iter()
        .find(|z| !(lo..=hi).contains(*z))
        .map(|z| format!("zero point {z} is outside {dtype}'s range [{lo}, {hi}]"))
}
