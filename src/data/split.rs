//! A deterministic split of calibration data into a calibration part and a held-out part
//! ([`HoldoutSplit`]), and samples kept in memory ([`InMemory`]) to run more than once.
//!
//! The split is by position: with `every = k`, samples `k-1, 2k-1, 3k-1, ...` (zero-based:
//! the k-th, 2k-th, ... sample) are held out and all others calibrate. Interleaving, not a
//! tail, keeps both parts drawn from the whole file when the data is ordered (by class, by
//! recording). The held-out samples are kept in memory (a quarter of the data at `k = 4`);
//! the calibration samples stream through.

use super::{Dataset, IntoSample, Sample};
use crate::{Error, Result};

/// Samples held in memory, replayed by [`InMemory::dataset`] as often as needed.
#[derive(Debug, Clone, Default)]
pub struct InMemory {
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

/// One pass over an [`InMemory`]'s samples.
pub struct Replay<'a> {
    samples: &'a [Sample],
    next: usize,
}

impl InMemory {
    /// Samples given in any form [`IntoSample`] takes (`Vec<Vec<Tensor>>`, named pairs,
    /// ...). An error item is returned as it is.
    pub fn new<I>(samples: I) -> Result<InMemory>
    where
        I: IntoIterator,
        I::Item: IntoSample,
    {
        Ok(InMemory {
            samples: samples
                .into_iter()
                .map(IntoSample::into_sample)
                .collect::<Result<_>>()?,
        })
    }

    /// A dataset over the samples (cloned one at a time as they are read).
    pub fn dataset(&self) -> Replay<'_> {
        Replay {
            samples: &self.samples,
            next: 0,
        }
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

impl Dataset for Replay<'_> {
    fn len_hint(&self) -> Option<usize> {
        Some(self.samples.len())
    }

    fn next_sample(&mut self) -> Option<Result<Sample>> {
        let s = self.samples.get(self.next)?.clone();
        self.next += 1;
        Some(Ok(s))
    }
}

/// Streams the calibration part of `inner` and keeps its held-out part (every `every`-th
/// sample) in [`HoldoutSplit::held_out`]. Read it to the end (calibrate on it), then take
/// the held-out samples with [`HoldoutSplit::into_held_out`].
pub struct HoldoutSplit<'a> {
    inner: Box<dyn Dataset + 'a>,
    every: usize,
    /// Position (modulo `every`) of the held-out samples.
    offset: usize,
    index: usize,
    held: Vec<Sample>,
}

impl<'a> HoldoutSplit<'a> {
    /// Split `inner` (owned, or borrowed: `&mut dataset` is a dataset too): with
    /// `every = k`, the k-th, 2k-th, ... samples are held out. `k` must be at least 2
    /// (every sample held out would leave nothing to calibrate on).
    pub fn new(inner: impl Dataset + 'a, every: usize) -> Result<Self> {
        if every < 2 {
            return Err(Error::Data(format!(
                "hold-out split every {every}: must be at least 2 (every sample held out \
                 leaves nothing to calibrate on)"
            )));
        }
        Ok(HoldoutSplit {
            inner: Box::new(inner),
            every,
            offset: every - 1,
            index: 0,
            held: Vec::new(),
        })
    }

    /// Fold `fold` (`0..every`) of a k-fold split with `k = every`: fold 0 is
    /// [`HoldoutSplit::new`]'s split (the `every`-th, `2·every`-th, ... samples held out),
    /// fold `j` holds out the samples `j` places after those (wrapping), so the `every`
    /// folds hold out every sample exactly once.
    pub fn fold(inner: impl Dataset + 'a, every: usize, fold: usize) -> Result<Self> {
        let mut s = HoldoutSplit::new(inner, every)?;
        if fold >= every {
            return Err(Error::Data(format!(
                "hold-out fold {fold} of a split every {every}: folds are 0..{every}"
            )));
        }
        s.offset = (every - 1 + fold) % every;
        Ok(s)
    }

    /// The held-out samples read so far.
    pub fn held_out(&self) -> &[Sample] {
        &self.held
    }

    /// The held-out samples (all of them once the split has been read to the end).
    pub fn into_held_out(self) -> InMemory {
        InMemory { samples: self.held }
    }

    fn is_held(&self, index: usize) -> bool {
        index % self.every == self.offset
    }
}

impl Dataset for HoldoutSplit<'_> {
    fn len_hint(&self) -> Option<usize> {
        // Calibration samples among the first n: n minus those at `offset` modulo `every`.
        self.inner
            .len_hint()
            .map(|n| n - n / self.every - usize::from(n % self.every > self.offset))
    }

    fn next_sample(&mut self) -> Option<Result<Sample>> {
        loop {
            let s = self.inner.next_sample()?;
            let i = self.index;
            self.index += 1;
            match s {
                Ok(s) if self.is_held(i) => self.held.push(s),
                other => return Some(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    fn samples(n: usize) -> InMemory {
        InMemory {
            samples: (0..n)
                .map(|i| vec![(None, Tensor::from_f32(&[1], &[i as f32]).unwrap())])
                .collect(),
        }
    }

    fn values(d: &mut dyn Dataset) -> Vec<f32> {
        let mut v = Vec::new();
        while let Some(s) = d.next_sample() {
            v.push(s.unwrap()[0].1.as_f32().unwrap()[0]);
        }
        v
    }

    #[test]
    fn every_fourth_sample_is_held_out() {
        let all = samples(10);
        let mut src = all.dataset();
        let mut split = HoldoutSplit::new(&mut src, 4).unwrap();
        assert_eq!(split.len_hint(), Some(8));
        let calib = values(&mut split);
        assert_eq!(calib, vec![0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 9.0]);
        let held = split.into_held_out();
        assert_eq!(values(&mut held.dataset()), vec![3.0, 7.0]);
        // Replays as often as asked.
        assert_eq!(values(&mut held.dataset()), vec![3.0, 7.0]);
    }

    #[test]
    fn the_folds_hold_out_every_sample_once() {
        let all = samples(10);
        let mut seen = Vec::new();
        for f in 0..4 {
            let mut src = all.dataset();
            let mut split = HoldoutSplit::fold(&mut src, 4, f).unwrap();
            let hint = split.len_hint();
            let calib = values(&mut split);
            assert_eq!(hint, Some(calib.len()), "fold {f}");
            let held = values(&mut split.into_held_out().dataset());
            assert_eq!(calib.len() + held.len(), 10);
            if f == 0 {
                assert_eq!(held, vec![3.0, 7.0]);
            }
            if f == 1 {
                assert_eq!(held, vec![0.0, 4.0, 8.0]);
            }
            seen.extend(held);
        }
        seen.sort_by(f32::total_cmp);
        assert_eq!(seen, (0..10).map(|i| i as f32).collect::<Vec<_>>());
        let mut src = all.dataset();
        assert!(HoldoutSplit::fold(&mut src, 4, 4).is_err());
    }

    #[test]
    fn every_below_two_is_refused() {
        let all = samples(3);
        let mut src = all.dataset();
        assert!(HoldoutSplit::new(&mut src, 1).is_err());
    }
}
