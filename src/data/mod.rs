//! Data files: NumPy `.npy`/`.npz` arrays for model inputs, outputs and calibration.

mod npy;
mod npz;

pub use npy::{npy_bytes, read_npy, read_npy_file, write_npy};
pub use npz::{write_npz, Npz};

use crate::{Result, Tensor};

/// One sample: a tensor per model input, named (signature or tensor name) or positional
/// (`None`), in the form [`crate::bind_inputs`] takes.
pub type Sample = Vec<(Option<String>, Tensor)>;

/// A source of samples (calibration, evaluation) read one at a time, so that memory does not
/// grow with the number of samples.
pub trait Dataset {
    /// The number of samples, when known up front (for progress bars).
    fn len_hint(&self) -> Option<usize>;

    /// The next sample, `None` at the end. Errors name the file and the sample index.
    fn next_sample(&mut self) -> Option<Result<Sample>>;
}
