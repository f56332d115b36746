//! Per-op int16 activations inside an int8 model (`Int8Options::int16_ops`, the CLI's
//! `--int16-ops`): the chosen ops run on 16x8 kernels (int16 symmetric activations, zero
//! point 0; int8 weights; int64 biases), the rest of the model on int8.
//!
//! How LiteRT moves values between the two (TFLite `tensorflow/lite/kernels/quantize.cc`
//! `Prepare`, the same in LiteRT 2.3's `tflite/kernels/quantize.cc`): QUANTIZE requantizes
//! int16 → int8 and int16 → int16 (zero points 0), int8/uint8 → int8/uint8, and quantizes
//! float32 → int8/uint8/int16; it has **no int8 → int16** requantization ("Input type INT8
//! with Output type INT16 is not currently supported"). So:
//! - int8 → int16 (an int8 op's result read by an int16 op) goes through float: the int8
//!   pass's DEQUANTIZE (int8 → float32), then a QUANTIZE float32 → int16;
//! - int16 → int8 (an int16 op's result read by an int8 op) is one QUANTIZE that
//!   requantizes (`Requantize`, multiplier `QuantizeMultiplier(s_in / s_out)`);
//! - int16 → float (a float op or a float model output) is a DEQUANTIZE.
//!
//! Built on the float islands of the int8 pass: the chosen ops are first kept float (so
//! their neighbours get DEQUANTIZE/QUANTIZE exactly as around any float op), then each is
//! turned into its 16x8 form here, with the 16x8 rules of the whole-model pass
//! (`params::kind_for` with int16 activations): activation parameters
//! `GetSymmetricQuantizationParams(min, max, 32767)` from the tensor's own calibration
//! range (a tensor read through a DEQUANTIZE: the range of the value it holds), SOFTMAX /
//! LOGISTIC / TANH outputs at 2^-15, same-scale ops' outputs on their input's parameters,
//! CONCATENATION/PACK/MAXIMUM/MINIMUM operands requantized to the output's; weights int8
//! (per channel as in 16x8), biases int64 on `s_in · s_w[c]`; ADD/SUB with general scales
//! (`pot_scale_int16 = false`). Consecutive int16 ops pass int16 tensors directly.

// Operators and the tensors they name are indexed in parallel: index loops are clear here.
#![allow(clippy::needless_range_loop)]

use std::collections::{HashMap, HashSet};

use crate::model::{DType, Op};
use crate::quant::calibrate::Stats;
use crate::quant::KeepFloat;
use crate::quant::weights::{f32_values, round_to_grid};
use crate::{Error, Result};

use super::super::layout::Item;
use super::super::Working;
use super::params::{data_slot, kind_for, new_op, quantized_const, Activations, Kind, Params};
use super::{weighted, Int8Report, Int8TensorReport as TensorReport};

const ACT: Activations = Activations::Int16;

/// Whether op `k` is named by `names` (an output tensor's name, or its builtin name), as
/// `keep_float` matches.
pub(super) fn selected(w: &Working, k: usize, names: &[KeepFloat]) -> bool {
    let op = &w.ops[k];
    let op_type = op.op.name();
    names.iter().any(|n| {
        n.matches_op_type(&op_type) || op.output_tensors().any(|t| n.matches_tensor(&w.tensors[t].name))
    })
}

/// The tensor of the input model whose values working tensor `t` holds.
fn original(w: &Working, mut t: usize) -> usize {
    for _ in 0..w.tensors.len() {
        match w.twins.get(&t) {
            Some(&o) => t = o,
            None => break,
        }
    }
    t
}

fn calibrated(w: &Working, stats: &Stats, t: usize) -> Option<Params> {
    let s = stats
        .tensors
        .get(&original(w, t))
        .filter(|s| s.has_range())?;
    let (scale, zp, scale64) = ACT.params(s.min, s.max);
    Some(Params { scale, zp, scale64 })
}

/// Ops of the body in body order (working operator indices).
fn body_ops(w: &Working) -> Vec<usize> {
    w.body
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Op(k) => Some(*k),
            _ => None,
        })
        .collect()
}

fn position(w: &Working, k: usize) -> Result<usize> {
    w.body
        .items
        .iter()
        .position(|i| matches!(i, Item::Op(x) if *x == k))
        .ok_or_else(|| Error::InvalidModel(format!("operator {k} is not in the body")))
}

/// Turns the ops `ops16` (kept float by the int8 pass) into 16x8 ops, with the edges the
/// module docs describe. `per_channel`: weights per channel. The new int16 tensors go to
/// `report.tensors`.
pub(super) fn int16_islands(
    w: &mut Working,
    stats: &Stats,
    ops16: &[usize],
    per_channel: bool,
    report: &mut Int8Report,
) -> Result<()> {
    // float tensor written by an int16 op (through its DEQUANTIZE) → the int16 tensor.
    let mut int16_of: HashMap<usize, usize> = HashMap::new();
    let mut params16: HashMap<usize, Params> = HashMap::new();
    // (source tensor, scale bits) → its int16 version (shared by the int16 readers).
    let mut made: HashMap<(usize, u32), usize> = HashMap::new();
    let mut island_deq: Vec<usize> = Vec::new();
    let mut replaced: Vec<usize> = Vec::new();
    let mut front: Vec<Item> = Vec::new();
    for &k in ops16 {
        let name = w.ops[k].op.name();
        let what = || format!("operator {k} ({name})");
        let kd = kind_for(&w.ops[k].op, ACT)
            .filter(|kd| *kd != Kind::ShapeOf)
            .ok_or_else(|| Error::Unsupported(format!("{}: no int16 kernel", what())))?;
        let out_t: Vec<usize> = w.ops[k].output_tensors().collect();
        // The output's parameters first where the inputs depend on them (unified ops).
        let own_out = |w: &Working| -> Result<Params> {
            let o = out_t[0];
            calibrated(w, stats, o).ok_or_else(|| {
                Error::Unsupported(format!(
                    "{}: output '{}' has no calibration range",
                    what(),
                    w.tensors[o].name
                ))
            })
        };
        let unified_out = if kd == Kind::Unified {
            Some(own_out(w)?)
        } else {
            None
        };
        let mut before: Vec<usize> = Vec::new();
        for slot in 0..w.ops[k].inputs.len() {
            let Some(t) = w.ops[k].input(slot) else {
                continue;
            };
            if w.tensors[t].data.is_some() || w.tensors[t].dtype != DType::F32 {
                continue; // constants below; integer operands (shapes, axes) as they are
            }
            let (src, have) = match int16_of.get(&t) {
                Some(&s16) => (s16, Some(params16[&s16])),
                None => (t, None),
            };
            let want = match (unified_out, have) {
                (Some(p), _) => p,
                (None, Some(p)) => p,
                (None, None) => calibrated(w, stats, t).ok_or_else(|| {
                    Error::Unsupported(format!(
                        "{}: input {slot} ('{}') has no calibration range",
                        what(),
                        w.tensors[t].name
                    ))
                })?,
            };
            if have == Some(want) {
                w.ops[k].inputs[slot] = src as i32;
                continue;
            }
            let key = (src, want.scale.to_bits());
            let q = match made.get(&key) {
                Some(&q) => q,
                None => {
                    // float32 → int16 (QUANTIZE), or int16 → int16 (QUANTIZE requantizes).
                    let mut tq = w.tensors[t].clone();
                    tq.dtype = DType::I16;
                    tq.quant = Some(want.quant());
                    let q = w.add_twin(tq, "tfl.quantize".to_string(), src);
                    w.ops.push(new_op(Op::Quantize, src, q));
                    before.push(w.ops.len() - 1);
                    made.insert(key, q);
                    params16.insert(q, want);
                    q
                }
            };
            w.ops[k].inputs[slot] = q as i32;
        }
        // Constants: weights and biases (16x8: int8 weights, int64 bias), other operands
        // on int16 grids.
        if let Kind::Weighted(axis) = kd {
            let axis = per_channel.then_some(axis);
            let r = weighted::quantize_weighted(w, k, axis, &params16, ACT, report, &mut front)?;
            replaced.extend(r);
        } else {
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
                    Kind::Unified => unified_out,
                    Kind::SameScale => w.ops[k]
                        .input(data_slot(&w.ops[k].op))
                        .and_then(|i| params16.get(&i))
                        .copied(),
                    _ => {
                        let (lo, hi) = vals
                            .iter()
                            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
                                (a.min(x), b.max(x))
                            });
                        let (scale, zp, scale64) = ACT.params(lo, hi);
                        Some(Params { scale, zp, scale64 })
                    }
                };
                let Some(p) = p.filter(|_| vals.iter().all(|v| v.is_finite())) else {
                    return Err(Error::Unsupported(format!(
                        "{}: constant input {slot} ('{}') cannot be put on an int16 grid",
                        what(),
                        ct.name
                    )));
                };
                let q: Vec<u8> = vals
                    .iter()
                    .flat_map(|&x| {
                        let v = round_to_grid(x, f64::from(p.scale)) + p.zp as f64;
                        (v.clamp(-32768.0, 32767.0) as i16).to_le_bytes()
                    })
                    .collect();
                let qc = quantized_const(&ct, DType::I16, q, p.quant());
                let base = w.location(c).unwrap_or("tfl.pseudo_qconst").to_string();
                let qc = w.add_twin(qc, base, c);
                w.ops[k].inputs[slot] = qc as i32;
                front.insert(
                    0,
                    Item::Const {
                        tensor: qc,
                        foldable: false,
                    },
                );
                replaced.push(c);
            }
        }
        // 16x8 options, as the whole-model pass sets them.
        match &mut w.ops[k].op {
            Op::Add(o) | Op::Sub(o) => o.pot_scale_int16 = false,
            Op::Conv2D(o) => o.quantized_bias_type = DType::I64,
            Op::TransposeConv(o) => o.quantized_bias_type = DType::I64,
            Op::FullyConnected(o) => o.quantized_bias_type = DType::I64,
            _ => {}
        }
        w.ops[k].options_omitted = false;
        // Outputs: an int16 tensor, DEQUANTIZEd into the float tensor the int8 pass left
        // (its readers are rewired below; the DEQUANTIZE goes when nothing reads it).
        let mut after: Vec<usize> = Vec::new();
        for (i, &o) in out_t.iter().enumerate() {
            let p = match kd {
                Kind::Fixed(scale, zp) => Params {
                    scale,
                    zp,
                    scale64: f64::from(scale),
                },
                Kind::SameScale => w.ops[k]
                    .input(data_slot(&w.ops[k].op))
                    .and_then(|t| params16.get(&t))
                    .copied()
                    .ok_or_else(|| {
                        Error::Unsupported(format!("{}: its data input is not int16", what()))
                    })?,
                Kind::Unified if i == 0 => unified_out.unwrap_or(own_out(w)?),
                _ => calibrated(w, stats, o).ok_or_else(|| {
                    Error::Unsupported(format!(
                        "{}: output '{}' has no calibration range",
                        what(),
                        w.tensors[o].name
                    ))
                })?,
            };
            let mut t16 = w.tensors[o].clone();
            t16.dtype = DType::I16;
            t16.quant = Some(p.quant());
            let base = w.bases[o].clone();
            let o16 = w.add_twin(t16, base, o);
            w.ops[k].outputs[i] = o16 as i32;
            w.ops.push(new_op(Op::Dequantize, o16, o));
            after.push(w.ops.len() - 1);
            island_deq.push(w.ops.len() - 1);
            int16_of.insert(o, o16);
            params16.insert(o16, p);
            let range = stats
                .tensors
                .get(&original(w, o))
                .filter(|s| s.has_range())
                .map(|s| (s.min, s.max));
            report.tensors.push(TensorReport {
                index: o16,
                name: w.bases[o16].clone(),
                range,
                scale: p.scale,
                zero_point: p.zp,
                source: "int16 (16x8 op in an int8 model)".to_string(),
            });
        }
        let pos = position(w, k)?;
        let after_items: Vec<Item> = after.iter().map(|&a| Item::Op(a)).collect();
        w.body.items.splice(pos + 1..pos + 1, after_items);
        let before_items: Vec<Item> = before.iter().map(|&b| Item::Op(b)).collect();
        w.body.items.splice(pos..pos, before_items);
    }
    // int8 readers of an int16 op's result: their QUANTIZE (float32 → int8) now requantizes
    // the int16 tensor (int16 → int8), skipping the float round trip.
    for k in body_ops(w) {
        if !matches!(w.ops[k].op, Op::Quantize) {
            continue;
        }
        let Some(i) = w.ops[k].input(0) else { continue };
        let out_i8 = w.ops[k]
            .outputs
            .first()
            .is_some_and(|&o| o >= 0 && w.tensors[o as usize].dtype == DType::I8);
        if let (Some(&s16), true) = (int16_of.get(&i), out_i8) {
            w.ops[k].inputs[0] = s16 as i32;
        }
    }
    // Drop the DEQUANTIZE ops nothing reads, and the float constants the int16 ops replaced.
    let live: Vec<usize> = body_ops(w);
    let read: HashSet<usize> = live
        .iter()
        .flat_map(|&k| w.ops[k].input_tensors().collect::<Vec<_>>())
        .chain(w.outputs.iter().copied())
        .collect();
    let dead_deq: HashSet<usize> = island_deq
        .into_iter()
        .filter(|&d| {
            w.ops[d]
                .outputs
                .first()
                .is_some_and(|&o| !read.contains(&(o as usize)))
        })
        .collect();
    let read: HashSet<usize> = live
        .iter()
        .filter(|k| !dead_deq.contains(k))
        .flat_map(|&k| w.ops[k].input_tensors().collect::<Vec<_>>())
        .chain(w.outputs.iter().copied())
        .collect();
    w.body.items.retain(|i| match i {
        Item::Op(k) => !dead_deq.contains(k),
        Item::Const { tensor, .. } => !replaced.contains(tensor) || read.contains(tensor),
        _ => true,
    });
    for item in front.into_iter().rev() {
        w.body.items.insert(0, item);
    }
    Ok(())
}

/// Which ops `options.int16_ops` selects (in op order), each checked to have a 16x8 form,
/// and the options of the int8 pass that keeps them float for [`int16_islands`]. Errors:
/// int16 ops asked for outside `int8` mode with float I/O, a name that selects nothing or
/// that `keep_float` also names, an op without an int16 kernel (naming it and why).
pub(super) fn plan(
    w: &Working,
    stats: &Stats,
    options: &super::Int8Options,
) -> Result<(Vec<usize>, super::Int8Options)> {
    use super::IoType;
    if options.activations != Activations::Int8
        || options.integer_only
        || options.input_type != IoType::Float32
        || options.output_type != IoType::Float32
    {
        return Err(Error::Unsupported(format!(
            "int16 ops ({}) are int16 islands in an int8 model: they need mode int8 with \
             float32 inputs and outputs",
            options
                .int16_ops
                .iter()
                .map(KeepFloat::name)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for name in &options.int16_ops {
        if options.keep_float.iter().any(|k| k.name() == name.name()) {
            return Err(Error::Unsupported(format!(
                "'{name}' is asked both to stay float and to run on int16"
            )));
        }
        let one = [name.clone()];
        if !(0..w.ops.len()).any(|k| selected(w, k, &one)) {
            return Err(Error::Data(format!(
                "int16 op '{name}' names no op of the model: give an op's output tensor name \
                 (as `litequant inspect` lists them) or an op type it has (CONV_2D)"
            )));
        }
    }
    let ops16: Vec<usize> = (0..w.ops.len())
        .filter(|&k| selected(w, k, &options.int16_ops))
        .collect();
    // Which ops the whole-model 16x8 pass could quantize (same keep-float list).
    let opts16 = super::Int8Options {
        activations: Activations::Int16,
        int16_ops: Vec::new(),
        ..options.clone()
    };
    let constants: HashSet<usize> = w.body_constants().into_iter().collect();
    let (can16, report16) = super::plan::which_ops(w, stats, &opts16, &constants)?;
    for &k in &ops16 {
        let shape_of = kind_for(&w.ops[k].op, ACT) == Some(Kind::ShapeOf);
        if !can16[k] || shape_of {
            let why = report16
                .float_ops
                .iter()
                .find(|f| f.index == k)
                .map_or_else(
                    || "it has no int16 activations".to_string(),
                    |f| f.reason.clone(),
                );
            return Err(Error::Unsupported(format!(
                "operator {k} ({}) cannot run on int16 activations: {why}",
                w.ops[k].op.name()
            )));
        }
    }
    let mut keep = options.keep_float.clone();
    keep.extend(options.int16_ops.iter().cloned());
    let opts8 = super::Int8Options {
        keep_float: keep,
        int16_ops: Vec::new(),
        ..options.clone()
    };
    Ok((ops16, opts8))
}

/// Whether `op` has a 16x8 form an int8 model can host (an int16 kernel, an activation
/// output: not SHAPE).
pub(super) fn has_int16_form(op: &Op) -> bool {
    kind_for(op, ACT).is_some_and(|k| k != Kind::ShapeOf)
}
