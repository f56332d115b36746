// AVERAGE_POOL_2D and MAX_POOL_2D over NHWC, twin of `src/reference/pooling/mod.rs`.
// Every output element looks at the in-bounds taps of its window only (rows, then columns).
// Integer tensors (8-bit packed four per word, 16-bit two per word): each invocation owns one
// output word and computes its elements; float32: one element per invocation.
//
// geom (i32): [0] batches, [1] in_h, [2] in_w, [3] depth, [4] out_h, [5] out_w,
// [6] stride_h, [7] stride_w, [8] filter_h, [9] filter_w, [10] pad_h, [11] pad_w,
// [12] clamp lo, [13] clamp hi (f32 bits for float32), [14] bits (8, 16; 32 for float32),
// [15] 1 if signed, [16] output elements.

#import grid
#import softfloat

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> geom: array<i32>;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

// Element i of a packed integer tensor, sign- or zero-extended.
fn load_int(i: u32, bits: u32, signed: bool) -> i32 {
    let per_word = 32u / bits;
    let word = x[i / per_word];
    let at = (i % per_word) * bits;
    if (signed) {
        return extractBits(i32(word), at, bits);
    }
    return i32(extractBits(word, at, bits));
}

// The in-bounds window of output element o: (y0, y1, x0, x1) and the input offset of
// (b, 0, 0, c).
struct Window {
    y0: i32,
    y1: i32,
    x0: i32,
    x1: i32,
    base: i32,
}

fn window(o: u32) -> Window {
    let in_h = geom[1];
    let in_w = geom[2];
    let depth = u32(geom[3]);
    let out_h = u32(geom[4]);
    let out_w = u32(geom[5]);
    let c = o % depth;
    let ox = (o / depth) % out_w;
    let oy = (o / depth / out_w) % out_h;
    let b = o / depth / out_w / out_h;
    // in_origin = out * stride - pad; taps origin + [max(0, -origin), min(filter, in - origin)).
    let origin_y = i32(oy) * geom[6] - geom[10];
    let origin_x = i32(ox) * geom[7] - geom[11];
    var w: Window;
    w.y0 = max(origin_y, 0);
    w.y1 = min(origin_y + geom[8], in_h);
    w.x0 = max(origin_x, 0);
    w.x1 = min(origin_x + geom[9], in_w);
    w.base = i32(b) * in_h * in_w * i32(depth) + i32(c);
    return w;
}

fn tap(w: Window, yy: i32, xx: i32) -> u32 {
    return u32(w.base + (yy * geom[2] + xx) * geom[3]);
}

// `acc > 0 ? (acc + n/2) / n : (acc - n/2) / n` (WGSL division truncates, as C's).
fn round_div_away(acc: i32, n: i32) -> i32 {
    if (acc > 0) {
        return (acc + n / 2) / n;
    }
    return (acc - n / 2) / n;
}

fn pool_int(o: u32, average: bool, bits: u32, signed: bool) -> i32 {
    let w = window(o);
    if (average) {
        var acc = 0;
        var count = 0;
        for (var yy = w.y0; yy < w.y1; yy++) {
            for (var xx = w.x0; xx < w.x1; xx++) {
                acc += load_int(tap(w, yy, xx), bits, signed);
                count += 1;
            }
        }
        return clamp(round_div_away(acc, count), geom[12], geom[13]);
    }
    // The type's lowest value.
    var m = select(0, -(1 << (bits - 1u)), signed);
    for (var yy = w.y0; yy < w.y1; yy++) {
        for (var xx = w.x0; xx < w.x1; xx++) {
            m = max(m, load_int(tap(w, yy, xx), bits, signed));
        }
    }
    return min(max(m, geom[12]), geom[13]);
}

fn run_int(word: u32, average: bool) {
    let bits = u32(geom[14]);
    let signed = geom[15] == 1;
    let n = u32(geom[16]);
    let per_word = 32u / bits;
    let first = word * per_word;
    if (first >= n) {
        return;
    }
    var packed = 0u;
    for (var k = 0u; k < per_word; k++) {
        if (first + k < n) {
            packed = insertBits(packed, u32(pool_int(first + k, average, bits, signed)), k * bits, bits);
        }
    }
    y[word] = packed;
}

// clamp_like_cpp: x < lo -> lo, then hi < x -> hi.
fn clamp_like_cpp(v: f32, lo: f32, hi: f32) -> f32 {
    let a = select(v, lo, v < lo);
    return select(a, hi, hi < a);
}

fn run_f32(o: u32, average: bool) {
    if (o >= u32(geom[16])) {
        return;
    }
    let w = window(o);
    var r: f32;
    if (average) {
        var total = 0.0;
        var count = 0.0;
        for (var yy = w.y0; yy < w.y1; yy++) {
            for (var xx = w.x0; xx < w.x1; xx++) {
                total += bitcast<f32>(x[tap(w, yy, xx)]);
                count += 1.0;
            }
        }
        // Correctly rounded (WGSL's `/` may be off by 2.5 ulp).
        r = bitcast<f32>(f32_div(bitcast<u32>(total), bitcast<u32>(count)));
    } else {
        r = -3.40282347e+38;
        for (var yy = w.y0; yy < w.y1; yy++) {
            for (var xx = w.x0; xx < w.x1; xx++) {
                let v = bitcast<f32>(x[tap(w, yy, xx)]);
                if (r < v) {
                    r = v;
                }
            }
        }
    }
    y[o] = bitcast<u32>(clamp_like_cpp(r, bitcast<f32>(geom[12]), bitcast<f32>(geom[13])));
}

@compute @workgroup_size(WG)
fn average_int(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    run_int(flat_workgroup(wid, nwg) * WG + lid, true);
}

@compute @workgroup_size(WG)
fn max_int(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    run_int(flat_workgroup(wid, nwg) * WG + lid, false);
}

@compute @workgroup_size(WG)
fn average_f32(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    run_f32(flat_workgroup(wid, nwg) * WG + lid, true);
}

@compute @workgroup_size(WG)
fn max_f32(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    run_f32(flat_workgroup(wid, nwg) * WG + lid, false);
}
