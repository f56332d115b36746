//! The first two steps of the full-integer pass: which operators can be quantized (and why
//! not), then the parameters of every activation a quantized operator reads or writes.

// Operators and their flags are indexed in parallel: index loops are the clear form here.
#![allow(clippy::needless_range_loop)]

use std::collections::{HashMap, HashSet};

use crate::model::DType;
use crate::quant::calibrate::Stats;
use crate::quant::weights::f32_values;
use crate::{Error, Result};

use super::super::Working;
use super::params::{data_slot, kind_for, slots, Activations, Kind, Params};
use super::{FloatOp, Int8Options, Int8Report};

/// Step 1: a flag per operator (quantized or not) and the report with the operators left
/// float; in `int8-only` mode, one error naming every such operator.
pub(super) fn which_ops(
    w: &Working,
    stats: &Stats,
    options: &Int8Options,
    constants: &HashSet<usize>,
) -> Result<(Vec<bool>, Int8Report)> {
    let n_ops = w.ops.len();
    let kind = |op: &crate::model::Op| kind_for(op, options.activations);
    // 1. Which ops can be quantized.
    let mut report = Int8Report::default();
    let mut quantized = vec![false; n_ops];
    for k in 0..n_ops {
        let op = &w.ops[k];
        let op_kind = op.op.kind();
        let name = op_kind.name();
        let why: Option<String> = (|| {
            if let Some(t) = op.output_tensors().find(|&t| {
                options
                    .keep_float
                    .iter()
                    .any(|k| k.matches_tensor(&w.tensors[t].name))
            }) {
                return Some(format!("kept float on request ('{}')", w.tensors[t].name));
            }
            if options
                .keep_float
                .iter()
                .any(|k| k.matches_op_type(&op_kind))
            {
                return Some(format!("kept float on request (every {name})"));
            }
            if crate::custom::custom_name(op).is_some() {
                // Its kernel is the application's, on float32 (crate::custom).
                return Some(format!("custom op {name} stays float"));
            }
            let Some(kd) = kind(&op.op) else {
                if matches!(
                    op.op,
                    crate::model::Op::Cast { .. } | crate::model::Op::ZerosLike
                ) {
                    // The converter never quantizes CAST: it stays float between
                    // DEQUANTIZE and QUANTIZE (integer-only mode included).
                    return Some(format!("{name} stays float, as the TF converter keeps it"));
                }
                if matches!(op.op, crate::model::Op::Neg) {
                    // TFLite has an int8 NEG, but it ignores the quantization parameters.
                    return Some(format!("{name} stays float, as the TF converter keeps it"));
                }
                return Some(match options.activations {
                    Activations::Int8 => {
                        format!("{name} has no int8 kernel in litequant's quantizer")
                    }
                    Activations::Int16 => format!(
                        "{name} has no 16x8 rule in litequant's quantizer (see docs/ops.md, 16x8)"
                    ),
                });
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
                    let sl = slots(&op.op);
                    if weighted && (slot == sl.weight || slot == sl.bias) {
                        let vals = f32_values(tensor.data.as_deref().unwrap_or_default());
                        if vals.iter().any(|v| !v.is_finite()) {
                            return Some(format!(
                                "constant input {slot} ('{}') is not finite",
                                tensor.name
                            ));
                        }
                        continue;
                    }
                    if kd == Kind::SameScale && slot == data_slot(&op.op) {
                        return Some(format!(
                            "its data input {slot} ('{}') is a constant",
                            tensor.name
                        ));
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
            for t in op.output_tensors().filter(|_| kd != Kind::ShapeOf) {
                let tensor = &w.tensors[t];
                if tensor.dtype != DType::F32 {
                    return Some(format!(
                        "output '{}' is {}, not float32",
                        tensor.name, tensor.dtype
                    ));
                }
                if kd == Kind::ShapeOf {
                    continue;
                }
                if !matches!(kd, Kind::Fixed(..) | Kind::SameScale)
                    && !stats.tensors.get(&t).is_some_and(|s| s.has_range())
                {
                    return Some(format!("output '{}' has no calibration range", tensor.name));
                }
            }
            if let Kind::Weighted(_) = kd {
                let wt = op.input(slots(&op.op).weight)?;
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
                        op: op_kind,
                        reason: why,
                    });
                }
            }
        }
    }
    if options.integer_only && !report.float_ops.is_empty() {
        let list: Vec<String> = report
            .float_ops
            .iter()
            .map(|f| format!("operator {} ({}): {}", f.index, f.op, f.reason))
            .collect();
        let mode = match options.activations {
            Activations::Int8 => "int8-only",
            Activations::Int16 => "int16 I/O (16x8 without float fallback)",
        };
        return Err(Error::Unsupported(format!(
            "{mode} quantization: {} operator(s) cannot be quantized:\n  {}",
            list.len(),
            list.join("\n  ")
        )));
    }

    Ok((quantized, report))
}

/// Step 2: parameters of every activation a quantized op reads or writes, in op order, and
/// where each came from (for the report).
pub(super) fn activation_plan(
    w: &Working,
    stats: &Stats,
    quantized: &[bool],
    constants: &HashSet<usize>,
    act: Activations,
) -> (HashMap<usize, Params>, HashMap<usize, &'static str>) {
    let kind = |op: &crate::model::Op| kind_for(op, act);
    let n_ops = w.ops.len();
    let is_float_act = |w: &Working, t: usize| {
        w.tensors[t].dtype == DType::F32 && !constants.contains(&t) && w.tensors[t].data.is_none()
    };
    // 2. Parameters of every activation a quantized op reads or writes, in op order.
    let mut params: HashMap<usize, Params> = HashMap::new();
    let mut source: HashMap<usize, &'static str> = HashMap::new();
    let calibrated = |t: usize| -> Option<Params> {
        let s = stats.tensors.get(&t).filter(|s| s.has_range())?;
        let (scale, zp, scale64) = act.params(s.min, s.max);
        Some(Params { scale, zp, scale64 })
    };
    let producer: HashMap<usize, usize> = (0..n_ops)
        .flat_map(|k| w.ops[k].output_tensors().map(move |t| (t, k)))
        .collect();
    // A same-scale op kept float still carries its input's parameters to its output (the
    // converter's driver propagates them through it; its QUANTIZE is named after the op):
    // those of the first tensor up the chain of float same-scale ops that has parameters,
    // else the calibrated range of the chain's input.
    let carried = |params: &HashMap<usize, Params>, mut t: usize| -> Option<Params> {
        let mut hops = 0;
        while let Some(&p) = producer.get(&t) {
            if quantized[p] || kind(&w.ops[p].op) != Some(Kind::SameScale) || hops > n_ops {
                break;
            }
            t = w.ops[p].input(data_slot(&w.ops[p].op))?;
            if let Some(q) = params.get(&t) {
                return Some(*q);
            }
            hops += 1;
        }
        if hops == 0 {
            return None;
        }
        calibrated(t)
    };
    for k in 0..n_ops {
        if !quantized[k] {
            continue;
        }
        let op = w.ops[k].clone();
        // Step 1 flags only ops with a kind (step 3 reports one without as an error).
        let Some(kd) = kind(&op.op) else {
            continue;
        };
        // Inputs first (graph inputs and float producers): their own ranges, or those a
        // float same-scale op carries.
        for t in op.input_tensors() {
            if is_float_act(w, t) && !params.contains_key(&t) {
                if let Some(p) = carried(&params, t) {
                    params.insert(t, p);
                    source.insert(t, "same scale as the input");
                } else if let Some(p) = calibrated(t) {
                    params.insert(t, p);
                    source.insert(t, "calibrated");
                }
            }
        }
        for t in op.output_tensors() {
            let (p, src) = match kd {
                Kind::ShapeOf => continue,
                Kind::Fixed(scale, zp) => (
                    Params {
                        scale,
                        zp,
                        scale64: f64::from(scale),
                    },
                    "fixed by the op",
                ),
                Kind::SameScale => match op.input(data_slot(&op.op)).and_then(|i| params.get(&i)) {
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
    //     requantized below. The parameters go on up through quantized same-scale producers
    //     (pooling, PAD, RESHAPE, ...) to the op that computes the values, as the converter
    //     does (a DenseNet's concatenations reach back through MAX_POOL_2D, PAD and
    //     AVERAGE_POOL_2D to the convolutions: no requantizing QUANTIZE in between). Same-scale
    //     ops downstream of a changed tensor follow.
    let same_scale_input = |t: usize| -> Option<usize> {
        let &p = producer.get(&t)?;
        if quantized[p] && kind(&w.ops[p].op) == Some(Kind::SameScale) {
            w.ops[p].input(data_slot(&w.ops[p].op))
        } else {
            None
        }
    };
    // In 16x8 mode TF 2.21's quantizer does not unify backwards: each operand keeps its own
    // parameters and is requantized to the output's (step 5d), as the 16x8 fixtures show.
    for k in (0..n_ops).rev() {
        if act == Activations::Int16 {
            break;
        }
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
                let mut up = t;
                for _ in 0..n_ops {
                    let Some(i) = same_scale_input(up) else {
                        break;
                    };
                    if !params.contains_key(&i) || source.get(&i) == Some(&"fixed by the op") {
                        break;
                    }
                    params.insert(i, out_p);
                    source.insert(i, "same scale as its consumer");
                    up = i;
                }
            }
        }
    }
    for k in 0..n_ops {
        if quantized[k] && kind(&w.ops[k].op) == Some(Kind::SameScale) {
            if let Some(p) = w.ops[k]
                .input(data_slot(&w.ops[k].op))
                .and_then(|i| params.get(&i))
                .copied()
            {
                for t in w.ops[k].output_tensors().collect::<Vec<_>>() {
                    params.insert(t, p);
                }
            }
        }
    }
    (params, source)
}
