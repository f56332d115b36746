// FULLY_CONNECTED and BATCH_MATMUL: `out[z][r][c] = epilogue(Σ_k A[z][r][k] · B[z][c][k])`
// with both operands K-contiguous ("NT": A is the input / LHS `[M, K]`, B the weights /
// transposed RHS `[N, K]`). Twin: `src/reference/fully_connected` (the loops there), with
// zero points folded out of the inner loop (gemmlowp): Σ(w + fo)(x + io) = Σ w·x + fo·Σx
// + (io·Σw + K·fo·io), the last term per column and computed at prepare into `bias`.
//
// Tiling: a workgroup of WG_M × WG_N invocations computes a (WG_M·TM) × (WG_N·TN) tile of
// one product, each invocation TM × TN outputs in registers (rows ty + i·WG_M, columns
// tx + j·WG_N); K is staged through workgroup memory KW words (8-bit) or KF floats at a time.
// The batch `z` of a tile selects per-product offsets (`zoff`: rows of A, rows of B, first
// output element) so that BATCH_MATMUL's broadcast batches reuse one kernel.
//
// 8-bit operands are row-padded: row r of A at words [r·kw, (r+1)·kw), kw = ceil(K/4), the
// padding bytes 0 (so they add nothing to Σ w·x nor to Σx). Outputs of 8 bits are ORed into
// a zeroed buffer (four outputs per word may belong to different invocations).

#import bytes
#import grid
#import fixedpoint
#import softfloat
#import double_rescale
#import eigen_order
#import fclamp

override WG_M: u32 = 8u;
override WG_N: u32 = 8u;
// Register tile, each at most 4.
override TM: u32 = 4u;
override TN: u32 = 4u;
// K words (8-bit operands) / floats (float32) staged per step.
override KW: u32 = 8u;
override KF: u32 = 16u;
// The scalar dot product instead of dot4I8Packed / dot4U8Packed (same results).
override SCALAR_DOT: bool = false;
// uint8 operands (zero-extended bytes).
override UNSIGNED: bool = false;

override WGS: u32 = WG_M * WG_N;
override BM: u32 = WG_M * TM;
override BN: u32 = WG_N * TN;
override A_WORDS: u32 = WG_M * TM * KW;
override B_WORDS: u32 = WG_N * TN * KW;
override A_FLOATS: u32 = WG_M * TM * KF;
override B_FLOATS: u32 = WG_N * TN * KF;

struct Gemm {
    m: u32,
    n: u32,
    // K in elements, and in words per row of an 8-bit operand.
    k: u32,
    kw: u32,
    tiles_m: u32,
    tiles_n: u32,
    batches: u32,
    // -weights zero point (per-tensor weights), multiplied by each row's Σx.
    filter_offset: i32,
    output_zero_point: i32,
    act_min: i32,
    act_max: i32,
    // 0: round(acc · double) (FULLY_CONNECTED); 1: MultiplyByQuantizedMultiplier;
    // 2: no requantization (int32 output).
    rescale_kind: u32,
    // float32 / hybrid: the fused activation's clamp (hybrid: 1 = apply, else none).
    f_min: f32,
    f_max: f32,
    f_clamp: u32,
    // hybrid, per-tensor weights: the weight scale (bits).
    filter_scale: u32,
    // -input zero point, multiplied by each column's Σw (gemm_q8 with COL_SUMS).
    input_offset: i32,
    // hybrid BATCH_MATMUL: `total - row_sum * offset` in float, truncated (as TFLite).
    float_offset: u32,
    // Always 0 (`fuse_guard`, shaders/common/unfused.wgsl).
    guard: u32,
    // `gemm_f32_converter`: Eigen's depth blocking `kc` (`k` when the product is not blocked).
    ord_kc: u32,
}

// Per product of a batch: first row of A, first row of B, first output element, first row
// scaling factor (hybrid), first row sum (hybrid).
struct ZOff {
    a: u32,
    b: u32,
    out: u32,
    scale: u32,
    rsum: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Gemm;
@group(0) @binding(1) var<storage, read> zoff: array<ZOff>;

// ---- 8-bit operands ---------------------------------------------------------------------

@group(0) @binding(2) var<storage, read> a8: array<u32>;
@group(0) @binding(3) var<storage, read> b8: array<u32>;

var<workgroup> a_s: array<u32, A_WORDS>;
var<workgroup> b_s: array<u32, B_WORDS>;
var<private> acc: array<i32, 16>;
var<private> rsum: array<i32, 4>;
var<private> csum: array<i32, 4>;

// Also sum each column of B (Σw, for the input zero point of operands laid out at run time).
override COL_SUMS: bool = false;

fn dot4(a: u32, b: u32) -> i32 {
    if (SCALAR_DOT) {
        var s = 0;
        for (var k = 0u; k < 4u; k++) {
            if (UNSIGNED) {
                s += byte_u8(a, k) * byte_u8(b, k);
            } else {
                s += byte_i8(a, k) * byte_i8(b, k);
            }
        }
        return s;
    }
    if (UNSIGNED) {
        return i32(dot4U8Packed(a, b));
    }
    return dot4I8Packed(a, b);
}

// Tile of this workgroup: (batch, first row, first column); batch >= p.batches for the
// padding workgroups of a split grid.
fn tile_of(wid: vec3<u32>, nwg: vec3<u32>) -> vec3<u32> {
    let t = flat_workgroup(wid, nwg);
    let per = p.tiles_m * p.tiles_n;
    let r = t % per;
    return vec3<u32>(t / per, (r / p.tiles_n) * BM, (r % p.tiles_n) * BN);
}

// acc[i·4 + j] = Σ_k A[row i][k]·B[col j][k] and rsum[i] = Σ_k A[row i][k], over words.
fn i8_tile(lid: u32, tile: vec3<u32>) {
    let tx = lid % WG_N;
    let ty = lid / WG_N;
    let zo = zoff[tile.x];
    for (var i = 0u; i < 16u; i++) {
        acc[i] = 0;
    }
    for (var i = 0u; i < 4u; i++) {
        rsum[i] = 0;
        csum[i] = 0;
    }
    for (var k0 = 0u; k0 < p.kw; k0 += KW) {
        for (var idx = lid; idx < A_WORDS; idx += WGS) {
            let row = tile.y + idx / KW;
            let kk = k0 + idx % KW;
            var v = 0u;
            if (row < p.m && kk < p.kw) {
                v = a8[(zo.a + row) * p.kw + kk];
            }
            a_s[idx] = v;
        }
        for (var idx = lid; idx < B_WORDS; idx += WGS) {
            let col = tile.z + idx / KW;
            let kk = k0 + idx % KW;
            var v = 0u;
            if (col < p.n && kk < p.kw) {
                v = b8[(zo.b + col) * p.kw + kk];
            }
            b_s[idx] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KW; kk++) {
            if (COL_SUMS) {
                for (var j = 0u; j < TN; j++) {
                    csum[j] += dot4(b_s[(tx + j * WG_N) * KW + kk], 0x01010101u);
                }
            }
            for (var i = 0u; i < TM; i++) {
                let av = a_s[(ty + i * WG_M) * KW + kk];
                rsum[i] += dot4(av, 0x01010101u);
                for (var j = 0u; j < TN; j++) {
                    acc[i * 4u + j] += dot4(av, b_s[(tx + j * WG_N) * KW + kk]);
                }
            }
        }
        workgroupBarrier();
    }
}

// Per column: (bias + K·fo·io (+ io·Σw unless COL_SUMS), then the rescale words: double (m_lo, m_hi, exponent)
// or fixed point (multiplier, shift, -)).
@group(0) @binding(4) var<storage, read> qcol: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> qout: array<atomic<u32>>;

// int32 output (BATCH_MATMUL int8 → int32): one word per output.
override OUT_I32: bool = false;

@compute @workgroup_size(WGS)
fn gemm_q8(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let tile = tile_of(wid, nwg);
    if (tile.x >= p.batches) {
        return;
    }
    i8_tile(lid, tile);
    let tx = lid % WG_N;
    let ty = lid / WG_N;
    let out_base = zoff[tile.x].out;
    for (var i = 0u; i < TM; i++) {
        let row = tile.y + ty + i * WG_M;
        if (row >= p.m) {
            continue;
        }
        for (var j = 0u; j < TN; j++) {
            let col = tile.z + tx + j * WG_N;
            if (col >= p.n) {
                continue;
            }
            let c = qcol[col];
            var v = acc[i * 4u + j] + p.filter_offset * rsum[i] + i32(c.x);
            if (COL_SUMS) {
                v += p.input_offset * csum[j];
            }
            if (p.rescale_kind == 0u) {
                v = double_rescale(v, c.y, c.z, i32(c.w));
            } else if (p.rescale_kind == 1u) {
                v = multiply_by_quantized_multiplier(v, i32(c.y), i32(c.z));
            }
            let flat = out_base + row * p.n + col;
            if (OUT_I32) {
                atomicStore(&qout[flat], u32(v));
            } else {
                v = clamp(v + p.output_zero_point, p.act_min, p.act_max);
                atomicOr(&qout[flat / 4u], (u32(v) & 0xffu) << (8u * (flat % 4u)));
            }
        }
    }
}

// ---- hybrid: int8 rows quantized at run time, float epilogue ----------------------------

// Per row sum (from ZOff.rsum): (the column's per-channel weight scale bits, Σw of the
// row of B (ReductionSumVector), -, -).
@group(0) @binding(4) var<storage, read> hcol: array<vec4<u32>>;
// Per column: the float bias (zeros without one).
@group(0) @binding(5) var<storage, read> hbias: array<f32>;
// Per quantized row: scaling factor and offset.
@group(0) @binding(6) var<storage, read> rscale: array<f32>;
@group(0) @binding(7) var<storage, read> roff: array<i32>;
@group(0) @binding(8) var<storage, read_write> hout: array<f32>;

@compute @workgroup_size(WGS)
fn gemm_hybrid(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let tile = tile_of(wid, nwg);
    if (tile.x >= p.batches) {
        return;
    }
    i8_tile(lid, tile);
    let tx = lid % WG_N;
    let ty = lid / WG_N;
    let zo = zoff[tile.x];
    let per_channel = p.rescale_kind == 1u;
    for (var i = 0u; i < TM; i++) {
        let row = tile.y + ty + i * WG_M;
        if (row >= p.m) {
            continue;
        }
        // The row's scaling factor, times a per-tensor weight scale (in float, as TFLite).
        var row_scale = rscale[zo.scale + row];
        if (!per_channel) {
            row_scale = row_scale * bitcast<f32>(p.filter_scale);
        }
        let offset = roff[zo.scale + row];
        for (var j = 0u; j < TN; j++) {
            let col = tile.z + tx + j * WG_N;
            if (col >= p.n) {
                continue;
            }
            let c = hcol[zo.rsum + col];
            var scale = row_scale;
            if (per_channel) {
                scale = scale * bitcast<f32>(c.x);
            }
            // The column's Σw: computed at prepare for constant weights, in the product for
            // run-time ones.
            let wsum = select(i32(c.y), csum[j], COL_SUMS);
            var dot = acc[i * 4u + j] - wsum * offset;
            if (p.float_offset == 1u) {
                let prod = f32_mul(i32_to_f32(wsum), i32_to_f32(offset));
                dot = f32_trunc_i32(f32_add(i32_to_f32(acc[i * 4u + j]), prod ^ 0x80000000u));
            }
            var v = hbias[col] + f32(dot) * scale;
            if (p.f_clamp == 1u) {
                v = clamp_nan_low(v, p.f_min, p.f_max);
            } else if (p.f_clamp == 2u) {
                v = tanh(v);
            } else if (p.f_clamp == 3u) {
                v = select(0.0, 1.0, (bitcast<u32>(v) & 0x80000000u) != 0u);
            }
            hout[zo.out + row * p.n + col] = v;
        }
    }
}

// ---- float32 ------------------------------------------------------------------------------

@group(0) @binding(2) var<storage, read> af: array<f32>;
@group(0) @binding(3) var<storage, read> bf: array<f32>;
// Per column bias (zeros without one).
@group(0) @binding(4) var<storage, read> fbias: array<f32>;
@group(0) @binding(5) var<storage, read_write> fout: array<f32>;

var<workgroup> af_s: array<f32, A_FLOATS>;
var<workgroup> bf_s: array<f32, B_FLOATS>;

@compute @workgroup_size(WGS)
fn gemm_f32(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let tile = tile_of(wid, nwg);
    if (tile.x >= p.batches) {
        return;
    }
    let tx = lid % WG_N;
    let ty = lid / WG_N;
    let zo = zoff[tile.x];
    var facc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.k; k0 += KF) {
        for (var idx = lid; idx < A_FLOATS; idx += WGS) {
            let row = tile.y + idx / KF;
            let kk = k0 + idx % KF;
            var v = 0.0;
            if (row < p.m && kk < p.k) {
                v = af[(zo.a + row) * p.k + kk];
            }
            af_s[idx] = v;
        }
        for (var idx = lid; idx < B_FLOATS; idx += WGS) {
            let col = tile.z + idx / KF;
            let kk = k0 + idx % KF;
            var v = 0.0;
            if (col < p.n && kk < p.k) {
                v = bf[(zo.b + col) * p.k + kk];
            }
            bf_s[idx] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KF; kk++) {
            for (var i = 0u; i < TM; i++) {
                let av = af_s[(ty + i * WG_M) * KF + kk];
                for (var j = 0u; j < TN; j++) {
                    facc[i * 4u + j] += unfused(av * bf_s[(tx + j * WG_N) * KF + kk]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < TM; i++) {
        let row = tile.y + ty + i * WG_M;
        if (row >= p.m) {
            continue;
        }
        for (var j = 0u; j < TN; j++) {
            let col = tile.z + tx + j * WG_N;
            if (col >= p.n) {
                continue;
            }
            var v = facc[i * 4u + j] + fbias[col];
            if (p.f_clamp == 1u) {
                v = clamp_cpp(v, p.f_min, p.f_max);
            }
            fout[zo.out + row * p.n + col] = v;
        }
    }
}

// ---- float32 FULLY_CONNECTED in the converter's order -------------------------------------
//
// `FloatOrder::Converter` (`FloatFc`): the product with the weights as the left-hand side
// (row = unit, column = input row) in Eigen's order (`eigen_product_dot`). One input row or
// one unit goes through Eigen's GEMV, a depth over `kc` is summed block by block: every
// output is summed here. Otherwise only the units past the blocks of 16, in the columns
// within the blocks of four, are not summed in plain order: `gemm_f32` computes everything,
// then this sums those again. One invocation per output, units fastest.

fn fuse_guard() -> u32 {
    return p.guard;
}

var<private> ord_x: u32;
var<private> ord_w: u32;

fn ord_a(k: u32) -> f32 {
    return bf[ord_w + k];
}

fn ord_b(k: u32) -> f32 {
    return af[ord_x + k];
}

@compute @workgroup_size(64)
fn gemm_f32_converter(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    // Every output when Eigen takes its GEMV (one input row or one unit) or blocks the depth.
    let whole = p.m == 1u || p.n == 1u || p.ord_kc < p.k;
    let row0 = select(p.n / 16u * 16u, 0u, whole);
    let cols = select(p.m / 4u * 4u, p.m, whole);
    let rows = p.n - row0;
    if (i >= rows * cols) {
        return;
    }
    let o = row0 + i % rows;
    let b = i / rows;
    let zo = zoff[0];
    ord_x = (zo.a + b) * p.k;
    ord_w = (zo.b + o) * p.k;
    var v = eigen_product_dot(p.k, p.ord_kc, o, p.n, b, p.m) + fbias[o];
    if (p.f_clamp == 1u) {
        v = clamp_cpp(v, p.f_min, p.f_max);
    }
    fout[zo.out + b * p.n + o] = v;
}

// ---- repacking ----------------------------------------------------------------------------

// A flat packed 8-bit matrix of `m` rows of `k` bytes into rows padded to `kw` words (0s).
// (Bindings 1 and 2 here; no entry point binds these and `zoff`/`a8` both.)
@group(0) @binding(1) var<storage, read> rp_in: array<u32>;
@group(0) @binding(2) var<storage, read_write> rp_out: array<u32>;

@compute @workgroup_size(64)
fn repack8(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let w = flat_workgroup(wid, nwg) * 64u + lid;
    if (w >= p.m * p.kw) {
        return;
    }
    let row = w / p.kw;
    let k0 = (w % p.kw) * 4u;
    var word = 0u;
    for (var b = 0u; b < 4u; b++) {
        let k = k0 + b;
        if (k < p.k) {
            let flat = row * p.k + k;
            let byte = (rp_in[flat / 4u] >> (8u * (flat % 4u))) & 0xffu;
            word |= byte << (8u * b);
        }
    }
    rp_out[w] = word;
}

// BATCH_MATMUL's adjoint operands: `p.batches` matrices of C × R (`src`, flat) transposed
// into R rows of C: 8-bit into row-padded words (kw per row), float32 flat.
@group(0) @binding(1) var<storage, read> tr_in: array<u32>;
@group(0) @binding(2) var<storage, read_write> tr_out: array<u32>;

@compute @workgroup_size(64)
fn transpose8(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    // p.m = R, p.k = C.
    let w = flat_workgroup(wid, nwg) * 64u + lid;
    if (w >= p.batches * p.m * p.kw) {
        return;
    }
    let z = w / (p.m * p.kw);
    let r = (w / p.kw) % p.m;
    let c0 = (w % p.kw) * 4u;
    var word = 0u;
    for (var b = 0u; b < 4u; b++) {
        let c = c0 + b;
        if (c < p.k) {
            let flat = z * p.m * p.k + c * p.m + r;
            word |= ((tr_in[flat / 4u] >> (8u * (flat % 4u))) & 0xffu) << (8u * b);
        }
    }
    tr_out[w] = word;
}

@compute @workgroup_size(64)
fn transpose32(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.batches * p.m * p.k) {
        return;
    }
    let z = i / (p.m * p.k);
    let r = (i / p.k) % p.m;
    let c = i % p.k;
    tr_out[i] = tr_in[z * p.m * p.k + c * p.m + r];
}

// Test entry: `double_rescale` over (acc, m_lo, m_hi, exponent) quads, for the GPU test
// against native f64 arithmetic (`src/gpu/kernels/fully_connected/tests.rs`).
@group(0) @binding(0) var<storage, read> rs_in: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> rs_out: array<i32>;

@compute @workgroup_size(64)
fn rescale_selftest(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&rs_in)) {
        return;
    }
    let v = rs_in[i];
    rs_out[i] = double_rescale(i32(v.x), v.y, v.z, i32(v.w));
}
