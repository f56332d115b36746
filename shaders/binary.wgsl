// ADD, SUB, MUL, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE with numpy broadcasting, twin of `src/reference/binary`.
// One invocation computes the elements of one output word. KIND picks the element function
// (a pipeline constant, so each pipeline has one path):
//   0 float32 arithmetic with the activation clamp   (`BinaryOp::Float`)
//   1 int32 arithmetic, wrapping, with the clamp      (`BinaryOp::Int32`)
//   2 int8/uint8 ADD/SUB rescale pipeline             (`AddSubParams::apply`)
//   3 int8/uint8 MUL                                  (`MulParams::apply`)
//   4 MAXIMUM/MINIMUM of float32 values               (`max_min`)
//   5 MAXIMUM/MINIMUM of integer values               (`max_min`)
//   6 int8 SQUARED_DIFFERENCE                         (`AddSubParams::squared_difference`)
// and, in the entry point `quant_div` (it raises the op's status flag where the reference
// refuses the run: a divisor equal to its zero point), int8/uint8 DIV (`DivParams::apply`).
// Float DIV is KIND 0 with arith 4, divided by the soft float's correctly rounded f32_div.

#import grid
#import fixedpoint
#import gemmlowp
#import softfloat
#import elemwise

override WG: u32 = 64u;
override KIND: u32 = 0u;
// Element bits (8, 16, 32) and signedness of inputs and output (all the same dtype).
override BITS: u32 = 32u;
override SIGNED: bool = true;

struct Params {
    len: u32,
    // Broadcast rank (after merging dimensions); 0 when both inputs are read at i.
    rank: u32,
    // 0 add, 1 sub, 2 mul, 3 squared difference, 4 div (KIND 0, 1); 1 for SUB in KIND 2;
    // 1 for MAXIMUM in KIND 4, 5.
    arith: u32,
    left_shift: u32,
    in1_offset: i32,
    in1_multiplier: i32,
    in1_shift: i32,
    in2_offset: i32,
    in2_multiplier: i32,
    in2_shift: i32,
    out_offset: i32,
    out_multiplier: i32,
    out_shift: i32,
    act_min: i32,
    act_max: i32,
    // f32 bit patterns of the float clamp.
    flo: u32,
    fhi: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;
// Broadcast layout: dims[rank], strides of a[rank], strides of b[rank] (0: broadcast).
@group(0) @binding(4) var<storage, read> bcast: array<u32>;
// quant_div: the op's run-time failure flag (GpuOpCtx::status).
@group(0) @binding(5) var<storage, read_write> status: array<atomic<u32>>;

// Flat indices into a and b of output element i.
fn source_indices(i: u32) -> vec2<u32> {
    if (p.rank == 0u) {
        return vec2<u32>(i, i);
    }
    var rem = i;
    var ia = 0u;
    var ib = 0u;
    for (var k = 0u; k < p.rank; k++) {
        let d = p.rank - 1u - k;
        let dim = bcast[d];
        let c = rem % dim;
        rem = rem / dim;
        ia += c * bcast[p.rank + d];
        ib += c * bcast[2u * p.rank + d];
    }
    return vec2<u32>(ia, ib);
}

fn load_a(i: u32) -> i32 {
    return elem_of(a[elem_word(i, BITS)], i, BITS, SIGNED);
}

fn load_b(i: u32) -> i32 {
    return elem_of(b[elem_word(i, BITS)], i, BITS, SIGNED);
}

// std::min(std::max(v, lo), hi) as C++ evaluates it (NaN passes through).
fn clamp_like_cpp(v: f32, lo: f32, hi: f32) -> f32 {
    let x = select(v, lo, v < lo);
    return select(x, hi, hi < x);
}

fn float_arith(x: f32, z: f32) -> f32 {
    if (p.arith == 0u) {
        return x + z;
    }
    if (p.arith == 1u) {
        return x - z;
    }
    if (p.arith == 3u) {
        let d = x - z;
        return d * d;
    }
    if (p.arith == 4u) {
        // Correctly rounded (WGSL's `/` may be 2.5 ulp off): the CPU's bits.
        return bitcast<f32>(f32_div(bitcast<u32>(x), bitcast<u32>(z)));
    }
    return x * z;
}

fn int32_arith(x: i32, z: i32) -> i32 {
    if (p.arith == 0u) {
        return x + z;
    }
    if (p.arith == 1u) {
        return x - z;
    }
    if (p.arith == 3u) {
        let d = x - z;
        return d * d;
    }
    return x * z;
}

// `AddSubParams::scaled_inputs`: both inputs offset, shifted and rescaled.
fn scaled_inputs(x: i32, z: i32) -> vec2<i32> {
    let shifted_input1_val = (p.in1_offset + x) * (1 << p.left_shift);
    let shifted_input2_val = (p.in2_offset + z) * (1 << p.left_shift);
    return vec2<i32>(
        multiply_by_quantized_multiplier(shifted_input1_val, p.in1_multiplier, p.in1_shift),
        multiply_by_quantized_multiplier(shifted_input2_val, p.in2_multiplier, p.in2_shift),
    );
}

// `AddSubParams::output`: the output multiplier, zero point and clamp.
fn add_sub_output(raw: i32) -> i32 {
    let raw_output = multiply_by_quantized_multiplier(raw, p.out_multiplier, p.out_shift) + p.out_offset;
    return min(max(raw_output, p.act_min), p.act_max);
}

fn quant_add_sub(x: i32, z: i32) -> i32 {
    let scaled = scaled_inputs(x, z);
    if (p.arith == 1u) {
        return add_sub_output(scaled.x - scaled.y);
    }
    return add_sub_output(scaled.x + scaled.y);
}

// squared_difference.cc's int8 element (left_shift 7, the type's range as the clamp).
fn quant_squared_difference(x: i32, z: i32) -> i32 {
    let scaled = scaled_inputs(x, z);
    let raw_diff = scaled.x - scaled.y;
    return add_sub_output(raw_diff * raw_diff);
}

fn quant_mul(x: i32, z: i32) -> i32 {
    let input1_val = p.in1_offset + x;
    let input2_val = p.in2_offset + z;
    let unclamped = p.out_offset
        + multiply_by_quantized_multiplier(input1_val * input2_val, p.out_multiplier, p.out_shift);
    return min(max(unclamped, p.act_min), p.act_max);
}

// The output element (as its bit pattern / value) of input values x, z.
fn element(x: i32, z: i32) -> i32 {
    switch KIND {
        case 0u: {
            let v = float_arith(bitcast<f32>(x), bitcast<f32>(z));
            return bitcast<i32>(clamp_like_cpp(v, bitcast<f32>(p.flo), bitcast<f32>(p.fhi)));
        }
        case 1u: {
            return min(max(int32_arith(x, z), p.act_min), p.act_max);
        }
        case 2u: {
            return quant_add_sub(x, z);
        }
        case 3u: {
            return quant_mul(x, z);
        }
        case 4u: {
            let fx = bitcast<f32>(x);
            let fz = bitcast<f32>(z);
            if (p.arith == 1u) {
                return select(z, x, fx > fz);
            }
            return select(z, x, fx < fz);
        }
        case 5u: {
            if (p.arith == 1u) {
                return select(z, x, x > z);
            }
            return select(z, x, x < z);
        }
        default: {
            return quant_squared_difference(x, z);
        }
    }
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let w = flat_workgroup(wid, nwg) * WG + lid;
    let per = 32u / BITS;
    if (w >= (p.len + per - 1u) / per) {
        return;
    }
    var word = 0u;
    for (var k = 0u; k < per; k++) {
        let i = w * per + k;
        if (i >= p.len) {
            break;
        }
        let src = source_indices(i);
        word |= elem_place(element(load_a(src.x), load_b(src.y)), i, BITS);
    }
    y[w] = word;
}

// `count_leading_sign_bits` (TFLite `CountLeadingSignBits`).
fn count_leading_sign_bits(v: i32) -> i32 {
    if (v >= 0) {
        return i32(countLeadingZeros(u32(v))) - 1;
    }
    if (v != i32(-2147483647 - 1)) {
        return i32(countLeadingZeros(2u * u32(-v) - 1u));
    }
    return 0;
}

// `rounding_divide_by_pot_wide`: RoundingDivideByPOT for exponents above 31 as LiteRT's
// x86-64 build computes it (an all-ones mask, the shift count mod 32).
fn rounding_divide_by_pot_wide(v: i32, exponent: i32) -> i32 {
    if (exponent <= 31) {
        return rounding_divide_by_pot(v, exponent);
    }
    let threshold = -1 + select(0, 1, v < 0);
    return (v >> (u32(exponent) & 31u)) + select(0, 1, v > threshold);
}

// `DivParams::apply`; the divisor equal to its zero point raises the status flag.
fn quant_div_element(x: i32, z: i32) -> i32 {
    var input1_val = p.in1_offset + x;
    var input2_val = p.in2_offset + z;
    if (input2_val == 0) {
        atomicOr(&status[0], 1u);
        return 0;
    }
    if (input2_val < 0) {
        input1_val = -input1_val;
        input2_val = -input2_val;
    }
    let recip = get_reciprocal(input2_val, 31);
    let headroom = count_leading_sign_bits(input1_val);
    let unscaled_quotient =
        multiply_by_quantized_multiplier_greater_than_one(input1_val, recip.x, headroom);
    let total_shift = p.out_shift - recip.y - headroom;
    let scaled = rounding_divide_by_pot_wide(srdhm(unscaled_quotient, p.out_multiplier), -total_shift);
    return min(max(p.out_offset + scaled, p.act_min), p.act_max);
}

@compute @workgroup_size(WG)
fn quant_div(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let w = flat_workgroup(wid, nwg) * WG + lid;
    let per = 32u / BITS;
    if (w >= (p.len + per - 1u) / per) {
        return;
    }
    var word = 0u;
    for (var k = 0u; k < per; k++) {
        let i = w * per + k;
        if (i >= p.len) {
            break;
        }
        let src = source_indices(i);
        word |= elem_place(quant_div_element(load_a(src.x), load_b(src.y)), i, BITS);
    }
    y[w] = word;
}
