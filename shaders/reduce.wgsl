// MEAN, SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD, twin of `src/reference/reduce.rs` and
// `src/reference/reduce_generic.rs`. One invocation per output word (four int8/uint8
// outputs, two int16 outputs, one float32 output); each output takes its reduced elements
// in the input's row-major order (the reduced axes ascending), as the reference does.
// - MEAN float32: `sum / (float)count`, NaN for an empty reduction.
// - MEAN and SUM integer (`QuantizedMeanOrSum`): the raw sum wraps in i32; then
//   MultiplyByQuantizedMultiplier(sum - zp_in * count, m, shift) + zp_out, clamped to the
//   type (the reference's multiplier, MEAN's with 1/count folded in, uploaded); 0 for an
//   empty reduction. An int8 SUM comes as a uint8 one (BUILTIN_REF reads its bytes so).
// - SUM/MAX/MIN float32 (`reduce_f32`): from the neutral value (0, -FLT_MAX, FLT_MAX) or,
//   with flag 1, from the first input; MAX/MIN keep the current value unless `in > current`
//   (`in < current`), or with flag 2 (the converter's kernels) take the input unless
//   `current > in` (`current < in`). Comparisons by the bits, NaN never ordered.
// - MAX/MIN integer (`minmax_int`): from the type's lowest (largest) value, on stored values.
// - PROD float32: `reduce_f32` with products (from 1, or the first input). int8 (`prod_int`,
//   `QuantizedReduceProd`): from `q - zp_in` of the first input, then
//   `MBQM64(current·(q - zp_in))`, finally `MBQM64(current) + zp_out`, clamped; MBQM64 is
//   `(x·rm + 2^(ts-1)) >> ts` in 64-bit two's complement (`mul_round_shift64`), with rm in [8]
//   and ts in [9].
//
// plan (i32): [0] output elements, [1] count, [2] kept axes K, [3] reduced axes R, [4] bits
// (8, 16, 32 for float32), [5] 1 if signed, [6] zp_in, [7] zp_out, [8] multiplier, [9] shift,
// [10] lo, [11] hi, [12] kind (0 MEAN, 1 SUM, 2 MAX, 3 MIN, 4 PROD), [13] flags; then K (size, input
// stride) pairs, then R (size, input stride) pairs.

#import grid
#import fixedpoint
#import softfloat
#import mbqm64

override WG: u32 = 64u;

// Plan header words.
const HDR: i32 = 14;

@group(0) @binding(0) var<storage, read> plan: array<i32>;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

fn load_int(i: u32, bits: u32, signed: bool) -> i32 {
    let per_word = 32u / bits;
    let word = x[i / per_word];
    let at = (i % per_word) * bits;
    if (signed) {
        return extractBits(i32(word), at, bits);
    }
    return i32(extractBits(word, at, bits));
}

// The input offset of reduced element 0 of output o.
fn out_base(o: u32) -> u32 {
    let kept = plan[2];
    var rem = o;
    var at = 0u;
    for (var d = kept - 1; d >= 0; d--) {
        let size = u32(plan[HDR + 2 * d]);
        at += (rem % size) * u32(plan[HDR + 1 + 2 * d]);
        rem = rem / size;
    }
    return at;
}

// The offset of reduced element r from its output's base.
fn red_offset(r: u32) -> u32 {
    let kept = plan[2];
    let red = plan[3];
    var rem = r;
    var at = 0u;
    for (var d = red - 1; d >= 0; d--) {
        let m = HDR + 2 * (kept + d);
        let size = u32(plan[m]);
        at += (rem % size) * u32(plan[m + 1]);
        rem = rem / size;
    }
    return at;
}

fn mean_int(o: u32, bits: u32, signed: bool) -> i32 {
    let count = u32(plan[1]);
    if (count == 0u) {
        return 0;
    }
    let base = out_base(o);
    var sum = 0;
    for (var r = 0u; r < count; r++) {
        sum += load_int(base + red_offset(r), bits, signed);
    }
    let shifted = sum - plan[6] * i32(count);
    let v = multiply_by_quantized_multiplier(shifted, plan[8], plan[9]) + plan[7];
    return clamp(v, plan[10], plan[11]);
}

@compute @workgroup_size(WG)
fn mean_int_main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let word = flat_workgroup(wid, nwg) * WG + lid;
    let n = u32(plan[0]);
    let bits = u32(plan[4]);
    let signed = plan[5] == 1;
    let per_word = 32u / bits;
    let first = word * per_word;
    if (first >= n) {
        return;
    }
    var packed = 0u;
    for (var k = 0u; k < per_word; k++) {
        if (first + k < n) {
            packed = insertBits(packed, u32(mean_int(first + k, bits, signed)), k * bits, bits);
        }
    }
    y[word] = packed;
}

@compute @workgroup_size(WG)
fn mean_f32(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let o = flat_workgroup(wid, nwg) * WG + lid;
    if (o >= u32(plan[0])) {
        return;
    }
    let count = u32(plan[1]);
    if (count == 0u) {
        // InitializeMeanOutput: NaN.
        y[o] = 0x7fc00000u;
        return;
    }
    let base = out_base(o);
    var sum = 0.0;
    for (var r = 0u; r < count; r++) {
        sum += bitcast<f32>(x[base + red_offset(r)]);
    }
    // Correctly rounded (WGSL's `/` may be off by 2.5 ulp).
    y[o] = f32_div(bitcast<u32>(sum), bitcast<u32>(f32(count)));
}

// Eigen's `predux` of an AVX Packet8f: the halves, then `(a0 + a2) + (a1 + a3)`.
fn eigen_predux8(c: array<f32, 8>) -> f32 {
    return ((c[0] + c[4]) + (c[2] + c[6])) + ((c[1] + c[5]) + (c[3] + c[7]));
}

fn eigen_packet(at: u32) -> array<f32, 8> {
    var v: array<f32, 8>;
    for (var k = 0u; k < 8u; k++) {
        v[k] = bitcast<f32>(x[at + k]);
    }
    return v;
}

fn eigen_packet_add(a: array<f32, 8>, b: array<f32, 8>) -> array<f32, 8> {
    var v: array<f32, 8>;
    for (var k = 0u; k < 8u; k++) {
        v[k] = a[k] + b[k];
    }
    return v;
}

// Float MEAN in the converter's order (`Mean::eigen_rows`, twin of `eigen_redux_sum` in
// src/reference/float_order.rs): output o is the Eigen linear vectorised sum of the row
// x[o·n .. (o+1)·n] (its first element o·n mod 8 floats past a 32-byte boundary), divided
// by n (correctly rounded).
@compute @workgroup_size(WG)
fn mean_f32_eigen(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let o = flat_workgroup(wid, nwg) * WG + lid;
    if (o >= u32(plan[0])) {
        return;
    }
    let n = u32(plan[1]);
    let start = o * n;
    let aligned_start = min((8u - start % 8u) % 8u, n);
    let aligned_size = (n - aligned_start) / 8u * 8u;
    var res: f32;
    if (aligned_size == 0u) {
        res = bitcast<f32>(x[start]);
        for (var i = 1u; i < n; i++) {
            res += bitcast<f32>(x[start + i]);
        }
    } else {
        let aligned_end = aligned_start + aligned_size;
        let aligned_end2 = aligned_start + (n - aligned_start) / 16u * 16u;
        var res0 = eigen_packet(start + aligned_start);
        if (aligned_size > 8u) {
            var res1 = eigen_packet(start + aligned_start + 8u);
            for (var i = aligned_start + 16u; i < aligned_end2; i += 16u) {
                res0 = eigen_packet_add(res0, eigen_packet(start + i));
                res1 = eigen_packet_add(res1, eigen_packet(start + i + 8u));
            }
            res0 = eigen_packet_add(res0, res1);
            if (aligned_end > aligned_end2) {
                res0 = eigen_packet_add(res0, eigen_packet(start + aligned_end2));
            }
        }
        res = eigen_predux8(res0);
        for (var i = 0u; i < aligned_start; i++) {
            res += bitcast<f32>(x[start + i]);
        }
        for (var i = aligned_end; i < n; i++) {
            res += bitcast<f32>(x[start + i]);
        }
    }
    y[o] = f32_div(bitcast<u32>(res), bitcast<u32>(f32(n)));
}

// Long integer reductions (count >= the host's threshold): one workgroup per output word, its
// RWG invocations striding over the reduced elements, then a tree over workgroup memory.
// Integer sums wrap, so any order gives the reference's bits. (Float32 sums are never split:
// `mean_f32` keeps the reference's order, so its bits.)
const RWG: u32 = 64u;

var<workgroup> partial_int: array<i32, 256>;

@compute @workgroup_size(RWG)
fn mean_int_long(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let word = flat_workgroup(wid, nwg);
    let n = u32(plan[0]);
    let count = u32(plan[1]);
    let bits = u32(plan[4]);
    let signed = plan[5] == 1;
    let per_word = 32u / bits;
    let first = word * per_word;
    for (var k = 0u; k < 4u; k++) {
        var sum = 0;
        if (k < per_word && first + k < n) {
            let base = out_base(first + k);
            for (var r = lid; r < count; r += RWG) {
                sum += load_int(base + red_offset(r), bits, signed);
            }
        }
        partial_int[k * RWG + lid] = sum;
    }
    workgroupBarrier();
    for (var half = RWG / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            for (var k = 0u; k < 4u; k++) {
                partial_int[k * RWG + lid] += partial_int[k * RWG + lid + half];
            }
        }
        workgroupBarrier();
    }
    if (lid != 0u || first >= n) {
        return;
    }
    var packed = 0u;
    for (var k = 0u; k < per_word; k++) {
        if (first + k < n) {
            let shifted = partial_int[k * RWG] - plan[6] * i32(count);
            let v = clamp(multiply_by_quantized_multiplier(shifted, plan[8], plan[9]) + plan[7], plan[10], plan[11]);
            packed = insertBits(packed, u32(v), k * bits, bits);
        }
    }
    y[word] = packed;
}

// IEEE `a > b` on float bits: false when either is NaN, +0 == -0.
fn f32_gt_bits(a: u32, b: u32) -> bool {
    let ma = a & 0x7fffffffu;
    let mb = b & 0x7fffffffu;
    if (ma > 0x7f800000u || mb > 0x7f800000u) {
        return false;
    }
    if (ma == 0u && mb == 0u) {
        return false;
    }
    let na = (a >> 31u) == 1u;
    let nb = (b >> 31u) == 1u;
    if (na != nb) {
        return nb;
    }
    if (na) {
        return ma < mb;
    }
    return ma > mb;
}

// The reducer of kind 1-3 on float bits: `current` and `in`, the flags' comparison.
fn reduce_step(kind: i32, optimized: bool, cur: u32, v: u32) -> u32 {
    if (kind == 1) {
        return bitcast<u32>(bitcast<f32>(cur) + bitcast<f32>(v));
    }
    if (kind == 4) {
        return bitcast<u32>(bitcast<f32>(cur) * bitcast<f32>(v));
    }
    if (optimized) {
        // MaxOp / MinOp: (current > in) ? current : in.
        var keep: bool;
        if (kind == 2) {
            keep = f32_gt_bits(cur, v);
        } else {
            keep = f32_gt_bits(v, cur);
        }
        return select(v, cur, keep);
    }
    // ReduceGeneric's reducers: (in > current) ? in : current.
    var take: bool;
    if (kind == 2) {
        take = f32_gt_bits(v, cur);
    } else {
        take = f32_gt_bits(cur, v);
    }
    return select(cur, v, take);
}

@compute @workgroup_size(WG)
fn reduce_f32(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let o = flat_workgroup(wid, nwg) * WG + lid;
    if (o >= u32(plan[0])) {
        return;
    }
    let kind = plan[12];
    let from_first = (plan[13] & 1) != 0;
    let optimized = (plan[13] & 2) != 0;
    var acc: u32;
    if (kind == 1) {
        acc = 0u;
    } else if (kind == 4) {
        acc = 0x3f800000u; // 1
    } else if (kind == 2) {
        acc = 0xff7fffffu; // -FLT_MAX
    } else {
        acc = 0x7f7fffffu; // FLT_MAX
    }
    let count = u32(plan[1]);
    if (count == 0u) {
        y[o] = acc;
        return;
    }
    let base = out_base(o);
    if (from_first) {
        acc = x[base];
    }
    for (var r = select(0u, 1u, from_first); r < count; r++) {
        acc = reduce_step(kind, optimized, acc, x[base + red_offset(r)]);
    }
    y[o] = acc;
}

@compute @workgroup_size(WG)
fn minmax_int(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let word = flat_workgroup(wid, nwg) * WG + lid;
    let n = u32(plan[0]);
    let count = u32(plan[1]);
    let bits = u32(plan[4]);
    let signed = plan[5] == 1;
    let is_max = plan[12] == 2;
    let per_word = 32u / bits;
    let first = word * per_word;
    if (first >= n) {
        return;
    }
    var packed = 0u;
    for (var k = 0u; k < per_word; k++) {
        if (first + k < n) {
            var acc = select(plan[11], plan[10], is_max);
            let base = out_base(first + k);
            for (var r = 0u; r < count; r++) {
                let v = load_int(base + red_offset(r), bits, signed);
                acc = select(min(acc, v), max(acc, v), is_max);
            }
            packed = insertBits(packed, u32(acc), k * bits, bits);
        }
    }
    y[word] = packed;
}

@compute @workgroup_size(WG)
fn prod_int(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let word = flat_workgroup(wid, nwg) * WG + lid;
    let n = u32(plan[0]);
    let count = u32(plan[1]);
    let first = word * 4u;
    if (first >= n) {
        return;
    }
    let zp_in = plan[6];
    let rm = plan[8];
    let ts = u32(plan[9]);
    var packed = 0u;
    for (var k = 0u; k < 4u; k++) {
        if (first + k < n) {
            var v = 0;
            if (count > 0u) {
                let base = out_base(first + k);
                var acc = load_int(base, 8u, true) - zp_in;
                for (var r = 1u; r < count; r++) {
                    let d = load_int(base + red_offset(r), 8u, true) - zp_in;
                    // MBQM64((int64)acc · d) = (acc · (d·rm) + round) >> ts.
                    acc = mul_round_shift64(acc, d * rm, ts);
                }
                v = clamp(mul_round_shift64(acc, rm, ts) + plan[7], -128, 127);
            }
            packed = insertBits(packed, u32(v), k * 8u, 8u);
        }
    }
    y[word] = packed;
}
