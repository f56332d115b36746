//! Writing: the owned [`Model`] → a valid `.tflite` file (empty buffer 0, 16-byte-aligned
//! buffer data, a deduplicated operator-code table with both code fields set).

use std::collections::HashMap;

use flatbuffers::{FlatBufferBuilder, Push, PushAlignment, WIPOffset};

use super::{fb, ops, IDENTIFIER};
use crate::model::{
    code, Data, LegacyMetadataBuffer, Model, QuantParams, SegmentArray, Sparsity, Tensor,
};
use crate::{Error, Result};

/// Largest flatbuffer the format can address; above it buffer data goes after the flatbuffer.
const INLINE_LIMIT: u64 = (1 << 31) - (64 << 20);

/// Zero-sized push that only raises the builder's alignment to 16 (TFLite's `force_align`
/// on buffer data), so that offsets aligned from the end are aligned from the start too.
struct Align16;
impl Push for Align16 {
    type Output = ();
    unsafe fn push(&self, _dst: &mut [u8], _written_len: usize) {}
    fn size() -> usize {
        0
    }
    fn alignment() -> PushAlignment {
        PushAlignment::new(16)
    }
}

/// Serialize a model. The model is validated first: an inconsistent model is an error,
/// never a broken file.
pub fn write(model: &Model) -> Result<Vec<u8>> {
    write_with_limit(model, INLINE_LIMIT)
}

/// [`write`] with a configurable threshold for the >2 GB layout (tests use a small one).
pub(crate) fn write_with_limit(model: &Model, inline_limit: u64) -> Result<Vec<u8>> {
    model.validate()?;
    let buffers = BufferTable::collect(model);
    let total: u64 = buffers.data.iter().map(|d| d.len() as u64).sum();
    if total <= inline_limit {
        return Ok(build(model, &buffers, None));
    }
    // Data after the flatbuffer: build once with placeholder offsets to learn the size
    // (the offsets are fixed-width scalars, so the size does not change), then for real.
    let placeholder = vec![u64::MAX; buffers.data.len()];
    let probe = build(model, &buffers, Some(&placeholder));
    if probe.len() as u64 > INLINE_LIMIT {
        return Err(Error::Write(format!(
            "the model's tables alone take {} bytes, more than a flatbuffer can hold",
            probe.len()
        )));
    }
    let mut offsets = Vec::with_capacity(buffers.data.len());
    let mut pos = align16(probe.len() as u64);
    for d in &buffers.data {
        offsets.push(pos);
        pos = align16(pos + d.len() as u64);
    }
    let mut out = build(model, &buffers, Some(&offsets));
    debug_assert_eq!(out.len(), probe.len());
    for (d, &off) in buffers.data.iter().zip(&offsets) {
        out.resize(off as usize, 0);
        out.extend_from_slice(d);
    }
    Ok(out)
}

fn align16(x: u64) -> u64 {
    x.div_ceil(16) * 16
}

/// Buffers in file order: index 0 is the empty sentinel; data shared by several tensors
/// (the same `Arc`) gets one buffer.
struct BufferTable {
    /// Data of buffers 1.. (buffer `i + 1` holds `data[i]`).
    data: Vec<Data>,
    index: HashMap<(usize, usize), u32>,
}

impl BufferTable {
    fn collect(model: &Model) -> BufferTable {
        let mut t = BufferTable {
            data: Vec::new(),
            index: HashMap::new(),
        };
        for sg in &model.subgraphs {
            for tensor in &sg.tensors {
                if let Some(d) = &tensor.data {
                    t.add(d);
                }
            }
        }
        for m in &model.metadata {
            t.add(&m.data);
        }
        for b in &model.legacy_metadata_buffers {
            if let LegacyMetadataBuffer::Data(d) = b {
                t.add(d);
            }
        }
        t
    }

    fn key(d: &Data) -> (usize, usize) {
        (d.as_ptr() as usize, d.len())
    }

    fn add(&mut self, d: &Data) {
        if d.is_empty() {
            return;
        }
        let next = self.data.len() as u32 + 1;
        if let std::collections::hash_map::Entry::Vacant(e) = self.index.entry(Self::key(d)) {
            e.insert(next);
            self.data.push(d.clone());
        }
    }

    /// The buffer index of `d` (0 for none or empty).
    fn of(&self, d: Option<&Data>) -> u32 {
        match d {
            Some(d) if !d.is_empty() => self.index[&Self::key(d)],
            _ => 0,
        }
    }
}

fn build(model: &Model, buffers: &BufferTable, external: Option<&[u64]>) -> Vec<u8> {
    let cap = buffers.data.iter().map(|d| d.len() + 32).sum::<usize>() + (64 << 10);
    let mut fbb = FlatBufferBuilder::with_capacity(if external.is_some() { 64 << 10 } else { cap });

    // Buffer data first: it lands at the end of the file, as TFLite's writers place it.
    let mut buffer_offsets = Vec::with_capacity(buffers.data.len() + 1);
    buffer_offsets.push(fb::Buffer::create(&mut fbb, &fb::BufferArgs::default()));
    for (i, d) in buffers.data.iter().enumerate() {
        let args = match external {
            Some(offsets) => fb::BufferArgs {
                data: None,
                offset: offsets[i],
                size: d.len() as u64,
            },
            None => {
                fbb.push(Align16);
                let used = fbb.unfinished_data().len();
                for _ in 0..(16 - (used + d.len()) % 16) % 16 {
                    fbb.push(0u8);
                }
                fb::BufferArgs {
                    data: Some(fbb.create_vector(d)),
                    ..Default::default()
                }
            }
        };
        buffer_offsets.push(fb::Buffer::create(&mut fbb, &args));
    }
    let buffers_vec = fbb.create_vector(&buffer_offsets);

    // Operator codes, deduplicated in order of first use.
    let mut codes: Vec<(i32, Option<String>, i32)> = Vec::new();
    let mut code_index = HashMap::new();
    for sg in &model.subgraphs {
        for op in &sg.operators {
            let key = (op.op.code(), custom_code(&op.op), op.version);
            code_index.entry(key.clone()).or_insert_with(|| {
                codes.push(key);
                codes.len() as u32 - 1
            });
        }
    }
    // The codes no operator uses, after the used ones (kept as the file had them).
    for c in &model.unused_operator_codes {
        let key = (c.builtin_code, c.custom_code.clone(), c.version);
        if !code_index.contains_key(&key) {
            code_index.insert(key.clone(), codes.len() as u32);
            codes.push(key);
        }
    }
    let code_offsets: Vec<_> = codes
        .iter()
        .map(|(c, custom, version)| {
            fb::OperatorCodeT {
                // The one-byte legacy field holds the code, or a placeholder above 127.
                deprecated_builtin_code: (*c).min(code::PLACEHOLDER_FOR_GREATER_OP_CODES) as i8,
                custom_code: custom.clone(),
                version: *version,
                builtin_code: fb::BuiltinOperator(*c),
            }
            .pack(&mut fbb)
        })
        .collect();
    let codes_vec = fbb.create_vector(&code_offsets);

    let subgraph_offsets: Vec<_> = model
        .subgraphs
        .iter()
        .map(|sg| {
            fb::SubGraphT {
                tensors: Some(sg.tensors.iter().map(|t| tensor_t(t, buffers)).collect()),
                inputs: Some(sg.inputs.iter().map(|&i| i as i32).collect()),
                outputs: Some(sg.outputs.iter().map(|&i| i as i32).collect()),
                operators: Some(
                    sg.operators
                        .iter()
                        .map(|o| {
                            let (mut builtin_options, builtin_options_2) = ops::options_of(&o.op);
                            if o.options_omitted && ops::options_are_defaults(&o.op) {
                                builtin_options = fb::BuiltinOptionsT::NONE;
                            }
                            let (custom_options, custom_options_format) = match &o.op {
                                crate::model::Op::Other(x) => (
                                    (!x.custom_options.is_empty())
                                        .then(|| x.custom_options.clone()),
                                    x.custom_options_format,
                                ),
                                _ => (None, 0),
                            };
                            fb::OperatorT {
                                opcode_index: code_index
                                    [&(o.op.code(), custom_code(&o.op), o.version)],
                                inputs: Some(o.inputs.clone()),
                                outputs: Some(o.outputs.clone()),
                                builtin_options,
                                custom_options,
                                custom_options_format: fb::CustomOptionsFormat(
                                    custom_options_format,
                                ),
                                mutating_variable_inputs: non_empty(&o.mutating_variable_inputs),
                                intermediates: non_empty(&o.intermediates),
                                large_custom_options_offset: 0,
                                large_custom_options_size: 0,
                                builtin_options_2,
                                debug_metadata_index: o.debug_metadata_index,
                            }
                        })
                        .collect(),
                ),
                name: sg.name.clone(),
                debug_metadata_index: sg.debug_metadata_index,
            }
            .pack(&mut fbb)
        })
        .collect();
    let subgraphs_vec = fbb.create_vector(&subgraph_offsets);

    let description = model.description.as_deref().map(|d| fbb.create_string(d));
    // A dangling reference stays dangling: past the end of the buffers written here.
    let n_buffers = buffers.data.len() as u64 + 1;
    let metadata_buffer = (!model.legacy_metadata_buffers.is_empty()).then(|| {
        let v: Vec<i32> = model
            .legacy_metadata_buffers
            .iter()
            .map(|b| match b {
                LegacyMetadataBuffer::Data(d) => buffers.of(Some(d)) as i32,
                LegacyMetadataBuffer::Dangling(i) if *i < 0 || *i as u64 >= n_buffers => *i,
                LegacyMetadataBuffer::Dangling(_) => n_buffers.min(i32::MAX as u64) as i32,
            })
            .collect();
        fbb.create_vector(&v)
    });
    let metadata = (!model.metadata.is_empty()).then(|| {
        let v: Vec<_> = model
            .metadata
            .iter()
            .map(|m| {
                fb::MetadataT {
                    name: Some(m.name.clone()),
                    buffer: match m.dangling_buffer {
                        Some(i) => (i as u64).max(n_buffers).min(u32::MAX as u64) as u32,
                        None => buffers.of(Some(&m.data)),
                    },
                }
                .pack(&mut fbb)
            })
            .collect();
        fbb.create_vector(&v)
    });
    let signature_defs = (!model.signature_defs.is_empty()).then(|| {
        let v: Vec<_> = model
            .signature_defs
            .iter()
            .map(|s| {
                let maps = |m: &[crate::model::TensorMap]| {
                    Some(
                        m.iter()
                            .map(|t| fb::TensorMapT {
                                name: Some(t.name.clone()),
                                tensor_index: t.tensor as u32,
                            })
                            .collect(),
                    )
                };
                fb::SignatureDefT {
                    inputs: maps(&s.inputs),
                    outputs: maps(&s.outputs),
                    signature_key: Some(s.key.clone()),
                    subgraph_index: s.subgraph as u32,
                }
                .pack(&mut fbb)
            })
            .collect();
        fbb.create_vector(&v)
    });
    let external_buffer_groups = (!model.external_buffer_groups.is_empty()).then(|| {
        let v: Vec<_> = model
            .external_buffer_groups
            .iter()
            .map(|g| {
                fb::ExternalBufferGroupT {
                    name: Some(g.clone()),
                }
                .pack(&mut fbb)
            })
            .collect();
        fbb.create_vector(&v)
    });
    let external_buffers = (!model.external_buffers.is_empty()).then(|| {
        let v: Vec<_> = model
            .external_buffers
            .iter()
            .map(|b| {
                fb::ExternalBufferT {
                    id: b.id,
                    group: b.group,
                    offset: b.offset,
                    length: b.length,
                    packing: b.packing.clone(),
                }
                .pack(&mut fbb)
            })
            .collect();
        fbb.create_vector(&v)
    });
    let root: WIPOffset<fb::Model> = fb::Model::create(
        &mut fbb,
        &fb::ModelArgs {
            version: model.version,
            operator_codes: Some(codes_vec),
            subgraphs: Some(subgraphs_vec),
            description,
            buffers: Some(buffers_vec),
            metadata_buffer,
            metadata,
            signature_defs,
            external_buffer_groups,
            external_buffers,
        },
    );
    fbb.finish(root, Some(IDENTIFIER));
    fbb.finished_data().to_vec()
}

fn custom_code(op: &crate::model::Op) -> Option<String> {
    match op {
        crate::model::Op::Other(o) => o.custom_code.clone(),
        _ => None,
    }
}

fn non_empty<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn tensor_t(t: &Tensor, buffers: &BufferTable) -> fb::TensorT {
    fb::TensorT {
        shape: Some(t.shape.clone()),
        type_: fb::TensorType(t.dtype.code()),
        buffer: buffers.of(t.data.as_ref()),
        name: Some(t.name.clone()),
        quantization: t.quant.as_ref().map(|q| Box::new(quant_t(q))),
        is_variable: t.is_variable,
        sparsity: t.sparsity.as_ref().map(|s| Box::new(sparsity_t(s))),
        shape_signature: t.shape_signature.clone(),
        has_rank: t.has_rank,
        variant_tensors: (!t.variant_tensors.is_empty()).then(|| {
            t.variant_tensors
                .iter()
                .map(|v| fb::VariantSubTypeT {
                    shape: Some(v.shape.clone()),
                    type_: fb::TensorType(v.dtype.code()),
                    has_rank: v.has_rank,
                })
                .collect()
        }),
        external_buffer: t.external_buffer,
    }
}

fn quant_t(q: &QuantParams) -> fb::QuantizationParametersT {
    fb::QuantizationParametersT {
        min: non_empty(&q.min),
        max: non_empty(&q.max),
        scale: non_empty(&q.scale),
        zero_point: non_empty(&q.zero_point),
        details: q.details.0.clone(),
        quantized_dimension: q.quantized_dimension,
    }
}

fn sparsity_t(s: &Sparsity) -> fb::SparsityParametersT {
    let seg = |a: &Option<SegmentArray>| match a {
        None => fb::SparseIndexVectorT::NONE,
        Some(SegmentArray::I32(v)) => {
            fb::SparseIndexVectorT::Int32Vector(Box::new(fb::Int32VectorT {
                values: Some(v.clone()),
            }))
        }
        Some(SegmentArray::U16(v)) => {
            fb::SparseIndexVectorT::Uint16Vector(Box::new(fb::Uint16VectorT {
                values: Some(v.clone()),
            }))
        }
        Some(SegmentArray::U8(v)) => {
            fb::SparseIndexVectorT::Uint8Vector(Box::new(fb::Uint8VectorT {
                values: Some(v.clone()),
            }))
        }
    };
    fb::SparsityParametersT {
        traversal_order: non_empty(&s.traversal_order),
        block_map: non_empty(&s.block_map),
        dim_metadata: Some(
            s.dim_metadata
                .iter()
                .map(|d| fb::DimensionMetadataT {
                    format: fb::DimensionType(d.format),
                    dense_size: d.dense_size,
                    array_segments: seg(&d.array_segments),
                    array_indices: seg(&d.array_indices),
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DType, Operator, Subgraph, Tensor, SCHEMA_VERSION};
    use std::sync::Arc;

    fn model_with_shared_constant() -> Model {
        let data: Data = Arc::from(vec![7u8; 40]);
        let mut a = Tensor::new("a", DType::F32, vec![10]);
        a.data = Some(data.clone());
        let mut b = Tensor::new("b", DType::F32, vec![10]);
        b.data = Some(data);
        let x = Tensor::new("x", DType::F32, vec![10]);
        let y = Tensor::new("y", DType::F32, vec![10]);
        Model {
            version: SCHEMA_VERSION,
            description: None,
            subgraphs: vec![Subgraph {
                name: None,
                tensors: vec![a, b, x, y],
                inputs: vec![2],
                outputs: vec![3],
                operators: vec![Operator {
                    op: crate::model::Op::Add(crate::model::AddSubOptions {
                        activation: crate::model::Activation::None,
                        pot_scale_int16: true,
                    }),
                    version: 1,
                    inputs: vec![2, 0],
                    outputs: vec![3],
                    intermediates: vec![],
                    mutating_variable_inputs: vec![],
                    debug_metadata_index: -1,
                    options_omitted: false,
                }],
                debug_metadata_index: -1,
            }],
            metadata: vec![],
            signature_defs: vec![],
            legacy_metadata_buffers: vec![],
            external_buffer_groups: vec![],
            external_buffers: vec![],
            unused_operator_codes: vec![],
        }
    }

    #[test]
    fn shared_data_is_written_once() {
        let m = model_with_shared_constant();
        let bytes = write(&m).unwrap();
        let root = flatbuffers::root::<fb::Model>(&bytes).unwrap();
        assert_eq!(
            root.buffers().unwrap().len(),
            2,
            "sentinel + one shared buffer"
        );
        let back = crate::tflite::read(&bytes).unwrap();
        assert_eq!(back, m);
        let t = &back.subgraphs[0].tensors;
        assert!(Arc::ptr_eq(
            t[0].data.as_ref().unwrap(),
            t[1].data.as_ref().unwrap()
        ));
    }

    #[test]
    fn data_after_the_flatbuffer_when_over_the_limit() {
        let m = model_with_shared_constant();
        let bytes = write_with_limit(&m, 8).unwrap();
        let root = flatbuffers::root::<fb::Model>(&bytes).unwrap();
        let b = root.buffers().unwrap().get(1);
        assert!(b.data().is_none());
        assert_eq!(b.offset() % 16, 0);
        assert_eq!(b.size(), 40);
        assert_eq!(&bytes[b.offset() as usize..][..40], &[7u8; 40][..]);
        assert_eq!(crate::tflite::read(&bytes).unwrap(), m);
        // A truncated data area is a clear error, not a panic.
        let cut = &bytes[..bytes.len() - 1];
        let e = crate::tflite::read(cut).unwrap_err().to_string();
        assert!(e.contains("buffer 1") && e.contains("outside"), "{e}");
    }

    #[test]
    fn an_invalid_model_is_not_written() {
        let mut m = model_with_shared_constant();
        m.subgraphs[0].operators[0].inputs[1] = 9;
        let e = write(&m).unwrap_err().to_string();
        assert!(e.contains("operator 0 (ADD) input 1 is tensor 9"), "{e}");
    }
}
