// The 16x8 convolutions, twin of `src/reference/conv/int16.rs`: CONV_2D and
// DEPTHWISE_CONV_2D (`conv16_main`) and TRANSPOSE_CONV (`tconv16_main`) with int16
// activations (zero point 0), int8 weights, an int64 bias and accumulator, and TFLite's int64
// `MultiplyByQuantizedMultiplier` with the multiplier reduced to 16 bits: `(acc · rm +
// 2^(ts−1)) >> ts`, truncated to int32, then the clamp. WGSL has no 64-bit integers: the
// accumulator and the product are two's complement u32 pairs (softfloat.wgsl's helpers);
// every product of an int16 and an int8 fits in i32, and integer sums are exact in any order.
//
// One invocation computes one output word (two int16 elements); plain loops, no tiling.

#import grid
#import softfloat
#import elemwise

override WG: u32 = 64u;

struct Params {
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    out_c: u32,
    filter_h: u32,
    filter_w: u32,
    stride_h: u32,
    stride_w: u32,
    dilation_h: u32,
    dilation_w: u32,
    pad_h: u32,
    pad_w: u32,
    // Output channels per input-channel group (CONV_2D: filters per group; DEPTHWISE: the
    // depth multiplier), the input channel offset of a group, channels read per tap.
    per_group: u32,
    group_stride: u32,
    taps_c: u32,
    // Weight index = oc·w_oc + (fy·filter_w + fx)·w_tap + ic·w_ic.
    w_oc: u32,
    w_tap: u32,
    w_ic: u32,
    len: u32,
    act_min: i32,
    act_max: i32,
    pad0: u32,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
// Per output channel: bias low word, bias high word, reduced multiplier, total shift.
@group(0) @binding(2) var<storage, read> chan: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;
@group(0) @binding(4) var<uniform> p: Params;

// acc + v (v sign-extended to 64 bits).
fn acc_add(acc: vec2<u32>, v: i32) -> vec2<u32> {
    return add64(acc, vec2<u32>(u32(v), select(0u, 0xffffffffu, v < 0)));
}

// TFLite's int64 MultiplyByQuantizedMultiplier: (x·rm + 2^(ts−1)) >> ts (arithmetic),
// truncated to i32; the true value stays below 2^62, so arithmetic mod 2^64 is exact.
fn mbqm64(x: vec2<u32>, rm: u32, ts: u32) -> i32 {
    let lo = mul32(x.x, rm);
    var q = vec2<u32>(lo.x, lo.y + x.y * rm);
    q = add64(q, shl64(vec2<u32>(1u, 0u), ts - 1u));
    if ((q.y >> 31u) == 1u) {
        let s = shr64(vec2<u32>(~q.x, ~q.y), ts);
        return bitcast<i32>(~s.x);
    }
    return bitcast<i32>(shr64(q, ts).x);
}

fn epilogue(acc: vec2<u32>, oc: u32) -> i32 {
    let a = add64(acc, vec2<u32>(chan[4u * oc], chan[4u * oc + 1u]));
    let s = mbqm64(a, chan[4u * oc + 2u], chan[4u * oc + 3u]);
    return clamp(s, p.act_min, p.act_max);
}

fn x_at(i: u32) -> i32 {
    return elem_of(x[elem_word(i, 16u)], i, 16u, true);
}

fn w_at(i: u32) -> i32 {
    return elem_of(w[elem_word(i, 8u)], i, 8u, true);
}

// CONV_2D / DEPTHWISE_CONV_2D output element i (NHWC): in-image taps only.
fn conv_value(i: u32) -> i32 {
    let oc = i % p.out_c;
    var r = i / p.out_c;
    let ox = r % p.out_w;
    r = r / p.out_w;
    let oy = r % p.out_h;
    let b = r / p.out_h;
    let cbase = (oc / p.per_group) * p.group_stride;
    var acc = vec2<u32>(0u, 0u);
    for (var fy = 0u; fy < p.filter_h; fy++) {
        let iy = i32(oy * p.stride_h + fy * p.dilation_h) - i32(p.pad_h);
        if (iy < 0 || iy >= i32(p.in_h)) {
            continue;
        }
        for (var fx = 0u; fx < p.filter_w; fx++) {
            let ix = i32(ox * p.stride_w + fx * p.dilation_w) - i32(p.pad_w);
            if (ix < 0 || ix >= i32(p.in_w)) {
                continue;
            }
            let xb = ((b * p.in_h + u32(iy)) * p.in_w + u32(ix)) * p.in_c + cbase;
            let wb = oc * p.w_oc + (fy * p.filter_w + fx) * p.w_tap;
            for (var ic = 0u; ic < p.taps_c; ic++) {
                acc = acc_add(acc, x_at(xb + ic) * w_at(wb + ic * p.w_ic));
            }
        }
    }
    return epilogue(acc, oc);
}

// TRANSPOSE_CONV output element i: every input pixel whose filter tap
// `f = o + pad − i·stride` falls inside the filter, every input channel (weights
// [O, H, W, I]; `in_c` input channels, `taps_c` unused).
fn tconv_value(i: u32) -> i32 {
    let oc = i % p.out_c;
    var r = i / p.out_c;
    let ox = r % p.out_w;
    r = r / p.out_w;
    let oy = r % p.out_h;
    let b = r / p.out_h;
    var acc = vec2<u32>(0u, 0u);
    for (var iy = 0u; iy < p.in_h; iy++) {
        let fy = i32(oy + p.pad_h) - i32(iy * p.stride_h);
        if (fy < 0 || fy >= i32(p.filter_h)) {
            continue;
        }
        for (var ix = 0u; ix < p.in_w; ix++) {
            let fx = i32(ox + p.pad_w) - i32(ix * p.stride_w);
            if (fx < 0 || fx >= i32(p.filter_w)) {
                continue;
            }
            let xb = ((b * p.in_h + iy) * p.in_w + ix) * p.in_c;
            let wb = ((oc * p.filter_h + u32(fy)) * p.filter_w + u32(fx)) * p.in_c;
            for (var ic = 0u; ic < p.in_c; ic++) {
                acc = acc_add(acc, x_at(xb + ic) * w_at(wb + ic));
            }
        }
    }
    return epilogue(acc, oc);
}

fn out_word(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return flat_workgroup(wid, nwg) * WG + lid;
}

@compute @workgroup_size(WG)
fn conv16_main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let word = out_word(wid, nwg, lid);
    let first = word * 2u;
    if (first >= p.len) {
        return;
    }
    var v = elem_place(conv_value(first), first, 16u);
    if (first + 1u < p.len) {
        v |= elem_place(conv_value(first + 1u), first + 1u, 16u);
    }
    y[word] = v;
}

@compute @workgroup_size(WG)
fn tconv16_main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let word = out_word(wid, nwg, lid);
    let first = word * 2u;
    if (first >= p.len) {
        return;
    }
    var v = elem_place(tconv_value(first), first, 16u);
    if (first + 1u < p.len) {
        v |= elem_place(tconv_value(first + 1u), first + 1u, 16u);
    }
    y[word] = v;
}
