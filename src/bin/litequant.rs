//! The `litequant` command line: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use litequant::data::{read_npy_file, write_npz, Npz};
use litequant::{Engine, Observer, ReferenceEngine, Session, Tensor};

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

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    /// The CPU reference engine (bit-exact with TFLite's reference kernels).
    Reference,
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
        /// The engine to run on.
        #[arg(long, value_enum, default_value = "reference")]
        backend: Backend,
        /// Also write every tensor computed during the run to DIR (t<index>.npy plus
        /// index.json), for per-layer debugging.
        #[arg(long, value_name = "DIR")]
        dump_all: Option<PathBuf>,
    },
}

fn read_inputs(
    specs: &[litequant::IoSpec],
    inputs: &[String],
    npz: Option<&Path>,
) -> litequant::Result<Vec<Tensor>> {
    let mut given = Vec::new();
    for arg in inputs {
        let (name, file) = match arg.split_once('=') {
            Some((n, f)) if !n.is_empty() && !Path::new(arg).exists() => (Some(n.to_string()), f),
            _ => (None, arg.as_str()),
        };
        given.push((name, read_npy_file(Path::new(file))?));
    }
    if let Some(path) = npz {
        let mut archive = Npz::open(path)?;
        for name in archive.names() {
            let t = archive.read(&name)?;
            given.push((Some(name), t));
        }
    }
    litequant::bind_inputs(specs, given)
}

/// Writes every tensor of a run to a folder.
struct Dump {
    dir: PathBuf,
    index: Vec<serde_json::Value>,
}

impl Observer for Dump {
    fn observe(&mut self, tensor: usize, name: &str, value: &Tensor) -> litequant::Result<()> {
        let file = format!("t{tensor:04}.npy");
        litequant::write_atomic(&self.dir.join(&file), &litequant::data::npy_bytes(value))?;
        self.index.push(serde_json::json!({
            "tensor": tensor, "name": name, "file": file,
            "dtype": value.dtype().name(), "shape": value.shape(),
        }));
        Ok(())
    }
}

fn run_model(
    model: &Path,
    inputs: &[String],
    inputs_npz: Option<&Path>,
    output: &Path,
    dump_all: Option<&Path>,
) -> litequant::Result<()> {
    let m = litequant::Model::from_file(model)?;
    let engine = ReferenceEngine;
    let t0 = Instant::now();
    let mut session = engine.prepare(&m)?;
    let ins = read_inputs(session.inputs(), inputs, inputs_npz)?;
    // Inputs of other shapes (dynamic dimensions): propagate them and prepare again.
    if ins
        .iter()
        .zip(session.inputs())
        .any(|(t, spec)| t.shape() != spec.shape.as_slice())
    {
        let shapes: Vec<Vec<usize>> = ins.iter().map(|t| t.shape().to_vec()).collect();
        let given: Vec<String> = ins
            .iter()
            .zip(session.inputs())
            .map(|(t, spec)| {
                format!(
                    "'{}' {} {:?} (model: {:?})",
                    spec.key(),
                    t.dtype(),
                    t.shape(),
                    spec.shape
                )
            })
            .collect();
        session = engine.prepare_with_input_shapes(&m, &shapes).map_err(|e| {
            litequant::Error::Shape(format!(
                "inputs {} do not have the model's shapes, and resizing to them failed: {e}",
                given.join(", ")
            ))
        })?;
    }
    let prepared = t0.elapsed();
    let t1 = Instant::now();
    let outs = match dump_all {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| litequant::Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            let mut dump = Dump {
                dir: dir.to_path_buf(),
                index: Vec::new(),
            };
            let outs = session.run_observed(&ins, Some(&mut dump))?;
            let index = serde_json::to_vec_pretty(&dump.index).unwrap_or_default();
            litequant::write_atomic(&dir.join("index.json"), &index)?;
            outs
        }
        None => session.run(&ins)?,
    };
    let ran = t1.elapsed();
    let named: Vec<(String, Tensor)> = session
        .outputs()
        .iter()
        .zip(outs)
        .map(|(spec, t)| (spec.key().to_string(), t))
        .collect();
    write_npz(output, &named)?;
    eprintln!(
        "{}: prepared in {:.2} ms, ran in {:.3} ms on {}; outputs {} written to {}",
        model.display(),
        prepared.as_secs_f64() * 1e3,
        ran.as_secs_f64() * 1e3,
        engine.name(),
        named
            .iter()
            .map(|(n, t)| format!("{n} {} {:?}", t.dtype(), t.shape()))
            .collect::<Vec<_>>()
            .join(", "),
        output.display()
    );
    Ok(())
}

fn run(cli: Cli) -> litequant::Result<()> {
    match cli.command {
        Command::Inspect { model, json } => {
            let m = litequant::Model::from_file(&model)?;
            let size = std::fs::metadata(&model).ok().map(|m| m.len());
            let report = litequant::inspect::Report::new(&m, size);
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
            backend: Backend::Reference,
            dump_all,
        } => run_model(
            &model,
            &inputs,
            inputs_npz.as_deref(),
            &output,
            dump_all.as_deref(),
        )?,
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("litequant: error: {e}");
            ExitCode::FAILURE
        }
    }
}
