//! NumPy `.npz` archives (zip files of `.npy` arrays): read array by array, write.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use super::npy;
use crate::{Error, Result, Tensor};

/// An open `.npz` archive; arrays are read one at a time (nothing is loaded up front).
pub struct Npz {
    path: PathBuf,
    zip: zip::ZipArchive<BufReader<File>>,
}

fn zerr(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Data(format!("{}: {e}", path.display()))
}

impl Npz {
    /// Open an archive (its directory only: arrays are read by [`Npz::read`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Npz> {
        let path = path.as_ref().to_path_buf();
        let f = crate::fsutil::open_regular(&path)?;
        let zip = zip::ZipArchive::new(BufReader::new(f))
            .map_err(|e| zerr(&path, format!("not a readable .npz archive: {e}")))?;
        Ok(Npz { path, zip })
    }

    /// Array names (entry names without `.npy`), in archive order.
    pub fn names(&self) -> Vec<String> {
        self.zip
            .file_names()
            .filter_map(|n| n.ok())
            .map(|n| n.strip_suffix(".npy").unwrap_or(&n).to_string())
            .collect()
    }

    /// Read the array `name`.
    pub fn read(&mut self, name: &str) -> Result<Tensor> {
        let what = format!("{}['{name}']", self.path.display());
        let names = self.names();
        let entry = self.zip.by_name(&format!("{name}.npy")).map_err(|_| {
            Error::Data(format!(
                "{what}: no such array (arrays: {})",
                names.join(", ")
            ))
        })?;
        npy::read_npy(BufReader::new(entry), &what)
    }
}

/// Write arrays as an uncompressed `.npz` (NumPy's `np.savez` layout), atomically.
pub fn write_npz(path: &Path, arrays: &[(String, Tensor)]) -> Result<()> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut cursor);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(false);
        for (name, t) in arrays {
            zip.start_file(format!("{name}.npy"), options)
                .map_err(|e| zerr(path, e))?;
            zip.write_all(&npy::npy_bytes(t))
                .map_err(|e| zerr(path, e))?;
        }
        zip.finish().map_err(|e| zerr(path, e))?;
    }
    crate::write_atomic(path, &cursor.into_inner())
}
