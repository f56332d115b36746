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
//!   output's calibrated parameters and push them back onto their operands; an operand
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
//! What remains different (documented by the tests): calibrated ranges of CONV_2D,
//! DEPTHWISE_CONV_2D, FULLY_CONNECTED and HARD_SWISH outputs can differ in their last bits
//! (the converter calibrates with LiteRT's optimized float kernels, litequant with the
//! reference kernels: another summation order), so those scales (and biases derived from
//! them) can differ by 1-4 float32 ulp; weights, bias integers, zero points and structure
//! are equal, and the models classify the held-out digits identically. Not verified against the converter: float islands
//! in the middle of a graph (names of the DEQUANTIZE/QUANTIZE tensors), constants shared by
//! several ops, all-zero ranges, models with several subgraphs (refused).
//!
//! Ops that cannot be quantized (kinds without an int8 rule here, float constant operands
//! of other ops, tensors without calibration statistics, ops named in
//! [`Int8Options::keep_float`]) stay float between DEQUANTIZE and QUANTIZE in `int8` mode
//! and are listed in [`Int8Report::float_ops`]; in `int8-only` mode the call fails with one
//! error naming every such op (index, op, why).

// Operators, their flags and the tensors they name are indexed in parallel while the
// operator table grows: index loops are the clear form here.
#![allow(clippy::needless_range_loop)]

use std::collections::HashMap;

use crate::model::{DType, Op, Operator, QuantParams, Tensor};
pub use crate::quant::api::IoType;
use crate::quant::calibrate::Stats;
use crate::quant::weights::{f32_values, symmetric_int8};
use crate::{Error, Model, Result};

use super::layout::Item;
use super::{finish_with_maps, metadata, prepare, Working};

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
    /// of its output tensors is listed (the converter's ops carry their output's name).
    pub keep_float: Vec<String>,
}

impl Default for Int8Options {
    fn default() -> Self {
        Int8Options {
            per_channel: true,
            integer_only: false,
            input_type: IoType::Float32,
            output_type: IoType::Float32,
            keep_float: Vec::new(),
        }
    }
}

impl Int8Options {
    /// The converter's `int8` mode: float I/O, unquantizable ops stay float.
    pub fn int8() -> Self {
        Self::default()
    }

    /// The converter's `TFLITE_BUILTINS_INT8` mode with int8 inputs and outputs.
    pub fn int8_only() -> Self {
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
pub struct TensorReport {
    /// Tensor index and name in the quantized model.
    pub index: usize,
    pub name: String,
    /// The calibrated range (`None` for tensors whose parameters are fixed or propagated).
    pub range: Option<(f32, f32)>,
    pub scale: f32,
    pub zero_point: i64,
    /// Where the parameters come from: "calibrated", "fixed", "same scale as input", ...
    pub source: String,
}

/// An operator left float, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatOp {
    /// Operator index in the float model.
    pub index: usize,
    pub op: String,
    pub why: String,
}

/// What [`quantize_int8_with_report`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Int8Report {
    pub tensors: Vec<TensorReport>,
    pub float_ops: Vec<FloatOp>,
}

/// Activation parameters from a calibrated range, as the converter computes them (float32
/// math, `GetAsymmetricQuantizationParams`; int8, not narrow range): (scale as stored, zero
/// point, the scale as f64).
pub fn activation_params(min: f32, max: f32) -> (f32, i64, f64) {
    let (qmin, qmax) = (-128.0f32, 127.0f32);
    let min = min.min(0.0);
    let max = max.max(0.0);
    if (f64::from(max) - f64::from(min)).abs() < f64::EPSILON {
        return (1.0, -128, 1.0);
    }
    let scale = (max - min) / (qmax - qmin);
    let zp_from_min = qmin - min / scale;
    let zp = if zp_from_min < qmin {
        qmin
    } else if zp_from_min > qmax {
        qmax
    } else {
        zp_from_min.round()
    };
    (scale, zp as i64, f64::from(scale))
}

/// Parameters of an int8 activation: stored scale, zero point, double scale.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Params {
    scale: f32,
    zp: i64,
    scale64: f64,
}

impl Params {
    fn quant(&self) -> QuantParams {
        QuantParams {
            scale: vec![self.scale],
            zero_point: vec![self.zp],
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Weight in slot 1 (per-channel axis), optional bias in slot 2.
    Weighted(usize),
    Fixed(f32, i64),
    /// Output carries input 0's parameters.
    SameScale,
    /// Output keeps its own parameters; inputs requantized to them.
    Unified,
    /// Output from its own range, inputs anything.
    Own,
}

fn kind(op: &Op) -> Option<Kind> {
    Some(match op {
        Op::Conv2D(_) => Kind::Weighted(0),
        Op::DepthwiseConv2D(_) => Kind::Weighted(3),
        Op::FullyConnected(o) if o.weights_format == 0 => Kind::Weighted(0),
        Op::Softmax { .. } | Op::Logistic => Kind::Fixed(1.0 / 256.0, -128),
        Op::Tanh => Kind::Fixed(1.0 / 128.0, 0),
        Op::AveragePool2D(_)
        | Op::MaxPool2D(_)
        | Op::Reshape { .. }
        | Op::Squeeze { .. }
        | Op::Pad
        | Op::PadV2
        | Op::Slice
        | Op::StridedSlice(_)
        | Op::Transpose
        | Op::ResizeBilinear(_)
        | Op::ResizeNearestNeighbor(_) => Kind::SameScale,
        Op::Concatenation { .. } | Op::Maximum | Op::Minimum => Kind::Unified,
        Op::Add(_)
        | Op::Sub(_)
        | Op::Mul { .. }
        | Op::Relu
        | Op::Relu6
        | Op::Mean { .. }
        | Op::BatchMatMul(_)
        | Op::HardSwish
        | Op::Prelu
        | Op::LeakyRelu { .. } => Kind::Own,
        _ => return None,
    })
}

fn new_op(op: Op, input: usize, output: usize) -> Operator {
    Operator {
        op,
        version: 1,
        inputs: vec![input as i32],
        outputs: vec![output as i32],
        intermediates: Vec::new(),
        mutating_variable_inputs: Vec::new(),
        debug_metadata_index: -1,
        options_omitted: true,
    }
}

fn quantized_const(like: &Tensor, dtype: DType, data: Vec<u8>, q: QuantParams) -> Tensor {
    Tensor {
        name: String::new(),
        dtype,
        shape: like.shape.clone(),
        shape_signature: like.shape_signature.clone(),
        quant: Some(q),
        data: Some(data.into()),
        is_variable: false,
        sparsity: None,
        has_rank: like.has_rank,
        variant_tensors: Vec::new(),
        external_buffer: 0,
    }
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
    if model.subgraphs.len() != 1 {
        return Err(Error::Unsupported(format!(
            "full-integer quantization of models with {} subgraphs (control flow) is not supported",
            model.subgraphs.len()
        )));
    }
    let (mut works, naming) = prepare(model)?;
    let w = &mut works[0];
    let report = quantize_subgraph(w, stats, options)?;
    let (out, maps) = finish_with_maps(model, works, naming, metadata::PTQ_FULL_INTEGER, false)?;
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
    Ok((out, report))
}

fn quantize_subgraph(w: &mut Working, stats: &Stats, options: &Int8Options) -> Result<Int8Report> {
    let n_ops = w.ops.len();
    let constants: std::collections::HashSet<usize> = w.body_constants().into_iter().collect();
    let args = w.body.args.clone();
    let is_float_act = |w: &Working, t: usize| {
        w.tensors[t].dtype == DType::F32 && !constants.contains(&t) && w.tensors[t].data.is_none()
    };

    // 1. Which ops can be quantized.
    let mut report = Int8Report::default();
    let mut quantized = vec![false; n_ops];
    for k in 0..n_ops {
        let op = &w.ops[k];
        let name = op.op.name();
        let why: Option<String> = (|| {
            if let Some(t) = op
                .output_tensors()
                .find(|&t| options.keep_float.iter().any(|k| *k == w.tensors[t].name))
            {
                return Some(format!("kept float on request ('{}')", w.tensors[t].name));
            }
            let Some(kd) = kind(&op.op) else {
                return Some(format!(
                    "{name} has no int8 kernel in litequant's quantizer"
                ));
            };
            for (slot, &t) in op.inputs.iter().enumerate() {
                if t < 0 {
                    continue;
                }
                let t = t as usize;
                let tensor = &w.tensors[t];
                if tensor.dtype != DType::F32 {
                    continue;
                }
                let weighted = matches!(kd, Kind::Weighted(_));
                if constants.contains(&t) || tensor.data.is_some() {
                    if weighted && (slot == 1 || slot == 2) {
                        let vals = f32_values(tensor.data.as_deref().unwrap_or_default());
                        if vals.iter().any(|v| !v.is_finite()) {
                            return Some(format!(
                                "constant input {slot} ('{}') is not finite",
                                tensor.name
                            ));
                        }
                        continue;
                    }
                    if matches!(kd, Kind::Own | Kind::Unified | Kind::SameScale) {
                        let vals = f32_values(tensor.data.as_deref().unwrap_or_default());
                        if vals.is_empty() || vals.iter().any(|v| !v.is_finite()) {
                            return Some(format!(
                                "constant input {slot} ('{}') is empty or not finite",
                                tensor.name
                            ));
                        }
                        continue;
                    }
                    return Some(format!(
                        "float constant operand {slot} ('{}') is not quantized by litequant",
                        tensor.name
                    ));
                }
                if !stats.tensors.get(&t).is_some_and(|s| s.has_range()) {
                    return Some(format!(
                        "input {slot} ('{}') has no calibration range",
                        tensor.name
                    ));
                }
            }
            for t in op.output_tensors() {
                let tensor = &w.tensors[t];
                if tensor.dtype != DType::F32 {
                    return Some(format!(
                        "output '{}' is {}, not float32",
                        tensor.name, tensor.dtype
                    ));
                }
                if !matches!(kd, Kind::Fixed(..) | Kind::SameScale)
                    && !stats.tensors.get(&t).is_some_and(|s| s.has_range())
                {
                    return Some(format!("output '{}' has no calibration range", tensor.name));
                }
            }
            if let Kind::Weighted(_) = kd {
                let wt = op.input(1)?;
                if !constants.contains(&wt) {
                    return Some("the weight is not a constant".into());
                }
            }
            None
        })();
        match why {
            None => quantized[k] = true,
            Some(why) => {
                // Ops without float tensors are not float ops: nothing to report.
                let touches_float = op
                    .input_tensors()
                    .chain(op.output_tensors())
                    .any(|t| w.tensors[t].dtype == DType::F32);
                if touches_float {
                    report.float_ops.push(FloatOp {
                        index: k,
                        op: name,
                        why,
                    });
                }
            }
        }
    }
    if options.integer_only && !report.float_ops.is_empty() {
        let list: Vec<String> = report
            .float_ops
            .iter()
            .map(|f| format!("operator {} ({}): {}", f.index, f.op, f.why))
            .collect();
        return Err(Error::Unsupported(format!(
            "int8-only quantization: {} operator(s) cannot be quantized:\n  {}",
            list.len(),
            list.join("\n  ")
        )));
    }

    // 2. Parameters of every activation a quantized op reads or writes, in op order.
    let mut params: HashMap<usize, Params> = HashMap::new();
    let mut source: HashMap<usize, &'static str> = HashMap::new();
    let calibrated = |t: usize| -> Option<Params> {
        let s = stats.tensors.get(&t).filter(|s| s.has_range())?;
        let (scale, zp, scale64) = activation_params(s.min, s.max);
        Some(Params { scale, zp, scale64 })
    };
    for k in 0..n_ops {
        if !quantized[k] {
            continue;
        }
        let op = w.ops[k].clone();
        let kd = kind(&op.op).expect("quantized ops have a kind");
        // Inputs first (graph inputs and float producers): their own ranges.
        for t in op.input_tensors() {
            if is_float_act(w, t) && !params.contains_key(&t) {
                if let Some(p) = calibrated(t) {
                    params.insert(t, p);
                    source.insert(t, "calibrated");
                }
            }
        }
        for t in op.output_tensors() {
            let (p, src) = match kd {
                Kind::Fixed(scale, zp) => (
                    Params {
                        scale,
                        zp,
                        scale64: f64::from(scale),
                    },
                    "fixed by the op",
                ),
                Kind::SameScale => match op.input(0).and_then(|i| params.get(&i)) {
                    Some(p) => (*p, "same scale as the input"),
                    None => continue,
                },
                _ => match calibrated(t) {
                    Some(p) => (p, "calibrated"),
                    None => continue,
                },
            };
            params.insert(t, p);
            source.insert(t, src);
        }
    }

    // 2b. Backward through ops that unify their operands' scales (CONCATENATION, MAXIMUM,
    //     MINIMUM): an operand whose parameters are not fixed by its producer takes the
    //     output's (the converter's driver propagates results backwards); fixed ones are
    //     requantized below. Same-scale ops downstream of a changed tensor follow.
    for k in (0..n_ops).rev() {
        if !quantized[k] || kind(&w.ops[k].op) != Some(Kind::Unified) {
            continue;
        }
        let Some(out_p) = w.ops[k]
            .outputs
            .first()
            .and_then(|&o| params.get(&(o as usize)))
            .copied()
        else {
            continue;
        };
        for t in w.ops[k].input_tensors().collect::<Vec<_>>() {
            if params.contains_key(&t) && source.get(&t) != Some(&"fixed by the op") {
                params.insert(t, out_p);
                source.insert(t, "same scale as its consumer");
            }
        }
    }
    for k in 0..n_ops {
        if quantized[k] && kind(&w.ops[k].op) == Some(Kind::SameScale) {
            if let Some(p) = w.ops[k].input(0).and_then(|i| params.get(&i)).copied() {
                for t in w.ops[k].output_tensors().collect::<Vec<_>>() {
                    params.insert(t, p);
                }
            }
        }
    }

    // 3. Constants: weights and biases, materialized at the front (each ahead of the last).
    let mut front: Vec<Item> = Vec::new();
    // Constants that take their consumer's parameters, placed right before it.
    let mut before_op: HashMap<usize, Vec<Item>> = HashMap::new();
    let mut replaced_consts: Vec<usize> = Vec::new();
    for k in 0..n_ops {
        if !quantized[k] {
            continue;
        }
        let kd = kind(&w.ops[k].op).unwrap();
        if matches!(kd, Kind::Own | Kind::Unified | Kind::SameScale) {
            for slot in 0..w.ops[k].inputs.len() {
                let Some(c) = w.ops[k].input(slot) else {
                    continue;
                };
                let ct = w.tensors[c].clone();
                if ct.dtype != DType::F32 || ct.data.is_none() {
                    continue;
                }
                let vals = f32_values(ct.data.as_deref().unwrap_or_default());
                let p = match kd {
                    // PADV2's padding value: the input's parameters.
                    Kind::SameScale => w.ops[k].input(0).and_then(|i| params.get(&i)).copied(),
                    Kind::Unified => w.ops[k]
                        .outputs
                        .first()
                        .and_then(|&o| params.get(&(o as usize)))
                        .copied(),
                    _ => {
                        let (lo, hi) = vals
                            .iter()
                            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
                                (a.min(x), b.max(x))
                            });
                        let (scale, zp, scale64) = activation_params(lo, hi);
                        Some(Params { scale, zp, scale64 })
                    }
                };
                if matches!(w.ops[k].op, Op::Prelu) && slot == 1 {
                    // PRELU's alpha: symmetric int8 per tensor, like a weight.
                    let shape: Vec<usize> = ct.shape.iter().map(|&d| d.max(0) as usize).collect();
                    let q = symmetric_int8(&vals, &shape, None).map_err(|e| {
                        Error::InvalidModel(format!("tensor {c} ('{}'): {e}", ct.name))
                    })?;
                    let qc = quantized_const(
                        &ct,
                        DType::I8,
                        q.values.iter().map(|&v| v as u8).collect(),
                        QuantParams {
                            scale: q.scales.clone(),
                            zero_point: vec![0],
                            ..Default::default()
                        },
                    );
                    let base = w.location(c).unwrap_or("tfl.pseudo_qconst").to_string();
                    let qc = w.add_tensor(qc, base);
                    w.ops[k].inputs[slot] = qc as i32;
                    front.insert(
                        0,
                        Item::Const {
                            tensor: qc,
                            foldable: false,
                        },
                    );
                    replaced_consts.push(c);
                    continue;
                }
                let Some(p) = p else { continue };
                let q: Vec<u8> = vals
                    .iter()
                    .map(|&x| {
                        let v = (f64::from(x) / f64::from(p.scale)).round() + p.zp as f64;
                        v.clamp(-128.0, 127.0) as i8 as u8
                    })
                    .collect();
                let qc = quantized_const(&ct, DType::I8, q, p.quant());
                let base = w.location(c).unwrap_or("tfl.pseudo_qconst").to_string();
                let qc = w.add_tensor(qc, base);
                w.ops[k].inputs[slot] = qc as i32;
                let item = Item::Const {
                    tensor: qc,
                    foldable: false,
                };
                if kd != Kind::Own {
                    before_op.entry(k).or_default().push(item);
                } else {
                    front.insert(0, item);
                }
                replaced_consts.push(c);
            }
            continue;
        }
        let Kind::Weighted(axis) = kd else {
            continue;
        };
        let axis = options.per_channel.then_some(axis);
        let wt = w.ops[k].input(1).unwrap();
        let float = w.tensors[wt].clone();
        let shape: Vec<usize> = float.shape.iter().map(|&d| d.max(0) as usize).collect();
        let values = f32_values(float.data.as_deref().unwrap_or_default());
        let q = symmetric_int8(&values, &shape, axis)
            .map_err(|e| Error::InvalidModel(format!("tensor {wt} ('{}'): {e}", float.name)))?;
        // Double scales, as the quant type holds them (before rounding to float32).
        let scales64: Vec<f64> = q.scales.iter().map(|&s| f64::from(s)).collect();
        let nsc = q.scales.len();
        let wq = quantized_const(
            &float,
            DType::I8,
            q.values.iter().map(|&v| v as u8).collect(),
            QuantParams {
                scale: q.scales.clone(),
                zero_point: vec![0; nsc],
                quantized_dimension: axis.unwrap_or(0) as i32,
                ..Default::default()
            },
        );
        let base = w.location(wt).unwrap_or("tfl.pseudo_qconst").to_string();
        let wq = w.add_tensor(wq, base);
        w.ops[k].inputs[1] = wq as i32;
        front.insert(
            0,
            Item::Const {
                tensor: wq,
                foldable: false,
            },
        );
        replaced_consts.push(wt);

        let in_scale = w.ops[k]
            .input(0)
            .and_then(|i| params.get(&i))
            .map(|p| f64::from(p.scale))
            .ok_or_else(|| {
                Error::InvalidModel(format!("operator {k}: input without parameters"))
            })?;
        if let Some(bt) = w.ops[k].input(2) {
            let bias = w.tensors[bt].clone();
            let bvals = f32_values(bias.data.as_deref().unwrap_or_default());
            let bscales: Vec<f64> = scales64.iter().map(|s| s * in_scale).collect();
            let per = bscales.len();
            let qv: Vec<u8> = bvals
                .iter()
                .enumerate()
                .flat_map(|(i, &b)| {
                    let s = if per == 1 {
                        bscales[0]
                    } else {
                        bscales[i % per]
                    };
                    let q = (f64::from(b) / s).round();
                    let q = q.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
                    q.to_le_bytes()
                })
                .collect();
            let bq = quantized_const(
                &bias,
                DType::I32,
                qv,
                QuantParams {
                    scale: bscales.iter().map(|&s| s as f32).collect(),
                    zero_point: vec![0; per],
                    quantized_dimension: 0,
                    ..Default::default()
                },
            );
            let base = w.location(bt).unwrap_or("tfl.pseudo_qconst").to_string();
            let bq = w.add_tensor(bq, base);
            w.ops[k].inputs[2] = bq as i32;
            front.insert(
                0,
                Item::Const {
                    tensor: bq,
                    foldable: false,
                },
            );
            replaced_consts.push(bt);
        }
    }

    // 4. Activations become int8 in place (float copies made where float code needs them).
    for (&t, p) in &params {
        let tensor = &mut w.tensors[t];
        tensor.dtype = DType::I8;
        tensor.quant = Some(p.quant());
    }

    // 5. Edges. Float versions of int8 tensors (DEQUANTIZE), int8 versions of float
    //    tensors (QUANTIZE), requantized inputs of unified ops.
    let mut new_items_before: HashMap<usize, Vec<usize>> = HashMap::new(); // op k → ops
    let mut new_items_after: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut arg_ops: Vec<usize> = Vec::new();
    let mut reserve: Vec<usize> = Vec::new();
    let producer: HashMap<usize, usize> = (0..n_ops)
        .flat_map(|k| {
            w.ops[k]
                .output_tensors()
                .map(move |t| (t, k))
                .collect::<Vec<_>>()
        })
        .collect();
    // 5a. A quantized tensor produced by a float op or a graph input: the producer writes
    //     float into a float tensor; QUANTIZE makes the int8 one.
    let mut float_twin: HashMap<usize, usize> = HashMap::new();
    let mut sorted: Vec<usize> = params.keys().copied().collect();
    sorted.sort_unstable();
    for &t in &sorted {
        let from_float_op = producer.get(&t).is_some_and(|&k| !quantized[k]);
        let is_arg = args.contains(&t);
        if !(from_float_op || is_arg) {
            continue;
        }
        if is_arg && options.input_type != IoType::Float32 {
            continue; // handled below
        }
        let mut f = w.tensors[t].clone();
        f.dtype = DType::F32;
        f.quant = Some(QuantParams::default());
        let base = w.bases[t].clone();
        // The float tensor keeps the index/name role of the original (argument or float
        // producer's output); the int8 one is new.
        let q = w.tensors[t].clone();
        w.tensors[t] = f;
        let qbase = if is_arg {
            "tfl.quantize".to_string()
        } else {
            base
        };
        let qt = w.add_tensor(q, qbase);
        // Readers of t among quantized ops read qt.
        for k in 0..n_ops {
            if quantized[k] {
                for i in w.ops[k].inputs.iter_mut() {
                    if *i == t as i32 {
                        *i = qt as i32;
                    }
                }
            }
        }
        w.ops.push(new_op(Op::Quantize, t, qt));
        let qk = w.ops.len() - 1;
        if is_arg {
            arg_ops.push(qk);
        } else {
            new_items_after.entry(producer[&t]).or_default().push(qk);
        }
        float_twin.insert(qt, t);
        params.insert(qt, params[&t]);
    }
    // 5b. int8/uint8 inputs.
    for &t in &args {
        if !params.contains_key(&t) || options.input_type == IoType::Float32 {
            continue;
        }
        if options.input_type == IoType::Uint8 {
            let p = params[&t];
            let q = w.tensors[t].clone();
            let base = "tfl.quantize".to_string();
            w.tensors[t].dtype = DType::U8;
            w.tensors[t].quant = Some(QuantParams {
                scale: vec![p.scale],
                zero_point: vec![p.zp + 128],
                ..Default::default()
            });
            let qt = w.add_tensor(q, base);
            for k in 0..n_ops {
                if quantized[k] {
                    for i in w.ops[k].inputs.iter_mut() {
                        if *i == t as i32 {
                            *i = qt as i32;
                        }
                    }
                }
            }
            w.ops.push(new_op(Op::Quantize, t, qt));
            arg_ops.push(w.ops.len() - 1);
        }
    }
    // 5c. Float ops reading quantized tensors: DEQUANTIZE (one per tensor).
    let mut deq: HashMap<usize, usize> = HashMap::new();
    for k in 0..n_ops {
        if quantized[k] {
            continue;
        }
        for slot in 0..w.ops[k].inputs.len() {
            let t = w.ops[k].inputs[slot];
            if t < 0 || !params.contains_key(&(t as usize)) {
                continue;
            }
            let t = t as usize;
            if let Some(&f) = float_twin.get(&t) {
                w.ops[k].inputs[slot] = f as i32;
                continue;
            }
            let d = match deq.get(&t) {
                Some(&d) => d,
                None => {
                    let mut f = w.tensors[t].clone();
                    f.dtype = DType::F32;
                    f.quant = Some(QuantParams::default());
                    let base = w.bases[t].clone();
                    let d = w.add_tensor(f, base);
                    w.ops.push(new_op(Op::Dequantize, t, d));
                    let dk = w.ops.len() - 1;
                    match producer.get(&t) {
                        Some(&p) => new_items_after.entry(p).or_default().push(dk),
                        None => arg_ops.push(dk),
                    }
                    deq.insert(t, d);
                    d
                }
            };
            w.ops[k].inputs[slot] = d as i32;
        }
    }
    // 5d. Requantize inputs of unified ops whose parameters differ from the output's.
    for k in 0..n_ops {
        if !quantized[k] || kind(&w.ops[k].op) != Some(Kind::Unified) {
            continue;
        }
        let Some(out_p) = w.ops[k]
            .outputs
            .first()
            .and_then(|&o| params.get(&(o as usize)))
            .copied()
        else {
            continue;
        };
        for slot in 0..w.ops[k].inputs.len() {
            let t = w.ops[k].inputs[slot];
            if t < 0 {
                continue;
            }
            let t = t as usize;
            let Some(p) = params.get(&t).copied() else {
                continue;
            };
            if p.scale == out_p.scale && p.zp == out_p.zp {
                continue;
            }
            let mut r = w.tensors[t].clone();
            r.quant = Some(out_p.quant());
            let base = w.bases[t].clone();
            let rt = w.add_tensor(r, base);
            w.ops.push(new_op(Op::Quantize, t, rt));
            let rk = w.ops.len() - 1;
            match producer.get(&t) {
                Some(&p) => new_items_after.entry(p).or_default().push(rk),
                None => new_items_before.entry(k).or_default().push(rk),
            }
            w.ops[k].inputs[slot] = rt as i32;
        }
    }
    // 5e. Outputs.
    for o in 0..w.outputs.len() {
        let t = w.outputs[o];
        if !params.contains_key(&t) || float_twin.contains_key(&t) {
            continue;
        }
        match options.output_type {
            IoType::Int8 => reserve.push(t),
            IoType::Float32 | IoType::Uint8 => {
                let mut f = w.tensors[t].clone();
                let p = params[&t];
                if options.output_type == IoType::Float32 {
                    f.dtype = DType::F32;
                    f.quant = Some(QuantParams::default());
                } else {
                    f.dtype = DType::U8;
                    f.quant = Some(QuantParams {
                        scale: vec![p.scale],
                        zero_point: vec![p.zp + 128],
                        ..Default::default()
                    });
                }
                let base = w.bases[t].clone();
                let d = match (options.output_type, deq.get(&t)) {
                    (IoType::Float32, Some(&d)) => d,
                    _ => {
                        let d = w.add_tensor(f, base);
                        let op = if options.output_type == IoType::Float32 {
                            Op::Dequantize
                        } else {
                            Op::Quantize
                        };
                        w.ops.push(new_op(op, t, d));
                        let dk = w.ops.len() - 1;
                        match producer.get(&t) {
                            Some(&p) => new_items_after.entry(p).or_default().push(dk),
                            None => arg_ops.push(dk),
                        }
                        d
                    }
                };
                w.outputs[o] = d;
                reserve.push(d);
            }
        }
    }
    w.reserved_names = reserve;

    // Input QUANTIZE ops come in the order of their outputs' first use.
    let first_use = |w: &Working, t: usize| -> (usize, usize) {
        (0..w.ops.len())
            .flat_map(|k| {
                w.ops[k]
                    .inputs
                    .iter()
                    .enumerate()
                    .filter(move |(_, &i)| i == t as i32)
                    .map(move |(s, _)| (k, s))
            })
            .min()
            .unwrap_or((usize::MAX, 0))
    };
    // Input QUANTIZE ops: those of inputs with their own calibrated parameters first, in
    // input order; then those whose parameters came back from a consumer (CONCATENATION,
    // MAXIMUM, MINIMUM), in the order of their first use.
    let mut keyed: Vec<(bool, (usize, usize), usize)> = arg_ops
        .iter()
        .map(|&a| {
            let input = w.ops[a].inputs[0] as usize;
            let out = w.ops[a].outputs[0] as usize;
            let propagated = source.get(&input) == Some(&"same scale as its consumer");
            let key = if propagated {
                first_use(w, out)
            } else {
                (
                    args.iter().position(|&x| x == input).unwrap_or(usize::MAX),
                    0,
                )
            };
            (propagated, key, a)
        })
        .collect();
    keyed.sort();
    let arg_ops: Vec<usize> = keyed.into_iter().map(|(_, _, a)| a).collect();
    // A quantized FULLY_CONNECTED without bias: the hidden no-value constant is not
    // materialized before its weight (the weight keeps the plain name).
    let float_fc_without_bias = (0..n_ops).any(|k| {
        !quantized[k]
            && matches!(w.ops[k].op, Op::FullyConnected(_))
            && w.ops[k].inputs.get(2).is_some_and(|&b| b < 0)
    });
    if !float_fc_without_bias {
        w.body.items.retain(|i| !matches!(i, Item::NoValue { .. }));
    }

    // 6. The body: quantized constants in front, then the rest in order with the new ops.
    // The input QUANTIZE ops open the body (right after the materialized constants); the
    // constant folder then moves the remaining foldable constants in front of them.
    let mut items = front;
    items.extend(arg_ops.iter().map(|&a| Item::Op(a)));
    let old = std::mem::take(&mut w.body.items);
    let mut args_done = true;
    for item in old {
        match item {
            Item::Const { tensor, .. } if replaced_consts.contains(&tensor) => {
                // Dropped unless a float op still reads it.
                let still_read = (0..n_ops).any(|k| w.ops[k].input_tensors().any(|i| i == tensor))
                    || w.outputs.contains(&tensor);
                if still_read {
                    items.push(item);
                }
            }
            Item::Op(k) => {
                if !args_done {
                    items.extend(arg_ops.iter().map(|&a| Item::Op(a)));
                    args_done = true;
                }
                for it in before_op.remove(&k).into_iter().flatten() {
                    items.push(it);
                }
                for &b in new_items_before.get(&k).into_iter().flatten() {
                    items.push(Item::Op(b));
                }
                items.push(Item::Op(k));
                for &a in new_items_after.get(&k).into_iter().flatten() {
                    items.push(Item::Op(a));
                }
            }
            other => items.push(other),
        }
    }
    if !args_done {
        items.extend(arg_ops.iter().map(|&a| Item::Op(a)));
    }
    w.body.items = items;

    // The report: every int8 activation (working indices; the caller maps them).
    for (&t, p) in &params {
        if w.tensors[t].dtype != DType::I8 {
            continue; // a float input whose int8 twin is reported
        }
        let observed = float_twin.get(&t).copied().unwrap_or(t);
        report.tensors.push(TensorReport {
            index: t,
            name: w.bases[t].clone(),
            range: stats
                .tensors
                .get(&observed)
                .filter(|s| s.has_range())
                .map(|s| (s.min, s.max)),
            scale: p.scale,
            zero_point: p.zp,
            source: source
                .get(&observed)
                .copied()
                .unwrap_or("calibrated")
                .to_string(),
        });
    }
    Ok(report)
}

/// The full-integer pass behind [`crate::quant::quantize`]'s int8 modes: what
/// `api::dispatch_int8` calls once the CLI's "int8 modes are refused" test is retired
/// (`dispatch_int8(model, stats, opts) = full_integer::dispatch(model, stats, opts)`).
#[allow(dead_code)]
pub(crate) fn dispatch(
    model: &Model,
    stats: &Stats,
    opts: &crate::quant::QuantizeOptions,
) -> Result<(Model, Vec<crate::quant::api::FloatOp>)> {
    let int8 = Int8Options {
        per_channel: !opts.per_tensor,
        integer_only: opts.mode == crate::quant::Mode::Int8Only,
        input_type: opts.input_type,
        output_type: opts.output_type,
        keep_float: opts.keep_float.clone(),
    };
    let (q, r) = quantize_int8_with_report(model, stats, &int8)?;
    let float_ops = r
        .float_ops
        .into_iter()
        .map(|f| crate::quant::api::FloatOp {
            index: f.index,
            op: f.op,
            reason: f.why,
        })
        .collect();
    Ok((q, float_ops))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_params_like_the_converter() {
        // Relu6 observed on [0, 6].
        let (s, zp, _) = activation_params(0.0, 6.0);
        assert_eq!((s, zp), ((6.0f64 / 255.0) as f32, -128));
        // Range widened to include 0.
        assert_eq!(activation_params(1.0, 2.0).1, -128);
        assert_eq!(activation_params(-2.0, -1.0).1, 127);
        // Constant zero.
        assert_eq!(activation_params(0.0, 0.0), (1.0, -128, 1.0));
        // Symmetric range: -128 + 127.5 = -0.5 rounds away from zero.
        assert_eq!(activation_params(-1.0, 1.0).1, -1);
    }
}
