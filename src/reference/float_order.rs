//! The order in which the float32 kernels sum.
//!
//! The reference engine follows TFLite's reference kernels (`BUILTIN_REF`): every dot
//! product a sequential sum of rounded products, the bias added last. TensorFlow's converter
//! calibrates with LiteRT's *optimized* kernels instead, as built into TensorFlow's x86-64
//! wheel; they sum the same products in another order, so a tensor's observed min/max — and
//! hence an int8 scale — can differ from ours in the last bits. [`FloatOrder::Converter`]
//! reproduces the optimized kernels' order (AVX, no fused multiply-add: every product is
//! rounded, then added) where it changes a result:
//!
//! - FULLY_CONNECTED with one row (`cpu_backend_gemm` → Eigen's row-major GEMV, AVX
//!   `Packet8f`): eight lanes accumulate `w[j..j+8]·x[j..j+8]`, the lanes are reduced as
//!   Eigen's `predux` does (halves: `l[i] + l[i+4]`, then `(t0 + t2) + (t1 + t3)`), a half
//!   packet (four lanes) follows for the last, unpaired row, leftover columns are added one
//!   product at a time; the bias is added after. Several rows: Eigen's GEMM kernel
//!   ([`eigen_gemm_dot`]).
//! - CONV_2D: undilated, `multithreaded_ops::Conv` (the calibrator's interpreter runs several
//!   threads): Eigen's tensor contraction of the filter, one row per output channel, with
//!   one column per output pixel — its column-major GEMV for one pixel, else its GEMM
//!   kernel ([`eigen_conv_dot`]), on one thread or, as Eigen's cost model decides, sharded
//!   over the pool's threads by rows, columns or depth (`eigen_threads`); dilated, `optimized_ops::Conv` (im2col, `cpu_backend_gemm`:
//!   [`eigen_product_dot`]). The bias after. Depths over
//!   Eigen's cache blocking `kc` (400 with a 32 KiB L1 data cache, [`eigen_kc`]) are summed
//!   block by block, so the result depends on the L1 size of the machine the converter ran
//!   on ([`set_converter_l1d_cache`]); the same holds for FULLY_CONNECTED with several rows
//!   and TRANSPOSE_CONV.
//! - DEPTHWISE_CONV_2D (`optimized_ops::DepthwiseConv`): the accumulator starts at the bias,
//!   then each tap is added in (ky, kx) order.
//! - MEAN of float32 over the last dimensions (after TFLite drops size-1 dimensions and
//!   merges neighbours, `[outer, n]` with `n` reduced: `optimized_ops::Mean<float, float>`'s
//!   Eigen `colwise().sum()`): each row of `n` summed by Eigen's linear vectorised
//!   `redux` ([`eigen_redux_sum`]), then divided by `n` in float. Established by the
//!   converter's own file: the `layernorm` op fixture's int8 scales are reproduced to the
//!   bit with it and are one ulp off without it (`tests/quantize_int8.rs`).
//! - TRANSPOSE_CONV (`optimized_ops::TransposeConvV2`): Eigen's GEMM of the weights as a
//!   row-major `[H·W·O, I]` matrix by one column per input pixel ([`eigen_gemm_dot`]; its
//!   GEMV when there is one pixel or one row), then `Col2im` adds each pixel's products into
//!   the zeroed output in pixel order, then the bias (`conv/transpose_conv.rs`).
//! - SUM, REDUCE_MAX, REDUCE_MIN (`optimized_ops::ReduceGeneric`, `ReduceImpl`): the same
//!   row-major order per output as the reference, but each output starts at its first input
//!   instead of the neutral value, and MAX/MIN keep `(current > in) ? current : in` (a NaN
//!   input replaces the result); `reduce_generic.rs`.
//! - SOFTMAX (`optimized_ops::Softmax` → `SoftmaxImpl`, Eigen expressions over the
//!   `[depth, rows]` column-major map): per row the max, `t = (x − max)·beta` (two
//!   roundings), `e = ` Eigen's vectorised `pexp` of `t` for *every* element (whole AVX
//!   packets, and the ragged ends as masked packet segments: never the C library's `expf`;
//!   [`eigen_pexp`]), the row's sum by Eigen's `redux` ([`eigen_redux_sum`], the row's first
//!   element `row·depth mod 8` floats past a 32-byte boundary), `inv = 1 / sum`, then
//!   `y = e · inv` (a product, not the reference's quotient); `softmax.rs`.
//! - HARD_SWISH (`optimized_ops::HardSwish`, NEON code through NEON_2_SSE on x86; the kernel
//!   is in `activations/hard_swish.rs`): whole vectors of four compute
//!   `(x · (1/6)) · min(6, max(0, x + 3))`, the tail `x · min(6, max(0, x + 3)) / 6`.
//!
//! Each was established against the interpreter inside TensorFlow's wheel element by element
//! (`tools/make_converter_float_goldens.py`, `tests/converter_float_order.rs`).
//!
//! These are facts of one build (TF 2.21's x86-64 wheel, which the fixtures were made with);
//! the converter on another CPU family (ARM: ruy and NEON) sums in yet another order. Float
//! LOGISTIC, TANH and GELU are Eigen's vectorised functions in the calibrator
//! ([`super::eigen_math`]). Other kernels' results do not depend on the order (elementwise
//! ops) or their outputs take fixed or inherited parameters (pooling, reshapes).

pub(crate) use super::eigen_cache::eigen_kc;
pub use super::eigen_cache::{
    converter_l1d_cache, converter_l2_l3_cache, set_converter_l1d_cache, set_converter_l2_l3_cache,
};
pub(crate) use super::eigen_threads::{sharded_dot, sharding, Blocking, Sharding};

/// Which summation order the float32 kernels follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FloatOrder {
    /// TFLite's reference kernels (`BUILTIN_REF`).
    #[default]
    Reference,
    /// The optimized kernels TensorFlow's converter calibrates with (x86-64 build).
    Converter,
}

/// Eigen's linear vectorised `redux` (sum) of a contiguous run of floats whose first element
/// sits `misalign` floats past a 32-byte boundary (the arena aligns tensors to 64 bytes):
/// the elements before the first aligned one are set aside; whole AVX packets are summed
/// into two accumulators in turn (one when there is a single packet), the two added, a last
/// odd packet added, the lanes reduced by `predux`; then the set-aside head and the tail
/// are added one by one. Runs too short for a packet are summed in order.
pub(crate) fn eigen_redux_sum(x: &[f32], misalign: usize) -> f32 {
    let n = x.len();
    let aligned_start = ((8 - misalign % 8) % 8).min(n);
    let aligned_size = (n - aligned_start) / 8 * 8;
    if aligned_size == 0 {
        let mut res = x.first().copied().unwrap_or(0.0);
        for v in x.iter().skip(1) {
            res += v;
        }
        return res;
    }
    let aligned_size2 = (n - aligned_start) / 16 * 16;
    let (aligned_end, aligned_end2) = (aligned_start + aligned_size, aligned_start + aligned_size2);
    let load = |i: usize| -> [f32; 8] { std::array::from_fn(|k| x[i + k]) };
    let add = |a: [f32; 8], b: [f32; 8]| -> [f32; 8] { std::array::from_fn(|k| a[k] + b[k]) };
    let mut res0 = load(aligned_start);
    if aligned_size > 8 {
        let mut res1 = load(aligned_start + 8);
        let mut i = aligned_start + 16;
        while i < aligned_end2 {
            res0 = add(res0, load(i));
            res1 = add(res1, load(i + 8));
            i += 16;
        }
        res0 = add(res0, res1);
        if aligned_end > aligned_end2 {
            res0 = add(res0, load(aligned_end2));
        }
    }
    let mut res = predux8(res0);
    for v in &x[..aligned_start] {
        res += v;
    }
    for v in &x[aligned_end..] {
        res += v;
    }
    res
}

/// Eigen's `pexp_float` (`Eigen/src/Core/arch/Default/GenericPacketMathFunctions.h` as
/// shipped in TensorFlow 2.21's wheel) on one lane, without fused multiply-add (`pmadd` is a
/// rounded product, then a rounded sum): clamp to 88.723, `m = floor(x·log2(e) + 0.5)`,
/// `r = x − m·ln 2` in two parts (−0.693359375, 2.12194440e-4), a degree-6 polynomial in
/// even and odd halves, then `y·2^m` — Eigen's `pldexp_fast` or `pldexp` (the latter for a
/// packet holding any |x| > 87): both scale exactly and round once, as the single product
/// in double here does — then `max(·, x)`; inputs below −104 give 0.
pub(crate) fn eigen_pexp(x_in: f32) -> f32 {
    // Eigen's constants as float32 bits (the shader's, `shaders/common/eigen_exp.wgsl`).
    let c = f32::from_bits;
    let (exp_hi, exp_lo) = (c(0x42b1_722d), c(0xc2d0_0000)); // 88.723, -104
    let log2ef = c(0x3fb8_aa3b); // 1.44269504088896341
    let (c1, c2) = (c(0xbf31_8000), c(0x395e_8083)); // -0.693359375, 2.12194440e-4
    let p2 = c(0x3eff_fffc); // 0.49999988079071044921875
    let p3 = c(0x3e2a_aa47); // 0.16666518151760101318359375
    let p4 = c(0x3d2a_adcc); // 4.166965186595916748046875e-2
    let p5 = c(0x3c09_1de6); // 8.36894474923610687255859375e-3
    let p6 = c(0x3ab4_2872); // 1.37449637986719608306884765625e-3
    let zero = x_in < exp_lo;
    // pmin(x, hi), a NaN passing through.
    let x = if x_in > exp_hi { exp_hi } else { x_in };
    let m = (x * log2ef + 0.5).floor();
    let r = m * c1 + x;
    let r = m * c2 + r;
    let r2 = r * r;
    let p_even = r2 * p6 + p4;
    let p_odd = r2 * p5 + p3;
    let p_even = r2 * p_even + p2;
    let p_low = r + 1.0;
    let y = r * p_odd + p_even;
    let y = r2 * y + p_low;
    let scaled = if m.is_finite() {
        // y·2^m, exact in double (|m| ≤ 150), rounded once to float.
        (f64::from(y) * 2f64.powi(m as i32)) as f32
    } else {
        y * m
    };
    if zero {
        return 0.0;
    }
    // pmax(scaled, x).
    if scaled < x_in {
        x_in
    } else {
        scaled
    }
}

/// Eigen's `predux` of an AVX `Packet8f`: the halves, then the SSE `Packet4f` reduction.
fn predux8(c: [f32; 8]) -> f32 {
    predux4([c[0] + c[4], c[1] + c[5], c[2] + c[6], c[3] + c[7]])
}

/// Eigen's `predux` of an SSE `Packet4f`: `(a0 + a2) + (a1 + a3)`.
fn predux4(a: [f32; 4]) -> f32 {
    (a[0] + a[2]) + (a[1] + a[3])
}

/// One output of Eigen's row-major GEMV (`general_matrix_vector_product<…, RowMajor, …>`
/// with AVX): `w` is one row of the matrix, `x` the vector. `single` is true for the
/// row Eigen handles alone (the last row when the row count is odd), which goes on with a
/// half packet before the scalar tail.
pub(crate) fn eigen_gemv_row(w: &[f32], x: &[f32], single: bool) -> f32 {
    let n = w.len().min(x.len());
    let full = n / 8 * 8;
    let mut c = [0.0f32; 8];
    for j in (0..full).step_by(8) {
        for l in 0..8 {
            c[l] += w[j + l] * x[j + l];
        }
    }
    let mut cc = predux8(c);
    let mut j = full;
    if single && n - j >= 4 {
        let mut h = [0.0f32; 4];
        for l in 0..4 {
            h[l] += w[j + l] * x[j + l];
        }
        cc += predux4(h);
        j += 4;
    }
    for k in j..n {
        cc += w[k] * x[k];
    }
    cc
}

/// Whether row `row` of `rows` is the one Eigen's GEMV handles alone.
pub(crate) fn gemv_single_row(row: usize, rows: usize) -> bool {
    rows % 2 == 1 && row + 1 == rows
}

/// One output of a float product as TFLite's `cpu_backend_gemm` has Eigen compute it: `a` is
/// row `row` of the row-major left-hand side (`rows` rows), `b` column `col` of the
/// right-hand side (`cols` columns). A product with one column is Eigen's row-major GEMV
/// (`dst.cols() == 1`); one with a single row is the GEMV of the transposed product over the
/// columns (`dst.rows() == 1`, Eigen's `gemv_dense_selector` on the left); anything else its
/// blocked GEMM kernel ([`eigen_gemm_dot`]).
pub(crate) fn eigen_product_dot(
    a: &[f32],
    b: &[f32],
    (row, rows): (usize, usize),
    (col, cols): (usize, usize),
) -> f32 {
    if cols == 1 {
        eigen_gemv_row(a, b, gemv_single_row(row, rows))
    } else if rows == 1 {
        eigen_gemv_row(b, a, gemv_single_row(col, cols))
    } else {
        eigen_gemm_dot(a, b, (row, rows), (col, cols))
    }
}

/// One output of a float CONV_2D product as the converter's calibrator computes it, summed
/// as [`conv_sum`] decided for the whole convolution. The calibrator runs the interpreter at
/// its default thread count, so an undilated CONV_2D takes `multithreaded_ops::Conv`
/// (conv.cc's `supports_multithreaded_kernel`): Eigen's tensor contraction of the filter
/// (`[out_c, depth]`, the left-hand side) with the image patches, on a thread pool of 4.
/// On one thread: with one output pixel the contraction's GEMV, Eigen's column-major
/// `general_matrix_vector_product` ([`eigen_colmajor_gemv`]); otherwise its GEMM kernel with
/// the same blocking as [`eigen_gemm_dot`]. When Eigen's cost model spreads it over threads,
/// the thread pool's blocking or its sharding of the depth (`eigen_threads`). A dilated
/// CONV_2D runs im2col and `cpu_backend_gemm` ([`eigen_product_dot`]).
pub(crate) fn eigen_conv_dot(
    sum: &ConvSum,
    a: &[f32],
    b: &[f32],
    (row, rows): (usize, usize),
    (col, cols): (usize, usize),
) -> f32 {
    match sum {
        ConvSum::Product => eigen_product_dot(a, b, (row, rows), (col, cols)),
        ConvSum::ColumnGemv { .. } => eigen_colmajor_gemv(a, b, rows),
        ConvSum::Gemm { .. } => eigen_gemm_dot(a, b, (row, rows), (col, cols)),
        ConvSum::Threads(s) => sharded_dot(a, b, (row, rows), (col, cols), s),
    }
}

/// Which of Eigen's float products a CONV_2D of `rows` output channels, `cols` output
/// pixels and `depth` terms per output is summed by in the converter's order
/// ([`eigen_conv_dot`]), with its blocking — the one decision the CPU kernel and the GPU's
/// fix-up entry both follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConvSum {
    /// Dilated: im2col and `cpu_backend_gemm` ([`eigen_product_dot`]).
    Product,
    /// One output pixel: the tensor contraction's column-major GEMV, in column blocks of
    /// `block` ([`colmajor_gemv_block`]).
    ColumnGemv { block: usize },
    /// The contraction's GEMM kernel on one thread, depth blocks of `kc` ([`eigen_kc`]).
    Gemm { kc: usize },
    /// The contraction on several threads (never [`Sharding::Sequential`]).
    Threads(Sharding),
}

/// [`ConvSum`] of a CONV_2D: `patches` is false where `multithreaded_ops::Conv` contracts
/// the input itself (1×1 filters at stride 1, and filters covering the unpadded input), true
/// where it contracts the image patches (`SpatialConvolution`), which Eigen's cost model
/// prices higher.
pub(crate) fn conv_sum(
    depth: usize,
    rows: usize,
    cols: usize,
    dilated: bool,
    patches: bool,
) -> ConvSum {
    if dilated {
        return ConvSum::Product;
    }
    match sharding(rows, cols, depth, patches) {
        Sharding::Sequential if cols == 1 => ConvSum::ColumnGemv {
            block: colmajor_gemv_block(depth, rows),
        },
        Sharding::Sequential => ConvSum::Gemm {
            kc: eigen_kc(depth, rows, cols),
        },
        s => ConvSum::Threads(s),
    }
}

/// The column blocks of Eigen's column-major GEMV: all columns when there are fewer than
/// 128, else 16 when a column of the matrix (`rows` floats) is under 32,000 bytes, else 4.
pub(crate) fn colmajor_gemv_block(depth: usize, rows: usize) -> usize {
    if depth < 128 {
        depth.max(1)
    } else if rows * 4 < 32_000 {
        16
    } else {
        4
    }
}

/// One output of Eigen's column-major GEMV (`general_matrix_vector_product<…, ColMajor, …>`)
/// of a matrix with `rows` rows: `a` is the output's row, `b` the vector. The destination
/// starts at zero; per block of columns ([`colmajor_gemv_block`]) the row's products are
/// summed in order from zero and the sum is added to it.
pub(crate) fn eigen_colmajor_gemv(a: &[f32], b: &[f32], rows: usize) -> f32 {
    let depth = a.len().min(b.len());
    let block = colmajor_gemv_block(depth, rows);
    let mut res = 0.0f32;
    for j0 in (0..depth).step_by(block) {
        let mut c = 0.0f32;
        for j in j0..(j0 + block).min(depth) {
            c += a[j] * b[j];
        }
        res += c; // `pmadd(c, alpha, res)`: c·1 + res, commutative
    }
    res
}

/// One output of Eigen's GEMM kernel (`gebp_kernel`, AVX `Packet8f`; `mr` = 16, Eigen's
/// `default_mr`, as the build has no single-instruction multiply-add; `nr` = 4) as
/// TFLite's `cpu_backend_gemm` runs it: `a` is row `row` of the row-major left-hand side
/// (`rows` rows), `b` column `col` of the right-hand side (`cols` columns), both of the same
/// depth. The kernel's path, hence the order of the sum, depends on the
/// output's place in the blocking:
/// - rows in blocks of two packets (16 rows), and any row in a column left
///   over by the blocks of four columns: one product per step of depth, in order;
/// - rows in blocks of one packet or half a packet (8, 4 rows) within a block of four
///   columns: even steps accumulate apart from odd steps over the depth rounded down to a
///   multiple of 8, the two are added, the rest goes on in order (`lhs_process_one_packet`);
/// - the rows left after that, within a block of four columns: the "swapped" kernel, whose
///   packets hold two steps of depth — eight partial sums (four registers, two lanes each)
///   over the depth rounded down to a multiple of 8, reduced register-wise, continued two
///   steps at a time, the two lanes added, an odd last step added last.
///
/// Depths above Eigen's cache blocking `kc` ([`eigen_kc`]) are summed a block at a time:
/// the destination starts at zero and each block's sum, in the kernel's order over that
/// block alone, is added to it (`dst.setZero()`, then `gebp_kernel` per `kc` block storing
/// `C += acc`).
pub(crate) fn eigen_gemm_dot(
    a: &[f32],
    b: &[f32],
    (row, rows): (usize, usize),
    (col, cols): (usize, usize),
) -> f32 {
    let depth = a.len().min(b.len());
    let kc = eigen_kc(depth, rows, cols).max(1);
    let mut c = 0.0f32;
    let mut k0 = 0;
    while k0 < depth {
        let k1 = (k0 + kc).min(depth);
        c += gebp_dot(&a[k0..k1], &b[k0..k1], (row, rows), (col, cols));
        k0 = k1;
    }
    c
}

/// One `kc` block of [`eigen_gemm_dot`]: the sum over the block in the kernel's order.
pub(crate) fn gebp_dot(
    a: &[f32],
    b: &[f32],
    (row, rows): (usize, usize),
    (col, cols): (usize, usize),
) -> f32 {
    let depth = a.len().min(b.len());
    let seq = |from: usize, to: usize, mut acc: f32| {
        for k in from..to {
            acc += a[k] * b[k];
        }
        acc
    };
    // mr = 16 without fused multiply-add (`default_mr`): no blocks of three packets.
    let p2 = rows / 16 * 16;
    let p1 = p2 + (rows - p2) / 8 * 8;
    let half = p1 + (rows - p1) / 4 * 4;
    let in_block_of_four = col < cols / 4 * 4;
    if row < p2 || !in_block_of_four {
        return seq(0, depth, 0.0);
    }
    if row < half {
        let peeled = depth / 8 * 8;
        let (mut c, mut d) = (0.0f32, 0.0f32);
        for k in (0..peeled).step_by(2) {
            c += a[k] * b[k];
            d += a[k + 1] * b[k + 1];
        }
        return seq(peeled, depth, c + d);
    }
    // The swapped kernel: acc[r][p] sums the steps k = 8m + 2r + p.
    let end4 = depth / 8 * 8;
    let end2 = depth / 2 * 2;
    let mut acc = [[0.0f32; 2]; 4];
    for k0 in (0..end4).step_by(8) {
        for (r, lanes) in acc.iter_mut().enumerate() {
            for (p, lane) in lanes.iter_mut().enumerate() {
                let k = k0 + 2 * r + p;
                *lane += b[k] * a[k];
            }
        }
    }
    let mut s = [0.0f32; 2];
    for (p, lane) in s.iter_mut().enumerate() {
        *lane = (acc[0][p] + acc[1][p]) + (acc[2][p] + acc[3][p]);
    }
    for k in (end4..end2).step_by(2) {
        for (p, lane) in s.iter_mut().enumerate() {
            *lane += b[k + p] * a[k + p];
        }
    }
    let total = s[0] + s[1];
    if end2 < depth {
        total + b[end2] * a[end2]
    } else {
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eigen's `pexp` at its edges, and not the C library's `expf` (the converter goldens
    /// check its bits).
    #[test]
    fn eigen_pexp_edges() {
        assert_eq!(eigen_pexp(0.0), 1.0);
        assert_eq!(eigen_pexp(f32::NEG_INFINITY), 0.0);
        assert_eq!(eigen_pexp(-104.5), 0.0);
        assert_eq!(eigen_pexp(f32::INFINITY), f32::INFINITY);
        assert_eq!(eigen_pexp(89.0), f32::INFINITY);
        assert!(eigen_pexp(f32::NAN).is_nan());
        // Subnormal results below about -87.3, zero below -104.
        assert!(eigen_pexp(-95.0) > 0.0 && eigen_pexp(-95.0) < f32::MIN_POSITIVE);
        let differ = (0..2000)
            .map(|i| -20.0 + i as f32 * 0.0137)
            .filter(|x| eigen_pexp(*x) != x.exp())
            .count();
        assert!(differ > 100, "{differ}");
        for i in 0..2000 {
            let x = -20.0 + i as f32 * 0.0137;
            let (a, b) = (eigen_pexp(x), x.exp());
            assert!((a - b).abs() <= 2.0 * f32::EPSILON * b, "{x}: {a} vs {b}");
        }
    }

    #[test]
    fn predux_orders() {
        // Values whose sum depends on the order: 1e8 swallows 1 unless paired first.
        let c = [1e8, 1.0, -1e8, 1.0, 0.0, 1.0, 0.0, 1.0];
        // (c0+c4)+(c2+c6) = 0, (c1+c5)+(c3+c7) = 4.
        assert_eq!(predux8(c), 4.0);
        assert_eq!(predux4([1e8, 1.0, -1e8, 1.0]), 2.0);
    }

    #[test]
    fn gemv_row_uses_lanes_and_tails() {
        let w: Vec<f32> = (0..13).map(|i| 1.0 + i as f32 * 0.1).collect();
        let x: Vec<f32> = (0..13).map(|i| 0.5 - i as f32 * 0.07).collect();
        // An independent spelling of the same order.
        let mut lanes = [0.0f32; 8];
        for j in 0..8 {
            lanes[j] = w[j] * x[j];
        }
        let t = [
            lanes[0] + lanes[4],
            lanes[1] + lanes[5],
            lanes[2] + lanes[6],
            lanes[3] + lanes[7],
        ];
        let paired = ((t[0] + t[2]) + (t[1] + t[3]))
            + w[8] * x[8]
            + w[9] * x[9]
            + w[10] * x[10]
            + w[11] * x[11]
            + w[12] * x[12];
        assert_eq!(eigen_gemv_row(&w, &x, false), paired);
        let h = [w[8] * x[8], w[9] * x[9], w[10] * x[10], w[11] * x[11]];
        let single =
            (((t[0] + t[2]) + (t[1] + t[3])) + ((h[0] + h[2]) + (h[1] + h[3]))) + w[12] * x[12];
        assert_eq!(eigen_gemv_row(&w, &x, true), single);
        assert!(gemv_single_row(4, 5) && !gemv_single_row(3, 5) && !gemv_single_row(3, 4));
    }
}
