//! The engine interface: the CPU reference engine implements it now, the GPU engine later.
//! Calibration and evaluation see only this trait.

use crate::model::{DType, Model};
use crate::quant::stats::{StatsAccumulator, StatsRequest};
use crate::{Error, Result, Tensor};

/// One model input or output as a session exposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct IoSpec {
    /// Tensor index in the main subgraph.
    pub tensor: usize,
    /// Tensor name.
    pub name: String,
    /// The name the model's signature gives it, if any.
    pub signature_name: Option<String>,
    /// Element type.
    pub dtype: DType,
    /// Shape the session is prepared for.
    pub shape: Vec<usize>,
    /// Per dimension of `shape`: whether inputs may change it (`-1` in the tensor's shape
    /// signature; [`Engine::prepare_with_input_shapes`]).
    pub dynamic: Vec<bool>,
    /// Per-tensor `(scale, zero_point)` for quantized inputs and outputs.
    pub quant: Option<(f32, i64)>,
}

impl IoSpec {
    /// The name outputs are saved under: the signature name, else the tensor name.
    pub fn key(&self) -> &str {
        self.signature_name.as_deref().unwrap_or(&self.name)
    }
}

/// The names outputs are saved under: [`IoSpec::key`] each, made unique. A model may list
/// one tensor twice as an output (LiteRT runs it and returns the value at both positions);
/// a key seen before gets `_output<position>` appended (and `_` more until unique).
pub fn output_keys(specs: &[IoSpec]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut keys = Vec::with_capacity(specs.len());
    for (k, spec) in specs.iter().enumerate() {
        let mut key = spec.key().to_string();
        if seen.contains(&key) {
            key = format!("{key}_output{k}");
            while seen.contains(&key) {
                key.push('_');
            }
        }
        seen.insert(key.clone());
        keys.push(key);
    }
    keys
}

/// Sees every tensor an engine computes during a run (calibration statistics,
/// `--dump-all`, per-layer comparison).
pub trait Observer {
    /// Called once per tensor value: the model inputs first, then each operator's outputs in
    /// execution order. `tensor` indexes the main subgraph's tensors.
    fn observe(&mut self, tensor: usize, name: &str, value: &Tensor) -> Result<()>;

    /// Whether this observer wants to see `tensor` at all. Engines that must copy a value
    /// to show it (the GPU engine reads it back from the device) skip the tensors an
    /// observer does not want; the CPU engines show every tensor regardless. Default: all.
    fn wants(&self, _tensor: usize) -> bool {
        true
    }
}

/// A model prepared on an engine: kernels chosen, parameters precomputed, ready to run.
pub trait Session {
    /// The model's inputs, in the order [`Session::run`] takes them.
    fn inputs(&self) -> &[IoSpec];
    /// The model's outputs, in the order [`Session::run`] returns them.
    fn outputs(&self) -> &[IoSpec];

    /// Run on inputs in the order of [`Session::inputs`]; outputs in the order of
    /// [`Session::outputs`].
    fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        self.run_observed(inputs, None)
    }

    /// [`Session::run`], showing every computed tensor to `observer`.
    fn run_observed(
        &mut self,
        inputs: &[Tensor],
        observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<Tensor>>;

    /// An accumulator of per-tensor statistics kept on this engine's device
    /// ([`crate::quant::stats`]), for [`Session::run_statistics`]; `Ok(None)` when the engine
    /// has none (the CPU engines: their values are on the host already, and an
    /// [`Observer`] such as [`crate::quant::stats::HostStats`] folds them). Default: `None`.
    fn stats_accumulator(
        &mut self,
        _request: &StatsRequest,
    ) -> Result<Option<Box<dyn StatsAccumulator>>> {
        Ok(None)
    }

    /// Run on `inputs` and fold the statistics `acc` asks for into it, on the device; only
    /// the statistics stay (outputs are not read back). `acc` comes from
    /// [`Session::stats_accumulator`] of a session of the same model on the same engine.
    fn run_statistics(
        &mut self,
        _inputs: &[Tensor],
        _acc: &mut dyn StatsAccumulator,
    ) -> Result<()> {
        Err(Error::Unsupported(
            "this engine keeps no statistics on a device; observe the run instead".into(),
        ))
    }
}

/// Something that prepares models for running.
pub trait Engine {
    /// The prepared form of a model on this engine.
    type Session: Session;

    /// A short description (engine and device) for reports.
    fn name(&self) -> String;

    /// Choose kernels and precompute everything; an unsupported op or dtype is an error here,
    /// naming the op, its index and dtypes, never in the middle of a run.
    fn prepare(&self, model: &Model) -> Result<Self::Session>;

    /// [`Engine::prepare`] for inputs of other shapes than the stored ones (dynamic
    /// dimensions, `-1` in the input's shape signature): shapes are propagated through the
    /// graph first, as TFLite's `ResizeInputTensor` does.
    fn prepare_with_input_shapes(
        &self,
        model: &Model,
        shapes: &[Vec<usize>],
    ) -> Result<Self::Session> {
        // Shape values (a SHAPE's output, what is computed from it) by the reference kernels.
        let eval = crate::reference::fold::evaluate;
        self.prepare(&model.with_input_shapes_evaluated(shapes, Some(&eval))?)
    }

    /// A session of `model` (for inputs of `shapes`, or the stored ones) that another thread
    /// may run, its kernels on `threads` threads: what calibration over samples in parallel
    /// runs ([`crate::CalibrationOptions::threads`]). `None` (the default): this engine runs
    /// one sample at a time.
    fn sample_session(
        &self,
        _model: &Model,
        _shapes: Option<&[Vec<usize>]>,
        _threads: usize,
    ) -> Option<Result<Box<dyn Session + Send>>> {
        None
    }
}

/// Order inputs given by name or position for a session: `named` entries with a name bind
/// to the input whose signature name or tensor name matches; entries without a name fill
/// the remaining inputs in order. Every input must be given exactly once.
pub fn bind_inputs(specs: &[IoSpec], given: Vec<(Option<String>, Tensor)>) -> Result<Vec<Tensor>> {
    use crate::Error;
    let mut slots: Vec<Option<Tensor>> = vec![None; specs.len()];
    let mut positional = Vec::new();
    for (name, t) in given {
        match name {
            Some(n) => {
                let k = specs
                    .iter()
                    .position(|s| s.signature_name.as_deref() == Some(n.as_str()) || s.name == n)
                    .ok_or_else(|| {
                        let known: Vec<String> =
                            specs.iter().map(|s| format!("'{}'", s.key())).collect();
                        Error::Shape(format!(
                            "the model has no input named '{n}' (inputs: {})",
                            known.join(", ")
                        ))
                    })?;
                if slots[k].is_some() {
                    return Err(Error::Shape(format!("input '{n}' is given twice")));
                }
                slots[k] = Some(t);
            }
            None => positional.push(t),
        }
    }
    let mut positional = positional.into_iter();
    for slot in slots.iter_mut().filter(|s| s.is_none()) {
        *slot = positional.next();
    }
    if positional.next().is_some() {
        return Err(Error::Shape(format!(
            "more inputs given than the model's {}",
            specs.len()
        )));
    }
    slots
        .into_iter()
        .zip(specs)
        .map(|(s, spec)| {
            s.ok_or_else(|| {
                Error::Shape(format!(
                    "input '{}' ({} {:?}) is not given",
                    spec.key(),
                    spec.dtype,
                    spec.shape
                ))
            })
        })
        .collect()
}

/// Check tensors given for a session's inputs (in the order of `specs`): each must have its
/// input's dtype, and its shape, except in the dimensions the model declares dynamic (`-1`
/// in the input's shape signature). An error names the input and both shapes (or dtypes):
/// [`Error::InputShape`], [`Error::InputType`].
pub fn check_inputs(specs: &[IoSpec], inputs: &[Tensor]) -> Result<()> {
    for (spec, t) in specs.iter().zip(inputs) {
        if t.dtype() != spec.dtype {
            return Err(Error::InputType {
                input: spec.key().to_string(),
                expected: spec.dtype,
                actual: t.dtype(),
            });
        }
        let have = t.shape();
        let fits = have.len() == spec.shape.len()
            && have
                .iter()
                .zip(&spec.shape)
                .enumerate()
                .all(|(i, (h, w))| h == w || spec.dynamic.get(i).copied().unwrap_or(false));
        if !fits {
            return Err(Error::InputShape {
                input: spec.key().to_string(),
                expected: spec.shape.clone(),
                actual: have.to_vec(),
            });
        }
    }
    Ok(())
}
