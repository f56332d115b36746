//! `litequant quantize`: calibrate (int8 modes), quantize, write the model and the report.

use std::path::{Path, PathBuf};

use litequant::data::ImageOptions;
use litequant::gpu::GpuEngine;
use litequant::quant::{CalibrationMethod, Mode, QuantizeOptions, Report, StatsNeeds, TargetGrid};
use litequant::{ConverterFloatEngine, Engine, Error, FloatOrder, Model, Session, Stats};

use crate::backend::{run_on, Backend, Chosen, CpuArgs};
use crate::MemoryArgs;
use crate::{end_progress, progress_if_tty};

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

pub(crate) struct QuantizeArgs {
    pub model: PathBuf,
    pub output: PathBuf,
    pub mode: Option<Mode>,
    pub calib: Option<PathBuf>,
    pub calibration: crate::target::CalibrationArg,
    pub histogram_bins: usize,
    pub save_stats: Option<PathBuf>,
    pub load_stats: Option<PathBuf>,
    pub opts: QuantizeOptions,
    pub image: ImageOptions,
    pub report: Option<PathBuf>,
    pub backend: Backend,
    pub memory: MemoryArgs,
    pub cpu: CpuArgs,
    pub target: crate::target::TargetArgs,
}

pub(crate) fn quantize_model(a: QuantizeArgs) -> litequant::Result<()> {
    let mut opts = a.opts.clone();
    opts.mode = match a.mode {
        Some(mode) => mode,
        None if a.calib.is_some() || a.load_stats.is_some() => Mode::Int8,
        None => Mode::Dynamic,
    };
    opts.validate()?;
    check_stats_args(&a, opts.mode)?;
    if same_file(&a.model, &a.output) {
        return Err(Error::Data(format!(
            "{}: the output would overwrite the input model; choose another -o",
            a.output.display()
        )));
    }
    for p in [Some(&a.output), a.report.as_ref()].into_iter().flatten() {
        if p.is_dir() {
            return Err(Error::Data(format!("{}: is a directory", p.display())));
        }
    }
    let model = litequant::Model::from_file(&a.model)?;
    // Unknown --keep-float names, before any work.
    opts.validate_for(&model)?;
    let converter = match a.memory.max_memory {
        Some(b) => ConverterFloatEngine::default().with_max_memory(b),
        None => ConverterFloatEngine::default(),
    };
    // Calibration on the reference side runs the float kernels in the summation order of
    // those TensorFlow's converter calibrates with: the same ranges, hence the same scales,
    // to the bit. The GPU engine runs in the same order (`converter_order`): the same ranges,
    // except through a float EXP/GELU/LOG (the device's exp and log), within a few ulp.
    let mut chosen = match (&a.calib, opts.mode.needs_calibration()) {
        (Some(_), true) => a.backend.choose(a.memory, a.cpu)?,
        _ => Chosen::Reference,
    };
    let topts = a.target.options();
    let auto = a.calibration == crate::target::CalibrationArg::Auto;
    if let (Some(t), false) = (&topts, opts.mode == Mode::Int8) {
        return Err(Error::Unsupported(format!(
            "an accuracy target ({}) keeps ops float: it needs --mode int8 and --calib, not \
             mode {}",
            t.target, opts.mode
        )));
    }
    if auto && (a.calib.is_none() || !opts.mode.needs_calibration()) {
        return Err(Error::Data(format!(
            "--calibration auto measures each method on held-out calibration samples: it \
             needs an int8 mode and --calib DATA (mode {}{})",
            opts.mode,
            if a.load_stats.is_some() {
                "; --load-stats holds no samples"
            } else {
                ""
            }
        )));
    }
    let mut heldout = None;
    let (q, mut report) = match (topts.is_some() || auto, &a.calib) {
        (true, Some(calib)) => {
            let topts = topts.as_ref();
            let (q, report, h) = run_on(
                a.backend,
                &mut chosen,
                "the held-out search",
                |gpu| {
                    crate::target::heldout_on(
                        &converter_order(gpu),
                        &a,
                        &model,
                        &opts,
                        topts,
                        calib,
                    )
                },
                |cpu| {
                    let cpu = cpu_converter_order(cpu);
                    crate::target::heldout_on(&cpu, &a, &model, &opts, topts, calib)
                },
                || crate::target::heldout_on(&converter, &a, &model, &opts, topts, calib),
            )?;
            heldout = Some(h);
            (q, report)
        }
        _ => quantize_plain(&a, &model, &opts, &converter, &mut chosen)?,
    };
    // Activations whose calibrated range does not fit their parameters: count their
    // saturated values on the calibration data, read a second time (same samples; with an
    // accuracy target the search counts them on its calibration part).
    if report.needs_saturation_pass() && a.calib.is_none() && a.load_stats.is_some() {
        eprintln!(
            "note: the saturation of some activations (sat ?) needs the calibration data, \
             which --load-stats does not give"
        );
    }
    if let (true, Some(calib), None) = (report.needs_saturation_pass(), &a.calib, &heldout) {
        let counted = run_on(
            a.backend,
            &mut chosen,
            "the saturation count",
            |gpu| {
                let gpu = converter_order(gpu);
                saturation_on(&gpu, &a, &model, &q, &opts, calib, report.clone(), 1)
            },
            |cpu| {
                // Samples in parallel, one thread each.
                let threads = cpu.threads();
                let cpu = cpu_converter_order(cpu);
                saturation_on(&cpu, &a, &model, &q, &opts, calib, report.clone(), threads)
            },
            || saturation_on(&converter, &a, &model, &q, &opts, calib, report.clone(), 1),
        )?;
        report = counted;
    }
    let bytes = q.to_bytes()?;
    litequant::write_atomic(&a.output, &bytes)?;
    if let Some(path) = &a.report {
        if let Err(e) = litequant::write_atomic(path, report.to_json().as_bytes()) {
            // A failed run leaves no output behind.
            let _ = std::fs::remove_file(&a.output);
            return Err(e);
        }
    }
    print!("{report}");
    if let Some(h) = &heldout {
        if let Some(r) = &h.auto {
            println!("{r}");
        }
        if let Some(t) = &h.target {
            println!("{t}");
        }
    }
    eprintln!("{} written ({} bytes)", a.output.display(), bytes.len());
    Ok(())
}

/// Calibrate (or load the statistics) and quantize as asked.
fn quantize_plain(
    a: &QuantizeArgs,
    model: &Model,
    opts: &QuantizeOptions,
    converter: &ConverterFloatEngine,
    chosen: &mut Chosen,
) -> litequant::Result<(Model, Report)> {
    let label = a.model.display().to_string();
    let stats = match (&a.calib, &a.load_stats, opts.mode.needs_calibration()) {
        (_, Some(path), true) => {
            let stats = Stats::load(path, model, &label)?;
            check_loaded(&stats, a.calibration.method(), path)?;
            eprintln!(
                "statistics of {} samples loaded from {}",
                stats.samples,
                path.display()
            );
            Some(stats)
        }
        (None, None, true) => {
            return Err(Error::Data(format!(
                "mode {} needs calibration data: give --calib DATA (.npy, .npz or a \
                 directory of images) or --load-stats FILE",
                opts.mode
            )))
        }
        (Some(calib), _, false) => {
            eprintln!(
                "note: mode {} needs no calibration; --calib {} is not used",
                opts.mode,
                calib.display()
            );
            None
        }
        (None, _, false) => None,
        (Some(calib), None, true) => {
            let mut needs = a.calibration.method().needs(a.histogram_bins);
            if a.save_stats.is_some() {
                needs = needs.union(&StatsNeeds::all(a.histogram_bins));
            }
            let stats = run_on(
                a.backend,
                chosen,
                "calibration",
                |gpu| calibrate_on(&converter_order(gpu), a, model, opts, calib, &needs, 1),
                |cpu| {
                    // Samples in parallel, one thread each.
                    let threads = cpu.threads();
                    let cpu = cpu_converter_order(cpu);
                    calibrate_on(&cpu, a, model, opts, calib, &needs, threads)
                },
                || calibrate_on(converter, a, model, opts, calib, &needs, 1),
            )?;
            if let Some(path) = &a.save_stats {
                stats.save(path, model, &label)?;
                eprintln!("calibration statistics saved to {}", path.display());
            }
            Some(stats)
        }
    };
    let stats = match stats {
        Some(s) => Some(
            s.with_method(a.calibration.method(), TargetGrid::for_mode(opts.mode))
                .map_err(|e| match &a.load_stats {
                    Some(p) => in_file(e, p),
                    None => e,
                })?,
        ),
        None => None,
    };
    litequant::quant::quantize(model, stats.as_ref(), opts).map_err(|e| match &a.calib {
        Some(calib) if stats.is_some() => in_file(e, calib),
        _ => e,
    })
}

/// The GPU engine with the float kernels in the order of `ConverterFloatEngine` (the TF
/// converter's), which the reference backend calibrates with: the same bits.
fn converter_order(gpu: &GpuEngine) -> GpuEngine {
    gpu.clone().with_float_order(FloatOrder::Converter)
}

/// The fast CPU engine in the converter's float order: `ConverterFloatEngine`'s bits.
fn cpu_converter_order(cpu: &litequant::FastCpuEngine) -> litequant::FastCpuEngine {
    cpu.clone().with_float_order(FloatOrder::Converter)
}

fn calibrate_on<E: Engine>(
    engine: &E,
    a: &QuantizeArgs,
    model: &Model,
    opts: &QuantizeOptions,
    calib: &Path,
    needs: &StatsNeeds,
    sample_threads: usize,
) -> litequant::Result<Stats> {
    let inputs = engine.prepare(model)?.inputs().to_vec();
    let mut copts = opts.calibration_options();
    copts.threads = sample_threads;
    copts.progress = progress_if_tty();
    let passes = if needs.histogram_bins.is_some() {
        " (two passes: ranges, then histograms)"
    } else {
        ""
    };
    eprintln!(
        "calibrating {} on {} ({}){passes}",
        a.model.display(),
        calib.display(),
        engine.name()
    );
    let t0 = std::time::Instant::now();
    let mut open = || litequant::data::open(calib, &inputs, &a.image);
    let stats = litequant::quant::calibrate_for(model, engine, &mut open, needs, &copts);
    end_progress(copts.progress.is_some());
    let stats = stats.map_err(|e| in_file(e, calib))?;
    let nf = stats.non_finite();
    eprintln!(
        "calibrated on {} samples in {:.2} s; NaN/Inf seen in {} tensors",
        stats.samples,
        t0.elapsed().as_secs_f64(),
        nf.len()
    );
    for (t, nan, inf) in &nf {
        let name = model.main().tensors.get(*t).map(|x| x.name.as_str());
        eprintln!(
            "  tensor {t} '{}': {nan} NaN, {inf} Inf",
            name.unwrap_or("?")
        );
    }
    Ok(stats)
}

/// The statistics flags together, before any work.
fn check_stats_args(a: &QuantizeArgs, mode: Mode) -> litequant::Result<()> {
    if let (Some(calib), Some(load)) = (&a.calib, &a.load_stats) {
        return Err(Error::Data(format!(
            "give either --calib {} (calibrate on data) or --load-stats {} (statistics \
             calibrated before), not both",
            calib.display(),
            load.display()
        )));
    }
    if let Some(save) = &a.save_stats {
        if a.calib.is_none() {
            return Err(Error::Data(format!(
                "--save-stats {} saves the statistics of a calibration: give --calib DATA",
                save.display()
            )));
        }
        if save.is_dir() {
            return Err(Error::Data(format!("{}: is a directory", save.display())));
        }
        if a.load_stats.as_ref().is_some_and(|l| same_file(l, save)) {
            return Err(Error::Data(
                "--save-stats and --load-stats name one file".into(),
            ));
        }
    }
    if !mode.needs_calibration() {
        if a.calibration != crate::target::CalibrationArg::Method(CalibrationMethod::MinMax) {
            return Err(Error::Data(format!(
                "--calibration {} chooses activation ranges of the full-integer modes; mode \
                 {mode} has none",
                a.calibration
            )));
        }
        if let Some(p) = a.load_stats.as_ref().or(a.save_stats.as_ref()) {
            return Err(Error::Data(format!(
                "{}: calibration statistics are for the full-integer modes; mode {mode} \
                 needs none",
                p.display()
            )));
        }
    }
    if a.histogram_bins == 0 || a.histogram_bins > litequant::quant::stats::MAX_BINS {
        return Err(Error::Data(format!(
            "--histogram-bins {}: give 1 to {}",
            a.histogram_bins,
            litequant::quant::stats::MAX_BINS
        )));
    }
    Ok(())
}

/// Loaded statistics hold what the method reads.
fn check_loaded(stats: &Stats, method: CalibrationMethod, path: &Path) -> litequant::Result<()> {
    if method.needs_histograms() && stats.histograms.is_empty() {
        return Err(Error::Data(format!(
            "{}: --calibration {method} reads histograms, and these statistics hold none: \
             calibrate again with --save-stats (it keeps histograms)",
            path.display()
        )));
    }
    if let CalibrationMethod::MovingAverage(m) = method {
        if stats.moving_average(m).is_none() {
            let have: Vec<String> = stats
                .moving_averages
                .iter()
                .map(|a| a.momentum.to_string())
                .collect();
            return Err(Error::Data(format!(
                "{}: --calibration {method} reads the moving average with momentum {m}; these \
                 statistics hold {}: calibrate again with --calibration {method} --save-stats",
                path.display(),
                if have.is_empty() {
                    "none".to_string()
                } else {
                    format!("momentum {}", have.join(", "))
                }
            )));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn saturation_on<E: Engine>(
    engine: &E,
    a: &QuantizeArgs,
    model: &Model,
    q: &Model,
    opts: &QuantizeOptions,
    calib: &Path,
    mut report: Report,
    sample_threads: usize,
) -> litequant::Result<Report> {
    let inputs = engine.prepare(model)?.inputs().to_vec();
    let mut data = litequant::data::open(calib, &inputs, &a.image)?;
    let mut copts = opts.calibration_options();
    copts.threads = sample_threads;
    copts.progress = progress_if_tty();
    eprintln!(
        "counting saturation: a second pass over {} for the ranges that do not fit",
        calib.display()
    );
    let counted =
        litequant::quant::count_saturation(model, q, engine, &mut data, &mut report, &copts);
    end_progress(copts.progress.is_some());
    counted.map_err(|e| in_file(e, calib))?;
    Ok(report)
}

/// A data error, prefixed with the data file it came from.
fn in_file(e: Error, path: &Path) -> Error {
    match e {
        Error::Data(m) => Error::Data(format!("{}: {m}", path.display())),
        e => e,
    }
}
