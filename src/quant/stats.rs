//! Per-tensor statistics of the values a model computes: the running min/max and counts that
//! calibration keeps ([`TensorStats`]), and histograms over a given range ([`Histogram`]),
//! for the calibration methods that need a distribution (percentile, entropy, MSE).
//!
//! Two implementations with one contract:
//! - on the host, [`HostStats`] (an [`Observer`]) folds every value an engine shows it;
//! - on an engine's device, [`Session::stats_accumulator`](crate::Session::stats_accumulator)
//!   returns a [`StatsAccumulator`] that reduction kernels fill while the model runs (the GPU
//!   engine: `shaders/stats.wgsl`), read back only as statistics.
//!
//! Both give the same numbers for the same values: counts, min and max are exact operations
//! (comparisons, additions of integers), and the histogram's bin of a value is decided by
//! comparisons against bin edges computed once on the host ([`HistogramSpec::edges`]), never
//! by float arithmetic on the device.

use std::any::Any;
use std::collections::BTreeMap;

use crate::engine::Observer;
use crate::{Buf, Error, Result, Tensor};

/// What calibration saw of one tensor.
///
/// `min`/`max` follow the host fold exactly: the first value seen among equal ones is kept,
/// so when the minimum (or maximum) is a zero, its sign is that of the first zero seen in
/// stream order (element order within a value, sample order across values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorStats {
    /// Smallest finite value (`+inf` if none was finite).
    pub min: f32,
    /// Largest finite value (`-inf` if none was finite).
    pub max: f32,
    /// Finite values seen.
    pub count: u64,
    /// NaN values seen (any payload, either sign).
    pub nan: u64,
    /// `+Inf` and `-Inf` values seen.
    pub inf: u64,
}

impl Default for TensorStats {
    fn default() -> Self {
        TensorStats {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            count: 0,
            nan: 0,
            inf: 0,
        }
    }
}

impl TensorStats {
    /// Fold `values` in, in order.
    pub fn add(&mut self, values: &[f32]) {
        // All finite (the common case): lane-wise extremes, then the order's one visible
        // effect, the sign of a zero extreme, from the first zero.
        if let Some((lo, hi)) = finite_extremes(values) {
            self.count += values.len() as u64;
            let first_zero = || values.iter().copied().find(|v| *v == 0.0);
            if lo < self.min {
                self.min = if lo == 0.0 {
                    first_zero().unwrap_or(lo)
                } else {
                    lo
                };
            }
            if hi > self.max {
                self.max = if hi == 0.0 {
                    first_zero().unwrap_or(hi)
                } else {
                    hi
                };
            }
            return;
        }
        self.add_in_order(values);
    }

    /// [`TensorStats::add`] one value at a time.
    fn add_in_order(&mut self, values: &[f32]) {
        for &v in values {
            if v.is_nan() {
                self.nan += 1;
            } else if v.is_infinite() {
                self.inf += 1;
            } else {
                self.count += 1;
                if v < self.min {
                    self.min = v;
                }
                if v > self.max {
                    self.max = v;
                }
            }
        }
    }

    /// Fold in the statistics `later` of values that come after those folded so far: the
    /// statistics of all of them, in order.
    pub fn merge(&mut self, later: &TensorStats) {
        self.count += later.count;
        self.nan += later.nan;
        self.inf += later.inf;
        if later.min < self.min {
            self.min = later.min;
        }
        if later.max > self.max {
            self.max = later.max;
        }
    }

    /// Whether any finite value was seen.
    pub fn has_range(&self) -> bool {
        self.count > 0
    }
}

/// The smallest and largest of `values` when there is one and all are finite (a zero's sign
/// unspecified), else `None`.
fn finite_extremes(values: &[f32]) -> Option<(f32, f32)> {
    const L: usize = 16;
    let first = *values.first()?;
    let (mut lo, mut hi) = ([first; L], [first; L]);
    let mut finite = [true; L];
    let chunks = values.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..L {
            let v = c[l];
            lo[l] = if v < lo[l] { v } else { lo[l] };
            hi[l] = if v > hi[l] { v } else { hi[l] };
            finite[l] &= v.abs() <= f32::MAX;
        }
    }
    for (l, &v) in rest.iter().enumerate() {
        lo[l] = if v < lo[l] { v } else { lo[l] };
        hi[l] = if v > hi[l] { v } else { hi[l] };
        finite[l] &= v.abs() <= f32::MAX;
    }
    if !finite.iter().all(|&f| f) || !(first.abs() <= f32::MAX) {
        return None;
    }
    let lo = lo
        .iter()
        .copied()
        .fold(f32::INFINITY, |m, v| if v < m { v } else { m });
    let hi = hi
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, |m, v| if v > m { v } else { m });
    Some((lo, hi))
}

/// The most bins a histogram may have.
pub const MAX_BINS: usize = 1 << 20;

/// A histogram's range and bin count: `bins` bins over `[lo, hi]`.
///
/// Bin rule (the same on the host and on every device): the edges are
/// `e_k = f32(lo + (hi - lo) * k / bins)` computed in `f64` on the host, `k = 0..=bins`
/// ([`HistogramSpec::edges`]; `e_0 = lo`, `e_bins = hi`, non-decreasing). A finite value `x`
/// with `lo <= x <= hi` falls in bin `k` = the number of interior edges `e_1..e_{bins-1}`
/// that are `<= x` (so bin `k` holds `e_k <= x < e_{k+1}`, and the last bin also holds
/// `x == hi`); `x < lo` counts as *below*, `x > hi` as *above*; NaN and ±Inf are not counted
/// (they are in [`TensorStats`]). `-0.0` and `+0.0` are the same value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramSpec {
    lo: f32,
    hi: f32,
    bins: usize,
}

/// Where a value falls in a histogram ([`HistogramSpec::place`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    /// NaN or ±Inf: not counted.
    NonFinite,
    /// Below `lo`.
    Below,
    /// Bin `k`.
    In(usize),
    /// Above `hi`.
    Above,
}

impl HistogramSpec {
    /// `bins` bins over `[lo, hi]`: `lo < hi`, both finite, `1 <= bins <= MAX_BINS`.
    pub fn new(lo: f32, hi: f32, bins: usize) -> Result<Self> {
        if !lo.is_finite() || !hi.is_finite() || lo >= hi {
            return Err(Error::Data(format!(
                "histogram range [{lo}, {hi}] is not a finite range with lo < hi"
            )));
        }
        if bins == 0 || bins > MAX_BINS {
            return Err(Error::Data(format!(
                "histogram of {bins} bins: the bin count must be in 1..={MAX_BINS}"
            )));
        }
        Ok(Self { lo, hi, bins })
    }

    /// The lower end of the range.
    pub fn lo(&self) -> f32 {
        self.lo
    }

    /// The upper end of the range (inclusive).
    pub fn hi(&self) -> f32 {
        self.hi
    }

    /// The number of bins.
    pub fn bins(&self) -> usize {
        self.bins
    }

    /// The `bins + 1` edges (see the bin rule on [`HistogramSpec`]); zeros are `+0.0`.
    pub fn edges(&self) -> Vec<f32> {
        let (lo, hi, n) = (f64::from(self.lo), f64::from(self.hi), self.bins as f64);
        let mut edges = Vec::with_capacity(self.bins + 1);
        let mut prev = self.lo;
        for k in 0..=self.bins {
            let e = if k == 0 {
                self.lo
            } else if k == self.bins {
                self.hi
            } else {
                ((lo + (hi - lo) * k as f64 / n) as f32).clamp(prev, self.hi)
            };
            // -0.0 and +0.0 compare equal; keep one spelling.
            let e = if e == 0.0 { 0.0 } else { e };
            edges.push(e);
            prev = e;
        }
        edges
    }

    /// Where `x` falls, given `edges` = [`HistogramSpec::edges`] (passed in so that a loop
    /// over many values computes them once).
    pub fn place(&self, edges: &[f32], x: f32) -> Bin {
        if !x.is_finite() {
            Bin::NonFinite
        } else if x < self.lo {
            Bin::Below
        } else if x > self.hi {
            Bin::Above
        } else {
            let interior = &edges[1..edges.len() - 1];
            Bin::In(interior.partition_point(|&e| e <= x))
        }
    }
}

/// Counts of values per bin of a [`HistogramSpec`], plus those outside its range.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// The range and bin count.
    pub spec: HistogramSpec,
    /// `spec.bins()` counts.
    pub counts: Vec<u64>,
    /// Finite values below `lo`.
    pub below: u64,
    /// Finite values above `hi`.
    pub above: u64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new(spec: HistogramSpec) -> Self {
        Self {
            spec,
            counts: vec![0; spec.bins()],
            below: 0,
            above: 0,
        }
    }

    /// Count `values` (the host twin of the device kernel).
    pub fn add(&mut self, values: &[f32]) {
        let edges = self.spec.edges();
        for &x in values {
            match self.spec.place(&edges, x) {
                Bin::NonFinite => {}
                Bin::Below => self.below += 1,
                Bin::Above => self.above += 1,
                Bin::In(k) => self.counts[k] += 1,
            }
        }
    }

    /// Add the counts of `other` (the same spec).
    pub fn merge(&mut self, other: &Histogram) {
        for (c, o) in self.counts.iter_mut().zip(&other.counts) {
            *c += o;
        }
        self.below += other.below;
        self.above += other.above;
    }

    /// Finite values counted, in range or not.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.below + self.above
    }
}

/// Which statistics to accumulate: every float32 tensor a run computes (model inputs and
/// operator outputs) or those listed, and histograms of some of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsRequest {
    /// Tensors (main subgraph indices) to keep [`TensorStats`] of; `None`: every float32
    /// tensor the run computes. Tensors with a histogram are added to the list.
    pub tensors: Option<Vec<usize>>,
    /// Histograms to count, by tensor.
    pub histograms: BTreeMap<usize, HistogramSpec>,
}

/// Statistics read back from an accumulator (or folded on the host).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsSummary {
    /// By tensor index.
    pub tensors: BTreeMap<usize, TensorStats>,
    /// By tensor index.
    pub histograms: BTreeMap<usize, Histogram>,
}

/// Statistics accumulated on an engine's device across many runs
/// ([`Session::run_statistics`](crate::Session::run_statistics)); device memory does not
/// depend on the number of runs. An accumulator may be used with any session of the same
/// model on the same engine (sessions re-prepared for other input shapes included).
pub trait StatsAccumulator: Any {
    /// Read the statistics accumulated so far (one readback of the statistics only).
    fn read(&mut self) -> Result<StatsSummary>;

    /// The statistics (min, max and counts; no histograms) of the last sample alone, by
    /// tensor: what a moving average folds in after each sample. Accumulators that cannot
    /// tell say so.
    fn read_sample(&mut self) -> Result<BTreeMap<usize, TensorStats>> {
        Err(Error::Unsupported(
            "this engine's statistics accumulator keeps no per-sample statistics".into(),
        ))
    }

    /// For the engine's session to reach its own accumulator type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// The host fold: an [`Observer`] keeping [`TensorStats`] of every float32 tensor it is shown
/// (or those of [`StatsRequest::tensors`]) and the requested histograms.
#[derive(Debug, Clone, Default)]
pub struct HostStats {
    only: Option<std::collections::BTreeSet<usize>>,
    /// What was folded so far.
    pub summary: StatsSummary,
    edges: BTreeMap<usize, Vec<f32>>,
    /// The current sample's statistics, when tracked ([`HostStats::track_samples`]).
    sample: Option<BTreeMap<usize, TensorStats>>,
}

impl HostStats {
    /// A fold for `request`.
    pub fn new(request: &StatsRequest) -> Self {
        let only = request.tensors.as_ref().map(|t| {
            t.iter()
                .copied()
                .chain(request.histograms.keys().copied())
                .collect()
        });
        let mut summary = StatsSummary::default();
        let mut edges = BTreeMap::new();
        for (&t, &spec) in &request.histograms {
            summary.histograms.insert(t, Histogram::new(spec));
            edges.insert(t, spec.edges());
        }
        Self {
            only,
            summary,
            edges,
            sample: None,
        }
    }

    /// Also keep each sample's own statistics, for [`HostStats::take_sample`].
    pub fn track_samples(&mut self) {
        self.sample.get_or_insert_with(BTreeMap::new);
    }

    /// The statistics folded since the last call (one sample's, when called after each
    /// run), and start the next sample. Empty unless [`HostStats::track_samples`].
    pub fn take_sample(&mut self) -> BTreeMap<usize, TensorStats> {
        match &mut self.sample {
            Some(s) => std::mem::take(s),
            None => BTreeMap::new(),
        }
    }

    /// Fold in `later`, the statistics of values that come after those folded so far (a
    /// later sample's, of the same request): what folding its values would give.
    pub fn merge(&mut self, later: &StatsSummary) {
        for (&t, s) in &later.tensors {
            self.summary.tensors.entry(t).or_default().merge(s);
            if let Some(sample) = &mut self.sample {
                sample.entry(t).or_default().merge(s);
            }
        }
        for (t, h) in &later.histograms {
            if let Some(mine) = self.summary.histograms.get_mut(t) {
                mine.merge(h);
            }
        }
    }

    /// Fold the values of `tensor` in.
    pub fn add(&mut self, tensor: usize, values: &[f32]) {
        if !self.only.as_ref().is_none_or(|o| o.contains(&tensor)) {
            return;
        }
        self.summary.tensors.entry(tensor).or_default().add(values);
        if let Some(sample) = &mut self.sample {
            sample.entry(tensor).or_default().add(values);
        }
        if let (Some(h), Some(edges)) = (
            self.summary.histograms.get_mut(&tensor),
            self.edges.get(&tensor),
        ) {
            for &x in values {
                match h.spec.place(edges, x) {
                    Bin::NonFinite => {}
                    Bin::Below => h.below += 1,
                    Bin::Above => h.above += 1,
                    Bin::In(k) => h.counts[k] += 1,
                }
            }
        }
    }
}

impl Observer for HostStats {
    fn observe(&mut self, tensor: usize, _name: &str, value: &Tensor) -> Result<()> {
        if let Buf::F32(v) = value.buf() {
            self.add(tensor, v);
        }
        Ok(())
    }

    fn wants(&self, tensor: usize) -> bool {
        self.only.as_ref().is_none_or(|o| o.contains(&tensor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_are_counted_not_ranged() {
        let mut s = TensorStats::default();
        s.add(&[1.0, f32::NAN, -2.0, f32::INFINITY, f32::NEG_INFINITY, 0.5]);
        assert_eq!((s.min, s.max, s.count, s.nan, s.inf), (-2.0, 1.0, 3, 1, 2));
        let mut e = TensorStats::default();
        e.add(&[f32::NAN]);
        assert!(!e.has_range());
    }

    #[test]
    fn a_zero_extreme_keeps_the_sign_of_the_first_zero() {
        let mut s = TensorStats::default();
        s.add(&[0.5, -0.0, 0.0, 1.0]);
        assert!(s.min == 0.0 && s.min.is_sign_negative());
        let mut s = TensorStats::default();
        s.add(&[-1.0, 0.0, -0.0]);
        assert!(s.max == 0.0 && s.max.is_sign_positive());
    }

    /// The lane-wise fold gives the in-order fold's bits, zero signs and ties included.
    #[test]
    fn the_fast_fold_equals_the_in_order_fold() {
        let mut seed = 11u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        for case in 0..300 {
            let n = (next() % 70) as usize;
            let values: Vec<f32> = (0..n)
                .map(|_| match next() % 9 {
                    0 => 0.0,
                    1 => -0.0,
                    2 if case % 5 == 0 => f32::NAN,
                    3 if case % 7 == 0 => f32::INFINITY,
                    _ => (next() % 7) as f32 - 3.0,
                })
                .collect();
            let (mut fast, mut slow) = (TensorStats::default(), TensorStats::default());
            for part in values.chunks(1 + case % 23) {
                fast.add(part);
                slow.add_in_order(part);
            }
            let b = |s: &TensorStats| (s.min.to_bits(), s.max.to_bits(), s.count, s.nan, s.inf);
            assert_eq!(b(&fast), b(&slow), "{values:?}");
        }
    }

    #[test]
    fn histogram_specs_are_checked() {
        assert!(HistogramSpec::new(1.0, 1.0, 4).is_err());
        assert!(HistogramSpec::new(2.0, 1.0, 4).is_err());
        assert!(HistogramSpec::new(f32::NEG_INFINITY, 1.0, 4).is_err());
        assert!(HistogramSpec::new(0.0, f32::NAN, 4).is_err());
        assert!(HistogramSpec::new(0.0, 1.0, 0).is_err());
        assert!(HistogramSpec::new(0.0, 1.0, MAX_BINS + 1).is_err());
        assert!(HistogramSpec::new(0.0, 1.0, MAX_BINS).is_ok());
    }

    #[test]
    fn bins_follow_the_edges() {
        let spec = HistogramSpec::new(-1.0, 3.0, 4).unwrap();
        let e = spec.edges();
        assert_eq!(e, vec![-1.0, 0.0, 1.0, 2.0, 3.0]);
        let at = |x| spec.place(&e, x);
        assert_eq!(at(-1.0), Bin::In(0));
        assert_eq!(at(-0.0), Bin::In(1));
        assert_eq!(at(0.0), Bin::In(1));
        assert_eq!(at(0.999_999_9), Bin::In(1));
        assert_eq!(at(2.0), Bin::In(3));
        assert_eq!(at(3.0), Bin::In(3));
        assert_eq!(at(3.000_000_2), Bin::Above);
        assert_eq!(at(-1.000_000_1), Bin::Below);
        assert_eq!(at(f32::NAN), Bin::NonFinite);
        assert_eq!(at(f32::NEG_INFINITY), Bin::NonFinite);
        let mut h = Histogram::new(spec);
        h.add(&[-5.0, -1.0, 0.5, 0.5, 3.0, 4.0, f32::INFINITY]);
        assert_eq!(
            (h.counts.clone(), h.below, h.above),
            (vec![1, 2, 0, 1], 1, 1)
        );
        assert_eq!(h.total(), 6);
    }

    #[test]
    fn narrow_ranges_give_empty_bins_not_disorder() {
        // More bins than f32 values in the range: edges repeat, never decrease.
        let lo = 1.0f32;
        let hi = f32::from_bits(lo.to_bits() + 3);
        let spec = HistogramSpec::new(lo, hi, 10).unwrap();
        let e = spec.edges();
        assert!(e.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!((e[0], e[10]), (lo, hi));
        let mut h = Histogram::new(spec);
        let vals: Vec<f32> = (0..4).map(|k| f32::from_bits(lo.to_bits() + k)).collect();
        h.add(&vals);
        assert_eq!(h.counts.iter().sum::<u64>(), 4);
        assert_eq!(h.counts[9], 1);
    }

    #[test]
    fn the_host_fold_keeps_what_is_asked() {
        let spec = HistogramSpec::new(0.0, 1.0, 2).unwrap();
        let mut req = StatsRequest {
            tensors: Some(vec![1]),
            ..Default::default()
        };
        req.histograms.insert(3, spec);
        let mut h = HostStats::new(&req);
        assert!(h.wants(1) && h.wants(3) && !h.wants(2));
        h.add(1, &[0.25, 2.0]);
        h.add(2, &[0.25]);
        h.add(3, &[0.25, 0.75, 0.5]);
        assert_eq!(
            h.summary.tensors.keys().copied().collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(h.summary.histograms[&3].counts, vec![1, 2]);
        assert_eq!(h.summary.tensors[&1].max, 2.0);
    }
}
