//! Step 3 of the full-integer pass for a weighted op (CONV_2D, DEPTHWISE_CONV_2D,
//! FULLY_CONNECTED, TRANSPOSE_CONV, ...): its float weights become symmetric int8 (per
//! channel on the op's axis, or per tensor) after the converter's bias fit, and its float
//! bias int32 (int64 in 16x8 mode) on the grid `s_in · s_w[c]`; both are materialized at the
//! front of the body.

use std::collections::HashMap;

use crate::model::{DType, QuantParams};
use crate::quant::weights::{
    f32_values, round_with_inverse, symmetric_int8_rounded, WeightRounding,
};
use crate::{Error, Result};

use super::super::layout::Item;
use super::super::Working;
use super::params::{quantized_const, slots, Activations, Params};
use super::{bias_fit, Int8Report};

/// Quantizes operator `k`'s weights and bias in place (the op now reads their int8/int32
/// twins, each inserted at the front of `front`), records a bias fit in `report`, and
/// returns the float constants it replaced. `axis`: the weights' channel axis when per
/// channel; `params`: the activations' parameters (the op's input must have some).
pub(super) fn quantize_weighted(
    w: &mut Working,
    k: usize,
    axis: Option<usize>,
    params: &HashMap<usize, Params>,
    act: Activations,
    report: &mut Int8Report,
    front: &mut Vec<Item>,
) -> Result<Vec<usize>> {
    let sl = slots(&w.ops[k].op);
    let Some(wt) = w.ops[k].input(sl.weight) else {
        return Err(Error::InvalidModel(format!(
            "operator {k} ({}): no weight input",
            w.ops[k].op.name()
        )));
    };
    let float = w.tensors[wt].clone();
    let shape: Vec<usize> = float.shape.iter().map(|&d| d.max(0) as usize).collect();
    let values = f32_values(float.data.as_deref().unwrap_or_default());
    let mut q = symmetric_int8_rounded(&values, &shape, axis, WeightRounding::Float32Inverse)
        .map_err(|e| Error::InvalidModel(format!("tensor {wt} ('{}'): {e}", float.name)))?;
    let in_p = w.ops[k]
        .input(sl.input)
        .and_then(|i| params.get(&i))
        .copied()
        .ok_or_else(|| Error::InvalidModel(format!("operator {k}: input without parameters")))?;
    let bias = w.ops[k].input(sl.bias).map(|bt| {
        let values = f32_values(w.tensors[bt].data.as_deref().unwrap_or_default());
        (bt, values)
    });
    // The converter raises the weight scales of channels whose int32 bias would overflow
    // (16x8: the bias is int64, nothing to fit).
    if let (Some((_, bvals)), Activations::Int8) = (&bias, act) {
        let raised = bias_fit::fit_bias(&mut q, &values, &shape, bvals, (in_p.scale64, in_p.scale));
        if raised > 0 {
            report.bias_fitted.push((float.name.clone(), raised));
        }
    }
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
    let wq = w.add_twin(wq, base, wt);
    w.ops[k].inputs[sl.weight] = wq as i32;
    front.insert(
        0,
        Item::Const {
            tensor: wq,
            foldable: false,
        },
    );
    let mut replaced = vec![wt];

    if let Some((bt, bvals)) = bias {
        let in_scale = f64::from(in_p.scale);
        // The float32 product s_in × s_w[c] (what the file stores), and the values rounded
        // with its float32 inverse.
        let bscales: Vec<f32> = q.scales.iter().map(|&s| in_scale as f32 * s).collect();
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
                let q = round_with_inverse(b, s);
                match act {
                    Activations::Int8 => {
                        let q = q.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
                        q.to_le_bytes().to_vec()
                    }
                    // `as` saturates at the int64 range (never reached by a finite ratio
                    // of float32 values).
                    Activations::Int16 => (q as i64).to_le_bytes().to_vec(),
                }
            })
            .collect();
        let bias_dtype = match act {
            Activations::Int8 => DType::I32,
            Activations::Int16 => DType::I64,
        };
        let bq = quantized_const(
            &w.tensors[bt].clone(),
            bias_dtype,
            qv,
            QuantParams {
                scale: bscales,
                zero_point: vec![0; per],
                quantized_dimension: 0,
                ..Default::default()
            },
        );
        let base = w.location(bt).unwrap_or("tfl.pseudo_qconst").to_string();
        let bq = w.add_twin(bq, base, bt);
        w.ops[k].inputs[sl.bias] = bq as i32;
        front.insert(
            0,
            Item::Const {
                tensor: bq,
                foldable: false,
            },
        );
        replaced.push(bt);
    }
    Ok(replaced)
}
