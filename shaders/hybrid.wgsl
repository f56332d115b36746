// Run-time quantization of float activations for the hybrid (dynamic-range) kernels:
// TFLite's `BatchQuantizeFloats` (`NeonSymmetricQuantizeFloats` /
// `NeonAsymmetricQuantizeFloats`, which x86 LiteRT runs), one batch row per workgroup, computed
// exactly with the
// soft-float functions (twin: `row_params` and `quantize_value` in
// `src/gpu/kernels/hybrid.rs`, proven equal to `reference::common::*_quantize_floats`).
//
// Output layout: row r's int8 values packed four per word in words
// [r * row_words, (r + 1) * row_words), row_words = ceil(row_len / 4), the tail bytes 0;
// per row the scaling factor (f32 bits) and the zero point ("offset", 0 when symmetric).

#import softfloat64
#import bytes
#import grid

override WG: u32 = 64u;

struct Params {
    rows: u32,
    row_len: u32,
    row_words: u32,
    symmetric: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> q: array<u32>;
@group(0) @binding(3) var<storage, read_write> scales: array<u32>;
@group(0) @binding(4) var<storage, read_write> offsets: array<i32>;

var<workgroup> part_lo: array<i32, WG>;
var<workgroup> part_hi: array<i32, WG>;
var<workgroup> part_nan: array<u32, WG>;
// inv (f32 bits), offset, all-zero flag of the row.
var<workgroup> row_inv: u32;
var<workgroup> row_offset: i32;
var<workgroup> row_zero: u32;

// A total order on non-NaN binary32 bit patterns as i32 (-0 sorts below +0); an involution.
fn order_key(b: u32) -> i32 {
    return select(i32(b), i32(b ^ 0x7fffffffu), (b & 0x80000000u) != 0u);
}

// The quantization parameters of a row from its min and max (as `std::minmax_element`
// finds them): vec4(scale bits, inv bits, offset, all-zero flag).
fn row_params(min_v: u32, max_v: u32, symmetric: bool) -> vec4<u32> {
    let one = 0x3f800000u;
    if (symmetric) {
        let range = f32_max(min_v & 0x7fffffffu, max_v & 0x7fffffffu);
        if (is_zero32(range)) {
            return vec4<u32>(one, 0u, 0u, 1u);
        }
        let c127 = 0x42fe0000u;
        return vec4<u32>(f32_div(range, c127), f32_div(c127, range), 0u, 0u);
    }
    let rmin32 = f32_min(0u, min_v);
    let rmax32 = f32_max(0u, max_v);
    let rmin = f32_to_f64(rmin32);
    let rmax = f32_to_f64(rmax32);
    if (f64_le(rmin, rmax) && f64_le(rmax, rmin)) {
        return vec4<u32>(one, 0u, 0u, 1u);
    }
    let qmin = vec2<u32>(0u, 0xc0600000u); // -128.0
    let qmax = vec2<u32>(0u, 0x405fc000u); // 127.0
    let c128 = vec2<u32>(0u, 0x40600000u); // 128.0
    let c255 = vec2<u32>(0u, 0x406fe000u); // 255.0
    // The range's width in float, the scale in double.
    let width = f32_add(rmax32, rmin32 ^ 0x80000000u);
    let scale = f64_div(f32_to_f64(width), c255);
    let min_q = f64_div(rmin, scale);
    let max_q = f64_div(rmax, scale);
    let zp_from_min = f64_sub(qmin, min_q);
    let zp_from_max = f64_sub(qmax, max_q);
    let err_min = f64_add(c128, vec2<u32>(min_q.x, min_q.y & 0x7fffffffu));
    let err_max = f64_add(qmax, vec2<u32>(max_q.x, max_q.y & 0x7fffffffu));
    let zp = select(zp_from_max, zp_from_min, f64_lt(err_min, err_max));
    var offset: i32;
    if (f64_le(zp, qmin)) {
        offset = -128;
    } else if (f64_le(qmax, zp)) {
        offset = 127;
    } else {
        offset = f64_round_i32(zp);
    }
    let scale32 = f64_to_f32(scale);
    // (float)(1.0 / (double)scale); 0 for a zero scale.
    var inv = 0u;
    if ((scale32 & 0x7fffffffu) != 0u) {
        inv = f64_to_f32(f64_div(vec2<u32>(0u, 0x3ff00000u), f32_to_f64(scale32)));
    }
    return vec4<u32>(scale32, inv, u32(offset), 0u);
}

// x86's float-to-int32 truncation: NaN and magnitudes from 2^31 give i32 min.
fn cvtt(a: u32) -> i32 {
    if (((a >> 23u) & 0xffu) >= 158u) {
        return i32(-2147483647 - 1);
    }
    return f32_trunc_i32(a);
}

// One value quantized with the row's inv and offset: element i of a row whose first
// `len & ~7` elements TFLite's NEON code rounds in vectors (`x * inv ± 0.5`, truncated; the
// offset added after), the rest with `round` (twin: `quantize_value` in hybrid.rs).
fn quantize_value(v: u32, inv: u32, offset: i32, symmetric: bool, vector: bool) -> i32 {
    let p = f32_mul(v, inv);
    var r: i32;
    if (vector) {
        let half = select(0x3f000000u, 0xbf000000u, f32_lt(p, 0u));
        r = cvtt(f32_add(p, half));
        if (!symmetric) {
            r = r + offset;
        }
    } else if (((p >> 23u) & 0xffu) >= 158u) {
        r = i32(-2147483647 - 1);
    } else {
        let rounded = i32_to_f32(f32_round_i32(p));
        if (symmetric) {
            r = cvtt(rounded);
        } else {
            r = cvtt(f32_add(i32_to_f32(offset), rounded));
        }
    }
    if (symmetric) {
        return clamp(r, -127, 127);
    }
    return clamp(r, -128, 127);
}

@compute @workgroup_size(WG)
fn quantize_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = flat_workgroup(wid, nwg);
    if (row >= p.rows) {
        return;
    }
    let base = row * p.row_len;
    let symmetric = p.symmetric != 0u;
    // Min and max of the non-NaN values (order-free), and whether there is a NaN.
    var lo = 2147483647;
    var hi = -2147483647 - 1;
    var nan = 0u;
    for (var i = lid; i < p.row_len; i += WG) {
        let b = x[base + i];
        if (is_nan32(b)) {
            nan = 1u;
        } else {
            let k = order_key(b);
            lo = min(lo, k);
            hi = max(hi, k);
        }
    }
    part_lo[lid] = lo;
    part_hi[lid] = hi;
    part_nan[lid] = nan;
    workgroupBarrier();
    if (lid == 0u) {
        var any_nan = 0u;
        for (var t = 0u; t < WG; t++) {
            lo = min(lo, part_lo[t]);
            hi = max(hi, part_hi[t]);
            any_nan |= part_nan[t];
        }
        var min_v = u32(order_key(u32(lo)));
        var max_v = u32(order_key(u32(hi)));
        if (any_nan != 0u) {
            // A NaN makes std::minmax_element order-dependent: scan as it does.
            min_v = x[base];
            max_v = x[base];
            for (var i = 1u; i < p.row_len; i++) {
                let b = x[base + i];
                if (f32_lt(b, min_v)) {
                    min_v = b;
                }
                if (!f32_lt(b, max_v)) {
                    max_v = b;
                }
            }
        }
        var r = vec4<u32>(0x3f800000u, 0u, 0u, 1u);
        if (p.row_len > 0u) {
            r = row_params(min_v, max_v, symmetric);
        }
        scales[row] = r.x;
        offsets[row] = i32(r.z);
        row_inv = r.y;
        row_offset = i32(r.z);
        row_zero = r.w;
    }
    workgroupBarrier();
    let inv = row_inv;
    let offset = row_offset;
    let zero = row_zero != 0u;
    let out_base = row * p.row_words;
    let block = p.row_len & ~7u;
    for (var w = lid; w < p.row_words; w += WG) {
        var v = vec4<i32>(0, 0, 0, 0);
        if (!zero) {
            for (var k = 0u; k < 4u; k++) {
                let i = w * 4u + k;
                if (i < p.row_len) {
                    v[k] = quantize_value(x[base + i], inv, offset, symmetric, i < block);
                }
            }
        }
        q[out_base + w] = pack_bytes(v.x, v.y, v.z, v.w);
    }
}

// Test entry: every soft-float operation on operand pairs, for `tests/gpu_hybrid.rs` to
// compare with native arithmetic. Operand i: vec4(a lo, a hi, b lo, b hi); binary32 operations
// use the low words. Results: SELFTEST_STRIDE words per operand.
const SELFTEST_STRIDE: u32 = 20u;

@group(0) @binding(0) var<storage, read> st_in: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> st_out: array<u32>;

@compute @workgroup_size(64)
fn softfloat_selftest(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&st_in)) {
        return;
    }
    let v = st_in[i];
    let a = v.xy;
    let b = v.zw;
    let o = i * SELFTEST_STRIDE;
    st_out[o + 0u] = f32_mul(a.x, b.x);
    st_out[o + 1u] = f32_div(a.x, b.x);
    st_out[o + 2u] = f32_add(a.x, b.x);
    st_out[o + 3u] = select(0u, 1u, f32_lt(a.x, b.x));
    st_out[o + 4u] = f32_min(a.x, b.x);
    st_out[o + 5u] = f32_max(a.x, b.x);
    st_out[o + 6u] = u32(f32_round_i32(a.x));
    st_out[o + 7u] = i32_to_f32(i32(a.x));
    let w = f32_to_f64(a.x);
    st_out[o + 8u] = w.x;
    st_out[o + 9u] = w.y;
    let s = f64_add(a, b);
    st_out[o + 10u] = s.x;
    st_out[o + 11u] = s.y;
    let d = f64_sub(a, b);
    st_out[o + 12u] = d.x;
    st_out[o + 13u] = d.y;
    let qq = f64_div(a, b);
    st_out[o + 14u] = qq.x;
    st_out[o + 15u] = qq.y;
    st_out[o + 16u] = select(0u, 1u, f64_lt(a, b)) | select(0u, 2u, f64_le(a, b));
    st_out[o + 17u] = f64_to_f32(a);
    st_out[o + 18u] = u32(f64_round_i32(a));
    st_out[o + 19u] = u32(f32_trunc_i32(a.x));
}
