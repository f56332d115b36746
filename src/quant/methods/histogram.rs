//! The range-choosing functions over a [`Histogram`]: percentile, MSE and entropy (KL).
//!
//! Every function takes the target grid ([`TargetGrid`]) and returns a clipping range
//! `(lo, hi)` inside the histogram's range; the quantizer makes the parameters from it as
//! from any calibrated range (widened to include 0). Values below/above the histogram's
//! range (none when the histogram spans the tensor's own range, as calibration's second
//! pass makes it) are counted in the first/last bin.
//!
//! Bins are read in `f64`: bin `k` spans `[e_k, e_{k+1}]` (the spec's float32 edges),
//! centre `c_k = (e_k + e_{k+1}) / 2`, width `w_k = e_{k+1} - e_k`.

use super::TargetGrid;
use crate::quant::stats::Histogram;

/// Counts (outliers folded into the end bins) and edges in `f64`.
fn bins(h: &Histogram) -> (Vec<f64>, Vec<f64>) {
    let mut n: Vec<f64> = h.counts.iter().map(|&c| c as f64).collect();
    if let Some(first) = n.first_mut() {
        *first += h.below as f64;
    }
    if let Some(last) = n.last_mut() {
        *last += h.above as f64;
    }
    let e = h.spec.edges().iter().map(|&x| f64::from(x)).collect();
    (n, e)
}

/// A symmetric target keeps `(-t, t)` within the histogram's range, `t` the larger magnitude
/// of `(lo, hi)`: the quantizer's `max(|min|, |max|)` is then `t`.
fn for_grid(grid: TargetGrid, h: &Histogram, lo: f32, hi: f32) -> (f32, f32) {
    match grid {
        TargetGrid::Int8Asymmetric => (lo, hi),
        TargetGrid::Int16Symmetric => {
            let t = lo.abs().max(hi.abs());
            (h.spec.lo().max(-t), h.spec.hi().min(t))
        }
    }
}

/// The percentile range: `hi` is the upper edge of the bin holding the `r`-th smallest
/// value, `r = ceil(p/100 · N)` (at least 1); `lo` the lower edge of the bin holding the
/// `(N + 1 - r)`-th smallest (the same fraction cut from below). A symmetric target takes
/// the larger magnitude of the two. `None` for an empty histogram.
pub fn percentile(h: &Histogram, p: f64, grid: TargetGrid) -> Option<(f32, f32)> {
    let total = h.total();
    if total == 0 {
        return None;
    }
    let r_hi = ((p / 100.0 * total as f64).ceil() as u64).clamp(1, total);
    let r_lo = total + 1 - r_hi;
    let edges = h.spec.edges();
    let bin_of_rank = |r: u64| -> usize {
        let mut cum = h.below;
        if cum >= r {
            return 0;
        }
        for (k, &c) in h.counts.iter().enumerate() {
            cum += c;
            if cum >= r {
                return k;
            }
        }
        h.counts.len() - 1
    };
    let lo = edges[bin_of_rank(r_lo)];
    let hi = edges[bin_of_rank(r_hi) + 1];
    Some(for_grid(grid, h, lo, hi))
}

/// Prefix sums for the MSE objective: `s0 = Σn`, `s1 = Σ n·c`, `s2 = Σ n·(c² + w²/12)`
/// over bins `0..k` (the values spread uniformly in their bin).
struct Prefix {
    s0: Vec<f64>,
    s1: Vec<f64>,
    s2: Vec<f64>,
}

impl Prefix {
    fn new(n: &[f64], e: &[f64]) -> Self {
        let mut p = Prefix {
            s0: vec![0.0],
            s1: vec![0.0],
            s2: vec![0.0],
        };
        for (k, &c) in n.iter().enumerate() {
            let (centre, w) = ((e[k] + e[k + 1]) / 2.0, e[k + 1] - e[k]);
            p.s0.push(p.s0[k] + c);
            p.s1.push(p.s1[k] + c * centre);
            p.s2.push(p.s2[k] + c * (centre * centre + w * w / 12.0));
        }
        p
    }

    /// `Σ n·E[(x - a)²]` over bins `i..j`.
    fn sq_dist(&self, i: usize, j: usize, a: f64) -> f64 {
        let (s0, s1, s2) = (
            self.s0[j] - self.s0[i],
            self.s1[j] - self.s1[i],
            self.s2[j] - self.s2[i],
        );
        (s2 - 2.0 * a * s1 + a * a * s0).max(0.0)
    }
}

/// The expected squared quantization error of the histogram's values with the range
/// `[e_i, e_j]` (`i < j` edge indices): values outside are clipped to the range's ends (their
/// squared distance to it), values inside get the uniform rounding noise `Δ²/12` of the
/// grid's step `Δ` (`(hi - lo) / 255` for int8, `t / 32767` for int16's `[-t, t]`).
fn mse_cost(p: &Prefix, bins: usize, (i, j): (usize, usize), (a, b): (f64, f64), step: f64) -> f64 {
    let below = p.sq_dist(0, i, a);
    let above = p.sq_dist(j, bins, b);
    let inside = p.s0[j] - p.s0[i];
    below + above + inside * step * step / 12.0
}

/// The range that minimises the expected quantization MSE (`mse_cost`) over the candidate
/// ranges whose ends are bin edges: for int8, every `[e_i, e_j]` with `e_i <= 0 <= e_j`
/// (the quantizer keeps 0 in the range); for int16, every `[-t, t]` with `t = |e_k|`, the
/// bins fully outside clipped. Ties keep the wider range. `None` for an empty histogram.
pub fn mse(h: &Histogram, grid: TargetGrid) -> Option<(f32, f32)> {
    if h.total() == 0 {
        return None;
    }
    let (n, e) = bins(h);
    let b = n.len();
    let p = Prefix::new(&n, &e);
    let edges = h.spec.edges();
    let mut best: Option<(f64, usize, usize)> = None;
    let mut consider = |cost: f64, i: usize, j: usize| {
        if best.is_none_or(|(c, _, _)| cost < c) {
            best = Some((cost, i, j));
        }
    };
    match grid {
        TargetGrid::Int8Asymmetric => {
            // Widest first: ties keep the wider range.
            let lows: Vec<usize> = (0..=b).filter(|&i| e[i] <= 0.0).collect();
            let highs: Vec<usize> = (0..=b).rev().filter(|&j| e[j] >= 0.0).collect();
            for &i in &lows {
                for &j in &highs {
                    if j <= i || e[j] <= e[i] {
                        continue;
                    }
                    let step = (e[j] - e[i]) / 255.0;
                    consider(mse_cost(&p, b, (i, j), (e[i], e[j]), step), i, j);
                }
            }
            let (_, i, j) = best?;
            Some((edges[i], edges[j]))
        }
        TargetGrid::Int16Symmetric => {
            let mut ts: Vec<f64> = e.iter().map(|x| x.abs()).filter(|&t| t > 0.0).collect();
            ts.sort_by(|x, y| y.total_cmp(x));
            ts.dedup();
            let mut best_t: Option<(f64, f64)> = None;
            for t in ts {
                // Bins wholly below -t or above t are clipped; the rest count as inside.
                let i = e[1..].partition_point(|&x| x <= -t).min(b);
                let j = e[..b].partition_point(|&x| x < t).max(i);
                let cost = mse_cost(&p, b, (i, j), (-t, t), t / 32767.0);
                if best_t.is_none_or(|(c, _)| cost < c) {
                    best_t = Some((cost, t));
                }
            }
            let (_, t) = best_t?;
            let t = t as f32;
            Some((h.spec.lo().max(-t), h.spec.hi().min(t)))
        }
    }
}

/// `_smooth_distribution` of MXNet's calibration (eps = 1e-4): zeros get `eps`, the others
/// give it back in equal parts, so that the KL divergence stays finite. `None` when all are
/// zero.
fn smooth(d: &mut [f64]) -> Option<()> {
    const EPS: f64 = 1e-4;
    let zeros = d.iter().filter(|&&x| x == 0.0).count();
    let nonzeros = d.len() - zeros;
    if nonzeros == 0 {
        return None;
    }
    let eps1 = EPS * zeros as f64 / nonzeros as f64;
    for x in d.iter_mut() {
        *x = if *x == 0.0 { EPS } else { *x - eps1 };
    }
    Some(())
}

/// `KL(p || q)` of two unnormalised distributions (normalised here).
fn kl(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    p.iter()
        .zip(q)
        .filter(|(&a, _)| a > 0.0)
        .map(|(&a, &b)| {
            let (a, b) = (a / sp, b / sq);
            a * (a / b).ln()
        })
        .sum()
}

/// The KL divergence of a window `left..left + w` of the bins `n` (prefix sums `cum`)
/// quantized to `levels` levels (TensorRT's method as MXNet's `_get_optimal_threshold`
/// spells it): `p` is the window with the mass outside folded into its end bins; `q` splits
/// the window (without the folded mass) into `levels` chunks, spreads each chunk's total
/// evenly over the chunk's bins that are non-zero in `p`; both are smoothed ([`smooth`]).
/// `p` and `q` are scratch buffers.
fn window_kl(
    (n, cum): (&[f64], &[f64]),
    (left, w, levels): (usize, usize, usize),
    p: &mut Vec<f64>,
    q: &mut Vec<f64>,
) -> Option<f64> {
    let b = n.len();
    p.clear();
    p.extend_from_slice(&n[left..left + w]);
    // Counts are integers below 2^53: these sums are exact in any order.
    p[0] += cum[left];
    p[w - 1] += cum[b] - cum[left + w];
    q.clear();
    q.resize(w, 0.0);
    for c in 0..levels {
        let (s, t) = (c * w / levels, (c + 1) * w / levels);
        let total = cum[left + t] - cum[left + s];
        let nonzero = p[s..t].iter().filter(|&&x| x != 0.0).count();
        if nonzero > 0 {
            let share = total / nonzero as f64;
            for k in s..t {
                if p[k] != 0.0 {
                    q[k] = share;
                }
            }
        }
    }
    smooth(p)?;
    smooth(q)?;
    Some(kl(p, q))
}

/// TensorRT's entropy calibration adapted to asymmetric int8: the candidate windows shrink
/// the histogram's range towards 0 in proportion (width `w` bins, `levels ..= bins`, the
/// window's left end at `round(z · (1 - w/bins))` with `z` the position of 0 in bins), each
/// scored by `window_kl` with `levels` = 256 quantization levels; the window with the
/// least divergence wins, ties to the wider. A histogram of fewer bins than levels, and the
/// 16-bit symmetric target (65535 levels: more than any histogram's bins, so every window's
/// `q` equals its `p` and the full range has divergence 0) keep the full range. `None` for
/// an empty histogram.
pub fn entropy(h: &Histogram, grid: TargetGrid) -> Option<(f32, f32)> {
    if h.total() == 0 {
        return None;
    }
    let (n, _) = bins(h);
    let b = n.len();
    let edges = h.spec.edges();
    let full = for_grid(grid, h, h.spec.lo(), h.spec.hi());
    let levels = match grid {
        TargetGrid::Int8Asymmetric => 256,
        TargetGrid::Int16Symmetric => return Some(full),
    };
    if b <= levels {
        return Some(full);
    }
    let (lo, hi) = (f64::from(h.spec.lo()), f64::from(h.spec.hi()));
    let z = ((0.0f64.max(lo).min(hi) - lo) / (hi - lo) * b as f64).clamp(0.0, b as f64);
    let mut cum = vec![0.0; b + 1];
    for (k, &c) in n.iter().enumerate() {
        cum[k + 1] = cum[k] + c;
    }
    let (mut p, mut q) = (Vec::with_capacity(b), Vec::with_capacity(b));
    let mut best: Option<(f64, usize, usize)> = None;
    for w in (levels..=b).rev() {
        let left = ((z * (1.0 - w as f64 / b as f64)).round() as usize).min(b - w);
        let Some(d) = window_kl((&n, &cum), (left, w, levels), &mut p, &mut q) else {
            continue;
        };
        if best.is_none_or(|(c, _, _)| d < c) {
            best = Some((d, left, w));
        }
    }
    let (_, left, w) = best?;
    Some((edges[left], edges[left + w]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::stats::HistogramSpec;

    struct Lcg(u64);
    impl Lcg {
        fn unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f32 {
            let (u, v) = (self.unit().max(1e-300), self.unit());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        }
    }

    fn hist_of(values: &[f32], bins: usize) -> Histogram {
        let lo = values.iter().copied().fold(0f32, f32::min);
        let hi = values.iter().copied().fold(0f32, f32::max);
        let mut h = Histogram::new(HistogramSpec::new(lo, hi, bins).unwrap());
        h.add(values);
        h
    }

    fn sample(seed: u64, n: usize, shift: f32) -> Vec<f32> {
        let mut r = Lcg(seed);
        let mut v: Vec<f32> = (0..n).map(|_| r.normal() + shift).collect();
        // A few far outliers.
        v.extend([9.0 + shift, -7.5 + shift, 12.0 + shift]);
        v
    }

    /// The bin a value falls in (the spec's own rule).
    fn bin_of(h: &Histogram, x: f32) -> usize {
        match h.spec.place(&h.spec.edges(), x) {
            crate::quant::stats::Bin::In(k) => k,
            b => panic!("{x} not in the histogram: {b:?}"),
        }
    }

    #[test]
    fn percentile_is_the_bin_of_the_order_statistic() {
        for (seed, bins, p) in [
            (1, 2048, 99.99),
            (2, 100, 99.0),
            (3, 7, 90.0),
            (4, 2048, 100.0),
        ] {
            let v = sample(seed, 20_000, 0.3);
            let h = hist_of(&v, bins);
            let mut sorted = v.clone();
            sorted.sort_by(f32::total_cmp);
            let n = sorted.len() as u64;
            let r_hi = ((p / 100.0 * n as f64).ceil() as u64).clamp(1, n);
            let r_lo = n + 1 - r_hi;
            let e = h.spec.edges();
            let want_hi = e[bin_of(&h, sorted[r_hi as usize - 1]) + 1];
            let want_lo = e[bin_of(&h, sorted[r_lo as usize - 1])];
            let got = percentile(&h, p, TargetGrid::Int8Asymmetric).unwrap();
            assert_eq!(got, (want_lo, want_hi), "seed {seed} bins {bins} p {p}");
            let t = want_lo.abs().max(want_hi.abs());
            let sym = percentile(&h, p, TargetGrid::Int16Symmetric).unwrap();
            assert_eq!(sym.0.abs().max(sym.1.abs()), t);
        }
        // p = 100 keeps the whole range.
        let v = sample(5, 1000, 0.0);
        let h = hist_of(&v, 64);
        assert_eq!(
            percentile(&h, 100.0, TargetGrid::Int8Asymmetric).unwrap(),
            (h.spec.lo(), h.spec.hi())
        );
    }

    /// The MSE objective of a range on the raw values: clipped values' squared distance to
    /// the range plus `Δ²/12` per value inside.
    fn raw_cost(v: &[f32], a: f64, b: f64, step: f64) -> f64 {
        v.iter()
            .map(|&x| {
                let x = f64::from(x);
                if x < a {
                    (x - a).powi(2)
                } else if x > b {
                    (x - b).powi(2)
                } else {
                    step * step / 12.0
                }
            })
            .sum()
    }

    #[test]
    fn mse_is_near_the_brute_force_optimum_on_the_raw_values() {
        for (seed, shift, bins) in [(11, 0.0, 256), (12, 1.5, 384), (13, -0.7, 512)] {
            let v = sample(seed, 4000, shift);
            let h = hist_of(&v, bins);
            let e: Vec<f64> = h.spec.edges().iter().map(|&x| f64::from(x)).collect();
            // Brute force over every candidate pair of edges, on the raw values.
            let mut best = f64::INFINITY;
            for &a in e.iter().filter(|&&a| a <= 0.0) {
                for &b in e.iter().filter(|&&b| b >= 0.0 && b > a) {
                    best = best.min(raw_cost(&v, a, b, (b - a) / 255.0));
                }
            }
            let (lo, hi) = mse(&h, TargetGrid::Int8Asymmetric).unwrap();
            let (lo, hi) = (f64::from(lo), f64::from(hi));
            let got = raw_cost(&v, lo, hi, (hi - lo) / 255.0);
            assert!(
                got <= best * 1.02,
                "seed {seed}: {got} vs brute force {best}"
            );
            // int16: brute force over t = |edge| on the raw values.
            let mut best16 = f64::INFINITY;
            for t in e.iter().map(|x| x.abs()).filter(|&t| t > 0.0) {
                best16 = best16.min(raw_cost(&v, -t, t, t / 32767.0));
            }
            let (lo, hi) = mse(&h, TargetGrid::Int16Symmetric).unwrap();
            let t = f64::from(lo.abs().max(hi.abs()));
            let got16 = raw_cost(&v, -t, t, t / 32767.0);
            assert!(
                got16 <= best16 * 1.05,
                "seed {seed}: int16 {got16} vs {best16}"
            );
        }
    }

    #[test]
    fn mse_finds_the_analytic_optimum() {
        // M values uniform in [0, 1) and one at 99.95: for t >= 1 the cost is
        // (99.95 - t)² + M·(t/255)²/12 + const, least at t = 99.95 / (1 + M / (12·255²)).
        for m in [1_000_000u64, 100_000] {
            let spec = HistogramSpec::new(0.0, 100.0, 1000).unwrap();
            let mut h = Histogram::new(spec);
            h.counts[..10].iter_mut().for_each(|c| *c = m / 10);
            h.counts[999] = 1;
            let want = 99.95 / (1.0 + m as f64 / (12.0 * 255.0 * 255.0));
            let (lo, hi) = mse(&h, TargetGrid::Int8Asymmetric).unwrap();
            assert_eq!(lo, 0.0);
            assert!((f64::from(hi) - want).abs() <= 0.1, "M {m}: {hi} vs {want}");
        }
    }

    #[test]
    fn mse_keeps_the_range_of_uniform_data() {
        let v: Vec<f32> = (0..=1000).map(|k| k as f32 / 1000.0 * 6.0 - 2.0).collect();
        let h = hist_of(&v, 256);
        let (lo, hi) = mse(&h, TargetGrid::Int8Asymmetric).unwrap();
        assert_eq!((lo, hi), (-2.0, 4.0));
    }

    #[test]
    fn entropy_properties() {
        // Uniform data: nothing to gain by clipping; the full range wins.
        let v: Vec<f32> = (0..=20_000)
            .map(|k| k as f32 / 20_000.0 * 5.0 - 1.0)
            .collect();
        let h = hist_of(&v, 2048);
        assert_eq!(
            entropy(&h, TargetGrid::Int8Asymmetric).unwrap(),
            (h.spec.lo(), h.spec.hi())
        );
        // Gaussian with far outliers: clipped well inside, around 0, 0 kept inside.
        let v = sample(21, 50_000, 0.2);
        let h = hist_of(&v, 2048);
        let (lo, hi) = entropy(&h, TargetGrid::Int8Asymmetric).unwrap();
        assert!(lo <= 0.0 && hi >= 0.0);
        assert!(
            hi < 0.8 * h.spec.hi() && lo > 0.8 * h.spec.lo(),
            "{lo} {hi}"
        );
        assert!(hi > 2.0 && lo < -2.0, "keeps the bulk: {lo} {hi}");
        // Scaling every count leaves the choice unchanged.
        let mut h2 = h.clone();
        h2.counts.iter_mut().for_each(|c| *c *= 3);
        assert_eq!(entropy(&h2, TargetGrid::Int8Asymmetric), Some((lo, hi)));
        // ReLU-like data (all >= 0): windows start at 0.
        let relu: Vec<f32> = v.iter().map(|x| x.max(0.0)).collect();
        let h = hist_of(&relu, 2048);
        let (lo, hi) = entropy(&h, TargetGrid::Int8Asymmetric).unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi < h.spec.hi());
        // 16-bit: the full range.
        assert_eq!(
            entropy(&h, TargetGrid::Int16Symmetric).unwrap(),
            (h.spec.lo(), h.spec.hi())
        );
    }

    #[test]
    fn empty_histograms_give_nothing() {
        let h = Histogram::new(HistogramSpec::new(-1.0, 1.0, 16).unwrap());
        assert_eq!(percentile(&h, 99.0, TargetGrid::Int8Asymmetric), None);
        assert_eq!(mse(&h, TargetGrid::Int8Asymmetric), None);
        assert_eq!(entropy(&h, TargetGrid::Int8Asymmetric), None);
    }
}
