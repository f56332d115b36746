// RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR over NHWC, twin of `src/reference/resize`: the
// source rows/columns and weights are the reference's, computed at prepare and uploaded
// (`taps`: per output row, then per output column: (v, lo, hi) for bilinear, (index, 0, 0)
// for nearest; float taps carry v as f32 bits). Each invocation owns one output word.
//
// geom (i32): [0] batches, [1] in_h, [2] in_w, [3] depth, [4] out_h, [5] out_w,
// [6] element bits (8, 16, 32), [7] 1 if signed, [8] output elements, [9] 0 (the fuse
// guard of `unfused`).

#import grid
#import softfloat
#import unfused

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> geom: array<i32>;
@group(0) @binding(1) var<storage, read> taps: array<vec4<i32>>;
@group(0) @binding(2) var<storage, read> x: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;

struct At {
    b: u32,
    oy: u32,
    ox: u32,
    c: u32,
}

fn at_of(o: u32) -> At {
    let depth = u32(geom[3]);
    let out_w = u32(geom[5]);
    let out_h = u32(geom[4]);
    var a: At;
    a.c = o % depth;
    a.ox = (o / depth) % out_w;
    a.oy = (o / depth / out_w) % out_h;
    a.b = o / depth / out_w / out_h;
    return a;
}

fn in_index(b: u32, yy: i32, xx: i32, c: u32) -> u32 {
    return ((b * u32(geom[1]) + u32(yy)) * u32(geom[2]) + u32(xx)) * u32(geom[3]) + c;
}

fn unit(i: u32, bits: u32) -> u32 {
    let per_word = 32u / bits;
    return extractBits(x[i / per_word], (i % per_word) * bits, bits);
}

fn load_int(i: u32, bits: u32) -> i32 {
    let u = unit(i, bits);
    if (geom[7] == 1) {
        return extractBits(i32(u), 0u, bits);
    }
    return i32(u);
}

fn row_tap(a: At) -> vec4<i32> {
    return taps[a.oy];
}

fn col_tap(a: At) -> vec4<i32> {
    return taps[u32(geom[4]) + a.ox];
}

// Nearest: copy the unit at the source row and column.
fn nearest_one(o: u32, bits: u32) -> u32 {
    let a = at_of(o);
    return unit(in_index(a.b, row_tap(a).x, col_tap(a).x, a.c), bits);
}

// ResizeBilinearInteger: 10-bit weights, the 2^20-scaled sum rounded half away from zero.
// The sum needs up to 37 bits (int16): it is kept as hi * 4096 + lo with 0 <= lo < 4096.
fn bilinear_int_one(o: u32, bits: u32) -> u32 {
    let a = at_of(o);
    let ty = row_tap(a);
    let tx = col_tap(a);
    let wy1 = ty.x - (1 << 10u) * ty.y;
    let wy0 = (1 << 10u) - wy1;
    let wx1 = tx.x - (1 << 10u) * tx.y;
    let wx0 = (1 << 10u) - wx1;
    let p = array<i32, 4>(
        load_int(in_index(a.b, ty.y, tx.y, a.c), bits),
        load_int(in_index(a.b, ty.z, tx.y, a.c), bits),
        load_int(in_index(a.b, ty.y, tx.z, a.c), bits),
        load_int(in_index(a.b, ty.z, tx.z, a.c), bits),
    );
    let w = array<i32, 4>(wy0 * wx0, wy1 * wx0, wy0 * wx1, wy1 * wx1);
    var hi = 0;
    var lo = 0;
    for (var i = 0; i < 4; i++) {
        // w = (w >> 12) * 4096 + (w & 4095), exactly (arithmetic shift).
        hi += p[i] * (w[i] >> 12u);
        lo += p[i] * (w[i] & 4095);
    }
    hi += lo >> 12u;
    lo = lo & 4095;
    var r: i32;
    if (hi > 0 || (hi == 0 && lo > 0)) {
        // (sum + 2^19) / 2^20 with sum > 0: floor((hi + 128) / 256).
        r = (hi + 128) >> 8u;
    } else {
        // (sum - 2^19) / 2^20 truncated toward zero = ceil((sum - 2^19) / 2^20).
        r = (hi - 128 + 256 - select(0, 1, lo == 0)) >> 8u;
    }
    return u32(r);
}

fn fuse_guard() -> u32 {
    return u32(geom[9]);
}

// ResizeBilinear<float>: the four taps weighted left to right, every product rounded (the
// reference's bits), then `+ 0.0` as the reference adds its rounding term.
fn bilinear_f32_one(o: u32) -> f32 {
    let a = at_of(o);
    let ty = row_tap(a);
    let tx = col_tap(a);
    let dy = bitcast<f32>(ty.x) - f32(ty.y);
    let dx = bitcast<f32>(tx.x) - f32(tx.y);
    let p00 = bitcast<f32>(x[in_index(a.b, ty.y, tx.y, a.c)]);
    let p10 = bitcast<f32>(x[in_index(a.b, ty.z, tx.y, a.c)]);
    let p01 = bitcast<f32>(x[in_index(a.b, ty.y, tx.z, a.c)]);
    let p11 = bitcast<f32>(x[in_index(a.b, ty.z, tx.z, a.c)]);
    let s = unfused(p00 * (1.0 - dy) * (1.0 - dx)) + unfused(p10 * dy * (1.0 - dx))
        + unfused(p01 * (1.0 - dy) * dx) + unfused(p11 * dy * dx);
    return s + 0.0;
}

// ResizeBilinear<uint8>: the reference's float32 arithmetic, operation for operation, in
// exact soft float (a GPU may fuse or reassociate native float ops, which would change the
// truncated result). Taps carry (dy, lo, hi, 1 - dy) as computed by the reference.
fn bilinear_u8_one(o: u32) -> u32 {
    let a = at_of(o);
    let ty = row_tap(a);
    let tx = col_tap(a);
    let dy = u32(ty.x);
    let dy1 = u32(ty.w);
    let dx = u32(tx.x);
    let dx1 = u32(tx.w);
    let p00 = i32_to_f32(load_int(in_index(a.b, ty.y, tx.y, a.c), 8u));
    let p10 = i32_to_f32(load_int(in_index(a.b, ty.z, tx.y, a.c), 8u));
    let p01 = i32_to_f32(load_int(in_index(a.b, ty.y, tx.z, a.c), 8u));
    let p11 = i32_to_f32(load_int(in_index(a.b, ty.z, tx.z, a.c), 8u));
    var s = f32_mul(f32_mul(p00, dy1), dx1);
    s = f32_add(s, f32_mul(f32_mul(p10, dy), dx1));
    s = f32_add(s, f32_mul(f32_mul(p01, dy1), dx));
    s = f32_add(s, f32_mul(f32_mul(p11, dy), dx));
    // + rounding_offset 0.5, then C's truncating conversion.
    s = f32_add(s, 0x3f000000u);
    return u32(f32_trunc_i32(s)) & 0xffu;
}

// 0 nearest, 1 bilinear integer, 2 bilinear float32, 3 bilinear uint8.
fn run(word: u32, kind: u32) {
    let n = u32(geom[8]);
    let bits = u32(geom[6]);
    let per_word = 32u / bits;
    let first = word * per_word;
    if (first >= n) {
        return;
    }
    var packed = 0u;
    for (var k = 0u; k < per_word; k++) {
        let o = first + k;
        if (o < n) {
            var v: u32;
            if (kind == 0u) {
                v = nearest_one(o, bits);
            } else if (kind == 1u) {
                v = bilinear_int_one(o, bits);
            } else if (kind == 2u) {
                v = bitcast<u32>(bilinear_f32_one(o));
            } else {
                v = bilinear_u8_one(o);
            }
            packed = insertBits(packed, v, k * bits, bits);
        }
    }
    y[word] = packed;
}

@compute @workgroup_size(WG)
fn nearest(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    run(flat_workgroup(wid, nwg) * WG + lid, 0u);
}

@compute @workgroup_size(WG)
fn bilinear_int(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    run(flat_workgroup(wid, nwg) * WG + lid, 1u);
}

@compute @workgroup_size(WG)
fn bilinear_f32(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    run(flat_workgroup(wid, nwg) * WG + lid, 2u);
}

@compute @workgroup_size(WG)
fn bilinear_u8(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    run(flat_workgroup(wid, nwg) * WG + lid, 3u);
}
