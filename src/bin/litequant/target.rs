//! What `litequant quantize` measures on held-out calibration samples: error-guided mixed
//! precision (`--target-sqnr DB | --max-rel-rmse X`, `litequant::quant::target`) and
//! `--calibration auto` (`litequant::quant::auto`). The calibration data is split (every
//! `--holdout-every`-th sample held out), the rest calibrates, and the held-out samples
//! measure the outputs.

use std::path::Path;

use litequant::data::{Dataset, HoldoutSplit, InMemory};
use litequant::quant::auto::{
    choose_auto, choose_auto_folds, recalibrated, AutoOptions, AutoReport,
};
use litequant::quant::target::{quantize_to_target, Target, TargetOptions, TargetReport};
use litequant::quant::{CalibrationMethod, QuantizeOptions, Report, StatsNeeds, TargetGrid};
use litequant::{Engine, Error, Model, Session, Stats};

use crate::quantize::QuantizeArgs;
use crate::{end_progress, progress_if_tty};

/// The accuracy-target flags of `quantize`.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub(crate) struct TargetArgs {
    /// Error-guided mixed precision: quantize to int8, then move the most sensitive ops to
    /// int16 activations (16x8 kernels), or keep them float where int16 does not do,
    /// until every output's SQNR vs the float model is at least DB, measured on held-out
    /// calibration samples. Prints what moved where, the size and the error before and
    /// after; an error when even an all-float model misses it.
    #[arg(long, value_name = "DB", conflicts_with = "max_rel_rmse")]
    pub target_sqnr: Option<f64>,
    /// As --target-sqnr, with the bound as every output's relative RMSE
    /// (sqrt(sum (q - f)^2 / sum f^2)) at most X.
    #[arg(long, value_name = "X")]
    pub max_rel_rmse: Option<f64>,
    /// With an accuracy target: hold out every K-th calibration sample (the K-th, 2K-th,
    /// ...) to measure the error on; the others calibrate.
    #[arg(long, value_name = "K", default_value_t = 4)]
    pub holdout_every: usize,
    /// With an accuracy target: move ops to float only (no int16 moves).
    #[arg(long)]
    pub target_float_only: bool,
    /// With --calibration auto (no accuracy target): choose on N folds of the calibration
    /// data (fold j holds out the samples j places after --holdout-every's; each fold
    /// calibrates on the rest), pooling the held-out errors. Default: --holdout-every's K,
    /// so every sample is held out once; 1: one split.
    #[arg(long, value_name = "N")]
    pub auto_folds: Option<usize>,
}

impl TargetArgs {
    /// The options, when a target was given.
    pub(crate) fn options(&self) -> Option<TargetOptions> {
        let target = match (self.target_sqnr, self.max_rel_rmse) {
            (Some(d), _) => Target::SqnrDb(d),
            (None, Some(x)) => Target::MaxRelRmse(x),
            (None, None) => return None,
        };
        Some(TargetOptions {
            holdout_every: self.holdout_every,
            int16: !self.target_float_only,
            ..TargetOptions::new(target)
        })
    }
}

/// `--calibration` on the command line: a method, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum CalibrationArg {
    Method(CalibrationMethod),
    /// Per tensor, the method with the smallest output error on held-out samples.
    Auto,
}

impl std::str::FromStr for CalibrationArg {
    type Err = Error;

    fn from_str(s: &str) -> litequant::Result<Self> {
        if s == "auto" {
            return Ok(CalibrationArg::Auto);
        }
        s.parse().map(CalibrationArg::Method).map_err(|e| match e {
            Error::Data(m) => Error::Data(format!("{m}, or auto")),
            e => e,
        })
    }
}

impl std::fmt::Display for CalibrationArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CalibrationArg::Method(m) => write!(f, "{m}"),
            CalibrationArg::Auto => f.write_str("auto"),
        }
    }
}

impl CalibrationArg {
    /// The method (`minmax` for `auto`, whose statistics hold every method's needs).
    pub(crate) fn method(self) -> CalibrationMethod {
        match self {
            CalibrationArg::Method(m) => m,
            CalibrationArg::Auto => CalibrationMethod::MinMax,
        }
    }
}

/// What the held-out searches did.
pub(crate) struct HeldOut {
    pub target: Option<TargetReport>,
    pub auto: Option<AutoReport>,
}

/// The data of `calib` for `inputs`, at most `--max-samples`, split.
fn split<'a>(
    a: &QuantizeArgs,
    opts: &QuantizeOptions,
    calib: &Path,
    inputs: &[litequant::IoSpec],
    every: usize,
    fold: usize,
) -> litequant::Result<HoldoutSplit<'a>> {
    let data = litequant::data::open(calib, inputs, &a.image)?;
    let data: Box<dyn Dataset> = match opts.max_samples {
        Some(n) => Box::new(data.max_samples(n)),
        None => data,
    };
    HoldoutSplit::fold(data, every, fold)
}

/// All the data of `calib` for `inputs`, at most `--max-samples`.
fn open_all(
    a: &QuantizeArgs,
    opts: &QuantizeOptions,
    calib: &Path,
    inputs: &[litequant::IoSpec],
) -> litequant::Result<Box<dyn Dataset>> {
    let data = litequant::data::open(calib, inputs, &a.image)?;
    Ok(match opts.max_samples {
        Some(n) => Box::new(data.max_samples(n)),
        None => data,
    })
}

/// `--calibration auto` and/or an accuracy target, on `engine`: calibrate on the
/// calibration part of `calib` (every `--holdout-every`-th sample held out), choose the
/// methods (auto; then their ranges over all of `calib`, a third calibration pass) or take
/// the method's ranges, quantize (searching for the target when one is given), and count
/// saturation on the samples the ranges came from.
pub(crate) fn heldout_on<E: Engine>(
    engine: &E,
    a: &QuantizeArgs,
    model: &Model,
    opts: &QuantizeOptions,
    topts: Option<&TargetOptions>,
    calib: &Path,
) -> litequant::Result<(Model, Report, HeldOut)> {
    let every = a.target.holdout_every;
    let inputs = engine.prepare(model)?.inputs().to_vec();
    let mut copts = litequant::CalibrationOptions {
        progress: progress_if_tty(),
        ..Default::default()
    };
    let needs = match a.calibration {
        CalibrationArg::Auto => StatsNeeds::all(a.histogram_bins),
        CalibrationArg::Method(m) => m.needs(a.histogram_bins),
    };
    eprintln!(
        "calibrating {} on {} ({}), every {every}th sample held out{}",
        a.model.display(),
        calib.display(),
        engine.name(),
        if needs.histogram_bins.is_some() {
            " (two passes: ranges, then histograms)"
        } else {
            ""
        }
    );
    let mut open = || split(a, opts, calib, &inputs, every, 0);
    let stats = litequant::quant::calibrate_for(model, engine, &mut open, &needs, &copts);
    end_progress(copts.progress.is_some());
    copts.progress = None;
    let stats = stats.map_err(|e| in_file(e, calib))?;
    // The held-out part (read, not run).
    let mut rest = split(a, opts, calib, &inputs, every, 0)?;
    while let Some(s) = rest.next_sample() {
        s.map_err(|e| in_file(e, calib))?;
    }
    let held = rest.into_held_out();
    eprintln!(
        "calibrated on {} samples; {} held out",
        stats.samples,
        held.len()
    );
    if let Some(path) = &a.save_stats {
        stats.save(path, model, &a.model.display().to_string())?;
        eprintln!("calibration statistics saved to {}", path.display());
    }
    let mut out = HeldOut {
        target: None,
        auto: None,
    };
    // auto without a target: the final ranges come from every calibration sample.
    let on_all = a.calibration == CalibrationArg::Auto && topts.is_none();
    let stats = match a.calibration {
        CalibrationArg::Auto if on_all => {
            let k = a.target.auto_folds.unwrap_or(every);
            if k == 0 || k > every {
                return Err(Error::Data(format!(
                    "--auto-folds {k}: must be 1 to --holdout-every ({every})"
                )));
            }
            let mut folds: Vec<(Stats, InMemory)> = vec![(stats.clone(), held.clone())];
            for f in 1..k {
                eprintln!("calibrating fold {} of {k}", f + 1);
                let mut open = || split(a, opts, calib, &inputs, every, f);
                let st = litequant::quant::calibrate_for(model, engine, &mut open, &needs, &copts)
                    .map_err(|e| in_file(e, calib))?;
                let mut rest = split(a, opts, calib, &inputs, every, f)?;
                while let Some(s) = rest.next_sample() {
                    s.map_err(|e| in_file(e, calib))?;
                }
                folds.push((st, rest.into_held_out()));
            }
            let refs: Vec<(&Stats, &InMemory)> = folds.iter().map(|(s, h)| (s, h)).collect();
            let (_, mut r) = choose_auto_folds(model, engine, &refs, opts, &auto_options(opts))
                .map_err(|e| in_file(e, calib))?;
            // The methods are chosen; their ranges come from every calibration sample.
            eprintln!(
                "calibrating {} on all of {} (the chosen methods' final ranges)",
                a.model.display(),
                calib.display()
            );
            let mut open = || open_all(a, opts, calib, &inputs);
            let all = litequant::quant::calibrate_for(model, engine, &mut open, &needs, &copts)
                .map_err(|e| in_file(e, calib))?;
            let chosen = recalibrated(&all, &mut r, TargetGrid::for_mode(opts.mode))
                .map_err(|e| in_file(e, calib))?;
            out.auto = Some(r);
            chosen
        }
        CalibrationArg::Auto => {
            // With an accuracy target, the target's search measures on the held-out samples
            // too: the ranges stay those of the calibration part it was chosen on.
            let (chosen, r) = choose_auto(model, engine, &stats, &held, opts, &auto_options(opts))
                .map_err(|e| in_file(e, calib))?;
            out.auto = Some(r);
            chosen
        }
        CalibrationArg::Method(m) => stats
            .with_method(m, TargetGrid::for_mode(opts.mode))
            .map_err(|e| in_file(e, calib))?,
    };
    let (q, mut report) = match topts {
        Some(t) => {
            let (q, report, r) = quantize_to_target(model, engine, &stats, &held, opts, t)
                .map_err(|e| in_file(e, calib))?;
            out.target = Some(r);
            (q, report)
        }
        None => {
            litequant::quant::quantize(model, Some(&stats), opts).map_err(|e| in_file(e, calib))?
        }
    };
    if report.needs_saturation_pass() {
        // Counted on the samples the ranges came from.
        eprintln!(
            "counting saturation: a second pass over the {} of {}",
            if on_all {
                "calibration samples"
            } else {
                "calibration part"
            },
            calib.display()
        );
        let counted = if on_all {
            let mut data = open_all(a, opts, calib, &inputs)?;
            litequant::quant::count_saturation(model, &q, engine, &mut data, &mut report, &copts)
        } else {
            let mut data = split(a, opts, calib, &inputs, every, 0)?;
            litequant::quant::count_saturation(model, &q, engine, &mut data, &mut report, &copts)
        };
        counted.map_err(|e| in_file(e, calib))?;
    }
    Ok((q, report, out))
}

fn in_file(e: Error, path: &Path) -> Error {
    match e {
        Error::Data(m) => Error::Data(format!("{}: {m}", path.display())),
        e => e,
    }
}

/// `auto`'s options for `opts`' mode: its methods, ranges chosen on the mode's grid.
fn auto_options(opts: &QuantizeOptions) -> AutoOptions {
    AutoOptions {
        grid: TargetGrid::for_mode(opts.mode),
        ..Default::default()
    }
}
