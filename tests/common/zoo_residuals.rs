//! The documented differences between `litequant quantize` of the reduced zoo and the
//! converter's files (`tests/fixtures/zoo/residuals.json`), per pair and per tensor:
//!
//! - `name`: only the tensor's name differs (the converter's numbering of constants);
//! - `scale_ulp`: the scales differ by at most this many float32 ulp (calibration's float
//!   order), with `data` set where an int32 bias quantized from them differs too;
//! - `other`: any other field of the tensor;
//! - `structural`: the pair's operators or tensor list differ (shared constants, order), so
//!   tensor-by-tensor diffs cascade: the first such diff line, pinned, stands for the pair.
//!
//! A pair must differ exactly as documented: the same tensors, each field listed, no scale
//! farther than its bound, and a documented residual that no longer occurs is reported (so
//! the file cannot go stale). `LITEQUANT_ZOO_RESIDUALS=write cargo test --test zoo litequant`
//! rewrites the file from a run (then review the diff; causes are in docs/zoo.md).

use std::collections::BTreeMap;

use litequant::Model;
use serde::{Deserialize, Serialize};

use crate::quantize_common::diffs;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TensorResidual {
    #[serde(default, skip_serializing_if = "is_false")]
    pub name: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scale_ulp: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub data: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !b
}
fn is_zero(v: &i64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PairResidual {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structural: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tensors: BTreeMap<String, TensorResidual>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Residuals(pub BTreeMap<String, PairResidual>);

fn path() -> std::path::PathBuf {
    super::common::zoo::dir().join("residuals.json")
}

fn ulps(a: &[f32], b: &[f32]) -> i64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x.to_bits() as i64 - y.to_bits() as i64).abs())
        .max()
        .unwrap_or(0)
}

/// "tensor {i} ('{name}'): {field}: ..." → (i, name, field).
fn parse(line: &str) -> Option<(usize, &str, &str)> {
    let rest = line.strip_prefix("tensor ")?;
    let (i, rest) = rest.split_once(" ('")?;
    let (name, rest) = rest.split_once("'): ")?;
    Some((i.parse().ok()?, name, rest.split(':').next()?))
}

impl Residuals {
    pub fn load() -> Residuals {
        let text = std::fs::read_to_string(path()).expect("tests/fixtures/zoo/residuals.json");
        serde_json::from_str(&text).expect("residuals.json")
    }

    pub fn write(&self) {
        let text = serde_json::to_string_pretty(self).unwrap();
        std::fs::write(path(), text + "\n").unwrap();
    }

    /// Pairs that differ at all.
    pub fn pairs(&self) -> usize {
        self.0.len()
    }

    pub fn tensors(&self) -> usize {
        self.0.values().map(|p| p.tensors.len()).sum()
    }

    /// Record how `ours` differs from `theirs` (nothing when every field is equal).
    pub fn record(&mut self, key: &str, ours: &Model, theirs: &Model) {
        let d = diffs(ours, theirs);
        if d.is_empty() {
            return;
        }
        let mut pair = PairResidual::default();
        if let Some(first) = d.iter().find(|l| parse(l).is_none()) {
            // Pinned to its first line (the detail after a newline is left out).
            pair.structural = Some(first.lines().next().unwrap_or("").to_string());
            self.0.insert(key.to_string(), pair);
            return;
        }
        for line in &d {
            let (i, name, field) = parse(line).unwrap();
            let t = pair.tensors.entry(name.to_string()).or_default();
            match field {
                "name" => t.name = true,
                "data" => t.data = true,
                "quantization" => {
                    let (a, b) = (&ours.main().tensors[i], &theirs.main().tensors[i]);
                    match (&a.quant, &b.quant) {
                        (Some(qa), Some(qb))
                            if qa.scale.len() == qb.scale.len()
                                && qa.zero_point == qb.zero_point
                                && (qa.min.as_slice(), qa.max.as_slice())
                                    == (qb.min.as_slice(), qb.max.as_slice()) =>
                        {
                            t.scale_ulp = ulps(&qa.scale, &qb.scale)
                        }
                        _ => t.other.push("quantization".into()),
                    }
                }
                f => t.other.push(f.to_string()),
            }
        }
        self.0.insert(key.to_string(), pair);
    }

    /// How `found` departs from these documented residuals (empty when it matches).
    pub fn differences(&self, found: &Residuals) -> Vec<String> {
        let mut out = Vec::new();
        let keys: std::collections::BTreeSet<&String> =
            self.0.keys().chain(found.0.keys()).collect();
        for key in keys {
            match (self.0.get(key), found.0.get(key)) {
                (Some(_), None) => out.push(format!(
                    "{key}: documented residual no longer occurs (fields equal): update residuals.json"
                )),
                (None, Some(f)) => out.push(format!("{key}: undocumented difference: {f:?}")),
                (Some(doc), Some(f)) => {
                    if doc.structural != f.structural {
                        out.push(format!(
                            "{key}: structural difference {:?}, documented {:?}",
                            f.structural, doc.structural
                        ));
                    }
                    let names: std::collections::BTreeSet<&String> =
                        doc.tensors.keys().chain(f.tensors.keys()).collect();
                    for n in names {
                        match (doc.tensors.get(n), f.tensors.get(n)) {
                            (Some(d), Some(g)) => {
                                let within = g.scale_ulp <= d.scale_ulp
                                    && (g.scale_ulp == 0) == (d.scale_ulp == 0);
                                if !within || (d.name, d.data, &d.other) != (g.name, g.data, &g.other)
                                {
                                    out.push(format!("{key}: tensor '{n}': {g:?}, documented {d:?}"));
                                }
                            }
                            (d, g) => out.push(format!(
                                "{key}: tensor '{n}': found {g:?}, documented {d:?}"
                            )),
                        }
                    }
                }
                (None, None) => {}
            }
        }
        out
    }
}
