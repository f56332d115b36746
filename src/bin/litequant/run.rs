//! `litequant run`: read the inputs, run the model on the chosen engine (once, or
//! `--repeat N` times for the latency: the minimum and the median), optionally recording
//! every tensor, write the outputs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use litequant::data::{read_npy_file, write_npz, Npz};
use litequant::{Engine, FloatOrder, Observer, Session, Tensor};

use crate::backend::{run_on, Backend, CpuArgs};
use crate::MemoryArgs;

/// `--float-order`: the summation order of the float32 kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FloatOrderArg {
    /// TFLite's reference kernels (BUILTIN_REF): the fastest exact order.
    Reference,
    /// The kernels TensorFlow's converter calibrates with (what `quantize` calibrates in).
    Converter,
}

impl FloatOrderArg {
    fn order(self) -> FloatOrder {
        match self {
            FloatOrderArg::Reference => FloatOrder::Reference,
            FloatOrderArg::Converter => FloatOrder::Converter,
        }
    }
}

pub(crate) fn read_inputs(
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

pub(crate) struct RunArgs<'a> {
    pub model: &'a Path,
    pub inputs: &'a [String],
    pub inputs_npz: Option<&'a Path>,
    pub output: &'a Path,
    pub dump_all: Option<&'a Path>,
    pub memory: MemoryArgs,
    pub cpu: CpuArgs,
    pub float_order: FloatOrderArg,
    /// Runs (at least 1).
    pub repeat: usize,
}

pub(crate) fn run_model(a: &RunArgs, backend: Backend) -> litequant::Result<()> {
    let m = litequant::Model::from_file(a.model)?;
    let mut chosen = backend.choose(a.memory, a.cpu)?;
    let order = a.float_order.order();
    run_on(
        backend,
        &mut chosen,
        "the run",
        |gpu| run_model_on(&gpu.clone().with_float_order(order), &m, a),
        |cpu| run_model_on(&cpu.clone().with_float_order(order), &m, a),
        || match order {
            FloatOrder::Reference => run_model_on(&a.memory.reference(), &m, a),
            FloatOrder::Converter => run_model_on(&a.memory.converter(), &m, a),
        },
    )
}

fn run_model_on<E: Engine>(engine: &E, m: &litequant::Model, a: &RunArgs) -> litequant::Result<()> {
    let (model, output) = (a.model, a.output);
    let t0 = Instant::now();
    let mut session = engine.prepare(m)?;
    let ins = read_inputs(session.inputs(), a.inputs, a.inputs_npz)?;
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
        session = engine.prepare_with_input_shapes(m, &shapes).map_err(|e| {
            litequant::Error::Shape(format!(
                "inputs {} do not have the model's shapes, and resizing to them failed: {e}",
                given.join(", ")
            ))
        })?;
    }
    let prepared = t0.elapsed();
    let mut times = Vec::with_capacity(a.repeat.max(1));
    let t1 = Instant::now();
    let mut outs = match a.dump_all {
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
    times.push(t1.elapsed().as_secs_f64() * 1e3);
    for _ in 1..a.repeat {
        let t = Instant::now();
        outs = session.run(&ins)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let ran = match times.len() {
        1 => format!("{:.3} ms", times[0]),
        n => {
            times.sort_by(f64::total_cmp);
            let median = if n % 2 == 1 {
                times[n / 2]
            } else {
                (times[n / 2 - 1] + times[n / 2]) / 2.0
            };
            format!("{:.3} ms (min of {n}, median {median:.3} ms)", times[0])
        }
    };
    let named: Vec<(String, Tensor)> = litequant::output_keys(session.outputs())
        .into_iter()
        .zip(outs)
        .collect();
    write_npz(output, &named)?;
    eprintln!(
        "{}: prepared in {:.2} ms, ran in {ran} on {}; outputs {} written to {}",
        model.display(),
        prepared.as_secs_f64() * 1e3,
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
