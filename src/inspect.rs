//! `litequant inspect`: a summary of a model for people (text) and scripts (JSON).
//!
//! The JSON form is stable: fields are only ever added, never renamed or removed, and
//! `format` is bumped if a meaning changes. It is documented in `docs/inspect-json.md`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Serialize;

use crate::model::{DType, Model, OpKind, QuantParams, Tensor};

/// The version of the JSON layout.
pub const FORMAT: u32 = 1;

/// Everything `inspect` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version of the inspect JSON form (docs/inspect-json.md).
    pub format: u32,
    /// Size of the file, when read from one.
    pub file_bytes: Option<u64>,
    /// The model's schema version.
    pub schema_version: u32,
    /// The model's description string.
    pub description: Option<String>,
    /// Every subgraph.
    pub subgraphs: Vec<SubgraphReport>,
    /// The signatures (named entry points).
    pub signatures: Vec<SignatureReport>,
    /// The metadata entries.
    pub metadata: Vec<MetadataReport>,
    /// Operator counts over all subgraphs, by op name (custom ops by custom code).
    pub op_histogram: BTreeMap<OpKind, usize>,
    /// Bytes of constant tensor data by dtype name, over all subgraphs.
    pub weight_bytes: BTreeMap<String, u64>,
    /// Bytes of constant data, all dtypes.
    pub weight_bytes_total: u64,
    /// What LiteRT tolerates in the model but a careful writer would not produce (dangling
    /// metadata references, unused operator codes, ...), one line each; the model loads,
    /// runs and round-trips as it is. See docs/reading.md.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
/// One subgraph in an inspect [`Report`].
pub struct SubgraphReport {
    /// Subgraph index.
    pub index: usize,
    /// Subgraph name, if any.
    pub name: Option<String>,
    /// Its inputs.
    pub inputs: Vec<IoReport>,
    /// Its outputs.
    pub outputs: Vec<IoReport>,
    /// Every tensor.
    pub tensors: Vec<TensorInfo>,
    /// Every operator, in execution order.
    pub operators: Vec<OperatorReport>,
    /// Operator count by op name.
    pub op_histogram: BTreeMap<OpKind, usize>,
}

/// A subgraph input or output.
#[derive(Debug, Clone, Serialize)]
pub struct IoReport {
    /// Tensor index in the subgraph.
    pub tensor: usize,
    /// Tensor name.
    pub name: String,
    /// The name the subgraph's signature gives it, if any.
    pub signature_name: Option<String>,
    /// Element type (prints as `FLOAT32`, `INT8`, ...).
    pub dtype: DType,
    /// Stored shape.
    pub shape: Vec<i32>,
    /// Shape signature (`-1`: dynamic dimension), when the file has one.
    pub shape_signature: Option<Vec<i32>>,
    /// Quantization parameters, if any.
    pub quantization: Option<QuantReport>,
}

#[derive(Debug, Clone, Serialize)]
/// One tensor in an inspect [`Report`].
pub struct TensorInfo {
    /// Tensor index in the subgraph.
    pub index: usize,
    /// Tensor name.
    pub name: String,
    /// Element type (prints as `FLOAT32`, `INT8`, ...).
    pub dtype: DType,
    /// Stored shape.
    pub shape: Vec<i32>,
    /// Shape signature (`-1`: dynamic dimension), when the file has one.
    pub shape_signature: Option<Vec<i32>>,
    /// Whether the tensor holds constant data.
    pub constant: bool,
    /// Bytes of constant data (0 for activations).
    pub data_bytes: u64,
    /// Bytes the tensor occupies densely (`None` for strings and other unsized types).
    pub dense_bytes: Option<u64>,
    /// Whether it is a variable (state kept between runs).
    pub is_variable: bool,
    /// Whether it is stored sparse.
    pub sparse: bool,
    /// For a sparse tensor, its sparsity in one line (stored values, levels, blocks).
    pub sparsity: Option<String>,
    /// Quantization parameters, if any.
    pub quantization: Option<QuantReport>,
}

/// Quantization parameters, complete (per-axis arrays in full) for scripts.
#[derive(Debug, Clone, Serialize)]
pub struct QuantReport {
    /// `per_tensor`, `per_axis`, or `none` (an empty table, or only min/max).
    pub kind: &'static str,
    /// Scales (one per tensor or per channel).
    pub scale: Vec<f32>,
    /// Zero points (one per tensor or per channel).
    pub zero_point: Vec<i64>,
    /// The axis of per-axis quantization (`null` otherwise).
    pub axis: Option<i32>,
    /// Recorded minimums, if any.
    pub min: Vec<f32>,
    /// Recorded maximums, if any.
    pub max: Vec<f32>,
    /// Name of the `details` union member, if set.
    pub details: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
/// One operator in an inspect [`Report`].
pub struct OperatorReport {
    /// Operator index (execution order).
    pub index: usize,
    /// The op (prints as `CONV_2D`, or the custom code).
    pub op: OpKind,
    /// The builtin operator code.
    pub builtin_code: i32,
    /// Op version.
    pub version: i32,
    /// Input tensor indices (`-1`: optional input absent).
    pub inputs: Vec<i32>,
    /// Output tensor indices.
    pub outputs: Vec<i32>,
}

#[derive(Debug, Clone, Serialize)]
/// One signature in an inspect [`Report`].
pub struct SignatureReport {
    /// Signature key (`serving_default`).
    pub key: String,
    /// The subgraph it runs.
    pub subgraph: usize,
    /// (Signature name, tensor index) of each input.
    pub inputs: Vec<(String, usize)>,
    /// (Signature name, tensor index) of each output.
    pub outputs: Vec<(String, usize)>,
}

#[derive(Debug, Clone, Serialize)]
/// One metadata entry in an inspect [`Report`].
pub struct MetadataReport {
    /// Entry name.
    pub name: String,
    /// Size of its data.
    pub bytes: usize,
}

fn quant_report(q: &QuantParams) -> QuantReport {
    let kind = match q.scale.len() {
        0 => "none",
        1 => "per_tensor",
        _ => "per_axis",
    };
    QuantReport {
        kind,
        scale: q.scale.clone(),
        zero_point: q.zero_point.clone(),
        axis: (q.scale.len() > 1).then_some(q.quantized_dimension),
        min: q.min.clone(),
        max: q.max.clone(),
        details: q.details.name(),
    }
}

fn tensor_report(index: usize, t: &Tensor) -> TensorInfo {
    TensorInfo {
        index,
        name: t.name.clone(),
        dtype: t.dtype,
        shape: t.shape.clone(),
        shape_signature: t.shape_signature.clone(),
        constant: t.is_constant(),
        data_bytes: t.data.as_ref().map_or(0, |d| d.len() as u64),
        dense_bytes: t.dense_bytes(),
        is_variable: t.is_variable,
        sparse: t.sparsity.is_some(),
        sparsity: t.sparsity.as_ref().map(|sp| sp.summary(&t.shape)),
        quantization: t.quant.as_ref().map(quant_report),
    }
}

impl Report {
    /// Summarise a model; `file_bytes` is the size of the file it came from, if any.
    pub fn new(model: &Model, file_bytes: Option<u64>) -> Report {
        let mut op_histogram = BTreeMap::new();
        let mut weight_bytes = BTreeMap::new();
        let subgraphs = model
            .subgraphs
            .iter()
            .enumerate()
            .map(|(si, sg)| {
                let sig_name = |t: usize, inputs: bool| {
                    model
                        .signature_defs
                        .iter()
                        .filter(|s| s.subgraph == si)
                        .flat_map(|s| if inputs { &s.inputs } else { &s.outputs })
                        .find(|m| m.tensor == t)
                        .map(|m| m.name.clone())
                };
                let io = |ts: &[usize], inputs: bool| -> Vec<IoReport> {
                    ts.iter()
                        .map(|&t| {
                            let tensor = &sg.tensors[t];
                            IoReport {
                                tensor: t,
                                name: tensor.name.clone(),
                                signature_name: sig_name(t, inputs),
                                dtype: tensor.dtype,
                                shape: tensor.shape.clone(),
                                shape_signature: tensor.shape_signature.clone(),
                                quantization: tensor.quant.as_ref().map(quant_report),
                            }
                        })
                        .collect()
                };
                let mut hist = BTreeMap::new();
                for op in &sg.operators {
                    *hist.entry(op.op.kind()).or_insert(0) += 1;
                    *op_histogram.entry(op.op.kind()).or_insert(0) += 1;
                }
                for t in &sg.tensors {
                    if let Some(d) = &t.data {
                        *weight_bytes.entry(t.dtype.name()).or_insert(0) += d.len() as u64;
                    }
                }
                SubgraphReport {
                    index: si,
                    name: sg.name.clone(),
                    inputs: io(&sg.inputs, true),
                    outputs: io(&sg.outputs, false),
                    tensors: sg
                        .tensors
                        .iter()
                        .enumerate()
                        .map(|(i, t)| tensor_report(i, t))
                        .collect(),
                    operators: sg
                        .operators
                        .iter()
                        .enumerate()
                        .map(|(i, o)| OperatorReport {
                            index: i,
                            op: o.op.kind(),
                            builtin_code: o.op.code(),
                            version: o.version,
                            inputs: o.inputs.clone(),
                            outputs: o.outputs.clone(),
                        })
                        .collect(),
                    op_histogram: hist,
                }
            })
            .collect();
        Report {
            format: FORMAT,
            file_bytes,
            schema_version: model.version,
            description: model.description.clone(),
            subgraphs,
            signatures: model
                .signature_defs
                .iter()
                .map(|s| SignatureReport {
                    key: s.key.clone(),
                    subgraph: s.subgraph,
                    inputs: s
                        .inputs
                        .iter()
                        .map(|m| (m.name.clone(), m.tensor))
                        .collect(),
                    outputs: s
                        .outputs
                        .iter()
                        .map(|m| (m.name.clone(), m.tensor))
                        .collect(),
                })
                .collect(),
            metadata: model
                .metadata
                .iter()
                .map(|m| MetadataReport {
                    name: m.name.clone(),
                    bytes: m.data.len(),
                })
                .collect(),
            weight_bytes_total: weight_bytes.values().sum(),
            op_histogram,
            weight_bytes,
            warnings: model.warnings(),
        }
    }

    /// The stable JSON form (pretty-printed).
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail; NaN/inf become null.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// A one-line summary of quantization parameters (per-axis ones summarised).
pub fn quant_summary(q: &QuantReport) -> String {
    match q.kind {
        "per_tensor" => {
            let zp = q.zero_point.first().copied().unwrap_or(0);
            format!("scale {:.6e} zp {zp}", q.scale[0])
        }
        "per_axis" => {
            let (lo, hi) = q
                .scale
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &s| {
                    (a.min(s), b.max(s))
                });
            let zps = if q.zero_point.iter().all(|&z| z == 0) {
                "zp 0".to_string()
            } else {
                let (a, b) = q
                    .zero_point
                    .iter()
                    .fold((i64::MAX, i64::MIN), |(a, b), &z| (a.min(z), b.max(z)));
                format!("zp {a}..{b}")
            };
            format!(
                "per-axis(axis {}, {} scales {lo:.3e}..{hi:.3e}, {zps})",
                q.axis.unwrap_or(0),
                q.scale.len()
            )
        }
        _ if !q.min.is_empty() => format!("range [{:?}, {:?}]", q.min, q.max),
        _ => "-".to_string(),
    }
}

fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 20 => format!("{:.2} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        let size = self
            .file_bytes
            .map(|b| format!(", {}", human_bytes(b)))
            .unwrap_or_default();
        let _ = writeln!(s, "TFLite model (schema v{}{size})", self.schema_version);
        if let Some(d) = &self.description {
            let _ = writeln!(s, "description: {d}");
        }
        for sig in &self.signatures {
            let names = |v: &[(String, usize)]| {
                v.iter()
                    .map(|(n, t)| format!("{n}=t{t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                s,
                "signature '{}' (subgraph {}): inputs [{}] outputs [{}]",
                sig.key,
                sig.subgraph,
                names(&sig.inputs),
                names(&sig.outputs)
            );
        }
        for sg in &self.subgraphs {
            let _ = writeln!(
                s,
                "\nsubgraph {}{}: {} tensors, {} operators",
                sg.index,
                sg.name
                    .as_deref()
                    .map(|n| format!(" '{n}'"))
                    .unwrap_or_default(),
                sg.tensors.len(),
                sg.operators.len()
            );
            for (kind, list) in [("input", &sg.inputs), ("output", &sg.outputs)] {
                for io in list {
                    let q = io
                        .quantization
                        .as_ref()
                        .map(quant_summary)
                        .unwrap_or_default();
                    let sig = io
                        .signature_name
                        .as_deref()
                        .map(|n| format!(" (signature '{n}')"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        s,
                        "  {kind:<6} t{:<4} {}{sig}: {} {:?} {q}",
                        io.tensor, io.name, io.dtype, io.shape
                    );
                }
            }
            let _ = writeln!(s, "  tensors:");
            let _ = writeln!(
                s,
                "    {:>4}  {:<9} {:<18} {:>10}  {:<40} name",
                "#", "dtype", "shape", "size", "quantization"
            );
            for t in &sg.tensors {
                let q = t
                    .quantization
                    .as_ref()
                    .map(quant_summary)
                    .unwrap_or_else(|| "-".into());
                let size = match (t.constant, t.dense_bytes) {
                    (true, _) => format!("{}*", human_bytes(t.data_bytes)),
                    (false, Some(b)) => human_bytes(b),
                    (false, None) => "?".into(),
                };
                let _ = writeln!(
                    s,
                    "    {:>4}  {:<9} {:<18} {:>10}  {:<40} {}",
                    t.index,
                    t.dtype,
                    format!("{:?}", t.shape),
                    size,
                    q,
                    t.name
                );
                if let Some(sp) = &t.sparsity {
                    let _ = writeln!(s, "          {sp}");
                }
            }
            let _ = writeln!(s, "  operators:");
            for o in &sg.operators {
                let _ = writeln!(
                    s,
                    "    {:>4}  {} v{}  in {:?} out {:?}",
                    o.index, o.op, o.version, o.inputs, o.outputs
                );
            }
        }
        let _ = writeln!(s, "\nop histogram:");
        for (op, n) in &self.op_histogram {
            let _ = writeln!(s, "  {op:<28} {n}");
        }
        let _ = writeln!(
            s,
            "weights: {} in all",
            human_bytes(self.weight_bytes_total)
        );
        for (dt, b) in &self.weight_bytes {
            let _ = writeln!(s, "  {dt:<9} {}", human_bytes(*b));
        }
        if !self.metadata.is_empty() {
            let _ = writeln!(s, "metadata:");
            for m in &self.metadata {
                let _ = writeln!(s, "  {} ({} B)", m.name, m.bytes);
            }
        }
        let _ = writeln!(s, "(* constant data)");
        if !self.warnings.is_empty() {
            let _ = writeln!(
                s,
                "\nwarnings ({}; the file loads and round-trips as it is):",
                self.warnings.len()
            );
            for w in &self.warnings {
                let _ = writeln!(s, "  warning: {w}");
            }
        }
        f.write_str(&s)
    }
}
