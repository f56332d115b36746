//! The batch loop of `reference_ops::BatchMatMul` planned at prepare: the offsets of every
//! matrix product, including the hybrid kernel's per-row scaling factors and row sums, as
//! TFLite's pointer arithmetic computes them.

/// One matrix product of the batch loop (`b0, b1, b2` of the 5-D extended shapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    /// Offset of the `[N, K]` weights matrix (the transposed RHS).
    pub filter: usize,
    /// Offset of the `[M, K]` input matrix (the LHS).
    pub input: usize,
    /// Offset of the `[M, N]` output matrix.
    pub output: usize,
    /// Hybrid: first index into the per-row scaling factors and offsets.
    pub scale: usize,
    /// Hybrid: first index into the weights' row sums.
    pub row_sum: usize,
}

/// The batch loop of `reference_ops::BatchMatMul`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Output columns (rows of the transposed RHS).
    pub n: usize,
    /// Output rows (rows of the LHS).
    pub m: usize,
    /// Accumulation depth.
    pub k: usize,
    pub steps: Vec<Step>,
    /// `ReductionSumVector` rows: `Dims(1) * Dims(2)` of the weights' extended shape, times N.
    pub row_sum_rows: usize,
    /// Whether the weights' extended dimension 0 is above 1 (whose row sums TFLite does not
    /// compute).
    pub filter_dim0_batched: bool,
}

fn extend5(shape: &[usize]) -> [usize; 5] {
    let mut e = [1usize; 5];
    let pad = 5 - shape.len();
    e[pad..].copy_from_slice(shape);
    e
}

fn swap_last2(shape: &[usize]) -> Vec<usize> {
    let mut s = shape.to_vec();
    let r = s.len();
    s.swap(r - 2, r - 1);
    s
}

impl Plan {
    /// `lhs`, `rhs`: the model's operand shapes (ranks 2 to 5, validated).
    pub fn new(lhs: &[usize], rhs: &[usize], adj_x: bool, adj_y: bool) -> Plan {
        let (mut l, mut r) = (lhs.to_vec(), rhs.to_vec());
        // Eval: rhs [.., 1, X, Y] with lhs [.., Q, R, S] (and no adj_x) runs as rhs [.., X, Y]
        // and lhs [.., Q*R, S].
        if !adj_x && r.len() > 2 && l.len() > 2 && r[r.len() - 3] == 1 {
            let n = l.len();
            let merged = l[n - 3] * l[n - 2];
            let last = l[n - 1];
            l.truncate(n - 3);
            l.extend([merged, last]);
            let n = r.len();
            let (x, y) = (r[n - 2], r[n - 1]);
            r.truncate(n - 3);
            r.extend([x, y]);
        }
        let filter_shape = if adj_y { r.clone() } else { swap_last2(&r) };
        let input_shape = if adj_x { l.clone() } else { swap_last2(&l) };
        let fl = extend5(&filter_shape);
        let ip = extend5(&input_shape);
        let bdim = |i: usize| {
            if fl[i] == ip[i] || fl[i] != 1 {
                fl[i]
            } else {
                ip[i]
            }
        };
        let extent = |s: &[usize; 5], i: usize| -> usize {
            if s[i] == 1 {
                0
            } else {
                s[i + 1..].iter().product()
            }
        };
        let (bd0, bd1, bd2) = (bdim(0), bdim(1), bdim(2));
        let lext = [extent(&fl, 0), extent(&fl, 1), extent(&fl, 2)];
        let rext = [extent(&ip, 0), extent(&ip, 1), extent(&ip, 2)];
        let (n, m, k) = (fl[3], ip[4], fl[4]);
        let ioff = rext.map(|e| if e == 0 { 0 } else { m });
        let woff = lext.map(|e| if e == 0 { 0 } else { n });
        let mut steps = Vec::with_capacity(bd0 * bd1 * bd2);
        for b0 in 0..bd0 {
            for b1 in 0..bd1 {
                for b2 in 0..bd2 {
                    steps.push(Step {
                        filter: b0 * lext[0] + b1 * lext[1] + b2 * lext[2],
                        input: b0 * rext[0] + b1 * rext[1] + b2 * rext[2],
                        output: ((b0 * bd1 * bd2) + b1 * bd2 + b2) * n * m,
                        scale: b0 * ioff[0] + b1 * ioff[1] + b2 * ioff[2],
                        row_sum: b0 * woff[0] + b1 * woff[1] + b2 * woff[2],
                    });
                }
            }
        }
        Plan {
            n,
            m,
            k,
            steps,
            row_sum_rows: fl[1] * fl[2] * n,
            filter_dim0_batched: fl[0] > 1,
        }
    }

    pub fn output_len(&self) -> usize {
        self.steps.len() * self.n * self.m
    }
}

/// The last two dimensions of a row-major tensor swapped (`TransposeRowsColumns`).
pub(super) fn transpose_last2<T: Copy>(data: &[T], shape: &[usize]) -> Vec<T> {
    let r = shape.len();
    let (rows, cols) = (shape[r - 2], shape[r - 1]);
    let mat = rows * cols;
    let mut out = Vec::with_capacity(data.len());
    if mat == 0 {
        return out;
    }
    for m in data.chunks_exact(mat) {
        for c in 0..cols {
            for row in 0..rows {
                out.push(m[row * cols + c]);
            }
        }
    }
    out
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn plan_broadcasts_and_transposes() {
        // lhs [1, 4, 64] × rhs [2, 64, 16]: LHS batch 1 broadcast over the RHS's 2.
        let p = Plan::new(&[1, 4, 64], &[2, 64, 16], false, false);
        assert_eq!((p.n, p.m, p.k), (16, 4, 64));
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[1].filter, 16 * 64);
        assert_eq!(p.steps[1].input, 0);
        assert_eq!(p.steps[1].output, 64);
        // The LHS never advances, so neither do its scaling factors; the row sums do.
        assert_eq!((p.steps[1].scale, p.steps[1].row_sum), (0, 16));
    }

    #[test]
    fn plan_compresses_a_unit_rhs_batch() {
        // rhs [1, K, N] against lhs [2, 3, M, K]: runs as lhs [2, 3*M, K].
        let p = Plan::new(&[2, 3, 5, 7], &[1, 7, 4], false, false);
        assert_eq!((p.n, p.m, p.k), (4, 15, 7));
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[1].input, 15 * 7);
        assert_eq!(p.steps[1].output, 15 * 4);
    }

    #[test]
    fn transpose_last_two() {
        let v: Vec<i32> = (0..12).collect();
        // [2, 2, 3] -> [2, 3, 2]
        assert_eq!(
            transpose_last2(&v, &[2, 2, 3]),
            vec![0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11]
        );
    }
}

/// What the family's tests look at in a plan: (scale base, row-sum base) per step.
#[cfg(test)]
pub(in crate::reference::fully_connected) mod tests_support {
    pub fn plan(lhs: &[usize], rhs: &[usize], adj_x: bool, adj_y: bool) -> Vec<(usize, usize)> {
        super::Plan::new(lhs, rhs, adj_x, adj_y)
            .steps
            .iter()
            .map(|s| (s.scale, s.row_sum))
            .collect()
    }
}
