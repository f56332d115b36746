//! Calibration methods: how a tensor's calibration statistics become the range `(min, max)`
//! its quantization parameters are made from.
//!
//! A [`CalibrationMethod`] turns [`Stats`] into per-tensor ranges for a [`TargetGrid`]
//! ([`Stats::with_method`], [`Stats::method_ranges`], [`tensor_range`]); the quantizer then
//! makes parameters from the ranges as it does from calibrated min/max, so [`crate::quant::quantize`]
//! is unchanged, and ranges of several methods can be mixed per tensor
//! ([`Stats::with_ranges`]). Only activations: weights keep the converter's rules.
//!
//! | method | statistics | range |
//! |---|---|---|
//! | `minmax` (default) | pass 1 | global min/max over every sample, as TF's calibrator (with its in-place widening, [`crate::CalibrationOptions::converter_in_place`]): the converter's parameters to the bit |
//! | `moving-average[:m]` | pass 1, per-sample min/max | ai-edge-quantizer's exponential moving average, `m` = 0.95 ([`moving_average`]) |
//! | `percentile[:p]` | pass 2 histogram | the `p`% percentile range ([`histogram::percentile`]), `p` = 99.99 |
//! | `mse` | pass 2 histogram | the range minimising the expected quantization MSE ([`histogram::mse`]) |
//! | `entropy` | pass 2 histogram | TensorRT's KL-divergence threshold, asymmetric ([`histogram::entropy`]) |
//!
//! ```no_run
//! # fn main() -> litequant::Result<()> {
//! use litequant::quant::{calibrate_for, quantize, CalibrationMethod, QuantizeOptions, TargetGrid};
//! use litequant::{Engine, Session};
//! let float = litequant::Model::from_file("model.tflite")?;
//! let engine = litequant::ReferenceEngine;
//! let inputs = engine.prepare(&float)?.inputs().to_vec();
//! let method: CalibrationMethod = "entropy".parse()?;
//! // Pass 1 (ranges), and pass 2 (histograms) since entropy reads them: the data twice.
//! let mut open = || litequant::data::open("calib.npz", &inputs, &Default::default());
//! let needs = method.needs(litequant::quant::methods::DEFAULT_HISTOGRAM_BINS);
//! let stats = calibrate_for(&float, &engine, &mut open, &needs, &Default::default())?;
//! stats.save("stats.json".as_ref(), &float, "model.tflite")?; // quantize again without data
//! let chosen = stats.with_method(method, TargetGrid::Int8Asymmetric)?;
//! let (int8, report) = quantize(&float, Some(&chosen), &QuantizeOptions::int8())?;
//! # Ok(()) }
//! ```
//!
//! The methods other than `minmax` read each tensor's own values: the converter's in-place
//! widening (an ADD/SUB/MUL/DIV input's range spanning the op's output, an artifact of TF's
//! calibrator) does not apply to them; their histograms span each tensor's own range
//! ([`crate::quant::calibrate_histograms`]).

pub mod histogram;
pub mod moving_average;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub use moving_average::MovingAverage;

use crate::quant::calibrate::Stats;
use crate::{Error, Result};

/// ai-edge-quantizer's default smoothing factor (`moving_average_update`,
/// `ai_edge_quantizer/utils/qsv_utils.py`).
pub const DEFAULT_MOMENTUM: f64 = 0.95;
/// The default percentile of `percentile`.
pub const DEFAULT_PERCENTILE: f64 = 99.99;
/// The default histogram bin count (TensorRT's 2048).
pub const DEFAULT_HISTOGRAM_BINS: usize = 2048;

/// The grid a range is chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetGrid {
    /// int8 activations, asymmetric: 256 levels over `[min, max]` (0 included).
    #[default]
    Int8Asymmetric,
    /// int16 activations, symmetric, zero point 0: levels `-32767..=32767` over
    /// `[-t, t]`, `t = max(|min|, |max|)` (the 16x8 mode).
    Int16Symmetric,
}

impl TargetGrid {
    /// The activation grid of a quantization mode: int16 symmetric for
    /// [`Mode::Int16x8`](crate::quant::Mode::Int16x8), int8 asymmetric otherwise.
    pub fn for_mode(mode: crate::quant::Mode) -> TargetGrid {
        match mode {
            crate::quant::Mode::Int16x8 => TargetGrid::Int16Symmetric,
            _ => TargetGrid::Int8Asymmetric,
        }
    }
}

/// How calibration statistics become a tensor's range. Parse with [`FromStr`]
/// (`minmax`, `moving-average[:m]`, `percentile[:p]`, `mse`, `entropy`); [`fmt::Display`]
/// writes the same spelling with every parameter.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum CalibrationMethod {
    /// Global min/max, as TF's converter: its parameters to the bit.
    #[default]
    MinMax,
    /// Exponential moving average of per-sample min/max with this momentum (`0 < m < 1`).
    MovingAverage(f64),
    /// The percentile range at `p` percent (`50 < p <= 100`).
    Percentile(f64),
    /// The range minimising the expected quantization MSE.
    Mse,
    /// TensorRT's KL-divergence (entropy) threshold.
    Entropy,
}

/// What a method needs calibration to collect.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsNeeds {
    /// Moving averages of per-sample min/max, by momentum (pass 1).
    pub moving_averages: Vec<f64>,
    /// Histograms of every tensor (pass 2), with this many bins.
    pub histogram_bins: Option<usize>,
}

impl StatsNeeds {
    /// Everything any method needs (what a calibration cache should hold): the default
    /// moving average and histograms of `bins` bins.
    pub fn all(bins: usize) -> Self {
        StatsNeeds {
            moving_averages: vec![DEFAULT_MOMENTUM],
            histogram_bins: Some(bins),
        }
    }

    /// Both needs together.
    pub fn union(mut self, other: &StatsNeeds) -> Self {
        for &m in &other.moving_averages {
            if !self.moving_averages.contains(&m) {
                self.moving_averages.push(m);
            }
        }
        self.histogram_bins = self.histogram_bins.max(other.histogram_bins);
        self
    }
}

impl CalibrationMethod {
    /// The method's name without parameters.
    pub fn name(&self) -> &'static str {
        match self {
            CalibrationMethod::MinMax => "minmax",
            CalibrationMethod::MovingAverage(_) => "moving-average",
            CalibrationMethod::Percentile(_) => "percentile",
            CalibrationMethod::Mse => "mse",
            CalibrationMethod::Entropy => "entropy",
        }
    }

    /// Whether the method reads histograms (calibration's second pass).
    pub fn needs_histograms(&self) -> bool {
        matches!(
            self,
            CalibrationMethod::Percentile(_) | CalibrationMethod::Mse | CalibrationMethod::Entropy
        )
    }

    /// What calibration must collect for this method (`bins`: the histogram bin count).
    pub fn needs(&self, bins: usize) -> StatsNeeds {
        StatsNeeds {
            moving_averages: match self {
                CalibrationMethod::MovingAverage(m) => vec![*m],
                _ => Vec::new(),
            },
            histogram_bins: self.needs_histograms().then_some(bins),
        }
    }

    /// Check the parameter.
    pub fn validate(&self) -> Result<()> {
        match *self {
            CalibrationMethod::MovingAverage(m) if !(m > 0.0 && m < 1.0) => Err(Error::Data(
                format!("moving-average momentum {m}: it must be in (0, 1) (default 0.95)"),
            )),
            CalibrationMethod::Percentile(p) if !(p > 50.0 && p <= 100.0) => Err(Error::Data(
                format!("percentile {p}: it must be in (50, 100] (default 99.99)"),
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for CalibrationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalibrationMethod::MovingAverage(m) => write!(f, "moving-average:{m}"),
            CalibrationMethod::Percentile(p) => write!(f, "percentile:{p}"),
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for CalibrationMethod {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let number = |what: &str, default: f64| -> Result<f64> {
            match arg {
                None => Ok(default),
                Some(a) => a.trim().parse::<f64>().map_err(|_| {
                    Error::Data(format!(
                        "calibration method '{s}': '{a}' is not a number ({what})"
                    ))
                }),
            }
        };
        let method = match name {
            "minmax" | "min-max" => CalibrationMethod::MinMax,
            "moving-average" => {
                CalibrationMethod::MovingAverage(number("the momentum", DEFAULT_MOMENTUM)?)
            }
            "percentile" => {
                CalibrationMethod::Percentile(number("the percentile", DEFAULT_PERCENTILE)?)
            }
            "mse" => CalibrationMethod::Mse,
            "entropy" => CalibrationMethod::Entropy,
            _ => {
                return Err(Error::Data(format!(
                    "unknown calibration method '{s}': use minmax, moving-average[:m], \
                     percentile[:p], mse or entropy"
                )))
            }
        };
        if arg.is_some()
            && !matches!(
                method,
                CalibrationMethod::MovingAverage(_) | CalibrationMethod::Percentile(_)
            )
        {
            return Err(Error::Data(format!(
                "calibration method '{s}': {name} takes no parameter"
            )));
        }
        method.validate()?;
        Ok(method)
    }
}

/// The range `method` chooses for `tensor` from `stats`, for `grid`; `None` when the
/// statistics hold no finite value of it (the tensor keeps whatever `stats` has).
///
/// Errors: the statistics lack what the method needs (no moving average with that
/// momentum, no histograms at all).
pub fn tensor_range(
    stats: &Stats,
    tensor: usize,
    method: CalibrationMethod,
    grid: TargetGrid,
) -> Result<Option<(f32, f32)>> {
    method.validate()?;
    let Some(s) = stats.tensors.get(&tensor).filter(|s| s.has_range()) else {
        return Ok(None);
    };
    // The tensor's own values (the in-place widening undone).
    let own = stats
        .unwidened
        .get(&tensor)
        .filter(|s| s.has_range())
        .unwrap_or(s);
    match method {
        CalibrationMethod::MinMax => Ok(Some((s.min, s.max))),
        CalibrationMethod::MovingAverage(m) => {
            let ema = stats.moving_average(m).ok_or_else(|| {
                let have: Vec<String> = stats
                    .moving_averages
                    .iter()
                    .map(|a| a.momentum.to_string())
                    .collect();
                Error::Data(format!(
                    "the calibration statistics hold no moving average with momentum {m} \
                     (they hold: {}): calibrate with it",
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                ))
            })?;
            Ok(ema.ranges.get(&tensor).copied())
        }
        CalibrationMethod::Percentile(_) | CalibrationMethod::Mse | CalibrationMethod::Entropy => {
            if stats.histograms.is_empty() {
                return Err(Error::Data(format!(
                    "calibration method {method} needs histograms, and the calibration \
                     statistics hold none: calibrate with histograms (the second pass)"
                )));
            }
            // No histogram: a tensor whose own range is the single value 0.
            let Some(h) = stats.histograms.get(&tensor) else {
                return Ok(Some((own.min, own.max)));
            };
            Ok(match method {
                CalibrationMethod::Percentile(p) => histogram::percentile(h, p, grid),
                CalibrationMethod::Mse => histogram::mse(h, grid),
                _ => histogram::entropy(h, grid),
            })
        }
    }
}

impl Stats {
    /// The moving average of per-sample ranges with momentum `m`, if calibration kept it.
    pub fn moving_average(&self, m: f64) -> Option<&MovingAverage> {
        self.moving_averages.iter().find(|a| a.momentum == m)
    }

    /// Every tensor's range by `method` for `grid` (tensors without a finite value are left
    /// out).
    pub fn method_ranges(
        &self,
        method: CalibrationMethod,
        grid: TargetGrid,
    ) -> Result<BTreeMap<usize, (f32, f32)>> {
        // Tensors are independent: the histogram methods (entropy's window search above all)
        // run on the available cores; the result does not depend on how they are split.
        let tensors: Vec<usize> = self.tensors.keys().copied().collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = tensors.len().div_ceil(threads.max(1)).max(1);
        type Part = Result<Vec<(usize, (f32, f32))>>;
        let parts: Vec<Part> = std::thread::scope(|scope| {
            let handles: Vec<_> = tensors
                .chunks(per)
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        for &t in chunk {
                            if let Some(r) = tensor_range(self, t, method, grid)? {
                                out.push((t, r));
                            }
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Data("a calibration-method thread panicked".into()))
                    })
                })
                .collect()
        });
        let mut out = BTreeMap::new();
        for part in parts {
            out.extend(part?);
        }
        Ok(out)
    }

    /// These statistics with the ranges (min, max) of the tensors in `ranges` replaced (the
    /// counts kept): what [`crate::quant::quantize`] then quantizes with. Marked
    /// [`Stats::chosen_by`] `per-tensor` (set it to say more).
    pub fn with_ranges(&self, ranges: &BTreeMap<usize, (f32, f32)>) -> Stats {
        let mut out = self.clone();
        out.chosen_by = Some("per-tensor".into());
        for (t, &(lo, hi)) in ranges {
            if let Some(s) = out.tensors.get_mut(t) {
                s.min = lo;
                s.max = hi;
            }
        }
        out
    }

    /// These statistics with every tensor's range chosen by `method` for `grid`.
    /// `minmax` returns them unchanged (the converter's ranges to the bit).
    pub fn with_method(&self, method: CalibrationMethod, grid: TargetGrid) -> Result<Stats> {
        if method == CalibrationMethod::MinMax {
            return Ok(self.clone());
        }
        let mut out = self.with_ranges(&self.method_ranges(method, grid)?);
        out.chosen_by = Some(method.to_string());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_and_print() {
        for (s, m) in [
            ("minmax", CalibrationMethod::MinMax),
            ("moving-average", CalibrationMethod::MovingAverage(0.95)),
            ("moving-average:0.9", CalibrationMethod::MovingAverage(0.9)),
            ("percentile", CalibrationMethod::Percentile(99.99)),
            ("percentile:99.9", CalibrationMethod::Percentile(99.9)),
            ("mse", CalibrationMethod::Mse),
            ("entropy", CalibrationMethod::Entropy),
        ] {
            let got: CalibrationMethod = s.parse().unwrap();
            assert_eq!(got, m, "{s}");
            assert_eq!(got.to_string().parse::<CalibrationMethod>().unwrap(), m);
        }
        assert_eq!(CalibrationMethod::default().to_string(), "minmax");
        assert_eq!(
            CalibrationMethod::MovingAverage(0.95).to_string(),
            "moving-average:0.95"
        );
        for bad in [
            "minmax:1",
            "moving-average:1.5",
            "moving-average:x",
            "percentile:30",
            "percentile:100.5",
            "kl",
            "",
        ] {
            assert!(bad.parse::<CalibrationMethod>().is_err(), "{bad}");
        }
    }

    #[test]
    fn needs_follow_the_method() {
        assert_eq!(CalibrationMethod::MinMax.needs(2048), StatsNeeds::default());
        assert_eq!(
            CalibrationMethod::MovingAverage(0.9)
                .needs(2048)
                .moving_averages,
            vec![0.9]
        );
        assert_eq!(CalibrationMethod::Mse.needs(512).histogram_bins, Some(512));
        let all = StatsNeeds::all(2048).union(&CalibrationMethod::MovingAverage(0.9).needs(16));
        assert_eq!(all.moving_averages, vec![0.95, 0.9]);
        assert_eq!(all.histogram_bins, Some(2048));
    }
}
