//! The probes of the target search: quantize with a set of moves and measure; the
//! shortest-prefix search (doubling, then bisection) and the pruning of a chosen set.

use crate::data::InMemory;
use crate::engine::Engine;
use crate::eval::EvalReport;
use crate::model::Model;
use crate::quant::api::{quantize, KeepFloat, QuantizeOptions, Report};
use crate::quant::calibrate::Stats;
use crate::Result;

use super::measure;
use super::rank::Candidate;
use super::{Measured, Precision, Target};

/// Moves: (index into the ranking, precision).
pub(super) type Moves = Vec<(usize, Precision)>;

pub(super) struct Search<'a, E: Engine> {
    pub model: &'a Model,
    pub engine: &'a E,
    pub stats: &'a Stats,
    pub held: &'a InMemory,
    pub base: &'a QuantizeOptions,
    pub ranking: &'a [Candidate],
    pub target: Target,
    pub probes: usize,
    pub max_probes: usize,
}

pub(super) struct Probe {
    pub measured: Measured,
    pub eval: EvalReport,
    pub model: Model,
    pub report: Report,
}

impl Probe {
    pub fn holds(&self, target: Target) -> bool {
        target.holds(self.measured.worst_rel_rmse)
    }
}

impl<E: Engine> Search<'_, E> {
    /// The options with these moves applied.
    pub fn options_with(&self, moves: &[(usize, Precision)]) -> QuantizeOptions {
        let mut o = self.base.clone();
        for &(i, p) in moves {
            let name = self.ranking[i].tensor.clone();
            match p {
                Precision::Float => o.keep_float.push(KeepFloat::Tensor(name)),
                Precision::Int16 => o.int16_ops.push(KeepFloat::Tensor(name)),
            }
        }
        o
    }

    /// Quantize with `moves` and measure (per layer too when asked).
    pub fn probe(&mut self, moves: &[(usize, Precision)], per_layer: bool) -> Result<Probe> {
        self.probes += 1;
        let opts = self.options_with(moves);
        let (q, report) = quantize(self.model, Some(self.stats), &opts)?;
        let (measured, eval) = measure(self.model, &q, self.engine, self.held, per_layer)?;
        Ok(Probe {
            measured,
            eval,
            model: q,
            report,
        })
    }

    /// Whether a probe may still be spent.
    pub fn can_probe(&self) -> bool {
        self.probes < self.max_probes
    }

    /// The shortest `k` in `1..=n` for which `config(k)` meets the target, given that
    /// `config(0)` misses it and `config(n)` (`at_n`) meets it: doubling, then bisection.
    /// `Ok(None)` when the probe budget runs out first.
    pub fn shortest(
        &mut self,
        n: usize,
        config: &dyn Fn(usize) -> Moves,
        at_n: Probe,
    ) -> Result<Option<(usize, Probe)>> {
        let (mut lo, mut hi) = (0usize, n);
        let mut best = at_n;
        let mut k = 1usize;
        while k < n {
            if !self.can_probe() {
                return Ok(None);
            }
            let p = self.probe(&config(k), false)?;
            if p.holds(self.target) {
                hi = k;
                best = p;
                break;
            }
            lo = k;
            k *= 2;
        }
        while hi - lo > 1 {
            if !self.can_probe() {
                return Ok(None);
            }
            let mid = lo + (hi - lo) / 2;
            let p = self.probe(&config(mid), false)?;
            if p.holds(self.target) {
                hi = mid;
                best = p;
            } else {
                lo = mid;
            }
        }
        Ok(Some((hi, best)))
    }

    /// Prune `chosen` (meeting the target with `best`), pass after pass until nothing
    /// changes or the probes run out: each float move of an op with an int16 kernel
    /// (`int16_ok`) is tried on int16, then each move is dropped when the target holds
    /// without it; least sensitive first.
    pub fn prune(
        &mut self,
        chosen: &mut Moves,
        best: &mut Probe,
        int16_ok: &dyn Fn(usize) -> bool,
    ) -> Result<()> {
        let mut changed = true;
        while changed {
            changed = false;
            for i in (0..chosen.len()).rev() {
                if i >= chosen.len() {
                    continue;
                }
                let (r, p) = chosen[i];
                if p == Precision::Float && int16_ok(r) {
                    if !self.can_probe() {
                        return Ok(());
                    }
                    let mut lower = chosen.clone();
                    lower[i].1 = Precision::Int16;
                    let probe = self.probe(&lower, false)?;
                    if probe.holds(self.target) {
                        *chosen = lower;
                        *best = probe;
                        changed = true;
                    }
                }
                if chosen.len() <= 1 {
                    continue;
                }
                if !self.can_probe() {
                    return Ok(());
                }
                let mut without = chosen.clone();
                without.remove(i);
                let probe = self.probe(&without, false)?;
                if probe.holds(self.target) {
                    *chosen = without;
                    *best = probe;
                    changed = true;
                }
            }
        }
        Ok(())
    }
}
