//! Calibration (and the saturation count's pass) over samples in parallel
//! ([`CalibrationOptions::threads`]): each of the threads runs a sample on its own session
//! and folds it into statistics (an observer) of its own; the
//! main thread reads the samples, and merges each sample's statistics in sample order once
//! its batch is done. The result is the sequential fold's: minima and maxima keep the first
//! of equal values (a later sample's extreme replaces them only when strictly beyond),
//! counts and histograms add, and moving averages see the samples in order. Memory holds one
//! batch of samples and one session per thread, whatever the number of samples.

use crate::data::Dataset;
use crate::engine::{bind_inputs, check_inputs, Engine, Observer, Session};
use crate::model::Model;
use crate::progress::{Phase, Progress};
use crate::quant::calibrate::CalibrationOptions;
use crate::{Error, Result, Tensor};

/// One worker: its session and the input shapes it is prepared for.
struct Worker {
    session: Box<dyn Session + Send>,
    shapes: Vec<Vec<usize>>,
}

/// Run `model` over the samples of `data` (at most `opts.max_samples`) on up to
/// `opts.threads` sessions of `engine` at once (`first`: one, for the stored shapes), each
/// sample shown to an observer of its own (`observer()`), and call `fold` with each sample's
/// observer in sample order. Returns the number of samples; errors name the pass (`what`)
/// and the sample.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stream_parallel<E: Engine, O: Observer + Send>(
    model: &Model,
    engine: &E,
    first: Box<dyn Session + Send>,
    data: &mut dyn Dataset,
    opts: &CalibrationOptions,
    what: Phase,
    observer: impl Fn() -> O + Sync,
    mut fold: impl FnMut(O),
) -> Result<usize> {
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
        let observer = &observer;
        let results: Vec<Result<O>> = std::thread::scope(|s| {
            let mut pieces = workers.iter_mut().zip(&batch);
            let (w0, x0) = pieces.next().expect("a batch has a sample");
            let handles: Vec<_> = pieces
                .map(|(w, x)| s.spawn(move || run_one(w, x, observer())))
                .collect();
            let mut out = vec![run_one(w0, x0, observer())];
            for h in handles {
                out.push(h.join().unwrap_or_else(|_| {
                    Err(Error::Unsupported("a calibration thread panicked".into()))
                }));
            }
            out
        });
        for r in results {
            fold(r.map_err(at(samples))?);
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

/// One sample, shown to `o`.
fn run_one<O: Observer>(w: &mut Worker, inputs: &[Tensor], mut o: O) -> Result<O> {
    w.session.run_observed(inputs, Some(&mut o))?;
    Ok(o)
}
