//! Tensor order and tensor names as the TFLite converter lays out a model it quantizes.
//!
//! The converter (TF 2.21) writes a subgraph from its MLIR function body: the arguments
//! first, then, in body order, one tensor per constant and the results of every operator
//! (`flatbuffer_export.cc`). So the float model's tensor list *is* its body: constants and
//! operators interleaved in the order the file lists their tensors. Quantizing changes the
//! body in three steps that this module reproduces:
//!
//! 1. The pass replaces constants in place: `PrepareDynamicRangeQuantizePass` inserts its
//!    new ops right after the constant they convert, and the old constant disappears once
//!    nothing uses it (a quantized `tfl.pseudo_qconst` takes the position of its
//!    `tfl.quantize`; a float16 constant and its `tfl.dequantize` follow the old constant).
//! 2. The next greedy rewrite walks the body with MLIR's constant folder
//!    (`OperationFolder::insertKnownConstant`): in body order, a foldable constant
//!    (`arith.constant`, `tfl.no_value`; not `tfl.pseudo_qconst`) stays where it is if it
//!    is first or follows a constant the folder already owns, and otherwise moves to the
//!    front of the body. [`fold`] computes the result in one pass.
//! 3. The exporter names every value through one uniquifier for the whole model
//!    (`OpOrArgNameMapper::GetUniqueName`): the first use of a name is the name itself,
//!    later ones append a decimal counter with no separator (`MatMul`, `MatMul1`, ...). New
//!    values carry their constant's location name, or the op's name when the location has
//!    none (`arith.constant`, `tfl.pseudo_qconst`, `tfl.dequantize`). [`Namer`] replays the
//!    uniquifier; [`Namer::recover`] runs it backwards over the float file to find each
//!    tensor's location name.
//!
//! The converter also has one constant the file does not show: `tfl.no_value`, the value
//! of omitted optional inputs (a FULLY_CONNECTED without bias). It takes a name, and moves
//! like any constant. When a model has exactly one FULLY_CONNECTED and it has no bias, the
//! no-value constant carries that op's location name (its weight's) and sits right after
//! the weight; with more FULLY_CONNECTED ops its location is a fusion of several names that
//! never collides. Failing that, one TRANSPOSE_CONV without bias whose output is a subgraph
//! output: the no-value constant carries the output's location and sits before the op
//! (the int8 file names the op's output `X2` after the reserved `X` and the no-value's
//! `X1`). The hypothesis is kept only if the float file's names are consistent with it.
//!
//! Checked against the converter on the fixtures (`tests/quantize_*.rs`) and on extra
//! conversions made while writing this (shared weights, unnamed constants, FULLY_CONNECTED
//! without bias, interleaved conv/depthwise/dense stacks).

use std::collections::{HashMap, HashSet};

use crate::model::{code, Subgraph};

/// One value-producing entry of the converter's function body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// A constant tensor (index into the working tensor table). `foldable`: owned by the
    /// MLIR constant folder (`arith.constant`); `false` for `tfl.pseudo_qconst`.
    Const { tensor: usize, foldable: bool },
    /// An operator (index into the working operator table); yields its output tensors.
    Op(usize),
    /// The hidden `tfl.no_value` constant: foldable, no tensor, but it takes a name.
    NoValue { base: String },
}

impl Item {
    fn foldable(&self) -> bool {
        match self {
            Item::Const { foldable, .. } => *foldable,
            Item::Op(_) => false,
            Item::NoValue { .. } => true,
        }
    }
}

/// A subgraph as the converter's function body.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    /// Subgraph input tensors (function arguments), in file order.
    pub args: Vec<usize>,
    pub items: Vec<Item>,
    /// Tensors that are neither arguments, constants nor operator results (kept last).
    pub loose: Vec<usize>,
}

/// Whether a tensor name is the exporter's fallback for a constant without a location name.
pub(crate) fn is_op_name_fallback(base: &str) -> bool {
    matches!(
        base,
        "arith.constant" | "tfl.pseudo_const" | "tfl.pseudo_qconst" | "tfl.no_value" | "tf.Const"
    )
}

/// The body of a float subgraph read from a file, and the tensor after which the hidden
/// no-value constant sits (if the single-FULLY_CONNECTED hypothesis applies).
pub(crate) fn float_body(sg: &Subgraph) -> (Body, Option<usize>) {
    let n = sg.tensors.len();
    let mut is_arg = vec![false; n];
    for &t in &sg.inputs {
        if t < n {
            is_arg[t] = true;
        }
    }
    let mut produced = vec![false; n];
    for op in &sg.operators {
        for t in op.output_tensors() {
            if t < n {
                produced[t] = true;
            }
        }
    }
    let is_const = |t: usize| {
        !is_arg[t] && !produced[t] && sg.tensors[t].data.is_some() && !sg.tensors[t].is_variable
    };

    // The no-value hypothesis: exactly one FULLY_CONNECTED, with an omitted bias and a
    // constant weight.
    let fcs: Vec<_> = sg
        .operators
        .iter()
        .filter(|o| o.op.code() == code::FULLY_CONNECTED)
        .collect();
    let no_value_after = match fcs.as_slice() {
        [fc] if fc.inputs.get(2).is_some_and(|&b| b < 0) => {
            fc.input(1).filter(|&w| w < n && is_const(w))
        }
        _ => None,
    };
    // Else one TRANSPOSE_CONV without bias whose output is a subgraph output: its no-value
    // constant carries the op's location (the output's) and is named before the op's
    // output, which the exporter has reserved (the function's result): in the float file,
    // right after that output.
    let tconvs: Vec<(usize, &crate::model::Operator)> = sg
        .operators
        .iter()
        .enumerate()
        .filter(|(_, o)| o.op.code() == code::TRANSPOSE_CONV)
        .collect();
    let tconv_no_value = match tconvs.as_slice() {
        [(k, op)] if no_value_after.is_none() && op.input(3).is_none() => op
            .outputs
            .first()
            .and_then(|&o| usize::try_from(o).ok())
            .filter(|o| sg.outputs.contains(o))
            .map(|o| (*k, o)),
        _ => None,
    };

    let mut args: Vec<usize> = Vec::new();
    let mut seen = HashSet::new();
    let mut sorted_inputs = sg.inputs.clone();
    sorted_inputs.sort_unstable();
    for t in sorted_inputs {
        if t < n && seen.insert(t) {
            args.push(t);
        }
    }
    let consts: Vec<usize> = (0..n).filter(|&t| is_const(t)).collect();
    let mut next_const = 0;
    let mut items = Vec::new();
    let push_const = |items: &mut Vec<Item>, t: usize| {
        items.push(Item::Const {
            tensor: t,
            foldable: true,
        });
        if Some(t) == no_value_after {
            items.push(Item::NoValue {
                base: String::new(), // filled in by the caller once names are recovered
            });
        }
    };
    for (k, op) in sg.operators.iter().enumerate() {
        let first_out = op.output_tensors().min().unwrap_or(usize::MAX);
        while next_const < consts.len() && consts[next_const] < first_out {
            push_const(&mut items, consts[next_const]);
            next_const += 1;
        }
        if tconv_no_value.is_some_and(|(tk, _)| tk == k) {
            items.push(Item::NoValue {
                base: String::new(),
            });
        }
        items.push(Item::Op(k));
    }
    while next_const < consts.len() {
        push_const(&mut items, consts[next_const]);
        next_const += 1;
    }
    let loose = (0..n)
        .filter(|&t| !is_arg[t] && !produced[t] && !is_const(t))
        .collect();
    let no_value_after = no_value_after.or(tconv_no_value.map(|(_, o)| o));
    (Body { args, items, loose }, no_value_after)
}

/// Step 2: MLIR's constant folder walk over a body (see the module docs).
///
/// Walking in order, a foldable entry stays if nothing unmoved precedes it or the nearest
/// unmoved entry before it is a folder-owned constant; otherwise it moves to the front.
/// Entries moved later end up in front of entries moved earlier.
pub(crate) fn fold(items: Vec<Item>) -> Vec<Item> {
    let mut moved = Vec::new();
    let mut kept = Vec::new();
    // Owned flag of the last entry that stayed in place.
    let mut last_kept_owned: Option<bool> = None;
    for item in items {
        if item.foldable() {
            if last_kept_owned.unwrap_or(true) {
                kept.push(item);
                last_kept_owned = Some(true);
            } else {
                moved.push(item);
            }
        } else {
            kept.push(item);
            last_kept_owned = Some(false);
        }
    }
    moved.reverse();
    moved.extend(kept);
    moved
}

/// The exporter's name uniquifier (`OpOrArgNameMapper::GetUniqueName`, no separator).
#[derive(Debug, Clone, Default)]
pub(crate) struct Namer {
    count: HashMap<String, u64>,
}

impl Namer {
    /// What [`Namer::unique`] would return for `prefix` now.
    fn peek(&self, prefix: &str) -> String {
        match self.count.get(prefix) {
            None => prefix.to_string(),
            Some(&val) => {
                let mut val = val;
                loop {
                    let probe = format!("{prefix}{val}");
                    if !self.count.contains_key(&probe) {
                        return probe;
                    }
                    val += 1;
                }
            }
        }
    }

    /// The unique name for a value whose location name is `prefix`.
    pub(crate) fn unique(&mut self, prefix: &str) -> String {
        let Some(&start) = self.count.get(prefix) else {
            self.count.insert(prefix.to_string(), 1);
            return prefix.to_string();
        };
        let mut val = start;
        loop {
            let probe = format!("{prefix}{val}");
            val += 1;
            if !self.count.contains_key(&probe) {
                self.count.insert(probe.clone(), 1);
                self.count.insert(prefix.to_string(), val);
                return probe;
            }
        }
    }

    /// The location name that made the exporter write `name` at this point, taking it
    /// (`None` if `name` cannot have come out of the uniquifier here). A name that a
    /// counter suffix on an earlier name explains is taken to be that (a fused operator
    /// shares its bias constant's location: `X` then `X1`).
    pub(crate) fn recover(&mut self, name: &str) -> Option<String> {
        let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
        for split in (name.len() - digits..name.len()).rev() {
            if split == 0 {
                continue;
            }
            let prefix = &name[..split];
            if self.count.contains_key(prefix) && self.peek(prefix) == name {
                let prefix = prefix.to_string();
                self.unique(&prefix);
                return Some(prefix);
            }
        }
        if self.count.contains_key(name) {
            return None;
        }
        self.unique(name);
        Some(name.to_string())
    }
}

/// Location names of every tensor of every subgraph (and of each subgraph's hidden
/// no-value constant), recovered by replaying the uniquifier over the file in order;
/// `None` if the file's names cannot have come from the converter (then litequant keeps
/// the file's names and only names new tensors).
pub(crate) struct Recovered {
    pub bases: Vec<Vec<String>>,
    pub no_value: Vec<Option<NoValueName>>,
}

/// The tensor the hidden no-value constant follows, and its location name.
pub(crate) type NoValueName = (usize, String);

pub(crate) fn recover_names(
    subgraphs: &[Subgraph],
    no_value_after: &[Option<usize>],
) -> Option<Recovered> {
    let mut namer = Namer::default();
    let mut bases = Vec::new();
    let mut no_value = Vec::new();
    for (sg, &nv) in subgraphs.iter().zip(no_value_after) {
        // Try with the no-value hypothesis first, then without it.
        let attempt =
            |namer: &mut Namer, nv: Option<usize>| -> Option<(Vec<String>, Option<NoValueName>)> {
                let mut b = Vec::with_capacity(sg.tensors.len());
                let mut taken = None;
                for (i, t) in sg.tensors.iter().enumerate() {
                    b.push(namer.recover(&t.name)?);
                    if Some(i) == nv {
                        let base = b[i].clone();
                        namer.unique(&base);
                        taken = Some((i, base));
                    }
                }
                Some((b, taken))
            };
        let mut trial = namer.clone();
        let got = match attempt(&mut trial, nv) {
            Some(r) => Some((r, trial)),
            None if nv.is_some() => {
                let mut trial = namer.clone();
                attempt(&mut trial, None).map(|r| (r, trial))
            }
            None => None,
        };
        let ((b, nvb), next) = got?;
        namer = next;
        bases.push(b);
        no_value.push(nvb);
    }
    Some(Recovered { bases, no_value })
}

/// The final order of a transformed body: tensors (working indices) and operators
/// (working indices), plus the naming events in exporter order.
pub(crate) struct Emitted {
    pub tensors: Vec<usize>,
    pub ops: Vec<usize>,
    /// `Ok(tensor)` names a tensor, `Err(base)` is the no-value constant taking a name.
    pub names: Vec<Result<usize, String>>,
}

/// Lay out a transformed body. `outputs_of(op)` gives an operator's output tensors.
pub(crate) fn emit(body: &Body, outputs_of: impl Fn(usize) -> Vec<usize>) -> Emitted {
    let mut tensors = Vec::new();
    let mut ops = Vec::new();
    let mut names = Vec::new();
    let mut done = HashSet::new();
    let mut put = |t: usize, tensors: &mut Vec<usize>, names: &mut Vec<Result<usize, String>>| {
        if done.insert(t) {
            tensors.push(t);
            names.push(Ok(t));
        }
    };
    for &t in &body.args {
        put(t, &mut tensors, &mut names);
    }
    for item in &body.items {
        match item {
            Item::Const { tensor, .. } => put(*tensor, &mut tensors, &mut names),
            Item::Op(k) => {
                ops.push(*k);
                for t in outputs_of(*k) {
                    put(t, &mut tensors, &mut names);
                }
            }
            Item::NoValue { base } => names.push(Err(base.clone())),
        }
    }
    for &t in &body.loose {
        put(t, &mut tensors, &mut names);
    }
    Emitted {
        tensors,
        ops,
        names,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(t: usize) -> Item {
        Item::Const {
            tensor: t,
            foldable: true,
        }
    }
    fn q(t: usize) -> Item {
        Item::Const {
            tensor: t,
            foldable: false,
        }
    }

    #[test]
    fn fold_matches_the_folder() {
        // [a, b, Q, s, w, v, op] → s, w, v follow a non-owned entry: moved, last first.
        let body = vec![c(0), c(1), q(2), c(3), q(4), c(5), Item::Op(0)];
        assert_eq!(
            fold(body),
            vec![c(5), c(3), c(0), c(1), q(2), q(4), Item::Op(0)]
        );
        // A body that starts with constants is a fixed point.
        let body = vec![c(0), c(1), Item::Op(0), Item::Op(1)];
        assert_eq!(fold(body.clone()), body);
        // float16 pattern: [h0, dq0, h1, dq1] → [h1, h0, dq0, dq1].
        let body = vec![c(0), Item::Op(0), c(1), Item::Op(1), Item::Op(2)];
        assert_eq!(
            fold(body),
            vec![c(1), c(0), Item::Op(0), Item::Op(1), Item::Op(2)]
        );
    }

    #[test]
    fn namer_counts_like_the_exporter() {
        let mut n = Namer::default();
        assert_eq!(n.unique("X"), "X");
        assert_eq!(n.unique("X"), "X1");
        assert_eq!(n.unique("X1"), "X11");
        assert_eq!(n.unique("X"), "X2");
        let mut r = Namer::default();
        for (name, base) in [
            ("X", "X"),
            ("X1", "X"),
            ("X11", "X1"),
            ("Y7", "Y7"),
            ("X2", "X"),
        ] {
            assert_eq!(r.recover(name).as_deref(), Some(base), "{name}");
        }
        assert_eq!(r.recover("Y7"), None);
    }
}
