//! The `litequant` command line: a thin layer over the library.

mod backend;
mod compare;
mod quantize;
mod run;
mod target;
mod terms;

use std::path::PathBuf;
use std::process::ExitCode;

use backend::{run_on, Backend, CpuArgs};
use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand};
use litequant::data::ImageOptions;
use litequant::quant::{IoType, KeepFloat, Mode, QuantizeOptions};
use litequant::{Engine, Error, ReferenceEngine, Session};
use quantize::{quantize_model, QuantizeArgs};
use run::{run_model, RunArgs};

#[derive(Parser)]
#[command(
    name = "litequant",
    version,
    about = "Post-training quantization of TensorFlow Lite models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a model: subgraphs, inputs and outputs, tensors with quantization, op histogram,
    /// weight bytes by dtype.
    Inspect {
        /// The .tflite file.
        model: PathBuf,
        /// Print the stable JSON form (see docs/inspect-json.md) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a model on inputs from .npy/.npz files and save its outputs as .npz.
    Run {
        /// The .tflite file.
        model: PathBuf,
        /// An input array (.npy): by position, or `NAME=FILE.npy` for the input with that
        /// signature or tensor name. Repeat for several inputs.
        #[arg(long = "input", value_name = "[NAME=]FILE")]
        inputs: Vec<String>,
        /// An .npz with one array per input, keyed by signature or tensor name.
        #[arg(long = "inputs", value_name = "FILE.npz")]
        inputs_npz: Option<PathBuf>,
        /// Where to save the outputs (.npz, keyed by signature or tensor name).
        #[arg(short, long)]
        output: PathBuf,
        /// The engine to run on. cpu: the reference's results bit for bit, fast. gpu:
        /// results equal the reference's bit for bit, float32 included (the same summation
        /// order), except float LOGISTIC/TANH/SOFTMAX and what follows them (the device's
        /// exp: within 1e-4).
        #[arg(long, value_enum, default_value = "reference")]
        backend: Backend,
        /// The summation order of the float32 kernels: reference (TFLite's BUILTIN_REF, the
        /// fastest) or converter (the order TensorFlow's converter calibrates in).
        #[arg(long, value_enum, default_value = "reference")]
        float_order: run::FloatOrderArg,
        /// Run N times on the same inputs and report the minimum and median run time.
        #[arg(long, value_name = "N", default_value_t = 1)]
        repeat: usize,
        /// Also write every tensor computed during the run to DIR (t<index>.npy plus
        /// index.json), for per-layer debugging.
        #[arg(long, value_name = "DIR")]
        dump_all: Option<PathBuf>,
        #[command(flatten)]
        memory: MemoryArgs,
        #[command(flatten)]
        cpu: CpuArgs,
    },
    /// Quantize a float model (post-training quantization, as the TFLite converter does).
    Quantize {
        /// The float .tflite file (never modified).
        model: PathBuf,
        /// Where to write the quantized model (atomically; nothing is written on failure).
        #[arg(short, long)]
        output: PathBuf,
        /// The mode; default int8 when --calib is given, dynamic otherwise (as the converter).
        #[arg(long, value_parser = mode_parser())]
        mode: Option<Mode>,
        /// Calibration data: a .npy (leading axis = samples, single-input models), a .npz
        /// (one array per input) or a directory of PNG/JPEG images.
        #[arg(long, value_name = "DATA")]
        calib: Option<PathBuf>,
        /// Model input type (int8 modes).
        #[arg(long, value_parser = io_type_parser(), default_value = "float32")]
        input_type: IoType,
        /// Model output type (int8 modes).
        #[arg(long, value_parser = io_type_parser(), default_value = "float32")]
        output_type: IoType,
        /// Per-tensor weight scales instead of per channel.
        #[arg(long)]
        per_tensor: bool,
        /// Keep this op float (int8 modes): its output tensor name, or a builtin op name
        /// (CONV_2D) for every op of that type. Repeatable.
        #[arg(long = "keep-float", value_name = "NAME")]
        keep_float: Vec<String>,
        /// Run these ops on int16 activations inside an int8 model (mode int8, float I/O):
        /// output tensor names or builtin op names, comma-separated or repeated. The ops
        /// get 16x8 kernels (int16 activations, int8 weights, int64 biases), with
        /// requantizing QUANTIZE/DEQUANTIZE ops at their edges.
        #[arg(long = "int16-ops", value_name = "NAMES", value_delimiter = ',')]
        int16_ops: Vec<String>,
        /// Calibrate on at most N samples.
        #[arg(long, value_name = "N")]
        max_samples: Option<usize>,
        /// How activation ranges are chosen from the calibration statistics: minmax (the
        /// converter's, default), moving-average[:m] (ai-edge-quantizer's, m = 0.95),
        /// percentile[:p] (p = 99.99), mse, entropy (docs/calibration.md), or auto (per
        /// tensor, the method with the smallest output error on held-out calibration
        /// samples; docs/cli.md). The histogram methods run the data twice.
        #[arg(long, value_name = "METHOD", default_value = "minmax")]
        calibration: target::CalibrationArg,
        /// Bins of the histograms of percentile, mse and entropy (and of --save-stats).
        #[arg(long, value_name = "N", default_value_t = litequant::quant::methods::DEFAULT_HISTOGRAM_BINS)]
        histogram_bins: usize,
        /// Save the calibration statistics (ranges, moving average, histograms) to FILE, to
        /// quantize again with another method or mode without the data (--load-stats).
        #[arg(long, value_name = "FILE")]
        save_stats: Option<PathBuf>,
        /// Quantize from statistics saved by --save-stats for this model, instead of --calib.
        #[arg(long, value_name = "FILE")]
        load_stats: Option<PathBuf>,
        #[command(flatten)]
        image: ImageArgs,
        /// Also write the quantization report as JSON.
        #[arg(long, value_name = "FILE.json")]
        report: Option<PathBuf>,
        /// The engine calibration runs the float model on. reference (default): the ranges,
        /// hence every scale, equal the TFLite converter's to the bit (converter parity).
        /// gpu: the float kernels sum in the same order with every product rounded and the
        /// statistics are reduced on the device: the same ranges and the same converter
        /// parity, except for tensors computed through a float EXP, GELU (the device's exp)
        /// or LOG (its log), within a few float32 ulp. cpu: the reference's ranges bit for
        /// bit (the converter's float order), fast.
        #[arg(long, value_enum, default_value = "reference")]
        backend: Backend,
        #[command(flatten)]
        memory: MemoryArgs,
        #[command(flatten)]
        cpu: CpuArgs,
        #[command(flatten)]
        target: target::TargetArgs,
    },
    /// Compare a quantized model with its float original on data: per output max |err|,
    /// RMSE, SQNR, top-1 agreement (and accuracy with labels); --per-layer compares every
    /// tensor the two models share by name.
    Eval {
        /// The float .tflite file.
        float_model: PathBuf,
        /// The quantized .tflite file (not with --compare-methods).
        quant_model: Option<PathBuf>,
        /// Evaluation data (.npy, .npz or a directory of images), as for --calib.
        #[arg(long, value_name = "DATA")]
        data: PathBuf,
        /// Integer class labels, one per sample (.npy). Default: the `y` array of a .npz
        /// --data, if it has one.
        #[arg(long, value_name = "Y.npy")]
        labels: Option<PathBuf>,
        /// Compare every tensor the two models share by name (RMSE/scale as TFLite's
        /// quantization debugger).
        #[arg(long)]
        per_layer: bool,
        /// Evaluate on at most N samples.
        #[arg(long, value_name = "N")]
        max_samples: Option<usize>,
        #[command(flatten)]
        image: ImageArgs,
        /// Also write the results as JSON.
        #[arg(long, value_name = "FILE.json")]
        json: Option<PathBuf>,
        /// The engine both models run on (gpu: results equal the reference's bit for bit,
        /// except float LOGISTIC/TANH/SOFTMAX and what follows them: within 1e-4; cpu: the
        /// reference's results bit for bit, fast).
        #[arg(long, value_enum, default_value = "reference")]
        backend: Backend,
        #[command(flatten)]
        memory: MemoryArgs,
        #[command(flatten)]
        cpu: CpuArgs,
        #[command(flatten)]
        compare: compare::CompareArgs,
    },
}

/// `--mode`: the library's [`Mode`] names, parsed by its `FromStr`.
fn mode_parser() -> impl TypedValueParser<Value = Mode> {
    let names = Mode::ALL.map(|m| {
        let v = clap::builder::PossibleValue::new(m.name());
        match m {
            Mode::Int16x8 => v.help("16x8: int16 activations, int8 weights, int64 biases"),
            _ => v,
        }
    });
    clap::builder::PossibleValuesParser::new(names).try_map(|s| s.parse::<Mode>())
}

/// `--input-type`/`--output-type`: the library's [`IoType`] names, parsed by its `FromStr`.
fn io_type_parser() -> impl TypedValueParser<Value = IoType> {
    clap::builder::PossibleValuesParser::new(IoType::ALL.map(IoType::name))
        .try_map(|s| s.parse::<IoType>())
}

/// The memory budget of the engines.
#[derive(clap::Args, Clone, Copy)]
pub(crate) struct MemoryArgs {
    /// The most host memory a prepared model may take for what it declares (activation
    /// tensors, kernel tables): SIZE in bytes or with K, M, G, T (512M, 8G). A model over it
    /// is an error at prepare, naming the op, tensor, shape and bytes. Default: the memory
    /// available (MemAvailable of /proc/meminfo; 4G where that cannot be read).
    #[arg(long, value_name = "SIZE", value_parser = parse_max_memory)]
    pub(crate) max_memory: Option<u64>,
}

fn parse_max_memory(s: &str) -> Result<u64, String> {
    litequant::memory::parse_size(s).map_err(|e| e.to_string())
}

impl MemoryArgs {
    /// The reference engine with this budget.
    pub(crate) fn reference(self) -> ReferenceEngine {
        match self.max_memory {
            Some(b) => ReferenceEngine::default().with_max_memory(b),
            None => ReferenceEngine::default(),
        }
    }

    /// The converter-order engine with this budget.
    pub(crate) fn converter(self) -> litequant::ConverterFloatEngine {
        match self.max_memory {
            Some(b) => litequant::ConverterFloatEngine::default().with_max_memory(b),
            None => litequant::ConverterFloatEngine::default(),
        }
    }
}

/// Normalisation of image directories (`x = (p * scale - mean) / std`).
#[derive(clap::Args)]
struct ImageArgs {
    /// Images: multiply pixel values (0..255) by S first.
    #[arg(long, value_name = "S", default_value_t = 1.0 / 255.0)]
    scale: f32,
    /// Images: subtract M (one value, or comma-separated per channel) after scaling.
    #[arg(long, value_name = "M", value_delimiter = ',', default_value = "0")]
    mean: Vec<f32>,
    /// Images: divide by S (one value, or comma-separated per channel) after the mean.
    #[arg(long, value_name = "S", value_delimiter = ',', default_value = "1")]
    std: Vec<f32>,
}

impl ImageArgs {
    fn options(&self) -> ImageOptions {
        ImageOptions {
            scale: self.scale,
            mean: self.mean.clone(),
            std: self.std.clone(),
        }
    }
}

/// Progress of calibration/evaluation on a terminal: one line redrawn in place.
fn progress(p: litequant::Progress) {
    use std::io::Write;
    let (done, total) = (p.done, p.total);
    let mut err = std::io::stderr().lock();
    match total {
        Some(n) if n > 0 => {
            // Redraw only when the percentage moves.
            if done > 1 && done < n && done * 100 / n == (done - 1) * 100 / n {
                return;
            }
            let width = 30;
            let filled = (done.min(n) * width) / n;
            let _ = write!(
                err,
                "\r  [{}{}] {done}/{n} samples",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
        }
        _ => {
            if done % 10 != 0 {
                return;
            }
            let _ = write!(err, "\r  {done} samples");
        }
    }
    let _ = err.flush();
}

/// The progress callback: only when stderr is a terminal.
fn progress_if_tty() -> Option<litequant::ProgressFn> {
    use std::io::IsTerminal;
    std::io::stderr()
        .is_terminal()
        .then(|| litequant::ProgressFn::new(progress))
}

fn end_progress(shown: bool) {
    if shown {
        eprintln!();
    }
}

struct EvalArgs {
    float_model: PathBuf,
    quant_model: Option<PathBuf>,
    data: PathBuf,
    labels: Option<PathBuf>,
    per_layer: bool,
    max_samples: Option<usize>,
    image: ImageOptions,
    json: Option<PathBuf>,
    backend: Backend,
    memory: MemoryArgs,
    cpu: CpuArgs,
    compare: compare::CompareArgs,
}

fn eval_models(a: EvalArgs) -> litequant::Result<()> {
    if let Some(p) = &a.json {
        if p.is_dir() {
            return Err(Error::Data(format!("{}: is a directory", p.display())));
        }
    }
    let float = litequant::Model::from_file(&a.float_model)?;
    if a.compare.compare_methods {
        return compare_methods(&a, &float);
    }
    let Some(quant_path) = &a.quant_model else {
        return Err(Error::Data(
            "eval compares FLOAT_MODEL with QUANT_MODEL: give the quantized model (or \
             --compare-methods)"
                .into(),
        ));
    };
    let quant = litequant::Model::from_file(quant_path)?;
    let mut chosen = a.backend.choose(a.memory, a.cpu)?;
    run_on(
        a.backend,
        &mut chosen,
        "the evaluation",
        |gpu| eval_on(gpu, &a, &float, &quant),
        |cpu| eval_on(cpu, &a, &float, &quant),
        || eval_on(&a.memory.reference(), &a, &float, &quant),
    )
}

fn compare_methods(a: &EvalArgs, float: &litequant::Model) -> litequant::Result<()> {
    if let Some(q) = &a.quant_model {
        return Err(Error::Data(format!(
            "--compare-methods quantizes FLOAT_MODEL itself; {} is not used: leave it out",
            q.display()
        )));
    }
    let mut chosen = a.backend.choose(a.memory, a.cpu)?;
    let conv = litequant::ConverterFloatEngine::default();
    let rows = run_on(
        a.backend,
        &mut chosen,
        "the comparison",
        |gpu| {
            compare::compare_on(
                &gpu.clone()
                    .with_float_order(litequant::FloatOrder::Converter),
                a,
                float,
            )
        },
        |cpu| {
            let cpu = cpu
                .clone()
                .with_float_order(litequant::FloatOrder::Converter);
            compare::compare_on(&cpu, a, float)
        },
        || compare::compare_on(&conv, a, float),
    )?;
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&rows).unwrap_or_default();
        litequant::write_atomic(p, text.as_bytes())?;
    }
    Ok(())
}

fn eval_on<E: Engine>(
    engine: &E,
    a: &EvalArgs,
    float: &litequant::Model,
    quant: &litequant::Model,
) -> litequant::Result<()> {
    let inputs = engine
        .prepare(float)
        .map_err(|e| Error::Data(format!("{}: {e}", a.float_model.display())))?
        .inputs()
        .to_vec();
    let mut data = litequant::data::open(&a.data, &inputs, &a.image)?;
    let is_npz = a
        .data
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    let labels = match &a.labels {
        Some(p) => Some(litequant::eval::read_labels(p)?),
        None if is_npz => {
            let y = litequant::eval::labels_from_npz(&a.data, "y")?;
            if y.is_some() {
                eprintln!("labels: the 'y' array of {}", a.data.display());
            }
            y
        }
        None => None,
    };
    let opts = litequant::eval::EvalOptions {
        per_layer: a.per_layer,
        max_samples: a.max_samples,
        progress: progress_if_tty(),
        ..Default::default()
    };
    let report =
        litequant::eval::evaluate(float, quant, engine, &mut data, labels.as_deref(), &opts);
    end_progress(opts.progress.is_some());
    let report = report.map_err(|e| match e {
        Error::Data(m) => Error::Data(format!("{}: {m}", a.data.display())),
        e => e,
    })?;
    print!("{report}");
    if let Some(p) = &a.json {
        litequant::write_atomic(p, report.to_json().as_bytes())?;
    }
    Ok(())
}

fn run(cli: Cli) -> litequant::Result<()> {
    match cli.command {
        Command::Inspect { model, json } => {
            let (m, warnings) = litequant::Model::from_file_with_warnings(&model)?;
            let size = std::fs::metadata(&model).ok().map(|m| m.len());
            let mut report = litequant::inspect::Report::new(&m, size);
            report.warnings = warnings;
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{report}");
            }
        }
        Command::Run {
            model,
            inputs,
            inputs_npz,
            output,
            backend,
            float_order,
            repeat,
            dump_all,
            memory,
            cpu,
        } => run_model(
            &RunArgs {
                model: &model,
                inputs: &inputs,
                inputs_npz: inputs_npz.as_deref(),
                output: &output,
                dump_all: dump_all.as_deref(),
                memory,
                cpu,
                float_order,
                repeat: repeat.max(1),
            },
            backend,
        )?,
        Command::Quantize {
            model,
            output,
            mode,
            calib,
            input_type,
            output_type,
            per_tensor,
            keep_float,
            int16_ops,
            max_samples,
            calibration,
            histogram_bins,
            save_stats,
            load_stats,
            image,
            report,
            backend,
            memory,
            cpu,
            target,
        } => quantize_model(QuantizeArgs {
            model,
            output,
            mode,
            calib,
            calibration,
            histogram_bins,
            save_stats,
            load_stats,
            opts: QuantizeOptions {
                per_tensor,
                keep_float: keep_float.into_iter().map(KeepFloat::Name).collect(),
                int16_ops: int16_ops.into_iter().map(KeepFloat::Name).collect(),
                input_type,
                output_type,
                max_samples,
                ..QuantizeOptions::default()
            },
            image: image.options(),
            report,
            backend,
            memory,
            cpu,
            target,
        })?,
        Command::Eval {
            float_model,
            quant_model,
            data,
            labels,
            per_layer,
            max_samples,
            image,
            json,
            backend,
            memory,
            cpu,
            compare,
        } => eval_models(EvalArgs {
            float_model,
            quant_model,
            data,
            labels,
            per_layer,
            max_samples,
            image: image.options(),
            json,
            backend,
            memory,
            cpu,
            compare,
        })?,
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("litequant: error: {}", terms::in_cli_terms(&e.to_string()));
            if let Error::MissingCustomOp { .. } = e {
                eprintln!(
                    "litequant: the command line cannot load custom kernels; register one \
                     from Rust with the library (examples/custom_op.rs). `quantize --mode \
                     dynamic` and `--mode float16` need no kernel."
                );
            }
            ExitCode::FAILURE
        }
    }
}
