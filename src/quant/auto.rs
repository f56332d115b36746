//! `--calibration auto`: per tensor, the calibration method whose range gives the model's
//! outputs the smallest error on held-out calibration samples.
//!
//! The choice is measured on one split of the calibration data (its statistics, its
//! held-out samples) or on k folds ([`choose_auto_folds`]: each fold holds out other
//! samples; every probe applies the same methods to each fold's statistics and pools the
//! folds' errors), so that a choice rests on every calibration sample rather than a few.
//!
//! 1. Every candidate method ([`AutoOptions::methods`]; `minmax` first) chooses every
//!    tensor's range from the same statistics ([`Stats::method_ranges`]); each such model
//!    is quantized and measured on the held-out samples ([`crate::quant::measure`]: the
//!    worst output's relative RMSE against the float model). `minmax` is the base unless
//!    another method lowers the error by at least [`AutoOptions::margin`] (relative); then
//!    the best of those (ties go to the earlier method).
//! 2. The base model's tensors are ranked by the per-layer comparison of `eval --per-layer`
//!    (RMSE / scale, highest first, on the first fold) and the first
//!    [`AutoOptions::refine`] tensors whose candidate ranges differ are tried one at a time
//!    with each other method; a change is kept only when it lowers the measured error by
//!    the margin.
//!
//! 3. The choice is a method per tensor, not a range: [`recalibrated`] computes each
//!    tensor's range with its method from statistics over **all** the calibration samples
//!    (the held-out ones included), so the final ranges see as much data as every single
//!    method's (`--calibration mse` calibrates on all of them too). A tensor whose method is
//!    `minmax` gets the converter's range over all samples; when every tensor chose
//!    `minmax`, the statistics are returned as they are (the converter's parameters to the
//!    bit).
//!
//! Every accepted step lowers the held-out error, and `minmax` is the default of step 1: the
//! choice is at least as accurate as `minmax` on the held-out samples, by construction; the
//! margin keeps `minmax` (the converter's ranges) where the others win only by noise. The
//! report lists the error of every method for every tensor (step 1), each refined tensor's
//! choice with the errors behind it (step 2), and how many tensors each method got.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::data::InMemory;
use crate::engine::Engine;
use crate::model::Model;
use crate::quant::api::{quantize, QuantizeOptions};
use crate::quant::calibrate::Stats;
use crate::quant::measure::{measure, Measured};
use crate::quant::methods::{CalibrationMethod, TargetGrid, DEFAULT_MOMENTUM, DEFAULT_PERCENTILE};
use crate::{Error, Result};

/// Settings of [`choose_auto`].
#[derive(Debug, Clone, PartialEq)]
pub struct AutoOptions {
    /// The candidate methods. `minmax` is added first when missing.
    pub methods: Vec<CalibrationMethod>,
    /// How many tensors (the most sensitive) get a method of their own. Default 8.
    pub refine: usize,
    /// The grid the ranges are chosen for (int8 asymmetric).
    pub grid: TargetGrid,
    /// How much (relative) a method must lower the held-out error by to replace `minmax`
    /// (step 1), and a tensor's change to be kept (step 2). Default 0.02: differences
    /// below 2% are within the noise of a few held-out samples, and `minmax` (the
    /// converter's ranges) is kept on ties.
    pub margin: f64,
}

/// [`AutoOptions::margin`]'s default.
pub const DEFAULT_AUTO_MARGIN: f64 = 0.02;

impl Default for AutoOptions {
    fn default() -> Self {
        AutoOptions {
            methods: vec![
                CalibrationMethod::MinMax,
                CalibrationMethod::MovingAverage(DEFAULT_MOMENTUM),
                CalibrationMethod::Percentile(DEFAULT_PERCENTILE),
                CalibrationMethod::Mse,
                CalibrationMethod::Entropy,
            ],
            refine: 8,
            grid: TargetGrid::Int8Asymmetric,
            margin: DEFAULT_AUTO_MARGIN,
        }
    }
}

/// One candidate's measured error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodScore {
    /// The method (with its parameter).
    pub method: String,
    /// The worst output's relative RMSE on the held-out samples; `None` when the method
    /// could not be used (`error` says why).
    pub worst_rel_rmse: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Why the choice failed, if it did.
    pub error: Option<String>,
}

/// A tensor given a method of its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorChoice {
    /// Tensor index in the float model's main subgraph.
    pub tensor: usize,
    /// Tensor name.
    pub name: String,
    /// RMSE / scale of the tensor in the base model (its rank's measure).
    pub rmse_over_scale: f64,
    /// The method chosen for it.
    pub method: String,
    /// The range chosen.
    pub range: (f32, f32),
    /// The error with each method tried for it (the others' ranges as they stood).
    pub tried: Vec<MethodScore>,
}

/// What [`choose_auto`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutoReport {
    /// Held-out samples the errors are measured on (over all folds).
    pub held_out: usize,
    /// Folds (splits of the calibration data) the errors are pooled over.
    pub folds: usize,
    /// The relative margin a method or a change had to win by.
    pub margin: f64,
    /// Each method for every tensor (step 1).
    pub global: Vec<MethodScore>,
    /// The best of them: every tensor's method unless refined.
    pub base: String,
    /// The tensors tried one at a time (step 2), most sensitive first.
    pub refined: Vec<TensorChoice>,
    /// How many tensors each method chose the range of.
    pub tensors_by_method: BTreeMap<String, usize>,
    /// The method of every tensor with a range, by tensor index.
    pub chosen: BTreeMap<usize, String>,
    /// `minmax`'s error (the converter's ranges) and the chosen ranges' error.
    pub minmax: Measured,
    /// The error after the move.
    pub after: Measured,
    /// Models quantized and measured.
    pub probes: usize,
    /// The samples the final ranges come from, once [`recalibrated`] computed them from
    /// statistics over all the calibration samples; `None`: the ranges of the calibration
    /// part (what `after` was measured with).
    pub final_samples: Option<usize>,
    /// The method of every tensor with a range, by tensor index ([`AutoReport::chosen`]).
    #[serde(skip)]
    pub methods: BTreeMap<usize, CalibrationMethod>,
}

impl fmt::Display for AutoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "calibration auto: measured on {} held-out calibration samples in {} fold{} \
             (worst output's relative RMSE vs the float model; a method must win by {}%)",
            self.held_out,
            self.folds,
            if self.folds == 1 { "" } else { "s" },
            self.margin * 100.0
        )?;
        for g in &self.global {
            match (g.worst_rel_rmse, &g.error) {
                (Some(e), _) => writeln!(
                    f,
                    "  every tensor {:<20} {:.4e}{}",
                    g.method,
                    e,
                    if g.method == self.base {
                        "  <- base"
                    } else {
                        ""
                    }
                )?,
                (None, why) => writeln!(
                    f,
                    "  every tensor {:<20} unusable: {}",
                    g.method,
                    why.as_deref().unwrap_or("?")
                )?,
            }
        }
        for c in &self.refined {
            let tried: Vec<String> = c
                .tried
                .iter()
                .map(|t| match t.worst_rel_rmse {
                    Some(e) => format!("{} {e:.4e}", t.method),
                    None => format!("{} -", t.method),
                })
                .collect();
            writeln!(
                f,
                "  tensor {} '{}' (rmse/scale {:.3}): {} [{:e}, {:e}]  ({})",
                c.tensor,
                c.name,
                c.rmse_over_scale,
                c.method,
                c.range.0,
                c.range.1,
                tried.join(", ")
            )?;
        }
        let counts: Vec<String> = self
            .tensors_by_method
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect();
        writeln!(f, "  tensors by method: {}", counts.join(", "))?;
        writeln!(f, "  minmax: {}", self.minmax)?;
        write!(f, "  auto:   {} ({} probes)", self.after, self.probes)?;
        if let Some(n) = self.final_samples {
            write!(
                f,
                "\n  final ranges: each tensor's method on all {n} calibration samples"
            )?;
        }
        Ok(())
    }
}

/// Choose every tensor's range as `--calibration auto` does (see the module), from `stats`
/// holding what every candidate needs (moving averages, histograms:
/// [`crate::quant::methods::StatsNeeds::all`]), quantizing with `opts` and measuring on the
/// `held` samples on `engine`. Returns the statistics with the chosen ranges (quantize with
/// them) and the report. One fold of [`choose_auto_folds`].
pub fn choose_auto<E: Engine>(
    model: &Model,
    engine: &E,
    stats: &Stats,
    held: &InMemory,
    opts: &QuantizeOptions,
    aopts: &AutoOptions,
) -> Result<(Stats, AutoReport)> {
    choose_auto_folds(model, engine, &[(stats, held)], opts, aopts)
}

/// One fold's candidate ranges: per method (in [`AutoOptions::methods`] order), the ranges
/// it chooses from the fold's statistics, or why it cannot.
type FoldRanges = Vec<std::result::Result<BTreeMap<usize, (f32, f32)>, String>>;

/// [`choose_auto`] on k folds: each `(stats, held)` pair is one split of the calibration
/// data (the statistics of its calibration part, its held-out samples; every sample held
/// out in exactly one fold, as `--holdout-every K` with `K` folds does). The choice is a
/// method per tensor; every probe applies it to each fold's statistics, measures on that
/// fold's held-out samples, and scores the pooled error (per output `sqrt(Σ(q - f)² /
/// Σf²)` over every fold's samples). A method or a change must lower the score by
/// [`AutoOptions::margin`] (relative) to be taken. Returns the first fold's statistics with
/// the chosen methods' ranges.
pub fn choose_auto_folds<E: Engine>(
    model: &Model,
    engine: &E,
    folds: &[(&Stats, &InMemory)],
    opts: &QuantizeOptions,
    aopts: &AutoOptions,
) -> Result<(Stats, AutoReport)> {
    if folds.is_empty() || folds.iter().any(|(_, h)| h.is_empty()) {
        return Err(Error::Data(
            "calibration auto measures on held-out calibration samples: the calibration data \
             has too few samples to hold any out"
                .into(),
        ));
    }
    if !(aopts.margin.is_finite() && (0.0..1.0).contains(&aopts.margin)) {
        return Err(Error::Data(format!(
            "calibration auto: margin {} must be in [0, 1)",
            aopts.margin
        )));
    }
    let mut methods = aopts.methods.clone();
    if !methods.contains(&CalibrationMethod::MinMax) {
        methods.insert(0, CalibrationMethod::MinMax);
    }
    let mm = methods
        .iter()
        .position(|m| *m == CalibrationMethod::MinMax)
        .unwrap_or(0);
    // Every fold's ranges of every method; minmax's must exist.
    let mut ranges: Vec<FoldRanges> = Vec::new();
    for (st, _) in folds {
        let mut per = Vec::new();
        for (k, m) in methods.iter().enumerate() {
            match st.method_ranges(*m, aopts.grid) {
                Ok(r) => per.push(Ok(r)),
                Err(e) if k == mm => return Err(e),
                Err(e) => per.push(Err(e.to_string())),
            }
        }
        ranges.push(per);
    }
    // A method is usable when it is on every fold.
    let usable = |k: usize| ranges.iter().all(|f| f[k].is_ok());
    let probes = std::cell::Cell::new(0usize);
    // The statistics of fold `f` for an assignment (tensor -> method): minmax everywhere
    // is the statistics as they are (the converter's parameters to the bit).
    let stats_for = |f: usize, cur: &BTreeMap<usize, usize>| -> Stats {
        let (st, _) = folds[f];
        if cur.values().all(|&k| k == mm) {
            return st.clone();
        }
        let r = &ranges[f];
        let map: BTreeMap<usize, (f32, f32)> = cur
            .iter()
            .filter_map(|(&t, &k)| {
                let own = r[k].as_ref().ok().and_then(|m| m.get(&t));
                let fallback = r[mm].as_ref().ok().and_then(|m| m.get(&t));
                own.or(fallback).map(|&x| (t, x))
            })
            .collect();
        st.with_ranges(&map)
    };
    let probe = |cur: &BTreeMap<usize, usize>| -> Result<Measured> {
        let mut each = Vec::new();
        for (f, (_, held)) in folds.iter().enumerate() {
            probes.set(probes.get() + 1);
            let (q, _) = quantize(model, Some(&stats_for(f, cur)), opts)?;
            each.push(measure(model, &q, engine, held, false)?);
        }
        Ok(pooled(each))
    };
    let all_of = |k: usize| -> BTreeMap<usize, usize> {
        ranges[0][k]
            .as_ref()
            .map(|r| r.keys().map(|&t| (t, k)).collect())
            .unwrap_or_default()
    };
    // Step 1: each method for every tensor. minmax is the base unless a method beats it by
    // the margin; then the best of those.
    let mut global = Vec::new();
    let mut scores: Vec<Option<Measured>> = Vec::new();
    for (k, m) in methods.iter().enumerate() {
        let scored = if usable(k) {
            probe(&all_of(k))
        } else {
            let why = ranges
                .iter()
                .find_map(|f| f[k].as_ref().err().cloned())
                .unwrap_or_default();
            Err(Error::Data(why))
        };
        match scored {
            Ok(measured) => {
                global.push(MethodScore {
                    method: m.to_string(),
                    worst_rel_rmse: Some(measured.worst_rel_rmse),
                    error: None,
                });
                scores.push(Some(measured));
            }
            Err(e) if k != mm => {
                global.push(MethodScore {
                    method: m.to_string(),
                    worst_rel_rmse: None,
                    error: Some(e.to_string()),
                });
                scores.push(None);
            }
            Err(e) => return Err(e),
        }
    }
    let minmax = scores[mm]
        .clone()
        .ok_or_else(|| Error::Data("minmax could not be measured".into()))?;
    let keep = 1.0 - aopts.margin;
    let mut base = mm;
    let mut best_m = minmax.clone();
    for (k, s) in scores.iter().enumerate() {
        if let Some(s) = s {
            if k != mm
                && s.worst_rel_rmse < minmax.worst_rel_rmse * keep
                && (base == mm || s.worst_rel_rmse < best_m.worst_rel_rmse)
            {
                base = k;
                best_m = s.clone();
            }
        }
    }
    let mut chosen = all_of(base);
    // Step 2: the most sensitive tensors of the base model (ranked on the first fold), one
    // at a time.
    let (_, eval) = {
        probes.set(probes.get() + 1);
        let (q, _) = quantize(model, Some(&stats_for(0, &chosen)), opts)?;
        measure(model, &q, engine, folds[0].1, true)?
    };
    let sg = model.main();
    let first = &ranges[0];
    let mut order: Vec<(usize, f64)> = eval
        .layers
        .iter()
        .filter_map(|l| Some((l.float_tensor, l.rmse_over_scale?)))
        .filter(|(t, _)| chosen.contains_key(t))
        .filter(|(t, _)| {
            let mut seen: Vec<(f32, f32)> = Vec::new();
            for r in first.iter().flatten() {
                if let Some(&x) = r.get(t) {
                    if !seen.contains(&x) {
                        seen.push(x);
                    }
                }
            }
            seen.len() > 1
        })
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1));
    order.truncate(aopts.refine);
    let mut refined = Vec::new();
    for (t, ros) in order {
        let mut tried = Vec::new();
        let mut seen: Vec<(f32, f32)> = Vec::new();
        if let Some(&x) = first[chosen[&t]].as_ref().ok().and_then(|r| r.get(&t)) {
            seen.push(x);
        }
        for k in 0..methods.len() {
            let Some(&x) = first[k].as_ref().ok().and_then(|r| r.get(&t)) else {
                continue;
            };
            // The same range on the first fold as one tried already: not a new candidate.
            if k == chosen[&t] || !usable(k) || seen.contains(&x) {
                continue;
            }
            seen.push(x);
            let mut trial = chosen.clone();
            trial.insert(t, k);
            let e = match probe(&trial) {
                Ok(m) => m,
                Err(e) => {
                    tried.push(MethodScore {
                        method: methods[k].to_string(),
                        worst_rel_rmse: None,
                        error: Some(e.to_string()),
                    });
                    continue;
                }
            };
            tried.push(MethodScore {
                method: methods[k].to_string(),
                worst_rel_rmse: Some(e.worst_rel_rmse),
                error: None,
            });
            if e.worst_rel_rmse < best_m.worst_rel_rmse * keep {
                chosen = trial;
                best_m = e;
            }
        }
        let range = first[chosen[&t]]
            .as_ref()
            .ok()
            .and_then(|r| r.get(&t).copied())
            .unwrap_or((f32::NAN, f32::NAN));
        refined.push(TensorChoice {
            tensor: t,
            name: sg.tensors.get(t).map_or(String::new(), |x| x.name.clone()),
            rmse_over_scale: ros,
            method: methods[chosen[&t]].to_string(),
            range,
            tried,
        });
    }
    let mut tensors_by_method = BTreeMap::new();
    for &k in chosen.values() {
        *tensors_by_method.entry(methods[k].to_string()).or_insert(0) += 1;
    }
    let mut out = stats_for(0, &chosen);
    if out.chosen_by.is_some() {
        out.chosen_by = Some("auto".into());
    }
    let report = AutoReport {
        held_out: folds.iter().map(|(_, h)| h.len()).sum(),
        folds: folds.len(),
        margin: aopts.margin,
        global,
        base: methods[base].to_string(),
        refined,
        tensors_by_method,
        chosen: chosen
            .iter()
            .map(|(&t, &k)| (t, methods[k].to_string()))
            .collect(),
        minmax,
        after: best_m,
        probes: probes.get(),
        final_samples: None,
        methods: chosen.iter().map(|(&t, &k)| (t, methods[k])).collect(),
    };
    Ok((out, report))
}

/// The folds' measurements as one: per output (matched by position), `Σ(q - f)²` and `Σf²`
/// summed over the folds (from each fold's RMSE, element count and SQNR); one fold is
/// returned as it is. A fold where an output is exact adds no error and, its `Σf²` not
/// being recoverable from the SQNR, nothing to the denominator (the pooled error is then
/// an upper bound).
fn pooled(each: Vec<(Measured, crate::eval::EvalReport)>) -> Measured {
    if each.len() == 1 {
        return each
            .into_iter()
            .next()
            .map(|(m, _)| m)
            .unwrap_or_else(|| Measured {
                outputs: vec![],
                worst_rel_rmse: 0.0,
                bytes: 0,
            });
    }
    let (first, _) = &each[0];
    let mut outputs = first.outputs.clone();
    for (i, o) in outputs.iter_mut().enumerate() {
        let (mut err2, mut ref2) = (0.0f64, 0.0f64);
        let mut bad = false;
        for (_, e) in &each {
            let Some(x) = e.outputs.get(i) else {
                bad = true;
                continue;
            };
            let e2 = x.rmse * x.rmse * x.elements as f64;
            if x.sqnr_db.is_nan() || x.rmse.is_nan() {
                bad = true;
            } else if e2 > 0.0 {
                err2 += e2;
                ref2 += e2 * 10f64.powf(x.sqnr_db / 10.0);
            }
        }
        o.rel_rmse = if bad {
            f64::INFINITY
        } else if err2 == 0.0 {
            0.0
        } else if ref2 > 0.0 && ref2.is_finite() {
            (err2 / ref2).sqrt()
        } else {
            f64::INFINITY
        };
        o.sqnr_db = -20.0 * o.rel_rmse.log10();
    }
    let worst = outputs.iter().map(|o| o.rel_rmse).fold(0.0, f64::max);
    Measured {
        outputs,
        worst_rel_rmse: worst,
        bytes: first.bytes,
    }
}

/// Step 3 of `auto` (see the module): the statistics `all` (over every calibration sample,
/// held-out ones included; with what the chosen methods need) with each tensor's range
/// computed by the method [`choose_auto`] chose for it (`report.methods`), on `grid`.
/// Tensors `report` has no method for keep `all`'s range (`minmax`). When every method is
/// `minmax`, `all` is returned unchanged: the converter's parameters. Records the number of
/// samples in `report.final_samples`.
pub fn recalibrated(all: &Stats, report: &mut AutoReport, grid: TargetGrid) -> Result<Stats> {
    let mut used: Vec<CalibrationMethod> = Vec::new();
    for m in report.methods.values() {
        if !used.contains(m) {
            used.push(*m);
        }
    }
    report.final_samples = Some(all.samples);
    if used.iter().all(|m| *m == CalibrationMethod::MinMax) {
        return Ok(all.clone());
    }
    let mut by_method = Vec::new();
    for m in &used {
        by_method.push((*m, all.method_ranges(*m, grid)?));
    }
    let mut ranges = BTreeMap::new();
    for (&t, m) in &report.methods {
        let r = by_method
            .iter()
            .find(|(k, _)| k == m)
            .and_then(|(_, r)| r.get(&t));
        if let Some(&r) = r {
            ranges.insert(t, r);
        }
    }
    let mut out = all.with_ranges(&ranges);
    out.chosen_by = Some("auto".into());
    Ok(out)
}
