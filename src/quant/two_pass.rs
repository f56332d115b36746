//! Calibration's second pass: histograms of every tensor over its own range, for the
//! calibration methods that read a distribution (percentile, MSE, entropy).
//!
//! Pass 1 ([`calibrate`]) finds each tensor's range (and the per-sample moving averages);
//! pass 2 runs the same data again and counts each tensor's values into
//! [`DEFAULT_HISTOGRAM_BINS`](crate::quant::methods::DEFAULT_HISTOGRAM_BINS) bins over
//! `[min(lo, 0), max(hi, 0)]`, `(lo, hi)` the tensor's own range (before the converter's
//! in-place widening). Memory is the histograms', whatever the number of samples. The
//! engine counts: on the GPU engine the reduction kernels of `shaders/stats.wgsl`, else the
//! host fold; both give the same counts for the same values and edges.

use std::collections::BTreeMap;

use crate::data::Dataset;
use crate::engine::Engine;
use crate::model::Model;
use crate::quant::calibrate::{calibrate, CalibrationOptions, Stats};
use crate::quant::methods::StatsNeeds;
use crate::quant::stats::HistogramSpec;
use crate::{Error, Result};

/// The histogram of every tensor of `stats` with a range: `bins` bins over its own range
/// widened to include 0. Tensors whose only value is 0 get none (a range of one value).
pub fn histogram_specs(stats: &Stats, bins: usize) -> Result<BTreeMap<usize, HistogramSpec>> {
    let mut out = BTreeMap::new();
    for (&t, s) in &stats.tensors {
        let own = stats.unwidened.get(&t).unwrap_or(s);
        if !own.has_range() {
            continue;
        }
        let (lo, hi) = (own.min.min(0.0), own.max.max(0.0));
        if lo < hi {
            out.insert(t, HistogramSpec::new(lo, hi, bins)?);
        }
    }
    Ok(out)
}

/// Pass 2: run `model` on `engine` over `data` (the data of pass 1 again, from its start)
/// and add to `stats` the histograms of [`histogram_specs`]. Errors when the data are not
/// those of pass 1 (another number of samples, or other ranges: the bins would not cover
/// the values).
pub fn calibrate_histograms<E: Engine>(
    model: &Model,
    engine: &E,
    data: &mut dyn Dataset,
    stats: &mut Stats,
    bins: usize,
    opts: &CalibrationOptions,
) -> Result<()> {
    let specs = histogram_specs(stats, bins)?;
    let pass = CalibrationOptions {
        histograms: specs,
        converter_in_place: false,
        moving_averages: Vec::new(),
        progress: opts.progress.clone(),
        cancel: opts.cancel.clone(),
        max_samples: opts.max_samples,
        device_statistics: opts.device_statistics,
        threads: opts.threads,
    };
    let second = calibrate(model, engine, data, &pass)?;
    if second.samples != stats.samples {
        return Err(Error::Data(format!(
            "the histogram pass ran {} samples, calibration {}: give it the same data",
            second.samples, stats.samples
        )));
    }
    for t in second.histograms.keys() {
        let own = stats.unwidened.get(t).or(stats.tensors.get(t));
        let again = second.tensors.get(t);
        let same = match (own, again) {
            (Some(a), Some(b)) => {
                a.min.to_bits() == b.min.to_bits()
                    && a.max.to_bits() == b.max.to_bits()
                    && a.count == b.count
            }
            _ => false,
        };
        if !same {
            let name = model
                .main()
                .tensors
                .get(*t)
                .map_or("?", |x| x.name.as_str());
            return Err(Error::Data(format!(
                "tensor {t} '{name}': the histogram pass saw other values than calibration \
                 ({own:?} then {again:?}): give it the same data on the same engine"
            )));
        }
    }
    stats.histograms = second.histograms;
    Ok(())
}

/// Calibrate for what `needs` says: pass 1 with its moving averages, and pass 2 (histograms)
/// when it asks for them. `open_data` gives the data from its start (called once per pass).
pub fn calibrate_for<E: Engine, D: Dataset>(
    model: &Model,
    engine: &E,
    open_data: &mut dyn FnMut() -> Result<D>,
    needs: &StatsNeeds,
    opts: &CalibrationOptions,
) -> Result<Stats> {
    let mut first = opts.clone();
    for &m in &needs.moving_averages {
        if !first.moving_averages.contains(&m) {
            first.moving_averages.push(m);
        }
    }
    let mut data = open_data()?;
    let mut stats = calibrate(model, engine, &mut data, &first)?;
    drop(data);
    if let Some(bins) = needs.histogram_bins {
        let mut data = open_data()?;
        calibrate_histograms(model, engine, &mut data, &mut stats, bins, opts)?;
    }
    Ok(stats)
}
