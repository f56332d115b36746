// Shape ops that move elements: TRANSPOSE, SLICE, STRIDED_SLICE (a strided walk), PAD/PADV2
// (the walk with out-of-box positions taking the pad value) and CONCATENATION (one walk per
// input, positions outside its slab keep what the other inputs wrote). Twin of
// `src/reference/shape_ops/kernels.rs`: every index plan is decided at prepare by the
// reference and only uploaded here.
//
// Elements are moved as "units" of 8, 16 or 32 bits (int64 as two 32-bit units, the host adds
// an innermost axis of 2). A word holds 32 / UNIT_BITS units; each invocation owns one output
// word, so packed 8- and 16-bit outputs are written whole.
//
// plan (i32): [0] rank R, [1] output units, [2] unit bits, [3] base input unit, [4] mode
// (0 gather, 1 pad, 2 keep), [5] 1 to map 8-bit values through `aux` (a 256-entry table),
// [6] pad value period (units), [7] first output word (the words before it are not
// dispatched: a CONCATENATION input's slab starts there); then per axis, outermost first:
// count, step (input units per step), lo, hi (positions lo <= k < hi are inside the box).
// For unit u, the input unit is base + sum_d k_d * step_d.

#import grid

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> plan: array<i32>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
// The pad value's units (mode 1) or the requantization table (plan[5] == 1).
@group(0) @binding(2) var<storage, read> aux: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;

fn unit_of(word: u32, k: u32, bits: u32) -> u32 {
    return extractBits(word, k * bits, bits);
}

@compute @workgroup_size(WG)
fn gather(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let w = u32(plan[7]) + flat_workgroup(wid, nwg) * WG + lid;
    let rank = plan[0];
    let n = u32(plan[1]);
    let bits = u32(plan[2]);
    let per_word = 32u / bits;
    let first = w * per_word;
    if (first >= n) {
        return;
    }
    let base = plan[3];
    let mode = plan[4];
    let table = plan[5] == 1;
    let period = u32(max(plan[6], 1));
    var word = 0u;
    if (mode == 2) {
        word = dst[w];
    }
    var touched = false;
    for (var k = 0u; k < per_word; k++) {
        let u = first + k;
        if (u >= n) {
            break;
        }
        var rem = u;
        var at = base;
        var inside = true;
        for (var d = rank - 1; d >= 0; d--) {
            let m = 8 + 4 * d;
            let count = u32(plan[m]);
            let c = rem % count;
            rem = rem / count;
            at += i32(c) * plan[m + 1];
            inside = inside && i32(c) >= plan[m + 2] && i32(c) < plan[m + 3];
        }
        var v = 0u;
        if (inside) {
            let ua = u32(at);
            v = unit_of(src[ua / per_word], ua % per_word, bits);
            if (table) {
                v = aux[v];
            }
        } else if (mode == 1) {
            v = unit_of(aux[u % period], 0u, bits);
        } else if (mode == 2) {
            continue;
        }
        word = insertBits(word, v, k * bits, bits);
        touched = true;
    }
    if (touched) {
        dst[w] = word;
    }
}

// GATHER with run-time indices (twin of `GatherIndexKernel` in
// `src/reference/shape_ops/gather.rs`): output element e = ((b * outer + o) * coords + i) *
// inner + j reads input element ((b * outer + o) * axis_size + indices[b * coords + i]) *
// inner + j. `aux` holds the indices (int16, int32 or int64, little-endian); an index below 0
// or at or past the axis size sets `status` (the reference fails the run) and reads element 0.
//
// gplan (i32): [0] output units, [1] unit bits, [2] units per element (2 for int64), [3]
// outer, [4] coords, [5] inner, [6] axis size, [7] index bits (16, 32, 64).
@group(0) @binding(4) var<storage, read_write> status: array<atomic<u32>>;

// Index `k` of the indices, or -1 when it is out of [0, axis_size).
fn gather_position(k: u32, index_bits: u32, axis_size: u32) -> i32 {
    var v = 0i;
    var ok = true;
    if (index_bits == 16u) {
        let word = aux[k / 2u];
        v = i32(extractBits(word, (k % 2u) * 16u, 16u) << 16u) >> 16u;
    } else if (index_bits == 32u) {
        v = i32(aux[k]);
    } else {
        let lo = aux[2u * k];
        let hi = aux[2u * k + 1u];
        ok = hi == 0u && lo < 0x80000000u;
        v = i32(lo);
    }
    if (!ok || v < 0 || u32(v) >= axis_size) {
        return -1;
    }
    return v;
}

@compute @workgroup_size(WG)
fn gather_index(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let w = flat_workgroup(wid, nwg) * WG + lid;
    let n = u32(plan[0]);
    let bits = u32(plan[1]);
    let per_word = 32u / bits;
    let first = w * per_word;
    if (first >= n) {
        return;
    }
    let split = u32(plan[2]);
    let outer = u32(plan[3]);
    let coords = u32(plan[4]);
    let inner = u32(plan[5]);
    let axis_size = u32(plan[6]);
    let index_bits = u32(plan[7]);
    var word = 0u;
    var bad = false;
    for (var k = 0u; k < per_word; k++) {
        let u = first + k;
        if (u >= n) {
            break;
        }
        let e = u / split;
        let part = u % split;
        let j = e % inner;
        let row = e / inner;
        let i = row % coords;
        let bo = row / coords;
        let b = bo / outer;
        var pos = gather_position(b * coords + i, index_bits, axis_size);
        if (pos < 0) {
            bad = true;
            pos = 0;
        }
        let at = ((bo * axis_size + u32(pos)) * inner + j) * split + part;
        let v = unit_of(src[at / per_word], at % per_word, bits);
        word = insertBits(word, v, k * bits, bits);
    }
    dst[w] = word;
    if (bad) {
        atomicOr(&status[0], 1u);
    }
}
