//! The quantizer's [`Report`]: sizes, every quantized tensor's parameters and saturation,
//! the ops left float, and its text form (what `litequant quantize` prints).

use std::fmt;

use serde::Serialize;

use super::api::{Mode, QuantizeOptions};
use crate::model::{Model, OpKind};
use crate::quant::calibrate::Stats;
use crate::Result;

/// What [`quantize`](super::quantize) did: sizes, and every quantized tensor's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The mode.
    pub mode: Mode,
    /// Serialized size of the float model, bytes.
    pub size_before: u64,
    /// Serialized size of the quantized model, bytes.
    pub size_after: u64,
    /// Calibration samples behind the ranges (int8 modes).
    pub calibration_samples: Option<usize>,
    /// How the activation ranges were chosen from the calibration statistics
    /// ([`crate::quant::CalibrationMethod`]; `minmax`: the converter's), int8 modes.
    pub calibration_method: Option<String>,
    /// Tensors in which calibration saw NaN or ±Inf.
    pub non_finite: Vec<NonFinite>,
    /// Every tensor of the quantized model with quantization parameters, by subgraph.
    pub tensors: Vec<TensorReport>,
    /// Ops left float in `int8` mode (index in the main subgraph, op name, why).
    pub float_ops: Vec<FloatOp>,
    /// Weights whose scales were raised so that the int32 bias fits, as the converter does
    /// (float weight tensor name, channels raised).
    pub bias_fitted: Vec<(String, usize)>,
    /// Ops run on int16 activations in an `int8` model (`QuantizeOptions::int16_ops`).
    pub int16_ops: Vec<Int16Op>,
}

/// An op run on int16 activations (16x8 kernels) inside an int8 model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Int16Op {
    /// Operator index in the float model's main subgraph.
    pub index: usize,
    /// The op (prints as its builtin name, `CONV_2D`).
    pub op: OpKind,
}

/// NaN/Inf counts of one tensor seen in calibration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NonFinite {
    /// Tensor index in the float model's main subgraph.
    pub tensor: usize,
    /// Tensor name.
    pub name: String,
    /// NaN values seen.
    pub nan: u64,
    /// ±Inf values seen.
    pub inf: u64,
}

/// One quantized tensor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorReport {
    /// Subgraph index.
    pub subgraph: usize,
    /// Tensor index in the quantized model.
    pub index: usize,
    /// Tensor name.
    pub name: String,
    /// Its element type in the quantized model.
    pub dtype: crate::model::DType,
    /// Shape.
    pub shape: Vec<i32>,
    /// Whether it holds constant data (a weight or bias).
    pub constant: bool,
    /// Scales (one, or one per channel).
    pub scale: Vec<f32>,
    /// Zero points (one, or one per channel).
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
    /// Operator index in the float model's main subgraph.
    pub index: usize,
    /// The op (prints as its builtin name, `CONV_2D`, or custom code).
    pub op: OpKind,
    /// Why it stayed float (no int8 rule, selected by `keep_float`, ...).
    pub reason: String,
}

impl Report {
    /// The report of quantizing `float` into `quantized`, each quantized tensor's float twin
    /// found by name (the same name in the same subgraph of `float`). [`quantize`](super::quantize) knows
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
    pub(super) fn build(
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
                    dtype: t.dtype,
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
            calibration_method: stats
                .map(|s| s.chosen_by.clone().unwrap_or_else(|| "minmax".into())),
            non_finite,
            tensors,
            float_ops: Vec::new(),
            int16_ops: Vec::new(),
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
        match (self.calibration_samples, self.calibration_method.as_deref()) {
            (Some(n), Some(m)) if m != "minmax" => {
                writeln!(f, "calibrated on {n} samples; activation ranges by {m}")?
            }
            (Some(n), _) => writeln!(f, "calibrated on {n} samples")?,
            _ => {}
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
                t.dtype.to_string(),
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
        for o in &self.int16_ops {
            writeln!(
                f,
                "int16: op {} {}: int16 activations on request",
                o.index, o.op
            )?;
        }
        for (weight, channels) in &self.bias_fitted {
            writeln!(
                f,
                "bias fit: '{weight}': the scale of {channels} channel(s) raised so that the \
                 int32 bias fits in 2^30 (as the converter does)"
            )?;
        }
        if self.bias_fitted.len() > 1 {
            let channels: usize = self.bias_fitted.iter().map(|b| b.1).sum();
            writeln!(
                f,
                "bias fit: {channels} channels in {} weights raised in all",
                self.bias_fitted.len()
            )?;
        }
        Ok(())
    }
}
