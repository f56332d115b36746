//! `litequant quantize --target-sqnr DB | --max-rel-rmse X`: error-guided mixed precision
//! (`litequant::quant::target`). The calibration data is split (every `--holdout-every`-th
//! sample held out), the rest calibrates, and the held-out samples measure the outputs.

use std::path::Path;

use litequant::data::{Dataset, HoldoutSplit};
use litequant::quant::target::{quantize_to_target, Target, TargetOptions, TargetReport};
use litequant::quant::{QuantizeOptions, Report};
use litequant::{Engine, Error, Model, Session};

use crate::quantize::QuantizeArgs;
use crate::{end_progress, progress_if_tty};

/// The accuracy-target flags of `quantize`.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub(crate) struct TargetArgs {
    /// Error-guided mixed precision: quantize to int8, then keep the most sensitive ops
    /// float until every output's SQNR vs the float model is at least DB, measured on
    /// held-out calibration samples. Prints what moved, the size and the error before and
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
            ..TargetOptions::new(target)
        })
    }
}

/// Calibrate on the calibration part of `calib` and search, on `engine`.
pub(crate) fn target_on<E: Engine>(
    engine: &E,
    a: &QuantizeArgs,
    model: &Model,
    opts: &QuantizeOptions,
    topts: &TargetOptions,
    calib: &Path,
) -> litequant::Result<(Model, Report, TargetReport)> {
    let inputs = engine.prepare(model)?.inputs().to_vec();
    let data = litequant::data::open(calib, &inputs, &a.image)?;
    let mut data: Box<dyn Dataset> = match opts.max_samples {
        Some(n) => Box::new(data.max_samples(n)),
        None => data,
    };
    let mut split = HoldoutSplit::new(&mut data, topts.holdout_every)?;
    let mut copts = litequant::CalibrationOptions {
        progress: progress_if_tty(),
        ..Default::default()
    };
    eprintln!(
        "calibrating {} on {} ({}), every {}th sample held out",
        a.model.display(),
        calib.display(),
        engine.name(),
        topts.holdout_every
    );
    let stats = litequant::calibrate(model, engine, &mut split, &copts);
    end_progress(copts.progress.is_some());
    copts.progress = None;
    let stats = stats.map_err(|e| in_file(e, calib))?;
    let held = split.into_held_out();
    eprintln!(
        "calibrated on {} samples; searching on {} held-out samples",
        stats.samples,
        held.len()
    );
    let (q, mut report, t) = quantize_to_target(model, engine, &stats, &held, opts, topts)
        .map_err(|e| in_file(e, calib))?;
    if report.needs_saturation_pass() {
        // Counted on the calibration part, as calibrated.
        eprintln!(
            "counting saturation: a second pass over the calibration part of {}",
            calib.display()
        );
        let data = litequant::data::open(calib, &inputs, &a.image)?;
        let mut data: Box<dyn Dataset> = match opts.max_samples {
            Some(n) => Box::new(data.max_samples(n)),
            None => data,
        };
        let mut split = HoldoutSplit::new(&mut data, topts.holdout_every)?;
        litequant::quant::count_saturation(model, &q, engine, &mut split, &mut report, &copts)
            .map_err(|e| in_file(e, calib))?;
    }
    Ok((q, report, t))
}

fn in_file(e: Error, path: &Path) -> Error {
    match e {
        Error::Data(m) => Error::Data(format!("{}: {m}", path.display())),
        e => e,
    }
}
