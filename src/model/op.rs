//! Operators: typed options for the ops litequant implements, an opaque variant for the rest.

use super::DType;
use crate::tflite::fb;

/// Builtin operator codes of the ops that have a typed variant in [`Op`] (the format's
/// `BuiltinOperator` values).
pub mod code {
    pub const ADD: i32 = 0;
    pub const AVERAGE_POOL_2D: i32 = 1;
    pub const CONCATENATION: i32 = 2;
    pub const CONV_2D: i32 = 3;
    pub const DEPTHWISE_CONV_2D: i32 = 4;
    pub const DEQUANTIZE: i32 = 6;
    pub const FULLY_CONNECTED: i32 = 9;
    pub const LOGISTIC: i32 = 14;
    pub const MAX_POOL_2D: i32 = 17;
    pub const MUL: i32 = 18;
    pub const RELU: i32 = 19;
    pub const RELU6: i32 = 21;
    pub const RESHAPE: i32 = 22;
    pub const RESIZE_BILINEAR: i32 = 23;
    pub const SOFTMAX: i32 = 25;
    pub const TANH: i32 = 28;
    pub const CUSTOM: i32 = 32;
    pub const PAD: i32 = 34;
    pub const TRANSPOSE: i32 = 39;
    pub const MEAN: i32 = 40;
    pub const SUB: i32 = 41;
    pub const SQUEEZE: i32 = 43;
    pub const STRIDED_SLICE: i32 = 45;
    pub const MAXIMUM: i32 = 55;
    pub const MINIMUM: i32 = 57;
    pub const PRELU: i32 = 54;
    pub const PADV2: i32 = 60;
    pub const SLICE: i32 = 65;
    pub const RESIZE_NEAREST_NEIGHBOR: i32 = 97;
    pub const LEAKY_RELU: i32 = 98;
    pub const QUANTIZE: i32 = 114;
    pub const HARD_SWISH: i32 = 117;
    pub const BATCH_MATMUL: i32 = 126;
    pub const DIV: i32 = 42;
    pub const EXP: i32 = 47;
    pub const NEG: i32 = 59;
    pub const SQRT: i32 = 75;
    pub const RSQRT: i32 = 76;
    pub const SQUARED_DIFFERENCE: i32 = 99;
    pub const GELU: i32 = 150;
    pub const TRANSPOSE_CONV: i32 = 67;
    pub const LOG: i32 = 73;
    pub const SUM: i32 = 74;
    pub const REDUCE_MAX: i32 = 82;
    pub const REDUCE_MIN: i32 = 89;
    pub const REDUCE_PROD: i32 = 81;
    pub const GATHER: i32 = 36;
    pub const SPLIT: i32 = 49;
    pub const EXPAND_DIMS: i32 = 70;
    pub const PACK: i32 = 83;
    pub const UNPACK: i32 = 88;
    pub const SPLIT_V: i32 = 102;
    pub const CAST: i32 = 53;
    pub const SHAPE: i32 = 77;
    pub const ZEROS_LIKE: i32 = 93;
    pub const FILL: i32 = 94;
    pub const BROADCAST_TO: i32 = 130;
    /// Codes above this value do not fit the legacy `deprecated_builtin_code` byte, which then
    /// holds this placeholder.
    pub const PLACEHOLDER_FOR_GREATER_OP_CODES: i32 = 127;
}

/// The `BuiltinOperator` name of a code (`CONV_2D`, ...), or `BUILTIN_<n>` when unknown.
pub fn builtin_name(code: i32) -> String {
    match fb::BuiltinOperator(code).variant_name() {
        Some(n) => n.to_string(),
        None => format!("BUILTIN_{code}"),
    }
}

/// Padding scheme of convolutions and pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Padding {
    #[default]
    Same,
    Valid,
    /// A value this version does not know (kept for round trips).
    Other(i8),
}

/// Fused activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Activation {
    #[default]
    None,
    Relu,
    ReluN1To1,
    Relu6,
    Tanh,
    SignBit,
    /// A value this version does not know (kept for round trips).
    Other(i8),
}

impl Padding {
    pub fn from_code(c: i8) -> Padding {
        match c {
            0 => Padding::Same,
            1 => Padding::Valid,
            c => Padding::Other(c),
        }
    }
    pub fn code(self) -> i8 {
        match self {
            Padding::Same => 0,
            Padding::Valid => 1,
            Padding::Other(c) => c,
        }
    }
}

impl Activation {
    pub fn from_code(c: i8) -> Activation {
        match c {
            0 => Activation::None,
            1 => Activation::Relu,
            2 => Activation::ReluN1To1,
            3 => Activation::Relu6,
            4 => Activation::Tanh,
            5 => Activation::SignBit,
            c => Activation::Other(c),
        }
    }
    pub fn code(self) -> i8 {
        match self {
            Activation::None => 0,
            Activation::Relu => 1,
            Activation::ReluN1To1 => 2,
            Activation::Relu6 => 3,
            Activation::Tanh => 4,
            Activation::SignBit => 5,
            Activation::Other(c) => c,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conv2DOptions {
    pub padding: Padding,
    pub stride_w: i32,
    pub stride_h: i32,
    pub activation: Activation,
    pub dilation_w: i32,
    pub dilation_h: i32,
    /// Storage type of a quantized bias (FLOAT32 = unspecified).
    pub quantized_bias_type: DType,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DepthwiseConv2DOptions {
    pub padding: Padding,
    pub stride_w: i32,
    pub stride_h: i32,
    pub depth_multiplier: i32,
    pub activation: Activation,
    pub dilation_w: i32,
    pub dilation_h: i32,
}

/// TRANSPOSE_CONV's options (inputs: output shape, weights `[O, H, W, I]`, input, bias).
#[derive(Debug, Clone, PartialEq)]
pub struct TransposeConvOptions {
    pub padding: Padding,
    pub stride_w: i32,
    pub stride_h: i32,
    /// Since version 4.
    pub activation: Activation,
    /// Storage type of a quantized bias (FLOAT32 = unspecified).
    pub quantized_bias_type: DType,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FullyConnectedOptions {
    pub activation: Activation,
    /// `FullyConnectedOptionsWeightsFormat` (0 = DEFAULT, 1 = SHUFFLED4x16INT8).
    pub weights_format: i8,
    pub keep_num_dims: bool,
    pub asymmetric_quantize_inputs: bool,
    pub quantized_bias_type: DType,
    /// Opaque quantization spec bytes (newest schema field; empty when absent).
    pub quant_spec: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchMatMulOptions {
    pub adj_x: bool,
    pub adj_y: bool,
    pub asymmetric_quantize_inputs: bool,
}

/// Options of ADD and SUB.
#[derive(Debug, Clone, PartialEq)]
pub struct AddSubOptions {
    pub activation: Activation,
    pub pot_scale_int16: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pool2DOptions {
    pub padding: Padding,
    pub stride_w: i32,
    pub stride_h: i32,
    pub filter_w: i32,
    pub filter_h: i32,
    pub activation: Activation,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StridedSliceOptions {
    pub begin_mask: i32,
    pub end_mask: i32,
    pub ellipsis_mask: i32,
    pub new_axis_mask: i32,
    pub shrink_axis_mask: i32,
    pub offset: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResizeOptions {
    pub align_corners: bool,
    pub half_pixel_centers: bool,
}

/// An operator this version does not type: builtin or custom, its options kept as read.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherOp {
    /// The effective builtin code (`CUSTOM` = 32 for custom ops).
    pub code: i32,
    /// The custom op's name (`custom_code`), for custom ops.
    pub custom_code: Option<String>,
    /// The builtin options, exactly as read (opaque).
    pub options: OpaqueOptions,
    /// Custom options bytes (custom ops; also read from the large-options area of >2 GB files).
    pub custom_options: Vec<u8>,
    /// `CustomOptionsFormat` (0 = FLEXBUFFERS).
    pub custom_options_format: i8,
}

/// Builtin options of an untyped op, kept as the generated object-API value so that they are
/// written back unchanged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OpaqueOptions {
    pub(crate) builtin: fb::BuiltinOptionsT,
    pub(crate) builtin2: fb::BuiltinOptions2T,
}

impl OpaqueOptions {
    /// The name of the options table (`WhileOptions`, ...), if any.
    pub fn name(&self) -> Option<&'static str> {
        let t = self.builtin.builtin_options_type();
        if t != fb::BuiltinOptions::NONE {
            return t.variant_name();
        }
        let t2 = self.builtin2.builtin_options_2_type();
        if t2 != fb::BuiltinOptions2::NONE {
            return t2.variant_name();
        }
        None
    }
}

/// An operator's kind and options.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Op {
    Add(AddSubOptions),
    Sub(AddSubOptions),
    Mul {
        activation: Activation,
    },
    Conv2D(Conv2DOptions),
    DepthwiseConv2D(DepthwiseConv2DOptions),
    FullyConnected(FullyConnectedOptions),
    BatchMatMul(BatchMatMulOptions),
    AveragePool2D(Pool2DOptions),
    MaxPool2D(Pool2DOptions),
    Mean {
        keep_dims: bool,
    },
    Sum {
        keep_dims: bool,
    },
    ReduceMax {
        keep_dims: bool,
    },
    ReduceMin {
        keep_dims: bool,
    },
    ReduceProd {
        keep_dims: bool,
    },
    Reshape {
        new_shape: Option<Vec<i32>>,
    },
    Squeeze {
        squeeze_dims: Vec<i32>,
    },
    Concatenation {
        axis: i32,
        activation: Activation,
    },
    Pad,
    PadV2,
    StridedSlice(StridedSliceOptions),
    Slice,
    Transpose,
    ResizeBilinear(ResizeOptions),
    ResizeNearestNeighbor(ResizeOptions),
    Softmax {
        beta: f32,
    },
    Logistic,
    Tanh,
    Relu,
    Relu6,
    LeakyRelu {
        alpha: f32,
    },
    Prelu,
    HardSwish,
    Maximum,
    Minimum,
    Quantize,
    Dequantize,
    Neg,
    SquaredDifference,
    Rsqrt,
    Sqrt,
    Exp,
    Log,
    Gelu {
        approximate: bool,
    },
    Div {
        activation: Activation,
    },
    TransposeConv(TransposeConvOptions),
    /// Inputs: axis (int32 scalar), input; `num_splits` outputs.
    Split {
        num_splits: i32,
    },
    /// Inputs: input, size_splits, axis; `num_splits` outputs.
    SplitV {
        num_splits: i32,
    },
    /// `values_count` inputs stacked along a new `axis`.
    Pack {
        values_count: i32,
        axis: i32,
    },
    /// One input unstacked along `axis` into `num` outputs.
    Unpack {
        num: i32,
        axis: i32,
    },
    /// Inputs: params, indices.
    Gather {
        axis: i32,
        batch_dims: i32,
    },
    /// Inputs: input, axis.
    ExpandDims,
    /// The options' types as written (LiteRT casts by the tensors' types).
    Cast {
        in_data_type: DType,
        out_data_type: DType,
    },
    /// `out_type`: INT32 (the default) or INT64.
    Shape {
        out_type: DType,
    },
    /// Inputs: dims, value.
    Fill,
    ZerosLike,
    /// Inputs: input, shape.
    BroadcastTo,
    Other(OtherOp),
}

impl Op {
    /// The builtin operator code.
    pub fn code(&self) -> i32 {
        use code::*;
        match self {
            Op::Add(_) => ADD,
            Op::Sub(_) => SUB,
            Op::Mul { .. } => MUL,
            Op::Conv2D(_) => CONV_2D,
            Op::DepthwiseConv2D(_) => DEPTHWISE_CONV_2D,
            Op::FullyConnected(_) => FULLY_CONNECTED,
            Op::BatchMatMul(_) => BATCH_MATMUL,
            Op::AveragePool2D(_) => AVERAGE_POOL_2D,
            Op::MaxPool2D(_) => MAX_POOL_2D,
            Op::Mean { .. } => MEAN,
            Op::Sum { .. } => SUM,
            Op::ReduceMax { .. } => REDUCE_MAX,
            Op::ReduceMin { .. } => REDUCE_MIN,
            Op::ReduceProd { .. } => REDUCE_PROD,
            Op::Reshape { .. } => RESHAPE,
            Op::Squeeze { .. } => SQUEEZE,
            Op::Concatenation { .. } => CONCATENATION,
            Op::Pad => PAD,
            Op::PadV2 => PADV2,
            Op::StridedSlice(_) => STRIDED_SLICE,
            Op::Slice => SLICE,
            Op::Transpose => TRANSPOSE,
            Op::ResizeBilinear(_) => RESIZE_BILINEAR,
            Op::ResizeNearestNeighbor(_) => RESIZE_NEAREST_NEIGHBOR,
            Op::Softmax { .. } => SOFTMAX,
            Op::Logistic => LOGISTIC,
            Op::Tanh => TANH,
            Op::Relu => RELU,
            Op::Relu6 => RELU6,
            Op::LeakyRelu { .. } => LEAKY_RELU,
            Op::Prelu => PRELU,
            Op::HardSwish => HARD_SWISH,
            Op::Maximum => MAXIMUM,
            Op::Minimum => MINIMUM,
            Op::Quantize => QUANTIZE,
            Op::Dequantize => DEQUANTIZE,
            Op::Neg => NEG,
            Op::SquaredDifference => SQUARED_DIFFERENCE,
            Op::Rsqrt => RSQRT,
            Op::Sqrt => SQRT,
            Op::Exp => EXP,
            Op::Log => LOG,
            Op::Gelu { .. } => GELU,
            Op::Div { .. } => DIV,
            Op::TransposeConv(_) => TRANSPOSE_CONV,
            Op::Split { .. } => SPLIT,
            Op::SplitV { .. } => SPLIT_V,
            Op::Pack { .. } => PACK,
            Op::Unpack { .. } => UNPACK,
            Op::Gather { .. } => GATHER,
            Op::ExpandDims => EXPAND_DIMS,
            Op::Cast { .. } => CAST,
            Op::Shape { .. } => SHAPE,
            Op::Fill => FILL,
            Op::ZerosLike => ZEROS_LIKE,
            Op::BroadcastTo => BROADCAST_TO,
            Op::Other(o) => o.code,
        }
    }

    /// A display name: the builtin name, or the custom code for custom ops.
    pub fn name(&self) -> String {
        match self {
            Op::Other(OtherOp {
                custom_code: Some(c),
                code: code::CUSTOM,
                ..
            }) => c.clone(),
            op => builtin_name(op.code()),
        }
    }

    /// The fused activation of ops that have one.
    pub fn activation(&self) -> Option<Activation> {
        match self {
            Op::Add(o) | Op::Sub(o) => Some(o.activation),
            Op::Mul { activation }
            | Op::Concatenation { activation, .. }
            | Op::Div { activation } => Some(*activation),
            Op::Conv2D(o) => Some(o.activation),
            Op::DepthwiseConv2D(o) => Some(o.activation),
            Op::FullyConnected(o) => Some(o.activation),
            Op::TransposeConv(o) => Some(o.activation),
            Op::AveragePool2D(o) | Op::MaxPool2D(o) => Some(o.activation),
            _ => None,
        }
    }
}
