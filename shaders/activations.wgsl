// RELU, RELU6, LEAKY_RELU, HARD_SWISH, LOGISTIC, TANH and PRELU, twin of
// `src/reference/activations`. One invocation computes the elements of one output word.
// KIND picks the element function (a pipeline constant):
//   0 float32 (`FloatFn`, p.fkind: 0 max, 1 clamp, 2 leaky, 3 hard swish, 4 logistic, 5 tanh,
//     6 the converter's hard swish `HardSwishOpt`, 7 and 8 the converter's logistic and tanh,
//     Eigen's packet forms, shaders/common/eigen_act.wgsl)
//   1 quantized `ReluX`             2 quantized `QuantizeLeakyRelu`
//   3 quantized `HardSwish` (16-bit fixed point, shaders/common/fixedpoint16.wgsl)
//   4 table lookup (LOGISTIC, TANH int8/uint8: the reference's 256-entry `LUTPopulate`)
// PRELU has its own entry point (`prelu`), with alpha broadcast over the input.
//
// Float RELU, RELU6, LEAKY_RELU and HARD_SWISH give the reference's bits: correctly rounded
// f32 operations, the division in software (`f32_div`: WGSL's `/` may be off by 2.5 ulp).
// LOGISTIC and TANH use the device's `exp`: within the conformance tolerance, not bit-exact;
// in the converter's order they are Eigen's rational forms, the CPU's bits.
// Integer results are integer-only.

#import grid
#import fixedpoint
#import fixedpoint16
#import elemwise
#import softfloat
#import fclamp
#import eigen_act

override WG: u32 = 64u;
override KIND: u32 = 0u;
override BITS: u32 = 8u;
override SIGNED: bool = true;

struct Params {
    len: u32,
    fkind: u32,
    // f32 bits: RELU min / RELU6 min, max / LEAKY_RELU alpha.
    f0: u32,
    f1: u32,
    in_zp: i32,
    out_zp: i32,
    // Multiplier 1 (ReluX, LeakyRelu identity, PRELU x >= zp) and its shift.
    m1: i32,
    s1: i32,
    // Multiplier 2 (LeakyRelu alpha, PRELU x < zp) and its shift; HARD_SWISH: the Q15
    // output multiplier and exponent.
    m2: i32,
    s2: i32,
    // HARD_SWISH: the Q15 reluish multiplier and exponent; PRELU: alpha's zero point.
    m3: i32,
    s3: i32,
    lo: i32,
    hi: i32,
    // PRELU broadcast rank (0: alpha read at the element's index).
    rank: u32,
    // Table lookup: the input type's minimum (index = x - qmin).
    qmin: i32,
    // Always 0: `fuse_guard` (shaders/common/unfused.wgsl).
    guard: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
// KIND 4: the table (i32 per entry); PRELU: alpha.
@group(0) @binding(3) var<storage, read> aux: array<u32>;
// PRELU broadcast: dims[rank], strides of x (unused), strides of alpha.
@group(0) @binding(4) var<storage, read> bcast: array<u32>;

fn fuse_guard() -> u32 {
    return p.guard;
}

fn load_x(i: u32) -> i32 {
    return elem_of(x[elem_word(i, BITS)], i, BITS, SIGNED);
}

// NaN test on the bit pattern (a comparison `v != v` may be folded away by fast math).
fn is_nan_f32(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// `a / b`, correctly rounded.
fn div_f32(a: f32, b: f32) -> f32 {
    return bitcast<f32>(f32_div(bitcast<u32>(a), bitcast<u32>(b)));
}

fn relu6_of_x_plus_3(v: f32) -> f32 {
    let plus3 = v + 3.0;
    let relu = select(0.0, plus3, 0.0 < plus3);
    return select(6.0, relu, relu < 6.0);
}

// tanh through exp (WGSL's tanh may be computed as sinh/cosh, which overflows): within
// a few ulp of tanhf except near 0, where the odd series is used.
fn tanh_f32(v: f32) -> f32 {
    if (is_nan_f32(v)) {
        return v;
    }
    let a = abs(v);
    var t: f32;
    if (a > 9.0) {
        t = 1.0;
    } else if (a < 0.001) {
        t = a - a * a * a / 3.0;
    } else {
        let e = exp(-2.0 * a);
        t = (1.0 - e) / (1.0 + e);
    }
    return select(t, -t, v < 0.0);
}

// Element i (of the whole tensor) of a float activation.
fn float_fn(v: f32, i: u32) -> f32 {
    let f0 = bitcast<f32>(p.f0);
    let f1 = bitcast<f32>(p.f1);
    switch p.fkind {
        case 0u: {
            // std::max(x, min): a NaN passes through.
            return select(v, f0, v < f0);
        }
        case 1u: {
            return clamp_cpp(v, f0, f1);
        }
        case 2u: {
            return select(v * f0, v, v > 0.0);
        }
        case 3u: {
            return div_f32(v * relu6_of_x_plus_3(v), 6.0);
        }
        case 6u: {
            // `optimized_ops::HardSwish` (the converter's order): whole vectors of four
            // multiply by 1/6 (f32 0x3e2aaaab), the tail divides.
            let relu6 = relu6_of_x_plus_3(v);
            if (i < p.len / 4u * 4u) {
                return (v * bitcast<f32>(0x3e2aaaabu)) * relu6;
            }
            return div_f32(v * relu6, 6.0);
        }
        case 4u: {
            // `reference_ops::Logistic`: 1 above 16.619047, exp(x) below -9 (a NaN takes
            // the last branch and stays NaN).
            if (v > 16.619047164916992188) {
                return 1.0;
            }
            if (v < -9.0) {
                return exp(v);
            }
            return 1.0 / (1.0 + exp(-v));
        }
        case 7u: {
            return eigen_logistic(v);
        }
        case 8u: {
            return eigen_tanh(v);
        }
        default: {
            return tanh_f32(v);
        }
    }
}

// `relu_x`.
fn relu_x(v: i32) -> i32 {
    let clamped = p.out_zp + multiply_by_quantized_multiplier(v - p.in_zp, p.m1, p.s1);
    return min(max(clamped, p.lo), p.hi);
}

// `leaky_relu_q`.
fn leaky_relu(v: i32) -> i32 {
    let input_value = v - p.in_zp;
    var unclamped = p.out_zp;
    if (input_value >= 0) {
        unclamped += multiply_by_quantized_multiplier(input_value, p.m1, p.s1);
    } else {
        let negative = p.m2 < 0;
        // wrapping_abs: INT32_MIN stays INT32_MIN.
        let safe = select(p.m2, -p.m2, negative);
        let scaled = multiply_by_quantized_multiplier(input_value, safe, p.s2);
        unclamped += select(scaled, -scaled, negative);
    }
    return min(max(unclamped, p.lo), p.hi);
}

// `hard_swish_q`.
fn hard_swish(v: i32) -> i32 {
    let input_value = wrap16(v - p.in_zp);
    let input_value_on_hires_input_scale = wrap16(input_value * (1 << 7u));
    let input_value_on_preshift_output_scale = srdhm_i16(input_value_on_hires_input_scale, p.m2);
    var reluish_value = input_value_on_hires_input_scale;
    if (p.s3 > 0) {
        reluish_value = saturating_left_shift_i16(reluish_value, p.s3 - 1);
    }
    reluish_value = srdhm_i16(reluish_value, p.m3);
    if (p.s3 > 0) {
        reluish_value = saturating_left_shift_i16(reluish_value, 1);
    }
    if (p.s3 < 0) {
        reluish_value = rounding_divide_by_pot_i16(reluish_value, -p.s3);
    }
    reluish_value = wrap16((reluish_value + (1 << 15u)) >> 1u);
    let preshift_output_value =
        saturating_doubling_high_mul_i16(reluish_value, input_value_on_preshift_output_scale);
    var output_value = rounding_divide_by_pot_i16(preshift_output_value, -p.s2);
    output_value = wrap16(output_value + p.out_zp);
    return min(max(output_value, p.lo), p.hi);
}

fn element(v: i32, i: u32) -> i32 {
    switch KIND {
        case 0u: {
            return bitcast<i32>(float_fn(bitcast<f32>(v), i));
        }
        case 1u: {
            return relu_x(v);
        }
        case 2u: {
            return leaky_relu(v);
        }
        case 3u: {
            return hard_swish(v);
        }
        default: {
            return i32(aux[u32(v - p.qmin)]);
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
        word |= elem_place(element(load_x(i), i), i, BITS);
    }
    y[w] = word;
}

// PRELU: alpha's flat index of element i.
fn alpha_index(i: u32) -> u32 {
    if (p.rank == 0u) {
        return i;
    }
    var rem = i;
    var ia = 0u;
    for (var k = 0u; k < p.rank; k++) {
        let d = p.rank - 1u - k;
        let dim = bcast[d];
        let c = rem % dim;
        rem = rem / dim;
        ia += c * bcast[2u * p.rank + d];
    }
    return ia;
}

// `prelu_q`.
fn prelu_q(v: i32, alpha: i32) -> i32 {
    let input_value = v - p.in_zp;
    var output_value: i32;
    if (input_value >= 0) {
        output_value = multiply_by_quantized_multiplier(input_value, p.m1, p.s1);
    } else {
        let alpha_value = alpha - p.m3;
        output_value = multiply_by_quantized_multiplier(input_value * alpha_value, p.m2, p.s2);
    }
    return min(max(output_value + p.out_zp, p.lo), p.hi);
}

// PRELU over float32 (KIND 0) or int8/uint8 (otherwise).
@compute @workgroup_size(WG)
fn prelu(
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
        let ai = alpha_index(i);
        let a = elem_of(aux[elem_word(ai, BITS)], ai, BITS, SIGNED);
        let v = load_x(i);
        var r: i32;
        if (KIND == 0u) {
            let fv = bitcast<f32>(v);
            r = bitcast<i32>(select(fv * bitcast<f32>(a), fv, fv >= 0.0));
        } else {
            r = prelu_q(v, a);
        }
        word |= elem_place(r, i, BITS);
    }
    y[w] = word;
}
