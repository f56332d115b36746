// The float32 summation orders of TensorFlow's converter (Eigen's AVX kernels without fused
// multiply-add): twin of `src/reference/float_order.rs` (`eigen_gemv_row`, `eigen_gemm_dot`).
// A dot product summed here gives the bits of the CPU's, as long as every product is rounded
// before it is added.
//
// The importing shader defines `ord_a(k: u32) -> f32`, element k of the left-hand side's row
// (the weights), and `ord_b(k: u32) -> f32`, element k of the right-hand side's column (the
// input); and `fuse_guard()` for `unfused` (shaders/common/unfused.wgsl).

#import unfused

fn ord_prod(k: u32) -> f32 {
    return unfused(ord_a(k) * ord_b(k));
}

// `acc0 + Σ_{first <= k < end} a[k]·b[k]`, in order.
fn ord_seq(first: u32, end: u32, acc0: f32) -> f32 {
    var acc = acc0;
    for (var k = first; k < end; k++) {
        acc += ord_prod(k);
    }
    return acc;
}

// Eigen's `predux` of an SSE `Packet4f`: `(a0 + a2) + (a1 + a3)`.
fn predux4(a: vec4<f32>) -> f32 {
    return (a.x + a.z) + (a.y + a.w);
}

// `eigen_gemv_row`: eight lanes over whole packets (lanes 0-3 in `lo`, 4-7 in `hi`), reduced
// as `predux4(lo + hi)` (Eigen's `predux` of a `Packet8f`: the halves first); for the row Eigen
// handles alone (`single`), a half packet next; then the rest one product at a time.
fn eigen_gemv_row(n: u32, single: bool) -> f32 {
    let full = n / 8u * 8u;
    var lo = vec4<f32>(0.0);
    var hi = vec4<f32>(0.0);
    for (var j = 0u; j < full; j += 8u) {
        lo += vec4<f32>(ord_prod(j), ord_prod(j + 1u), ord_prod(j + 2u), ord_prod(j + 3u));
        hi += vec4<f32>(ord_prod(j + 4u), ord_prod(j + 5u), ord_prod(j + 6u), ord_prod(j + 7u));
    }
    var cc = predux4(lo + hi);
    var j = full;
    if (single && n - j >= 4u) {
        let h = vec4<f32>(0.0) + vec4<f32>(ord_prod(j), ord_prod(j + 1u), ord_prod(j + 2u), ord_prod(j + 3u));
        cc += predux4(h);
        j += 4u;
    }
    return ord_seq(j, n, cc);
}

// `eigen_colmajor_gemv`: one output of Eigen's column-major GEMV (the tensor contraction's,
// for a product with one column): per block of `block` columns (`colmajor_gemv_block`) the
// products summed in order from zero, each block's sum added to the zeroed destination.
fn eigen_colmajor_gemv(depth: u32, block: u32) -> f32 {
    let blocks = (depth + block - 1u) / block;
    var res = 0.0;
    for (var bi = 0u; bi < blocks; bi++) {
        let j0 = bi * block;
        let c = ord_seq(j0, min(j0 + block, depth), 0.0);
        res = c + res;
    }
    return res;
}

// `eigen_product_dot`: output (row, col) of a `rows` x `cols` product of depth `depth` as
// TFLite's `cpu_backend_gemm` has Eigen compute it: one column, Eigen's GEMV (the last row of
// an odd count alone); one row, the GEMV of the transposed product over the columns; else
// the blocked GEMM (`eigen_gemm_dot`, blocks of `kc`).
fn eigen_product_dot(depth: u32, kc: u32, row: u32, rows: u32, col: u32, cols: u32) -> f32 {
    if (cols == 1u) {
        return eigen_gemv_row(depth, rows % 2u == 1u && row + 1u == rows);
    }
    if (rows == 1u) {
        return eigen_gemv_row(depth, cols % 2u == 1u && col + 1u == cols);
    }
    return eigen_gemm_dot(depth, kc, row, rows, col, cols);
}

// `eigen_gemm_dot`: output (row, col) of a `rows` x `cols` GEMM of depth `depth`, cut by
// Eigen's depth blocking into blocks of `kc` (the host's `eigen_kc`; `depth` itself when the
// product is not blocked): the destination starts at 0 and each block's sum (`gebp_dot`) is
// added to it in turn.
fn eigen_gemm_dot(depth: u32, kc: u32, row: u32, rows: u32, col: u32, cols: u32) -> f32 {
    let blocks = (depth + kc - 1u) / kc;
    var c = 0.0;
    for (var bi = 0u; bi < blocks; bi++) {
        let k0 = bi * kc;
        c += gebp_dot(k0, min(kc, depth - k0), row, rows, col, cols);
    }
    return c;
}

// One block of `eigen_gemm_dot`: steps `k0 .. k0 + depth` in Eigen's `gebp_kernel` (mr = 16,
// nr = 4), whose order depends on the output's place in the blocking:
// rows in blocks of 16, or a column outside the blocks of four: in order; rows in blocks of
// 8 or 4: even and odd steps apart over the depth rounded down to 8, then in order; the rows
// after those: the "swapped" kernel (eight partial sums, k = 8m + 2r + p in `even[r]` for
// p = 0 and `odd[r]` for p = 1, reduced register-wise; two lanes on; an odd last step last).
fn gebp_dot(k0: u32, depth: u32, row: u32, rows: u32, col: u32, cols: u32) -> f32 {
    let p2 = rows / 16u * 16u;
    let p1 = p2 + (rows - p2) / 8u * 8u;
    let half = p1 + (rows - p1) / 4u * 4u;
    let in_block_of_four = col < cols / 4u * 4u;
    if (row < p2 || !in_block_of_four) {
        return ord_seq(k0, k0 + depth, 0.0);
    }
    if (row < half) {
        let peeled = depth / 8u * 8u;
        var c = 0.0;
        var d = 0.0;
        for (var k = 0u; k < peeled; k += 2u) {
            c += ord_prod(k0 + k);
            d += ord_prod(k0 + k + 1u);
        }
        return ord_seq(k0 + peeled, k0 + depth, c + d);
    }
    let end4 = depth / 8u * 8u;
    let end2 = depth / 2u * 2u;
    var even = vec4<f32>(0.0);
    var odd = vec4<f32>(0.0);
    for (var k8 = 0u; k8 < end4; k8 += 8u) {
        let k = k0 + k8;
        even += vec4<f32>(ord_prod(k), ord_prod(k + 2u), ord_prod(k + 4u), ord_prod(k + 6u));
        odd += vec4<f32>(ord_prod(k + 1u), ord_prod(k + 3u), ord_prod(k + 5u), ord_prod(k + 7u));
    }
    var s0 = (even.x + even.y) + (even.z + even.w);
    var s1 = (odd.x + odd.y) + (odd.z + odd.w);
    for (var k = end4; k < end2; k += 2u) {
        s0 += ord_prod(k0 + k);
        s1 += ord_prod(k0 + k + 1u);
    }
    let total = s0 + s1;
    if (end2 < depth) {
        return total + ord_prod(k0 + end2);
    }
    return total;
}

// `blocked_dot` (src/reference/eigen_threads.rs): steps `k0 .. k1` of output (row, col) of a
// `rows` x `cols` product cut into blocks of `mc` rows and `nc` columns: per depth slice of
// `kc`, the kernel's sum over the output's block (its row and column paths restart in each
// block) added to the zeroed result in order.
fn eigen_blocked(k0: u32, k1: u32, kc: u32, mc: u32, nc: u32, row: u32, rows: u32, col: u32, cols: u32) -> f32 {
    let r0 = row / mc * mc;
    let c0 = col / nc * nc;
    let brows = min(mc, rows - r0);
    let bcols = min(nc, cols - c0);
    var c = 0.0;
    // Counted by blocks (Eigen's kc is at least 1; WGSL's x / 0 is x, so it ends anyway): a loop
    // form that ends by construction (src/gpu/loops.rs).
    let blocks = (k1 - k0 + kc - 1u) / kc;
    for (var b = 0u; b < blocks; b++) {
        let ks = k0 + b * kc;
        c += gebp_dot(ks, min(kc, k1 - ks), row - r0, brows, col - c0, bcols);
    }
    return c;
}

// `sharded_dot` for `Sharding::InnerDim` with at most 4 depth ranges of `block` (the pool's 4
// threads): each range summed with its blocking (`full`, the last one `last`: kc, mc, nc);
// four ranges added as `addAllToBuffer` does — `(s0 + s1) + (s2 + s3)` where the output falls
// in the packets of 8 of the column-major buffer, `s0 + ((s1 + s2) + s3)` in its scalar tail
// — fewer one after another.
fn eigen_inner_dim(depth: u32, block: u32, blocks: u32, full: vec3<u32>, last: vec3<u32>, row: u32, rows: u32, col: u32, cols: u32) -> f32 {
    var s = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var i = 0u; i < blocks; i++) {
        let k0 = i * block;
        var b = full;
        if (i + 1u == blocks) {
            b = last;
        }
        s[i] = eigen_blocked(k0, min(k0 + block, depth), b.x, b.y, b.z, row, rows, col, cols);
    }
    if (blocks == 4u) {
        if (row + col * rows >= rows * cols / 8u * 8u) {
            return s[0] + ((s[1] + s[2]) + s[3]);
        }
        return (s[0] + s[1]) + (s[2] + s[3]);
    }
    var d = s[0];
    for (var i = 1u; i < blocks; i++) {
        d += s[i];
    }
    return d;
}
