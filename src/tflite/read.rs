//! Reading: verify the flatbuffer with explicit limits, check every index, build the owned
//! [`Model`].

use std::collections::HashMap;
use std::sync::Arc;

use super::{fb, ops, IDENTIFIER};
use crate::model::{
    DType, Data, DimensionMetadata, ExternalBuffer, LegacyMetadataBuffer, Metadata, Model,
    Operator, OperatorCode, QuantDetails, QuantParams, SegmentArray, SignatureDef, Sparsity,
    Subgraph, Tensor, TensorMap, VariantSubType,
};
use crate::{Error, Result};

fn format(msg: String) -> Error {
    Error::Format(msg)
}
fn invalid(msg: String) -> Error {
    Error::InvalidModel(msg)
}

/// Verifier limits scaled to the file: a table takes at least 4 bytes, so a legitimate file
/// has at most `len / 4` tables; the apparent (tree-expanded) size of a file without shared
/// subtrees is its own size, so a small file cannot unfold into a huge model.
fn verifier_options(len: usize) -> flatbuffers::VerifierOptions {
    flatbuffers::VerifierOptions {
        max_depth: 64,
        max_tables: len / 4 + 64,
        max_apparent_size: len.saturating_mul(2).saturating_add(1 << 16),
        ignore_missing_null_terminator: false,
    }
}

/// Read and validate a model from the bytes of a `.tflite` file.
pub fn read(bytes: &[u8]) -> Result<Model> {
    read_with_warnings(bytes).map(|(m, _)| m)
}

/// [`read`], with the warnings about what LiteRT tolerates in the file: those of
/// [`Model::warnings`] and those only the bytes show (data in buffer 0).
pub fn read_with_warnings(bytes: &[u8]) -> Result<(Model, Vec<String>)> {
    // LiteRT: FlatBufferModel::CheckModelIdentifier (core/model_builder.cc).
    if bytes.len() < 8 {
        return Err(format(format!(
            "the file is {} bytes long, too short for a flatbuffer",
            bytes.len()
        )));
    }
    if !flatbuffers::buffer_has_identifier(bytes, IDENTIFIER, false) {
        return Err(format(format!(
            "file identifier is {:?}, expected \"{IDENTIFIER}\"",
            String::from_utf8_lossy(&bytes[4..8])
        )));
    }
    // LiteRT: VerifyModelBuffer in FlatBufferModel::VerifyAndBuildFrom* (the Python
    // interpreter builds this way).
    let opts = verifier_options(bytes.len());
    let root = flatbuffers::root_with_opts::<fb::Model>(&opts, bytes)
        .map_err(|e| format(format!("flatbuffer verification failed: {e}")))?;
    let mut warnings = Vec::new();
    let model = convert(root, bytes, &mut warnings)?;
    model.validate()?;
    warnings.extend(model.warnings());
    Ok((model, warnings))
}

struct OpCode {
    code: i32,
    custom_code: Option<String>,
    version: i32,
}

fn convert(m: fb::Model, file: &[u8], warnings: &mut Vec<String>) -> Result<Model> {
    let opcodes = m
        .operator_codes()
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, oc)| {
            // Older writers set only the one-byte field; newer ones set both (the byte
            // holding a placeholder for codes above 127). The larger is the real code.
            let code = oc.builtin_code().0.max(oc.deprecated_builtin_code() as i32);
            // LiteRT resolves every code of the table, used or not, and a negative one has
            // no registration (GetRegistrationFromOpCode, core/api/op_resolver.cc, called by
            // InterpreterBuilder::BuildLocalIndexToRegistrationMapping).
            if code < 0 {
                return Err(invalid(format!(
                    "operator code {i} has a negative builtin code {code}"
                )));
            }
            Ok(OpCode {
                code,
                custom_code: oc.custom_code().map(str::to_string),
                version: oc.version(),
            })
        })
        .collect::<Result<Vec<_>>>()?;

    let mut used_opcodes = vec![false; opcodes.len()];

    // A buffer's data is an error only when a tensor reads it, as in LiteRT (which checks
    // the buffers tensors name, InterpreterBuilder::ParseTensors); metadata that names an
    // unreadable buffer is skipped there (FlatBufferModel::ReadAllMetadata).
    let mut by_offset = OffsetData::default();
    let buffers = m
        .buffers()
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, b)| buffer_data(i, &b, file, &mut by_offset))
        .collect::<Vec<_>>();
    if let Some(Ok(Some(d))) = buffers.first() {
        warnings.push(format!(
            "buffer 0 holds {} bytes: LiteRT reads no tensor data from buffer 0 \
             (InterpreterBuilder::ParseTensors), so neither does litequant; the written file \
             keeps buffer 0 empty",
            d.len()
        ));
    }
    // Bytes copied out of the file for large custom options and for custom codes (each
    // operator gets its own copy of its code's custom_code).
    let mut large_options_bytes = 0u64;
    let mut custom_code_bytes = 0u64;
    let custom_code_limit = (file.len() as u64).saturating_mul(8) + (1 << 20);
    // LiteRT: "Tensor %d specifies out of range buffer" and "Constant buffer %d specified
    // an out of range offset" (InterpreterBuilder::ParseTensors). Buffer 0 means "no data".
    let tensor_buffer = |i: u32, what: &dyn Fn() -> String| -> Result<Option<Data>> {
        if i == 0 {
            return Ok(None);
        }
        match buffers.get(i as usize) {
            Some(Ok(d)) => Ok(d.clone()),
            Some(Err(e)) => Err(invalid(format!("{}: {e}", what()))),
            None => Err(invalid(format!(
                "{} refers to buffer {i}, but the model has {} buffers",
                what(),
                buffers.len()
            ))),
        }
    };
    // Metadata: `None` when the index names no readable buffer (kept dangling).
    let metadata_buffer = |i: u32| -> Option<Data> {
        match buffers.get(i as usize) {
            Some(Ok(d)) => Some(d.clone().unwrap_or_else(|| Arc::from(&[][..]))),
            _ => None,
        }
    };

    let mut subgraphs = Vec::new();
    for (si, sg) in m.subgraphs().iter().flatten().enumerate() {
        let sg = sg.unpack();
        let mut tensors = Vec::new();
        for (ti, t) in sg.tensors.unwrap_or_default().into_iter().enumerate() {
            let name = t.name.clone().unwrap_or_default();
            let data = tensor_buffer(t.buffer, &|| {
                format!("subgraph {si}, tensor {ti} ('{name}')")
            })?;
            tensors.push(tensor(t, name, data));
        }
        let mut operators = Vec::new();
        for (oi, o) in sg.operators.unwrap_or_default().into_iter().enumerate() {
            // LiteRT: "Missing registration for opcode_index" (InterpreterBuilder::ParseNodes).
            let oc = opcodes.get(o.opcode_index as usize).ok_or_else(|| {
                invalid(format!(
                    "subgraph {si}, operator {oi} uses operator code {}, but the model has {}",
                    o.opcode_index,
                    opcodes.len()
                ))
            })?;
            used_opcodes[o.opcode_index as usize] = true;
            let custom_options = match o.custom_options {
                Some(v) => v,
                None if o.large_custom_options_size > 0 => {
                    // A real file stores each operator's options once; options that
                    // overlap could make a small file copy itself once per operator.
                    large_options_bytes =
                        large_options_bytes.saturating_add(o.large_custom_options_size);
                    if large_options_bytes > file.len() as u64 {
                        return Err(invalid(format!(
                            "subgraph {si}, operator {oi}: large custom options overlap (operators so far take {large_options_bytes} bytes of the {}-byte file)",
                            file.len()
                        )));
                    }
                    file_range(file, o.large_custom_options_offset, o.large_custom_options_size)
                        .ok_or_else(|| {
                            invalid(format!(
                                "subgraph {si}, operator {oi}: large custom options at offset {} size {} lie outside the {}-byte file",
                                o.large_custom_options_offset,
                                o.large_custom_options_size,
                                file.len()
                            ))
                        })?
                        .to_vec()
                }
                None => Vec::new(),
            };
            if let Some(c) = &oc.custom_code {
                custom_code_bytes = custom_code_bytes.saturating_add(c.len() as u64);
                if custom_code_bytes > custom_code_limit {
                    return Err(invalid(format!(
                        "subgraph {si}, operator {oi}: the operators' custom codes take more than {custom_code_limit} bytes, implausibly many for a {}-byte file",
                        file.len()
                    )));
                }
            }
            let options_omitted = o.builtin_options == fb::BuiltinOptionsT::NONE;
            let op = ops::op_from_raw(ops::RawOp {
                code: oc.code,
                custom_code: oc.custom_code.clone(),
                builtin: o.builtin_options,
                builtin2: o.builtin_options_2,
                custom_options,
                custom_options_format: o.custom_options_format.0,
            });
            let options_omitted = options_omitted && !matches!(op, crate::model::Op::Other(_));
            operators.push(Operator {
                op,
                version: oc.version,
                inputs: o.inputs.unwrap_or_default(),
                outputs: o.outputs.unwrap_or_default(),
                intermediates: o.intermediates.unwrap_or_default(),
                mutating_variable_inputs: o.mutating_variable_inputs.unwrap_or_default(),
                debug_metadata_index: o.debug_metadata_index,
                options_omitted,
            });
        }
        let index_list = |v: Option<Vec<i32>>, what: &str| -> Result<Vec<usize>> {
            v.unwrap_or_default()
                .into_iter()
                .map(|t| {
                    usize::try_from(t)
                        .map_err(|_| invalid(format!("subgraph {si}: {what} lists tensor {t}")))
                })
                .collect()
        };
        subgraphs.push(Subgraph {
            name: sg.name,
            inputs: index_list(sg.inputs, "inputs")?,
            outputs: index_list(sg.outputs, "outputs")?,
            tensors,
            operators,
            debug_metadata_index: sg.debug_metadata_index,
        });
    }

    let empty: Data = Arc::from(&[][..]);
    let mut metadata = Vec::new();
    for md in m.metadata().iter().flatten() {
        let name = md.name().unwrap_or_default().to_string();
        let data = metadata_buffer(md.buffer());
        metadata.push(Metadata {
            name,
            dangling_buffer: data.is_none().then_some(md.buffer()),
            data: data.unwrap_or_else(|| empty.clone()),
        });
    }
    // LiteRT never reads `metadata_buffer`: any index is kept as it is.
    let legacy_metadata_buffers = m
        .metadata_buffer()
        .iter()
        .flatten()
        .map(|b| match u32::try_from(b).ok().and_then(metadata_buffer) {
            Some(d) => LegacyMetadataBuffer::Data(d),
            None => LegacyMetadataBuffer::Dangling(b),
        })
        .collect();
    let unused_operator_codes = opcodes
        .iter()
        .zip(&used_opcodes)
        .filter(|(_, &used)| !used)
        .map(|(oc, _)| OperatorCode {
            builtin_code: oc.code,
            custom_code: oc.custom_code.clone(),
            version: oc.version,
        })
        .collect();
    let signature_defs = m
        .signature_defs()
        .iter()
        .flatten()
        .map(|s| {
            let s = s.unpack();
            let maps = |v: Option<Vec<fb::TensorMapT>>| {
                v.unwrap_or_default()
                    .into_iter()
                    .map(|t| TensorMap {
                        name: t.name.unwrap_or_default(),
                        tensor: t.tensor_index as usize,
                    })
                    .collect()
            };
            SignatureDef {
                key: s.signature_key.unwrap_or_default(),
                subgraph: s.subgraph_index as usize,
                inputs: maps(s.inputs),
                outputs: maps(s.outputs),
            }
        })
        .collect();
    let external_buffer_groups = m
        .external_buffer_groups()
        .iter()
        .flatten()
        .map(|g| g.name().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    let external_buffers = m
        .external_buffers()
        .iter()
        .flatten()
        .map(|b| ExternalBuffer {
            id: b.id(),
            group: b.group(),
            offset: b.offset(),
            length: b.length(),
            packing: b.packing().map(str::to_string),
        })
        .collect();
    Ok(Model {
        version: m.version(),
        description: m.description().map(str::to_string),
        subgraphs,
        metadata,
        signature_defs,
        legacy_metadata_buffers,
        external_buffer_groups,
        external_buffers,
        unused_operator_codes,
    })
}

/// `len` bytes at `offset` of the file, if they lie inside it.
fn file_range(file: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    file.get(start..end)
}

/// Buffer data stored by offset, copied once per distinct range.
#[derive(Default)]
struct OffsetData {
    ranges: HashMap<(u64, u64), Data>,
    bytes: u64,
}

/// A buffer's data; `Err` (a message) when its offset and size lie outside the file.
/// Overlapping ranges that together exceed the file are a hard error (a resource bound).
fn buffer_data(
    i: usize,
    b: &fb::Buffer,
    file: &[u8],
    by_offset: &mut OffsetData,
) -> std::result::Result<Option<Data>, String> {
    if let Some(d) = b.data() {
        return Ok((!d.is_empty()).then(|| Arc::from(d.bytes())));
    }
    // Files over 2 GB keep data after the flatbuffer; offsets count from the file's start
    // (0 and 1 mean "no data").
    if b.offset() > 1 && b.size() > 0 {
        let key = (b.offset(), b.size());
        if let Some(d) = by_offset.ranges.get(&key) {
            return Ok(Some(d.clone()));
        }
        let d = file_range(file, b.offset(), b.size()).ok_or_else(|| {
            format!(
                "buffer {i}: data at offset {} size {} lies outside the {}-byte file",
                b.offset(),
                b.size(),
                file.len()
            )
        })?;
        // Distinct ranges that together exceed the file overlap; copying each could make a
        // small file copy itself once per buffer.
        // (Then the file's size bounds the bytes copied out of it.)
        by_offset.bytes += b.size();
        if by_offset.bytes > file.len() as u64 {
            return Err(format!(
                "buffer {i}: data at offset {} size {} overlaps other buffers' data (buffers so far take {} bytes of the {}-byte file)",
                b.offset(),
                b.size(),
                by_offset.bytes,
                file.len()
            ));
        }
        let d: Data = Arc::from(d);
        by_offset.ranges.insert(key, d.clone());
        return Ok(Some(d));
    }
    Ok(None)
}

fn tensor(t: fb::TensorT, name: String, data: Option<Data>) -> Tensor {
    let quant = t.quantization.map(|q| QuantParams {
        scale: q.scale.unwrap_or_default(),
        zero_point: q.zero_point.unwrap_or_default(),
        min: q.min.unwrap_or_default(),
        max: q.max.unwrap_or_default(),
        quantized_dimension: q.quantized_dimension,
        details: QuantDetails(q.details),
    });
    let sparsity = t.sparsity.map(|s| Sparsity {
        traversal_order: s.traversal_order.unwrap_or_default(),
        block_map: s.block_map.unwrap_or_default(),
        dim_metadata: s
            .dim_metadata
            .unwrap_or_default()
            .into_iter()
            .map(|d| DimensionMetadata {
                format: d.format.0,
                dense_size: d.dense_size,
                array_segments: segments(d.array_segments),
                array_indices: segments(d.array_indices),
            })
            .collect(),
    });
    Tensor {
        name,
        dtype: DType::from_code(t.type_.0),
        shape: t.shape.unwrap_or_default(),
        shape_signature: t.shape_signature,
        quant,
        data,
        is_variable: t.is_variable,
        sparsity,
        has_rank: t.has_rank,
        variant_tensors: t
            .variant_tensors
            .iter()
            .flatten()
            .map(|v| VariantSubType {
                dtype: DType::from_code(v.type_.0),
                shape: v.shape.clone().unwrap_or_default(),
                has_rank: v.has_rank,
            })
            .collect(),
        external_buffer: t.external_buffer,
    }
}

fn segments(s: fb::SparseIndexVectorT) -> Option<SegmentArray> {
    use fb::SparseIndexVectorT as S;
    match s {
        S::NONE => None,
        S::Int32Vector(v) => Some(SegmentArray::I32(v.values.unwrap_or_default())),
        S::Uint16Vector(v) => Some(SegmentArray::U16(v.values.unwrap_or_default())),
        S::Uint8Vector(v) => Some(SegmentArray::U8(v.values.unwrap_or_default())),
    }
}
