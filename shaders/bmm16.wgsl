// The 16x8-mode BATCH_MATMUL (`bmm16`): int16 LHS, RHS and output, twin of `Int16Bmm`
// (src/reference/fully_connected/bmm/int16.rs, `reference_ops::BatchMatMul<int16_t,
// int64_t>`): per output an int64 accumulator (u32 pairs, softfloat's add64; each int16 ×
// int16 product fits an i32 except (-32768)², which is added as its two halves), TFLite's
// int64 MultiplyByQuantizedMultiplier with the 16-bit multiplier (`mbqm_i64`), the clamp
// to int16.
//
// The operands are read where the model holds them: the reference's `[M, K]` LHS and
// `[N, K]` weights are its transposes of the model's matrices when `adj_x` is set / `adj_y`
// is not, and each matrix keeps its offset under that transposition, so the plan's step
// offsets index the model's tensors. int16 tensors live packed two to a word; one
// invocation computes the two outputs of one output word.

#import grid
#import mbqm64

struct Params {
    n: u32,
    m: u32,
    k: u32,
    adj_x: u32,
    adj_y: u32,
    multiplier: u32,
    total_shift: u32,
    out_len: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> lhs: array<u32>;
@group(0) @binding(2) var<storage, read> rhs: array<u32>;
// Per step of the plan: (filter offset, input offset, -, -); step s writes outputs
// s·N·M .. (s + 1)·N·M.
@group(0) @binding(3) var<storage, read> steps: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> output: array<u32>;

fn lhs16(i: u32) -> i32 {
    return extractBits(i32(lhs[i >> 1u]), (i & 1u) * 16u, 16u);
}

fn rhs16(i: u32) -> i32 {
    return extractBits(i32(rhs[i >> 1u]), (i & 1u) * 16u, 16u);
}

fn bmm_value(e: u32) -> i32 {
    let per_step = p.n * p.m;
    let s = steps[e / per_step];
    let r = e % per_step;
    let j = r / p.n;
    let i = r % p.n;
    var acc = vec2<u32>(0u, 0u);
    for (var kk = 0u; kk < p.k; kk++) {
        var w: i32;
        if (p.adj_y == 1u) {
            w = rhs16(s.x + p.k * i + kk);
        } else {
            w = rhs16(s.x + p.n * kk + i);
        }
        var x: i32;
        if (p.adj_x == 1u) {
            x = lhs16(s.y + p.m * kk + j);
        } else {
            x = lhs16(s.y + p.k * j + kk);
        }
        acc = add64(acc, i64_from_i32(w * x));
    }
    let scaled = mbqm_i64(acc, p.multiplier, p.total_shift);
    return clamp(scaled, -32768, 32767);
}

@compute @workgroup_size(64)
fn bmm16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
    let word = flat_workgroup(wid, nwg) * 64u + li;
    let e = word * 2u;
    if (e >= p.out_len) {
        return;
    }
    var hi = 0;
    if (e + 1u < p.out_len) {
        hi = bmm_value(e + 1u);
    }
    output[word] = (u32(bmm_value(e)) & 0xffffu) | (u32(hi) << 16u);
}
