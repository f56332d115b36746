//! Samples from anywhere: any iterator of samples is a dataset ([`from_iter`]), and any
//! collection of samples can be kept in memory ([`super::InMemory::new`]).

use super::{Dataset, Sample};
use crate::{Error, Result, Tensor};

/// What one sample can be given as: a tensor per model input, positional (`Vec<Tensor>`,
/// `[Tensor; N]`, or one `Tensor` for a single-input model) or named (`Vec<(String, Tensor)>`,
/// `Vec<(&str, Tensor)>`: signature or tensor names), a [`Sample`] as the file datasets give
/// it, or a `Result` of any of these (an error ends the pass, naming the sample).
pub trait IntoSample {
    /// The sample in the form [`crate::bind_inputs`] takes.
    fn into_sample(self) -> Result<Sample>;
}

impl IntoSample for Sample {
    fn into_sample(self) -> Result<Sample> {
        Ok(self)
    }
}

impl IntoSample for Tensor {
    fn into_sample(self) -> Result<Sample> {
        Ok(vec![(None, self)])
    }
}

impl IntoSample for Vec<Tensor> {
    fn into_sample(self) -> Result<Sample> {
        Ok(self.into_iter().map(|t| (None, t)).collect())
    }
}

impl<const N: usize> IntoSample for [Tensor; N] {
    fn into_sample(self) -> Result<Sample> {
        Ok(self.into_iter().map(|t| (None, t)).collect())
    }
}

impl IntoSample for Vec<(String, Tensor)> {
    fn into_sample(self) -> Result<Sample> {
        Ok(self.into_iter().map(|(n, t)| (Some(n), t)).collect())
    }
}

impl IntoSample for Vec<(&str, Tensor)> {
    fn into_sample(self) -> Result<Sample> {
        Ok(self
            .into_iter()
            .map(|(n, t)| (Some(n.to_string()), t))
            .collect())
    }
}

impl<S: IntoSample, E: Into<Error>> IntoSample for std::result::Result<S, E> {
    fn into_sample(self) -> Result<Sample> {
        self.map_err(Into::into)?.into_sample()
    }
}

/// A dataset over an iterator of samples: see [`from_iter`]. `Send` when the iterator is.
#[derive(Debug, Clone)]
pub struct IterDataset<I> {
    iter: I,
}

/// Any iterator (or collection) of samples as a [`Dataset`]: a `Vec<Vec<Tensor>>`, an
/// iterator that decodes frames as they are asked for, a channel's receiver, ... Each item
/// is anything [`IntoSample`] takes. The number of samples is known (for progress) when
/// the iterator's size hint is exact.
///
/// ```
/// use litequant::prelude::*;
/// let samples = (0..4).map(|i| vec![Tensor::from_f32(&[1, 2], &[i as f32, 1.0]).unwrap()]);
/// let mut data = litequant::data::from_iter(samples);
/// assert_eq!(data.len_hint(), Some(4));
/// assert!(data.next_sample().is_some());
/// ```
pub fn from_iter<I>(samples: I) -> IterDataset<I::IntoIter>
where
    I: IntoIterator,
    I::Item: IntoSample,
{
    IterDataset {
        iter: samples.into_iter(),
    }
}

impl<I> Dataset for IterDataset<I>
where
    I: Iterator,
    I::Item: IntoSample,
{
    fn len_hint(&self) -> Option<usize> {
        match self.iter.size_hint() {
            (lo, Some(hi)) if lo == hi => Some(lo),
            _ => None,
        }
    }

    fn next_sample(&mut self) -> Option<Result<Sample>> {
        self.iter.next().map(IntoSample::into_sample)
    }
}
