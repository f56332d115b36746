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
//! 2. The all-float fallback must meet the target (when int16 moves alone do not), or the
//!    target is refused
//!    ([`Error::TargetUnreachable`]): every op kept float, except, with an integer model
//!    input (output) type, the ops that read a model input (write a model output) — moving
//!    them would change the model's interface. With float I/O it is the float model itself.
//! 3. Rank the quantized ops by the per-layer comparison of `eval --per-layer`
//!    ([`crate::eval::LayerMetrics`]): RMSE / scale of each op's output, highest first
//!    (rounding alone gives about 0.29; more is error the op adds or amplifies, or
//!    clipping) — the criterion of TFLite's quantization debugger.
//! 4. int16 first ([`TargetOptions::int16`], float I/O): each ranked op's cheapest move is
//!    to int16 when it has an int16 kernel (the 16x8 rules, [`QuantizeOptions::int16_ops`]:
//!    the int16 candidates), to float otherwise (PRELU, HARD_SWISH, ...: as `--mode
//!    int16x8` keeps them). If every ranked op so moved meets the target, find the shortest
//!    prefix of the ranking that does: doubling, then bisection (the error is close to
//!    monotone along the ranking; each probe is checked, never assumed).
//! 5. Otherwise (or without int16 moves) the all-float fallback must meet the target (step
//!    2). Find the shortest prefix of the ranking that, kept float while the rest of the
//!    ranking takes its cheapest move, meets it; then, with those ops float, the shortest
//!    prefix of the rest that still needs its cheapest move.
//! 6. Prune, pass after pass until nothing changes: each float move is first tried on
//!    int16 (when the op has an int16 kernel), then each move is dropped if the target
//!    holds without it, least sensitive first. No single move is then superfluous, and no
//!    float move is one int16 would do.
//!
//! The probe budget ([`TargetOptions::max_probes`]) bounds the whole search.

use std::fmt;

use serde::Serialize;

mod rank;
mod search;

use crate::data::InMemory;
use crate::engine::Engine;
use crate::model::Model;
use crate::quant::api::{Mode, QuantizeOptions, Report};
use crate::quant::calibrate::Stats;
pub use crate::quant::measure::{measure, Measured, OutputError, Target};
use crate::{Error, Result};
use search::{Moves, Search};

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
    /// Move ops to int16 activations before float (default `true`; int8 mode with float
    /// I/O only, else float moves alone).
    pub int16: bool,
}

impl TargetOptions {
    /// Defaults around `target`.
    pub fn new(target: Target) -> Self {
        TargetOptions {
            target,
            holdout_every: 4,
            max_probes: 64,
            int16: true,
        }
    }
}

/// The precision an op is moved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// int16 activations, int8 weights, int64 biases (16x8 kernels) between requantizing
    /// ops ([`QuantizeOptions::int16_ops`]).
    Int16,
    /// Kept float32 between DEQUANTIZE and QUANTIZE ([`QuantizeOptions::keep_float`]).
    Float,
}

/// An op the search moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MovedOp {
    /// Operator index in the float model's main subgraph.
    pub index: usize,
    /// The op (prints as its builtin name, CONV_2D).
    pub op: crate::model::OpKind,
    /// Its (first) output tensor's name: the `--keep-float` / `--int16-ops` name.
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
    /// Every ranked op moved, int16 first: on int16 where it has an int16 kernel, float
    /// otherwise (measured when the model as asked misses the target and int16 moves are
    /// possible).
    pub all_int16: Option<Measured>,
    /// Every op kept float (measured when int16 moves alone miss the target).
    pub all_float: Option<Measured>,
    /// Ranked ops with an int16 kernel (the int16 candidates).
    pub int16_candidates: usize,
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
            let n16 = self
                .moved
                .iter()
                .filter(|m| m.to == Precision::Int16)
                .count();
            writeln!(
                f,
                "  moved {} of {} ranked ops ({} to int16, {} to float; {} int16 candidates; \
                 {} probes):",
                self.moved.len(),
                self.ranked,
                n16,
                self.moved.len() - n16,
                self.int16_candidates,
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

/// Quantize `model` with `opts` (mode int8) and the calibration `stats`, moving the most
/// sensitive ops to int16 activations, or to float where int16 does not do, until
/// `topts.target` holds on the `held` samples (held out from the calibration data, as
/// [`crate::data::HoldoutSplit`] gives them), running both models on `engine`. Returns the
/// model, its quantization report and what the search did (see the module docs).
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
    use crate::quant::IoType;
    topts.target.validate()?;
    if opts.mode != Mode::Int8 {
        return Err(Error::Unsupported(format!(
            "an accuracy target moves ops to int16 or float: it needs mode int8 (float \
             fallback), not {}",
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
    let float_io = opts.input_type == IoType::Float32 && opts.output_type == IoType::Float32;
    let mut s = Search {
        model,
        engine,
        stats,
        held,
        base: opts,
        ranking: &[],
        target,
        probes: 0,
        max_probes: topts.max_probes,
    };
    let before = s.probe(&[], true)?;
    let mut report = TargetReport {
        target,
        held_out: held.len(),
        holdout_every: topts.holdout_every,
        before: before.measured.clone(),
        after: before.measured.clone(),
        all_int16: None,
        all_float: None,
        int16_candidates: 0,
        moved: Vec::new(),
        ranked: 0,
        probes: 0,
    };
    if before.holds(target) {
        report.probes = s.probes;
        return Ok((before.model, before.report, report));
    }
    let ranking = rank::rank(model, &before.eval, &before.report, opts);
    report.ranked = ranking.len();
    let n = ranking.len();
    let capable = if topts.int16 && float_io {
        crate::quant::passes::full_integer::int16_capable_ops(model, stats, &opts.keep_float)?
    } else {
        Default::default()
    };
    let is16: Vec<bool> = ranking
        .iter()
        .map(|c| capable.contains(&c.tensor))
        .collect();
    let cands: Vec<usize> = (0..n).filter(|&i| is16[i]).collect();
    report.int16_candidates = cands.len();
    let mut s = Search {
        ranking: &ranking,
        ..s
    };
    let budget_out = |s: &Search<E>, all: &str| {
        Error::TargetUnreachable(format!(
            "{target}: no model met it within {} probes (as quantized: {}; {all}); relax the \
             target or allow more probes",
            s.max_probes, before.measured
        ))
    };
    let int16_ok = |i: usize| is16[i];
    let int16 = !cands.is_empty();
    // A ranked op's cheapest move: int16 where it has an int16 kernel, else float.
    let cheap = |i: usize| {
        if is16[i] {
            Precision::Int16
        } else {
            Precision::Float
        }
    };
    // int16 first: the ranking moved op by op to its cheapest precision.
    if int16 {
        let allc: Moves = (0..n).map(|i| (i, cheap(i))).collect();
        let p = s.probe(&allc, false)?;
        report.all_int16 = Some(p.measured.clone());
        if p.holds(target) {
            let config = |k: usize| -> Moves { allc[..k].to_vec() };
            let all_text = format!("every ranked op moved, int16 first: {}", p.measured);
            let Some((k, mut best)) = s.shortest(n, &config, p)? else {
                return Err(budget_out(&s, &all_text));
            };
            let mut chosen = config(k);
            s.prune(&mut chosen, &mut best, &int16_ok)?;
            return Ok(finish(s, report, &ranking, chosen, best));
        }
    }
    // Every movable op float: the fallback that must meet the target for any search to
    // succeed.
    let everything: Moves = (0..n).map(|i| (i, Precision::Float)).collect();
    let all = s.probe(&everything, false)?;
    report.all_float = Some(all.measured.clone());
    if !all.holds(target) {
        return Err(Error::TargetUnreachable(format!(
            "{target}: even with every op float ({} ops; with integer model inputs or outputs \
             the ops reading or writing them stay) the {} on the {} held-out samples (as \
             quantized: {}{}); relax the target{}",
            n,
            all.measured,
            held.len(),
            before.measured,
            report
                .all_int16
                .as_ref()
                .map(|m| format!("; every ranked op moved, int16 first: {m}"))
                .unwrap_or_default(),
            if float_io {
                ""
            } else {
                ", or keep float32 model inputs/outputs (integer I/O is quantized either way)"
            }
        )));
    }
    let all_text = format!("all float: {}", all.measured);
    // The shortest float prefix, the rest of the ranking on its cheapest move (int16 first;
    // nothing else without int16 moves).
    let with_floats = |k: usize| -> Moves {
        (0..n)
            .filter_map(|i| {
                if i < k {
                    Some((i, Precision::Float))
                } else if int16 {
                    Some((i, cheap(i)))
                } else {
                    None
                }
            })
            .collect()
    };
    let Some((kf, mut best)) = s.shortest(n, &with_floats, all)? else {
        return Err(budget_out(&s, &all_text));
    };
    // With those float, the shortest prefix of the rest that still needs its cheap move.
    let with_rest = |j: usize| -> Moves {
        (0..kf)
            .map(|i| (i, Precision::Float))
            .chain((kf..kf + j).map(|i| (i, cheap(i))))
            .collect()
    };
    let mut chosen = with_floats(kf);
    if int16 && kf < n && s.can_probe() {
        let none = s.probe(&with_rest(0), false)?;
        if none.holds(target) {
            chosen = with_rest(0);
            best = none;
        } else if let Some((j, p)) = s.shortest(n - kf, &with_rest, best)? {
            chosen = with_rest(j);
            best = p;
        } else {
            return Err(budget_out(&s, &all_text));
        }
    }
    s.prune(&mut chosen, &mut best, &int16_ok)?;
    Ok(finish(s, report, &ranking, chosen, best))
}

/// The report and result of a search that chose `chosen` (meeting the target with `best`).
fn finish<E: Engine>(
    s: Search<E>,
    mut report: TargetReport,
    ranking: &[rank::Candidate],
    mut chosen: Moves,
    best: search::Probe,
) -> (Model, Report, TargetReport) {
    chosen.sort_by_key(|&(i, _)| i);
    report.moved = chosen
        .iter()
        .map(|&(i, to)| {
            let c = &ranking[i];
            MovedOp {
                index: c.index,
                op: c.op.clone(),
                tensor: c.tensor.clone(),
                to,
                rank: i,
                rmse_over_scale: c.rmse_over_scale,
            }
        })
        .collect();
    report.after = best.measured.clone();
    report.probes = s.probes;
    (best.model, best.report, report)
}
