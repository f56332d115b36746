//! Operator versions and the `min_runtime_version` metadata, by the converter's rules.
//!
//! The exporter writes one operator code per builtin op at version 0 and then raises it to
//! the largest version any operator using it needs (`UpdateOpVersion`,
//! `tensorflow/compiler/mlir/lite/tools/versioning/op_version.cc`): every operator of one
//! builtin code shares that maximum. The version of one operator is
//! `GetBuiltinOperatorVersion` of its signature (`op_signature.cc`: input/output types,
//! whether the weight is per-channel, some options). [`op_version`] encodes that function
//! for the ops the quantizer changes; other ops keep the version they were read with.
//!
//! `min_runtime_version` (`UpdateMinimumRuntimeVersionForModel`, `runtime_version.cc`) is
//! the largest runtime version any (op, version) pair needs, written as a 16-byte buffer
//! (the string, zero padded). [`runtime_version`] has the table's rows for the ops whose
//! versions the quantizer sets; for the others the float model's own value already
//! accounts (their versions do not change), so the result is the larger of the two.

use crate::model::{code, DType, Model, Op, Operator, Subgraph};

/// `TfLiteType` of an operator input/output slot (`None`: omitted).
fn slot_type(sg: &Subgraph, t: Option<usize>) -> Option<DType> {
    t.and_then(|t| sg.tensors.get(t)).map(|t| t.dtype)
}

/// `IsTensorSizeEqual(scale.size(), shape[dim])` for the tensor in input slot `slot`.
fn scales_match_dim(sg: &Subgraph, op: &Operator, slot: usize, dim: usize) -> bool {
    let Some(t) = op.input(slot).and_then(|t| sg.tensors.get(t)) else {
        return false;
    };
    let n = t.quant.as_ref().map_or(0, |q| q.scale.len());
    n > 0 && t.shape.get(dim).is_some_and(|&d| d >= 0 && d as usize == n)
}

/// `GetBuiltinOperatorVersion` for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
/// BATCH_MATMUL, TRANSPOSE_CONV, QUANTIZE and DEQUANTIZE; `None` for other ops.
pub fn op_version(sg: &Subgraph, op: &Operator) -> Option<i32> {
    use DType::*;
    let input = |i: usize| slot_type(sg, op.input(i));
    let output = |i: usize| slot_type(sg, op.outputs.get(i).and_then(|&t| usize::try_from(t).ok()));
    let (in0, in1, out0) = (input(0), input(1), output(0));
    let v = match &op.op {
        Op::Conv2D(o) => {
            // Per channel: one scale per output channel (filter dim 0).
            let per_channel = scales_match_dim(sg, op, 1, 0);
            let grouped = match (
                op.input(0).and_then(|t| sg.tensors.get(t)),
                op.input(1).and_then(|t| sg.tensors.get(t)),
            ) {
                (Some(i), Some(f)) if !i.shape.is_empty() => i.shape.get(3) != f.shape.get(3),
                _ => false,
            };
            if in0 == Some(I16)
                && in1 == Some(I8)
                && out0 == Some(I16)
                && o.quantized_bias_type != F32
            {
                8
            } else if grouped {
                6
            } else if in0 == Some(I16) && in1 == Some(I16) && output(1) == Some(I16) {
                4
            } else if in0 == Some(I8) && in1 == Some(I8) && out0 == Some(I8) {
                3
            } else if in0 == Some(I8) && in1 == Some(I4) && out0 == Some(I8) {
                7
            } else if in0 == Some(F32) && in1 == Some(I8) && out0 == Some(F32) {
                if per_channel {
                    5
                } else {
                    2
                }
            } else {
                1
            }
        }
        Op::DepthwiseConv2D(o) => {
            let per_channel = scales_match_dim(sg, op, 1, 3);
            if in0 == Some(I16) && in1 == Some(I16) && output(1) == Some(I16) {
                5
            } else if in0 == Some(F32) && in1 == Some(I8) && out0 == Some(F32) {
                if per_channel {
                    6
                } else {
                    4
                }
            } else if in0 == Some(I8) && in1 == Some(I8) && out0 == Some(I8) {
                3
            } else if in0 == Some(I8) && in1 == Some(I4) && out0 == Some(I8) {
                7
            } else if o.dilation_w != 1 || o.dilation_h != 1 {
                2
            } else {
                1
            }
        }
        Op::FullyConnected(o) => {
            let weight = op.input(1).and_then(|t| sg.tensors.get(t));
            let per_channel = scales_match_dim(sg, op, 1, 0);
            let sparse = weight.is_some_and(|w| w.sparsity.is_some());
            if in0 == Some(I16) && in1 == Some(I4) && out0 == Some(I16) {
                13
            } else if in0 == Some(F32) && in1 == Some(I8) && out0 == Some(F32) && per_channel {
                12
            } else if in0 == Some(I16)
                && in1 == Some(I8)
                && out0 == Some(I16)
                && o.quantized_bias_type != F32
            {
                11
            } else if sparse {
                8
            } else if in0 == Some(I16) && in1 == Some(I16) && out0 == Some(I16) {
                7
            } else if op.inputs.len() == 2 {
                6
            } else if o.keep_num_dims {
                5
            } else if in0 == Some(I8) && in1 == Some(I8) && out0 == Some(I8) {
                4
            } else if in0 == Some(I8) && in1 == Some(I4) && out0 == Some(I8) {
                10
            } else if in0 == Some(F32) && in1 == Some(I8) && out0 == Some(F32) {
                if o.asymmetric_quantize_inputs {
                    9
                } else {
                    3
                }
            } else if o.weights_format == 1 {
                2
            } else {
                1
            }
        }
        Op::TransposeConv(o) => {
            // Slot 0 is the output shape (int32), so the int16 row never applies to the
            // converter's files; kept as `op_version.cc` writes it.
            if in0 == Some(I16)
                && in1 == Some(I8)
                && out0 == Some(I16)
                && o.quantized_bias_type != F32
            {
                5
            } else if o.activation != crate::model::Activation::None {
                4
            } else if op.input(3).is_some() {
                3
            } else if in1 == Some(I8) {
                2
            } else {
                1
            }
        }
        Op::BatchMatMul(o) => {
            if in0 == Some(I16) {
                3
            } else if in0 == Some(I8) {
                2
            } else if in0 == Some(F32)
                && in1 == Some(I8)
                && out0 == Some(F32)
                && o.asymmetric_quantize_inputs
            {
                4
            } else {
                1
            }
        }
        Op::Dequantize => {
            let per_channel = op
                .input(0)
                .and_then(|t| sg.tensors.get(t))
                .and_then(|t| t.quant.as_ref().map(|q| (t, q)))
                .is_some_and(|(t, q)| {
                    q.scale.len() > 1
                        && usize::try_from(q.quantized_dimension)
                            .ok()
                            .and_then(|d| t.shape.get(d))
                            .is_some_and(|&d| d >= 0 && d as usize == q.scale.len())
                });
            match in0 {
                Some(I4) => 6,
                Some(I16) | Some(F16) => 3,
                Some(I8) if per_channel => 5,
                Some(I8) => 2,
                _ => 1,
            }
        }
        Op::Quantize => {
            let per_channel = op
                .outputs
                .first()
                .and_then(|&t| usize::try_from(t).ok())
                .and_then(|t| sg.tensors.get(t))
                .and_then(|t| t.quant.as_ref().map(|q| (t, q)))
                .is_some_and(|(t, q)| {
                    q.scale.len() > 1
                        && usize::try_from(q.quantized_dimension)
                            .ok()
                            .and_then(|d| t.shape.get(d))
                            .is_some_and(|&d| d >= 0 && d as usize == q.scale.len())
                });
            if in0 == Some(I4) || out0 == Some(I4) {
                4
            } else if per_channel {
                3
            } else if out0 == Some(I16) {
                2
            } else {
                1
            }
        }
        Op::BroadcastTo if in0 == Some(I8) => op.version.max(3),
        // FILL's value is its input 1 (int8 and int16 values: version 3).
        Op::Fill if matches!(input(1), Some(I8) | Some(I16)) => op.version.max(3),
        // SPLIT's data is its input 1 (input 0 is the axis).
        Op::Split { .. } if input(1) == Some(I8) => op.version.max(2),
        // Full-integer versions of the ops the int8 pass quantizes (float ops keep the
        // version they were read with).
        Op::AveragePool2D(_)
        | Op::MaxPool2D(_)
        | Op::Softmax { .. }
        | Op::Logistic
        | Op::Tanh
        | Op::Concatenation { .. }
        | Op::Add(_)
        | Op::Sub(_)
        | Op::Mul { .. }
        | Op::Pad
        | Op::PadV2
        | Op::Slice
        | Op::StridedSlice(_)
        | Op::Transpose
        | Op::ResizeBilinear(_)
        | Op::ResizeNearestNeighbor(_)
        | Op::Maximum
        | Op::Minimum
        | Op::Mean { .. }
        | Op::Sum { .. }
        | Op::ReduceMax { .. }
        | Op::ReduceMin { .. }
        | Op::ReduceProd { .. }
        | Op::Relu
        | Op::Relu6
        | Op::SquaredDifference
        | Op::Rsqrt
        | Op::Sqrt
        | Op::Exp
        | Op::Log
        | Op::Gelu { .. }
        | Op::SplitV { .. }
        | Op::Pack { .. }
        | Op::Unpack { .. }
        | Op::Gather { .. }
            if in0 == Some(I8) =>
        {
            // Option-driven versions (RESIZE_* half_pixel_centers/align_corners: 3) are
            // already in the float model's version.
            op.version.max(2)
        }
        _ => return None,
    };
    Some(v)
}

/// Set every operator's version as the converter's exporter does: for each builtin code
/// [`op_version`] knows, the largest version over all operators of that code (in every
/// subgraph); other codes keep the versions they had.
pub fn set_versions(model: &mut Model) {
    let mut max: std::collections::HashMap<i32, i32> = std::collections::HashMap::new();
    for sg in &model.subgraphs {
        for op in &sg.operators {
            if let Some(v) = op_version(sg, op) {
                let e = max.entry(op.op.code()).or_insert(0);
                *e = (*e).max(v);
            }
        }
    }
    for sg in &mut model.subgraphs {
        for op in &mut sg.operators {
            if let Some(&v) = max.get(&op.op.code()) {
                op.version = v;
            }
        }
    }
}

/// The versions of an int8 model with int16 ops (`Int8Options::int16_ops`): for each
/// builtin code the larger of [`set_versions`]'s version and [`set_versions_16x8`]'s (the
/// int16 ops get the version the converter gives their 16x8 form; QUANTIZE to int16 2).
pub fn set_versions_mixed(model: &mut Model) {
    let mut view = model.clone();
    set_versions(model);
    set_versions_16x8(&mut view);
    for (sg, vsg) in model.subgraphs.iter_mut().zip(&view.subgraphs) {
        for (op, vop) in sg.operators.iter_mut().zip(&vsg.operators) {
            op.version = op.version.max(vop.version);
        }
    }
}

/// The versions of a 16x8 file as TF 2.21 writes them: its 16x8 pass (the legacy
/// quantizer's, `toco_legacy/quantize_model.cc`) gives each quantized op the version of its
/// int8 form (`operator_property.cc`), QUANTIZE 1 from float and 2 when it requantizes
/// int16, DEQUANTIZE 2, UNPACK its float version (checked on the 121 files of
/// `tests/fixtures/int16` and the 16x8 zoo models). Computed as
/// [`set_versions`] on a view of the model with int16 tensors as int8 and int64 as int32.
pub fn set_versions_16x8(model: &mut Model) {
    let mut view = model.clone();
    for sg in &mut view.subgraphs {
        for t in &mut sg.tensors {
            t.dtype = match t.dtype {
                DType::I16 => DType::I8,
                DType::I64 => DType::I32,
                d => d,
            };
        }
    }
    let mut max: std::collections::HashMap<i32, i32> = std::collections::HashMap::new();
    for (sg, vsg) in model.subgraphs.iter().zip(&view.subgraphs) {
        for (op, vop) in sg.operators.iter().zip(&vsg.operators) {
            let v = match &op.op {
                Op::Quantize => {
                    let in0 = op.input(0).and_then(|t| sg.tensors.get(t)).map(|t| t.dtype);
                    Some(if in0 == Some(DType::I16) { 2 } else { 1 })
                }
                Op::Dequantize => Some(2),
                // operator_property.cc's versions where the int8 rules here differ.
                Op::LeakyRelu { .. } => Some(2),
                // UNPACK keeps the float model's version (a GRU's 16x8 file: 1).
                Op::Unpack { .. } => None,
                Op::TransposeConv(_) => op_version(vsg, vop).map(|v| v.max(3)),
                _ => op_version(vsg, vop),
            };
            if let Some(v) = v {
                let e = max.entry(op.op.code()).or_insert(0);
                *e = (*e).max(v);
            }
        }
    }
    for sg in &mut model.subgraphs {
        for op in &mut sg.operators {
            if let Some(&v) = max.get(&op.op.code()) {
                op.version = v;
            }
        }
    }
}

/// Rows of `runtime_version.cc`'s table for the ops [`op_version`] covers:
/// (code, version, minimum runtime).
const RUNTIME_VERSIONS: &[(i32, i32, &str)] = &[
    (code::CONV_2D, 1, "1.5.0"),
    (code::CONV_2D, 2, "1.14.0"),
    (code::CONV_2D, 3, "1.14.0"),
    (code::CONV_2D, 4, "2.3.0"),
    (code::CONV_2D, 5, "2.4.0"),
    (code::CONV_2D, 6, "2.9.0"),
    (code::CONV_2D, 7, "2.11.0"),
    (code::CONV_2D, 8, "2.15.0"),
    (code::TRANSPOSE_CONV, 1, "1.9.0"),
    (code::TRANSPOSE_CONV, 2, "2.2.0"),
    (code::TRANSPOSE_CONV, 3, "2.3.0"),
    (code::TRANSPOSE_CONV, 4, "2.13.0"),
    (code::TRANSPOSE_CONV, 5, "2.15.0"),
    (code::DEPTHWISE_CONV_2D, 1, "1.5.0"),
    (code::DEPTHWISE_CONV_2D, 2, "1.12.0"),
    (code::DEPTHWISE_CONV_2D, 3, "1.14.0"),
    (code::DEPTHWISE_CONV_2D, 4, "2.2.0"),
    (code::DEPTHWISE_CONV_2D, 5, "2.3.0"),
    (code::DEPTHWISE_CONV_2D, 6, "2.3.0"),
    (code::DEPTHWISE_CONV_2D, 7, "2.11.0"),
    (code::FULLY_CONNECTED, 1, "1.5.0"),
    (code::FULLY_CONNECTED, 2, "1.10.0"),
    (code::FULLY_CONNECTED, 3, "1.14.0"),
    (code::FULLY_CONNECTED, 4, "1.14.0"),
    (code::FULLY_CONNECTED, 5, "2.0.0"),
    (code::FULLY_CONNECTED, 6, "2.1.0"),
    (code::FULLY_CONNECTED, 7, "2.3.0"),
    (code::FULLY_CONNECTED, 8, "2.3.0"),
    (code::FULLY_CONNECTED, 9, "2.3.0"),
    (code::FULLY_CONNECTED, 10, "2.11.0"),
    (code::FULLY_CONNECTED, 11, "2.15.0"),
    (code::FULLY_CONNECTED, 12, "2.17.0"),
    (code::FULLY_CONNECTED, 13, "2.18.0"),
    (code::BATCH_MATMUL, 1, "2.3.0"),
    (code::BATCH_MATMUL, 2, "2.3.0"),
    (code::BATCH_MATMUL, 3, "2.4.0"),
    (code::BATCH_MATMUL, 4, "2.5.0"),
    (code::DEQUANTIZE, 1, "1.13.1"),
    (code::DEQUANTIZE, 2, "1.14.0"),
    (code::DEQUANTIZE, 3, "1.15.0"),
    (code::DEQUANTIZE, 4, "2.2.0"),
    (code::DEQUANTIZE, 5, "2.7.0"),
    (code::DEQUANTIZE, 6, "2.18.0"),
    (code::QUANTIZE, 1, "1.14.0"),
    (code::AVERAGE_POOL_2D, 2, "1.14.0"),
    (code::MAX_POOL_2D, 2, "1.14.0"),
    (code::SOFTMAX, 2, "1.14.0"),
    (code::LOGISTIC, 2, "1.14.0"),
    (code::TANH, 2, "1.14.0"),
    (code::CONCATENATION, 2, "1.14.0"),
    (code::ADD, 2, "1.14.0"),
    (code::SUB, 2, "1.14.0"),
    (code::MUL, 2, "1.14.0"),
    (code::PAD, 2, "1.14.0"),
    (code::PADV2, 2, "1.14.0"),
    (code::SLICE, 2, "1.14.0"),
    (code::STRIDED_SLICE, 2, "1.14.0"),
    (code::TRANSPOSE, 2, "1.14.0"),
    (code::RESIZE_BILINEAR, 2, "1.14.0"),
    (code::RESIZE_NEAREST_NEIGHBOR, 2, "1.14.0"),
    (code::MAXIMUM, 2, "1.14.0"),
    (code::MINIMUM, 2, "1.14.0"),
    (code::MEAN, 2, "1.14.0"),
    (code::RELU, 2, "2.1.0"),
    (code::RELU6, 2, "1.14.0"),
    (code::QUANTIZE, 2, "1.15.0"),
    (code::QUANTIZE, 3, "2.7.0"),
    (code::QUANTIZE, 4, "2.21.0"),
    (code::SQUARED_DIFFERENCE, 2, "2.5.0"),
    (code::RSQRT, 2, "2.5.0"),
    (code::SQRT, 2, "2.21.0"),
    (code::EXP, 2, "2.12.0"),
    (code::GELU, 2, "2.9.0"),
    (code::SUM, 2, "1.15.0"),
    (code::REDUCE_MAX, 2, "1.14.0"),
    (code::REDUCE_MIN, 2, "1.14.0"),
    (code::REDUCE_PROD, 2, "2.6.0"),
    (code::LOG, 2, "2.15.0"),
    (code::SPLIT, 2, "1.14.0"),
    (code::SPLIT_V, 2, "2.3.0"),
    (code::PACK, 2, "1.14.0"),
    (code::UNPACK, 2, "1.14.0"),
    (code::GATHER, 2, "1.14.0"),
    (code::BROADCAST_TO, 3, "2.5.0"),
    (code::FILL, 3, "2.5.0"),
];

/// `CompareRuntimeVersion(a, b)`: `a` precedes `b` (numeric components; a shorter prefix
/// precedes).
fn precedes(a: &str, b: &str) -> bool {
    let (va, vb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    let mut i = 0;
    while i < va.len() && i < vb.len() {
        if let (Ok(x), Ok(y)) = (va[i].parse::<i64>(), vb[i].parse::<i64>()) {
            if x != y {
                return x < y;
            }
        }
        i += 1;
    }
    i < vb.len()
}

/// The model's minimum runtime version: the larger of `floor` (the float model's value)
/// and the table rows of the model's (op, version) pairs.
pub fn runtime_version(model: &Model, floor: &str) -> String {
    let mut best = floor.to_string();
    for sg in &model.subgraphs {
        for op in &sg.operators {
            let code = op.op.code();
            if let Some(&(_, _, v)) = RUNTIME_VERSIONS
                .iter()
                .find(|&&(c, ver, _)| c == code && ver == op.version)
            {
                if precedes(&best, v) {
                    best = v.to_string();
                }
            }
        }
    }
    best
}

/// The `min_runtime_version` buffer: the string zero-padded to 16 bytes (`None` when the
/// string does not fit, as the exporter then skips writing it).
pub fn runtime_version_bytes(v: &str) -> Option<Vec<u8>> {
    (v.len() < 16).then(|| {
        let mut b = v.as_bytes().to_vec();
        b.resize(16, 0);
        b
    })
}

/// The version string in a `min_runtime_version` buffer (up to the first zero byte).
pub fn parse_runtime_version(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_like_the_converter() {
        assert!(precedes("", "1.5.0"));
        assert!(precedes("1.5.0", "1.14.0"));
        assert!(precedes("1.15.0", "2.17.0"));
        assert!(!precedes("2.17.0", "2.5.0"));
        assert!(!precedes("2.4.0", "2.4.0"));
        assert!(precedes("2.4", "2.4.0"));
    }

    #[test]
    fn padded_to_sixteen() {
        assert_eq!(
            runtime_version_bytes("2.17.0").unwrap(),
            b"2.17.0\0\0\0\0\0\0\0\0\0\0"
        );
        assert_eq!(parse_runtime_version(b"1.5.0\0\0\0"), "1.5.0");
        assert!(runtime_version_bytes("0123456789.123456").is_none());
    }
}
