// What the convolution shaders (`conv.wgsl`, `depthwise.wgsl`) share: the bindings of their
// int8, float and hybrid entry points (each entry point uses one set; binding 0 is each
// shader's own uniform, binding 5 and up its own tables) and the integer epilogue.

// int8 bindings.
@group(0) @binding(1) var<storage, read> input_q: array<u32>;
// Packed weights: [out_c][k] words.
@group(0) @binding(2) var<storage, read> weights_q: array<u32>;
// Per output channel: (bias + input_offset * sum(w), multiplier, shift, 0).
@group(0) @binding(3) var<storage, read> epilogue: array<vec4<i32>>;
// Packed int8 output words; with WIDE_OUT one word per element (the low byte), for
// `pack_i8` to pack.
@group(0) @binding(4) var<storage, read_write> output_w: array<u32>;

// float bindings.
@group(0) @binding(1) var<storage, read> input_f: array<f32>;
// [out_c][filter_h][filter_w][filter_in_c], as stored.
@group(0) @binding(2) var<storage, read> filter_f: array<f32>;
@group(0) @binding(3) var<storage, read> bias_f: array<f32>;
@group(0) @binding(4) var<storage, read_write> output_f: array<f32>;

// Hybrid bindings (int8 weights, float input quantized per batch by `shaders/hybrid.wgsl`,
// float bias and output): 1 is the quantized input, 3 and 4 the float bias and output.
// Per batch: the scaling factor and the zero point ("offset") of the quantized row.
@group(0) @binding(6) var<storage, read> row_scale: array<f32>;
@group(0) @binding(7) var<storage, read> row_zero_point: array<i32>;

// The integer epilogue (the reference's `Epilogue::apply`): bias (+ folded zero-point term)
// `e.x`, MultiplyByQuantizedMultiplier(e.y, e.z), + zero point, clamp.
fn requantize(acc: i32, e: vec4<i32>, zero_point: i32, lo: i32, hi: i32) -> i32 {
    let v = multiply_by_quantized_multiplier(acc + e.x, e.y, e.z);
    return clamp(v + zero_point, lo, hi);
}

fn byte_at(v: i32, k: u32) -> u32 {
    return (u32(v) & 0xffu) << (k * 8u);
}
