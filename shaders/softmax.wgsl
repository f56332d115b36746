// SOFTMAX over the last axis, twin of `src/reference/softmax.rs`, in two passes:
// `*_rows` computes each row's statistics into `stats` (one invocation per row), `*_out` each
// output word from its row's statistics (so that packed outputs are written whole).
// - float32: max, then sum of exp((x - max) * beta) in order; y = exp((x - max) * beta) / sum.
// - float32 in the converter's order (`eigen_rows`, `eigen_out`; `SoftmaxF32::converter_row`):
//   Eigen's `pexp` (`eigen_exp.wgsl`), the row summed in Eigen's `redux` order (the row's
//   first element `row·depth mod 8` floats past a 32-byte boundary), `inv = 1 / sum`
//   (correctly rounded), `y = e·inv`.
// - int8/uint8 input (`softmax_row_q`): gemmlowp exp on Q5.26 differences, a Q12.19 sum,
//   GetReciprocal, a rounding shift to the output's 8 or 16 bits, offset by its minimum.
//   Where the reference refuses a row (the shift leaves [0, 31]) `quant_rows` sets the
//   op's status flag and the session fails the run with the reference's reason (the row's
//   outputs are written as output_min, never returned).
//
// params (i32): [0] rows, [1] depth, [2] input bits, [3] 1 if the input is signed,
// [4] input type minimum, [5] output bits, [6] output min, [7] output max,
// [8] input_multiplier, [9] input_left_shift, [10] diff_min, [11] beta (f32 bits),
// [12] elements, [13] 0 (the fuse guard).

#import grid
#import gemmlowp
#import softfloat
#import eigen_exp

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> params: array<i32>;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> stats: array<vec4<i32>>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;
// The op's run-time failure flag (quant_rows only; GpuOpCtx::status).
@group(0) @binding(4) var<storage, read_write> status: array<atomic<u32>>;

// Integer bits of the scaled differences (Q5.26) and of the sum (Q12.19).
const SCALED_DIFF_INTEGER_BITS: i32 = 5;
const ACCUMULATION_INTEGER_BITS: i32 = 12;

fn load_int(i: u32) -> i32 {
    let bits = u32(params[2]);
    let per_word = 32u / bits;
    let word = x[i / per_word];
    let at = (i % per_word) * bits;
    if (params[3] == 1) {
        return extractBits(i32(word), at, bits);
    }
    return i32(extractBits(word, at, bits));
}

fn fuse_guard() -> u32 {
    return u32(params[13]);
}

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return flat_workgroup(wid, nwg) * WG + lid;
}

@compute @workgroup_size(WG)
fn quant_rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = index(wid, nwg, lid);
    if (row >= u32(params[0])) {
        return;
    }
    let depth = u32(params[1]);
    let start = row * depth;
    var max_in_row = params[4];
    for (var i = 0u; i < depth; i++) {
        max_in_row = max(max_in_row, load_int(start + i));
    }
    // Sum of exp in Q12.19 (plain int32 additions).
    var sum_of_exps = 0;
    for (var i = 0u; i < depth; i++) {
        let input_diff = load_int(start + i) - max_in_row;
        if (input_diff >= params[10]) {
            let d = multiply_by_quantized_multiplier_greater_than_one(input_diff, params[8], params[9]);
            let e = exp_on_negative_values(d, SCALED_DIFF_INTEGER_BITS);
            sum_of_exps += saturating_rounding_multiply_by_pot(e, -ACCUMULATION_INTEGER_BITS);
        }
    }
    let rec = get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
    let exponent = rec.y + 31 - params[5];
    if (exponent < 0 || exponent > 31) {
        atomicOr(&status[0], 1u);
    }
    stats[row] = vec4<i32>(max_in_row, rec.x, exponent, 0);
}

fn quant_one(o: u32) -> i32 {
    let s = stats[o / u32(params[1])];
    let output_min = params[6];
    let exponent = s.z;
    if (exponent < 0 || exponent > 31) {
        return output_min;
    }
    let input_diff = load_int(o) - s.x;
    if (input_diff < params[10]) {
        return output_min;
    }
    let d = multiply_by_quantized_multiplier_greater_than_one(input_diff, params[8], params[9]);
    let exp_in_0 = exp_on_negative_values(d, SCALED_DIFF_INTEGER_BITS);
    let unsat_output = rounding_divide_by_pot(srdhm(s.y, exp_in_0), exponent);
    return max(min(unsat_output + output_min, params[7]), output_min);
}

@compute @workgroup_size(WG)
fn quant_out(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let word = index(wid, nwg, lid);
    let n = u32(params[12]);
    let bits = u32(params[5]);
    let per_word = 32u / bits;
    let first = word * per_word;
    if (first >= n) {
        return;
    }
    var packed = 0u;
    for (var k = 0u; k < per_word; k++) {
        if (first + k < n) {
            packed = insertBits(packed, u32(quant_one(first + k)), k * bits, bits);
        }
    }
    y[word] = packed;
}

@compute @workgroup_size(WG)
fn float_rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = index(wid, nwg, lid);
    if (row >= u32(params[0])) {
        return;
    }
    let depth = u32(params[1]);
    let beta = bitcast<f32>(params[11]);
    let start = row * depth;
    var m = -3.40282347e+38;
    for (var i = 0u; i < depth; i++) {
        let v = bitcast<f32>(x[start + i]);
        if (m < v) {
            m = v;
        }
    }
    var sum = 0.0;
    for (var i = 0u; i < depth; i++) {
        sum += exp((bitcast<f32>(x[start + i]) - m) * beta);
    }
    stats[row] = vec4<i32>(bitcast<i32>(m), bitcast<i32>(sum), 0, 0);
}

@compute @workgroup_size(WG)
fn float_out(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let o = index(wid, nwg, lid);
    if (o >= u32(params[12])) {
        return;
    }
    let s = stats[o / u32(params[1])];
    let beta = bitcast<f32>(params[11]);
    let e = exp((bitcast<f32>(x[o]) - bitcast<f32>(s.x)) * beta);
    y[o] = bitcast<u32>(e / bitcast<f32>(s.y));
}

// The row's max, as `float_rows` finds it.
fn row_max(start: u32, depth: u32) -> f32 {
    var m = -3.40282347e+38;
    for (var i = 0u; i < depth; i++) {
        let v = bitcast<f32>(x[start + i]);
        if (m < v) {
            m = v;
        }
    }
    return m;
}

fn eigen_e(i: u32, m: f32, beta: f32) -> f32 {
    return eigen_pexp(unfused((bitcast<f32>(x[i]) - m) * beta));
}

fn eigen_e8(at: u32, m: f32, beta: f32) -> array<f32, 8> {
    var v: array<f32, 8>;
    for (var k = 0u; k < 8u; k++) {
        v[k] = eigen_e(at + k, m, beta);
    }
    return v;
}

fn eigen_add8(a: array<f32, 8>, b: array<f32, 8>) -> array<f32, 8> {
    var v: array<f32, 8>;
    for (var k = 0u; k < 8u; k++) {
        v[k] = a[k] + b[k];
    }
    return v;
}

// Eigen's linear vectorised `redux` of the row's exponentials (twin of `eigen_redux_sum`).
fn eigen_row_sum(start: u32, n: u32, m: f32, beta: f32) -> f32 {
    let aligned_start = min((8u - start % 8u) % 8u, n);
    let aligned_size = (n - aligned_start) / 8u * 8u;
    if (aligned_size == 0u) {
        var res = eigen_e(start, m, beta);
        for (var i = 1u; i < n; i++) {
            res += eigen_e(start + i, m, beta);
        }
        return res;
    }
    let aligned_end = aligned_start + aligned_size;
    let aligned_end2 = aligned_start + (n - aligned_start) / 16u * 16u;
    var res0 = eigen_e8(start + aligned_start, m, beta);
    if (aligned_size > 8u) {
        var res1 = eigen_e8(start + aligned_start + 8u, m, beta);
        for (var i = aligned_start + 16u; i < aligned_end2; i += 16u) {
            res0 = eigen_add8(res0, eigen_e8(start + i, m, beta));
            res1 = eigen_add8(res1, eigen_e8(start + i + 8u, m, beta));
        }
        res0 = eigen_add8(res0, res1);
        if (aligned_end > aligned_end2) {
            res0 = eigen_add8(res0, eigen_e8(start + aligned_end2, m, beta));
        }
    }
    var res = ((res0[0] + res0[4]) + (res0[2] + res0[6])) + ((res0[1] + res0[5]) + (res0[3] + res0[7]));
    for (var i = 0u; i < aligned_start; i++) {
        res += eigen_e(start + i, m, beta);
    }
    for (var i = aligned_end; i < n; i++) {
        res += eigen_e(start + i, m, beta);
    }
    return res;
}

@compute @workgroup_size(WG)
fn eigen_rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = index(wid, nwg, lid);
    if (row >= u32(params[0])) {
        return;
    }
    let depth = u32(params[1]);
    let beta = bitcast<f32>(params[11]);
    let start = row * depth;
    let m = row_max(start, depth);
    let sum = eigen_row_sum(start, depth, m, beta);
    // Eigen's `inverse()`: 1 / sum, correctly rounded (WGSL's `/` may be 2.5 ulp off).
    let inv = f32_div(0x3f800000u, bitcast<u32>(sum));
    stats[row] = vec4<i32>(bitcast<i32>(m), bitcast<i32>(inv), 0, 0);
}

@compute @workgroup_size(WG)
fn eigen_out(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let o = index(wid, nwg, lid);
    if (o >= u32(params[12])) {
        return;
    }
    let s = stats[o / u32(params[1])];
    let beta = bitcast<f32>(params[11]);
    let e = eigen_e(o, bitcast<f32>(s.x), beta);
    y[o] = bitcast<u32>(unfused(e * bitcast<f32>(s.y)));
}
