//! Quantizer passes that need no calibration: `dynamic` (int8 weights, hybrid kernels) and
//! `float16` (FLOAT16 constants + DEQUANTIZE), producing the model the TensorFlow Lite
//! converter (TF 2.21) produces from the same float model.
//!
//! Every pass follows the same frame: `prepare` turns each subgraph into the converter's
//! function body (`layout`) and recovers the tensors' location names; the pass rewrites
//! constants and operators; `finish` lays the body out as the converter's exporter does
//! (tensor order, names), sets operator versions ([`versions`]), and writes the metadata
//! entries the converter writes (`min_runtime_version`, `reduced_precision_support` for
//! float16, `CONVERSION_METADATA` last, see [`metadata`]).
//!
//! What is exact: on every converter pair among the fixtures (`tests/quantize_*.rs`: the
//! CNN and MLP, 8 single-op dynamic and 5 single-op float16 pairs) the result equals the
//! converter's model field for field, metadata bytes included. It was also checked, while
//! writing this, on conversions made for the purpose with TF 2.21 (weights crafted on
//! rounding ties and near-zero channels, the 1023/1024-element threshold, a weight shared
//! by two convolutions, a weight also read by an ADD, FULLY_CONNECTED without bias, unnamed
//! constants, a constant that is also an output, a conv/depthwise/dense stack).
//!
//! Known differences:
//! - Models with control flow (WHILE/IF bodies in further subgraphs): the converter
//!   outlines loop bodies *after* quantizing, so its float16 model passes dequantized
//!   constants of the main graph into the body as extra WHILE operands, and body constants
//!   come out in another order. litequant converts each subgraph by the same rules; the
//!   model is valid but laid out differently.
//! - The hidden no-value constant's name (see `layout`) is inferred, not read: with one
//!   FULLY_CONNECTED whose bias is omitted it is assumed to share that op's name.
//! - Two float32 constants that become equal after rounding to float16 would be merged by
//!   the converter's constant folder; litequant keeps both.

pub mod dynamic;
pub mod float16;
pub mod full_integer;
pub(crate) mod layout;
pub mod metadata;
pub(crate) mod sparse;
pub mod versions;

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Metadata, Model, Operator, Subgraph, Tensor};
use crate::{Error, Result};
use layout::{Body, Item, Namer};

/// The `min_runtime_version` metadata entry's name.
pub const MIN_RUNTIME_VERSION: &str = "min_runtime_version";
/// The entry the converter adds to float16 models, and its value (fp16 inference with
/// fp32 accumulation).
pub const REDUCED_PRECISION_SUPPORT: &str = "reduced_precision_support";
/// The `reduced_precision_support` metadata value of float16 models with float32 accumulation.
pub const FP16_ACC_FP32: &[u8] = b"fp16accfp32";

/// One subgraph being rewritten: tensors and operators (the originals first, new ones
/// appended; a tensor or operator that leaves the body is dropped when the model is
/// finished), each tensor's location name, and the body.
pub(crate) struct Working {
    pub tensors: Vec<Tensor>,
    pub ops: Vec<Operator>,
    pub bases: Vec<String>,
    pub body: Body,
    /// Subgraph outputs (working tensor indices).
    pub outputs: Vec<usize>,
    /// Tensors the exporter names before all others (function results whose value is not
    /// the op result of the same location: the full-integer output DEQUANTIZE).
    pub reserved_names: Vec<usize>,
    /// New tensors that hold the values of another tensor (a quantized constant, the int8
    /// copy of a float value, a requantized operand): new index → the tensor it copies.
    pub twins: HashMap<usize, usize>,
}

impl Working {
    /// Append a tensor with its location name; returns its working index.
    pub fn add_tensor(&mut self, t: Tensor, base: String) -> usize {
        self.tensors.push(t);
        self.bases.push(base);
        self.tensors.len() - 1
    }

    /// [`Working::add_tensor`] for a tensor that holds the values of tensor `of` (in
    /// another type or with other parameters).
    pub fn add_twin(&mut self, t: Tensor, base: String, of: usize) -> usize {
        let i = self.add_tensor(t, base);
        self.twins.insert(i, of);
        i
    }

    /// The original tensor (an index of the input model's subgraph, below `n_original`)
    /// whose values working tensor `t` holds, following [`Working::twins`].
    fn original_of(&self, mut t: usize, n_original: usize) -> Option<usize> {
        // Each step goes to an older tensor, so this ends.
        while t >= n_original {
            t = *self.twins.get(&t)?;
        }
        Some(t)
    }

    /// The location name new values made from constant `c` carry, `None` when the
    /// constant's location has no name: the exporter's op-name fallback, or a constant that
    /// is also a subgraph output (its file name is the output's name, its location unknown;
    /// the converter's own such constants come out unnamed).
    pub fn location(&self, c: usize) -> Option<&str> {
        let base = self.bases[c].as_str();
        (!layout::is_op_name_fallback(base) && !self.outputs.contains(&c)).then_some(base)
    }

    /// Whether anything still reads tensor `t` (an operator input or a subgraph output).
    pub fn is_used(&self, t: usize) -> bool {
        self.outputs.contains(&t)
            || self
                .ops
                .iter()
                .any(|o| o.input_tensors().any(|i| i == t) || o.intermediates.contains(&(t as i32)))
    }

    /// Replace the body entry of constant `c` by `replacement` (entries in order).
    pub fn replace_const(&mut self, c: usize, replacement: Vec<Item>) {
        if let Some(p) = self
            .body
            .items
            .iter()
            .position(|i| matches!(i, Item::Const { tensor, .. } if *tensor == c))
        {
            self.body.items.splice(p..=p, replacement);
        }
    }

    /// The float constants of the body, in body order.
    pub fn body_constants(&self) -> Vec<usize> {
        self.body
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Const {
                    tensor,
                    foldable: true,
                } => Some(*tensor),
                _ => None,
            })
            .collect()
    }
}

/// How the finished model names its tensors.
pub(crate) enum Naming {
    /// Re-run the exporter's uniquifier over the new layout (the file's names are
    /// consistent with it).
    Converter,
    /// Keep the file's names; name new tensors uniquely after their location names.
    Keep,
}

/// Refuse a model that is not a float model: the passes reproduce the converter's
/// conversion of a float model, and quantizing twice has no converter counterpart.
fn check_float(model: &Model) -> Result<()> {
    if let Some(cm) = model
        .metadata(metadata::CONVERSION_METADATA)
        .and_then(|m| metadata::ConversionMetadata::parse(&m.data))
    {
        let quantized = [
            metadata::PTQ_FLOAT16,
            metadata::PTQ_DYNAMIC_RANGE,
            metadata::PTQ_FULL_INTEGER,
            metadata::PTQ_INT16,
            metadata::QUANTIZATION_AWARE_TRAINING,
        ];
        if let Some(m) = cm.modes.iter().flatten().find(|m| quantized.contains(m)) {
            return Err(Error::Unsupported(format!(
                "the model is already quantized (its CONVERSION_METADATA records optimization mode {m}); quantize the float model"
            )));
        }
    }
    for (s, sg) in model.subgraphs.iter().enumerate() {
        for (i, t) in sg.tensors.iter().enumerate() {
            let scaled = t.quant.as_ref().is_some_and(|q| !q.scale.is_empty());
            if t.data.is_some() && (scaled || t.dtype == crate::model::DType::F16) {
                return Err(Error::Unsupported(format!(
                    "the model is already quantized (subgraph {s}, constant tensor {i} '{}' is {}{}); quantize the float model",
                    t.name,
                    t.dtype,
                    if scaled { " with quantization scales" } else { "" }
                )));
            }
        }
    }
    Ok(())
}

/// The converter quantizes a re-imported float flatbuffer, where an operator with several
/// results (SPLIT, SPLIT_V, UNPACK) takes the fused location of its results' names joined
/// by ';' (`split;split1;split2`); the exporter then names each result that is not a
/// subgraph output from it (`split;split1;split2`, `split;split1;split21`, ...). Returned
/// results keep their output names.
fn fuse_multi_result_locations(sg: &crate::model::Subgraph, bases: &mut [String]) {
    for op in &sg.operators {
        let outs: Vec<usize> = op.output_tensors().collect();
        if outs.len() < 2 {
            continue;
        }
        let loc = outs
            .iter()
            .map(|&t| sg.tensors[t].name.as_str())
            .collect::<Vec<_>>()
            .join(";");
        for &t in &outs {
            if !sg.outputs.contains(&t) {
                bases[t] = loc.clone();
            }
        }
    }
}

/// Turn every subgraph into the converter's body, with recovered location names.
pub(crate) fn prepare(model: &Model) -> Result<(Vec<Working>, Naming)> {
    model.validate()?;
    check_float(model)?;
    let mut bodies = Vec::new();
    let mut no_value_after = Vec::new();
    for sg in &model.subgraphs {
        let (b, nv) = layout::float_body(sg);
        bodies.push(b);
        no_value_after.push(nv);
    }
    let recovered = layout::recover_names(&model.subgraphs, &no_value_after);
    let naming = if recovered.is_some() {
        Naming::Converter
    } else {
        Naming::Keep
    };
    let mut works = Vec::new();
    for (s, (sg, mut body)) in model.subgraphs.iter().zip(bodies).enumerate() {
        let (mut bases, no_value) = match &recovered {
            Some(r) => (r.bases[s].clone(), r.no_value[s].clone()),
            None => (sg.tensors.iter().map(|t| t.name.clone()).collect(), None),
        };
        if recovered.is_some() {
            fuse_multi_result_locations(sg, &mut bases);
        }
        // Keep the hidden no-value constant only where the names confirmed it.
        body.items.retain_mut(|i| match i {
            Item::NoValue { base } => match &no_value {
                Some((_, b)) => {
                    *base = b.clone();
                    true
                }
                None => false,
            },
            _ => true,
        });
        works.push(Working {
            tensors: sg.tensors.clone(),
            ops: sg.operators.clone(),
            bases,
            body,
            outputs: sg.outputs.clone(),
            reserved_names: Vec::new(),
            twins: HashMap::new(),
        });
    }
    Ok((works, naming))
}

/// Lay out the rewritten subgraphs, set versions and metadata: the finished model.
pub(crate) fn finish(
    model: &Model,
    works: Vec<Working>,
    naming: Naming,
    mode: i32,
    float16: bool,
) -> Result<Model> {
    finish_with_maps(model, works, naming, mode, float16).map(|(m, _)| m)
}

/// Per subgraph, for the tensors of a finished model that hold the values of a tensor of
/// the input model: finished index → input-model index (the same subgraph).
pub(crate) type Twins = Vec<HashMap<usize, usize>>;

/// The [`Twins`] of a finished model: `original[s]` maps working tensors to input-model
/// tensors ([`working_twins`]), `maps[s]` working tensors to finished ones
/// ([`finish_with_maps`]).
pub(crate) fn finished_twins(original: Twins, maps: &[HashMap<usize, usize>]) -> Twins {
    original
        .into_iter()
        .zip(maps)
        .map(|(orig, map)| {
            orig.into_iter()
                .filter_map(|(w, o)| map.get(&w).map(|&f| (f, o)))
                .collect()
        })
        .collect()
}

/// Working tensor → input-model tensor, for every working tensor of every subgraph that
/// holds an input-model tensor's values (the originals hold their own).
pub(crate) fn working_twins(model: &Model, works: &[Working]) -> Twins {
    works
        .iter()
        .zip(&model.subgraphs)
        .map(|(w, sg)| {
            (0..w.tensors.len())
                .filter_map(|t| w.original_of(t, sg.tensors.len()).map(|o| (t, o)))
                .collect()
        })
        .collect()
}

/// [`finish`], also returning for each subgraph where each kept working tensor went.
pub(crate) fn finish_with_maps(
    model: &Model,
    works: Vec<Working>,
    naming: Naming,
    mode: i32,
    float16: bool,
) -> Result<(Model, Vec<HashMap<usize, usize>>)> {
    let mut out = model.clone();
    let n_original: Vec<usize> = model.subgraphs.iter().map(|s| s.tensors.len()).collect();
    let mut laid_out = Vec::new();
    for mut w in works {
        w.body.items = layout::fold(std::mem::take(&mut w.body.items));
        let emitted = layout::emit(&w.body, |k| w.ops[k].output_tensors().collect());
        laid_out.push((w, emitted));
    }
    let mut namer = Namer::default();
    if matches!(naming, Naming::Keep) {
        // The file's names stay; new tensors get names no kept tensor has (a tensor that
        // replaces a dropped constant can take over its name).
        for (s, (w, emitted)) in laid_out.iter().enumerate() {
            for &t in emitted.tensors.iter().filter(|&&t| t < n_original[s]) {
                namer.unique(&w.tensors[t].name);
            }
        }
    }
    let mut maps = Vec::new();
    for (s, (w, emitted)) in laid_out.into_iter().enumerate() {
        let mut map: HashMap<usize, usize> = HashMap::new();
        for (new, &old) in emitted.tensors.iter().enumerate() {
            map.insert(old, new);
        }
        let mut tensors: Vec<Tensor> = emitted
            .tensors
            .iter()
            .map(|&t| w.tensors[t].clone())
            .collect();
        // The exporter names the function's results first: the pass's reserved tensors,
        // then the subgraph outputs.
        let mut reserved = w.reserved_names.clone();
        reserved.extend(w.outputs.iter().filter(|t| !w.reserved_names.contains(t)));
        if matches!(naming, Naming::Converter) {
            for &t in &reserved {
                if let Some(&i) = map.get(&t) {
                    tensors[i].name = namer.unique(&w.bases[t]);
                }
            }
        }
        for ev in &emitted.names {
            if matches!((ev, &naming), (Ok(t), Naming::Converter) if reserved.contains(t)) {
                continue;
            }
            match (ev, &naming) {
                (Ok(t), Naming::Converter) => tensors[map[t]].name = namer.unique(&w.bases[*t]),
                (Ok(t), Naming::Keep) if *t >= n_original[s] => {
                    tensors[map[t]].name = namer.unique(&w.bases[*t])
                }
                (Ok(_), Naming::Keep) => {}
                (Err(base), Naming::Converter) => {
                    namer.unique(base);
                }
                (Err(_), Naming::Keep) => {}
            }
        }
        let remap = |t: i32, what: &str| -> Result<i32> {
            if t < 0 {
                return Ok(t);
            }
            map.get(&(t as usize)).map(|&n| n as i32).ok_or_else(|| {
                Error::InvalidModel(format!(
                    "subgraph {s}: {what} refers to tensor {t}, which the quantized layout dropped"
                ))
            })
        };
        let mut operators = Vec::new();
        for &k in &emitted.ops {
            let mut op = w.ops[k].clone();
            let name = op.op.name();
            for v in [&mut op.inputs, &mut op.outputs, &mut op.intermediates] {
                for t in v.iter_mut() {
                    *t = remap(*t, &format!("operator {k} ({name})"))?;
                }
            }
            operators.push(op);
        }
        let sg: &Subgraph = &model.subgraphs[s];
        let remap_list = |v: &[usize], what: &str| -> Result<Vec<usize>> {
            v.iter()
                .map(|&t| remap(t as i32, what).map(|t| t as usize))
                .collect()
        };
        let new_sg = Subgraph {
            name: sg.name.clone(),
            tensors,
            inputs: remap_list(&sg.inputs, "an input")?,
            outputs: remap_list(&w.outputs, "an output")?,
            operators,
            debug_metadata_index: sg.debug_metadata_index,
        };
        out.subgraphs[s] = new_sg;
        maps.push(map);
    }
    for sig in &mut out.signature_defs {
        let Some(map) = maps.get(sig.subgraph) else {
            continue;
        };
        let (old_sg, new_sg) = (&model.subgraphs[sig.subgraph], &out.subgraphs[sig.subgraph]);
        for tm in sig.outputs.iter_mut() {
            // An output the pass replaced (an int8 result now behind a DEQUANTIZE): the
            // signature follows the subgraph output at the same position.
            if let Some(&new) = old_sg
                .outputs
                .iter()
                .position(|&o| o == tm.tensor)
                .and_then(|p| new_sg.outputs.get(p))
            {
                tm.tensor = new;
            } else {
                tm.tensor = remap_sig(map, tm.tensor, &sig.key)?;
            }
        }
        for tm in sig.inputs.iter_mut() {
            tm.tensor = remap_sig(map, tm.tensor, &sig.key)?;
        }
    }
    versions::set_versions(&mut out);
    write_metadata(model, &mut out, mode, float16);
    out.validate()?;
    Ok((out, maps))
}

fn remap_sig(map: &HashMap<usize, usize>, t: usize, key: &str) -> Result<usize> {
    map.get(&t).copied().ok_or_else(|| {
        Error::InvalidModel(format!(
            "signature '{key}': tensor {t} was dropped by the quantized layout"
        ))
    })
}

/// The converter's metadata entries: `min_runtime_version` (updated), for float16
/// `reduced_precision_support`, and `CONVERSION_METADATA` last.
fn write_metadata(input: &Model, out: &mut Model, mode: i32, float16: bool) {
    let floor = input
        .metadata(MIN_RUNTIME_VERSION)
        .map(|m| versions::parse_runtime_version(&m.data))
        .unwrap_or_default();
    let rv = versions::runtime_version(out, &floor);
    let previous = input
        .metadata(metadata::CONVERSION_METADATA)
        .and_then(|m| metadata::ConversionMetadata::parse(&m.data));
    out.metadata.retain(|m| {
        m.name != metadata::CONVERSION_METADATA && !(float16 && m.name == REDUCED_PRECISION_SUPPORT)
    });
    if let Some(bytes) = versions::runtime_version_bytes(&rv) {
        let data: crate::model::Data = Arc::from(bytes);
        match out
            .metadata
            .iter_mut()
            .find(|m| m.name == MIN_RUNTIME_VERSION)
        {
            Some(m) => {
                m.data = data;
                m.dangling_buffer = None;
            }
            None => out
                .metadata
                .insert(0, Metadata::new(MIN_RUNTIME_VERSION, data)),
        }
    }
    if float16 {
        let at = out
            .metadata
            .iter()
            .position(|m| m.name == MIN_RUNTIME_VERSION)
            .map_or(0, |p| p + 1);
        out.metadata.insert(
            at,
            Metadata::new(REDUCED_PRECISION_SUPPORT, Arc::from(FP16_ACC_FP32)),
        );
    }
    let mut cm = previous.unwrap_or_default();
    let mut modes = vec![mode];
    modes.extend(metadata::sparsity_modes(out));
    cm.modes = Some(modes);
    cm.model_hash = metadata::model_hash(out);
    out.metadata.push(Metadata::new(
        metadata::CONVERSION_METADATA,
        Arc::from(cm.to_bytes()),
    ));
}
