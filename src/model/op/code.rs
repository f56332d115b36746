/// `ADD` (builtin code 0).
pub const ADD: i32 = 0;
/// `AVERAGE_POOL_2D` (builtin code 1).
pub const AVERAGE_POOL_2D: i32 = 1;
/// `CONCATENATION` (builtin code 2).
pub const CONCATENATION: i32 = 2;
/// `CONV_2D` (builtin code 3).
pub const CONV_2D: i32 = 3;
/// `DEPTHWISE_CONV_2D` (builtin code 4).
pub const DEPTHWISE_CONV_2D: i32 = 4;
/// `DEQUANTIZE` (builtin code 6).
pub const DEQUANTIZE: i32 = 6;
/// `FULLY_CONNECTED` (builtin code 9).
pub const FULLY_CONNECTED: i32 = 9;
/// `LOGISTIC` (builtin code 14).
pub const LOGISTIC: i32 = 14;
/// `MAX_POOL_2D` (builtin code 17).
pub const MAX_POOL_2D: i32 = 17;
/// `MUL` (builtin code 18).
pub const MUL: i32 = 18;
/// `RELU` (builtin code 19).
pub const RELU: i32 = 19;
/// `RELU6` (builtin code 21).
pub const RELU6: i32 = 21;
/// `RESHAPE` (builtin code 22).
pub const RESHAPE: i32 = 22;
/// `RESIZE_BILINEAR` (builtin code 23).
pub const RESIZE_BILINEAR: i32 = 23;
/// `SOFTMAX` (builtin code 25).
pub const SOFTMAX: i32 = 25;
/// `TANH` (builtin code 28).
pub const TANH: i32 = 28;
/// `CUSTOM` (builtin code 32).
pub const CUSTOM: i32 = 32;
/// `PAD` (builtin code 34).
pub const PAD: i32 = 34;
/// `TRANSPOSE` (builtin code 39).
pub const TRANSPOSE: i32 = 39;
/// `MEAN` (builtin code 40).
pub const MEAN: i32 = 40;
/// `SUB` (builtin code 41).
pub const SUB: i32 = 41;
/// `SQUEEZE` (builtin code 43).
pub const SQUEEZE: i32 = 43;
/// `STRIDED_SLICE` (builtin code 45).
pub const STRIDED_SLICE: i32 = 45;
/// `MAXIMUM` (builtin code 55).
pub const MAXIMUM: i32 = 55;
/// `MINIMUM` (builtin code 57).
pub const MINIMUM: i32 = 57;
/// `PRELU` (builtin code 54).
pub const PRELU: i32 = 54;
/// `PADV2` (builtin code 60).
pub const PADV2: i32 = 60;
/// `SLICE` (builtin code 65).
pub const SLICE: i32 = 65;
/// `RESIZE_NEAREST_NEIGHBOR` (builtin code 97).
pub const RESIZE_NEAREST_NEIGHBOR: i32 = 97;
/// `LEAKY_RELU` (builtin code 98).
pub const LEAKY_RELU: i32 = 98;
/// `QUANTIZE` (builtin code 114).
pub const QUANTIZE: i32 = 114;
/// `HARD_SWISH` (builtin code 117).
pub const HARD_SWISH: i32 = 117;
/// `BATCH_MATMUL` (builtin code 126).
pub const BATCH_MATMUL: i32 = 126;
/// `DIV` (builtin code 42).
pub const DIV: i32 = 42;
/// `EXP` (builtin code 47).
pub const EXP: i32 = 47;
/// `NEG` (builtin code 59).
pub const NEG: i32 = 59;
/// `SQRT` (builtin code 75).
pub const SQRT: i32 = 75;
/// `RSQRT` (builtin code 76).
pub const RSQRT: i32 = 76;
/// `SQUARED_DIFFERENCE` (builtin code 99).
pub const SQUARED_DIFFERENCE: i32 = 99;
/// `GELU` (builtin code 150).
pub const GELU: i32 = 150;
/// `TRANSPOSE_CONV` (builtin code 67).
pub const TRANSPOSE_CONV: i32 = 67;
/// `LOG` (builtin code 73).
pub const LOG: i32 = 73;
/// `SUM` (builtin code 74).
pub const SUM: i32 = 74;
/// `REDUCE_MAX` (builtin code 82).
pub const REDUCE_MAX: i32 = 82;
/// `REDUCE_MIN` (builtin code 89).
pub const REDUCE_MIN: i32 = 89;
/// `REDUCE_PROD` (builtin code 81).
pub const REDUCE_PROD: i32 = 81;
/// `GATHER` (builtin code 36).
pub const GATHER: i32 = 36;
/// `SPLIT` (builtin code 49).
pub const SPLIT: i32 = 49;
/// `EXPAND_DIMS` (builtin code 70).
pub const EXPAND_DIMS: i32 = 70;
/// `PACK` (builtin code 83).
pub const PACK: i32 = 83;
/// `UNPACK` (builtin code 88).
pub const UNPACK: i32 = 88;
/// `SPLIT_V` (builtin code 102).
pub const SPLIT_V: i32 = 102;
/// `CAST` (builtin code 53).
pub const CAST: i32 = 53;
/// `SHAPE` (builtin code 77).
pub const SHAPE: i32 = 77;
/// `ZEROS_LIKE` (builtin code 93).
pub const ZEROS_LIKE: i32 = 93;
/// `FILL` (builtin code 94).
pub const FILL: i32 = 94;
/// `BROADCAST_TO` (builtin code 130).
pub const BROADCAST_TO: i32 = 130;
/// Codes above this value do not fit the legacy `deprecated_builtin_code` byte, which then
/// holds this placeholder.
pub const PLACEHOLDER_FOR_GREATER_OP_CODES: i32 = 127;
