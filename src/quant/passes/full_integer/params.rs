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

/// The activation type of a full-integer pass: int8 (the converter's default) or int16
/// (16x8 mode, `EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activations {
    /// int8 asymmetric activations, int32 biases.
    #[default]
    Int8,
    /// int16 symmetric activations (zero point 0), int64 biases, int8 weights.
    Int16,
}

impl Activations {
    /// The activations' dtype.
    pub fn dtype(self) -> DType {
        match self {
            Activations::Int8 => DType::I8,
            Activations::Int16 => DType::I16,
        }
    }

    /// The stored range `[qmin, qmax]` of the activation type.
    pub fn qrange(self) -> (f64, f64) {
        match self {
            Activations::Int8 => (-128.0, 127.0),
            Activations::Int16 => (-32768.0, 32767.0),
        }
    }

    /// Parameters from a calibrated range: [`activation_params`] for int8; for int16 the
    /// converter's `GetSymmetricQuantizationParams` with `half_quant_range = 32767`
    /// (`tensorflow/compiler/mlir/lite/quantization/lite/toco_legacy/quantization_utils.cc`,
    /// the same in `lite/tools/optimize/quantization_utils.cc`), in float32: the range
    /// widened to include 0, `scale = max(|max|, |min|) / 32767`, zero point 0 (checked on
    /// the 73 calibrated inputs of the 16x8 fixtures: every scale equal to the bit).
    pub fn params(self, min: f32, max: f32) -> (f32, i64, f64) {
        match self {
            Activations::Int8 => activation_params(min, max),
            Activations::Int16 => {
                let (min, max) = (min.min(0.0), max.max(0.0));
                let scale = max.abs().max(min.abs()) / 32767.0f32;
                (scale, 0, f64::from(scale))
            }
        }
    }

    /// The fixed output parameters of SOFTMAX, LOGISTIC and TANH (int16: 2^-15, 0 for all
    /// three, as the kernels require).
    fn fixed(self, op: &Op) -> Option<(f32, i64)> {
        Some(match (self, op) {
            (Activations::Int8, Op::Softmax { .. } | Op::Logistic) => (1.0 / 256.0, -128),
            (Activations::Int8, Op::Tanh) => (1.0 / 128.0, 0),
            (Activations::Int16, Op::Softmax { .. } | Op::Logistic | Op::Tanh) => {
                (1.0 / 32768.0, 0)
            }
            _ => return None,
        })
    }
}

/// The op kind in a pass with `act` activations: [`kind`], except that in 16x8 mode the ops
/// without a 16x8 rule in TF 2.21's converter (PRELU, HARD_SWISH, DIV, NEG: "Quantization to
/// 16x8-bit not yet supported"), those whose converter output LiteRT refuses (PADV2 with a
/// float padding value, SQUARED_DIFFERENCE), int16 SUM (which TF 2.21 writes but whose
/// LiteRT result is wrong: BUILTIN_REF's kernel reads the int16 data as bytes — the fixture's
/// sums of about 14 come out as 0.016), and those whose int16 kernels the reference engine
/// does not have (REDUCE_PROD, SQRT, FILL) stay float.
pub(super) fn kind_for(op: &Op, act: Activations) -> Option<Kind> {
    if act == Activations::Int16 {
        if matches!(
            op,
            Op::Prelu
                | Op::HardSwish
                | Op::Div { .. }
                | Op::PadV2
                | Op::SquaredDifference
                | Op::Sum { .. }
                | Op::ReduceProd { .. }
                | Op::Sqrt
                | Op::Fill
        ) {
            return None;
        }
        if let Some((s, z)) = act.fixed(op) {
            return Some(Kind::Fixed(s, z));
        }
    }
    kind(op)
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
