// CONV_2D as an implicit GEMM: C[m][c] = sum_k A[m][k] * B[k][c] with m an output pixel
// (batch, row, column), c an output channel of one group and k a filter tap (row, column,
// input channel) — the CPU twin is `src/reference/conv/conv2d.rs` (ConvI8, ConvF32).
//
// A workgroup computes a BM x BN block of C (BM = WG_M * TM pixels, BN = WG_N * TN channels);
// each invocation a TM x TN register tile: pixels m0 + tm + i * WG_M (interleaved, so that
// the reads of the staged input are conflict-free) and channels c0 + tn * TN + j (contiguous,
// so that it owns whole output words where it can). K is staged through workgroup memory,
// TK at a time, every invocation helping to load.
//
// int8 (`conv_i8`): K runs over packed words of four input channels (each tap's channels
// rounded up to whole words; the host packs the weights the same way with zeros in the
// padding). Products are summed with `dot4I8Packed`, or with byte extraction when USE_DOT4
// is false (the same integers). TFLite sums w * (x - zp_in) over in-image taps only; here a
// tap outside the image reads zp_in in every byte (so x - zp_in = 0 there) and the sum is
// sum(w * x) - zp_in * sum(w): the second term is folded into the per-channel bias by the
// host, which is exact in wrapping i32 arithmetic. The epilogue is the reference's
// `Epilogue` uploaded as data: bias add, MultiplyByQuantizedMultiplier, + zp_out, clamp.
//
// float (`conv_f32`): K runs over single input channels; taps outside the image read 0.
// Sums per output in the reference's order (filter row, column, input channel), bias after,
// every product rounded (`unfused`): the reference engine's bits. In the converter's order
// (`FloatOrder::Converter`), `conv_f32_converter` follows: it sums again, as Eigen's GEMM
// does (`eigen_gemm_dot`), the outputs whose order is not the plain one.

#import fixedpoint
#import grid
#import conv_io
#import eigen_order
#import fclamp

struct Params {
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_h: u32,
    out_w: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    // The filter's input depth (input channels per group).
    filter_in_c: u32,
    out_c: u32,
    // Output channels per group.
    per_group: u32,
    // Output pixels (batches * out_h * out_w).
    m: u32,
    // K: taps * (int8: words of four channels; float: channels).
    k: u32,
    m_tiles: u32,
    n_tiles: u32,
    groups: u32,
    // int8: 1 when every word of A is one aligned input word (in_c and filter_in_c
    // multiples of 4).
    aligned: u32,
    // int8: the input zero point in all four bytes.
    pad_word: u32,
    // Input elements from one batch to the next (hybrid: whole words per batch row).
    batch_stride: u32,
    // Hybrid: 1 for per-channel weight scales (HybridConvPerChannel), 0 for one scale.
    per_channel: u32,
    output_zero_point: i32,
    act_min: i32,
    act_max: i32,
    act_lo: f32,
    act_hi: f32,
    // Always 0 (`fuse_guard`, shaders/common/unfused.wgsl).
    guard: u32,
    // `conv_f32_converter`: the first output channel it computes (out_c rounded down to 16,
    // or 0 when it computes every output), the pixels it computes (those within the blocks
    // of four, or all), the order (`eigen_conv_dot`: 0 Eigen's GEMM kernel, 1
    // `cpu_backend_gemm`'s product, 2 the column-major GEMV) and its blocking (`eigen_kc`, or
    // the GEMV's column block).
    ord_row0: u32,
    ord_cols: u32,
    ord_mode: u32,
    ord_kc: u32,
    // Modes 3 and 4 (the contraction on several threads, `eigen_threads.rs`): the blocking
    // (mode 4: of the full depth ranges), the number of depth ranges (mode 4, at most 4,
    // `ord_kc` their size), the last range's blocking.
    ord_bkc: u32,
    ord_bm: u32,
    ord_bn: u32,
    ord_blocks: u32,
    ord_lkc: u32,
    ord_lbm: u32,
    ord_lbn: u32,
}

// Invocations per workgroup, WG_M of them along pixels (WG_N = WG / WG_M along channels).
override WG: u32 = 64u;
override WG_M: u32 = 8u;
// Register tile: TM pixels x TN channels per invocation (each at most 8).
override TM: u32 = 4u;
override TN: u32 = 4u;
// K elements staged per step.
override TK: u32 = 8u;
// Workgroup tile lengths, set by the host: TK * WG_M * TM, TK * WG_N * TN, WG_M * TM.
override A_LEN: u32 = 256u;
override B_LEN: u32 = 256u;
override P_LEN: u32 = 32u;
// int8: dot4I8Packed (true) or the scalar byte products (false).
override USE_DOT4: bool = true;
// int8: false when every invocation owns whole output words (out_c, the channels per group
// and TN multiples of 4): results are packed and stored directly. true otherwise: each
// result goes to its own word of a scratch buffer, packed by `pack_i8` (no atomics).
override WIDE_OUT: bool = false;

@group(0) @binding(0) var<uniform> p: Params;

// Per k (both): (fy * dilation_h, fx * dilation_w, input channel of the first element, 0),
// so that the inner loops divide by nothing that is not a constant.
@group(0) @binding(5) var<storage, read> taps: array<vec4<i32>>;

var<workgroup> a_q: array<u32, A_LEN>;
var<workgroup> b_q: array<u32, B_LEN>;
var<workgroup> a_f: array<f32, A_LEN>;
var<workgroup> b_f: array<f32, B_LEN>;
// Per pixel of the block: (first input element of its batch, top input row, left input
// column, the word a tap outside the image reads); past the last pixel the row is far above
// the image.
var<workgroup> pix: array<vec4<i32>, P_LEN>;

// Hybrid (with bindings 6 and 7 of `common/conv_io.wgsl`): per output channel (sum of the
// weights, weight scale bits, 0, 0).
@group(0) @binding(8) var<storage, read> hybrid_channels: array<vec4<u32>>;

// Where the workgroup's block starts.
struct Tile {
    valid: bool,
    m0: u32,
    // First channel of the block within the group.
    n0: u32,
    group: u32,
}

fn tile_of(wid: vec3<u32>, nwg: vec3<u32>) -> Tile {
    let flat = flat_workgroup(wid, nwg);
    let m_tile = flat % p.m_tiles;
    let rest = flat / p.m_tiles;
    let n_tile = rest % p.n_tiles;
    let group = rest / p.n_tiles;
    return Tile(group < p.groups, m_tile * WG_M * TM, n_tile * (WG / WG_M) * TN, group);
}

// Pixel `m` of the output as a `pix` entry with pad word 0; the batch in `.w`.
fn pixel_entry(m: u32) -> vec4<i32> {
    let ox = m % p.out_w;
    let rest = m / p.out_w;
    let oy = rest % p.out_h;
    let b = rest / p.out_h;
    return vec4<i32>(
        i32(b * p.batch_stride),
        select(-1073741824, i32(oy * p.stride_h) - i32(p.pad_h), m < p.m),
        i32(ox * p.stride_w) - i32(p.pad_w),
        i32(b),
    );
}

// The block's pixels with the input zero point word of int8 (a barrier must follow).
fn fill_pixels(lid: u32, m0: u32) {
    for (var i = lid; i < P_LEN; i += WG) {
        var e = pixel_entry(m0 + i);
        e.w = i32(p.pad_word);
        pix[i] = e;
    }
}

// The flat input element of channel 0 under tap entry `t` of block pixel `mm`, or -1
// outside the image (or past the last pixel).
fn input_pixel(mm: u32, t: vec4<i32>) -> i32 {
    let px = pix[mm];
    let iy = px.y + t.x;
    let ix = px.z + t.y;
    if (u32(iy) >= p.in_h || u32(ix) >= p.in_w) {
        return -1;
    }
    return px.x + (iy * i32(p.in_w) + ix) * i32(p.in_c);
}

// ---- int8 -------------------------------------------------------------------------------

// A[m][k] for int8: four input channels of one tap, packed.
fn load_a_q(mm: u32, k: u32, channel0: u32) -> u32 {
    if (k >= p.k) {
        return 0u;
    }
    let t = taps[k];
    let at = input_pixel(mm, t);
    if (at < 0) {
        return u32(pix[mm].w);
    }
    let base = u32(at) + channel0 + u32(t.z);
    if (p.aligned != 0u) {
        return input_q[base / 4u];
    }
    let n = min(4u, p.filter_in_c - u32(t.z));
    let word = base / 4u;
    let shift = (base % 4u) * 8u;
    var w = input_q[word];
    if (shift != 0u) {
        w = w >> shift;
        if (word + 1u < arrayLength(&input_q)) {
            w = w | (input_q[word + 1u] << (32u - shift));
        }
    }
    if (n < 4u) {
        // Channels past the filter's depth meet zero weights; keep them out anyway.
        w = w & ((1u << (n * 8u)) - 1u);
    }
    return w;
}

fn dot_q(a: u32, b: u32) -> i32 {
    if (USE_DOT4) {
        return dot4I8Packed(a, b);
    }
    let ai = i32(a);
    let bi = i32(b);
    return extractBits(ai, 0u, 8u) * extractBits(bi, 0u, 8u)
        + extractBits(ai, 8u, 8u) * extractBits(bi, 8u, 8u)
        + extractBits(ai, 16u, 8u) * extractBits(bi, 16u, 8u)
        + extractBits(ai, 24u, 8u) * extractBits(bi, 24u, 8u);
}

// The int8 GEMM of the workgroup's block: each invocation's TM x TN sums of w * x (taps
// outside the image read `pix[..].w`). `pix` must be filled.
fn gemm_q(lid: u32, t: Tile) -> array<i32, 64> {
    let bm = WG_M * TM;
    let bn = (WG / WG_M) * TN;
    let tm = lid % WG_M;
    let tn = lid / WG_M;
    let channel0 = t.group * p.filter_in_c;
    let filter0 = t.group * p.per_group + t.n0;
    var acc: array<i32, 64>;
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        for (var i = lid; i < A_LEN; i += WG) {
            a_q[i] = load_a_q(i % bm, k0 + i / bm, channel0);
        }
        for (var i = lid; i < B_LEN; i += WG) {
            let k = k0 + i / bn;
            let n = i % bn;
            var w = 0u;
            if (k < p.k && t.n0 + n < p.per_group) {
                w = weights_q[(filter0 + n) * p.k + k];
            }
            b_q[i] = w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var a: array<u32, 8>;
            var b: array<u32, 8>;
            for (var i = 0u; i < TM; i++) {
                a[i] = a_q[kk * bm + tm + i * WG_M];
            }
            for (var j = 0u; j < TN; j++) {
                b[j] = b_q[kk * bn + tn * TN + j];
            }
            for (var i = 0u; i < TM; i++) {
                for (var j = 0u; j < TN; j++) {
                    acc[i * TN + j] += dot_q(a[i], b[j]);
                }
            }
        }
        workgroupBarrier();
    }
    return acc;
}

@compute @workgroup_size(WG)
fn conv_i8(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = tile_of(wid, nwg);
    if (!t.valid) {
        return;
    }
    let tm = lid % WG_M;
    let tn = lid / WG_M;
    fill_pixels(lid, t.m0);
    workgroupBarrier();
    let acc = gemm_q(lid, t);
    let zp = p.output_zero_point;
    let lo = p.act_min;
    let hi = p.act_max;
    // The invocation's channels' records, loaded once.
    var ep: array<vec4<i32>, 8>;
    for (var j = 0u; j < TN; j++) {
        let n = t.n0 + tn * TN + j;
        if (n < p.per_group) {
            ep[j] = epilogue[t.group * p.per_group + n];
        }
    }
    for (var i = 0u; i < TM; i++) {
        let m = t.m0 + tm + i * WG_M;
        if (WIDE_OUT) {
            for (var j = 0u; j < TN; j++) {
                let n = t.n0 + tn * TN + j;
                if (m < p.m && n < p.per_group) {
                    let c = t.group * p.per_group + n;
                    let v = requantize(acc[i * TN + j], ep[j], zp, lo, hi);
                    output_w[m * p.out_c + c] = u32(v);
                }
            }
        } else {
            // Whole words: four channels at a time, all in the group or none.
            for (var jw = 0u; jw < TN / 4u; jw++) {
                let n = t.n0 + tn * TN + jw * 4u;
                if (m < p.m && n < p.per_group) {
                    let c = t.group * p.per_group + n;
                    var bits = 0u;
                    for (var k = 0u; k < 4u; k++) {
                        let j = jw * 4u + k;
                        bits |= byte_at(requantize(acc[i * TN + j], ep[j], zp, lo, hi), k);
                    }
                    output_w[(m * p.out_c + c) / 4u] = bits;
                }
            }
        }
    }
}

// Hybrid CONV_2D (`ConvHybrid`): the input quantized per batch at run time (zero point zp_b,
// scaling factor s_b); taps outside the image read zp_b, so acc - zp_b * sum(w) is the
// reference's sum of w * (x - zp_b) over in-image taps. Then in float: per channel
// acc * scale[c] * s_b, or with one weight scale acc * (s_b * scale) (the reference's
// association); + bias; clamp.
@compute @workgroup_size(WG)
fn conv_hybrid(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = tile_of(wid, nwg);
    if (!t.valid) {
        return;
    }
    let tm = lid % WG_M;
    let tn = lid / WG_M;
    for (var i = lid; i < P_LEN; i += WG) {
        var e = pixel_entry(t.m0 + i);
        let zp = u32(row_zero_point[min(u32(e.w), arrayLength(&row_zero_point) - 1u)]) & 0xffu;
        e.w = i32(zp * 0x01010101u);
        pix[i] = e;
    }
    workgroupBarrier();
    let acc = gemm_q(lid, t);
    for (var i = 0u; i < TM; i++) {
        let m = t.m0 + tm + i * WG_M;
        let batch = m / (p.out_h * p.out_w);
        for (var j = 0u; j < TN; j++) {
            let n = t.n0 + tn * TN + j;
            if (m < p.m && n < p.per_group) {
                let c = t.group * p.per_group + n;
                let h = hybrid_channels[c];
                let sum = acc[i * TN + j] - row_zero_point[batch] * i32(h.x);
                let scale = bitcast<f32>(h.y);
                var v: f32;
                if (p.per_channel != 0u) {
                    v = f32(sum) * scale * row_scale[batch];
                } else {
                    v = 0.0 + f32(sum) * (row_scale[batch] * scale);
                }
                v = v + bias_f[c];
                output_f[m * p.out_c + c] = clamp_cpp(v, p.act_lo, p.act_hi);
            }
        }
    }
}

// ---- float32 ----------------------------------------------------------------------------

fn load_a_f(mm: u32, k: u32, channel0: u32) -> f32 {
    if (k >= p.k) {
        return 0.0;
    }
    let t = taps[k];
    let at = input_pixel(mm, t);
    if (at < 0) {
        return 0.0;
    }
    return input_f[u32(at) + channel0 + u32(t.z)];
}

@compute @workgroup_size(WG)
fn conv_f32(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = tile_of(wid, nwg);
    if (!t.valid) {
        return;
    }
    let bm = WG_M * TM;
    let bn = (WG / WG_M) * TN;
    let tm = lid % WG_M;
    let tn = lid / WG_M;
    let channel0 = t.group * p.filter_in_c;
    let filter0 = t.group * p.per_group + t.n0;
    fill_pixels(lid, t.m0);
    workgroupBarrier();
    var acc: array<f32, 64>;
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        for (var i = lid; i < A_LEN; i += WG) {
            a_f[i] = load_a_f(i % bm, k0 + i / bm, channel0);
        }
        for (var i = lid; i < B_LEN; i += WG) {
            let k = k0 + i / bn;
            let n = i % bn;
            var w = 0.0;
            if (k < p.k && t.n0 + n < p.per_group) {
                w = filter_f[(filter0 + n) * p.k + k];
            }
            b_f[i] = w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var a: array<f32, 8>;
            var b: array<f32, 8>;
            for (var i = 0u; i < TM; i++) {
                a[i] = a_f[kk * bm + tm + i * WG_M];
            }
            for (var j = 0u; j < TN; j++) {
                b[j] = b_f[kk * bn + tn * TN + j];
            }
            for (var i = 0u; i < TM; i++) {
                for (var j = 0u; j < TN; j++) {
                    acc[i * TN + j] += unfused(a[i] * b[j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < TM; i++) {
        let m = t.m0 + tm + i * WG_M;
        for (var j = 0u; j < TN; j++) {
            let n = t.n0 + tn * TN + j;
            if (m < p.m && n < p.per_group) {
                let c = t.group * p.per_group + n;
                let v = acc[i * TN + j] + bias_f[c];
                output_f[m * p.out_c + c] = clamp_cpp(v, p.act_lo, p.act_hi);
            }
        }
    }
}

// ---- float32 in the converter's order ------------------------------------------------
//
// `multithreaded_ops::Conv` (or, dilated, `optimized_ops::Conv`): Eigen's product with one
// row per output channel (the filter, row-major) and one column per output pixel
// (`ConvF32::run_im2col_gemm`), on one thread or several (modes 3 and 4). Outputs
// in channels from `ord_row0` (out_c rounded down to 16) and in columns within the blocks of
// four are the ones whose order is not the plain one that `conv_f32` used; one invocation
// each, channels fastest.

fn fuse_guard() -> u32 {
    return p.guard;
}

// The pixel and filter row of the output being summed.
var<private> ord_px: vec4<i32>;
var<private> ord_filter: u32;
var<private> ord_channel0: u32;

fn ord_a(k: u32) -> f32 {
    return filter_f[ord_filter + k];
}

// Element k of the pixel's im2col column: 0 outside the image.
fn ord_b(k: u32) -> f32 {
    let t = taps[k];
    let iy = ord_px.y + t.x;
    let ix = ord_px.z + t.y;
    if (u32(iy) >= p.in_h || u32(ix) >= p.in_w) {
        return 0.0;
    }
    let at = ord_px.x + (iy * i32(p.in_w) + ix) * i32(p.in_c);
    return input_f[u32(at) + ord_channel0 + u32(t.z)];
}

@compute @workgroup_size(64)
fn conv_f32_converter(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    let rows = p.out_c - p.ord_row0;
    let cols = p.ord_cols;
    if (i >= rows * cols) {
        return;
    }
    let oc = p.ord_row0 + i % rows;
    let m = i / rows;
    ord_px = pixel_entry(m);
    ord_channel0 = (oc / p.per_group) * p.filter_in_c;
    ord_filter = oc * p.k;
    var dot: f32;
    if (p.ord_mode == 3u) {
        dot = eigen_blocked(0u, p.k, p.ord_bkc, p.ord_bm, p.ord_bn, oc, p.out_c, m, p.m);
    } else if (p.ord_mode == 4u) {
        dot = eigen_inner_dim(p.k, p.ord_kc, p.ord_blocks,
            vec3<u32>(p.ord_bkc, p.ord_bm, p.ord_bn), vec3<u32>(p.ord_lkc, p.ord_lbm, p.ord_lbn),
            oc, p.out_c, m, p.m);
    } else if (p.ord_mode == 2u) {
        dot = eigen_colmajor_gemv(p.k, p.ord_kc);
    } else if (p.ord_mode == 1u) {
        dot = eigen_product_dot(p.k, p.ord_kc, oc, p.out_c, m, p.m);
    } else {
        dot = eigen_gemm_dot(p.k, p.ord_kc, oc, p.out_c, m, p.m);
    }
    let v = dot + bias_f[oc];
    output_f[m * p.out_c + oc] = clamp_cpp(v, p.act_lo, p.act_hi);
}

// ---- packing ----------------------------------------------------------------------------
//
// WIDE_OUT results (one int8 value in the low byte of each word) packed four per word: each
// invocation owns one output word.

struct PackParams {
    // Elements.
    n: u32,
}

@group(0) @binding(0) var<uniform> pk: PackParams;
@group(0) @binding(2) var<storage, read_write> packed: array<u32>;

@compute @workgroup_size(64)
fn pack_i8(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let w = flat_workgroup(wid, nwg) * 64u + lid;
    if (w >= (pk.n + 3u) / 4u) {
        return;
    }
    var bits = 0u;
    for (var k = 0u; k < 4u; k++) {
        if (w * 4u + k < pk.n) {
            bits |= (input_q[w * 4u + k] & 0xffu) << (k * 8u);
        }
    }
    packed[w] = bits;
}
