//! The ranking of the target search: the float model's ops by the sensitivity the
//! per-layer comparison of the model as quantized shows.

use crate::eval::EvalReport;
use crate::model::{Model, OpKind};
use crate::quant::api::{QuantizeOptions, Report};

/// A ranked candidate: float-model operator index, its keep-float name, rmse/scale.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub index: usize,
    pub op: OpKind,
    pub tensor: String,
    pub rmse_over_scale: f64,
}

/// The float model's ops that may move, ranked by the per-layer comparison of the model as
/// quantized: RMSE / scale of their (first) output, highest first (an output the quantized
/// model renames — an int8 result before an output's DEQUANTIZE — is compared under the
/// float name and divided by its int8 twin's scale); then the movable ops the comparison
/// does not see, in model order, so that the whole list moved is the all-float fallback.
/// With an integer model input (output) type, the ops that read a model input (write a
/// model output) stay: moving them would change the model's interface.
pub(super) fn rank(
    model: &Model,
    eval: &EvalReport,
    report: &Report,
    opts: &QuantizeOptions,
) -> Vec<Candidate> {
    use crate::quant::IoType;
    let sg = model.main();
    let n_ops = sg.operators.len();
    let movable: Vec<bool> = sg
        .operators
        .iter()
        .map(|op| {
            let reads_input = op.input_tensors().any(|t| sg.inputs.contains(&t));
            let writes_output = op.output_tensors().any(|t| sg.outputs.contains(&t));
            !(opts.input_type != IoType::Float32 && reads_input)
                && !(opts.output_type != IoType::Float32 && writes_output)
        })
        .collect();
    let mut twin_scale: std::collections::HashMap<usize, f32> = Default::default();
    for t in &report.tensors {
        if let (0, false, Some(f), Some(&s)) =
            (t.subgraph, t.constant, t.float_tensor, t.scale.first())
        {
            if s > 0.0 {
                twin_scale.entry(f).or_insert(s);
            }
        }
    }
    let first_output = |k: usize| {
        sg.operators[k]
            .output_tensors()
            .next()
            .and_then(|t| sg.tensors.get(t))
            .map(|t| t.name.clone())
            .filter(|n| !n.is_empty())
    };
    let by_name: std::collections::HashMap<String, usize> = (0..n_ops)
        .filter_map(|k| first_output(k).map(|n| (n, k)))
        .collect();
    let mut seen = vec![false; n_ops];
    let mut ranked: Vec<Candidate> = Vec::new();
    for l in &eval.layers {
        let r = l
            .rmse_over_scale
            .or_else(|| twin_scale.get(&l.float_tensor).map(|&s| l.rmse / s as f64));
        let (Some(r), Some(&k)) = (r, by_name.get(&l.name)) else {
            continue;
        };
        if seen[k] || !movable[k] {
            continue;
        }
        seen[k] = true;
        ranked.push(Candidate {
            index: k,
            op: sg.operators[k].op.kind(),
            tensor: l.name.clone(),
            rmse_over_scale: if r.is_nan() { 0.0 } else { r },
        });
    }
    ranked.sort_by(|a, b| b.rmse_over_scale.total_cmp(&a.rmse_over_scale));
    for k in 0..n_ops {
        if let (false, true, Some(name)) = (seen[k], movable[k], first_output(k)) {
            ranked.push(Candidate {
                index: k,
                op: sg.operators[k].op.kind(),
                tensor: name,
                rmse_over_scale: 0.0,
            });
        }
    }
    ranked
}
