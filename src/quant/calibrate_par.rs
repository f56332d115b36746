//! Calibration over samples in parallel ([`CalibrationOptions::threads`]): each of the
//! threads runs a sample on its own session and folds it into statistics of its own; the
//! main thread reads the samples, and merges each sample's statistics in sample order once
//! its batch is done. The result is the sequential fold's: minima and maxima keep the first
//! of equal values (a later sample's extreme replaces them only when strictly beyond),
//! counts and histograms add, and moving averages see the samples in order. Memory holds one
//! batch of samples and one session per thread, whatever the number of samples.

use crate::data::Dataset;
use crate::engine::{bind_inputs, check_inputs, Engine, Session};
use crate::model::Model;
use crate::progress::{Phase, Progress};
use crate::quant::calibrate::CalibrationOptions;
use crate::quant::stats::{HostStats, StatsRequest, StatsSummary};
use crate::{Error, Result, Tensor};

/// One worker: its session and the input shapes it is prepared for.
struct Worker {
    session: Box<dyn Session + Send>,
    shapes: Vec<Vec<usize>>,
}

/// Run `model` over the samples of `data` (at most `opts.max_samples`) on up to
/// `opts.threads` sessions of `engine` at once (`first`: one, for the stored shapes), calling
/// `fold` with each sample's statistics in sample order. Returns the number of samples.
pub(crate) fn stream_parallel<E: Engine>(
    model: &Model,
    engine: &E,
    first: Box<dyn Session + Send>,
    data: &mut dyn Dataset,
    opts: &CalibrationOptions,
    request: &StatsRequest,
    mut fold: impl FnMut(&StatsSummary),
) -> Result<usize> {
    let what = Phase::Calibration;
    let specs = first.inputs().to_vec();
    let stored: Vec<Vec<usize>> = specs.iter().map(|s| s.shape.clone()).collect();
    let mut workers = vec![Worker {
        session: first,
        shapes: stored.clone(),
    }];
    let threads = opts.threads.max(1);
    let total = match (data.len_hint(), opts.max_samples) {
        (Some(n), Some(m)) => Some(n.min(m)),
        (n, m) => n.or(m),
    };
    let at = |index: usize| {
        move |e: Error| Error::Sample {
            pass: what.name().to_string(),
            index,
            source: Box::new(e),
        }
    };
    let mut samples = 0;
    let mut done = false;
    while !done {
        // Read a batch, each sample checked, and a session of its shapes for each.
        let mut batch: Vec<Vec<Tensor>> = Vec::with_capacity(threads);
        while batch.len() < threads {
            if opts.max_samples.is_some_and(|m| samples + batch.len() >= m) {
                done = true;
                break;
            }
            opts.cancel.check()?;
            let index = samples + batch.len();
            let Some(sample) = data.next_sample() else {
                done = true;
                break;
            };
            let inputs = bind_inputs(&specs, sample.map_err(at(index))?).map_err(at(index))?;
            check_inputs(&specs, &inputs).map_err(at(index))?;
            let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
            let w = batch.len();
            if w == workers.len() || workers[w].shapes != shapes {
                let session = engine
                    .sample_session(model, (shapes != stored).then_some(shapes.as_slice()), 1)
                    .unwrap_or_else(|| Err(Error::Unsupported("no sample sessions".into())))
                    .map_err(at(index))?;
                let worker = Worker { session, shapes };
                if w == workers.len() {
                    workers.push(worker);
                } else {
                    workers[w] = worker;
                }
            }
            batch.push(inputs);
        }
        if batch.is_empty() {
            break;
        }
        let results: Vec<Result<StatsSummary>> = std::thread::scope(|s| {
            let mut pieces = workers.iter_mut().zip(&batch);
            let (w0, x0) = pieces.next().expect("a batch has a sample");
            let handles: Vec<_> = pieces
                .map(|(w, x)| s.spawn(move || run_one(w, x, request)))
                .collect();
            let mut out = vec![run_one(w0, x0, request)];
            for h in handles {
                out.push(h.join().unwrap_or_else(|_| {
                    Err(Error::Unsupported("a calibration thread panicked".into()))
                }));
            }
            out
        });
        for r in results {
            let summary = r.map_err(at(samples))?;
            fold(&summary);
            samples += 1;
            if let Some(p) = &opts.progress {
                p.call(Progress {
                    done: samples,
                    total,
                    phase: what,
                });
            }
        }
    }
    opts.cancel.check()?;
    Ok(samples)
}

/// One sample's statistics.
fn run_one(w: &mut Worker, inputs: &[Tensor], request: &StatsRequest) -> Result<StatsSummary> {
    let mut host = HostStats::new(request);
    w.session.run_observed(inputs, Some(&mut host))?;
    Ok(host.summary)
}
