//! Operator options: the generated object-API unions ⇄ the model's typed [`Op`].

use super::fb;
use crate::model::{
    code, Activation, AddSubOptions, BatchMatMulOptions, Conv2DOptions, DType,
    DepthwiseConv2DOptions, FullyConnectedOptions, Op, OpaqueOptions, OtherOp, Padding,
    Pool2DOptions, ResizeOptions, StridedSliceOptions, TransposeConvOptions,
};
use fb::BuiltinOptionsT as B;

fn act(a: fb::ActivationFunctionType) -> Activation {
    Activation::from_code(a.0)
}
fn pad(p: fb::Padding) -> Padding {
    Padding::from_code(p.0)
}
fn fact(a: Activation) -> fb::ActivationFunctionType {
    fb::ActivationFunctionType(a.code())
}
fn fpad(p: Padding) -> fb::Padding {
    fb::Padding(p.code())
}

/// Everything an operator carries besides its tensors, as read from the file.
pub(crate) struct RawOp {
    pub code: i32,
    pub custom_code: Option<String>,
    pub builtin: fb::BuiltinOptionsT,
    pub builtin2: fb::BuiltinOptions2T,
    pub custom_options: Vec<u8>,
    pub custom_options_format: i8,
}

/// The typed op for `raw`, or `Op::Other` when the op is not typed or carries anything the
/// typed form would not keep (unexpected options table, options_2, custom options).
pub(crate) fn op_from_raw(raw: RawOp) -> Op {
    let plain = raw.builtin2 == fb::BuiltinOptions2T::NONE
        && raw.custom_options.is_empty()
        && raw.custom_options_format == 0
        && raw.custom_code.is_none();
    if plain {
        if let Some(op) = typed(raw.code, &raw.builtin) {
            return op;
        }
    }
    Op::Other(OtherOp {
        code: raw.code,
        custom_code: raw.custom_code,
        options: OpaqueOptions {
            builtin: raw.builtin,
            builtin2: raw.builtin2,
        },
        custom_options: raw.custom_options,
        custom_options_format: raw.custom_options_format,
    })
}

fn typed(c: i32, o: &fb::BuiltinOptionsT) -> Option<Op> {
    // An op with no options table gets the table's defaults, as TFLite's parser does.
    macro_rules! opts {
        ($variant:ident, $ty:ident) => {
            match o {
                B::NONE => fb::$ty::default(),
                B::$variant(x) => (**x).clone(),
                _ => return None,
            }
        };
    }
    let none = matches!(o, B::NONE);
    let op = match c {
        code::CONV_2D => {
            let x = opts!(Conv2DOptions, Conv2DOptionsT);
            Op::Conv2D(Conv2DOptions {
                padding: pad(x.padding),
                stride_w: x.stride_w,
                stride_h: x.stride_h,
                activation: act(x.fused_activation_function),
                dilation_w: x.dilation_w_factor,
                dilation_h: x.dilation_h_factor,
                quantized_bias_type: DType::from_code(x.quantized_bias_type.0),
            })
        }
        code::DEPTHWISE_CONV_2D => {
            let x = opts!(DepthwiseConv2DOptions, DepthwiseConv2DOptionsT);
            Op::DepthwiseConv2D(DepthwiseConv2DOptions {
                padding: pad(x.padding),
                stride_w: x.stride_w,
                stride_h: x.stride_h,
                depth_multiplier: x.depth_multiplier,
                activation: act(x.fused_activation_function),
                dilation_w: x.dilation_w_factor,
                dilation_h: x.dilation_h_factor,
            })
        }
        code::FULLY_CONNECTED => {
            let x = opts!(FullyConnectedOptions, FullyConnectedOptionsT);
            Op::FullyConnected(FullyConnectedOptions {
                activation: act(x.fused_activation_function),
                weights_format: x.weights_format.0,
                keep_num_dims: x.keep_num_dims,
                asymmetric_quantize_inputs: x.asymmetric_quantize_inputs,
                quantized_bias_type: DType::from_code(x.quantized_bias_type.0),
                quant_spec: x.quant_spec.unwrap_or_default(),
            })
        }
        code::BATCH_MATMUL => {
            let x = opts!(BatchMatMulOptions, BatchMatMulOptionsT);
            Op::BatchMatMul(BatchMatMulOptions {
                adj_x: x.adj_x,
                adj_y: x.adj_y,
                asymmetric_quantize_inputs: x.asymmetric_quantize_inputs,
            })
        }
        code::ADD => {
            let x = opts!(AddOptions, AddOptionsT);
            Op::Add(AddSubOptions {
                activation: act(x.fused_activation_function),
                pot_scale_int16: x.pot_scale_int16,
            })
        }
        code::SUB => {
            let x = opts!(SubOptions, SubOptionsT);
            Op::Sub(AddSubOptions {
                activation: act(x.fused_activation_function),
                pot_scale_int16: x.pot_scale_int16,
            })
        }
        code::MUL => {
            let x = opts!(MulOptions, MulOptionsT);
            Op::Mul {
                activation: act(x.fused_activation_function),
            }
        }
        code::AVERAGE_POOL_2D | code::MAX_POOL_2D => {
            let x = opts!(Pool2DOptions, Pool2DOptionsT);
            let p = Pool2DOptions {
                padding: pad(x.padding),
                stride_w: x.stride_w,
                stride_h: x.stride_h,
                filter_w: x.filter_width,
                filter_h: x.filter_height,
                activation: act(x.fused_activation_function),
            };
            if c == code::MAX_POOL_2D {
                Op::MaxPool2D(p)
            } else {
                Op::AveragePool2D(p)
            }
        }
        code::MEAN | code::SUM | code::REDUCE_MAX | code::REDUCE_MIN | code::REDUCE_PROD => {
            let keep_dims = opts!(ReducerOptions, ReducerOptionsT).keep_dims;
            match c {
                code::MEAN => Op::Mean { keep_dims },
                code::SUM => Op::Sum { keep_dims },
                code::REDUCE_MAX => Op::ReduceMax { keep_dims },
                code::REDUCE_MIN => Op::ReduceMin { keep_dims },
                _ => Op::ReduceProd { keep_dims },
            }
        }
        code::RESHAPE => {
            let x = opts!(ReshapeOptions, ReshapeOptionsT);
            Op::Reshape {
                new_shape: x.new_shape,
            }
        }
        code::SQUEEZE => {
            let x = opts!(SqueezeOptions, SqueezeOptionsT);
            Op::Squeeze {
                squeeze_dims: x.squeeze_dims.unwrap_or_default(),
            }
        }
        code::CONCATENATION => {
            let x = opts!(ConcatenationOptions, ConcatenationOptionsT);
            Op::Concatenation {
                axis: x.axis,
                activation: act(x.fused_activation_function),
            }
        }
        code::STRIDED_SLICE => {
            let x = opts!(StridedSliceOptions, StridedSliceOptionsT);
            Op::StridedSlice(StridedSliceOptions {
                begin_mask: x.begin_mask,
                end_mask: x.end_mask,
                ellipsis_mask: x.ellipsis_mask,
                new_axis_mask: x.new_axis_mask,
                shrink_axis_mask: x.shrink_axis_mask,
                offset: x.offset,
            })
        }
        code::RESIZE_BILINEAR => {
            let x = opts!(ResizeBilinearOptions, ResizeBilinearOptionsT);
            Op::ResizeBilinear(ResizeOptions {
                align_corners: x.align_corners,
                half_pixel_centers: x.half_pixel_centers,
            })
        }
        code::RESIZE_NEAREST_NEIGHBOR => {
            let x = opts!(ResizeNearestNeighborOptions, ResizeNearestNeighborOptionsT);
            Op::ResizeNearestNeighbor(ResizeOptions {
                align_corners: x.align_corners,
                half_pixel_centers: x.half_pixel_centers,
            })
        }
        code::SOFTMAX => {
            let x = opts!(SoftmaxOptions, SoftmaxOptionsT);
            Op::Softmax { beta: x.beta }
        }
        code::LEAKY_RELU => {
            let x = opts!(LeakyReluOptions, LeakyReluOptionsT);
            Op::LeakyRelu { alpha: x.alpha }
        }
        code::TRANSPOSE_CONV => {
            let x = opts!(TransposeConvOptions, TransposeConvOptionsT);
            Op::TransposeConv(TransposeConvOptions {
                padding: pad(x.padding),
                stride_w: x.stride_w,
                stride_h: x.stride_h,
                activation: act(x.fused_activation_function),
                quantized_bias_type: DType::from_code(x.quantized_bias_type.0),
            })
        }
        // Ops whose options tables are empty: the table or none, as writers differ.
        code::PAD if none || matches!(o, B::PadOptions(_)) => Op::Pad,
        code::PADV2 if none || matches!(o, B::PadV2Options(_)) => Op::PadV2,
        code::SLICE if none || matches!(o, B::SliceOptions(_)) => Op::Slice,
        code::TRANSPOSE if none || matches!(o, B::TransposeOptions(_)) => Op::Transpose,
        code::MAXIMUM if none || matches!(o, B::MaximumMinimumOptions(_)) => Op::Maximum,
        code::MINIMUM if none || matches!(o, B::MaximumMinimumOptions(_)) => Op::Minimum,
        code::QUANTIZE if none || matches!(o, B::QuantizeOptions(_)) => Op::Quantize,
        code::DEQUANTIZE if none || matches!(o, B::DequantizeOptions(_)) => Op::Dequantize,
        code::HARD_SWISH if none || matches!(o, B::HardSwishOptions(_)) => Op::HardSwish,
        code::LOGISTIC if none => Op::Logistic,
        code::TANH if none => Op::Tanh,
        code::RELU if none => Op::Relu,
        code::RELU6 if none => Op::Relu6,
        code::PRELU if none => Op::Prelu,
        code::NEG if none || matches!(o, B::NegOptions(_)) => Op::Neg,
        code::SQUARED_DIFFERENCE if none || matches!(o, B::SquaredDifferenceOptions(_)) => {
            Op::SquaredDifference
        }
        code::RSQRT if none => Op::Rsqrt,
        code::SQRT if none => Op::Sqrt,
        code::EXP if none || matches!(o, B::ExpOptions(_)) => Op::Exp,
        code::LOG if none => Op::Log,
        code::GELU => {
            let x = opts!(GeluOptions, GeluOptionsT);
            Op::Gelu {
                approximate: x.approximate,
            }
        }
        code::DIV => {
            let x = opts!(DivOptions, DivOptionsT);
            Op::Div {
                activation: act(x.fused_activation_function),
            }
        }
        code::SPLIT => {
            let x = opts!(SplitOptions, SplitOptionsT);
            Op::Split {
                num_splits: x.num_splits,
            }
        }
        code::SPLIT_V => {
            let x = opts!(SplitVOptions, SplitVOptionsT);
            Op::SplitV {
                num_splits: x.num_splits,
            }
        }
        code::PACK => {
            let x = opts!(PackOptions, PackOptionsT);
            Op::Pack {
                values_count: x.values_count,
                axis: x.axis,
            }
        }
        code::UNPACK => {
            let x = opts!(UnpackOptions, UnpackOptionsT);
            Op::Unpack {
                num: x.num,
                axis: x.axis,
            }
        }
        code::GATHER => {
            let x = opts!(GatherOptions, GatherOptionsT);
            Op::Gather {
                axis: x.axis,
                batch_dims: x.batch_dims,
            }
        }
        code::EXPAND_DIMS if none || matches!(o, B::ExpandDimsOptions(_)) => Op::ExpandDims,
        code::CAST => {
            let x = opts!(CastOptions, CastOptionsT);
            Op::Cast {
                in_data_type: DType::from_code(x.in_data_type.0),
                out_data_type: DType::from_code(x.out_data_type.0),
            }
        }
        code::SHAPE => {
            let x = opts!(ShapeOptions, ShapeOptionsT);
            Op::Shape {
                out_type: DType::from_code(x.out_type.0),
            }
        }
        code::FILL if none || matches!(o, B::FillOptions(_)) => Op::Fill,
        code::ZEROS_LIKE if none || matches!(o, B::ZerosLikeOptions(_)) => Op::ZerosLike,
        code::BROADCAST_TO if none || matches!(o, B::BroadcastToOptions(_)) => Op::BroadcastTo,
        _ => return None,
    };
    Some(op)
}

/// Whether a typed op's options all equal the defaults TFLite assumes when a file carries
/// no options table, so the table may be left out.
pub(crate) fn options_are_defaults(op: &Op) -> bool {
    !matches!(op, Op::Other(_)) && typed(op.code(), &B::NONE).as_ref() == Some(op)
}

/// The options of `op` as the file's unions.
pub(crate) fn options_of(op: &Op) -> (fb::BuiltinOptionsT, fb::BuiltinOptions2T) {
    let b = |x| (x, fb::BuiltinOptions2T::NONE);
    match op {
        Op::Conv2D(o) => b(B::Conv2DOptions(Box::new(fb::Conv2DOptionsT {
            padding: fpad(o.padding),
            stride_w: o.stride_w,
            stride_h: o.stride_h,
            fused_activation_function: fact(o.activation),
            dilation_w_factor: o.dilation_w,
            dilation_h_factor: o.dilation_h,
            quantized_bias_type: fb::TensorType(o.quantized_bias_type.code()),
        }))),
        Op::TransposeConv(o) => b(B::TransposeConvOptions(Box::new(
            fb::TransposeConvOptionsT {
                padding: fpad(o.padding),
                stride_w: o.stride_w,
                stride_h: o.stride_h,
                fused_activation_function: fact(o.activation),
                quantized_bias_type: fb::TensorType(o.quantized_bias_type.code()),
            },
        ))),
        Op::DepthwiseConv2D(o) => b(B::DepthwiseConv2DOptions(Box::new(
            fb::DepthwiseConv2DOptionsT {
                padding: fpad(o.padding),
                stride_w: o.stride_w,
                stride_h: o.stride_h,
                depth_multiplier: o.depth_multiplier,
                fused_activation_function: fact(o.activation),
                dilation_w_factor: o.dilation_w,
                dilation_h_factor: o.dilation_h,
            },
        ))),
        Op::FullyConnected(o) => b(B::FullyConnectedOptions(Box::new(
            fb::FullyConnectedOptionsT {
                fused_activation_function: fact(o.activation),
                weights_format: fb::FullyConnectedOptionsWeightsFormat(o.weights_format),
                keep_num_dims: o.keep_num_dims,
                asymmetric_quantize_inputs: o.asymmetric_quantize_inputs,
                quantized_bias_type: fb::TensorType(o.quantized_bias_type.code()),
                quant_spec: (!o.quant_spec.is_empty()).then(|| o.quant_spec.clone()),
            },
        ))),
        Op::BatchMatMul(o) => b(B::BatchMatMulOptions(Box::new(fb::BatchMatMulOptionsT {
            adj_x: o.adj_x,
            adj_y: o.adj_y,
            asymmetric_quantize_inputs: o.asymmetric_quantize_inputs,
        }))),
        Op::Add(o) => b(B::AddOptions(Box::new(fb::AddOptionsT {
            fused_activation_function: fact(o.activation),
            pot_scale_int16: o.pot_scale_int16,
        }))),
        Op::Sub(o) => b(B::SubOptions(Box::new(fb::SubOptionsT {
            fused_activation_function: fact(o.activation),
            pot_scale_int16: o.pot_scale_int16,
        }))),
        Op::Mul { activation } => b(B::MulOptions(Box::new(fb::MulOptionsT {
            fused_activation_function: fact(*activation),
        }))),
        Op::AveragePool2D(o) | Op::MaxPool2D(o) => {
            b(B::Pool2DOptions(Box::new(fb::Pool2DOptionsT {
                padding: fpad(o.padding),
                stride_w: o.stride_w,
                stride_h: o.stride_h,
                filter_width: o.filter_w,
                filter_height: o.filter_h,
                fused_activation_function: fact(o.activation),
            })))
        }
        Op::Mean { keep_dims }
        | Op::Sum { keep_dims }
        | Op::ReduceMax { keep_dims }
        | Op::ReduceMin { keep_dims }
        | Op::ReduceProd { keep_dims } => b(B::ReducerOptions(Box::new(fb::ReducerOptionsT {
            keep_dims: *keep_dims,
        }))),
        Op::Reshape { new_shape } => b(B::ReshapeOptions(Box::new(fb::ReshapeOptionsT {
            new_shape: new_shape.clone(),
        }))),
        Op::Squeeze { squeeze_dims } => b(B::SqueezeOptions(Box::new(fb::SqueezeOptionsT {
            squeeze_dims: Some(squeeze_dims.clone()),
        }))),
        Op::Concatenation { axis, activation } => b(B::ConcatenationOptions(Box::new(
            fb::ConcatenationOptionsT {
                axis: *axis,
                fused_activation_function: fact(*activation),
            },
        ))),
        Op::StridedSlice(o) => b(B::StridedSliceOptions(Box::new(fb::StridedSliceOptionsT {
            begin_mask: o.begin_mask,
            end_mask: o.end_mask,
            ellipsis_mask: o.ellipsis_mask,
            new_axis_mask: o.new_axis_mask,
            shrink_axis_mask: o.shrink_axis_mask,
            offset: o.offset,
        }))),
        Op::ResizeBilinear(o) => b(B::ResizeBilinearOptions(Box::new(
            fb::ResizeBilinearOptionsT {
                align_corners: o.align_corners,
                half_pixel_centers: o.half_pixel_centers,
            },
        ))),
        Op::ResizeNearestNeighbor(o) => b(B::ResizeNearestNeighborOptions(Box::new(
            fb::ResizeNearestNeighborOptionsT {
                align_corners: o.align_corners,
                half_pixel_centers: o.half_pixel_centers,
            },
        ))),
        Op::Softmax { beta } => b(B::SoftmaxOptions(Box::new(fb::SoftmaxOptionsT {
            beta: *beta,
        }))),
        Op::LeakyRelu { alpha } => b(B::LeakyReluOptions(Box::new(fb::LeakyReluOptionsT {
            alpha: *alpha,
        }))),
        Op::Pad => b(B::PadOptions(Box::default())),
        Op::PadV2 => b(B::PadV2Options(Box::default())),
        Op::Slice => b(B::SliceOptions(Box::default())),
        Op::Transpose => b(B::TransposeOptions(Box::default())),
        Op::Maximum | Op::Minimum => b(B::MaximumMinimumOptions(Box::default())),
        Op::Quantize => b(B::QuantizeOptions(Box::default())),
        Op::Dequantize => b(B::DequantizeOptions(Box::default())),
        Op::HardSwish => b(B::HardSwishOptions(Box::default())),
        Op::Logistic | Op::Tanh | Op::Relu | Op::Relu6 | Op::Prelu => b(B::NONE),
        Op::Neg => b(B::NegOptions(Box::default())),
        Op::SquaredDifference => b(B::SquaredDifferenceOptions(Box::default())),
        Op::Rsqrt | Op::Sqrt | Op::Log => b(B::NONE),
        Op::Exp => b(B::ExpOptions(Box::default())),
        Op::Gelu { approximate } => b(B::GeluOptions(Box::new(fb::GeluOptionsT {
            approximate: *approximate,
        }))),
        Op::Div { activation } => b(B::DivOptions(Box::new(fb::DivOptionsT {
            fused_activation_function: fact(*activation),
        }))),
        Op::Split { num_splits } => b(B::SplitOptions(Box::new(fb::SplitOptionsT {
            num_splits: *num_splits,
        }))),
        Op::SplitV { num_splits } => b(B::SplitVOptions(Box::new(fb::SplitVOptionsT {
            num_splits: *num_splits,
        }))),
        Op::Pack { values_count, axis } => b(B::PackOptions(Box::new(fb::PackOptionsT {
            values_count: *values_count,
            axis: *axis,
        }))),
        Op::Unpack { num, axis } => b(B::UnpackOptions(Box::new(fb::UnpackOptionsT {
            num: *num,
            axis: *axis,
        }))),
        Op::Gather { axis, batch_dims } => b(B::GatherOptions(Box::new(fb::GatherOptionsT {
            axis: *axis,
            batch_dims: *batch_dims,
        }))),
        Op::ExpandDims => b(B::ExpandDimsOptions(Box::default())),
        Op::Cast {
            in_data_type,
            out_data_type,
        } => b(B::CastOptions(Box::new(fb::CastOptionsT {
            in_data_type: fb::TensorType(in_data_type.code()),
            out_data_type: fb::TensorType(out_data_type.code()),
        }))),
        Op::Shape { out_type } => b(B::ShapeOptions(Box::new(fb::ShapeOptionsT {
            out_type: fb::TensorType(out_type.code()),
        }))),
        Op::Fill => b(B::FillOptions(Box::default())),
        Op::ZerosLike => b(B::ZerosLikeOptions(Box::default())),
        Op::BroadcastTo => b(B::BroadcastToOptions(Box::default())),
        Op::Other(o) => (o.options.builtin.clone(), o.options.builtin2.clone()),
    }
}
