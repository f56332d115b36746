//! Fast PRELU where alpha broadcasts over the innermost dimension (one alpha per channel,
//! repeated for every pixel: MediaPipe's models): the reference's per-element arithmetic
//! (`x >= 0 ? x : x * alpha` in float32, `prelu_q` in int8), without the per-element index.

use crate::reference::activations::prelu::{prelu_q, PreluParams};
use crate::reference::Kernel;
use crate::{Buf, Error, Result, Tensor};

pub(crate) struct PreluFast {
    pub(crate) label: String,
    /// Elements of the input and output.
    pub(crate) n: usize,
    /// Element `i` reads alpha `i % period`.
    pub(crate) period: usize,
    pub(crate) quant: Option<PreluParams>,
}

impl PreluFast {
    /// The period of `alpha_index` when element `i` reads alpha `i % period` throughout.
    pub(crate) fn period_of(alpha_index: &[usize]) -> Option<usize> {
        let period = alpha_index.iter().max()? + 1;
        let periodic = alpha_index.len() % period == 0
            && alpha_index
                .iter()
                .enumerate()
                .all(|(i, &a)| a == i % period);
        periodic.then_some(period)
    }
}

impl Kernel for PreluFast {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let label = &self.label;
        let bad = || Error::Shape(format!("{label}: input, alpha or output do not fit"));
        let input = inputs.first().copied().flatten().ok_or_else(bad)?;
        let alpha = inputs
            .get(1)
            .copied()
            .flatten()
            .ok_or_else(|| Error::InvalidModel(format!("{label}: alpha has no value")))?;
        let output = outputs
            .first_mut()
            .ok_or_else(|| Error::InvalidModel(format!("{label}: no output")))?;
        let (n, p) = (self.n, self.period);
        if input.len() != n || output.len() != n || alpha.len() < p {
            return Err(bad());
        }
        match (input.buf(), alpha.buf(), output.buf_mut(), &self.quant) {
            (Buf::F32(x), Buf::F32(a), Buf::F32(y), None) => {
                let a = &a[..p];
                for (x, y) in x.chunks_exact(p).zip(y.chunks_exact_mut(p)) {
                    for ((y, &x), &a) in y.iter_mut().zip(x).zip(a) {
                        *y = if x >= 0.0 { x } else { x * a };
                    }
                }
            }
            (Buf::I8(x), Buf::I8(a), Buf::I8(y), Some(q)) => {
                let a = &a[..p];
                for (x, y) in x.chunks_exact(p).zip(y.chunks_exact_mut(p)) {
                    for ((y, &x), &a) in y.iter_mut().zip(x).zip(a) {
                        *y = prelu_q(i32::from(x), i32::from(a), q) as i8;
                    }
                }
            }
            _ => return Err(bad()),
        }
        Ok(())
    }
}
