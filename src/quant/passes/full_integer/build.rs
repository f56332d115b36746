//! Steps 3–6 of the full-integer pass: constants materialized (weights, biases, operands),
//! activations made int8, the edge QUANTIZE/DEQUANTIZE ops, and the body laid out as the
//! converter's exporter writes it.

// Operators, their flags and the tensors they name are indexed in parallel while the
// operator table grows: index loops are the clear form here.
#![allow(clippy::needless_range_loop)]

use std::collections::{HashMap, HashSet};

use crate::model::{DType, Op, QuantParams};
use crate::quant::calibrate::Stats;
use crate::quant::weights::{f32_values, round_to_grid, symmetric_int8_rounded, WeightRounding};
use crate::{Error, Result};

use super::super::layout::Item;
use super::super::Working;
use super::params::{data_slot, kind_for, new_op, quantized_const, Activations, Kind, Params};
use super::{order, plan};
use super::{weighted, Int8Options, Int8Report, Int8TensorReport, IoType};

pub(super) fn quantize_subgraph(
    w: &mut Working,
    stats: &Stats,
    options: &Int8Options,
) -> Result<Int8Report> {
    let n_ops = w.ops.len();
    let constants: HashSet<usize> = w.body_constants().into_iter().collect();
    let original_inputs: Vec<Vec<i32>> = w.ops.iter().map(|o| o.inputs.clone()).collect();
    let args = w.body.args.clone();
    let act = options.activations;
    let kind = |op: &Op| kind_for(op, act);
    let (quantized, mut report) = plan::which_ops(w, stats, options, &constants)?;
    let (mut params, source) = plan::activation_plan(w, stats, &quantized, &constants, act);

    // 3. Constants: weights and biases, materialized at the front (each ahead of the last).
    let mut front: Vec<Item> = Vec::new();
    // Constants that take their consumer's parameters, placed right before it.
    let mut before_op: HashMap<usize, Vec<Item>> = HashMap::new();
    let mut replaced_consts: Vec<usize> = Vec::new();
    for k in 0..n_ops {
        if !quantized[k] {
            continue;
        }
        // Step 1 flags only ops with a kind and, for weighted ones, a weight.
        let Some(kd) = kind(&w.ops[k].op) else {
            return Err(Error::Unsupported(format!(
                "operator {k} ({}): no int8 rule",
                w.ops[k].op.name()
            )));
        };
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
                    Kind::SameScale => w.ops[k]
                        .input(data_slot(&w.ops[k].op))
                        .and_then(|i| params.get(&i))
                        .copied(),
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
                        let (scale, zp, scale64) = act.params(lo, hi);
                        Some(Params { scale, zp, scale64 })
                    }
                };
                if matches!(w.ops[k].op, Op::Prelu) && slot == 1 {
                    // PRELU's alpha: symmetric int8 per tensor, like a weight.
                    let shape: Vec<usize> = ct.shape.iter().map(|&d| d.max(0) as usize).collect();
                    let rounding = WeightRounding::Float32Inverse;
                    let q = symmetric_int8_rounded(&vals, &shape, None, rounding).map_err(|e| {
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
                    let qc = w.add_twin(qc, base, c);
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
                let (qmin, qmax) = act.qrange();
                let q: Vec<u8> = vals
                    .iter()
                    .flat_map(|&x| {
                        let v = round_to_grid(x, f64::from(p.scale)) + p.zp as f64;
                        let v = v.clamp(qmin, qmax) as i16;
                        match act {
                            Activations::Int8 => vec![v as i8 as u8],
                            Activations::Int16 => v.to_le_bytes().to_vec(),
                        }
                    })
                    .collect();
                let qc = quantized_const(&ct, act.dtype(), q, p.quant());
                let base = w.location(c).unwrap_or("tfl.pseudo_qconst").to_string();
                let qc = w.add_twin(qc, base, c);
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
        let replaced =
            weighted::quantize_weighted(w, k, axis, &params, act, &mut report, &mut front)?;
        replaced_consts.extend(replaced);
    }

    // 3b. 16x8 options, as TF 2.21's files have them: ADD/SUB on general scales
    //     (`pot_scale_int16 = false`), an int64 bias type on CONV_2D, TRANSPOSE_CONV and
    //     FULLY_CONNECTED (with or without a bias).
    if act == Activations::Int16 {
        for k in 0..n_ops {
            if !quantized[k] {
                continue;
            }
            match &mut w.ops[k].op {
                Op::Add(o) | Op::Sub(o) => o.pot_scale_int16 = false,
                Op::Conv2D(o) => o.quantized_bias_type = DType::I64,
                Op::TransposeConv(o) => o.quantized_bias_type = DType::I64,
                Op::FullyConnected(o) => o.quantized_bias_type = DType::I64,
                _ => continue,
            }
            w.ops[k].options_omitted = false;
        }
    }

    // 4. Activations become int8 (int16) in place (float copies made where float code needs
    //    them).
    for (&t, p) in &params {
        let tensor = &mut w.tensors[t];
        tensor.dtype = act.dtype();
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
        // The float tensor keeps the index/name role of the original (argument or float
        // producer's output); the int8 one is new, named after the op (`tfl.quantize`):
        // the converter makes it from the tensor's statistics, a value without a name
        // (parameters carried through a float same-scale op: the tensor's own name).
        let q = w.tensors[t].clone();
        w.tensors[t] = f;
        let qbase = if !is_arg && source.get(&t) == Some(&"same scale as the input") {
            w.bases[t].clone()
        } else {
            "tfl.quantize".to_string()
        };
        let qt = w.add_twin(q, qbase, t);
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
            let qt = w.add_twin(q, base, t);
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
    // An integer input type asked for a float input that only float ops read (kept float,
    // or without a quantized kernel): it has no parameters, and leaving it float32 would
    // silently not be what was asked.
    if options.input_type != IoType::Float32 {
        if let Some(&t) = args
            .iter()
            .find(|&&t| !params.contains_key(&t) && w.tensors[t].dtype == DType::F32)
        {
            return Err(Error::Unsupported(format!(
                "model input tensor {t} ('{}') is read only by ops that stay float, so it has \
                 no {} parameters: input type {} cannot apply to it; quantize the op that \
                 reads it (do not keep it float) or keep float32 inputs",
                w.tensors[t].name,
                format!("{:?}", options.input_type).to_lowercase(),
                format!("{:?}", options.input_type).to_lowercase()
            )));
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
            if w.tensors[t].dtype == DType::F32 {
                // A float producer's output that also has an int8 twin (QUANTIZE) for its
                // quantized readers: float readers read it as it is.
                continue;
            }
            let d = match deq.get(&t) {
                Some(&d) => d,
                None => {
                    let mut f = w.tensors[t].clone();
                    f.dtype = DType::F32;
                    f.quant = Some(QuantParams::default());
                    // Named after the op (`tfl.dequantize`) when the parameters come from
                    // the tensor's own statistics; a result that carries its input's
                    // parameters (same-scale ops) is dequantized under its own name, as
                    // the converter's driver makes that pair at the op's location.
                    let base = if source.get(&t) == Some(&"same scale as the input") {
                        w.bases[t].clone()
                    } else {
                        "tfl.dequantize".to_string()
                    };
                    let d = w.add_twin(f, base, t);
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
            let rt = w.add_twin(r, base, t);
            w.ops.push(new_op(Op::Quantize, t, rt));
            let rk = w.ops.len() - 1;
            match producer.get(&t) {
                Some(&p) => new_items_after.entry(p).or_default().push(rk),
                None => new_items_before.entry(k).or_default().push(rk),
            }
            w.ops[k].inputs[slot] = rt as i32;
        }
    }
    // 5e. Outputs (see `order::output_order`, `order::multi_result_locations`).
    let out_order = order::output_order(w, &producer);
    let fused_loc = if matches!(options.output_type, IoType::Int8 | IoType::Int16) {
        HashMap::new()
    } else {
        order::multi_result_locations(w, &quantized)
    };
    for o in out_order {
        let t = w.outputs[o];
        if !params.contains_key(&t) || float_twin.contains_key(&t) {
            continue;
        }
        // An output that is also a float model input (5a kept the input float, its int8
        // version is the twin): a float output is the input itself, an int8 one the twin.
        // Without this, a DEQUANTIZE would read the float input, which LiteRT refuses at
        // prepare (dequantize.cc: is_supported_type).
        if w.tensors[t].dtype == DType::F32 {
            let twin = float_twin.iter().find(|&(_, &f)| f == t).map(|(&q, _)| q);
            match (options.output_type, twin) {
                (IoType::Float32, _) => {}
                (IoType::Int8 | IoType::Int16, Some(q)) => {
                    w.outputs[o] = q;
                    reserve.push(q);
                }
                _ => {
                    return Err(Error::Unsupported(format!(
                        "output {o} is model input tensor {t} ('{}'), read as float32: \
                         with output type {} it would need a second QUANTIZE of the \
                         input; give the same input and output types",
                        w.tensors[t].name,
                        format!("{:?}", options.output_type).to_lowercase()
                    )))
                }
            }
            continue;
        }
        match options.output_type {
            IoType::Int8 | IoType::Int16 => reserve.push(t),
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
                        let d = w.add_twin(f, base, t);
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
                if let Some(loc) = fused_loc.get(&t) {
                    w.bases[t] = loc.clone();
                }
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
    // Input QUANTIZE ops: those of inputs whose parameters came back from a consumer
    // (CONCATENATION, PACK, MAXIMUM, MINIMUM) first, in the order of their first use; then
    // those with their own calibrated parameters, in input order (a PACK of a model input
    // and a LOGISTIC or RELU of another shows both kinds).
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
            (!propagated, key, a)
        })
        .collect();
    keyed.sort();
    // The propagated ones open the body, ahead of the materialized constants (a PACK of a
    // model input beside a MUL by a constant: `tfl.quantize` comes before the constant).
    let propagated_ops: Vec<usize> = keyed.iter().filter(|k| !k.0).map(|&(_, _, a)| a).collect();
    let arg_ops: Vec<usize> = keyed.iter().filter(|k| k.0).map(|&(_, _, a)| a).collect();
    // A quantized FULLY_CONNECTED without bias: the hidden no-value constant is not
    // materialized before its weight (the weight keeps the plain name).
    let float_fc_without_bias = (0..n_ops).any(|k| {
        !quantized[k]
            && matches!(w.ops[k].op, Op::FullyConnected(_))
            && w.ops[k].inputs.get(2).is_some_and(|&b| b < 0)
    });
    // A TRANSPOSE_CONV without bias keeps it, quantized or not (the int8 file names the
    // op's output `X2` after the reserved `X` and the no-value's `X1`).
    let tconv_without_bias = (0..n_ops)
        .any(|k| matches!(w.ops[k].op, Op::TransposeConv(_)) && w.ops[k].input(3).is_none());
    if !float_fc_without_bias && !tconv_without_bias {
        w.body.items.retain(|i| !matches!(i, Item::NoValue { .. }));
    }

    // 6. The body: quantized constants in front, then the rest in order with the new ops.
    // The input QUANTIZE ops open the body (right after the materialized constants); the
    // constant folder then moves the remaining foldable constants in front of them.
    let mut items: Vec<Item> = propagated_ops.iter().map(|&a| Item::Op(a)).collect();
    items.extend(front);
    items.extend(arg_ops.iter().map(|&a| Item::Op(a)));
    let old = std::mem::take(&mut w.body.items);
    let mut args_done = true;
    let mut dropped: HashSet<usize> = HashSet::new();
    for item in old {
        match item {
            Item::Const { tensor, .. } if replaced_consts.contains(&tensor) => {
                // Dropped unless a float op still reads it.
                let still_read = (0..n_ops).any(|k| w.ops[k].input_tensors().any(|i| i == tensor))
                    || w.outputs.contains(&tensor);
                if still_read {
                    items.push(item);
                } else {
                    dropped.insert(tensor);
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
    w.body.items = order::hoist_foldable(w, items, &original_inputs, &constants, &dropped);

    // The report: every int8 activation (working indices; the caller maps them).
    for (&t, p) in &params {
        if w.tensors[t].dtype != act.dtype() {
            continue; // a float input whose int8 twin is reported
        }
        let observed = float_twin.get(&t).copied().unwrap_or(t);
        report.tensors.push(Int8TensorReport {
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
