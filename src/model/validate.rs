//! Model invariants: every index in range, shapes consistent with data, operators in an order
//! where each input exists before it is read, no subgraph calling itself.
//!
//! Each rule here is a refusal because LiteRT refuses the same file (the comment names the
//! check it mirrors) or because accepting it would make litequant compute something wrong.
//! What LiteRT tolerates is a warning instead ([`super::lint`]); docs/reading.md lists both.

use super::{code, Model, Op, Subgraph, Tensor, SCHEMA_VERSION};
use crate::tflite::fb;
use crate::{Error, Result};

fn invalid(msg: String) -> Error {
    Error::InvalidModel(msg)
}

pub(super) fn validate(model: &Model) -> Result<()> {
    // LiteRT: "Model provided is schema version %d not equal to supported version"
    // (InterpreterBuilder::operator(), core/interpreter_builder.cc).
    if model.version != SCHEMA_VERSION {
        return Err(invalid(format!(
            "schema version {} is not supported (litequant reads version {SCHEMA_VERSION})",
            model.version
        )));
    }
    // LiteRT: "No subgraph in the model." (InterpreterBuilder::operator()).
    if model.subgraphs.is_empty() {
        return Err(invalid("the model has no subgraphs".into()));
    }
    for code in &model.unused_operator_codes {
        check_operator_code(code.builtin_code, code.custom_code.as_deref())
            .map_err(|m| invalid(format!("an operator code no operator uses: {m}")))?;
    }
    for (si, sg) in model.subgraphs.iter().enumerate() {
        for (ti, t) in sg.tensors.iter().enumerate() {
            check_tensor(t)
                .map_err(|m| invalid(format!("subgraph {si}, tensor {ti} ('{}'): {m}", t.name)))?;
        }
        check_graph(si, sg)?;
    }
    check_subgraph_calls(model)
}

/// Rules LiteRT enforces when a model is prepared or run rather than when it is read, so
/// `inspect` still reads such a file (and warns, [`super::lint`]) while the engines refuse
/// to prepare it and the quantizer never writes it:
/// - a subgraph input holding constant data: LiteRT maps buffer data read-only
///   (`Subgraph::SetTensorParametersReadOnly`, kTfLiteMmapRo in core/subgraph.cc), and
///   setting the input writes into the file's mapping: LiteRT 2.3.0 dies of SIGSEGV
///   (tools/make_hostile.py, case `constant_input`).
/// - a tensor with a zero dimension whose other dimensions multiply past 2^63: it holds no
///   elements (so reading accepts it, as `Subgraph::BytesRequired` does), but the kernels'
///   sizes of its slices (outer, inner, strides) overflow — int overflow in LiteRT's kernels,
///   a panic in litequant's debug builds (a fuzz find).
pub(super) fn check_prepare(model: &Model) -> Result<()> {
    for (si, sg) in model.subgraphs.iter().enumerate() {
        for (ti, t) in sg.tensors.iter().enumerate() {
            let non_zero = t
                .shape
                .iter()
                .filter(|&&d| d != 0)
                .try_fold(1i64, |a, &d| a.checked_mul(i64::from(d)));
            if non_zero.is_none() {
                return Err(invalid(format!(
                    "subgraph {si}, tensor {ti} ('{}'): shape {:?} has a zero dimension, and \
                     its other dimensions multiply past 2^63: the kernels' slice sizes overflow",
                    t.name, t.shape
                )));
            }
        }
        for (k, &t) in sg.inputs.iter().enumerate() {
            if let Some(tensor) = sg.tensors.get(t).filter(|x| x.is_constant()) {
                return Err(invalid(format!(
                    "subgraph {si}: input {k} is tensor {t} ('{}'), which holds constant data: \
                     LiteRT maps constant data read-only and crashes when the input is set \
                     (kTfLiteMmapRo); a model input cannot be a constant",
                    tensor.name
                )));
            }
        }
    }
    Ok(())
}

/// LiteRT resolves every entry of the operator-code table, used or not
/// (InterpreterBuilder::BuildLocalIndexToRegistrationMapping): a CUSTOM code without a
/// custom_code is "Operator with CUSTOM builtin_code has no custom_code", a negative code
/// has no registration.
fn check_operator_code(code: i32, custom_code: Option<&str>) -> std::result::Result<(), String> {
    if code < 0 {
        return Err(format!("builtin code {code} is negative"));
    }
    if code == code::CUSTOM && custom_code.is_none() {
        return Err("a CUSTOM op without a custom_code".into());
    }
    Ok(())
}

fn check_tensor(t: &Tensor) -> std::result::Result<(), String> {
    // A stored shape has no unknown dimensions (-1 lives in shape_signature); LiteRT's byte
    // count of a negative dimension overflows (Subgraph::BytesRequired, core/subgraph.cc),
    // and litequant would have no size to compute with.
    if let Some(&d) = t.shape.iter().find(|&&d| d < 0) {
        return Err(format!("shape {:?} has a negative dimension {d}", t.shape));
    }
    // LiteRT: "BytesRequired number of elements overflowed" (Subgraph::BytesRequired).
    let n = t
        .num_elements()
        .ok_or_else(|| format!("shape {:?} has more elements than can be counted", t.shape))?;
    // LiteRT: a constant's bytes must be what its type and shape need
    // (Subgraph::SetTensorParametersReadOnly: TF_LITE_ENSURE_EQ(required_bytes, bytes)).
    if let (Some(data), None) = (&t.data, &t.sparsity) {
        if let Some(want) = t.dtype.storage_bytes(n) {
            if data.len() as u64 != want {
                return Err(format!(
                    "holds {} bytes of data, but shape {:?} of {} needs {want}",
                    data.len(),
                    t.shape,
                    t.dtype
                ));
            }
        }
    }
    // LiteRT: InterpreterBuilder::ParseQuantization ("QuantizationParam has %d zero_point
    // values and %d scale values", "num_scales must be 1 for per-layer quantization, or %d
    // for per-axis", "quantized_dimension must be in range").
    if let Some(q) = &t.quant {
        let ns = q.scale.len();
        if !q.zero_point.is_empty() && q.zero_point.len() != ns {
            return Err(format!(
                "quantization has {ns} scales but {} zero points",
                q.zero_point.len()
            ));
        }
        if ns > 1 {
            let axis = q.quantized_dimension;
            let dim = usize::try_from(axis).ok().and_then(|a| t.shape.get(a));
            match dim {
                Some(&d) if d as usize == ns => {}
                Some(&d) => {
                    return Err(format!(
                        "per-axis quantization has {ns} scales, but dimension {axis} of shape {:?} is {d}",
                        t.shape
                    ))
                }
                None => {
                    return Err(format!(
                        "per-axis quantized_dimension {axis} is outside shape {:?}",
                        t.shape
                    ))
                }
            }
        }
    }
    Ok(())
}

fn check_graph(si: usize, sg: &Subgraph) -> Result<()> {
    let nt = sg.tensors.len();
    // `what` names the reference only for the message: formatting it eagerly for every
    // index would cost (indices x custom-code length), quadratic in the file.
    let range = |what: &dyn Fn() -> String, t: i64| -> Result<usize> {
        usize::try_from(t).ok().filter(|&t| t < nt).ok_or_else(|| {
            invalid(format!(
                "subgraph {si}: {} is tensor {t}, but the subgraph has {nt} tensors",
                what()
            ))
        })
    };
    // LiteRT: "Invalid tensor index %d in %s" (Subgraph::CheckTensorIndices, for the
    // subgraph's inputs and outputs and every node's inputs, outputs and intermediates).
    for (k, &t) in sg.inputs.iter().enumerate() {
        range(&|| format!("input {k}"), t as i64)?;
    }
    for (k, &t) in sg.outputs.iter().enumerate() {
        range(&|| format!("output {k}"), t as i64)?;
    }
    // Tensors available before any operator runs.
    const UNSET: usize = usize::MAX;
    let mut producer = vec![UNSET; nt];
    let mut is_input = vec![false; nt];
    for &t in &sg.inputs {
        is_input[t] = true;
    }
    // First pass: who writes what (for the cycle message).
    for (oi, op) in sg.operators.iter().enumerate() {
        let name = op.op.name();
        let what = |k: usize, kind: &str| format!("operator {oi} ({name}) {kind} {k}");
        if let Op::Other(o) = &op.op {
            check_operator_code(o.code, o.custom_code.as_deref())
                .map_err(|m| invalid(format!("subgraph {si}, operator {oi}: {m}")))?;
        }
        for (k, &t) in op.inputs.iter().enumerate() {
            if t != super::OPTIONAL {
                range(&|| what(k, "input"), t as i64)?;
            }
        }
        for (k, &t) in op.intermediates.iter().enumerate() {
            range(&|| what(k, "intermediate"), t as i64)?;
        }
        for (k, &t) in op.outputs.iter().enumerate() {
            let t = range(&|| what(k, "output"), t as i64)?;
            let tensor = &sg.tensors[t];
            // Refused as wrong to compute: one tensor, one value. With two writers the
            // calibration statistics, the liveness plans and the quantizer's rewrites
            // would each see a different tensor.
            if producer[t] != UNSET {
                return Err(invalid(format!(
                    "subgraph {si}: tensor {t} ('{}') is written by operator {} and again by operator {oi} ({name})",
                    tensor.name, producer[t]
                )));
            }
            // Refused as wrong to compute: the value the graph reads would depend on the
            // engine (LiteRT maps constants read-only, so a kernel writing one crashes).
            if is_input[t] || tensor.is_constant() {
                let kind = if is_input[t] {
                    "a subgraph input"
                } else {
                    "a constant"
                };
                return Err(invalid(format!(
                    "subgraph {si}: operator {oi} ({name}) writes tensor {t} ('{}'), which is {kind}",
                    tensor.name
                )));
            }
            producer[t] = oi;
        }
    }
    let available_at_start = |t: usize| {
        is_input[t]
            || sg.tensors[t].is_constant()
            || sg.tensors[t].is_variable
            || sg.tensors[t].num_elements() == Some(0)
    };
    // Refused as wrong to compute: LiteRT runs operators in file order and would read an
    // unwritten (uninitialised) tensor; there is no right value to compute with.
    for (oi, op) in sg.operators.iter().enumerate() {
        for t in op.input_tensors() {
            if available_at_start(t) {
                continue;
            }
            match producer[t] {
                p if p < oi => {}
                UNSET => {
                    return Err(invalid(format!(
                        "subgraph {si}: operator {oi} ({}) reads tensor {t} ('{}'), which no operator writes and which is not an input, a constant or a variable",
                        op.op.name(), sg.tensors[t].name
                    )))
                }
                p => {
                    return Err(invalid(format!(
                        "subgraph {si}: operator {oi} ({}) reads tensor {t} ('{}') before operator {p} ({}) writes it (a cycle or operators out of order)",
                        op.op.name(), sg.tensors[t].name, sg.operators[p].op.name()
                    )))
                }
            }
        }
    }
    for &t in &sg.outputs {
        if producer[t] == UNSET && !available_at_start(t) {
            return Err(invalid(format!(
                "subgraph {si}: output tensor {t} ('{}') is never written",
                sg.tensors[t].name
            )));
        }
    }
    Ok(())
}

/// Subgraph indices an operator's options refer to (control flow, StableHLO regions).
pub(crate) fn called_subgraphs(op: &Op) -> Vec<i32> {
    let Op::Other(o) = op else { return Vec::new() };
    use fb::BuiltinOptions2T as B2;
    use fb::BuiltinOptionsT as B;
    let mut v = match &o.options.builtin {
        B::WhileOptions(w) => vec![w.cond_subgraph_index, w.body_subgraph_index],
        B::IfOptions(w) => vec![w.then_subgraph_index, w.else_subgraph_index],
        B::CallOnceOptions(w) => vec![w.init_subgraph_index],
        B::CallOptions(w) => vec![w.subgraph as i32],
        _ => Vec::new(),
    };
    match &o.options.builtin2 {
        B2::StablehloWhileOptions(w) => v.extend([w.cond_subgraph_index, w.body_subgraph_index]),
        B2::StablehloReduceOptions(w) => v.push(w.body_subgraph_index),
        B2::StablehloReduceWindowOptions(w) => v.push(w.body_subgraph_index),
        B2::StablehloScatterOptions(w) => v.push(w.update_computation_subgraph_index),
        B2::StablehloSortOptions(w) => v.push(w.comparator_subgraph_index),
        B2::StableHLOCompositeOptions(w) => v.push(w.decomposition_subgraph_index),
        B2::StablehloCaseOptions(w) => v.extend(w.branch_subgraph_indices.iter().flatten()),
        _ => {}
    }
    v
}

/// LiteRT: the control-flow kernels refuse a subgraph index past the end at prepare
/// (kernels/while.cc, if.cc, call_once.cc: `TF_LITE_ENSURE(context, index <
/// subgraphs->size())`); a recursive call would prepare forever (a stack overflow).
fn check_subgraph_calls(model: &Model) -> Result<()> {
    let n = model.subgraphs.len();
    let mut edges = vec![Vec::new(); n];
    for (si, sg) in model.subgraphs.iter().enumerate() {
        for (oi, op) in sg.operators.iter().enumerate() {
            for callee in called_subgraphs(&op.op) {
                let c = usize::try_from(callee).ok().filter(|&c| c < n).ok_or_else(|| {
                    invalid(format!(
                        "subgraph {si}, operator {oi} ({}) refers to subgraph {callee}, but the model has {n} subgraphs",
                        op.op.name()
                    ))
                })?;
                edges[si].push((c, oi));
            }
        }
    }
    // Iterative DFS with colours: a back edge is a recursive call.
    let mut colour = vec![0u8; n];
    for start in 0..n {
        if colour[start] != 0 {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        colour[start] = 1;
        while let Some(&mut (s, ref mut next)) = stack.last_mut() {
            if let Some(&(c, oi)) = edges[s].get(*next) {
                *next += 1;
                match colour[c] {
                    0 => {
                        colour[c] = 1;
                        stack.push((c, 0));
                    }
                    1 => {
                        return Err(invalid(format!(
                            "subgraph {s}, operator {oi} calls subgraph {c}, which is already on the call path (recursive subgraphs)"
                        )))
                    }
                    _ => {}
                }
            } else {
                colour[s] = 2;
                stack.pop();
            }
        }
    }
    Ok(())
}
