//! `--calibration auto`: per tensor, the calibration method whose range gives the model's
//! outputs the smallest error on held-out calibration samples.
//!
//! 1. Every candidate method ([`AutoOptions::methods`]; `minmax` first) chooses every
//!    tensor's range from the same statistics ([`Stats::method_ranges`]); each such model
//!    is quantized and measured on the held-out samples ([`crate::quant::measure`]: the
//!    worst output's relative RMSE against the float model). The best becomes the base
//!    (ties go to the earlier method, so `minmax` wins ties).
//! 2. The base model's tensors are ranked by the per-layer comparison of `eval --per-layer`
//!    (RMSE / scale, highest first) and the first [`AutoOptions::refine`] tensors whose
//!    candidate ranges differ are tried one at a time with each other method's range; a
//!    change is kept only when it lowers the measured error.
//!
//! 3. The choice is a method per tensor, not a range: [`recalibrated`] computes each
//!    tensor's range with its method from statistics over **all** the calibration samples
//!    (the held-out ones included), so the final ranges see as much data as every single
//!    method's (`--calibration mse` calibrates on all of them too). A tensor whose method is
//!    `minmax` gets the converter's range over all samples; when every tensor chose
//!    `minmax`, the statistics are returned as they are (the converter's parameters to the
//!    bit).
//!
//! Every accepted step lowers the held-out error, and `minmax` is a candidate of step 1: the
//! choice is at least as accurate as `minmax` on the held-out samples, by construction. The
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
}

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
    /// Held-out samples the errors are measured on.
    pub held_out: usize,
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
            "calibration auto: measured on {} held-out calibration samples (worst output's \
             relative RMSE vs the float model)",
            self.held_out
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
/// them) and the report.
pub fn choose_auto<E: Engine>(
    model: &Model,
    engine: &E,
    stats: &Stats,
    held: &InMemory,
    opts: &QuantizeOptions,
    aopts: &AutoOptions,
) -> Result<(Stats, AutoReport)> {
    if held.is_empty() {
        return Err(Error::Data(
            "calibration auto measures on held-out calibration samples: the calibration data \
             has too few samples to hold any out"
                .into(),
        ));
    }
    let mut methods = aopts.methods.clone();
    if !methods.contains(&CalibrationMethod::MinMax) {
        methods.insert(0, CalibrationMethod::MinMax);
    }
    let mut probes = 0usize;
    let mut probe = |st: &Stats, per_layer: bool| -> Result<(Measured, crate::eval::EvalReport)> {
        probes += 1;
        let (q, _) = quantize(model, Some(st), opts)?;
        measure(model, &q, engine, held, per_layer)
    };
    // Step 1: each method for every tensor.
    let mut ranges: Vec<Option<BTreeMap<usize, (f32, f32)>>> = Vec::new();
    let mut global = Vec::new();
    let mut best: Option<(usize, Measured)> = None;
    let mut minmax: Option<Measured> = None;
    for m in &methods {
        let r = stats.method_ranges(*m, aopts.grid);
        let scored = r.and_then(|r| {
            // minmax: the statistics as they are (the converter's parameters to the bit).
            let st = if *m == CalibrationMethod::MinMax {
                stats.clone()
            } else {
                stats.with_ranges(&r)
            };
            let (measured, _) = probe(&st, false)?;
            Ok((r, measured))
        });
        match scored {
            Ok((r, measured)) => {
                global.push(MethodScore {
                    method: m.to_string(),
                    worst_rel_rmse: Some(measured.worst_rel_rmse),
                    error: None,
                });
                if *m == CalibrationMethod::MinMax {
                    minmax = Some(measured.clone());
                }
                if best
                    .as_ref()
                    .is_none_or(|(_, b)| measured.worst_rel_rmse < b.worst_rel_rmse)
                {
                    best = Some((ranges.len(), measured));
                }
                ranges.push(Some(r));
            }
            Err(e) if *m != CalibrationMethod::MinMax => {
                global.push(MethodScore {
                    method: m.to_string(),
                    worst_rel_rmse: None,
                    error: Some(e.to_string()),
                });
                ranges.push(None);
            }
            Err(e) => return Err(e),
        }
    }
    let (base, _) = best.ok_or_else(|| Error::Data("no calibration method to try".into()))?;
    let minmax = minmax.ok_or_else(|| Error::Data("minmax could not be measured".into()))?;
    let mm = methods
        .iter()
        .position(|m| *m == CalibrationMethod::MinMax)
        .unwrap_or(0);
    let minmax_ranges = ranges[mm].clone().unwrap_or_default();
    // The statistics for an assignment: minmax's everywhere is the statistics as they are.
    let stats_for = |cur: &BTreeMap<usize, (f32, f32)>| {
        if *cur == minmax_ranges {
            stats.clone()
        } else {
            stats.with_ranges(cur)
        }
    };
    let mut cur = ranges[base].clone().unwrap_or_default();
    let mut chosen: BTreeMap<usize, usize> = cur.keys().map(|&t| (t, base)).collect();
    // Step 2: the most sensitive tensors of the base model, one at a time.
    let (mut best_m, eval) = probe(&stats_for(&cur), true)?;
    let sg = model.main();
    let mut order: Vec<(usize, f64)> = eval
        .layers
        .iter()
        .filter_map(|l| Some((l.float_tensor, l.rmse_over_scale?)))
        .filter(|(t, _)| cur.contains_key(t))
        .filter(|(t, _)| {
            let mut seen: Vec<(f32, f32)> = Vec::new();
            for r in ranges.iter().flatten() {
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
        for (k, r) in ranges.iter().enumerate() {
            let Some(&x) = r.as_ref().and_then(|r| r.get(&t)) else {
                continue;
            };
            if k == chosen[&t] || cur.get(&t) == Some(&x) {
                continue;
            }
            let mut trial = cur.clone();
            trial.insert(t, x);
            let score = probe(&stats_for(&trial), false);
            let e = match score {
                Ok((m, _)) => m,
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
            if e.worst_rel_rmse < best_m.worst_rel_rmse {
                cur = trial;
                chosen.insert(t, k);
                best_m = e;
            }
        }
        refined.push(TensorChoice {
            tensor: t,
            name: sg.tensors.get(t).map_or(String::new(), |x| x.name.clone()),
            rmse_over_scale: ros,
            method: methods[chosen[&t]].to_string(),
            range: cur[&t],
            tried,
        });
    }
    let mut tensors_by_method = BTreeMap::new();
    for &k in chosen.values() {
        *tensors_by_method.entry(methods[k].to_string()).or_insert(0) += 1;
    }
    let mut out = stats_for(&cur);
    if out.chosen_by.is_some() {
        out.chosen_by = Some("auto".into());
    }
    let report = AutoReport {
        held_out: held.len(),
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
        probes,
        final_samples: None,
        methods: chosen.iter().map(|(&t, &k)| (t, methods[k])).collect(),
    };
    Ok((out, report))
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
