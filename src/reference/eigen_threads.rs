//! The calibrator's CONV_2D on several threads: Eigen's tensor contraction on the thread
//! pool (`unsupported/Eigen/CXX11/src/Tensor/TensorContractionThreadPool.h` of the Eigen in
//! TensorFlow 2.21's wheel), which `multithreaded_ops::Conv` runs with the interpreter's 4
//! threads.
//!
//! TFLite's tensors are row-major, so Eigen swaps the operands: its left-hand side is the
//! filter, `m` = output channels, its right-hand side the input (1×1 stride-1 convs and
//! convs whose filter covers the unpadded input: a plain map) or its image patches
//! (`SpatialConvolution`), `n` = output pixels, `k` = the depth. `evalProductImpl` decides,
//! from `m`, `n`, `k` alone (and the cache sizes Eigen reads), how the sums go:
//!
//! 1. `shardByCol(m, n, 2)`, the blocking for 2 threads, and the cost of the contraction
//!    (`contractionCost`: compute, output stores, the operands' loads — the image patches
//!    add 86/8 compute cycles per coefficient: `TensorImagePatch.h`'s `costPerCoeff`) give
//!    `TensorCostModel::numThreads` (at most 4) — and `numThreadsInnerDim` the threads for
//!    sharding the depth.
//! 2. `shardByInnerDim`: the depth is cut into ranges (`blockSize`: ⌈k / threads⌉ rounded up
//!    to 8, at least 96), each a sequential GEMM (`evalGemmPartial` with the blocking for as
//!    many threads as ranges) into its own zeroed buffer; then the buffers are added in
//!    groups of four (`addAllToBuffer`: `(d + s0) + (s1 + s2)` on whole packets of 8 of the
//!    column-major `m × n` buffer, `d + ((s0 + s1) + s2)` on the scalar tail; a smaller last
//!    group one by one).
//! 3. Otherwise with one thread (or one column) the sequential product
//!    ([`super::float_order::eigen_gemm_dot`], the column-major GEMV for one column).
//! 4. Otherwise `EvalParallelContext`: `shardByCol(m, n, threads)` and the blocking for
//!    that many threads (`TensorContractionBlocking`, with `m` and `n` swapped when sharding
//!    by row): depth slices of `kc` (⌊(L1 − 256) / 80⌋ capped at 320, rounded down to 8,
//!    when the depth exceeds it: not the single-threaded even split), row blocks `bm`,
//!    column blocks `bn` from each thread's share of L3 and L2. The output is zeroed and each
//!    kernel adds its block's sum (`gebp_kernel` on `bm × bn` with the slice's depth) in
//!    slice order; the kernel's row and column paths restart in every block.
//!
//! Which thread runs a block changes nothing: each output's terms are always added in the
//! same order.

use super::eigen_cache::{converter_l1d_cache, converter_l2_l3_cache};
use super::float_order::gebp_dot;

/// The calibrator's thread pool (TFLite's Eigen pool, the interpreter's 4 threads).
const POOL_THREADS: i64 = 4;
/// `gebp_traits<float, float>` with AVX and no FMA: `mr`, `nr`; the AVX packet.
const MR: i64 = 16;
const NR: i64 = 4;
const PACKET: i64 = 8;

/// One sequential GEMM's blocking: depth slices of `kc`, row blocks of `mc`, column blocks
/// of `nc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocking {
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
}

/// How Eigen's thread-pool contraction sums (the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sharding {
    /// One thread: the sequential product.
    Sequential,
    /// Kernels over `mc × nc` blocks and depth slices of `kc`, several threads.
    Parallel(Blocking),
    /// Depth ranges of `block` (`blocks` of them), each summed with `full` (the last with
    /// `last`), then added up.
    InnerDim {
        block: usize,
        blocks: usize,
        full: Blocking,
        last: Blocking,
    },
}

/// Eigen's cache sizes (bytes), as `manage_caching_sizes` holds them.
#[derive(Debug, Clone, Copy)]
struct Caches {
    l1: i64,
    l2: i64,
    l3: i64,
}

impl Caches {
    fn converter() -> Self {
        let (l2, l3) = converter_l2_l3_cache();
        Caches {
            l1: converter_l1d_cache() as i64,
            l2: l2 as i64,
            l3: l3 as i64,
        }
    }
}

/// Eigen's decision for a contraction of `m` rows (output channels), `n` columns (output
/// pixels) and depth `k`; `patches`: the right-hand side is an image-patch expression.
pub(crate) fn sharding(m: usize, n: usize, k: usize, patches: bool) -> Sharding {
    plan(m as i64, n as i64, k as i64, patches, Caches::converter())
}

fn plan(m: i64, n: i64, k: i64, patches: bool, c: Caches) -> Sharding {
    if m <= 0 || n <= 0 || k <= 0 {
        return Sharding::Sequential;
    }
    let by_col = shard_by_col(m, n, 2);
    let b = blocking(k, m, n, 2, by_col, c);
    let cost = contraction_cost(
        m,
        n,
        (b.mc as i64, b.nc as i64, b.kc as i64),
        by_col,
        patches,
    );
    let threads = num_threads(n as f64 * m as f64, cost);
    let threads_by_k = num_threads_inner_dim(m, n, k, patches);
    if shard_by_inner_dim(m, n, k, threads, threads_by_k, c) {
        let block = block_size(k, threads_by_k);
        let blocks = (k + block - 1) / block;
        let partial = |slice: i64| {
            if blocks > 1 {
                let b = blocking(slice, m, n, blocks, true, c);
                Blocking {
                    mc: b.mc.min(m as usize),
                    nc: b.nc.min(n as usize),
                    ..b
                }
            } else {
                single(slice, m, n)
            }
        };
        return Sharding::InnerDim {
            block: block as usize,
            blocks: blocks as usize,
            full: partial(block),
            last: partial(k - block * (blocks - 1)),
        };
    }
    if n == 1 || threads == 1 {
        return Sharding::Sequential;
    }
    let by_col = shard_by_col(m, n, threads);
    Sharding::Parallel(blocking(k, m, n, threads, by_col, c))
}

/// The single-threaded blocking: only `kc` changes an output's order (its `mc` and `nc`
/// are multiples of the kernel's 16 rows and 4 columns).
fn single(k: i64, m: i64, n: i64) -> Blocking {
    Blocking {
        kc: super::eigen_cache::eigen_kc(k as usize, m as usize, n as usize),
        mc: m as usize,
        nc: n as usize,
    }
}

/// `TensorContractionBlocking(k, m, n, threads)` for `threads` > 1: ShardByCol computes
/// the blocking of an `m × n` product, ShardByRow that of `n × m` (the roles swapped).
fn blocking(k: i64, m: i64, n: i64, threads: i64, by_col: bool, c: Caches) -> Blocking {
    let (kc, mc, nc) = if by_col {
        heuristic(k, m, n, threads, c)
    } else {
        let (kc, nc, mc) = heuristic(k, n, m, threads, c);
        (kc, mc, nc)
    };
    Blocking {
        kc: kc as usize,
        mc: mc as usize,
        nc: nc as usize,
    }
}

/// `evaluateProductBlockingSizesHeuristic`'s branch for `num_threads > 1`
/// (`GeneralBlockPanelKernel.h`).
fn heuristic(mut k: i64, mut m: i64, mut n: i64, threads: i64, c: Caches) -> (i64, i64, i64) {
    let kdiv = MR * 4 + NR * 4;
    let ksub = MR * NR * 4;
    let k_cache = ((c.l1 - ksub) / kdiv).clamp(8, 320);
    if k_cache < k {
        k = k_cache - k_cache % 8;
    }
    let n_cache = (c.l2 - c.l1) / (NR * 4 * k);
    let n_per_thread = (n + threads - 1) / threads;
    if n_cache <= n_per_thread {
        n = n_cache - n_cache % NR;
    } else {
        n = n.min((n_per_thread + NR - 1) - ((n_per_thread + NR - 1) % NR));
    }
    if c.l3 > c.l2 {
        let m_cache = (c.l3 - c.l2) / (4 * k * threads);
        let m_per_thread = (m + threads - 1) / threads;
        if m_cache < m_per_thread && m_cache >= MR {
            m = m_cache - m_cache % MR;
        } else {
            m = m.min((m_per_thread + MR - 1) - ((m_per_thread + MR - 1) % MR));
        }
    }
    (k.max(1), m.max(1), n.max(1))
}

/// `shardByCol`.
fn shard_by_col(m: i64, n: i64, threads: i64) -> bool {
    if m / threads >= NR
        && (n / threads < NR
            || (n / threads < 4 * NR
                && n % (threads * NR) != 0
                && (m % (threads * NR) == 0 || m / n >= 6)))
    {
        return false;
    }
    !(n / threads < 16 * NR && m > n * 32)
}

/// A `TensorOpCost`: bytes loaded, bytes stored, compute cycles.
#[derive(Debug, Clone, Copy)]
struct Cost(f64, f64, f64);

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost(self.0 + o.0, self.1 + o.1, self.2 + o.2)
    }
}

impl std::ops::Mul<f64> for Cost {
    type Output = Cost;
    fn mul(self, s: f64) -> Cost {
        Cost(self.0 * s, self.1 * s, self.2 * s)
    }
}

/// `TensorCostModel::totalCost`.
fn total_cost(output_size: f64, c: Cost) -> f64 {
    let load = 1.0 / 64.0 * 11.0;
    let store = 1.0 / 64.0 * 11.0;
    output_size * (load * c.0 + store * c.1 + c.2)
}

/// `TensorCostModel::numThreads`, at most the pool's 4.
fn num_threads(output_size: f64, c: Cost) -> i64 {
    let cost = total_cost(output_size, c);
    let threads = ((cost - 100_000.0) / 100_000.0 + 0.9).min(f64::from(i32::MAX));
    (threads as i64).clamp(1, POOL_THREADS)
}

/// `costPerCoeff(true)` of the left-hand side (a map of the filter: one float loaded).
const LHS_COEFF: Cost = Cost(4.0, 0.0, 0.0);

/// `costPerCoeff(true)` of the right-hand side: a map, or image patches (3 index divisions
/// at 24 and 14 multiplications at 1, over a packet of 8).
fn rhs_coeff(patches: bool) -> Cost {
    Cost(4.0, 0.0, if patches { 86.0 / 8.0 } else { 0.0 })
}

/// `computeBandwidth`, without FMA (0.5 becomes 1).
fn bandwidth(by_col: bool, bm: i64, bn: i64, bk: i64) -> f64 {
    let b = if bk == 1 {
        4.0
    } else if (if by_col { bn } else { bm }) < NR || (if by_col { bm } else { bn }) < MR {
        2.0
    } else {
        0.5
    };
    if b == 0.5 {
        1.0
    } else {
        b
    }
}

/// `contractionCost(m, n, bm, bn, bk, shard_by_col, false)`.
fn contraction_cost(
    m: i64,
    n: i64,
    (bm, bn, bk): (i64, i64, i64),
    by_col: bool,
    patches: bool,
) -> Cost {
    let kd = bk as f64;
    let cb = bandwidth(false, bm, bn, bk);
    let cost = Cost(0.0, 0.0, kd * cb / PACKET as f64) + Cost(0.0, 4.0, 0.0);
    let mut lhs = LHS_COEFF * (kd / n as f64);
    let mut rhs = rhs_coeff(patches) * (kd / m as f64);
    if by_col {
        lhs = Cost(0.0, 0.0, lhs.2);
    } else {
        rhs = Cost(0.0, 0.0, rhs.2);
    }
    cost + lhs + rhs
}

/// `numThreadsInnerDim`.
fn num_threads_inner_dim(m: i64, n: i64, k: i64, patches: bool) -> i64 {
    let cb = bandwidth(true, m, n, k);
    let cost = Cost(0.0, 0.0, cb * m as f64 * n as f64 / PACKET as f64) + Cost(0.0, 4.0, 0.0);
    let lhs = Cost(0.0, 0.0, (LHS_COEFF * m as f64).2);
    let rhs = rhs_coeff(patches) * n as f64;
    let total_parallel = total_cost(k as f64, cost + lhs + rhs);
    let reduction = total_cost((m * n) as f64, Cost(2.0, 1.0, 1.0 / PACKET as f64));
    let (mut threads, mut min_cost) = (1, total_parallel);
    let mut nt = 2;
    while nt <= POOL_THREADS {
        let sequential = 100_000.0 + nt as f64 * (reduction + 3000.0);
        let parallel = total_parallel / nt as f64 + sequential;
        if parallel < min_cost {
            threads = nt;
            min_cost = parallel;
        }
        nt += 2;
    }
    threads
}

/// `shardByInnerDim`.
fn shard_by_inner_dim(m: i64, n: i64, k: i64, threads: i64, by_k: i64, c: Caches) -> bool {
    if n == 1 || by_k < 2 || by_k < threads || m * n * 4 > c.l3 / by_k || k / by_k < 2 * NR {
        return false;
    }
    m.max(n) / threads < NR || (k / by_k > 8 * NR && (m.min(n) < 2 * NR || by_k > threads))
}

/// `EvalShardedByInnerDimContext::blockSize`.
fn block_size(k: i64, threads: i64) -> i64 {
    let target = ((k + threads - 1) / threads + 7) / 8 * 8;
    k.min((12 * PACKET).max(target))
}

/// Output (`row`, `col`) of a product of `rows × cols` (`a` its row of the left-hand side,
/// `b` its column of the right-hand side) as the sharded contraction sums it; `s` is not
/// [`Sharding::Sequential`] (which [`super::float_order::eigen_conv_dot`] sums).
pub(crate) fn sharded_dot(
    a: &[f32],
    b: &[f32],
    (row, rows): (usize, usize),
    (col, cols): (usize, usize),
    s: &Sharding,
) -> f32 {
    let depth = a.len().min(b.len());
    let at = (row, rows, col, cols);
    match *s {
        Sharding::Sequential | Sharding::Parallel(_) => {
            let bl = match *s {
                Sharding::Parallel(bl) => bl,
                _ => single(depth as i64, rows as i64, cols as i64),
            };
            blocked_dot(a, b, (0, depth), bl, at)
        }
        Sharding::InnerDim {
            block,
            blocks,
            full,
            last,
        } => {
            let partial = |i: usize| {
                let k0 = i * block;
                let bl = if i + 1 < blocks { full } else { last };
                blocked_dot(a, b, (k0, (k0 + block).min(depth)), bl, at)
            };
            // The element's place in the column-major m × n buffer: packets of 8, then a
            // scalar tail.
            let tail = row + col * rows >= rows * cols / 8 * 8;
            let four = |d: f32, s0: f32, s1: f32, s2: f32| {
                if tail {
                    d + ((s0 + s1) + s2)
                } else {
                    (d + s0) + (s1 + s2)
                }
            };
            let ranges = blocks.div_ceil(4);
            let range = |r: usize| {
                let first = 4 * r;
                if blocks - first >= 4 {
                    let s = |i: usize| partial(first + i);
                    four(s(0), s(1), s(2), s(3))
                } else {
                    let mut d = partial(first);
                    for i in first + 1..blocks {
                        d += partial(i);
                    }
                    d
                }
            };
            let mut d = range(0);
            let mut r = 1;
            while r + 2 < ranges {
                d = four(d, range(r), range(r + 1), range(r + 2));
                r += 3;
            }
            while r < ranges {
                d += range(r);
                r += 1;
            }
            d
        }
    }
}

/// Depth `k0..k1` of one output in blocks: its row's block of `mc` rows and column's block
/// of `nc` columns, each depth slice of `kc` summed by the kernel and added to the zeroed
/// result in order.
fn blocked_dot(
    a: &[f32],
    b: &[f32],
    (k0, k1): (usize, usize),
    bl: Blocking,
    (row, rows, col, cols): (usize, usize, usize, usize),
) -> f32 {
    let (mc, nc, kc) = (bl.mc.max(1), bl.nc.max(1), bl.kc.max(1));
    let (r0, c0) = (row / mc * mc, col / nc * nc);
    let local = ((row - r0, mc.min(rows - r0)), (col - c0, nc.min(cols - c0)));
    let mut c = 0.0f32;
    let mut ks = k0;
    while ks < k1 {
        let ke = (ks + kc).min(k1);
        c += gebp_dot(&a[ks..ke], &b[ks..ke], local.0, local.1);
        ks = ke;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden machine's caches as Eigen reads them (AMD EPYC: 32 KiB, 1 MiB, and an L3
    /// of 640 units of 512 KiB).
    const GOLDEN: Caches = Caches {
        l1: 32 * 1024,
        l2: 1024 * 1024,
        l3: 640 * 512 * 1024,
    };

    fn bl(kc: usize, mc: usize, nc: usize) -> Blocking {
        Blocking { kc, mc, nc }
    }

    /// The decisions TF's interpreter was checked against (tools/make_converter_float_goldens.py).
    #[test]
    fn decisions_of_the_golden_shapes() {
        let p = |m, n, k, patches| plan(m, n, k, patches, GOLDEN);
        // MobileNetV2's 1x1 conv (24 channels, 144 deep) on 24x24 and 19x19 pixels; 6x6 stays
        // on one thread.
        let two = |k: usize, m, n| Sharding::InnerDim {
            block: 96,
            blocks: 2,
            full: bl(96, m, n),
            last: bl(k - 96, m, n),
        };
        assert_eq!(p(24, 576, 144, false), two(144, 16, 288));
        assert_eq!(p(24, 361, 144, false), two(144, 16, 184));
        assert_eq!(p(24, 36, 144, false), Sharding::Sequential);
        // The transformer's patch conv: 4 ranges of 192.
        assert!(matches!(
            p(64, 16, 768, true),
            Sharding::InnerDim {
                block: 192,
                blocks: 4,
                ..
            }
        ));
        // 384 deep into 96 channels on 24x24 pixels: 4 threads by column, kc = 320.
        assert_eq!(p(96, 576, 384, false), Sharding::Parallel(bl(320, 32, 144)));
        // By row: 144 channels on 7x7 pixels; 1000 channels on 2x2.
        assert_eq!(p(144, 49, 288, true), Sharding::Parallel(bl(288, 36, 16)));
        assert_eq!(p(1000, 4, 256, false), Sharding::Parallel(bl(256, 248, 4)));
        // One column: sequential.
        assert_eq!(p(13, 1, 300, false), Sharding::Sequential);
        assert_eq!(p(28, 196, 252, true), Sharding::Parallel(bl(252, 16, 52)));
    }

    #[test]
    fn four_ranges_add_in_eigens_order() {
        // Depth 4 x 96 with one term per range: range sums 1e8, -1e8, 1, 1.
        let k = 384;
        let mut a = vec![0.0f32; k];
        for (i, v) in [1e8f32, -1e8, 1.0, 1.0].iter().enumerate() {
            a[i * 96] = *v;
        }
        let b = vec![1.0f32; k];
        let s = Sharding::InnerDim {
            block: 96,
            blocks: 4,
            full: bl(96, 16, 16),
            last: bl(96, 16, 16),
        };
        // Packet elements: (1e8 - 1e8) + (1 + 1) = 2; the tail: 1e8 + ((-1e8 + 1) + 1) = 0.
        assert_eq!(sharded_dot(&a, &b, (0, 16), (0, 16), &s), 2.0);
        assert_eq!(sharded_dot(&a, &b, (4, 5), (4, 5), &s), 0.0);
    }
}
