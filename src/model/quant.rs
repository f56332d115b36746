//! Quantization parameters and sparsity of tensors.

use crate::tflite::fb;

/// Quantization parameters (`real = (q - zero_point) * scale`), per tensor or per axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuantParams {
    /// Scales: one per tensor, or one per channel of `quantized_dimension`.
    pub scale: Vec<f32>,
    /// Zero points, as many as scales.
    pub zero_point: Vec<i64>,
    /// Recorded float range (some converters write it), per tensor or per axis.
    pub min: Vec<f32>,
    /// Recorded maximums, if any.
    pub max: Vec<f32>,
    /// The axis of per-axis quantization.
    pub quantized_dimension: i32,
    /// The `details` union (custom, blockwise, multi-axis quantization), kept as read.
    pub details: QuantDetails,
}

/// The quantization `details` union, opaque (litequant does not interpret it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuantDetails(pub(crate) fb::QuantizationDetailsT);

impl QuantDetails {
    /// Whether the union holds anything.
    pub fn is_none(&self) -> bool {
        self.0 == fb::QuantizationDetailsT::NONE
    }
    /// The union member's name (`CustomQuantization`, ...), if any.
    pub fn name(&self) -> Option<&'static str> {
        self.0
            .quantization_details_type()
            .variant_name()
            .filter(|_| !self.is_none())
    }
}

impl QuantParams {
    /// Per-tensor parameters.
    pub fn per_tensor(scale: f32, zero_point: i64) -> QuantParams {
        QuantParams {
            scale: vec![scale],
            zero_point: vec![zero_point],
            ..Default::default()
        }
    }

    /// Whether the parameters hold more than one scale (per-axis quantization).
    pub fn is_per_axis(&self) -> bool {
        self.scale.len() > 1
    }

    /// Whether there is nothing in it (the format allows an empty table).
    pub fn is_empty(&self) -> bool {
        self.scale.is_empty()
            && self.zero_point.is_empty()
            && self.min.is_empty()
            && self.max.is_empty()
            && self.details.is_none()
    }
}

/// Sparse storage of a constant tensor (the format's `SparsityParameters`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sparsity {
    /// The order dimensions are traversed in.
    pub traversal_order: Vec<i32>,
    /// For block sparsity: the dense dimension each block dimension maps to.
    pub block_map: Vec<i32>,
    /// Per traversed dimension: dense or compressed (CSR) metadata.
    pub dim_metadata: Vec<DimensionMetadata>,
}

/// Storage of one dimension of a sparse tensor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DimensionMetadata {
    /// 0 = DENSE, 1 = SPARSE_CSR.
    pub format: i8,
    /// Size of a dense dimension.
    pub dense_size: i32,
    /// Segments of a compressed dimension.
    pub array_segments: Option<SegmentArray>,
    /// Indices of a compressed dimension.
    pub array_indices: Option<SegmentArray>,
}

/// An index array of a sparse dimension, in the width the file chose.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentArray {
    /// int32 values.
    I32(Vec<i32>),
    /// uint16 values.
    U16(Vec<u16>),
    /// uint8 values.
    U8(Vec<u8>),
}
