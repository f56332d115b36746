//! Calibration: run the float model over representative samples and keep, for every float
//! tensor, the global min/max over all elements of all samples — as TF's calibrator does
//! (no moving average). NaN and ±Inf are counted and reported, never folded into a range.

use std::collections::BTreeMap;

use crate::data::Dataset;
use crate::engine::{bind_inputs, Engine, Observer, Session};
use crate::model::Model;
use crate::{Buf, Error, Result, Tensor};

/// What calibration saw of one tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorStats {
    /// Smallest finite value (`+inf` if none was finite).
    pub min: f32,
    /// Largest finite value (`-inf` if none was finite).
    pub max: f32,
    /// Finite values seen.
    pub count: u64,
    pub nan: u64,
    pub inf: u64,
}

impl Default for TensorStats {
    fn default() -> Self {
        TensorStats {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            count: 0,
            nan: 0,
            inf: 0,
        }
    }
}

impl TensorStats {
    fn add(&mut self, values: &[f32]) {
        for &v in values {
            if v.is_nan() {
                self.nan += 1;
            } else if v.is_infinite() {
                self.inf += 1;
            } else {
                self.count += 1;
                if v < self.min {
                    self.min = v;
                }
                if v > self.max {
                    self.max = v;
                }
            }
        }
    }

    /// Whether any finite value was seen.
    pub fn has_range(&self) -> bool {
        self.count > 0
    }
}

/// Calibration statistics of a model's main subgraph, by tensor index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub tensors: BTreeMap<usize, TensorStats>,
    /// Samples run.
    pub samples: usize,
}

impl Stats {
    /// Tensors in which NaN or ±Inf appeared: (index, nan count, inf count).
    pub fn non_finite(&self) -> Vec<(usize, u64, u64)> {
        self.tensors
            .iter()
            .filter(|(_, s)| s.nan > 0 || s.inf > 0)
            .map(|(&t, s)| (t, s.nan, s.inf))
            .collect()
    }
}

/// Calibration settings.
#[derive(Debug, Clone)]
pub struct CalibrationOptions {
    /// Stop after this many samples.
    pub max_samples: Option<usize>,
    /// Called after each sample with (samples done, total if known).
    pub progress: Option<fn(usize, Option<usize>)>,
    /// Record ranges as TensorFlow's calibrator does (default): it logs an op's inputs after
    /// the op ran, and LiteRT runs ADD/SUB/MUL/DIV in place on an input that only they read,
    /// so that input's range also spans the op's output ([`in_place_pairs`]). `false`: every
    /// tensor's range is that of the values it holds.
    pub converter_in_place: bool,
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        CalibrationOptions {
            max_samples: None,
            progress: None,
            converter_in_place: true,
        }
    }
}

/// The (input, output) tensor pairs of the main subgraph that LiteRT's arena planner makes
/// share one buffer, for the ops that overwrite it (ADD, SUB, MUL, DIV: `inplace_operator`
/// input 0 or 1 shared, data changed) — `ArenaPlanner::IdentifyInPlaceTensors` and
/// `InputTensorCanBeShared`: the first of the op's first two inputs that has the output's
/// byte size (more than 4 bytes), is read once in the whole graph (a graph output or input
/// counts as a read), is not a graph input nor constant, while the output is not a graph
/// output; and the buffer it already shares (a chain of such ops) is read once too.
pub fn in_place_pairs(model: &Model) -> Vec<(usize, usize)> {
    let sg = model.main();
    let n = sg.tensors.len();
    let mut refcount = vec![0usize; n];
    for &t in sg.outputs.iter().chain(&sg.inputs) {
        if t < n {
            refcount[t] += 1;
        }
    }
    for (t, tensor) in sg.tensors.iter().enumerate() {
        if tensor.is_variable {
            refcount[t] += 1;
        }
    }
    for op in &sg.operators {
        for t in op.input_tensors() {
            refcount[t] += 1;
        }
    }
    let bytes = |t: usize| sg.tensors[t].dense_bytes();
    let mut root: BTreeMap<usize, usize> = BTreeMap::new();
    let mut pairs = Vec::new();
    for op in &sg.operators {
        if !matches!(op.op.name().as_str(), "ADD" | "SUB" | "MUL" | "DIV") {
            continue;
        }
        let Some(&out) = op.outputs.first() else {
            continue;
        };
        let Ok(out) = usize::try_from(out) else {
            continue;
        };
        if out >= n || sg.outputs.contains(&out) {
            continue;
        }
        let shareable = |t: usize| {
            let tensor = &sg.tensors[t];
            bytes(t).is_some_and(|b| b > 4)
                && bytes(t) == bytes(out)
                && refcount[t] <= 1
                && !sg.inputs.contains(&t)
                && tensor.data.is_none()
                && !tensor.is_variable
        };
        let chosen = op
            .inputs
            .iter()
            .take(2)
            .filter_map(|&i| usize::try_from(i).ok())
            .find(|&t| t < n && shareable(t));
        let Some(input) = chosen else {
            continue;
        };
        let r = root.get(&input).copied().unwrap_or(input);
        if refcount[r] > 1 {
            continue;
        }
        root.insert(out, r);
        pairs.push((input, out));
    }
    pairs
}

/// Widen the ranges as TF's calibrator sees them (see [`CalibrationOptions::converter_in_place`]):
/// an overwritten input's range also spans the op's output, as that output was (not as a
/// later op overwrote it in turn).
fn widen_in_place(model: &Model, stats: &mut Stats) {
    // The outputs' own ranges, read before any input is widened.
    let widen: Vec<(usize, f32, f32)> = in_place_pairs(model)
        .into_iter()
        .filter_map(|(input, output)| {
            let o = stats.tensors.get(&output).filter(|o| o.has_range())?;
            Some((input, o.min, o.max))
        })
        .collect();
    for (input, lo, hi) in widen {
        if let Some(i) = stats.tensors.get_mut(&input) {
            i.min = i.min.min(lo);
            i.max = i.max.max(hi);
        }
    }
}

struct Collect<'a>(&'a mut BTreeMap<usize, TensorStats>);

impl Observer for Collect<'_> {
    fn observe(&mut self, tensor: usize, _name: &str, value: &Tensor) -> Result<()> {
        if let Buf::F32(v) = value.buf() {
            self.0.entry(tensor).or_default().add(v);
        }
        Ok(())
    }
}

/// Run `model` (float) on `engine` over `data` and collect every float tensor's statistics.
/// Memory does not grow with the number of samples: samples are streamed and only the
/// per-tensor statistics are kept.
pub fn calibrate<E: Engine>(
    model: &Model,
    engine: &E,
    data: &mut dyn Dataset,
    opts: &CalibrationOptions,
) -> Result<Stats> {
    let mut stats = Stats::default();
    stats.samples = stream(
        model,
        engine,
        data,
        opts,
        &mut Collect(&mut stats.tensors),
        "calibration",
    )?;
    if stats.samples == 0 {
        return Err(Error::Data("the calibration data holds no samples".into()));
    }
    if opts.converter_in_place {
        widen_in_place(model, &mut stats);
    }
    Ok(stats)
}

/// The pass behind [`calibrate`] (and the saturation count's second pass): run `model` on
/// `engine` over the samples of `data` (at most `opts.max_samples`, progress reported),
/// showing every computed tensor to `observer`. Returns the number of samples run; errors
/// name the pass (`what`) and the sample.
pub(crate) fn stream<E: Engine>(
    model: &Model,
    engine: &E,
    data: &mut dyn Dataset,
    opts: &CalibrationOptions,
    observer: &mut dyn Observer,
    what: &str,
) -> Result<usize> {
    let mut session = engine.prepare(model)?;
    let specs = session.inputs().to_vec();
    // The input shapes the session is prepared for: samples of other shapes (dynamic
    // dimensions, -1 in the input's shape signature) re-prepare it, as TFLite's
    // ResizeInputTensor does; a shape the signature does not allow is an error there.
    let mut prepared: Vec<Vec<usize>> = specs.iter().map(|s| s.shape.clone()).collect();
    let total = match (data.len_hint(), opts.max_samples) {
        (Some(n), Some(m)) => Some(n.min(m)),
        (n, m) => n.or(m),
    };
    let mut samples = 0;
    while opts.max_samples.is_none_or(|m| samples < m) {
        let Some(sample) = data.next_sample() else {
            break;
        };
        let at = |e: Error| Error::Data(format!("{what} sample {samples}: {e}"));
        let inputs = bind_inputs(&specs, sample?).map_err(at)?;
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
        if shapes != prepared {
            session = engine
                .prepare_with_input_shapes(model, &shapes)
                .map_err(at)?;
            prepared = shapes;
        }
        session
            .run_observed(&inputs, Some(&mut *observer))
            .map_err(at)?;
        samples += 1;
        if let Some(p) = opts.progress {
            p(samples, total);
        }
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_are_counted_not_ranged() {
        let mut s = TensorStats::default();
        s.add(&[1.0, f32::NAN, -2.0, f32::INFINITY, f32::NEG_INFINITY, 0.5]);
        assert_eq!((s.min, s.max, s.count, s.nan, s.inf), (-2.0, 1.0, 3, 1, 2));
        let mut e = TensorStats::default();
        e.add(&[f32::NAN]);
        assert!(!e.has_range());
    }
}
