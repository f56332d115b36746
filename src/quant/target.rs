//! Error-guided mixed precision: quantize to int8, then move the ops the quantization hurts
//! most back to float until the model's outputs meet an accuracy target, moving as few ops
//! as the search finds.
//!
//! ```no_run
//! # fn main() -> litequant::Result<()> {
//! use litequant::data::{HoldoutSplit, NpyDataset};
//! use litequant::quant::target::{quantize_to_target, Target, TargetOptions};
//! use litequant::quant::QuantizeOptions;
//! use litequant::{Engine, Session};
//! let float = litequant::Model::from_file("model.tflite")?;
//! let engine = litequant::ConverterFloatEngine;
//! let spec = engine.prepare(&float)?.inputs()[0].clone();
//! let mut data = NpyDataset::open("calib.npy")?.with_input(&spec)?;
//! let topts = TargetOptions::new(Target::SqnrDb(30.0));
//! let mut split = HoldoutSplit::new(&mut data, topts.holdout_every)?;
//! let stats = litequant::calibrate(&float, &engine, &mut split, &Default::default())?;
//! let held = split.into_held_out();
//! let (q, _report, moves) =
//!     quantize_to_target(&float, &engine, &stats, &held, &QuantizeOptions::int8(), &topts)?;
//! println!("{moves}");
//! q.write_file("model_mixed.tflite")?;
//! # Ok(()) }
//! ```
//!
//! How it works, measured on held-out calibration samples (the caller calibrates on the
//! rest: [`crate::data::HoldoutSplit`], every 4th sample held out by default):
//! 1. Quantize as asked; measure every output against the float model ([`crate::eval`]):
//!    relative RMSE `sqrt(Σ(q - f)² / Σf²)` over all elements of all held-out samples. The
//!    target must hold for the worst output. If it holds, nothing moves.
//! 2. The all-float fallback must meet the target, or the target is refused
//!    ([`Error::TargetUnreachable`]): every op kept float, except, with an integer model
//!    input (output) type, the ops that read a model input (write a model output) — moving
//!    them would change the model's interface. With float I/O it is the float model itself.
//! 3. Rank the quantized ops by the per-layer comparison of `eval --per-layer`
//!    ([`crate::eval::LayerMetrics`]): RMSE / scale of each op's output, highest first
//!    (rounding alone gives about 0.29; more is error the op adds or amplifies, or
//!    clipping) — the criterion of TFLite's quantization debugger.
//! 4. Find the shortest prefix of that ranking whose ops, kept float, meet the target:
//!    doubling, then bisection (the error is close to monotone along the ranking; each
//!    probe is checked, never assumed). Then drop from the chosen set, least sensitive
//!    first, every op the target holds without.
//!
//! A move is a [`Precision`]: float today; a move to int16 activations plugs in there when
//! the 16x8 mode exists.

use std::fmt;

use serde::Serialize;

use crate::data::InMemory;
use crate::engine::Engine;
use crate::eval::EvalReport;
use crate::model::Model;
use crate::quant::api::{quantize, Mode, QuantizeOptions, Report};
use crate::quant::calibrate::Stats;
pub use crate::quant::measure::{measure, Measured, OutputError, Target};
use crate::{Error, Result};

/// Settings of [`quantize_to_target`].
#[derive(Debug, Clone, PartialEq)]
pub struct TargetOptions {
    /// The target asked for.
    pub target: Target,
    /// The hold-out split the caller used ([`crate::data::HoldoutSplit`]; reported): every
    /// `holdout_every`-th calibration sample is held out. Default 4.
    pub holdout_every: usize,
    /// The most probes (quantize + measure) the search may spend, the first two (as asked,
    /// all float) included. Default 64.
    pub max_probes: usize,
}

impl TargetOptions {
    /// Defaults around `target`.
    pub fn new(target: Target) -> Self {
        TargetOptions {
            target,
            holdout_every: 4,
            max_probes: 64,
        }
    }
}

/// The precision an op is moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Kept float32 between DEQUANTIZE and QUANTIZE ([`QuantizeOptions::keep_float`]).
    Float,
}

/// An op the search moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MovedOp {
    /// Operator index in the float model's main subgraph.
    pub index: usize,
    /// Its builtin name (CONV_2D).
    pub op: String,
    /// Its (first) output tensor's name: the `--keep-float` name.
    pub tensor: String,
    /// The precision it moved to.
    pub to: Precision,
    /// Its rank by sensitivity (0 = most sensitive).
    pub rank: usize,
    /// RMSE / scale of its output with nothing moved (the ranking's measure).
    pub rmse_over_scale: f64,
}

/// What [`quantize_to_target`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetReport {
    /// The accuracy target.
    pub target: Target,
    /// Held-out samples the errors are measured on.
    pub held_out: usize,
    /// Every this-many-th calibration sample is held out to measure the error.
    pub holdout_every: usize,
    /// The model quantized as asked.
    pub before: Measured,
    /// The model returned.
    pub after: Measured,
    /// Every op kept float (measured only when the model as asked misses the target).
    pub all_float: Option<Measured>,
    /// The ops moved, most sensitive first.
    pub moved: Vec<MovedOp>,
    /// Ops ranked (the quantized ops the per-layer comparison sees).
    pub ranked: usize,
    /// Probes spent (quantize + measure).
    pub probes: usize,
}

impl fmt::Display for TargetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "target: {} on every output, measured on {} held-out calibration samples (every \
             {}th; the others calibrate)",
            self.target, self.held_out, self.holdout_every
        )?;
        writeln!(f, "  before: {}", self.before)?;
        if self.moved.is_empty() {
            writeln!(f, "  the target holds as quantized: no op moved")?;
        } else {
            writeln!(
                f,
                "  moved {} of {} ranked ops ({} probes):",
                self.moved.len(),
                self.ranked,
                self.probes
            )?;
            for m in &self.moved {
                writeln!(
                    f,
                    "    operator {} {} '{}' -> {:?} (rank {}, rmse/scale {:.3})",
                    m.index, m.op, m.tensor, m.to, m.rank, m.rmse_over_scale
                )?;
            }
        }
        write!(f, "  after:  {}", self.after)
    }
}

/// A ranked candidate: float-model operator index, its keep-float name, rmse/scale.
#[derive(Debug, Clone)]
struct Candidate {
    index: usize,
    op: String,
    tensor: String,
    rmse_over_scale: f64,
}

struct Search<'a, E: Engine> {
    model: &'a Model,
    engine: &'a E,
    stats: &'a Stats,
    held: &'a InMemory,
    base: &'a QuantizeOptions,
    probes: usize,
}

impl<E: Engine> Search<'_, E> {
    /// The options with these moves applied.
    fn options_with(&self, moves: &[(&str, Precision)]) -> QuantizeOptions {
        let mut o = self.base.clone();
        for (name, p) in moves {
            match p {
                Precision::Float => o
                    .keep_float
                    .push(crate::quant::KeepFloat::Tensor(name.to_string())),
            }
        }
        o
    }

    fn probe(&mut self, moves: &[(&str, Precision)], per_layer: bool) -> Result<Probe> {
        self.probes += 1;
        let opts = self.options_with(moves);
        let (q, report) = quantize(self.model, Some(self.stats), &opts)?;
        let (measured, eval) = measure(self.model, &q, self.engine, self.held, per_layer)?;
        Ok(Probe {
            measured,
            eval,
            model: q,
            report,
        })
    }
}

struct Probe {
    measured: Measured,
    eval: EvalReport,
    model: Model,
    report: Report,
}

/// Quantize `model` with `opts` (mode int8) and the calibration `stats`, moving the most
/// sensitive ops to float until `topts.target` holds on the `held` samples (held out from
/// the calibration data, as [`crate::data::HoldoutSplit`] gives them), running both models
/// on `engine`. Returns the model, its quantization report and what the search did.
///
/// Errors: a mode other than int8 (int8-only has no float ops); no held-out samples;
/// [`Error::TargetUnreachable`] when even the all-float fallback misses the target, or
/// when the probe budget runs out before a model meets it.
pub fn quantize_to_target<E: Engine>(
    model: &Model,
    engine: &E,
    stats: &Stats,
    held: &InMemory,
    opts: &QuantizeOptions,
    topts: &TargetOptions,
) -> Result<(Model, Report, TargetReport)> {
    topts.target.validate()?;
    if opts.mode != Mode::Int8 {
        return Err(Error::Unsupported(format!(
            "an accuracy target moves ops to float: it needs mode int8 (float fallback), not \
             {}",
            opts.mode
        )));
    }
    if held.is_empty() {
        return Err(Error::Data(format!(
            "an accuracy target is measured on held-out calibration samples (every {}th): the \
             calibration data has too few samples to hold any out; give at least {}",
            topts.holdout_every, topts.holdout_every
        )));
    }
    let target = topts.target;
    let mut s = Search {
        model,
        engine,
        stats,
        held,
        base: opts,
        probes: 0,
    };
    let before = s.probe(&[], true)?;
    let mut report = TargetReport {
        target,
        held_out: held.len(),
        holdout_every: topts.holdout_every,
        before: before.measured.clone(),
        after: before.measured.clone(),
        all_float: None,
        moved: Vec::new(),
        ranked: 0,
        probes: 0,
    };
    if target.holds(before.measured.worst_rel_rmse) {
        report.probes = s.probes;
        return Ok((before.model, before.report, report));
    }
    let ranking = rank(model, &before.eval, &before.report, opts);
    report.ranked = ranking.len();
    // Every movable op float: the fallback that must meet the target for any search to
    // succeed.
    let everything: Vec<(&str, Precision)> = ranking
        .iter()
        .map(|c| (c.tensor.as_str(), Precision::Float))
        .collect();
    let all = s.probe(&everything, false)?;
    report.all_float = Some(all.measured.clone());
    if !target.holds(all.measured.worst_rel_rmse) {
        return Err(Error::TargetUnreachable(format!(
            "{target}: even with every op float ({} ops; with integer model inputs or outputs \
             the ops reading or writing them stay) the {} on the {} held-out samples (as \
             quantized: {}); relax the target{}",
            ranking.len(),
            all.measured,
            held.len(),
            before.measured,
            if opts.input_type != crate::quant::IoType::Float32
                || opts.output_type != crate::quant::IoType::Float32
            {
                ", or keep float32 model inputs/outputs (integer I/O is quantized either way)"
            } else {
                ""
            }
        )));
    }
    let moves = |k: &[usize]| -> Vec<(&str, Precision)> {
        k.iter()
            .map(|&i| (ranking[i].tensor.as_str(), Precision::Float))
            .collect()
    };
    let prefix = |k: usize| (0..k).collect::<Vec<usize>>();
    let n = ranking.len();
    let budget = |s: &Search<E>| {
        if s.probes >= topts.max_probes {
            Err(Error::TargetUnreachable(format!(
                "{target}: no model met it within {} probes (as quantized: {}; all float: {}); \
                 relax the target or allow more probes",
                topts.max_probes, before.measured, all.measured
            )))
        } else {
            Ok(())
        }
    };
    // Doubling, then bisection, on the prefix length: lo misses, hi holds.
    let (mut lo, mut hi) = (0usize, n);
    let mut best: Option<Probe> = None;
    let mut k = 1usize;
    while k < n {
        budget(&s)?;
        let p = s.probe(&moves(&prefix(k)), false)?;
        if target.holds(p.measured.worst_rel_rmse) {
            hi = k;
            best = Some(p);
            break;
        }
        lo = k;
        k *= 2;
    }
    while hi - lo > 1 {
        budget(&s)?;
        let mid = lo + (hi - lo) / 2;
        let p = s.probe(&moves(&prefix(mid)), false)?;
        if target.holds(p.measured.worst_rel_rmse) {
            hi = mid;
            best = Some(p);
        } else {
            lo = mid;
        }
    }
    let mut chosen = prefix(hi);
    let mut best = best.unwrap_or(all);
    // Prune: drop each chosen op (least sensitive first) the target holds without, pass
    // after pass until no op can go (or the probes run out): then no single moved op is
    // superfluous.
    let mut changed = true;
    while changed {
        changed = false;
        for i in (0..chosen.len()).rev() {
            if chosen.len() <= 1 || s.probes >= topts.max_probes {
                break;
            }
            let without: Vec<usize> = chosen.iter().copied().filter(|&c| c != chosen[i]).collect();
            let p = s.probe(&moves(&without), false)?;
            if target.holds(p.measured.worst_rel_rmse) {
                chosen = without;
                best = p;
                changed = true;
            }
        }
    }
    report.moved = chosen
        .iter()
        .map(|&i| {
            let c = &ranking[i];
            MovedOp {
                index: c.index,
                op: c.op.clone(),
                tensor: c.tensor.clone(),
                to: Precision::Float,
                rank: i,
                rmse_over_scale: c.rmse_over_scale,
            }
        })
        .collect();
    report.after = best.measured.clone();
    report.probes = s.probes;
    Ok((best.model, best.report, report))
}

/// The float model's ops that may move, ranked by the per-layer comparison of the model as
/// quantized: RMSE / scale of their (first) output, highest first (an output the quantized
/// model renames — an int8 result before an output's DEQUANTIZE — is compared under the
/// float name and divided by its int8 twin's scale); then the movable ops the comparison
/// does not see, in model order, so that the whole list moved is the all-float fallback.
/// With an integer model input (output) type, the ops that read a model input (write a
/// model output) stay: moving them would change the model's interface.
fn rank(
    model: &Model,
    eval: &EvalReport,
    report: &Report,
    opts: &QuantizeOptions,
) -> Vec<Candidate> {
    use crate::quant::IoType;
    let sg = model.main();
    let n_ops = sg.operators.len();
    let movable: Vec<bool> = sg
        .operators
        .iter()
        .map(|op| {
            let reads_input = op.input_tensors().any(|t| sg.inputs.contains(&t));
            let writes_output = op.output_tensors().any(|t| sg.outputs.contains(&t));
            !(opts.input_type != IoType::Float32 && reads_input)
                && !(opts.output_type != IoType::Float32 && writes_output)
        })
        .collect();
    let mut twin_scale: std::collections::HashMap<usize, f32> = Default::default();
    for t in &report.tensors {
        if let (0, false, Some(f), Some(&s)) =
            (t.subgraph, t.constant, t.float_tensor, t.scale.first())
        {
            if s > 0.0 {
                twin_scale.entry(f).or_insert(s);
            }
        }
    }
    let first_output = |k: usize| {
        sg.operators[k]
            .output_tensors()
            .next()
            .and_then(|t| sg.tensors.get(t))
            .map(|t| t.name.clone())
            .filter(|n| !n.is_empty())
    };
    let by_name: std::collections::HashMap<String, usize> = (0..n_ops)
        .filter_map(|k| first_output(k).map(|n| (n, k)))
        .collect();
    let mut seen = vec![false; n_ops];
    let mut ranked: Vec<Candidate> = Vec::new();
    for l in &eval.layers {
        let r = l
            .rmse_over_scale
            .or_else(|| twin_scale.get(&l.float_tensor).map(|&s| l.rmse / s as f64));
        let (Some(r), Some(&k)) = (r, by_name.get(&l.name)) else {
            continue;
        };
        if seen[k] || !movable[k] {
            continue;
        }
        seen[k] = true;
        ranked.push(Candidate {
            index: k,
            op: sg.operators[k].op.name(),
            tensor: l.name.clone(),
            rmse_over_scale: if r.is_nan() { 0.0 } else { r },
        });
    }
    ranked.sort_by(|a, b| b.rmse_over_scale.total_cmp(&a.rmse_over_scale));
    for k in 0..n_ops {
        if let (false, true, Some(name)) = (seen[k], movable[k], first_output(k)) {
            ranked.push(Candidate {
                index: k,
                op: sg.operators[k].op.name(),
                tensor: name,
                rmse_over_scale: 0.0,
            });
        }
    }
    ranked
}
