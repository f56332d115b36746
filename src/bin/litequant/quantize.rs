//! `litequant quantize`: calibrate (int8 modes), quantize, write the model and the report.

use std::path::{Path, PathBuf};

use litequant::data::ImageOptions;
use litequant::gpu::GpuEngine;
use litequant::quant::{Mode, QuantizeOptions, Report};
use litequant::{ConverterFloatEngine, Engine, Error, FloatOrder, Model, Session, Stats};

use crate::backend::{run_on, Backend, Chosen};
use crate::MemoryArgs;
use crate::{end_progress, progress_if_tty, ModeArg};

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

pub(crate) struct QuantizeArgs {
    pub model: PathBuf,
    pub output: PathBuf,
    pub mode: Option<ModeArg>,
    pub calib: Option<PathBuf>,
    pub opts: QuantizeOptions,
    pub image: ImageOptions,
    pub report: Option<PathBuf>,
    pub backend: Backend,
    pub memory: MemoryArgs,
    pub target: crate::target::TargetArgs,
}

pub(crate) fn quantize_model(a: QuantizeArgs) -> litequant::Result<()> {
    let mut opts = a.opts.clone();
    opts.mode = match a.mode {
        Some(ModeArg::Dynamic) => Mode::Dynamic,
        Some(ModeArg::Int8) => Mode::Int8,
        Some(ModeArg::Int8Only) => Mode::Int8Only,
        Some(ModeArg::Float16) => Mode::Float16,
        None if a.calib.is_some() => Mode::Int8,
        None => Mode::Dynamic,
    };
    opts.validate()?;
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
        (Some(_), true) => a.backend.choose(a.memory)?,
        _ => Chosen::Reference,
    };
    let topts = a.target.options();
    if let (Some(t), false) = (&topts, opts.mode == Mode::Int8) {
        return Err(Error::Unsupported(format!(
            "an accuracy target ({}) keeps ops float: it needs --mode int8 and --calib, not \
             mode {}",
            t.target, opts.mode
        )));
    }
    let mut target_report = None;
    let (q, mut report) = match (&topts, &a.calib) {
        (Some(topts), Some(calib)) => {
            let (q, report, t) = run_on(
                a.backend,
                &mut chosen,
                "the accuracy search",
                |gpu| {
                    crate::target::target_on(&converter_order(gpu), &a, &model, &opts, topts, calib)
                },
                || crate::target::target_on(&converter, &a, &model, &opts, topts, calib),
            )?;
            target_report = Some(t);
            (q, report)
        }
        _ => quantize_plain(&a, &model, &opts, &converter, &mut chosen)?,
    };
    // Activations whose calibrated range does not fit their parameters: count their
    // saturated values on the calibration data, read a second time (same samples; with an
    // accuracy target the search counts them on its calibration part).
    if let (true, Some(calib), None) = (report.needs_saturation_pass(), &a.calib, &target_report) {
        let counted = run_on(
            a.backend,
            &mut chosen,
            "the saturation count",
            |gpu| {
                let gpu = converter_order(gpu);
                saturation_on(&gpu, &a, &model, &q, &opts, calib, report.clone())
            },
            || saturation_on(&converter, &a, &model, &q, &opts, calib, report.clone()),
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
    if let Some(t) = &target_report {
        println!("{t}");
    }
    eprintln!("{} written ({} bytes)", a.output.display(), bytes.len());
    Ok(())
}

/// Calibrate (int8 modes) and quantize as asked.
fn quantize_plain(
    a: &QuantizeArgs,
    model: &Model,
    opts: &QuantizeOptions,
    converter: &ConverterFloatEngine,
    chosen: &mut Chosen,
) -> litequant::Result<(Model, Report)> {
    let stats = match (&a.calib, opts.mode.needs_calibration()) {
        (None, true) => {
            return Err(Error::Data(format!(
                "mode {} needs calibration data: give --calib DATA (.npy, .npz or a \
                 directory of images)",
                opts.mode
            )))
        }
        (Some(calib), false) => {
            eprintln!(
                "note: mode {} needs no calibration; --calib {} is not used",
                opts.mode,
                calib.display()
            );
            None
        }
        (None, false) => None,
        (Some(calib), true) => Some(run_on(
            a.backend,
            chosen,
            "calibration",
            |gpu| calibrate_on(&converter_order(gpu), a, model, opts, calib),
            || calibrate_on(converter, a, model, opts, calib),
        )?),
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

fn calibrate_on<E: Engine>(
    engine: &E,
    a: &QuantizeArgs,
    model: &Model,
    opts: &QuantizeOptions,
    calib: &Path,
) -> litequant::Result<Stats> {
    let inputs = engine.prepare(model)?.inputs().to_vec();
    let mut data = litequant::data::open(calib, &inputs, &a.image)?;
    let mut copts = opts.calibration_options();
    copts.progress = progress_if_tty();
    eprintln!(
        "calibrating {} on {} ({})",
        a.model.display(),
        calib.display(),
        engine.name()
    );
    let t0 = std::time::Instant::now();
    let stats = litequant::calibrate(model, engine, &mut data, &copts);
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

fn saturation_on<E: Engine>(
    engine: &E,
    a: &QuantizeArgs,
    model: &Model,
    q: &Model,
    opts: &QuantizeOptions,
    calib: &Path,
    mut report: Report,
) -> litequant::Result<Report> {
    let inputs = engine.prepare(model)?.inputs().to_vec();
    let mut data = litequant::data::open(calib, &inputs, &a.image)?;
    let mut copts = opts.calibration_options();
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
