//! Full-integer post-training quantization: what the converter does for `Optimize.DEFAULT`
//! with a representative dataset (`int8`: float I/O kept, QUANTIZE at inputs, DEQUANTIZE at
//! outputs) and with `supported_ops = TFLITE_BUILTINS_INT8` (`int8-only`, optionally with
//! int8/uint8 model inputs and outputs).
//!
//! Rules (TF 2.21; found on the converter's own pairs in `tests/quantize_int8.rs`: the digits
//! CNN and MLP and 88 of the 102 op-fixture pairs come out identical field for field,
//! 12 more differ only in one scale's last bits (below); sources:
//! `tensorflow/lite/tools/optimize/quantization_utils.cc` `GetAsymmetricQuantizationParams`,
//! `tensorflow/compiler/mlir/lite/transforms/prepare_quantize.cc` (`ConvertStatsToQDQs`,
//! `RemoveRedundantStatsOps`), `.../quantization_lib/quantization_driver.cc`,
//! `quantization_utils.cc` `GetUniformQuantizedTypeForBias`):
//! - Activations: int8 asymmetric per tensor from the calibration range
//!   ([`activation_params`]), in **float32**: range widened to include 0,
//!   `scale = (max - min) / 255`, `zp = round(-128 - min / scale)` clamped to [-128, 127].
//!   (The same formula in double, as MLIR's `fakeQuantAttrsToType` writes it, is 1 ulp off
//!   on about a third of the fixtures.) An all-zero range gets scale 1, zero point -128
//!   (`fakeQuantAttrsToType`'s special case; no fixture exercises it).
//! - Weights (input 1 of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED): symmetric int8
//!   ([`crate::quant::weights::symmetric_int8`]), per channel on axis 0 / 3 / 0 (per tensor
//!   with [`Int8Options::per_channel`] off).
//! - Bias (input 2): int32, `scale[c] = s_in × s_w[c]` in double from the *float32* scales
//!   of the input and the weight, stored as float32 (the double scales give other last
//!   bits); `q = round_half_away(b / scale)`, clamped to int32, zp 0.
//! - PRELU's alpha: symmetric int8 per tensor, like a weight (PRELU stays version 1).
//! - Other float constant operands: ADD/SUB/MUL/BATCH_MATMUL constants get int8 asymmetric
//!   per-tensor parameters from their own min/max (the activation formula); constants of
//!   MAXIMUM/MINIMUM/CONCATENATION take the output's parameters, PADV2's padding value the
//!   input's. Values: `round_half_away(x / scale) + zp`, clamped.
//! - Fixed output parameters: SOFTMAX and LOGISTIC (1/256, −128), TANH (1/128, 0).
//! - Same scale: the outputs of single-input same-scale ops (pooling, RESHAPE, SQUEEZE,
//!   PAD, PADV2, SLICE, STRIDED_SLICE, TRANSPOSE, RESIZE_*) carry their input's parameters
//!   (their own statistics are dropped). CONCATENATION, MAXIMUM and MINIMUM keep their
//!   output's calibrated parameters and push them back onto their operands, and on up
//!   through quantized same-scale producers to the op that computes the values (a
//!   DenseNet's MAX_POOL_2D/PAD/AVERAGE_POOL_2D between convolution and concatenation,
//!   `tests/quantize_int8.rs`); an operand
//!   whose parameters are fixed by its producer (LOGISTIC, TANH, SOFTMAX) is requantized
//!   instead, by an int8→int8 QUANTIZE right after the producer (`requant_concat`).
//! - Layout (the exporter writes the function body in order, `passes::layout`): quantized
//!   constants (`tfl.pseudo_qconst`) are materialized at the front of the body, each ahead
//!   of the previous one, in operator order, weight before bias (the file lists them last
//!   operator first, bias before weight); the input QUANTIZE ops follow (those of inputs
//!   with their own ranges in input order, then those whose parameters came back from a
//!   consumer in order of first use), named `tfl.quantize`, `tfl.quantize1`, ...; the
//!   constant folder then moves the remaining foldable constants in front; constants that
//!   take their consumer's parameters sit right before it. An output's DEQUANTIZE (or uint8
//!   QUANTIZE) takes the output's name and the int8 tensor before it the uniquified one
//!   (`X1`: the exporter names function results first). Float I/O tensors carry an empty
//!   quantization table, as the converter writes them.
//! - Versions: `passes::versions` (CONV_2D 3, DEPTHWISE_CONV_2D 3, FULLY_CONNECTED 4,
//!   most int8 ops 2, RESIZE_* with half_pixel_centers/align_corners 3, QUANTIZE 1,
//!   DEQUANTIZE 2); `CONVERSION_METADATA` records `PTQ_FULL_INTEGER` (1003).
//!
//! - Float islands (ops kept float, `tests/quantize_selective.rs`: the converter's
//!   `QuantizationDebugger` with `denylisted_nodes`/`denylisted_ops` on four small models):
//!   a float op reads a DEQUANTIZE of each int8 input (one per tensor, shared by its float
//!   readers, right after the producer) and its output goes through a QUANTIZE with the
//!   output's calibrated parameters, right after it; float ops in a row stay float between
//!   them (a float output that an int8 op also reads gets its QUANTIZE, and float readers
//!   still read it directly); a float op reading a model input reads it directly. The new tensors are named
//!   `tfl.dequantize`/`tfl.quantize` (uniquified with the input QUANTIZE: `tfl.quantize1`,
//!   ...), except where the parameters are carried by a same-scale op: a DEQUANTIZE of a
//!   RESHAPE/pooling output takes that tensor's name (`Reshape1`), and a same-scale op kept
//!   float passes its input's parameters on to its output's QUANTIZE, also named after the
//!   tensor. Float ops keep their float version (CONV_2D 1, ...) and their float
//!   constants, which go to the front of the body in the order `order.rs` documents (also
//!   the order of the int32 constants of plain int8 models).
//!
//! Calibrated with [`crate::ConverterFloatEngine`](struct@crate::ConverterFloatEngine) (the float kernels in the order of those
//! the converter calibrates with), the output equals the converter's field for field on the
//! cnn/mlp demo models and all 102 op cases (tests/quantize_int8.rs); calibrated with the
//! reference engine, the scales of accumulating ops' outputs (and biases derived from them)
//! can differ by 1-4 float32 ulp. The converter's calibrator logs an op's inputs *after* the
//! op ran, and LiteRT runs ADD/MUL in place on an input that only they read: that input's
//! range then also spans the op's output (a residual `a + conv(a)`, or `relu(conv(x)) + c`);
//! litequant calibrates the values the tensor holds, so such a tensor gets other parameters.
//! The converter ignores `denylisted_*` for MAX_POOL_2D, AVERAGE_POOL_2D and STRIDED_SLICE on
//! an int8 input (RESHAPE is honoured); litequant keeps every op it is asked to keep float.
//! Not verified against the converter: constants shared by several ops, all-zero ranges,
//! models with several subgraphs (refused).
//!
//! Ops that cannot be quantized (kinds without an int8 rule here, float constant operands
//! of other ops, tensors without calibration statistics, ops named in
//! [`Int8Options::keep_float`]) stay float between DEQUANTIZE and QUANTIZE in `int8` mode
//! and are listed in [`Int8Report::float_ops`]; in `int8-only` mode the call fails with one
//! error naming every such op (index, op, why).

// Operators, their flags and the tensors they name are indexed in parallel while the
// operator table grows: index loops are the clear form here.
#![allow(clippy::needless_range_loop)]

mod bias_fit;
mod build;
mod mixed16;
mod order;
mod params;
mod plan;
#[cfg(test)]
mod tests;
mod weighted;

pub use crate::quant::api::IoType;
use crate::quant::calibrate::Stats;
use crate::{Error, Model, Result};

use super::{finish_with_maps, finished_twins, metadata, prepare, working_twins, Twins};
pub use params::{activation_params, Activations};

/// Options of [`quantize_int8`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Int8Options {
    /// Per-channel weight scales (the converter's default); `false`: per tensor.
    pub per_channel: bool,
    /// `int8-only`: fail if any op cannot be quantized (`TFLITE_BUILTINS_INT8`).
    pub integer_only: bool,
    /// Model input type (`inference_input_type`).
    pub input_type: IoType,
    /// Model output type (`inference_output_type`).
    pub output_type: IoType,
    /// Keep these ops float (selective quantization): an op is kept when the name of one
    /// of its output tensors is listed (the converter's ops carry their output's name, its
    /// `denylisted_nodes`), or its builtin name (`CONV_2D`: every such op, the converter's
    /// `denylisted_ops`).
    pub keep_float: Vec<crate::quant::KeepFloat>,
    /// The activation type: int8 (default) or int16 (16x8 mode: int16 symmetric
    /// activations, int8 weights, int64 biases; ops without a 16x8 rule stay float).
    pub activations: Activations,
    /// Ops to run on int16 activations inside an int8 model (`activations` int8, float
    /// I/O only), named as in `keep_float`; see the `mixed16` module docs (in this file's
    /// directory) for the requantizing edges.
    pub int16_ops: Vec<crate::quant::KeepFloat>,
}

impl Default for Int8Options {
    fn default() -> Self {
        Int8Options {
            per_channel: true,
            integer_only: false,
            input_type: IoType::Float32,
            output_type: IoType::Float32,
            keep_float: Vec::new(),
            activations: Activations::Int8,
            int16_ops: Vec::new(),
        }
    }
}

impl Int8Options {
    /// The converter's `int8` mode: float I/O, unquantizable ops stay float.
    pub fn int8() -> Self {
        Self::default()
    }

    /// The converter's 16x8 mode with float I/O and float fallback
    /// (`supported_ops = [EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
    /// TFLITE_BUILTINS]`).
    pub fn int16x8() -> Self {
        Int8Options {
            activations: Activations::Int16,
            ..Self::default()
        }
    }

    /// The converter's `TFLITE_BUILTINS_INT8` mode with int8 inputs and outputs (unlike
    /// [`QuantizeOptions::int8_only`](crate::quant::QuantizeOptions::int8_only), whose I/O
    /// stays float32 unless its `input_type`/`output_type` say otherwise).
    pub fn int8_only_int8_io() -> Self {
        Int8Options {
            integer_only: true,
            input_type: IoType::Int8,
            output_type: IoType::Int8,
            ..Self::default()
        }
    }
}

/// One quantized tensor in the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8TensorReport {
    /// Tensor index and name in the quantized model.
    pub index: usize,
    /// Tensor name.
    pub name: String,
    /// The calibrated range (`None` for tensors whose parameters are fixed or propagated).
    pub range: Option<(f32, f32)>,
    /// Scale.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i64,
    /// Where the parameters come from: "calibrated", "fixed", "same scale as input", ...
    pub source: String,
}

pub use crate::quant::report::FloatOp;

/// What [`quantize_int8_with_report`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Int8Report {
    /// Every quantized tensor.
    pub tensors: Vec<Int8TensorReport>,
    /// Ops left float.
    pub float_ops: Vec<FloatOp>,
    /// Weights whose scales were raised so that the int32 bias fits (the converter's
    /// bias-overflow adjustment): (float weight tensor name, channels raised; 1 for a
    /// per-tensor weight).
    pub bias_fitted: Vec<(String, usize)>,
    /// Ops run on int16 activations on request ([`Int8Options::int16_ops`]): (operator
    /// index in the float model, op name).
    pub int16_ops: Vec<(usize, crate::model::OpKind)>,
}

/// Full-integer quantization of a float model with calibration statistics, as the TFLite
/// converter does it (see the module docs).
pub fn quantize_int8(model: &Model, stats: &Stats, options: &Int8Options) -> Result<Model> {
    quantize_int8_with_report(model, stats, options).map(|(m, _)| m)
}

/// [`quantize_int8`] with the report: per tensor range, scale, zero point; ops left float.
pub fn quantize_int8_with_report(
    model: &Model,
    stats: &Stats,
    options: &Int8Options,
) -> Result<(Model, Int8Report)> {
    quantize_int8_with_twins(model, stats, options).map(|(m, r, _)| (m, r))
}

/// [`quantize_int8_with_report`], also saying which tensor of `model` each tensor of the
/// result holds the values of.
fn quantize_int8_with_twins(
    model: &Model,
    stats: &Stats,
    options: &Int8Options,
) -> Result<(Model, Int8Report, Twins)> {
    if model.subgraphs.len() != 1 {
        return Err(Error::Unsupported(format!(
            "full-integer quantization of models with {} subgraphs (control flow) is not supported",
            model.subgraphs.len()
        )));
    }
    // Sparse float weights are quantized as the dense weights they stand for.
    let densified = super::sparse::densified(model)?;
    let model = densified.as_ref().map_or(model, |d| &d.model);
    let (mut works, naming) = prepare(model)?;
    if let Some(d) = &densified {
        d.forget_dropped(&mut works);
    }
    let w = &mut works[0];
    let report = if options.int16_ops.is_empty() {
        build::quantize_subgraph(w, stats, options)?
    } else {
        let (ops16, opts8) = mixed16::plan(w, stats, options)?;
        let mut report = build::quantize_subgraph(w, stats, &opts8)?;
        report.float_ops.retain(|f| !ops16.contains(&f.index));
        mixed16::int16_islands(w, stats, &ops16, options.per_channel, &mut report)?;
        report.int16_ops = ops16.iter().map(|&k| (k, w.ops[k].op.kind())).collect();
        report
    };
    let twins = working_twins(model, &works);
    let mode = match options.activations {
        Activations::Int8 => metadata::PTQ_FULL_INTEGER,
        Activations::Int16 => metadata::PTQ_INT16,
    };
    let (mut out, maps) = finish_with_maps(model, works, naming, mode, false)?;
    if options.activations == Activations::Int16 {
        super::versions::set_versions_16x8(&mut out);
    } else if !report.int16_ops.is_empty() {
        super::versions::set_versions_mixed(&mut out);
    }
    let twins = finished_twins(twins, &maps);
    let mut report = report;
    // Report indices and names as the finished model has them (working indices before).
    let sg = &out.subgraphs[0];
    report.tensors.retain_mut(|t| match maps[0].get(&t.index) {
        Some(&i) => {
            t.index = i;
            t.name = sg.tensors[i].name.clone();
            true
        }
        None => false,
    });
    report.tensors.sort_by_key(|t| t.index);
    out.validate()?;
    Ok((out, report, twins))
}

/// What [`dispatch`] gives: the model, the ops left float, the weights whose scales the bias
/// fit raised (name, channels), the tensors' float twins and the ops run on int16.
pub(crate) type Dispatched = (
    Model,
    Vec<crate::quant::api::FloatOp>,
    Vec<(String, usize)>,
    Twins,
    Vec<crate::quant::api::Int16Op>,
);

/// The full-integer pass behind [`crate::quant::quantize`]'s int8 modes (called by
/// `api::dispatch_int8`), with the ops left float in the API's report form and the
/// tensors' twins in `model`.
pub(crate) fn dispatch(
    model: &Model,
    stats: &Stats,
    opts: &crate::quant::QuantizeOptions,
) -> Result<Dispatched> {
    let int8 = Int8Options {
        per_channel: !opts.per_tensor,
        integer_only: opts.mode == crate::quant::Mode::Int8Only,
        input_type: opts.input_type,
        output_type: opts.output_type,
        keep_float: opts.keep_float.clone(),
        int16_ops: opts.int16_ops.clone(),
        activations: if opts.mode == crate::quant::Mode::Int16x8 {
            Activations::Int16
        } else {
            Activations::Int8
        },
    };
    let (q, r, twins) = quantize_int8_with_twins(model, stats, &int8)?;
    let int16_ops = r
        .int16_ops
        .into_iter()
        .map(|(index, op)| crate::quant::api::Int16Op { index, op })
        .collect();
    Ok((q, r.float_ops, r.bias_fitted, twins, int16_ops))
}

/// The ops of `model`'s main subgraph that [`Int8Options::int16_ops`] may name: those the
/// 16x8 rules quantize (an int16 kernel in LiteRT and in litequant, calibrated ranges,
/// quantizable constants), not kept float by `keep_float`; by their first output tensor's
/// name (the name `int16_ops` and `keep_float` take).
pub(crate) fn int16_capable_ops(
    model: &Model,
    stats: &Stats,
    keep_float: &[crate::quant::KeepFloat],
) -> Result<std::collections::HashSet<String>> {
    let densified = super::sparse::densified(model)?;
    let model = densified.as_ref().map_or(model, |d| &d.model);
    let (mut works, _) = prepare(model)?;
    if let Some(d) = &densified {
        d.forget_dropped(&mut works);
    }
    let w = &works[0];
    let opts16 = Int8Options {
        keep_float: keep_float.to_vec(),
        ..Int8Options::int16x8()
    };
    let constants: std::collections::HashSet<usize> = w.body_constants().into_iter().collect();
    let (can, _) = plan::which_ops(w, stats, &opts16, &constants)?;
    Ok((0..w.ops.len())
        .filter(|&k| can[k] && mixed16::has_int16_form(&w.ops[k].op))
        .filter_map(|k| w.ops[k].output_tensors().next())
        .map(|t| w.tensors[t].name.clone())
        .filter(|n| !n.is_empty())
        .collect())
}
