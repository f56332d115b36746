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

use crate::model::{Model, OpKind};
use crate::quant::calibrate::Stats;
use crate::quant::options::DynamicOptions;
use crate::{CalibrationOptions, Error, Result};

pub use super::report::{FloatOp, Int16Op, NonFinite, Report, TensorReport};

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
    /// 16x8: int16 symmetric activations, int8 weights, int64 biases, ops without a 16x8
    /// rule kept float (`supported_ops = [EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_
    /// WEIGHTS_INT8, TFLITE_BUILTINS]`); float32 or int16 inputs and outputs.
    Int16x8,
}

impl Mode {
    /// Every mode, in the order the CLI lists them.
    pub const ALL: [Mode; 5] = [
        Mode::Dynamic,
        Mode::Int8,
        Mode::Int8Only,
        Mode::Float16,
        Mode::Int16x8,
    ];

    /// The name the CLI and the report use (`dynamic`, `int8`, `int8-only`, `float16`,
    /// `int16x8`); [`str::parse`] reads it back.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Dynamic => "dynamic",
            Mode::Int8 => "int8",
            Mode::Int8Only => "int8-only",
            Mode::Float16 => "float16",
            Mode::Int16x8 => "int16x8",
        }
    }

    /// Whether this mode needs calibration statistics.
    pub fn needs_calibration(self) -> bool {
        matches!(self, Mode::Int8 | Mode::Int8Only | Mode::Int16x8)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mode {
    type Err = Error;

    /// A mode by its [`Mode::name`] (`"int8-only".parse::<Mode>()`).
    fn from_str(s: &str) -> Result<Mode> {
        parse_name(s, "mode", &Mode::ALL, |m| m.name())
    }
}

/// The value of `all` whose name is `s`, or an error listing the names.
fn parse_name<T: Copy>(s: &str, what: &str, all: &[T], name: fn(T) -> &'static str) -> Result<T> {
    all.iter().copied().find(|&v| name(v) == s).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|&v| name(v)).collect();
        Error::Unsupported(format!(
            "unknown {what} '{s}' ({what}s: {})",
            names.join(", ")
        ))
    })
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
    /// int16 with the tensor's own scale (16x8 mode; zero point 0).
    Int16,
}

impl IoType {
    /// Every type, in the order the CLI lists them.
    pub const ALL: [IoType; 4] = [IoType::Float32, IoType::Int8, IoType::Uint8, IoType::Int16];

    /// The name the CLI and the report use (`float32`, `int8`, `uint8`, `int16`);
    /// [`str::parse`] reads it back.
    pub fn name(self) -> &'static str {
        match self {
            IoType::Float32 => "float32",
            IoType::Int8 => "int8",
            IoType::Uint8 => "uint8",
            IoType::Int16 => "int16",
        }
    }
}

impl fmt::Display for IoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for IoType {
    type Err = Error;

    /// A type by its [`IoType::name`] (`"uint8".parse::<IoType>()`).
    fn from_str(s: &str) -> Result<IoType> {
        parse_name(s, "type", &IoType::ALL, |t| t.name())
    }
}

/// An op (or ops) to keep float in the int8 modes ([`QuantizeOptions::keep_float`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeepFloat {
    /// The op whose output tensor has this name (as `litequant inspect` lists tensors; the
    /// converter's `denylisted_nodes`).
    Tensor(String),
    /// Every op of this type (`"CONV_2D".parse()?`; the converter's `denylisted_ops`).
    OpType(OpKind),
    /// Either: the ops whose output tensor has this name and the ops of this type (what
    /// the CLI's `--keep-float NAME` and a plain string give).
    Name(String),
}

impl KeepFloat {
    /// The name as given (an op type's TFLite name).
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        match self {
            KeepFloat::Tensor(n) | KeepFloat::Name(n) => n.into(),
            KeepFloat::OpType(k) => k.name().into(),
        }
    }

    /// Whether it selects the op computing the tensor named `tensor`.
    pub fn matches_tensor(&self, tensor: &str) -> bool {
        matches!(self, KeepFloat::Tensor(n) | KeepFloat::Name(n) if n == tensor)
    }

    /// Whether it selects every op of type `op_type`.
    pub fn matches_op_type(&self, op_type: &OpKind) -> bool {
        match self {
            KeepFloat::OpType(k) => k == op_type,
            KeepFloat::Name(n) => *n == op_type.name(),
            KeepFloat::Tensor(_) => false,
        }
    }
}

impl fmt::Display for KeepFloat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl From<&str> for KeepFloat {
    /// [`KeepFloat::Name`]: a tensor name or an op type.
    fn from(name: &str) -> KeepFloat {
        KeepFloat::Name(name.to_string())
    }
}

impl From<String> for KeepFloat {
    /// [`KeepFloat::Name`]: a tensor name or an op type.
    fn from(name: String) -> KeepFloat {
        KeepFloat::Name(name)
    }
}

/// Options of [`quantize`]. Start from a mode's constructor and change fields:
/// `QuantizeOptions { per_tensor: true, ..QuantizeOptions::int8() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantizeOptions {
    /// The mode.
    pub mode: Mode,
    /// Per-tensor weight scales instead of per channel (CONV_2D axis 0, DEPTHWISE_CONV_2D
    /// axis 3, FULLY_CONNECTED axis 0).
    pub per_tensor: bool,
    /// Ops to keep float (selective quantization, int8 modes): the op computing a tensor,
    /// or every op of a builtin type ([`KeepFloat`]).
    pub keep_float: Vec<KeepFloat>,
    /// Ops to run on int16 activations inside an `int8` model (float I/O; selected as
    /// `keep_float` selects): 16x8 kernels for them (int16 symmetric activations, int8
    /// weights, int64 biases), requantized to and from int8 at their edges. Only ops with
    /// an int16 kernel in LiteRT and in litequant's engines; others are an error naming
    /// the op.
    pub int16_ops: Vec<KeepFloat>,
    /// Model input type (int8 modes only).
    pub input_type: IoType,
    /// Model output type (int8 modes only).
    pub output_type: IoType,
    /// Calibrate on at most this many samples ([`QuantizeOptions::calibration_options`]).
    pub max_samples: Option<usize>,
    /// Stops [`quantize`] (and the calibration [`QuantizeOptions::calibration_options`]
    /// sets up) with [`Error::Cancelled`] once cancelled; nothing is returned to write.
    pub cancel: crate::CancelToken,
}

impl QuantizeOptions {
    fn with_mode(mode: Mode) -> QuantizeOptions {
        QuantizeOptions {
            mode,
            per_tensor: false,
            keep_float: Vec::new(),
            int16_ops: Vec::new(),
            input_type: IoType::Float32,
            output_type: IoType::Float32,
            max_samples: None,
            cancel: crate::CancelToken::default(),
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

    /// 16x8 with float I/O and float fallback (`input_type`/`output_type` may be int16).
    pub fn int16x8() -> QuantizeOptions {
        Self::with_mode(Mode::Int16x8)
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
            cancel: self.cancel.clone(),
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
                    names(&self.keep_float)
                )));
            }
        }
        for (what, t) in [("input", self.input_type), ("output", self.output_type)] {
            let ok = match (mode, t) {
                (_, IoType::Float32) => true,
                (Mode::Int16x8, IoType::Int16) => true,
                (Mode::Int16x8, _) | (_, IoType::Int16) => false,
                _ => true,
            };
            if mode.needs_calibration() && !ok {
                return Err(Error::Unsupported(format!(
                    "{what} type {} does not go with mode {mode} (int8-family modes take \
                     int8/uint8, int16x8 takes int16)",
                    t.name()
                )));
            }
        }
        if !self.int16_ops.is_empty()
            && (mode != Mode::Int8
                || self.input_type != IoType::Float32
                || self.output_type != IoType::Float32)
        {
            return Err(Error::Unsupported(format!(
                "int16 ops ({}) are int16 islands in an int8 model: they need mode int8 with \
                 float32 inputs and outputs (mode {mode}, input {}, output {}); mode \
                 int16x8 makes every op int16",
                names(&self.int16_ops),
                self.input_type.name(),
                self.output_type.name()
            )));
        }
        if mode == Mode::Float16 && self.per_tensor {
            return Err(Error::Unsupported(
                "per-tensor applies to int8 weights; mode float16 has no scales".into(),
            ));
        }
        if self.max_samples == Some(0) {
            return Err(Error::Data("max_samples must be at least 1".into()));
        }
        Ok(())
    }

    /// [`QuantizeOptions::validate`], and what depends on the model: every `keep_float`
    /// name must be the output tensor of an op of the main subgraph, or the type of one of
    /// its ops. Run it before calibrating: an unknown name is an error before any work.
    pub fn validate_for(&self, model: &Model) -> Result<()> {
        self.validate()?;
        let sg = model.main();
        for (list, keep) in self
            .keep_float
            .iter()
            .map(|n| ("keep_float", n))
            .chain(self.int16_ops.iter().map(|n| ("int16_ops", n)))
        {
            let is_output = |op: &crate::model::Operator| {
                op.output_tensors().any(|t| {
                    sg.tensors
                        .get(t)
                        .is_some_and(|t| keep.matches_tensor(&t.name))
                })
            };
            let known = !keep.name().is_empty()
                && sg
                    .operators
                    .iter()
                    .any(|op| is_output(op) || keep.matches_op_type(&op.op.kind()));
            if !known {
                let what = match keep {
                    KeepFloat::Tensor(_) => {
                        "an op's output tensor name (as `litequant inspect` \
                                             lists them)"
                    }
                    KeepFloat::OpType(_) => "an op type the model has (CONV_2D)",
                    KeepFloat::Name(_) => {
                        "an op's output tensor name (as `litequant inspect` \
                                           lists them) or an op type it has (CONV_2D)"
                    }
                };
                return Err(Error::Data(format!(
                    "{list} '{keep}' names no op of the model: give {what}"
                )));
            }
        }
        Ok(())
    }
}

/// The selectors' names, comma-separated (for messages).
fn names(list: &[KeepFloat]) -> String {
    list.iter()
        .map(KeepFloat::name)
        .collect::<Vec<_>>()
        .join(", ")
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
    opts.cancel.check()?;
    let (quantized, float_ops, bias_fitted, twins, int16_ops) = match opts.mode {
        Mode::Dynamic => {
            let dynamic = DynamicOptions {
                per_channel: !opts.per_tensor,
                per_channel_dense: !opts.per_tensor,
                ..Default::default()
            };
            let (q, twins) =
                crate::quant::passes::dynamic::quantize_dynamic_with_twins(model, &dynamic)?;
            (q, Vec::new(), Vec::new(), twins, Vec::new())
        }
        // FLOAT16 constants carry no scales: nothing in the report needs a twin.
        Mode::Float16 => (
            crate::quant::quantize_float16(model)?,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        ),
        Mode::Int8 | Mode::Int8Only | Mode::Int16x8 => {
            let stats = stats.ok_or_else(|| {
                Error::Data(format!(
                    "mode {} needs calibration statistics: calibrate on representative data \
                     first (`litequant::calibrate`) and pass the statistics",
                    opts.mode
                ))
            })?;
            check_finite(model, stats)?;
            dispatch_int8(model, stats, opts)?
        }
    };
    opts.cancel.check()?;
    check_written(&quantized)?;
    let twin_of = |s: usize, t: usize, _: &str| twins.get(s).and_then(|m| m.get(&t)).copied();
    // Sparse float weights are reported against their dense values (what was quantized).
    let densified = crate::quant::passes::sparse::densified(model)?;
    let float = densified.as_ref().map_or(model, |d| &d.model);
    let mut report = Report::build(float, &quantized, stats, opts, twin_of)?;
    report.float_ops = float_ops;
    report.bias_fitted = bias_fitted;
    report.int16_ops = int16_ops;
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

/// A finite range whose int8 scale is not finite: `(max - min) / 255` in float32, as the
/// converter computes it (`GetAsymmetricQuantizationParams`), overflows for ranges wider
/// than float32's maximum (data near ±3e38, or an op whose result the float kernels clamp
/// to ±FLT_MAX). An error naming the tensor and its range, before anything is built.
fn check_finite_scales(model: &Model, stats: &Stats) -> Result<()> {
    for (&t, s) in &stats.tensors {
        if s.count == 0 {
            continue;
        }
        let (scale, _, _) = crate::quant::passes::full_integer::activation_params(s.min, s.max);
        if !(scale.is_finite() && scale > 0.0) {
            let name = model.main().tensors.get(t).map_or("?", |x| x.name.as_str());
            return Err(Error::Data(format!(
                "tensor {t} '{name}': the calibrated range [{:e}, {:e}] gives int8 scale \
                 {scale} ((max - min) / 255 overflows float32): an int8 scale must be a \
                 positive finite number; calibrate on data whose values (and the values the \
                 model computes from them) span less than float32's range",
                s.min, s.max
            )));
        }
    }
    Ok(())
}

/// What every quantized model passes before it is returned (and so before it is written):
/// quantization parameters LiteRT's kernels can use — positive finite scales, zero points
/// inside their type (a calibrated range wider than float32 can span gives an infinite
/// scale: LiteRT aborts on it) — and LiteRT's prepare-time rules, checked by preparing
/// every op on the reference engine ([`crate::reference::check_prepare`]). An error names
/// the tensor or op; nothing is written.
fn check_written(model: &Model) -> Result<()> {
    for (si, sg) in model.subgraphs.iter().enumerate() {
        for (t, tensor) in sg.tensors.iter().enumerate() {
            let Some(q) = &tensor.quant else { continue };
            if let Some(why) = crate::model::quant_oddity(tensor.dtype, q) {
                let hint = if q.scale.iter().any(|s| s.is_infinite()) {
                    " (its calibrated range is wider than a float32 scale can span: \
                     (max - min) / 255 overflows)"
                } else {
                    ""
                };
                return Err(Error::Data(format!(
                    "the quantized model would have subgraph {si}, tensor {t} ('{}', {}) with \
                     {why}{hint}: LiteRT's kernels cannot use it; nothing written",
                    tensor.name, tensor.dtype
                )));
            }
        }
    }
    crate::reference::check_prepare(model).map_err(|e| {
        Error::Unsupported(format!(
            "the quantized model would not prepare in LiteRT, nothing written: {e}"
        ))
    })
}

/// An int8 range cannot be trusted when the data made NaN or ±Inf appear: refuse, naming
/// every tensor and the counts.
fn check_finite(model: &Model, stats: &Stats) -> Result<()> {
    let bad = stats.non_finite();
    if bad.is_empty() {
        return check_finite_scales(model, stats);
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
