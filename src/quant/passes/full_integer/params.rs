//! Parameter rules of the full-integer pass: activation parameters from a calibrated range,
//! the quantization kind of each op, and the small constructors the pass uses.

use crate::model::{DType, Op, Operator, QuantParams, Tensor};

/// Activation parameters from a calibrated range, as the converter computes them (float32
/// math, `GetAsymmetricQuantizationParams`; int8, not narrow range): (scale as stored, zero
/// point, the scale as f64).
pub fn activation_params(min: f32, max: f32) -> (f32, i64, f64) {
    let (qmin, qmax) = (-128.0f32, 127.0f32);
    let mut min = min.min(0.0);
    let mut max = max.max(0.0);
    // A range of at most 1e-6 (`kNearZeroTolerance`) is widened by 1e-6 on each side
    // (`kSmallestHalfRange`), in double. TF 2.21's files: a ZEROS_LIKE output observed on
    // [0, 0] gets scale 2e-6/255 and zero point 0; ConvNeXtTiny's LayerNorm mean observed on
    // [-3.7252903e-8, 1.9868214e-7] gets the range [min - 1e-6, max + 1e-6] (scale
    // 8.768373e-9, zero point -10), not [-1e-6, 1e-6].
    if f64::from(max) - f64::from(min) <= 1e-6 {
        min = (f64::from(min) - 1e-6) as f32;
        max = (f64::from(max) + 1e-6) as f32;
    }
    let scale = (max - min) / (qmax - qmin);
    let zp_from_min = qmin - min / scale;
    let zp = if zp_from_min < qmin {
        qmin
    } else if zp_from_min > qmax {
        qmax
    } else {
        zp_from_min.round()
    };
    (scale, zp as i64, f64::from(scale))
}

/// Parameters of an int8 activation: stored scale, zero point, double scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Params {
    pub scale: f32,
    pub zp: i64,
    pub scale64: f64,
}

impl Params {
    pub fn quant(&self) -> QuantParams {
        QuantParams {
            scale: vec![self.scale],
            zero_point: vec![self.zp],
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    /// A weight (per-channel axis) and an optional bias, in the slots [`slots`] names.
    Weighted(usize),
    Fixed(f32, i64),
    /// Output carries input 0's parameters.
    SameScale,
    /// Output keeps its own parameters; inputs requantized to them.
    Unified,
    /// Output from its own range, inputs anything.
    Own,
    /// Reads its input's int8 values as they are, writes no activation (SHAPE: int32).
    ShapeOf,
}

pub(super) fn kind(op: &Op) -> Option<Kind> {
    Some(match op {
        Op::Conv2D(_) => Kind::Weighted(0),
        Op::DepthwiseConv2D(_) => Kind::Weighted(3),
        Op::FullyConnected(o) if o.weights_format == 0 => Kind::Weighted(0),
        Op::TransposeConv(_) => Kind::Weighted(0),
        Op::Softmax { .. } | Op::Logistic => Kind::Fixed(1.0 / 256.0, -128),
        Op::Tanh => Kind::Fixed(1.0 / 128.0, 0),
        Op::AveragePool2D(_)
        | Op::MaxPool2D(_)
        | Op::Reshape { .. }
        | Op::Squeeze { .. }
        | Op::Pad
        | Op::PadV2
        | Op::Slice
        | Op::StridedSlice(_)
        | Op::Transpose
        | Op::ResizeBilinear(_)
        | Op::ResizeNearestNeighbor(_)
        | Op::ReduceMax { .. }
        | Op::ReduceMin { .. }
        | Op::Split { .. }
        | Op::SplitV { .. }
        | Op::Unpack { .. }
        | Op::Gather { .. }
        | Op::ExpandDims
        | Op::BroadcastTo => Kind::SameScale,
        Op::Shape { .. } => Kind::ShapeOf,
        Op::Concatenation { .. } | Op::Pack { .. } | Op::Maximum | Op::Minimum => Kind::Unified,
        Op::Add(_)
        | Op::Sub(_)
        | Op::Mul { .. }
        | Op::Relu
        | Op::Relu6
        | Op::Mean { .. }
        | Op::Sum { .. }
        | Op::ReduceProd { .. }
        | Op::BatchMatMul(_)
        | Op::HardSwish
        | Op::Prelu
        | Op::LeakyRelu { .. }
        | Op::SquaredDifference
        | Op::Rsqrt
        | Op::Sqrt
        | Op::Exp
        | Op::Log
        | Op::Gelu { .. }
        | Op::Div { .. }
        | Op::Fill => Kind::Own,
        _ => return None,
    })
}

/// The input slot whose parameters a same-scale op's outputs carry (its data input: 1 for
/// SPLIT, whose input 0 is the axis; 0 otherwise).
pub(super) fn data_slot(op: &Op) -> usize {
    match op {
        Op::Split { .. } => 1,
        _ => 0,
    }
}

/// The input slots of a weighted op: (activation input, weight, bias).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Slots {
    pub input: usize,
    pub weight: usize,
    pub bias: usize,
}

pub(super) fn slots(op: &Op) -> Slots {
    match op {
        // Inputs: output shape, weights, input, bias.
        Op::TransposeConv(_) => Slots {
            input: 2,
            weight: 1,
            bias: 3,
        },
        _ => Slots {
            input: 0,
            weight: 1,
            bias: 2,
        },
    }
}

pub(super) fn new_op(op: Op, input: usize, output: usize) -> Operator {
    Operator {
        op,
        version: 1,
        inputs: vec![input as i32],
        outputs: vec![output as i32],
        intermediates: Vec::new(),
        mutating_variable_inputs: Vec::new(),
        debug_metadata_index: -1,
        options_omitted: true,
    }
}

pub(super) fn quantized_const(
    like: &Tensor,
    dtype: DType,
    data: Vec<u8>,
    q: QuantParams,
) -> Tensor {
    Tensor {
        name: String::new(),
        dtype,
        shape: like.shape.clone(),
        shape_signature: like.shape_signature.clone(),
        quant: Some(q),
        data: Some(data.into()),
        is_variable: false,
        sparsity: None,
        has_rank: like.has_rank,
        variant_tensors: Vec::new(),
        external_buffer: 0,
    }
}
