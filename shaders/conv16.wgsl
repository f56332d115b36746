// The 16x8 convolutions: CONV_2D (`conv16`), DEPTHWISE_CONV_2D (`dw16`) and TRANSPOSE_CONV
// (`tconv16`) on int16 activations (zero point 0) and int8 weights, twins of `ConvI16`,
// `DwI16` and `TconvI16` in src/reference/conv (`int16.rs`): an int64 accumulator, the
// int64 bias, TFLite's int64 MultiplyByQuantizedMultiplier with the 16-bit multiplier
// (`mbqm_i64`), the clamp. WGSL has no 64-bit integers: the accumulator is a u32 pair in
// two's complement (softfloat.wgsl's add64); each product int16 × int8 fits an i32.
//
// int16 tensors live packed two to a word (element 2w+k in bits 16k..16k+16 of word w);
// int8 weights four to a word (bytes.wgsl). One invocation computes the two outputs of one
// output word, so no two invocations write one word. Integer sums are exact in any order.

#import grid
#import bytes
#import mbqm64

struct Params {
    batches: u32,
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
    // CONV_2D: the filter's input depth; TRANSPOSE_CONV: the input depth.
    filter_in_c: u32,
    // CONV_2D: output channels per group; DEPTHWISE_CONV_2D: the depth multiplier.
    per_group: u32,
    out_len: u32,
    act_min: i32,
    act_max: i32,
}

@group(0) @binding(0) var<uniform> p: Params;
// int16 pairs.
@group(0) @binding(1) var<storage, read> input: array<u32>;
// int8 quadruples.
@group(0) @binding(2) var<storage, read> weights: array<u32>;
// Per output channel: (bias low word, bias high word, reduced multiplier, total shift).
@group(0) @binding(3) var<storage, read> epilogue: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> output: array<u32>;

fn in16(i: u32) -> i32 {
    return extractBits(i32(input[i >> 1u]), (i & 1u) * 16u, 16u);
}

fn w8(i: u32) -> i32 {
    return byte_i8(weights[i >> 2u], i & 3u);
}

// acc += x · w (an i32 product) in 64 bits.
fn mac(acc: vec2<u32>, x: i32, w: i32) -> vec2<u32> {
    return add64(acc, i64_from_i32(x * w));
}

// `Epilogue16::apply`: + bias, mbqm_i64, clamp.
fn requant(acc: vec2<u32>, c: u32) -> i32 {
    let e = epilogue[c];
    let v = mbqm_i64(add64(acc, e.xy), e.z, e.w);
    return clamp(v, p.act_min, p.act_max);
}

// The input row under filter row `fy` for output row `oy`, or -1 outside the image
// (`Geom::in_y`).
fn in_y(oy: u32, fy: u32) -> i32 {
    let y = i32(oy * p.stride_h + fy * p.dilation_h) - i32(p.pad_h);
    return select(-1, y, y >= 0 && y < i32(p.in_h));
}

fn in_x(ox: u32, fx: u32) -> i32 {
    let x = i32(ox * p.stride_w + fx * p.dilation_w) - i32(p.pad_w);
    return select(-1, x, x >= 0 && x < i32(p.in_w));
}

// Output element `i` as (b, oy, ox, oc).
fn out_at(i: u32) -> vec4<u32> {
    let oc = i % p.out_c;
    let px = i / p.out_c;
    let ox = px % p.out_w;
    let oy = (px / p.out_w) % p.out_h;
    let b = px / (p.out_w * p.out_h);
    return vec4<u32>(b, oy, ox, oc);
}

// `ConvI16`: taps in TFLite's order (filter row, column, input channel of the group).
fn conv_value(i: u32) -> i32 {
    let at = out_at(i);
    let group = at.w / p.per_group;
    var acc = vec2<u32>(0u, 0u);
    for (var fy = 0u; fy < p.filter_h; fy++) {
        let iy = in_y(at.y, fy);
        if (iy < 0) {
            continue;
        }
        for (var fx = 0u; fx < p.filter_w; fx++) {
            let ix = in_x(at.z, fx);
            if (ix < 0) {
                continue;
            }
            let x = ((at.x * p.in_h + u32(iy)) * p.in_w + u32(ix)) * p.in_c + group * p.filter_in_c;
            let w = ((at.w * p.filter_h + fy) * p.filter_w + fx) * p.filter_in_c;
            for (var ic = 0u; ic < p.filter_in_c; ic++) {
                acc = mac(acc, in16(x + ic), w8(w + ic));
            }
        }
    }
    return requant(acc, at.w);
}

// `DwI16`: output channel oc of input channel oc / multiplier; filter [1, fy, fx, oc].
fn dw_value(i: u32) -> i32 {
    let at = out_at(i);
    let ic = at.w / p.per_group;
    var acc = vec2<u32>(0u, 0u);
    for (var fy = 0u; fy < p.filter_h; fy++) {
        let iy = in_y(at.y, fy);
        if (iy < 0) {
            continue;
        }
        for (var fx = 0u; fx < p.filter_w; fx++) {
            let ix = in_x(at.z, fx);
            if (ix < 0) {
                continue;
            }
            let x = ((at.x * p.in_h + u32(iy)) * p.in_w + u32(ix)) * p.in_c + ic;
            let w = (fy * p.filter_w + fx) * p.out_c + at.w;
            acc = mac(acc, in16(x), w8(w));
        }
    }
    return requant(acc, at.w);
}

// The input positions [lo, hi) whose tap `o + pad − i·stride` lies in 0..k
// (`TconvShape::sources`).
fn sources(o: u32, pad: u32, stride: u32, k: u32, n: u32) -> vec2<u32> {
    let t = o + pad;
    let hi = min(t / stride + 1u, n);
    let lo = (select(0u, t + 1u - k, t + 1u > k) + stride - 1u) / stride;
    return vec2<u32>(lo, max(hi, lo));
}

// `TconvI16`: the gathered scatter (input row, column, channel).
fn tconv_value(i: u32) -> i32 {
    let at = out_at(i);
    let ys = sources(at.y, p.pad_h, p.stride_h, p.filter_h, p.in_h);
    let xs = sources(at.z, p.pad_w, p.stride_w, p.filter_w, p.in_w);
    var acc = vec2<u32>(0u, 0u);
    for (var iy = ys.x; iy < ys.y; iy++) {
        let fy = at.y + p.pad_h - iy * p.stride_h;
        for (var ix = xs.x; ix < xs.y; ix++) {
            let fx = at.z + p.pad_w - ix * p.stride_w;
            let x = ((at.x * p.in_h + iy) * p.in_w + ix) * p.in_c;
            let w = ((at.w * p.filter_h + fy) * p.filter_w + fx) * p.in_c;
            for (var ic = 0u; ic < p.in_c; ic++) {
                acc = mac(acc, in16(x + ic), w8(w + ic));
            }
        }
    }
    return requant(acc, at.w);
}

fn pack16(lo: i32, hi: i32) -> u32 {
    return (u32(lo) & 0xffffu) | (u32(hi) << 16u);
}

@compute @workgroup_size(64)
fn conv16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let word = flat_workgroup(wid, nwg) * 64u + li;
    let i = word * 2u;
    if (i >= p.out_len) {
        return;
    }
    var hi = 0;
    if (i + 1u < p.out_len) {
        hi = conv_value(i + 1u);
    }
    output[word] = pack16(conv_value(i), hi);
}

@compute @workgroup_size(64)
fn dw16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let word = flat_workgroup(wid, nwg) * 64u + li;
    let i = word * 2u;
    if (i >= p.out_len) {
        return;
    }
    var hi = 0;
    if (i + 1u < p.out_len) {
        hi = dw_value(i + 1u);
    }
    output[word] = pack16(dw_value(i), hi);
}

@compute @workgroup_size(64)
fn tconv16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
    let word = flat_workgroup(wid, nwg) * 64u + li;
    let i = word * 2u;
    if (i >= p.out_len) {
        return;
    }
    var hi = 0;
    if (i + 1u < p.out_len) {
        hi = tconv_value(i + 1u);
    }
    output[word] = pack16(tconv_value(i), hi);
}
