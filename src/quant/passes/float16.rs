//! float16 quantization: what the converter does for `Optimize.DEFAULT` with
//! `supported_types = [tf.float16]` (`PrepareDynamicRangeQuantizePass` in float16 mode,
//! TF 2.21).
//!
//! Rules (`convertToFloat16Constant`, checked on the fixtures):
//! - Every float32 constant that an operator reads (weights, biases, any other float
//!   operand) becomes a FLOAT16 constant ([`crate::quant::weights::f32_to_f16`]: clamped to
//!   ±65504, round to nearest even) followed by one DEQUANTIZE (version 3) to float32; all
//!   the operators that read the constant read the DEQUANTIZE output. A constant that is
//!   also a subgraph output stays as it is for that output. Integer constants stay.
//! - Names: the FLOAT16 constant and the DEQUANTIZE output carry the constant's location
//!   name (`arith.constant` / `tfl.dequantize` for constants without one), numbered by the
//!   exporter's uniquifier (`MatMul`, `MatMul1`).
//! - Metadata: `reduced_precision_support = "fp16accfp32"` after `min_runtime_version`, and
//!   `CONVERSION_METADATA` with `PTQ_FLOAT16`.

use crate::model::{DType, Op, Operator, Tensor};
use crate::quant::weights::{f32_to_f16, f32_values};
use crate::{Model, Result};

use super::layout::Item;
use super::{finish, metadata, prepare, Working};

/// float16 quantization of a float model, as the TFLite converter does it.
pub fn quantize_float16(model: &Model) -> Result<Model> {
    // Sparse float weights are quantized as the dense weights they stand for.
    let densified = super::sparse::densified(model)?;
    let model = densified.as_ref().map_or(model, |d| &d.model);
    let (mut works, naming) = prepare(model)?;
    if let Some(d) = &densified {
        d.forget_dropped(&mut works);
    }
    for w in &mut works {
        convert_subgraph(w);
    }
    finish(model, works, naming, metadata::PTQ_FLOAT16, true)
}

fn convert_subgraph(w: &mut Working) {
    for c in w.body_constants() {
        let float = &w.tensors[c];
        if float.dtype != DType::F32 || float.sparsity.is_some() {
            continue;
        }
        let readers: Vec<(usize, usize)> = w
            .ops
            .iter()
            .enumerate()
            .flat_map(|(k, o)| {
                o.inputs
                    .iter()
                    .enumerate()
                    .filter(move |&(_, &t)| t == c as i32)
                    .map(move |(j, _)| (k, j))
            })
            .collect();
        if readers.is_empty() {
            continue;
        }
        let half: Vec<u8> = f32_values(float.data.as_deref().unwrap_or_default())
            .into_iter()
            .flat_map(|v| f32_to_f16(v).to_le_bytes())
            .collect();
        let location = w.location(c).map(str::to_string);
        let h = Tensor {
            dtype: DType::F16,
            data: Some(half.into()),
            ..float.clone()
        };
        let d = Tensor {
            data: None,
            ..float.clone()
        };
        let h = w.add_tensor(
            h,
            location.clone().unwrap_or_else(|| "arith.constant".into()),
        );
        let d = w.add_tensor(d, location.unwrap_or_else(|| "tfl.dequantize".into()));
        w.ops.push(Operator {
            op: Op::Dequantize,
            version: 1,
            inputs: vec![h as i32],
            outputs: vec![d as i32],
            intermediates: Vec::new(),
            mutating_variable_inputs: Vec::new(),
            debug_metadata_index: -1,
            options_omitted: true,
        });
        let dq = w.ops.len() - 1;
        for (k, j) in readers {
            w.ops[k].inputs[j] = d as i32;
        }
        let mut replacement = Vec::new();
        if w.is_used(c) {
            replacement.push(Item::Const {
                tensor: c,
                foldable: true,
            });
        }
        replacement.push(Item::Const {
            tensor: h,
            foldable: true,
        });
        replacement.push(Item::Op(dq));
        w.replace_const(c, replacement);
    }
}
