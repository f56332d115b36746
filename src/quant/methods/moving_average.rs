//! ai-edge-quantizer's moving-average calibration: an exponential moving average of each
//! tensor's per-sample min and max.
//!
//! ai-edge-quantizer 0.10.0 (`ai_edge_quantizer/calibrator.py`, `Calibrator._update_qsvs`;
//! `utils/qsv_utils.py`, `moving_average_update` and `_update_moving_average`;
//! `algorithms/uniform_quantize/common_quantize.py`, `get_activation_min_max`):
//! - per sample, each tensor's statistics are `np.min` / `np.max` of its values, float32
//!   arrays of shape `(1,) * rank`;
//! - the first sample's statistics are kept as they are (`if not qsv: return new_qsv`);
//! - every later sample updates `min` and `max` as
//!   `smoothing_factor * w + (1.0 - smoothing_factor) * update`, with the Python float
//!   `smoothing_factor = 0.95`: NumPy (2.x) computes it in float32 — `f32(m) · w` rounded,
//!   `f32(1 - m) · u` rounded (`1 - m` in double first), then their float32 sum;
//! - the update order is the sample order.
//!
//! Not reproduced: ai-edge-quantizer ignores values beyond ±3e38 for min/max
//! (`valid_range`, for bfloat16 `-inf` padding); here such values are finite values like
//! any other, and NaN/±Inf make the statistics refuse to quantize. A sample in which a
//! tensor has no finite value leaves its average unchanged.

use std::collections::BTreeMap;

use crate::quant::stats::TensorStats;

/// One step of the average: `f32(m) · old + f32(1 - m) · new`, each product and the sum
/// rounded to float32 (ai-edge-quantizer's NumPy arithmetic).
pub fn ema_step(m: f64, old: f32, new: f32) -> f32 {
    let a = (m as f32) * old;
    let b = ((1.0 - m) as f32) * new;
    a + b
}

/// The moving averages of every tensor's per-sample (min, max) with one momentum.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MovingAverage {
    /// The smoothing factor `m` (ai-edge-quantizer's default 0.95).
    pub momentum: f64,
    /// The averaged (min, max), by tensor index.
    pub ranges: BTreeMap<usize, (f32, f32)>,
}

impl MovingAverage {
    /// An empty average with momentum `m`.
    pub fn new(momentum: f64) -> Self {
        MovingAverage {
            momentum,
            ranges: BTreeMap::new(),
        }
    }

    /// Fold in one sample's statistics (tensors with no finite value are skipped).
    pub fn add_sample<'a>(&mut self, sample: impl IntoIterator<Item = (usize, &'a TensorStats)>) {
        for (t, s) in sample {
            if !s.has_range() {
                continue;
            }
            self.ranges
                .entry(t)
                .and_modify(|(lo, hi)| {
                    *lo = ema_step(self.momentum, *lo, s.min);
                    *hi = ema_step(self.momentum, *hi, s.max);
                })
                .or_insert((s.min, s.max));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_sample_is_kept_and_later_ones_are_averaged_in_float32() {
        let mut a = MovingAverage::new(0.95);
        let s = |min, max| TensorStats {
            min,
            max,
            count: 1,
            ..Default::default()
        };
        a.add_sample([(3, &s(-1.0, 2.0)), (4, &TensorStats::default())]);
        assert_eq!(a.ranges[&3], (-1.0, 2.0));
        assert!(!a.ranges.contains_key(&4));
        a.add_sample([(3, &s(-3.0, 1.0))]);
        let want = |old: f32, new: f32| 0.95f32 * old + 0.05f32 * new;
        assert_eq!(a.ranges[&3], (want(-1.0, -3.0), want(2.0, 1.0)));
        // f32(1 - 0.95) is f32(0.05): the double 0.050000000000000044 rounds to it.
        assert_eq!((1.0f64 - 0.95) as f32, 0.05f32);
    }
}
