//! Accuracy of a quantized model against its float original: per-output error metrics
//! (max |err|, RMSE, SQNR, top-1 agreement, accuracy with labels) and a per-layer
//! comparison of every tensor the two models share by name, streamed over a dataset.
//!
//! ```no_run
//! # fn main() -> litequant::Result<()> {
//! use litequant::{Engine, Session};
//! let float = litequant::Model::from_file("model.tflite")?;
//! let quant = litequant::Model::from_file("model_int8.tflite")?;
//! let engine = litequant::ReferenceEngine;
//! let inputs = engine.prepare(&float)?.inputs().to_vec();
//! let mut data = litequant::data::open("holdout.npz", &inputs, &Default::default())?;
//! let labels = litequant::eval::labels_from_npz("holdout.npz", "y")?;
//! let opts = litequant::eval::EvalOptions { per_layer: true, ..Default::default() };
//! let report = litequant::eval::evaluate(&float, &quant, &engine, &mut data, labels.as_deref(), &opts)?;
//! println!("{report}");
//! # Ok(()) }
//! ```
//!
//! The per-layer comparison runs the two models side by side on the same inputs and
//! compares each shared tensor's values, the quantized one dequantized with its own scale
//! and zero point — the errors are those of the whole quantized model up to that tensor
//! (TFLite's debugger in `whole_model_verify` form; its default debug model instead feeds
//! each float op the quantized model's dequantized inputs, measuring one layer at a time).
//! The statistics are the debugger's, see [`LayerMetrics`].

mod metrics;

pub use metrics::{
    argmax, sqnr_db, LayerAccumulator, LayerMetrics, OutputAccumulator, OutputMetrics,
};

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::data::Dataset;
use crate::engine::{bind_inputs, Engine, IoSpec, Observer, Session};
use crate::model::{DType, Model};
use crate::{f16_to_f32, Buf, Error, Result, Tensor};

/// Settings of [`evaluate`].
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Also compare every tensor the two models share by name.
    pub per_layer: bool,
    /// Stop after this many samples.
    pub max_samples: Option<usize>,
    /// Called after each sample ([`crate::Progress`]: samples done, total if known).
    pub progress: Option<crate::ProgressFn>,
    /// Stops the evaluation before its next sample with [`Error::Cancelled`] once cancelled.
    pub cancel: crate::CancelToken,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Samples evaluated.
    pub samples: usize,
    /// The engine both models ran on.
    pub engine: String,
    /// Whether labels were given (accuracy is then reported for class outputs).
    pub labelled: bool,
    /// Per output, in the float model's output order.
    pub outputs: Vec<OutputMetrics>,
    /// Per shared tensor, in the quantized model's execution order (empty unless
    /// [`EvalOptions::per_layer`]).
    pub layers: Vec<LayerMetrics>,
}

impl EvalReport {
    /// Pretty-printed JSON; non-finite numbers (an SQNR of identical outputs) are `null`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.2}%", x * 100.0))
        .unwrap_or_else(|| "-".into())
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} samples on {}", self.samples, self.engine)?;
        for o in &self.outputs {
            writeln!(f, "output '{}':", o.name)?;
            writeln!(
                f,
                "  max |err| {:.6e}  RMSE {:.6e}  SQNR {:.2} dB  ({} elements{})",
                o.max_abs_error,
                o.rmse,
                o.sqnr_db,
                o.elements,
                if o.non_finite > 0 {
                    format!(", {} non-finite pairs left out", o.non_finite)
                } else {
                    String::new()
                }
            )?;
            if o.top1_agreement.is_some() {
                writeln!(f, "  top-1 agreement {}", pct(o.top1_agreement))?;
            }
            if o.accuracy_float.is_some() {
                writeln!(
                    f,
                    "  accuracy: float {}, quantized {}",
                    pct(o.accuracy_float),
                    pct(o.accuracy_quant)
                )?;
            }
        }
        if !self.layers.is_empty() {
            writeln!(
                f,
                "per layer (d = dequant(q) - float; each statistic per sample, then averaged over samples, as TFLite's QuantizationDebugger):"
            )?;
            writeln!(
                f,
                "  {:>4} {:>4} {:<5} {:>12} {:>12} {:>12} {:>10}  name",
                "f#", "q#", "dtype", "max|d|", "mean d", "rmse", "rmse/scale"
            )?;
            for l in &self.layers {
                writeln!(
                    f,
                    "  {:>4} {:>4} {:<5} {:>12.4e} {:>12.4e} {:>12.4e} {:>10}  {}",
                    l.float_tensor,
                    l.quant_tensor,
                    l.dtype.to_string(),
                    l.max_abs_error,
                    l.mean_error,
                    l.rmse,
                    l.rmse_over_scale
                        .map(|v| format!("{v:.4}"))
                        .unwrap_or_else(|| "-".into()),
                    l.name
                )?;
            }
        }
        Ok(())
    }
}

/// Values of a tensor as float32: float as is, FLOAT16 widened, integers dequantized with
/// `quant` (`(q - zero_point) * scale` in float32, as DEQUANTIZE does).
pub fn dequantize(t: &Tensor, quant: Option<(f32, i64)>, what: &str) -> Result<Vec<f32>> {
    let need = || {
        quant.ok_or_else(|| {
            Error::Shape(format!(
                "{what}: {} {:?} has no scale and zero point to compare it as float",
                t.dtype(),
                t.shape()
            ))
        })
    };
    let deq = |q: i64, (s, zp): (f32, i64)| (q - zp) as f32 * s;
    Ok(match t.buf() {
        Buf::F32(v) => v.clone(),
        Buf::F16(v) => v.iter().map(|&h| f16_to_f32(h)).collect(),
        Buf::I8(v) => {
            let p = need()?;
            v.iter().map(|&q| deq(q as i64, p)).collect()
        }
        Buf::U8(v) => {
            let p = need()?;
            v.iter().map(|&q| deq(q as i64, p)).collect()
        }
        Buf::I16(v) => {
            let p = need()?;
            v.iter().map(|&q| deq(q as i64, p)).collect()
        }
        _ => {
            return Err(Error::Shape(format!(
                "{what}: {} {:?} cannot be compared as float",
                t.dtype(),
                t.shape()
            )))
        }
    })
}

/// Quantize float values for an int8/uint8 input as TFLite's QUANTIZE op does:
/// `clamp(round(x / scale) + zero_point)`, division in float32, rounding half away from
/// zero; NaN becomes the zero point.
fn quantize_input(x: &[f32], dtype: DType, (scale, zp): (f32, i64)) -> Buf {
    let (lo, hi) = if dtype == DType::U8 {
        (0.0f32, 255.0)
    } else {
        (-128.0f32, 127.0)
    };
    let q = x.iter().map(move |&v| {
        let r = (v / scale).round();
        let r = if r.is_nan() { 0.0 } else { r };
        (r + zp as f32).clamp(lo, hi)
    });
    if dtype == DType::U8 {
        Buf::U8(q.map(|v| v as u8).collect())
    } else {
        Buf::I8(q.map(|v| v as i8).collect())
    }
}

/// The float model's inputs made fit for the quantized model's (int8/uint8 inputs of an
/// integer-only model get the float data quantized with their scale and zero point).
fn adapt_inputs(inputs: &[Tensor], specs: &[IoSpec]) -> Result<Vec<Tensor>> {
    if inputs.len() != specs.len() {
        return Err(Error::Shape(format!(
            "the quantized model has {} inputs, the float model {}",
            specs.len(),
            inputs.len()
        )));
    }
    inputs
        .iter()
        .zip(specs)
        .map(|(t, spec)| match (t.buf(), spec.dtype) {
            (b, d) if b.dtype() == d => Ok(t.clone()),
            (Buf::F32(x), d @ (DType::I8 | DType::U8)) => {
                let q = spec.quant.ok_or_else(|| {
                    Error::Shape(format!(
                        "quantized model input '{}' is {d} without a scale and zero point",
                        spec.key()
                    ))
                })?;
                Tensor::new(t.shape(), quantize_input(x, d, q))
            }
            _ => Err(Error::Shape(format!(
                "quantized model input '{}' is {} {:?}; the float model's is {} {:?}",
                spec.key(),
                spec.dtype,
                spec.shape,
                t.dtype(),
                t.shape()
            ))),
        })
        .collect()
}

/// Non-constant tensors of the main subgraph by name (the first of duplicates).
fn computed_names(model: &Model) -> HashMap<&str, usize> {
    let mut names = HashMap::new();
    for (i, t) in model.main().tensors.iter().enumerate() {
        if t.data.is_none() && !t.name.is_empty() {
            names.entry(t.name.as_str()).or_insert(i);
        }
    }
    names
}

/// Keeps the float model's values of the shared tensors for one sample.
struct KeepFloat<'a> {
    wanted: &'a HashMap<usize, usize>, // float tensor -> slot
    values: Vec<Option<Vec<f32>>>,
}

impl Observer for KeepFloat<'_> {
    fn observe(&mut self, tensor: usize, _name: &str, value: &Tensor) -> Result<()> {
        if let (Some(&slot), Buf::F32(v)) = (self.wanted.get(&tensor), value.buf()) {
            self.values[slot] = Some(v.clone());
        }
        Ok(())
    }
}

/// Compares the quantized model's shared tensors with the kept float values.
struct CompareQuant<'a> {
    slots: &'a HashMap<usize, usize>, // quant tensor -> slot
    quant: &'a [Option<(f32, i64)>],  // per slot
    float: &'a [Option<Vec<f32>>],
    acc: &'a mut [LayerAccumulator],
    seen: &'a mut Vec<usize>, // slots in first-observation order
    diffs: Vec<f64>,
}

impl Observer for CompareQuant<'_> {
    fn observe(&mut self, tensor: usize, name: &str, value: &Tensor) -> Result<()> {
        let Some(&slot) = self.slots.get(&tensor) else {
            return Ok(());
        };
        let Some(reference) = &self.float[slot] else {
            return Ok(());
        };
        let Ok(q) = dequantize(value, self.quant[slot], name) else {
            return Ok(());
        };
        if q.len() != reference.len() {
            return Ok(());
        }
        self.diffs.clear();
        self.diffs
            .extend(q.iter().zip(reference).map(|(&a, &b)| a as f64 - b as f64));
        self.acc[slot].add(&self.diffs);
        if !self.seen.contains(&slot) {
            self.seen.push(slot);
        }
        Ok(())
    }
}

/// A tensor both models compute (per-layer comparison).
struct Slot {
    name: String,
    float_tensor: usize,
    quant_tensor: usize,
    dtype: DType,
    quant: Option<(f32, i64)>,
}

/// Run `float` and `quant` on `engine` over `data` (samples fitted to the float model's
/// inputs, e.g. by [`crate::data::open`]) and compare: per output, and with
/// [`EvalOptions::per_layer`] per shared tensor. `labels`: integer classes, one per row of
/// each class output (one per sample for a `[1, C]` output), in sample order.
///
/// Outputs are paired by position; a quantized model's int8/uint8 inputs get the float data
/// quantized, its integer outputs are dequantized with their scale and zero point.
pub fn evaluate<E: Engine>(
    float: &Model,
    quant: &Model,
    engine: &E,
    data: &mut dyn Dataset,
    labels: Option<&[i64]>,
    opts: &EvalOptions,
) -> Result<EvalReport> {
    let mut fs = engine
        .prepare(float)
        .map_err(|e| Error::Data(format!("the float model: {e}")))?;
    let mut qs = engine
        .prepare(quant)
        .map_err(|e| Error::Data(format!("the quantized model: {e}")))?;
    let (fouts, qouts) = (fs.outputs().to_vec(), qs.outputs().to_vec());
    if fouts.len() != qouts.len() {
        return Err(Error::Shape(format!(
            "the float model has {} outputs, the quantized model {}",
            fouts.len(),
            qouts.len()
        )));
    }
    if let Some(labels) = labels {
        check_labels(labels, &fouts)?;
    }
    let qins = qs.inputs().to_vec();

    // Per-layer plan: shared computed tensors, one slot each.
    let (mut fslots, mut qslots) = (HashMap::new(), HashMap::new());
    let mut slot_info: Vec<Slot> = Vec::new();
    if opts.per_layer {
        let fnames = computed_names(float);
        let mut qnames: Vec<(&str, usize)> = computed_names(quant).into_iter().collect();
        qnames.sort_by_key(|&(_, i)| i);
        for (name, qi) in qnames {
            let Some(&fi) = fnames.get(name) else {
                continue;
            };
            if float.main().tensors[fi].dtype != DType::F32 {
                continue;
            }
            let qt = &quant.main().tensors[qi];
            let qp = qt
                .quant
                .as_ref()
                .filter(|q| !q.scale.is_empty() && qt.dtype != DType::F32)
                .map(|q| (q.scale[0], q.zero_point.first().copied().unwrap_or(0)));
            let slot = slot_info.len();
            fslots.insert(fi, slot);
            qslots.insert(qi, slot);
            slot_info.push(Slot {
                name: name.to_string(),
                float_tensor: fi,
                quant_tensor: qi,
                dtype: qt.dtype,
                quant: qp,
            });
        }
    }
    let quant_params: Vec<Option<(f32, i64)>> = slot_info.iter().map(|s| s.quant).collect();
    let mut layer_acc = vec![LayerAccumulator::default(); slot_info.len()];
    let mut seen = Vec::new();

    let total = match (data.len_hint(), opts.max_samples) {
        (Some(n), Some(m)) => Some(n.min(m)),
        (n, m) => n.or(m),
    };
    let mut acc = vec![OutputAccumulator::default(); fouts.len()];
    let mut samples = 0usize;
    while opts.max_samples.is_none_or(|m| samples < m) {
        opts.cancel.check()?;
        let Some(sample) = data.next_sample() else {
            break;
        };
        let at = |e: Error| Error::Sample {
            pass: crate::Phase::Evaluation.name().to_string(),
            index: samples,
            source: Box::new(e),
        };
        let finputs = bind_inputs(fs.inputs(), sample.map_err(at)?).map_err(at)?;
        crate::engine::check_inputs(fs.inputs(), &finputs).map_err(at)?;
        let qinputs = adapt_inputs(&finputs, &qins).map_err(at)?;
        let (fo, qo) = if opts.per_layer {
            let mut keep = KeepFloat {
                wanted: &fslots,
                values: vec![None; slot_info.len()],
            };
            let fo = fs.run_observed(&finputs, Some(&mut keep)).map_err(at)?;
            let mut cmp = CompareQuant {
                slots: &qslots,
                quant: &quant_params,
                float: &keep.values,
                acc: &mut layer_acc,
                seen: &mut seen,
                diffs: Vec::new(),
            };
            let qo = qs.run_observed(&qinputs, Some(&mut cmp)).map_err(at)?;
            (fo, qo)
        } else {
            (fs.run(&finputs).map_err(at)?, qs.run(&qinputs).map_err(at)?)
        };
        for (k, (f, q)) in fo.iter().zip(&qo).enumerate() {
            let what = format!("sample {samples}: output '{}'", qouts[k].key());
            let fv = dequantize(f, fouts[k].quant, &what)?;
            let qv = dequantize(q, qouts[k].quant, &what)?;
            if fv.len() != qv.len() {
                return Err(Error::Shape(format!(
                    "{what}: the quantized model gives {} {:?}, the float model {} {:?}",
                    q.dtype(),
                    q.shape(),
                    f.dtype(),
                    f.shape()
                )));
            }
            let last = f.shape().last().copied().unwrap_or(1).max(1);
            let rows = fv.len() / last;
            let lab = match labels {
                Some(l) if last > 1 => {
                    let r = samples * rows..(samples + 1) * rows;
                    Some(l.get(r).ok_or_else(|| {
                        Error::Data(format!(
                            "labels: {} values, but sample {samples} needs labels {} to {}",
                            l.len(),
                            samples * rows,
                            (samples + 1) * rows - 1
                        ))
                    })?)
                }
                _ => None,
            };
            acc[k].add(&fv, &qv, last, lab);
        }
        samples += 1;
        if let Some(p) = &opts.progress {
            p.call(crate::Progress {
                done: samples,
                total,
                phase: crate::Phase::Evaluation,
            });
        }
    }
    if samples == 0 {
        return Err(Error::Data("the evaluation data holds no samples".into()));
    }
    let outputs = acc
        .iter()
        .zip(fouts.iter().zip(&qouts))
        .map(|(a, (f, q))| a.finish(f.key(), q.key()))
        .collect();
    let layers = seen
        .iter()
        .map(|&s| {
            let t = &slot_info[s];
            layer_acc[s].finish(&t.name, (t.float_tensor, t.quant_tensor), t.dtype, t.quant)
        })
        .collect();
    Ok(EvalReport {
        samples,
        engine: engine.name(),
        labelled: labels.is_some(),
        outputs,
        layers,
    })
}

/// Labels must be class indices of every class output (last axis longer than 1): in
/// `0..classes`. Checked before any sample runs.
fn check_labels(labels: &[i64], outputs: &[IoSpec]) -> Result<()> {
    for o in outputs {
        let classes = o.shape.last().copied().unwrap_or(1);
        if classes <= 1 {
            continue;
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l < 0 || l as u64 >= classes as u64)
        {
            return Err(Error::Data(format!(
                "labels: label {i} is {l}, not a class index of output '{}' ({classes} \
                 classes: 0 to {})",
                o.key(),
                classes - 1
            )));
        }
    }
    Ok(())
}

/// Integer class labels from an array: shape `[N]` or `[N, 1]`, any integer dtype, or float
/// holding whole numbers.
pub fn labels_from_tensor(t: &Tensor, what: &str) -> Result<Vec<i64>> {
    let shape = t.shape();
    if !(shape.len() == 1 || (shape.len() == 2 && shape[1] == 1)) {
        return Err(Error::Data(format!(
            "{what}: labels must be class indices of shape [N] or [N, 1], not {shape:?} \
             (one-hot labels: take their argmax first)"
        )));
    }
    let ints: Vec<i64> = match t.buf() {
        Buf::I64(v) => v.clone(),
        Buf::I32(v) => v.iter().map(|&x| x as i64).collect(),
        Buf::I16(v) => v.iter().map(|&x| x as i64).collect(),
        Buf::I8(v) => v.iter().map(|&x| x as i64).collect(),
        Buf::U8(v) => v.iter().map(|&x| x as i64).collect(),
        Buf::F32(v) => {
            if let Some(i) = v.iter().position(|x| x.fract() != 0.0 || !x.is_finite()) {
                return Err(Error::Data(format!(
                    "{what}: label {i} is {}, not a class index",
                    v[i]
                )));
            }
            v.iter().map(|&x| x as i64).collect()
        }
        _ => {
            return Err(Error::Data(format!(
                "{what}: labels of dtype {} are not class indices",
                t.dtype()
            )))
        }
    };
    Ok(ints)
}

/// Labels from a `.npy` file (see [`labels_from_tensor`]).
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<i64>> {
    let path = path.as_ref();
    let t = crate::data::read_npy_file(path)?;
    labels_from_tensor(&t, &path.display().to_string())
}

#[cfg(feature = "npz")]
/// Labels from the array `name` of a `.npz` (e.g. `y` beside features `x`), `None` when the
/// archive has no such array.
pub fn labels_from_npz(path: impl AsRef<Path>, name: &str) -> Result<Option<Vec<i64>>> {
    let path = path.as_ref();
    let mut npz = crate::data::Npz::open(path)?;
    if !npz.names().iter().any(|n| n == name) {
        return Ok(None);
    }
    let t = npz.read(name)?;
    labels_from_tensor(&t, &format!("{}['{name}']", path.display())).map(Some)
}
