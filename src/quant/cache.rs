//! The calibration cache: [`Stats`] saved to a file and loaded back, so that quantizing
//! again with another method or mode does not run the data again.
//!
//! The file is JSON (`"format": "litequant-calibration-stats"`, `"version": 1`) holding
//! everything any calibration method reads: per tensor the range (widened as TF's
//! calibrator sees it) and counts, the own range of the widened tensors, the moving
//! averages by momentum, the histograms, and the number of samples. Floats are stored as
//! their float32 bit patterns (`*_bits`, exact; the decimal values beside them are for
//! reading only). It is tied to the model: a fingerprint of the main subgraph (tensor
//! names, types, shapes and constant bytes; operators and their tensors) is stored and
//! checked on load — statistics made for another model are an error naming both. Written
//! atomically ([`crate::write_atomic`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::quant::calibrate::Stats;
use crate::quant::methods::MovingAverage;
use crate::quant::stats::{Histogram, HistogramSpec, TensorStats};
use crate::{Error, Result};

/// The `format` field of a cache file.
pub const FORMAT: &str = "litequant-calibration-stats";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;

/// A 64-bit FNV-1a fingerprint of `model`'s main subgraph: what a cache is tied to.
pub fn model_fingerprint(model: &Model) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so that concatenations differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    let sg = model.main();
    for t in &sg.tensors {
        eat(t.name.as_bytes());
        eat(t.dtype.to_string().as_bytes());
        for d in &t.shape {
            eat(&d.to_le_bytes());
        }
        if let Some(d) = &t.data {
            eat(d);
        }
    }
    for op in &sg.operators {
        eat(op.op.name().as_bytes());
        for i in op.inputs.iter().chain(&op.outputs) {
            eat(&i.to_le_bytes());
        }
    }
    for i in sg.inputs.iter().chain(&sg.outputs) {
        eat(&i.to_le_bytes());
    }
    h
}

#[derive(Serialize, Deserialize)]
struct ModelId {
    fingerprint: String,
    /// Where the model was read from, for messages.
    label: String,
    tensors: usize,
    operators: usize,
}

#[derive(Serialize, Deserialize)]
struct TensorEntry {
    index: usize,
    name: String,
    min_bits: u32,
    max_bits: u32,
    min: Option<f64>,
    max: Option<f64>,
    count: u64,
    nan: u64,
    inf: u64,
}

#[derive(Serialize, Deserialize)]
struct AverageEntry {
    momentum: f64,
    /// `[tensor, min_bits, max_bits]`.
    ranges: Vec<(usize, u32, u32)>,
}

#[derive(Serialize, Deserialize)]
struct HistogramEntry {
    tensor: usize,
    lo_bits: u32,
    hi_bits: u32,
    bins: usize,
    below: u64,
    above: u64,
    counts: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    format: String,
    version: u32,
    model: ModelId,
    samples: usize,
    tensors: Vec<TensorEntry>,
    unwidened: Vec<TensorEntry>,
    moving_averages: Vec<AverageEntry>,
    histograms: Vec<HistogramEntry>,
    /// [`Stats::chosen_by`] (absent: calibration's own ranges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chosen_by: Option<String>,
}

fn finite(x: f32) -> Option<f64> {
    x.is_finite().then_some(f64::from(x))
}

fn entries(model: &Model, map: &BTreeMap<usize, TensorStats>) -> Vec<TensorEntry> {
    map.iter()
        .map(|(&t, s)| TensorEntry {
            index: t,
            name: model
                .main()
                .tensors
                .get(t)
                .map_or(String::new(), |x| x.name.clone()),
            min_bits: s.min.to_bits(),
            max_bits: s.max.to_bits(),
            min: finite(s.min),
            max: finite(s.max),
            count: s.count,
            nan: s.nan,
            inf: s.inf,
        })
        .collect()
}

fn stats_of(list: Vec<TensorEntry>) -> BTreeMap<usize, TensorStats> {
    list.into_iter()
        .map(|e| {
            (
                e.index,
                TensorStats {
                    min: f32::from_bits(e.min_bits),
                    max: f32::from_bits(e.max_bits),
                    count: e.count,
                    nan: e.nan,
                    inf: e.inf,
                },
            )
        })
        .collect()
}

impl Stats {
    /// The cache file's bytes for these statistics of `model` (`label`: where the model
    /// was read from, recorded for messages).
    pub fn to_cache_json(&self, model: &Model, label: &str) -> String {
        let sg = model.main();
        let file = CacheFile {
            format: FORMAT.into(),
            version: VERSION,
            model: ModelId {
                fingerprint: format!("{:016x}", model_fingerprint(model)),
                label: label.into(),
                tensors: sg.tensors.len(),
                operators: sg.operators.len(),
            },
            samples: self.samples,
            tensors: entries(model, &self.tensors),
            unwidened: entries(model, &self.unwidened),
            moving_averages: self
                .moving_averages
                .iter()
                .map(|a| AverageEntry {
                    momentum: a.momentum,
                    ranges: a
                        .ranges
                        .iter()
                        .map(|(&t, &(lo, hi))| (t, lo.to_bits(), hi.to_bits()))
                        .collect(),
                })
                .collect(),
            histograms: self
                .histograms
                .iter()
                .map(|(&t, h)| HistogramEntry {
                    tensor: t,
                    lo_bits: h.spec.lo().to_bits(),
                    hi_bits: h.spec.hi().to_bits(),
                    bins: h.spec.bins(),
                    below: h.below,
                    above: h.above,
                    counts: h.counts.clone(),
                })
                .collect(),
            chosen_by: self.chosen_by.clone(),
        };
        serde_json::to_string(&file).unwrap_or_default()
    }

    /// Save these statistics of `model` to `path`, atomically.
    pub fn save(&self, path: &Path, model: &Model, label: &str) -> Result<()> {
        crate::write_atomic(path, self.to_cache_json(model, label).as_bytes())
    }

    /// Statistics from a cache file's text, checked against `model` (`label`: where it was
    /// read from; `what`: the cache's name in messages).
    pub fn from_cache_json(text: &str, model: &Model, label: &str, what: &str) -> Result<Stats> {
        let bad =
            |why: String| Error::Data(format!("{what}: not a litequant statistics file: {why}"));
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(bad(format!("no \"format\": \"{FORMAT}\"")));
        }
        let version = v.get("version").and_then(|x| x.as_u64());
        if version != Some(u64::from(VERSION)) {
            return Err(Error::Data(format!(
                "{what}: statistics file version {}, this build reads version {VERSION}: \
                 calibrate again and save the statistics anew",
                version.map_or("?".into(), |x| x.to_string())
            )));
        }
        let file: CacheFile = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        let want = format!("{:016x}", model_fingerprint(model));
        if file.model.fingerprint != want {
            return Err(Error::Data(format!(
                "{what}: the statistics were made for the model '{}' (fingerprint {}, {} \
                 tensors, {} operators), not for '{label}' (fingerprint {want}, {} tensors, \
                 {} operators): calibrate this model and save its statistics",
                file.model.label,
                file.model.fingerprint,
                file.model.tensors,
                file.model.operators,
                model.main().tensors.len(),
                model.main().operators.len()
            )));
        }
        let n = model.main().tensors.len();
        let mut histograms = BTreeMap::new();
        for h in file.histograms {
            let spec =
                HistogramSpec::new(f32::from_bits(h.lo_bits), f32::from_bits(h.hi_bits), h.bins)
                    .map_err(|e| bad(format!("histogram of tensor {}: {e}", h.tensor)))?;
            if h.counts.len() != h.bins || h.tensor >= n {
                return Err(bad(format!(
                    "histogram of tensor {}: {} counts for {} bins",
                    h.tensor,
                    h.counts.len(),
                    h.bins
                )));
            }
            histograms.insert(
                h.tensor,
                Histogram {
                    spec,
                    counts: h.counts,
                    below: h.below,
                    above: h.above,
                },
            );
        }
        let tensors = stats_of(file.tensors);
        if let Some(t) = tensors.keys().find(|&&t| t >= n) {
            return Err(bad(format!("tensor {t}: the model has {n} tensors")));
        }
        Ok(Stats {
            chosen_by: file.chosen_by,
            tensors,
            unwidened: stats_of(file.unwidened),
            histograms,
            samples: file.samples,
            moving_averages: file
                .moving_averages
                .into_iter()
                .map(|a| MovingAverage {
                    momentum: a.momentum,
                    ranges: a
                        .ranges
                        .into_iter()
                        .map(|(t, lo, hi)| (t, (f32::from_bits(lo), f32::from_bits(hi))))
                        .collect(),
                })
                .collect(),
        })
    }

    /// Load statistics of `model` (read from `label`) saved by [`Stats::save`].
    pub fn load(path: &Path, model: &Model, label: &str) -> Result<Stats> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Stats::from_cache_json(&text, model, label, &path.display().to_string())
    }
}
