//! Data files: NumPy `.npy`/`.npz` arrays for model inputs, outputs and calibration.

mod npy;
mod npz;

pub use npy::{npy_bytes, read_npy, read_npy_file, write_npy};
pub use npz::{write_npz, Npz};
