//! `litequant eval FLOAT --compare-methods (--calib DATA | --load-stats FILE) --data DATA`:
//! quantize with every calibration method from one set of statistics (calibrated once, or
//! loaded from a cache) and evaluate each on the data: output error, size and saturation
//! per setting, the best marked.

use std::path::{Path, PathBuf};

use litequant::quant::methods::{
    CalibrationMethod, StatsNeeds, TargetGrid, DEFAULT_HISTOGRAM_BINS, DEFAULT_MOMENTUM,
    DEFAULT_PERCENTILE,
};
use litequant::quant::{quantize, Mode, QuantizeOptions, Report};
use litequant::{Engine, Error, Model, Session, Stats};

use crate::{end_progress, progress_if_tty, EvalArgs};

/// The flags of `eval --compare-methods`.
#[derive(clap::Args, Clone, Debug, Default)]
pub(crate) struct CompareArgs {
    /// Instead of comparing QUANT_MODEL: quantize FLOAT_MODEL (int8, then int16x8) with
    /// every calibration method (minmax, moving-average, percentile, mse, entropy) from one
    /// set of statistics and print each one's output error on --data, size and saturation,
    /// the best marked. Needs --calib or --load-stats.
    #[arg(long)]
    pub compare_methods: bool,
    /// With --compare-methods: the calibration data (calibrated once, two passes).
    #[arg(long, value_name = "DATA")]
    pub calib: Option<PathBuf>,
    /// With --compare-methods: statistics saved by `quantize --save-stats` (every method's
    /// needs: calibrate with --calibration mse or entropy, or any --save-stats).
    #[arg(long, value_name = "FILE")]
    pub load_stats: Option<PathBuf>,
    /// With --compare-methods and --calib: also save the statistics to FILE.
    #[arg(long, value_name = "FILE")]
    pub save_stats: Option<PathBuf>,
}

/// One setting's row.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Row {
    pub setting: String,
    /// The worst output's relative RMSE on --data; `None` when the setting failed.
    pub worst_rel_rmse: Option<f64>,
    pub sqnr_db: Option<f64>,
    pub bytes: Option<usize>,
    /// Activation values clipped / observed on the calibration data (`None`: not counted).
    pub clipped: Option<(u64, u64)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub best: bool,
}

/// The methods compared, in order.
pub(crate) fn methods() -> Vec<CalibrationMethod> {
    vec![
        CalibrationMethod::MinMax,
        CalibrationMethod::MovingAverage(DEFAULT_MOMENTUM),
        CalibrationMethod::Percentile(DEFAULT_PERCENTILE),
        CalibrationMethod::Mse,
        CalibrationMethod::Entropy,
    ]
}

/// Run the comparison on `engine` and print the table.
pub(crate) fn compare_on<E: Engine>(
    engine: &E,
    a: &EvalArgs,
    float: &Model,
) -> litequant::Result<Vec<Row>> {
    let c = &a.compare;
    let label = a.float_model.display().to_string();
    let inputs = engine.prepare(float)?.inputs().to_vec();
    let stats = match (&c.calib, &c.load_stats) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(Error::Data(
                "--compare-methods quantizes from one set of statistics: give --calib DATA \
                 (calibrate once) or --load-stats FILE (saved by quantize --save-stats)"
                    .into(),
            ))
        }
        (None, Some(path)) => {
            let s = Stats::load(path, float, &label)?;
            eprintln!(
                "statistics of {} samples loaded from {}",
                s.samples,
                path.display()
            );
            s
        }
        (Some(calib), None) => {
            let copts = litequant::CalibrationOptions {
                max_samples: a.max_samples,
                progress: progress_if_tty(),
                ..Default::default()
            };
            eprintln!(
                "calibrating {} on {} ({}) once for every method (two passes)",
                label,
                calib.display(),
                engine.name()
            );
            let mut open = || litequant::data::open(calib, &inputs, &a.image);
            let needs = StatsNeeds::all(DEFAULT_HISTOGRAM_BINS);
            let s = litequant::quant::calibrate_for(float, engine, &mut open, &needs, &copts);
            end_progress(copts.progress.is_some());
            let s = s.map_err(|e| in_file(e, calib))?;
            if let Some(p) = &c.save_stats {
                s.save(p, float, &label)?;
                eprintln!("calibration statistics saved to {}", p.display());
            }
            s
        }
    };
    let mut rows = Vec::new();
    // int8 with every method, then 16x8 (int16 activations, ranges on the symmetric int16
    // grid) with every method whose int16 range differs from minmax's (entropy keeps the
    // full range on that grid).
    let settings = methods()
        .into_iter()
        .map(|m| (QuantizeOptions::int8(), m))
        .chain(
            methods()
                .into_iter()
                .filter(|m| *m != CalibrationMethod::Entropy)
                .map(|m| (QuantizeOptions::int16x8(), m)),
        );
    for (opts, m) in settings {
        let row = one(engine, a, float, &stats, &opts, m, &inputs);
        rows.push(row.unwrap_or_else(|e| Row {
            setting: setting_name(&opts, m),
            worst_rel_rmse: None,
            sqnr_db: None,
            bytes: None,
            clipped: None,
            error: Some(e.to_string()),
            best: false,
        }));
    }
    let best = rows
        .iter()
        .filter_map(|r| r.worst_rel_rmse)
        .fold(f64::INFINITY, f64::min);
    for r in &mut rows {
        r.best = r.worst_rel_rmse == Some(best);
    }
    print_table(&rows, stats.samples, a);
    Ok(rows)
}

fn one<E: Engine>(
    engine: &E,
    a: &EvalArgs,
    float: &Model,
    stats: &Stats,
    opts: &QuantizeOptions,
    m: CalibrationMethod,
    inputs: &[litequant::IoSpec],
) -> litequant::Result<Row> {
    let st = stats.with_method(m, TargetGrid::for_mode(opts.mode))?;
    let (q, mut report) = quantize(float, Some(&st), opts)?;
    let clipped = match (&a.compare.calib, report.needs_saturation_pass()) {
        (Some(calib), true) => {
            let mut data = litequant::data::open(calib, inputs, &a.image)?;
            let copts = litequant::CalibrationOptions {
                max_samples: a.max_samples,
                ..Default::default()
            };
            litequant::quant::count_saturation(float, &q, engine, &mut data, &mut report, &copts)
                .map_err(|e| in_file(e, calib))?;
            totals(&report)
        }
        (_, true) => None,
        (_, false) => totals(&report),
    };
    let mut data = litequant::data::open(&a.data, inputs, &a.image)?;
    let eopts = litequant::eval::EvalOptions {
        max_samples: a.max_samples,
        ..Default::default()
    };
    let e = litequant::eval::evaluate(float, &q, engine, &mut data, None, &eopts)
        .map_err(|e| in_file(e, &a.data))?;
    let sqnr = e
        .outputs
        .iter()
        .map(|o| o.sqnr_db)
        .fold(f64::INFINITY, f64::min);
    debug_assert_eq!(report.mode, opts.mode);
    Ok(Row {
        setting: setting_name(opts, m),
        worst_rel_rmse: Some(10f64.powf(-sqnr / 20.0)),
        sqnr_db: Some(sqnr),
        bytes: Some(q.to_bytes()?.len()),
        clipped,
        error: None,
        best: false,
    })
}

/// A row's name: the method, prefixed by the mode when it is not int8.
fn setting_name(opts: &QuantizeOptions, m: CalibrationMethod) -> String {
    match opts.mode {
        Mode::Int8 => m.to_string(),
        mode => format!("{mode} {m}"),
    }
}

/// Activation values clipped and observed, when every activation was counted.
fn totals(report: &Report) -> Option<(u64, u64)> {
    let mut sum = (0u64, 0u64);
    for t in report.tensors.iter().filter(|t| !t.constant) {
        if let (Some(s), Some(o)) = (t.saturated, t.observed) {
            sum.0 += s;
            sum.1 += o;
        } else if t.observed.is_some() {
            return None;
        }
    }
    Some(sum)
}

fn print_table(rows: &[Row], samples: usize, a: &EvalArgs) {
    println!(
        "calibration methods, int8 and 16x8, from one set of statistics ({samples} \
         calibration samples); error of the worst output on {}:",
        a.data.display()
    );
    println!(
        "  {:<30} {:>12} {:>9} {:>10} {:>22}",
        "setting", "rel. RMSE", "SQNR dB", "bytes", "activations clipped"
    );
    for r in rows {
        match (r.worst_rel_rmse, r.sqnr_db, r.bytes) {
            (Some(e), Some(s), Some(b)) => println!(
                "{} {:<30} {:>12.4e} {:>9.2} {:>10} {:>22}",
                if r.best { "*" } else { " " },
                r.setting,
                e,
                s,
                b,
                match r.clipped {
                    Some((c, o)) => format!("{c} of {o}"),
                    None => "not counted".into(),
                }
            ),
            _ => println!(
                "  {:<30} fails: {}",
                r.setting,
                r.error.as_deref().unwrap_or("?")
            ),
        }
    }
    println!("  (* best: the least error; 16x8 rows cost the size column shows)");
}

fn in_file(e: Error, path: &Path) -> Error {
    match e {
        Error::Data(m) => Error::Data(format!("{}: {m}", path.display())),
        e => e,
    }
}
