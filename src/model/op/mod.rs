//! Operators: typed options for the ops litequant implements, an opaque variant for the rest.

use super::DType;
use crate::tflite::fb;

/// Builtin operator codes of the ops that have a typed variant in [`Op`] (the format's
/// `BuiltinOperator` values).
pub mod code;
mod kind;

pub use kind::OpKind;

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
    /// SAME: the output keeps the input size (divided by the stride).
    Same,
    /// VALID: no padding.
    Valid,
    /// A value this version does not know (kept for round trips).
    Other(i8),
}

/// Fused activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Activation {
    #[default]
    /// No activation.
    None,
    /// max(x, 0).
    Relu,
    /// clamp(x, -1, 1).
    ReluN1To1,
    /// clamp(x, 0, 6).
    Relu6,
    /// tanh(x).
    Tanh,
    /// The sign bit (1 for negative x).
    SignBit,
    /// A value this version does not know (kept for round trips).
    Other(i8),
}

impl Padding {
    /// The value of a schema code (unknown codes kept as `Other`).
    pub fn from_code(c: i8) -> Padding {
        match c {
            0 => Padding::Same,
            1 => Padding::Valid,
            c => Padding::Other(c),
        }
    }
    /// The schema's code of this value.
    pub fn code(self) -> i8 {
        match self {
            Padding::Same => 0,
            Padding::Valid => 1,
            Padding::Other(c) => c,
        }
    }
}

impl Activation {
    /// The value of a schema code (unknown codes kept as `Other`).
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
    /// The schema's code of this value.
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
/// Options of CONV_2D.
pub struct Conv2DOptions {
    /// Padding scheme.
    pub padding: Padding,
    /// Horizontal stride.
    pub stride_w: i32,
    /// Vertical stride.
    pub stride_h: i32,
    /// Fused activation applied to the output.
    pub activation: Activation,
    /// Horizontal dilation factor.
    pub dilation_w: i32,
    /// Vertical dilation factor.
    pub dilation_h: i32,
    /// Storage type of a quantized bias (FLOAT32 = unspecified).
    pub quantized_bias_type: DType,
}

#[derive(Debug, Clone, PartialEq)]
/// Options of DEPTHWISE_CONV_2D.
pub struct DepthwiseConv2DOptions {
    /// Padding scheme.
    pub padding: Padding,
    /// Horizontal stride.
    pub stride_w: i32,
    /// Vertical stride.
    pub stride_h: i32,
    /// Output channels per input channel.
    pub depth_multiplier: i32,
    /// Fused activation applied to the output.
    pub activation: Activation,
    /// Horizontal dilation factor.
    pub dilation_w: i32,
    /// Vertical dilation factor.
    pub dilation_h: i32,
}

/// TRANSPOSE_CONV's options (inputs: output shape, weights `[O, H, W, I]`, input, bias).
#[derive(Debug, Clone, PartialEq)]
pub struct TransposeConvOptions {
    /// Padding scheme.
    pub padding: Padding,
    /// Horizontal stride.
    pub stride_w: i32,
    /// Vertical stride.
    pub stride_h: i32,
    /// Since version 4.
    pub activation: Activation,
    /// Storage type of a quantized bias (FLOAT32 = unspecified).
    pub quantized_bias_type: DType,
}

#[derive(Debug, Clone, PartialEq)]
/// Options of FULLY_CONNECTED.
pub struct FullyConnectedOptions {
    /// Fused activation applied to the output.
    pub activation: Activation,
    /// `FullyConnectedOptionsWeightsFormat` (0 = DEFAULT, 1 = SHUFFLED4x16INT8).
    pub weights_format: i8,
    /// Keep the input's leading dimensions instead of flattening them to one.
    pub keep_num_dims: bool,
    /// Hybrid kernels: quantize the float input with a zero point (asymmetric).
    pub asymmetric_quantize_inputs: bool,
    /// Storage type of a quantized bias (FLOAT32 = unspecified).
    pub quantized_bias_type: DType,
    /// Opaque quantization spec bytes (newest schema field; empty when absent).
    pub quant_spec: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
/// Options of BATCH_MATMUL.
pub struct BatchMatMulOptions {
    /// Use the first operand's last two axes transposed.
    pub adj_x: bool,
    /// Use the second operand's last two axes transposed.
    pub adj_y: bool,
    /// Hybrid kernels: quantize the float input with a zero point (asymmetric).
    pub asymmetric_quantize_inputs: bool,
}

/// Options of ADD and SUB.
#[derive(Debug, Clone, PartialEq)]
pub struct AddSubOptions {
    /// Fused activation applied to the output.
    pub activation: Activation,
    /// int16: the power-of-two-scale kernel (the converter sets `false` for 16x8).
    pub pot_scale_int16: bool,
}

#[derive(Debug, Clone, PartialEq)]
/// Options of the 2D pools ops.
pub struct Pool2DOptions {
    /// Padding scheme.
    pub padding: Padding,
    /// Horizontal stride.
    pub stride_w: i32,
    /// Vertical stride.
    pub stride_h: i32,
    /// Window width.
    pub filter_w: i32,
    /// Window height.
    pub filter_h: i32,
    /// Fused activation applied to the output.
    pub activation: Activation,
}

#[derive(Debug, Clone, PartialEq)]
/// Options of STRIDED_SLICE.
pub struct StridedSliceOptions {
    /// Bit i set: `begin[i]` is ignored (the full range).
    pub begin_mask: i32,
    /// Bit i set: `end[i]` is ignored (the full range).
    pub end_mask: i32,
    /// Bit i set: position i is an ellipsis.
    pub ellipsis_mask: i32,
    /// Bit i set: a new axis of size 1 is inserted at i.
    pub new_axis_mask: i32,
    /// Bit i set: axis i is indexed, not sliced (removed from the output).
    pub shrink_axis_mask: i32,
    /// `end` is an offset from `begin` rather than an index.
    pub offset: bool,
}

#[derive(Debug, Clone, PartialEq)]
/// Options of RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR.
pub struct ResizeOptions {
    /// Align the corner pixels of input and output.
    pub align_corners: bool,
    /// Sample at pixel centers (`(x + 0.5) * scale - 0.5`).
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
    /// TFLite's `ADD`.
    Add(AddSubOptions),
    /// TFLite's `SUB`.
    Sub(AddSubOptions),
    /// TFLite's `MUL`.
    Mul {
        /// Fused activation applied to the output.
        activation: Activation,
    },
    /// TFLite's `CONV_2D`.
    Conv2D(Conv2DOptions),
    /// TFLite's `DEPTHWISE_CONV_2D`.
    DepthwiseConv2D(DepthwiseConv2DOptions),
    /// TFLite's `FULLY_CONNECTED`.
    FullyConnected(FullyConnectedOptions),
    /// TFLite's `BATCH_MATMUL`.
    BatchMatMul(BatchMatMulOptions),
    /// TFLite's `AVERAGE_POOL_2D`.
    AveragePool2D(Pool2DOptions),
    /// TFLite's `MAX_POOL_2D`.
    MaxPool2D(Pool2DOptions),
    /// TFLite's `MEAN`.
    Mean {
        /// Keep the reduced axes, with size 1.
        keep_dims: bool,
    },
    /// TFLite's `SUM`.
    Sum {
        /// Keep the reduced axes, with size 1.
        keep_dims: bool,
    },
    /// TFLite's `REDUCE_MAX`.
    ReduceMax {
        /// Keep the reduced axes, with size 1.
        keep_dims: bool,
    },
    /// TFLite's `REDUCE_MIN`.
    ReduceMin {
        /// Keep the reduced axes, with size 1.
        keep_dims: bool,
    },
    /// TFLite's `REDUCE_PROD`.
    ReduceProd {
        /// Keep the reduced axes, with size 1.
        keep_dims: bool,
    },
    /// TFLite's `RESHAPE`.
    Reshape {
        /// The target shape from the options (`None`: from the shape input).
        new_shape: Option<Vec<i32>>,
    },
    /// TFLite's `SQUEEZE`.
    Squeeze {
        /// Axes to remove (empty: every axis of size 1).
        squeeze_dims: Vec<i32>,
    },
    /// TFLite's `CONCATENATION`.
    Concatenation {
        /// The axis it works along (negative: counted from the end).
        axis: i32,
        /// Fused activation applied to the output.
        activation: Activation,
    },
    /// TFLite's `PAD`.
    Pad,
    /// TFLite's `PADV2`.
    PadV2,
    /// TFLite's `STRIDED_SLICE`.
    StridedSlice(StridedSliceOptions),
    /// TFLite's `SLICE`.
    Slice,
    /// TFLite's `TRANSPOSE`.
    Transpose,
    /// TFLite's `RESIZE_BILINEAR`.
    ResizeBilinear(ResizeOptions),
    /// TFLite's `RESIZE_NEAREST_NEIGHBOR`.
    ResizeNearestNeighbor(ResizeOptions),
    /// TFLite's `SOFTMAX`.
    Softmax {
        /// Multiplier of the logits.
        beta: f32,
    },
    /// TFLite's `LOGISTIC`.
    Logistic,
    /// TFLite's `TANH`.
    Tanh,
    /// TFLite's `RELU`.
    Relu,
    /// TFLite's `RELU6`.
    Relu6,
    /// TFLite's `LEAKY_RELU`.
    LeakyRelu {
        /// Slope for negative inputs.
        alpha: f32,
    },
    /// TFLite's `PRELU`.
    Prelu,
    /// TFLite's `HARD_SWISH`.
    HardSwish,
    /// TFLite's `MAXIMUM`.
    Maximum,
    /// TFLite's `MINIMUM`.
    Minimum,
    /// TFLite's `QUANTIZE`.
    Quantize,
    /// TFLite's `DEQUANTIZE`.
    Dequantize,
    /// TFLite's `NEG`.
    Neg,
    /// TFLite's `SQUARED_DIFFERENCE`.
    SquaredDifference,
    /// TFLite's `RSQRT`.
    Rsqrt,
    /// TFLite's `SQRT`.
    Sqrt,
    /// TFLite's `EXP`.
    Exp,
    /// TFLite's `LOG`.
    Log,
    /// TFLite's `GELU`.
    Gelu {
        /// The tanh approximation instead of erf.
        approximate: bool,
    },
    /// TFLite's `DIV`.
    Div {
        /// Fused activation applied to the output.
        activation: Activation,
    },
    /// TFLite's `TRANSPOSE_CONV`.
    TransposeConv(TransposeConvOptions),
    /// Inputs: axis (int32 scalar), input; `num_splits` outputs.
    Split {
        /// Number of outputs.
        num_splits: i32,
    },
    /// Inputs: input, size_splits, axis; `num_splits` outputs.
    SplitV {
        /// Number of outputs.
        num_splits: i32,
    },
    /// `values_count` inputs stacked along a new `axis`.
    Pack {
        /// Number of inputs stacked.
        values_count: i32,
        /// The axis it works along (negative: counted from the end).
        axis: i32,
    },
    /// One input unstacked along `axis` into `num` outputs.
    Unpack {
        /// Number of outputs.
        num: i32,
        /// The axis it works along (negative: counted from the end).
        axis: i32,
    },
    /// Inputs: params, indices.
    Gather {
        /// The axis it works along (negative: counted from the end).
        axis: i32,
        /// Leading batch dimensions shared by params and indices.
        batch_dims: i32,
    },
    /// Inputs: input, axis.
    ExpandDims,
    /// The options' types as written (LiteRT casts by the tensors' types).
    Cast {
        /// Input element type.
        in_data_type: DType,
        /// Output element type.
        out_data_type: DType,
    },
    /// `out_type`: INT32 (the default) or INT64.
    Shape {
        /// Output element type.
        out_type: DType,
    },
    /// Inputs: dims, value.
    Fill,
    /// TFLite's `ZEROS_LIKE`.
    ZerosLike,
    /// Inputs: input, shape.
    BroadcastTo,
    /// Any other op: kept as stored (options bytes and all), runnable only when a custom kernel is registered or no engine needs it.
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

    /// What the op is: its builtin code, or the custom code for custom ops.
    pub fn kind(&self) -> OpKind {
        OpKind::of(self)
    }

    /// A display name: the builtin name, or the custom code for custom ops.
    pub fn name(&self) -> String {
        self.kind().name()
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
