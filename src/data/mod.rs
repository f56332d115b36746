//! Data files: NumPy `.npy`/`.npz` arrays for model inputs, outputs and calibration, and
//! calibration/evaluation datasets streamed sample by sample ([`NpyDataset`],
//! [`NpzDataset`], [`ImageDirDataset`], or [`open`] to choose by path).

mod fit;
mod image_options;
#[cfg(feature = "images")]
mod images;
mod iter;
mod npy;
#[cfg(feature = "npz")]
mod npz;
#[cfg(feature = "npz")]
mod npz_stream;
mod samples;
mod split;

pub use image_options::ImageOptions;
#[cfg(feature = "images")]
pub use images::ImageDirDataset;
pub use iter::{from_iter, IntoSample, IterDataset};
pub use npy::{npy_bytes, read_npy, read_npy_file, write_npy};
#[cfg(feature = "npz")]
pub use npz::{write_npz, Npz};
#[cfg(feature = "npz")]
pub use npz_stream::NpzDataset;
pub use samples::NpyDataset;
pub use split::{HoldoutSplit, InMemory, Replay};

use std::path::Path;

use crate::{Error, IoSpec, Result, Tensor};

/// One sample: a tensor per model input, named (signature or tensor name) or positional
/// (`None`), in the form [`crate::bind_inputs`] takes.
pub type Sample = Vec<(Option<String>, Tensor)>;

/// A source of samples (calibration, evaluation) read one at a time, so that memory does not
/// grow with the number of samples.
///
/// The file datasets ([`NpyDataset`], `NpzDataset`, `ImageDirDataset`, [`open`]) are
/// `Send`; any iterator of samples is one through [`from_iter`], and samples in memory
/// through [`InMemory`]. Whatever the dataset, calibration and evaluation check every sample
/// against the model's inputs ([`crate::Error::InputShape`], [`crate::Error::InputType`]).
pub trait Dataset {
    /// The number of samples, when known up front (for progress bars).
    fn len_hint(&self) -> Option<usize>;

    /// The next sample, `None` at the end. Errors name the file and the sample index.
    fn next_sample(&mut self) -> Option<Result<Sample>>;

    /// At most `n` samples of this dataset (`--max-samples`).
    fn max_samples(self, n: usize) -> MaxSamples<Self>
    where
        Self: Sized,
    {
        MaxSamples {
            inner: self,
            left: n,
        }
    }
}

impl<D: Dataset + ?Sized> Dataset for Box<D> {
    fn len_hint(&self) -> Option<usize> {
        (**self).len_hint()
    }

    fn next_sample(&mut self) -> Option<Result<Sample>> {
        (**self).next_sample()
    }
}

impl<D: Dataset + ?Sized> Dataset for &mut D {
    fn len_hint(&self) -> Option<usize> {
        (**self).len_hint()
    }

    fn next_sample(&mut self) -> Option<Result<Sample>> {
        (**self).next_sample()
    }
}

/// The first samples of a dataset: see [`Dataset::max_samples`].
pub struct MaxSamples<D> {
    inner: D,
    left: usize,
}

impl<D: Dataset> Dataset for MaxSamples<D> {
    fn len_hint(&self) -> Option<usize> {
        self.inner.len_hint().map(|n| n.min(self.left))
    }

    fn next_sample(&mut self) -> Option<Result<Sample>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.inner.next_sample()
    }
}

/// Open the dataset at `path` for a model's inputs, by what the path is: a directory of
/// images ([`ImageDirDataset`] with `image_options`, single image input), a `.npz`
/// ([`NpzDataset::for_inputs`]) or a `.npy` ([`NpyDataset::with_input`], single-input
/// models). Samples are fitted to the inputs' shapes and dtypes.
pub fn open(
    path: impl AsRef<Path>,
    inputs: &[IoSpec],
    image_options: &ImageOptions,
) -> Result<Box<dyn Dataset + Send>> {
    let path = path.as_ref();
    let what = path.display().to_string();
    let single = |kind: &str| -> Result<&IoSpec> {
        match inputs {
            [one] => Ok(one),
            _ => Err(Error::Data(format!(
                "{what}: {kind} feeds single-input models; this one has {} inputs ({}): use a \
                 .npz with one array per input",
                inputs.len(),
                inputs
                    .iter()
                    .map(|s| format!("'{}'", s.key()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    };
    if path.is_dir() {
        let spec = single("a directory of images")?;
        #[cfg(feature = "images")]
        return Ok(Box::new(ImageDirDataset::open(path, spec, image_options)?));
        #[cfg(not(feature = "images"))]
        return {
            let _ = (spec, image_options);
            Err(Error::Data(format!(
                "{what}: reading a directory of images needs litequant's `images` feature, \
                 which this build lacks"
            )))
        };
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        #[cfg(feature = "npz")]
        Some("npz") => Ok(Box::new(NpzDataset::for_inputs(path, inputs)?)),
        #[cfg(not(feature = "npz"))]
        Some("npz") => Err(Error::Data(format!(
            "{what}: reading a .npz needs litequant's `npz` feature, which this build lacks"
        ))),
        Some("npy") => {
            let spec = single("a .npy array")?;
            Ok(Box::new(NpyDataset::open(path)?.with_input(spec)?))
        }
        _ => Err(Error::Data(format!(
            "{what}: not a dataset: give a .npy, a .npz or a directory of PNG/JPEG images"
        ))),
    }
}
