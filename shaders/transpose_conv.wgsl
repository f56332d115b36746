// TRANSPOSE_CONV (host: `src/gpu/kernels/conv/transpose_conv.rs`).
//
// Twin of `src/reference/conv/transpose_conv.rs` (TconvI8, TconvU8, TconvF32, TconvHybrid). The
// reference scatters each input element over the outputs under the filter; gathered per
// output element that is a sum over the input rows iy whose tap fy = oy + pad_h - iy*stride_h
// lies in the filter (ascending), then the columns likewise, then the input channels
// (`TconvShape::for_each_tap`). Every invocation sums its outputs' terms in that order:
// int8 / uint8 one output word (four consecutive elements), float32 and hybrid one element.
// Under the converter's float order (`TconvF32::col2im_sum`), each input pixel's term is a
// dot product over the input channels in Eigen's GEMM order (`eigen_order.wgsl`), added pixel
// by pixel in Col2im's order.

#import fixedpoint
#import grid
#import conv_io
#import eigen_order

struct TcParams {
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
    pad_h: u32,
    pad_w: u32,
    // Col2im's grid of input pixels (`TconvShape::grid_h`, `grid_w`).
    grid_h: u32,
    grid_w: u32,
    // Output elements.
    total: u32,
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
    // float32 / hybrid: 1 when the op has a bias.
    has_bias: u32,
    // float32: 1 for the converter's order (TransposeConvV2), 0 for the reference's.
    converter: u32,
    // Integer: 1 for uint8 input, weights and output, 0 for int8.
    unsigned_bytes: u32,
    // uint8: -weights zero point (int8 weights have none).
    filter_offset: i32,
    // float32, converter's order: Eigen's depth blocking `kc` of the GEMM (`eigen_kc`).
    ord_kc: u32,
}

@group(0) @binding(0) var<uniform> tp: TcParams;
// Hybrid: the weight scale of each output channel.
@group(0) @binding(5) var<storage, read> tc_scales: array<f32>;

fn fuse_guard() -> u32 {
    return tp.guard;
}

// The input positions i < n whose tap f = o + pad - i*stride lies in 0..k: [lo, hi).
fn sources(o: u32, pad: u32, stride: u32, k: u32, n: u32) -> vec2<u32> {
    let t = o + pad;
    let hi = min(t / stride + 1u, n);
    let lo = (max(t + 1u, k) - k + stride - 1u) / stride;
    return vec2<u32>(lo, max(hi, lo));
}

// An output element's coordinates (b, oy, ox, oc).
fn site(e: u32) -> vec4<u32> {
    let oc = e % tp.out_c;
    var rest = e / tp.out_c;
    let ox = rest % tp.out_w;
    rest = rest / tp.out_w;
    return vec4<u32>(rest / tp.out_h, rest % tp.out_h, ox, oc);
}

// The input rows / columns whose taps reach output element s: [lo, hi).
fn tap_rows(s: vec4<u32>) -> vec2<u32> {
    return sources(s.y, tp.pad_h, tp.stride_h, tp.filter_h, tp.in_h);
}

fn tap_cols(s: vec4<u32>) -> vec2<u32> {
    return sources(s.z, tp.pad_w, tp.stride_w, tp.filter_w, tp.in_w);
}

// The input element (x) and weight (y) of channel 0 of the tap of input pixel (iy, ix) on
// output element s.
fn tap_at(s: vec4<u32>, iy: u32, ix: u32) -> vec2<u32> {
    let fy = s.y + tp.pad_h - iy * tp.stride_h;
    let fx = s.z + tp.pad_w - ix * tp.stride_w;
    let x0 = s.x * tp.batch_stride + (iy * tp.in_w + ix) * tp.in_c;
    let w0 = ((s.w * tp.filter_h + fy) * tp.filter_w + fx) * tp.in_c;
    return vec2<u32>(x0, w0);
}

fn byte_of(words_index: u32, word: u32) -> i32 {
    return extractBits(i32(word), (words_index % 4u) * 8u, 8u);
}

// Byte `index` of a packed 8-bit tensor: signed (int8) or not (uint8) as `tp.unsigned_bytes`.
fn int_of(index: u32, word: u32) -> i32 {
    if (tp.unsigned_bytes != 0u) {
        return i32(extractBits(word, (index % 4u) * 8u, 8u));
    }
    return byte_of(index, word);
}

// Σ (w + filter_offset)·(x + offset) over the taps of element s, in the reference's order;
// `x` read from the packed input with batch stride `tp.batch_stride`.
fn int_sum(s: vec4<u32>, offset: i32) -> i32 {
    let ys = tap_rows(s);
    let xs = tap_cols(s);
    var acc = 0i;
    for (var iy = ys.x; iy < ys.y; iy++) {
        for (var ix = xs.x; ix < xs.y; ix++) {
            let at = tap_at(s, iy, ix);
            for (var ic = 0u; ic < tp.in_c; ic++) {
                let x = int_of(at.x + ic, input_q[(at.x + ic) / 4u]);
                let w = int_of(at.y + ic, weights_q[(at.y + ic) / 4u]);
                acc += (x + offset) * (w + tp.filter_offset);
            }
        }
    }
    return acc;
}

// `ActivationFunctionWithMinMax` as C++ computes it (NaN passes).
fn clamp_cpp(v: f32) -> f32 {
    var x = select(v, tp.act_lo, v < tp.act_lo);
    return select(x, tp.act_hi, tp.act_hi < x);
}

@compute @workgroup_size(64)
fn tconv_i8(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let word = flat_workgroup(wid, nwg) * 64u + lid;
    if (word * 4u >= tp.total) {
        return;
    }
    var bits = 0u;
    for (var j = 0u; j < 4u; j++) {
        let e = word * 4u + j;
        if (e < tp.total) {
            let s = site(e);
            let acc = int_sum(s, tp.input_offset);
            let v = requantize(acc, epilogue[s.w], tp.output_zero_point, tp.act_min, tp.act_max);
            bits |= byte_at(v, j);
        }
    }
    output_w[word] = bits;
}

// Hybrid: Σ (float)((q - zp_b)·w) · scale[oc] · scaling_b over the taps, then the bias.
@compute @workgroup_size(64)
fn tconv_hybrid(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let e = flat_workgroup(wid, nwg) * 64u + lid;
    if (e >= tp.total) {
        return;
    }
    let s = site(e);
    let offset = row_zero_point[s.x];
    let scaling = row_scale[s.x];
    let scale = tc_scales[s.w];
    let ys = tap_rows(s);
    let xs = tap_cols(s);
    var total = 0.0;
    for (var iy = ys.x; iy < ys.y; iy++) {
        for (var ix = xs.x; ix < xs.y; ix++) {
            let at = tap_at(s, iy, ix);
            for (var ic = 0u; ic < tp.in_c; ic++) {
                let x = byte_of(at.x + ic, input_q[(at.x + ic) / 4u]);
                let w = byte_of(at.y + ic, weights_q[(at.y + ic) / 4u]);
                total += unfused(f32((x - offset) * w) * scale * scaling);
            }
        }
    }
    if (tp.has_bias != 0u) {
        total += bias_f[s.w];
    }
    output_f[e] = clamp_cpp(total);
}

// The weights row and input pixel of the dot product being summed (converter order).
var<private> ord_filter: u32;
var<private> ord_input: u32;

fn ord_a(k: u32) -> f32 {
    return filter_f[ord_filter + k];
}

fn ord_b(k: u32) -> f32 {
    return input_f[ord_input + k];
}

// One output element before the bias in the converter's order: Col2im adds, pixel by pixel,
// the GEMM entry (weights row (fy, fx, oc) of filter_h·filter_w·out_c rows, times input
// pixel p) of every pixel that reaches it; Eigen's GEMV when there is one pixel or one row.
fn col2im_sum(s: vec4<u32>) -> f32 {
    let rows = tp.filter_h * tp.filter_w * tp.out_c;
    let pixels = tp.in_h * tp.in_w;
    let ys = sources(s.y, tp.pad_h, tp.stride_h, tp.filter_h, tp.grid_h);
    let xs = sources(s.z, tp.pad_w, tp.stride_w, tp.filter_w, tp.grid_w);
    var total = 0.0;
    for (var h = ys.x; h < ys.y; h++) {
        let fy = s.y + tp.pad_h - h * tp.stride_h;
        for (var w = xs.x; w < xs.y; w++) {
            let fx = s.z + tp.pad_w - w * tp.stride_w;
            let p = h * tp.grid_w + w;
            ord_filter = ((s.w * tp.filter_h + fy) * tp.filter_w + fx) * tp.in_c;
            ord_input = (s.x * pixels + p) * tp.in_c;
            let row = (fy * tp.filter_w + fx) * tp.out_c + s.w;
            total += eigen_product_dot(tp.in_c, tp.ord_kc, row, rows, p, pixels);
        }
    }
    return total;
}

@compute @workgroup_size(64)
fn tconv_f32(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let e = flat_workgroup(wid, nwg) * 64u + lid;
    if (e >= tp.total) {
        return;
    }
    let s = site(e);
    var total = 0.0;
    if (tp.converter != 0u) {
        total = col2im_sum(s);
    } else {
        let ys = tap_rows(s);
        let xs = tap_cols(s);
        for (var iy = ys.x; iy < ys.y; iy++) {
            for (var ix = xs.x; ix < xs.y; ix++) {
                let at = tap_at(s, iy, ix);
                for (var ic = 0u; ic < tp.in_c; ic++) {
                    total += unfused(input_f[at.x + ic] * filter_f[at.y + ic]);
                }
            }
        }
    }
    if (tp.has_bias != 0u) {
        total += bias_f[s.w];
    }
    output_f[e] = clamp_cpp(total);
}
