// The int16 SOFTMAX, twin of `Softmax16::row` (src/reference/softmax16.rs,
// `reference_ops::SoftmaxInt16`): `softmax16_rows`, one invocation per row, finds the row's
// max, sums the exps (`generic_int16_table_lookup` in the exp table) and derives the
// reciprocal and its shift; `softmax16_out`, one invocation per output word (two elements),
// recomputes each exp and scales it. The tables are the reference's, uploaded as they are;
// rows are at most 65537 long (checked by the host), so the int32 sum cannot wrap and the
// reference's int64 steps fit 32 bits here: `sum << (headroom − 1)` stays below 2^31, and
// `e · reciprocal + 2^(rs − 1)` below 2^31 (|e|, |reciprocal| <= 2^15, rs <= 30).

#import grid
#import fixedpoint

struct Params {
    rows: u32,
    depth: u32,
    input_multiplier: i32,
    input_shift: i32,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
// The exp table (513 entries), then the 1/(1 + x) table (513), sign-extended to i32 words.
@group(0) @binding(3) var<storage, read> luts: array<i32>;
// Per row: (max, reciprocal, right shift, -).
@group(0) @binding(4) var<storage, read_write> stats: array<vec4<i32>>;

fn x16(i: u32) -> i32 {
    return extractBits(i32(x[i >> 1u]), (i & 1u) * 16u, 16u);
}

// `int16_table_lookup` in the table at `at`.
fn lookup(value: i32, at: u32) -> i32 {
    let index = at + u32(256 + (value >> 7u));
    let offset = value & 0x7f;
    let base = luts[index];
    let slope = extractBits(luts[index + 1u] - base, 0u, 16u);
    let delta = (slope * offset + 64) >> 7u;
    return extractBits(base + delta, 0u, 16u);
}

// One element's exp: the difference from the row's max rescaled, offset to the table's
// symmetric range, looked up.
fn exp16(v: i32, max_in_row: i32) -> i32 {
    let scaled_diff = multiply_by_quantized_multiplier(v - max_in_row, p.input_multiplier,
                                                       p.input_shift);
    let sym = clamp(scaled_diff + 32767, -32768, 32767);
    return lookup(sym, 0u);
}

@compute @workgroup_size(64)
fn softmax16_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) li: u32) {
    let row = flat_workgroup(wid, nwg) * 64u + li;
    if (row >= p.rows) {
        return;
    }
    let start = row * p.depth;
    var max_in_row = -32768;
    for (var j = 0u; j < p.depth; j++) {
        max_in_row = max(max_in_row, x16(start + j));
    }
    var sum_of_exps = 0;
    for (var j = 0u; j < p.depth; j++) {
        sum_of_exps += exp16(x16(start + j), max_in_row);
    }
    let headroom_plus_one = countLeadingZeros(u32(sum_of_exps));
    let shifted_sum = i32(((u32(sum_of_exps) << (headroom_plus_one - 1u)) + (1u << 13u)) >> 14u);
    let sym_shifted_sum = shifted_sum - ((1 << 15u) + (1 << 16u));
    let sat = clamp(sym_shifted_sum, -32768, 32767);
    let reciprocal = lookup(sat, 513u);
    let right_shift = 31 - i32(headroom_plus_one);
    stats[row] = vec4<i32>(max_in_row, reciprocal, right_shift, 0);
}

fn out16(i: u32) -> i32 {
    let s = stats[i / p.depth];
    let e = exp16(x16(i), s.x);
    let rnd = 1 << u32(s.z - 1);
    return clamp((e * s.y + rnd) >> u32(s.z), 0, 32767);
}

@compute @workgroup_size(64)
fn softmax16_out(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
    let word = flat_workgroup(wid, nwg) * 64u + li;
    let i = word * 2u;
    let len = p.rows * p.depth;
    if (i >= len) {
        return;
    }
    var hi = 0;
    if (i + 1u < len) {
        hi = out16(i + 1u);
    }
    y[word] = (u32(out16(i)) & 0xffffu) | (u32(hi) << 16u);
}
