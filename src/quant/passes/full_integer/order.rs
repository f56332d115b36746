//! Where the constants that stay foldable (float constants of float ops, int32 shapes,
//! axes, sizes) end up in the full-integer model: at the front of the body, in the order
//! the converter's passes leave them.
//!
//! The converter quantizes a *calibrated flatbuffer*: its importer makes each constant at
//! its first use (operators in order, operands in order), and the quantization passes then
//! walk the body with MLIR's constant folder more than once (see [`super::super::layout`]),
//! with DEQUANTIZE/QUANTIZE pairs on the float constants they quantize. The result, found on
//! the converter's own models (every set of up to three kept-float ops of three small models
//! while writing this; `tests/quantize_selective.rs` keeps the 79 sets of one or two, and
//! the single-op fixtures of `tests/quantize_int8.rs` the lone-op case), is:
//!
//! - With no float constant at all: the constants in reverse order of first use (a lone
//!   STRIDED_SLICE keeps `strides, end, begin`).
//! - Otherwise take the float constants in reverse order of first use (the last op's bias,
//!   its weight, ..., the first op's weight). The leading run of constants that stay float
//!   (those of float ops at the end of the model), up to the first one that is quantized,
//!   stays in that order at the end; the float constants after it come back in order of
//!   first use, in front. The other (int32) constants sit between the two, in order of
//!   first use; of those one operator uses first, the ones without a location name
//!   (`arith.constant`, made anew by a pass: a SPLIT_V's axis) lead:
//!   `[float constants of earlier float ops, first use order] [int32 constants, first use
//!   order] [float constants of the trailing float ops, reverse order]`.

use std::collections::{HashMap, HashSet};

use crate::model::DType;

use super::super::layout::Item;
use super::super::Working;

/// One constant of the body (a tensor or the hidden no-value constant).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Key {
    Tensor(usize),
    NoValue,
}

/// `items` with the foldable constants it still holds moved to the front, in the
/// converter's order (see the module docs). `inputs`: every original operator's inputs
/// before the pass rewired them; `dropped`: float constants the pass quantized (replaced by
/// quantized constants and no longer read).
pub(super) fn hoist_foldable(
    w: &Working,
    items: Vec<Item>,
    inputs: &[Vec<i32>],
    constants: &HashSet<usize>,
    dropped: &HashSet<usize>,
) -> Vec<Item> {
    let key = |i: &Item| match i {
        Item::Const {
            tensor,
            foldable: true,
        } => Some(Key::Tensor(*tensor)),
        Item::NoValue { .. } => Some(Key::NoValue),
        _ => None,
    };
    let present: HashSet<Key> = items.iter().filter_map(key).collect();
    // First use: operators in order, operands in order; constant outputs last.
    let mut seen = HashSet::new();
    let mut first_use = Vec::new();
    // The operator of each first use (constant outputs: one past the last).
    let mut user: std::collections::HashMap<Key, usize> = std::collections::HashMap::new();
    let uses = inputs
        .iter()
        .enumerate()
        .flat_map(|(k, ins)| ins.iter().map(move |&t| (k, t)))
        .chain(
            w.outputs
                .iter()
                .filter(|t| constants.contains(t))
                .map(|&t| (inputs.len(), t as i32)),
        );
    for (op, t) in uses {
        let k = if t < 0 {
            Key::NoValue
        } else if constants.contains(&(t as usize)) {
            Key::Tensor(t as usize)
        } else {
            continue;
        };
        if (present.contains(&k) || matches!(k, Key::Tensor(t) if dropped.contains(&t)))
            && seen.insert(k)
        {
            first_use.push(k);
            user.insert(k, op);
        }
    }
    let is_float = |k: &Key| match k {
        Key::NoValue => true,
        Key::Tensor(t) => w.tensors[*t].dtype == DType::F32,
    };
    let (floats, others): (Vec<Key>, Vec<Key>) = first_use.into_iter().partition(is_float);
    // Of the int32 constants one operator uses first, those without a location name
    // (`arith.constant`, made anew by a pass: a SPLIT_V's axis) come before the others.
    let unnamed = |k: &Key| match k {
        Key::Tensor(t) => super::super::layout::is_op_name_fallback(&w.bases[*t]),
        Key::NoValue => false,
    };
    let mut int_run = others.clone();
    int_run.sort_by_key(|k| (user[k], !unnamed(k)));
    let order: Vec<Key> = if floats.is_empty() {
        others.into_iter().rev().collect()
    } else {
        let reversed: Vec<Key> = floats.into_iter().rev().collect();
        let quantized = |k: &Key| matches!(k, Key::Tensor(t) if dropped.contains(t));
        let cut = reversed
            .iter()
            .position(quantized)
            .map_or(reversed.len(), |p| p + 1);
        let (kept, moved) = reversed.split_at(cut);
        moved
            .iter()
            .rev()
            .chain(&int_run)
            .chain(kept)
            .copied()
            .filter(|k| present.contains(k))
            .collect()
    };
    let mut front: Vec<Item> = Vec::new();
    for k in &order {
        if let Some(i) = items.iter().find(|i| key(i) == Some(*k)) {
            front.push(i.clone());
        }
    }
    front.extend(
        items
            .into_iter()
            .filter(|i| key(i).is_none_or(|k| !order.contains(&k))),
    );
    front
}

/// The order in which the converter adds the output DEQUANTIZE (or uint8 QUANTIZE) ops, as
/// indices into the subgraph outputs: by producer, then by result (a SPLIT's outputs in
/// result order, whatever the subgraph's output order).
pub(super) fn output_order(w: &Working, producer: &HashMap<usize, usize>) -> Vec<usize> {
    let mut out_order: Vec<usize> = (0..w.outputs.len()).collect();
    out_order.sort_by_key(|&o| {
        let t = w.outputs[o];
        producer
            .get(&t)
            .map(|&p| (p, w.ops[p].output_tensors().position(|x| x == t)))
    });
    out_order
}

/// The location names of the results of quantized multi-result ops whose results are
/// subgraph outputs: once they are DEQUANTIZE'd, their int8 results carry the op's own
/// location, the names of its results joined by ';' (as its other results already do,
/// `passes::fuse_multi_result_locations`).
pub(super) fn multi_result_locations(w: &Working, quantized: &[bool]) -> HashMap<usize, String> {
    let mut fused_loc = HashMap::new();
    for (k, op) in w.ops.iter().enumerate() {
        let outs: Vec<usize> = op.output_tensors().collect();
        if !quantized.get(k).copied().unwrap_or(false) || outs.len() < 2 {
            continue;
        }
        if !outs.iter().any(|t| w.outputs.contains(t)) {
            continue;
        }
        let loc = outs
            .iter()
            .map(|&t| w.tensors[t].name.as_str())
            .collect::<Vec<_>>()
            .join(";");
        for t in outs {
            fused_loc.insert(t, loc.clone());
        }
    }
    fused_loc
}
