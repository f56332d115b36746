//! The one entry point of the quantizer: [`quantize`] a float model in a [`Mode`] with
//! [`QuantizeOptions`], getting the quantized model and a [`Report`] of what was done.
//!
//! ```no_run
//! # fn main() -> litequant::Result<()> {
//! use litequant::quant::{quantize, QuantizeOptions};
//! let float = litequant::Model::from_file("model.tflite")?;
//! let (q, report) = quantize(&float, None, &QuantizeOptions::dynamic())?;
//! q.write_file("model_dynamic.tflite")?;
//! println!("{report}");
//! # Ok(()) }
//! ```
//!
//! The full-integer modes ([`Mode::Int8`], [`Mode::Int8Only`]) need calibration statistics
//! ([`crate::calibrate`]). Their report's saturation counts
//! ([`TensorReport::saturated`]) are complete for constants and for activations whose
//! calibrated range fits their parameters; the others need a second pass over the
//! calibration data, [`crate::quant::count_saturation`], when
//! [`Report::needs_saturation_pass`] says so.

use std::fmt;

use serde::Serialize;

use crate::model::Model;
use crate::quant::calibrate::Stats;
use crate::quant::options::DynamicOptions;
use crate::{CalibrationOptions, Error, Result};

/// What the quantizer makes of a float model (the TFLite converter's modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// int8 weights, float activations, hybrid kernels (`Optimize.DEFAULT` without data).
    Dynamic,
    /// Full integer with float fallback: QUANTIZE at inputs, DEQUANTIZE at outputs, ops
    /// that cannot be quantized stay float (`Optimize.DEFAULT` + representative dataset).
    Int8,
    /// Integer only: an op that cannot be quantized is an error
    /// (`supported_ops = [TFLITE_BUILTINS_INT8]`).
    Int8Only,
    /// FLOAT16 weights followed by DEQUANTIZE (`supported_types = [tf.float16]`).
    Float16,
}

impl Mode {
    /// The name the CLI and the report use (`dynamic`, `int8`, `int8-only`, `float16`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Dynamic => "dynamic",
            Mode::Int8 => "int8",
            Mode::Int8Only => "int8-only",
            Mode::Float16 => "float16",
        }
    }

    /// Whether this mode needs calibration statistics.
    pub fn needs_calibration(self) -> bool {
        matches!(self, Mode::Int8 | Mode::Int8Only)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The type of the model's inputs or outputs after quantization (the converter's
/// `inference_input_type` / `inference_output_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IoType {
    /// Kept float32 (QUANTIZE/DEQUANTIZE inside the model).
    #[default]
    Float32,
    /// int8 with the tensor's own scale and zero point.
    Int8,
    /// uint8: the int8 scale, zero point + 128.
    Uint8,
}

impl IoType {
    pub fn name(self) -> &'static str {
        match self {
            IoType::Float32 => "float32",
            IoType::Int8 => "int8",
            IoType::Uint8 => "uint8",
        }
    }
}

/// Options of [`quantize`]. Start from a mode's constructor and change fields:
/// `QuantizeOptions { per_tensor: true, ..QuantizeOptions::int8() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantizeOptions {
    pub mode: Mode,
    /// Per-tensor weight scales instead of per channel (CONV_2D axis 0, DEPTHWISE_CONV_2D
    /// axis 3, FULLY_CONNECTED axis 0).
    pub per_tensor: bool,
    /// Ops to keep float (selective quantization, int8 modes): by output tensor name, or
    /// every op of a builtin type (`CONV_2D`).
    pub keep_float: Vec<String>,
    /// Model input type (int8 modes only).
    pub input_type: IoType,
    /// Model output type (int8 modes only).
    pub output_type: IoType,
    /// Calibrate on at most this many samples ([`QuantizeOptions::calibration_options`]).
    pub max_samples: Option<usize>,
}

impl QuantizeOptions {
    fn with_mode(mode: Mode) -> QuantizeOptions {
        QuantizeOptions {
            mode,
            per_tensor: false,
            keep_float: Vec::new(),
            input_type: IoType::Float32,
            output_type: IoType::Float32,
            max_samples: None,
        }
    }

    /// Dynamic-range quantization, the converter's defaults.
    pub fn dynamic() -> QuantizeOptions {
        Self::with_mode(Mode::Dynamic)
    }

    /// Full integer with float I/O and float fallback.
    pub fn int8() -> QuantizeOptions {
        Self::with_mode(Mode::Int8)
    }

    /// Integer only (float I/O unless `input_type`/`output_type` say otherwise).
    pub fn int8_only() -> QuantizeOptions {
        Self::with_mode(Mode::Int8Only)
    }

    /// float16 weights.
    pub fn float16() -> QuantizeOptions {
        Self::with_mode(Mode::Float16)
    }

    /// The calibration settings these options imply (`max_samples`).
    pub fn calibration_options(&self) -> CalibrationOptions {
        CalibrationOptions {
            max_samples: self.max_samples,
            ..Default::default()
        }
    }

    /// Check that the options make sense together, before any work is done.
    pub fn validate(&self) -> Result<()> {
        let mode = self.mode;
        if !mode.needs_calibration() {
            for (what, t) in [("input", self.input_type), ("output", self.output_type)] {
                if t != IoType::Float32 {
                    return Err(Error::Unsupported(format!(
                        "{what} type {} needs a full-integer mode (int8 or int8-only); mode \
                         {mode} keeps float32 {what}s",
                        t.name()
                    )));
                }
            }
            if !self.keep_float.is_empty() {
                return Err(Error::Unsupported(format!(
                    "keep-float ({}) selects ops for the full-integer modes; mode {mode} has \
                     no such choice",
                    self.keep_float.join(", ")
                )));
            }
        }
        if mode == Mode::Float16 && self.per_tensor {
            return Err(Error::Unsupported(
                "per-tensor applies to int8 weights; mode float16 has no scales".into(),
            ));
        }
        if self.max_samples == Some(0) {
            return Err(Error::Data("max-samples must be at least 1".into()));
        }
        Ok(())
    }

    /// [`QuantizeOptions::validate`], and what depends on the model: every `keep_float`
    /// name must be the output tensor of an op of the main subgraph, or the type of one of
    /// its ops. Run it before calibrating: an unknown name is an error before any work.
    pub fn validate_for(&self, model: &Model) -> Result<()> {
        self.validate()?;
        let sg = model.main();
        for name in &self.keep_float {
            let is_output = |op: &crate::model::Operator| {
                op.output_tensors()
                    .any(|t| sg.tensors.get(t).is_some_and(|t| t.name == *name))
            };
            let known = !name.is_empty()
                && sg
                    .operators
                    .iter()
                    .any(|op| is_output(op) || op.op.name() == *name);
            if !known {
                return Err(Error::Data(format!(
                    "keep-float '{name}' names no op of the model: give an op's output tensor \
                     name (as `litequant inspect` lists them) or an op type it has (CONV_2D)"
                )));
            }
        }
        Ok(())
    }
}

impl Default for QuantizeOptions {
    /// [`QuantizeOptions::dynamic`]: the converter's mode without data.
    fn default() -> Self {
        Self::dynamic()
    }
}

/// Quantize `model` (float) as `opts` says. `stats` are the calibration statistics of this
/// model ([`crate::calibrate`]), needed by the int8 modes and ignored by the others.
/// Returns the quantized model and a report (sizes, quantization and saturation of every
/// tensor; see [`crate::quant::count_saturation`] for the activations whose count needs the
/// data again).
///
/// Errors: inconsistent options ([`QuantizeOptions::validate`]); an int8 mode without
/// statistics, or with statistics in which NaN/±Inf appeared (listed by tensor: the data
/// is malformed, a range cannot be trusted); ops the int8 pass cannot handle.
pub fn quantize(
    model: &Model,
    stats: Option<&Stats>,
    opts: &QuantizeOptions,
) -> Result<(Model, Report)> {
    opts.validate_for(model)?;
    let (quantized, float_ops, bias_fitted, twins) = match opts.mode {
        Mode::Dynamic => {
            let dynamic = DynamicOptions {
                per_channel: !opts.per_tensor,
                per_channel_dense: !opts.per_tensor,
                ..Default::default()
            };
            let (q, twins) =
                crate::quant::passes::dynamic::quantize_dynamic_with_twins(model, &dynamic)?;
            (q, Vec::new(), Vec::new(), twins)
        }
        // FLOAT16 constants carry no scales: nothing in the report needs a twin.
        Mode::Float16 => (
            crate::quant::quantize_float16(model)?,
            Vec::new(),
            Vec::new(),
            Vec::new(),
        ),
        Mode::Int8 | Mode::Int8Only => {
            let stats = stats.ok_or_else(|| {
                Error::Data(format!(
                    "mode {} needs calibration statistics: calibrate on representative data \
                     first (`--calib DATA`)",
                    opts.mode
                ))
            })?;
            check_finite(model, stats)?;
            dispatch_int8(model, stats, opts)?
        }
    };
    let twin_of = |s: usize, t: usize, _: &str| twins.get(s).and_then(|m| m.get(&t)).copied();
    // Sparse float weights are reported against their dense values (what was quantized).
    let densified = crate::quant::passes::sparse::densified(model)?;
    let float = densified.as_ref().map_or(model, |d| &d.model);
    let mut report = Report::build(float, &quantized, stats, opts, twin_of)?;
    report.float_ops = float_ops;
    report.bias_fitted = bias_fitted;
    Ok((quantized, report))
}

/// Where the full-integer pass plugs in: `quantize_int8(model, stats, ...)` for
/// [`Mode::Int8`] / [`Mode::Int8Only`] with `opts.per_tensor`, `opts.keep_float`,
/// `opts.input_type`, `opts.output_type`, returning the model, the ops it left float
/// (`int8` mode; they go to [`Report::float_ops`]) and the tensors' float twins.
/// Statistics reach it finite (`check_finite`).
fn dispatch_int8(
    model: &Model,
    stats: &Stats,
    opts: &QuantizeOptions,
) -> Result<crate::quant::passes::full_integer::Dispatched> {
    crate::quant::passes::full_integer::dispatch(model, stats, opts)
}

/// An int8 range cannot be trusted when the data made NaN or ±Inf appear: refuse, naming
/// every tensor and the counts.
fn check_finite(model: &Model, stats: &Stats) -> Result<()> {
    let bad = stats.non_finite();
    if bad.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = bad
        .iter()
        .map(|&(t, nan, inf)| {
            let name = model
                .main()
                .tensors
                .get(t)
                .map(|x| x.name.as_str())
                .unwrap_or("?");
            format!("tensor {t} '{name}': {nan} NaN, {inf} Inf")
        })
        .collect();
    Err(Error::Data(format!(
        "the calibration data produced non-finite values over {} samples ({}); int8 ranges \
         need finite data: clean the data (NaN/Inf are counted, never folded into a range)",
        stats.samples,
        names.join("; ")
    )))
}

/// What [`quantize`] did: sizes, and every quantized tensor's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub mode: Mode,
    /// Serialized size of the float model, bytes.
    pub size_before: u64,
    /// Serialized size of the quantized model, bytes.
    pub size_after: u64,
    /// Calibration samples behind the ranges (int8 modes).
    pub calibration_samples: Option<usize>,
    /// Tensors in which calibration saw NaN or ±Inf.
    pub non_finite: Vec<NonFinite>,
    /// Every tensor of the quantized model with quantization parameters, by subgraph.
    pub tensors: Vec<TensorReport>,
    /// Ops left float in `int8` mode (index in the main subgraph, op name, why).
    pub float_ops: Vec<FloatOp>,
    /// Weights whose scales were raised so that the int32 bias fits, as the converter does
    /// (float weight tensor name, channels raised).
    pub bias_fitted: Vec<(String, usize)>,
}

/// NaN/Inf counts of one tensor seen in calibration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NonFinite {
    pub tensor: usize,
    pub name: String,
    pub nan: u64,
    pub inf: u64,
}

/// One quantized tensor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorReport {
    pub subgraph: usize,
    pub index: usize,
    pub name: String,
    pub dtype: String,
    pub shape: Vec<i32>,
    /// Whether it holds constant data (a weight or bias).
    pub constant: bool,
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    /// The axis of per-channel parameters (`None`: per tensor).
    pub quantized_dimension: Option<i32>,
    /// The index of the float model's tensor (same subgraph) whose values this tensor
    /// holds: the tensor it was made from (a weight, the int8 copy of an input, the int8
    /// result before an output's DEQUANTIZE, a requantized operand), or itself.
    pub float_tensor: Option<usize>,
    /// The calibrated range `[min, max]` of the float twin (`float_tensor`), if any.
    pub range: Option<[f32; 2]>,
    /// Values that fall outside the integer range of `dtype` when quantized with these
    /// parameters (the values the model clamps; see [`crate::quant::saturation`]):
    /// activations over the calibration data, constants over their elements. `None`: not
    /// known (no float twin or no statistics), or not counted yet (`observed` is then
    /// known: [`Report::needs_saturation_pass`]).
    pub saturated: Option<u64>,
    /// Values checked for `saturated`: the activation's finite values over all calibration
    /// samples, or the constant's elements.
    pub observed: Option<u64>,
}

/// An op kept float in `int8` mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FloatOp {
    pub index: usize,
    pub op: String,
    pub reason: String,
}

impl Report {
    /// The report of quantizing `float` into `quantized`, each quantized tensor's float twin
    /// found by name (the same name in the same subgraph of `float`). [`quantize`] knows
    /// the twins exactly (renamed ones too, such as `tfl.quantize` for an input).
    pub fn new(
        float: &Model,
        quantized: &Model,
        stats: Option<&Stats>,
        opts: &QuantizeOptions,
    ) -> Result<Report> {
        let by_name = |s: usize, _: usize, name: &str| {
            let sg = float.subgraphs.get(s)?;
            sg.tensors.iter().position(|t| t.name == name)
        };
        Report::build(float, quantized, stats, opts, by_name)
    }

    /// The report, with `twin_of(subgraph, tensor, name)` giving a quantized tensor's float
    /// twin.
    fn build(
        float: &Model,
        quantized: &Model,
        stats: Option<&Stats>,
        opts: &QuantizeOptions,
        twin_of: impl Fn(usize, usize, &str) -> Option<usize>,
    ) -> Result<Report> {
        let size_before = float.to_bytes()?.len() as u64;
        let size_after = quantized.to_bytes()?.len() as u64;
        let range_of = |t: usize| -> Option<[f32; 2]> {
            let s = stats?.tensors.get(&t)?;
            s.has_range().then_some([s.min, s.max])
        };
        let mut tensors = Vec::new();
        for (si, sg) in quantized.subgraphs.iter().enumerate() {
            for (ti, t) in sg.tensors.iter().enumerate() {
                let Some(q) = t.quant.as_ref().filter(|q| !q.scale.is_empty()) else {
                    continue;
                };
                let float_tensor = twin_of(si, ti, &t.name);
                tensors.push(TensorReport {
                    subgraph: si,
                    index: ti,
                    name: t.name.clone(),
                    dtype: t.dtype.to_string(),
                    shape: t.shape.clone(),
                    constant: t.data.is_some(),
                    scale: q.scale.clone(),
                    zero_point: q.zero_point.clone(),
                    quantized_dimension: (q.scale.len() > 1).then_some(q.quantized_dimension),
                    float_tensor,
                    range: float_tensor.filter(|_| si == 0).and_then(range_of),
                    saturated: None,
                    observed: None,
                });
            }
        }
        crate::quant::saturation::fill(float, quantized, stats, opts.mode, &mut tensors);
        let non_finite = stats
            .map(|s| {
                s.non_finite()
                    .into_iter()
                    .map(|(t, nan, inf)| NonFinite {
                        tensor: t,
                        name: float
                            .main()
                            .tensors
                            .get(t)
                            .map(|x| x.name.clone())
                            .unwrap_or_default(),
                        nan,
                        inf,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Report {
            mode: opts.mode,
            size_before,
            size_after,
            calibration_samples: stats.map(|s| s.samples),
            non_finite,
            tensors,
            float_ops: Vec::new(),
            bias_fitted: Vec::new(),
        })
    }

    /// The report as pretty-printed JSON (for `--report FILE.json`). Non-finite floats are
    /// written as `null`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

impl Report {
    /// The summary line of the saturation counts (`saturation: ...`).
    fn saturation_line(&self) -> String {
        let (clipping, clipped, checked, counted) = self.saturation_totals();
        let mut line = if clipping > 0 {
            format!(
                "saturation: {clipping} of {} clip {} of {} values",
                tensors(counted),
                grouped(clipped),
                grouped(checked)
            )
        } else {
            format!(
                "saturation: none ({} values in {} checked)",
                grouped(checked),
                tensors(counted)
            )
        };
        let pending = self
            .tensors
            .iter()
            .filter(|t| crate::quant::saturation::pending(t))
            .count();
        let unknown = self.tensors.iter().filter(|t| t.observed.is_none()).count();
        if pending > 0 {
            line += &format!(
                "; {} not counted (sat ?: the range does not fit; count_saturation reads the \
                 calibration data again)",
                tensors(pending)
            );
        }
        if unknown > 0 {
            line += &format!(
                "; {} unknown (sat -: no float twin or no statistics)",
                tensors(unknown)
            );
        }
        line
    }
}

/// "1 tensor", "2 tensors".
fn tensors(n: usize) -> String {
    if n == 1 {
        "1 tensor".into()
    } else {
        format!("{n} tensors")
    }
}

/// `n` with thousands separators (`1,234,567`).
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(n: u64) -> String {
    if n >= 10 * 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 10 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ratio = if self.size_before > 0 {
            self.size_after as f64 / self.size_before as f64
        } else {
            f64::NAN
        };
        writeln!(
            f,
            "mode {}: size {} -> {} ({:.1}% of the float model)",
            self.mode,
            bytes(self.size_before),
            bytes(self.size_after),
            ratio * 100.0
        )?;
        if let Some(n) = self.calibration_samples {
            writeln!(f, "calibrated on {n} samples")?;
        }
        for nf in &self.non_finite {
            writeln!(
                f,
                "warning: tensor {} '{}': {} NaN, {} Inf in calibration",
                nf.tensor, nf.name, nf.nan, nf.inf
            )?;
        }
        if !self.tensors.is_empty() {
            writeln!(f, "quantized tensors:")?;
        }
        for t in &self.tensors {
            let sg = if t.subgraph > 0 {
                format!("{}:", t.subgraph)
            } else {
                String::new()
            };
            let params = match (t.scale.as_slice(), t.quantized_dimension) {
                ([s], _) => format!("scale {s:e} zp {}", t.zero_point.first().unwrap_or(&0)),
                (s, axis) => {
                    let lo = s.iter().copied().fold(f32::INFINITY, f32::min);
                    let hi = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    format!(
                        "{} scales on axis {} in [{lo:e}, {hi:e}]",
                        s.len(),
                        axis.unwrap_or(0)
                    )
                }
            };
            let range = t
                .range
                .map(|[a, b]| format!(" range [{a}, {b}]"))
                .unwrap_or_default();
            let sat = match (t.saturated, t.observed) {
                (Some(s), Some(n)) => format!(" sat {}/{}", grouped(s), grouped(n)),
                (None, Some(_)) => " sat ?".to_string(),
                _ => " sat -".to_string(),
            };
            writeln!(
                f,
                "  {sg}{:<4} {:<5} {:<16} {}{range}{sat}  {}",
                t.index,
                t.dtype,
                format!("{:?}", t.shape),
                params,
                t.name
            )?;
        }
        if !self.tensors.is_empty() {
            writeln!(f, "{}", self.saturation_line())?;
        }
        for o in &self.float_ops {
            writeln!(f, "kept float: op {} {}: {}", o.index, o.op, o.reason)?;
        }
        for (weight, channels) in &self.bias_fitted {
            writeln!(
                f,
                "bias fit: '{weight}': the scale of {channels} channel(s) raised so that the \
                 int32 bias fits in 2^30 (as the converter does)"
            )?;
        }
        Ok(())
    }
}
