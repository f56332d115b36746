// The 16x8 FULLY_CONNECTED (`fc16`): int16 activations, int8 weights (per tensor or per
// output unit), twin of `QuantFc16` in src/reference/fully_connected/fc16.rs: per output
// an accumulator of `w · (x + input_offset)` — int64 in u32 pairs with a bias (softfloat's
// add64), the low word with wrapping int32 semantics without one — `+ bias`, BUILTIN_REF's
// double rescale `round((double)acc · scale)` (`double_rescale64`), `+ zp_out`, the clamp.
//
// int16 tensors live packed two to a word (element 2w+k in bits 16k..16k+16 of word w),
// int8 weights four to a word (bytes.wgsl). One invocation computes the two outputs of one
// output word. Integer sums are exact in any order.

#import grid
#import bytes
#import mbqm64
#import double_rescale

struct Params {
    batches: u32,
    units: u32,
    depth: u32,
    has_bias: u32,
    input_offset: i32,
    output_zero_point: i32,
    act_min: i32,
    act_max: i32,
}

@group(0) @binding(0) var<uniform> p: Params;
// int16 pairs, [batches, depth].
@group(0) @binding(1) var<storage, read> input: array<u32>;
// int8 quadruples, [units, depth].
@group(0) @binding(2) var<storage, read> weights: array<u32>;
// Per unit: (bias low word, bias high word, 0, 0), then (m_lo, m_hi, exponent, 0)
// (`RescaleMultiplier`).
@group(0) @binding(3) var<storage, read> units: array<vec4<u32>>;
// int16 pairs, [batches, units].
@group(0) @binding(4) var<storage, read_write> output: array<u32>;

fn in16(i: u32) -> i32 {
    return extractBits(i32(input[i >> 1u]), (i & 1u) * 16u, 16u);
}

fn w8(i: u32) -> i32 {
    return byte_i8(weights[i >> 2u], i & 3u);
}

// `QuantFc16::run` for output `i` = (b, o) and `DoubleEpilogue16::apply`.
fn fc_value(i: u32) -> i32 {
    let o = i % p.units;
    let b = i / p.units;
    var acc = vec2<u32>(0u, 0u);
    for (var d = 0u; d < p.depth; d++) {
        let x = in16(b * p.depth + d) + p.input_offset;
        acc = add64(acc, i64_from_i32(w8(o * p.depth + d) * x));
    }
    if (p.has_bias == 1u) {
        acc = add64(acc, units[2u * o].xy);
    } else {
        // An int32 accumulator wraps as the C++ compiles.
        acc = i64_from_i32(bitcast<i32>(acc.x));
    }
    let m = units[2u * o + 1u];
    let scaled = double_rescale64(acc, m.x, m.y, bitcast<i32>(m.z));
    return clamp(scaled + p.output_zero_point, p.act_min, p.act_max);
}

fn pack16(lo: i32, hi: i32) -> u32 {
    return (u32(lo) & 0xffffu) | (u32(hi) << 16u);
}

@compute @workgroup_size(64)
fn fc16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let word = flat_workgroup(wid, nwg) * 64u + li;
    let i = word * 2u;
    let n = p.batches * p.units;
    if (i >= n) {
        return;
    }
    var hi = 0;
    if (i + 1u < n) {
        hi = fc_value(i + 1u);
    }
    output[word] = pack16(fc_value(i), hi);
}

// Test entries, for the GPU tests against the native 64-bit definitions: `t_in` holds per
// case (acc low, acc high, m_lo, m_hi) and (exponent, -, -, -) for `double_rescale64`, or
// (x low, x high, reduced multiplier, total shift) for `mbqm_i64`.
@group(0) @binding(0) var<storage, read> t_in: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> t_out: array<i32>;

@compute @workgroup_size(64)
fn rescale64_test(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&t_out)) {
        return;
    }
    let v = t_in[2u * i];
    t_out[i] = double_rescale64(v.xy, v.z, v.w, bitcast<i32>(t_in[2u * i + 1u].x));
}

@compute @workgroup_size(64)
fn mbqm_i64_test(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&t_out)) {
        return;
    }
    let v = t_in[i];
    t_out[i] = mbqm_i64(v.xy, v.z, v.w);
}
