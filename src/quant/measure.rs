//! Accuracy of a quantized model on held-out samples, as error-guided mixed precision
//! ([`crate::quant::target`]) and automatic calibration ([`crate::quant::auto`]) measure it:
//! per output, relative RMSE `sqrt(Σ(q - f)² / Σf²)` against the float model over all
//! elements of all samples (SQNR is `-20·log10` of it); a model's error is its worst output.

use std::fmt;

use serde::Serialize;

use crate::data::InMemory;
use crate::engine::Engine;
use crate::eval::{evaluate, EvalOptions, EvalReport};
use crate::model::Model;
use crate::{Error, Result};

/// The accuracy the quantized model's outputs must reach (on the worst output).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// SQNR of every output at least this many dB: `10·log10(Σf² / Σ(q - f)²)`.
    SqnrDb(f64),
    /// Relative RMSE of every output at most this: `sqrt(Σ(q - f)² / Σf²)`.
    MaxRelRmse(f64),
}

impl Target {
    /// The bound as a relative RMSE (SQNR `d` dB is `10^(-d/20)`).
    pub fn max_rel_rmse(self) -> f64 {
        match self {
            Target::SqnrDb(d) => 10f64.powf(-d / 20.0),
            Target::MaxRelRmse(x) => x,
        }
    }

    /// Whether a model whose worst output has relative RMSE `rel` meets the target.
    pub fn holds(self, rel: f64) -> bool {
        rel <= self.max_rel_rmse()
    }

    pub(crate) fn validate(self) -> Result<()> {
        let ok = match self {
            Target::SqnrDb(d) => d.is_finite(),
            Target::MaxRelRmse(x) => x.is_finite() && x >= 0.0,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::Data(format!(
                "accuracy target {self}: an SQNR must be a finite number of dB, a relative \
                 RMSE a finite number >= 0"
            )))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Target::SqnrDb(d) => write!(
                f,
                "SQNR >= {d} dB (relative RMSE <= {:.4e})",
                self.max_rel_rmse()
            ),
            Target::MaxRelRmse(x) => write!(
                f,
                "relative RMSE <= {x} (SQNR >= {:.2} dB)",
                -20.0 * x.log10()
            ),
        }
    }
}

/// One output's error on the held-out samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputError {
    /// Output name.
    pub name: String,
    /// RMSE of the difference over the float output's RMS.
    pub rel_rmse: f64,
    /// SQNR, dB.
    pub sqnr_db: f64,
}

/// A probed model: its outputs' errors and its size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    /// Per output.
    pub outputs: Vec<OutputError>,
    /// The worst output's relative RMSE.
    pub worst_rel_rmse: f64,
    /// The model's size as written, bytes.
    pub bytes: usize,
}

impl Measured {
    pub(crate) fn from_eval(e: &EvalReport, bytes: usize) -> Self {
        let outputs: Vec<OutputError> = e
            .outputs
            .iter()
            .map(|o| OutputError {
                name: o.name.clone(),
                // sqnr = 10 log10(Σf² / Σerr²): rel = 10^(-sqnr/20) (0 when equal).
                rel_rmse: if o.sqnr_db.is_nan() {
                    f64::INFINITY
                } else {
                    10f64.powf(-o.sqnr_db / 20.0)
                },
                sqnr_db: o.sqnr_db,
            })
            .collect();
        let worst = outputs.iter().map(|o| o.rel_rmse).fold(0.0, f64::max);
        Measured {
            outputs,
            worst_rel_rmse: worst,
            bytes,
        }
    }

    /// The output with the largest relative RMSE.
    pub fn worst(&self) -> Option<&OutputError> {
        self.outputs
            .iter()
            .max_by(|a, b| a.rel_rmse.total_cmp(&b.rel_rmse))
    }
}

impl fmt::Display for Measured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.worst() {
            Some(w) => write!(
                f,
                "worst output '{}' relative RMSE {:.4e} (SQNR {:.2} dB); {} bytes",
                w.name, w.rel_rmse, w.sqnr_db, self.bytes
            ),
            None => write!(f, "no outputs; {} bytes", self.bytes),
        }
    }
}

/// The error of `quant` against `float` on the `held` samples, both run on `engine`, and
/// its size as written; with `per_layer`, the evaluation compares every shared tensor too.
pub fn measure<E: Engine>(
    float: &Model,
    quant: &Model,
    engine: &E,
    held: &InMemory,
    per_layer: bool,
) -> Result<(Measured, EvalReport)> {
    let bytes = quant.to_bytes()?.len();
    let eopts = EvalOptions {
        per_layer,
        ..Default::default()
    };
    let e = evaluate(float, quant, engine, &mut held.dataset(), None, &eopts)?;
    Ok((Measured::from_eval(&e, bytes), e))
}
