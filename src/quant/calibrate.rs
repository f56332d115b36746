//! Calibration: run the float model over representative samples and keep, for every float
//! tensor, the global min/max over all elements of all samples — as TF's calibrator does
//! (no moving average). NaN and ±Inf are counted and reported, never folded into a range.
//!
//! On an engine that keeps statistics on its device (the GPU engine), the statistics are
//! computed there by reduction kernels and only they are read back, once, at the end
//! ([`Session::stats_accumulator`]); elsewhere the host folds every value an engine shows
//! ([`HostStats`]). Both give the same statistics for the same values; what differs between
//! engines is the values (a GPU's float kernels sum in another order), so GPU ranges are
//! within a few float32 ulp of the reference's, and equal only with the reference engine.

use std::collections::BTreeMap;

use crate::data::Dataset;
use crate::engine::{bind_inputs, Engine, Observer, Session};
use crate::model::{DType, Model};
use crate::progress::{CancelToken, Phase, Progress, ProgressFn};
use crate::quant::methods::MovingAverage;
pub use crate::quant::stats::TensorStats;
use crate::quant::stats::{Histogram, HistogramSpec, HostStats, StatsRequest};
use crate::{Error, Result, Tensor};

/// Calibration statistics of a model's main subgraph, by tensor index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// The ranges and counts of every float tensor (ranges widened as TF's calibrator sees
    /// them when [`CalibrationOptions::converter_in_place`]).
    pub tensors: BTreeMap<usize, TensorStats>,
    /// The histograms [`CalibrationOptions::histograms`] asked for, by tensor index.
    pub histograms: BTreeMap<usize, Histogram>,
    /// Samples run.
    pub samples: usize,
    /// Moving averages of per-sample ranges ([`CalibrationOptions::moving_averages`]).
    pub moving_averages: Vec<MovingAverage>,
    /// The statistics of the tensors whose range the in-place widening changed, as they
    /// were before (the tensors' own values; the methods other than `minmax` use them).
    pub unwidened: BTreeMap<usize, TensorStats>,
    /// `None`: the ranges are calibration's (`minmax`); otherwise what chose them
    /// ([`Stats::with_method`]: the method, [`Stats::with_ranges`]: `per-tensor`). Chosen
    /// ranges may clip the values: the report counts their saturation on the data.
    pub chosen_by: Option<String>,
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
    /// Called after each sample ([`Progress`]: samples done, total if known, phase).
    pub progress: Option<ProgressFn>,
    /// Stops the pass before its next sample with [`Error::Cancelled`] once cancelled.
    pub cancel: CancelToken,
    /// Record ranges as TensorFlow's calibrator does (default): it logs an op's inputs after
    /// the op ran, and LiteRT runs ADD/SUB/MUL/DIV in place on an input that only they read,
    /// so that input's range also spans the op's output ([`in_place_pairs`]). `false`: every
    /// tensor's range is that of the values it holds.
    pub converter_in_place: bool,
    /// Histograms to count, by tensor index (float32 tensors the model computes: inputs
    /// and operator outputs). They hold the values each tensor holds (the in-place widening
    /// of [`CalibrationOptions::converter_in_place`] applies to min/max only).
    pub histograms: BTreeMap<usize, HistogramSpec>,
    /// Compute the statistics on the engine's device when it can (default); `false`: read
    /// every tensor back and fold it on the host (slower; the same statistics).
    pub device_statistics: bool,
    /// Moving averages of per-sample min/max to keep, by momentum
    /// ([`crate::quant::methods::moving_average`]); each sample's statistics are folded in
    /// after it ran (on a device engine, read back per sample: a few words per tensor).
    pub moving_averages: Vec<f64>,
    /// Samples run at once, each on its own thread, on engines that can
    /// ([`Engine::sample_session`]: the fast CPU engine); the statistics are merged in sample
    /// order, so they are those of one sample at a time. Default 1.
    pub threads: usize,
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        CalibrationOptions {
            max_samples: None,
            progress: None,
            cancel: CancelToken::default(),
            converter_in_place: true,
            histograms: BTreeMap::new(),
            device_statistics: true,
            moving_averages: Vec::new(),
            threads: 1,
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
            let before = *i;
            i.min = i.min.min(lo);
            i.max = i.max.max(hi);
            if *i != before {
                stats.unwidened.entry(input).or_insert(before);
            }
        }
    }
}

/// Run `model` (float) on `engine` over `data` and collect every float tensor's statistics.
/// Memory does not grow with the number of samples: samples are streamed and only the
/// per-tensor statistics are kept (on the device, for engines that keep them there).
pub fn calibrate<E: Engine>(
    model: &Model,
    engine: &E,
    data: &mut dyn Dataset,
    opts: &CalibrationOptions,
) -> Result<Stats> {
    check_histograms(model, &opts.histograms)?;
    let request = StatsRequest {
        tensors: None,
        histograms: opts.histograms.clone(),
    };
    let mut session = engine.prepare(model)?;
    let device = if opts.device_statistics {
        session.stats_accumulator(&request)?
    } else {
        None
    };
    let mut averages: Vec<MovingAverage> = opts
        .moving_averages
        .iter()
        .map(|&m| MovingAverage::new(m))
        .collect();
    let (summary, samples) = match device {
        Some(mut acc) => {
            let samples = stream_on(
                model,
                engine,
                session,
                data,
                opts,
                Phase::Calibration,
                |s, x| {
                    s.run_statistics(x, acc.as_mut())?;
                    if !averages.is_empty() {
                        let sample = acc.read_sample()?;
                        for a in &mut averages {
                            a.add_sample(sample.iter().map(|(&t, s)| (t, s)));
                        }
                    }
                    Ok(())
                },
            )?;
            (acc.read()?, samples)
        }
        None if opts.threads > 1 => {
            // Samples on several threads where the engine can, merged in sample order.
            match engine.sample_session(model, None, 1).transpose()? {
                Some(first) => {
                    drop(session);
                    let mut host = HostStats::new(&request);
                    let samples = super::calibrate_par::stream_parallel(
                        model,
                        engine,
                        first,
                        data,
                        opts,
                        Phase::Calibration,
                        || HostStats::new(&request),
                        |sample| {
                            let sample = &sample.summary;
                            host.merge(sample);
                            for a in &mut averages {
                                a.add_sample(sample.tensors.iter().map(|(&t, s)| (t, s)));
                            }
                        },
                    )?;
                    (host.summary, samples)
                }
                None => {
                    sequential_host(model, engine, session, data, opts, &request, &mut averages)?
                }
            }
        }
        None => sequential_host(model, engine, session, data, opts, &request, &mut averages)?,
    };
    if samples == 0 {
        return Err(Error::Data("the calibration data holds no samples".into()));
    }
    let mut stats = Stats {
        tensors: summary.tensors,
        histograms: summary.histograms,
        samples,
        moving_averages: averages,
        unwidened: BTreeMap::new(),
        chosen_by: None,
    };
    if opts.converter_in_place {
        widen_in_place(model, &mut stats);
    }
    Ok(stats)
}

/// The host fold, one sample at a time.
fn sequential_host<E: Engine>(
    model: &Model,
    engine: &E,
    session: E::Session,
    data: &mut dyn Dataset,
    opts: &CalibrationOptions,
    request: &StatsRequest,
    averages: &mut [MovingAverage],
) -> Result<(crate::quant::stats::StatsSummary, usize)> {
    let mut host = HostStats::new(request);
    if !averages.is_empty() {
        host.track_samples();
    }
    let samples = stream_on(
        model,
        engine,
        session,
        data,
        opts,
        Phase::Calibration,
        |s, x| {
            s.run_observed(x, Some(&mut host)).map(drop)?;
            if !averages.is_empty() {
                let sample = host.take_sample();
                for a in averages.iter_mut() {
                    a.add_sample(sample.iter().map(|(&t, s)| (t, s)));
                }
            }
            Ok(())
        },
    )?;
    Ok((host.summary, samples))
}

/// Histograms are of float32 tensors a run computes (model inputs, operator outputs).
fn check_histograms(model: &Model, histograms: &BTreeMap<usize, HistogramSpec>) -> Result<()> {
    let sg = model.main();
    for &t in histograms.keys() {
        let computed = sg.inputs.contains(&t)
            || sg
                .operators
                .iter()
                .any(|op| op.output_tensors().any(|o| o == t));
        match sg.tensors.get(t) {
            Some(x) if computed && x.dtype == DType::F32 => {}
            Some(x) => {
                return Err(Error::Data(format!(
                    "a histogram of tensor {t} ('{}', {}) was asked for: only float32 tensors \
                     the model computes (inputs, operator outputs) have one",
                    x.name, x.dtype
                )))
            }
            None => {
                return Err(Error::Data(format!(
                    "a histogram of tensor {t} was asked for: the model has {} tensors",
                    sg.tensors.len()
                )))
            }
        }
    }
    Ok(())
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
    what: Phase,
) -> Result<usize> {
    let session = engine.prepare(model)?;
    stream_on(model, engine, session, data, opts, what, |s, x| {
        s.run_observed(x, Some(&mut *observer)).map(drop)
    })
}

/// [`stream`] over samples in parallel where the engine can ([`Engine::sample_session`],
/// `opts.threads` over 1): each sample shown to an observer of its own (`observer()`), folded
/// by `fold` in sample order; `None` where the engine runs one sample at a time.
pub(crate) fn stream_samples_parallel<E: Engine, O: Observer + Send>(
    model: &Model,
    engine: &E,
    data: &mut dyn Dataset,
    opts: &CalibrationOptions,
    what: Phase,
    observer: impl Fn() -> O + Sync,
    fold: impl FnMut(O),
) -> Option<Result<usize>> {
    if opts.threads <= 1 {
        return None;
    }
    let first = match engine.sample_session(model, None, 1)? {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    Some(super::calibrate_par::stream_parallel(
        model, engine, first, data, opts, what, observer, fold,
    ))
}

/// [`stream`] with a session already prepared for `model`'s stored shapes, each sample run
/// by `run_one`.
fn stream_on<E: Engine>(
    model: &Model,
    engine: &E,
    mut session: E::Session,
    data: &mut dyn Dataset,
    opts: &CalibrationOptions,
    what: Phase,
    mut run_one: impl FnMut(&mut E::Session, &[Tensor]) -> Result<()>,
) -> Result<usize> {
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
        opts.cancel.check()?;
        let Some(sample) = data.next_sample() else {
            break;
        };
        let at = |e: Error| Error::Sample {
            pass: what.name().to_string(),
            index: samples,
            source: Box::new(e),
        };
        let inputs = bind_inputs(&specs, sample.map_err(at)?).map_err(at)?;
        crate::engine::check_inputs(&specs, &inputs).map_err(at)?;
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
        if shapes != prepared {
            session = engine
                .prepare_with_input_shapes(model, &shapes)
                .map_err(at)?;
            prepared = shapes;
        }
        run_one(&mut session, &inputs).map_err(at)?;
        samples += 1;
        if let Some(p) = &opts.progress {
            p.call(Progress {
                done: samples,
                total,
                phase: what,
            });
        }
    }
    opts.cancel.check()?;
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Op, Operator, Subgraph, Tensor as MTensor};

    fn reshape_model() -> Model {
        let sg = Subgraph {
            name: None,
            tensors: vec![
                MTensor::new("x", DType::F32, vec![1, 4]),
                MTensor::new("y", DType::F32, vec![4]),
                MTensor::new("i", DType::I32, vec![4]),
            ],
            inputs: vec![0, 2],
            outputs: vec![1],
            operators: vec![Operator {
                op: Op::Reshape {
                    new_shape: Some(vec![4]),
                },
                version: 1,
                inputs: vec![0],
                outputs: vec![1],
                intermediates: Vec::new(),
                mutating_variable_inputs: Vec::new(),
                debug_metadata_index: -1,
                options_omitted: false,
            }],
            debug_metadata_index: -1,
        };
        Model {
            version: crate::model::SCHEMA_VERSION,
            description: None,
            subgraphs: vec![sg],
            metadata: Vec::new(),
            signature_defs: Vec::new(),
            legacy_metadata_buffers: Vec::new(),
            external_buffer_groups: Vec::new(),
            external_buffers: Vec::new(),
            unused_operator_codes: Vec::new(),
        }
    }

    #[test]
    fn histograms_only_of_computed_float_tensors() {
        let m = reshape_model();
        let spec = HistogramSpec::new(0.0, 1.0, 8).unwrap();
        for (t, ok) in [(0, true), (1, true), (2, false), (3, false)] {
            let h = BTreeMap::from([(t, spec)]);
            assert_eq!(check_histograms(&m, &h).is_ok(), ok, "tensor {t}");
        }
    }
}
