// DEPTHWISE_CONV_2D (host: `src/gpu/kernels/conv/depthwise.rs`).
//
// Twin of `src/reference/conv/depthwise.rs` (DwI8, DwF32): output channel c reads input
// channel c / multiplier. An invocation computes DW_TM consecutive output columns of one
// output row for the four channels 4q..4q+3 (one output word of int8). Taps outside the
// image are skipped, as the reference does, so int8 sums w * (x - zp_in) directly.

#import fixedpoint
#import grid
#import conv_io
#import unfused
#import fclamp

// int8: false when out_c % 4 == 0 (each invocation stores its word), else one word per
// result into scratch for `pack_i8` of `conv.wgsl`.
override WIDE_OUT: bool = false;

struct DwParams {
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
    multiplier: u32,
    // ceil(out_c / 4).
    quads: u32,
    // ceil(out_w / DW_TM).
    x_tiles: u32,
    // Invocations with work: batches * out_h * x_tiles * quads.
    total: u32,
    // 1 when the four channels of a quad are one aligned input word (multiplier 1,
    // in_c % 4 == 0).
    aligned: u32,
    // Input elements from one batch to the next (hybrid: whole words per batch row).
    batch_stride: u32,
    input_offset: i32,
    output_zero_point: i32,
    act_min: i32,
    act_max: i32,
    act_lo: f32,
    act_hi: f32,
    // Always 0 (`fuse_guard`, shaders/common/unfused.wgsl).
    guard: u32,
    // float32: 1 when the sum starts at the bias (the converter's order), 0 when the bias is
    // added last (the reference's).
    bias_first: u32,
}

fn fuse_guard() -> u32 {
    return dp.guard;
}

override DW_WG: u32 = 64u;
// Output columns per invocation (at most 8).
override DW_TM: u32 = 4u;

@group(0) @binding(0) var<uniform> dp: DwParams;
// Hybrid: the weight scale of each output channel.
@group(0) @binding(5) var<storage, read> dw_scales: array<f32>;

struct DwSite {
    valid: bool,
    // Flat output pixel of column ox0.
    pixel: u32,
    oy: u32,
    ox0: u32,
    batch: u32,
    q: u32,
}

fn dw_site(lid: u32, wid: vec3<u32>, nwg: vec3<u32>) -> DwSite {
    let g = flat_workgroup(wid, nwg) * DW_WG + lid;
    let q = g % dp.quads;
    var rest = g / dp.quads;
    let ox0 = (rest % dp.x_tiles) * DW_TM;
    rest = rest / dp.x_tiles;
    let oy = rest % dp.out_h;
    let batch = rest / dp.out_h;
    return DwSite(g < dp.total, (batch * dp.out_h + oy) * dp.out_w + ox0, oy, ox0, batch, q);
}

// The input row under filter row fy, or in_h when outside the image.
fn dw_row(oy: u32, fy: u32) -> u32 {
    let y = oy * dp.stride_h + fy * dp.dilation_h;
    return select(dp.in_h, y - dp.pad_h, y >= dp.pad_h && y - dp.pad_h < dp.in_h);
}

fn dw_col(ox: u32, fx: u32) -> u32 {
    let x = ox * dp.stride_w + fx * dp.dilation_w;
    return select(dp.in_w, x - dp.pad_w, x >= dp.pad_w && x - dp.pad_w < dp.in_w);
}

fn unpack_i8(w: u32) -> vec4<i32> {
    let s = i32(w);
    return vec4<i32>(
        extractBits(s, 0u, 8u),
        extractBits(s, 8u, 8u),
        extractBits(s, 16u, 8u),
        extractBits(s, 24u, 8u),
    );
}

// The input values under output channels 4q..4q+3 at the input pixel whose channel 0 is
// element `e0`.
fn dw_input_q(e0: u32, q: u32) -> vec4<i32> {
    if (dp.aligned != 0u) {
        return unpack_i8(input_q[e0 / 4u + q]);
    }
    var v = vec4<i32>(0);
    for (var j = 0u; j < 4u; j++) {
        let c = q * 4u + j;
        if (c < dp.out_c) {
            let e = e0 + c / dp.multiplier;
            v[j] = extractBits(i32(input_q[e / 4u]), (e % 4u) * 8u, 8u);
        }
    }
    return v;
}

// The int8 sums of w * (x + input_offset) over in-image taps of a site's outputs.
fn dw_sums_q(s: DwSite, input_offset: i32) -> array<vec4<i32>, 8> {
    let off = vec4<i32>(input_offset);
    var acc: array<vec4<i32>, 8>;
    let n = min(DW_TM, dp.out_w - s.ox0);
    for (var fy = 0u; fy < dp.filter_h; fy++) {
        let iy = dw_row(s.oy, fy);
        if (iy == dp.in_h) {
            continue;
        }
        let row = s.batch * dp.batch_stride + iy * dp.in_w * dp.in_c;
        for (var fx = 0u; fx < dp.filter_w; fx++) {
            // Packed weights: [tap][quad] words.
            let w = unpack_i8(weights_q[(fy * dp.filter_w + fx) * dp.quads + s.q]);
            for (var i = 0u; i < DW_TM; i++) {
                let ix = dw_col(s.ox0 + i, fx);
                if (i < n && ix != dp.in_w) {
                    acc[i] += w * (dw_input_q(row + ix * dp.in_c, s.q) + off);
                }
            }
        }
    }
    return acc;
}

@compute @workgroup_size(DW_WG)
fn depthwise_i8(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let s = dw_site(lid, wid, nwg);
    if (!s.valid) {
        return;
    }
    let acc = dw_sums_q(s, dp.input_offset);
    let n = min(DW_TM, dp.out_w - s.ox0);
    let zp = dp.output_zero_point;
    let lo = dp.act_min;
    let hi = dp.act_max;
    var ep: array<vec4<i32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        ep[j] = epilogue[min(s.q * 4u + j, dp.out_c - 1u)];
    }
    for (var i = 0u; i < DW_TM; i++) {
        if (i < n) {
            let e0 = (s.pixel + i) * dp.out_c + s.q * 4u;
            if (WIDE_OUT) {
                for (var j = 0u; j < 4u; j++) {
                    if (s.q * 4u + j < dp.out_c) {
                        let v = requantize(acc[i][j], ep[j], zp, lo, hi);
                        output_w[e0 + j] = u32(v);
                    }
                }
            } else {
                // out_c % 4 == 0: the four channels are one word.
                var bits = 0u;
                for (var j = 0u; j < 4u; j++) {
                    let v = requantize(acc[i][j], ep[j], zp, lo, hi);
                    bits |= byte_at(v, j);
                }
                output_w[e0 / 4u] = bits;
            }
        }
    }
}

// Hybrid DEPTHWISE_CONV_2D (`DwHybrid`): sums of w * (x - zp_b) over in-image taps of the
// input quantized per batch, then in float acc * (scale[c] * s_b) + bias, clamped.
@compute @workgroup_size(DW_WG)
fn depthwise_hybrid(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let s = dw_site(lid, wid, nwg);
    if (!s.valid) {
        return;
    }
    let acc = dw_sums_q(s, -row_zero_point[s.batch]);
    let scaling = row_scale[s.batch];
    let n = min(DW_TM, dp.out_w - s.ox0);
    for (var i = 0u; i < DW_TM; i++) {
        for (var j = 0u; j < 4u; j++) {
            let c = s.q * 4u + j;
            if (i < n && c < dp.out_c) {
                var v = f32(acc[i][j]);
                v *= dw_scales[c] * scaling;
                v = v + bias_f[c];
                output_f[(s.pixel + i) * dp.out_c + c] = clamp_cpp(v, dp.act_lo, dp.act_hi);
            }
        }
    }
}

@compute @workgroup_size(DW_WG)
fn depthwise_f32(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let s = dw_site(lid, wid, nwg);
    if (!s.valid) {
        return;
    }
    var acc: array<vec4<f32>, 8>;
    let n = min(DW_TM, dp.out_w - s.ox0);
    let c0 = s.q * 4u;
    // Channels past out_c read channel out_c - 1 (their results are not stored).
    let cs = min(vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u), vec4<u32>(dp.out_c - 1u));
    let ics = cs / dp.multiplier;
    let bias = vec4<f32>(bias_f[cs.x], bias_f[cs.y], bias_f[cs.z], bias_f[cs.w]);
    if (dp.bias_first == 1u) {
        for (var i = 0u; i < DW_TM; i++) {
            acc[i] = bias;
        }
    }
    for (var fy = 0u; fy < dp.filter_h; fy++) {
        let iy = dw_row(s.oy, fy);
        if (iy == dp.in_h) {
            continue;
        }
        let row = (s.batch * dp.in_h + iy) * dp.in_w;
        for (var fx = 0u; fx < dp.filter_w; fx++) {
            // The filter as stored: [1][filter_h][filter_w][out_c].
            let tap = (fy * dp.filter_w + fx) * dp.out_c;
            let w = vec4<f32>(
                filter_f[tap + cs.x],
                filter_f[tap + cs.y],
                filter_f[tap + cs.z],
                filter_f[tap + cs.w],
            );
            for (var i = 0u; i < DW_TM; i++) {
                let ix = dw_col(s.ox0 + i, fx);
                if (i < n && ix != dp.in_w) {
                    let e = (row + ix) * dp.in_c;
                    let x = vec4<f32>(
                        input_f[e + ics.x],
                        input_f[e + ics.y],
                        input_f[e + ics.z],
                        input_f[e + ics.w],
                    );
                    acc[i] += unfused4(x * w);
                }
            }
        }
    }
    for (var i = 0u; i < DW_TM; i++) {
        for (var j = 0u; j < 4u; j++) {
            let c = c0 + j;
            if (i < n && c < dp.out_c) {
                var v = acc[i][j];
                if (dp.bias_first == 0u) {
                    v += bias[j];
                }
                output_f[(s.pixel + i) * dp.out_c + c] = clamp_cpp(v, dp.act_lo, dp.act_hi);
            }
        }
    }
}
