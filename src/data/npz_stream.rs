//! [`NpzDataset`]: one array per model input in a `.npz`, streamed sample by sample.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::npy::{err, read_header};
use super::samples::ArraySamples;
use super::{Dataset, Sample};
use crate::{Error, IoSpec, Result};

/// Where an array's bytes lie in the archive.
#[derive(Debug, Clone)]
struct Entry {
    /// Array name (entry name without `.npy`).
    name: String,
    deflated: bool,
    data_start: u64,
    compressed_size: u64,
    size: u64,
    crc32: u32,
}

/// An entry's decompressed bytes, read straight from the file (stored or deflate), with its
/// CRC-32 checked when the last byte has been read. Owns its file handle, so that every array
/// of a sample can be read from its own position.
struct EntryReader {
    inner: Box<dyn Read + Send>,
    hasher: crc32fast::Hasher,
    remaining: u64,
    crc32: u32,
}

impl Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::{Error as IoError, ErrorKind};
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if n as u64 > self.remaining {
            return Err(IoError::new(
                ErrorKind::InvalidData,
                "the entry holds more bytes than its zip header says",
            ));
        }
        self.remaining -= n as u64;
        if n > 0 && self.remaining == 0 && self.hasher.clone().finalize() != self.crc32 {
            return Err(IoError::new(
                ErrorKind::InvalidData,
                "CRC-32 mismatch: the archive is corrupt",
            ));
        }
        Ok(n)
    }
}

fn open_entry(path: &Path, e: &Entry) -> Result<EntryReader> {
    let ioerr = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    crate::fsutil::check_regular(path)?;
    let mut f = File::open(path).map_err(ioerr)?;
    f.seek(SeekFrom::Start(e.data_start)).map_err(ioerr)?;
    let raw = BufReader::with_capacity(1 << 16, f).take(e.compressed_size);
    let inner: Box<dyn Read + Send> = if e.deflated {
        Box::new(flate2::bufread::DeflateDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    Ok(EntryReader {
        inner,
        hasher: crc32fast::Hasher::new(),
        remaining: e.size,
        crc32: e.crc32,
    })
}

/// Whether an array name is positional: `input_N` (this crate's) or `arr_N` (`np.savez`'s
/// name for arrays given without a keyword). Returns N.
fn positional(name: &str) -> Option<usize> {
    name.strip_prefix("input_")
        .or_else(|| name.strip_prefix("arr_"))
        .and_then(|n| n.parse().ok())
}

struct Array {
    entry: Entry,
    /// The name the sample gives it (`None`: positional).
    key: Option<String>,
    samples: ArraySamples<EntryReader>,
}

/// A `.npz` archive with one array per model input, all with the same number of samples
/// (their leading axis), streamed sample by sample: each array is read sequentially from its
/// own file handle through its own decompressor (stored or deflate entries), so memory holds
/// one sample per array plus fixed buffers, whatever the number of samples.
///
/// With [`NpzDataset::open`] every array is an input: arrays named `input_N` or `arr_N` are
/// positional (in the order of N), the others are named (signature or tensor name, as
/// [`crate::bind_inputs`] matches them). [`NpzDataset::open_arrays`] takes some arrays only
/// (e.g. `x` beside labels `y`); [`NpzDataset::for_inputs`] picks and fits one array per
/// model input.
pub struct NpzDataset {
    path: PathBuf,
    arrays: Vec<Array>,
    count: usize,
    next: usize,
}

impl NpzDataset {
    /// Every array in the archive is an input.
    pub fn open(path: impl AsRef<Path>) -> Result<NpzDataset> {
        Self::open_selected(path.as_ref(), None, true)
    }

    /// Only the named arrays (without `.npy`), in this order; a missing one is an error
    /// listing the archive's arrays.
    pub fn open_arrays(path: impl AsRef<Path>, names: &[&str]) -> Result<NpzDataset> {
        Self::open_selected(path.as_ref(), Some(names), true)
    }

    /// One array per model input, fitted to the input's shape and dtype (as
    /// [`super::NpyDataset::with_input`]). The array for input i is the one named by its
    /// signature name, its tensor name, `input_i` or `arr_i`; for a single-input model, the
    /// archive's only array or, failing that, an array named `x` (features beside labels `y`).
    /// Samples give the inputs positionally, in the order of `inputs`.
    pub fn for_inputs(path: impl AsRef<Path>, inputs: &[IoSpec]) -> Result<NpzDataset> {
        let path = path.as_ref();
        let names = super::Npz::open(path)?.names();
        let mut chosen = Vec::with_capacity(inputs.len());
        for (i, spec) in inputs.iter().enumerate() {
            let candidates = [
                spec.signature_name.clone(),
                Some(spec.name.clone()),
                Some(format!("input_{i}")),
                Some(format!("arr_{i}")),
            ];
            let mut found = candidates
                .iter()
                .flatten()
                .find(|c| names.contains(c))
                .cloned();
            if found.is_none() && inputs.len() == 1 {
                found = if names.len() == 1 {
                    Some(names[0].clone())
                } else {
                    names.iter().find(|n| *n == "x").cloned()
                };
            }
            let name = found.ok_or_else(|| {
                let looked: Vec<String> = candidates
                    .iter()
                    .flatten()
                    .map(|c| format!("'{c}'"))
                    .collect();
                err(
                    &path.display().to_string(),
                    format!(
                        "no array for input '{}' (looked for {}; arrays: {})",
                        spec.key(),
                        looked.join(", "),
                        names.join(", ")
                    ),
                )
            })?;
            chosen.push(name);
        }
        let refs: Vec<&str> = chosen.iter().map(String::as_str).collect();
        let mut ds = Self::open_selected(path, Some(&refs), false)?;
        for (a, spec) in ds.arrays.iter_mut().zip(inputs) {
            a.samples.fit(spec.key(), &spec.shape, Some(spec))?;
            a.key = None;
        }
        Ok(ds)
    }

    fn open_selected(path: &Path, names: Option<&[&str]>, sort: bool) -> Result<NpzDataset> {
        let what = path.display().to_string();
        let f = crate::fsutil::open_regular(path)?;
        let mut zip = zip::ZipArchive::new(BufReader::new(f))
            .map_err(|e| err(&what, format!("not a readable .npz archive: {e}")))?;
        let all: Vec<String> = zip
            .file_names()
            .filter_map(|n| n.ok()?.strip_suffix(".npy").map(str::to_string))
            .collect();
        let selected: Vec<String> = match names {
            None => all.clone(),
            Some(names) => names.iter().map(|n| n.to_string()).collect(),
        };
        if selected.is_empty() {
            return Err(err(
                &what,
                "the dataset is empty: the archive holds no arrays",
            ));
        }
        let mut arrays = Vec::with_capacity(selected.len());
        for name in selected {
            let awhat = format!("{what}['{name}']");
            let zf = zip.by_name(&format!("{name}.npy")).map_err(|e| match e {
                zip::result::ZipError::FileNotFound => err(
                    &awhat,
                    format!("no such array (arrays: {})", all.join(", ")),
                ),
                e => err(&awhat, format!("cannot read the zip entry: {e}")),
            })?;
            if zf.encrypted() {
                return Err(err(&awhat, "encrypted zip entries are not supported"));
            }
            let deflated = match zf.compression() {
                zip::CompressionMethod::Stored => false,
                zip::CompressionMethod::Deflated => true,
                m => {
                    return Err(err(
                        &awhat,
                        format!("zip compression {m} is not supported (use stored or deflate)"),
                    ))
                }
            };
            let entry = Entry {
                name: name.clone(),
                deflated,
                data_start: zf
                    .data_start()
                    .ok_or_else(|| err(&awhat, "the zip entry's data could not be located"))?,
                compressed_size: zf.compressed_size(),
                size: zf.size(),
                crc32: zf.crc32(),
            };
            drop(zf);
            let mut reader = open_entry(path, &entry)?;
            let header = read_header(&mut reader, &awhat)?;
            let need = header.data_offset + header.data_bytes() as u64;
            if entry.size < need {
                return Err(err(
                    &awhat,
                    format!(
                        "array data is truncated: the entry holds {} of the {need} bytes the \
                         header (shape {:?}) says",
                        entry.size, header.shape
                    ),
                ));
            }
            let samples = ArraySamples::new(awhat, reader, header)?;
            let key = match positional(&name) {
                Some(_) => None,
                None => Some(name.clone()),
            };
            arrays.push(Array {
                entry,
                key,
                samples,
            });
        }
        // Named inputs first, in the order given, then positional ones in the order of N.
        if sort {
            arrays.sort_by_key(|a| positional(&a.entry.name).map(|n| (1, n)).unwrap_or((0, 0)));
        }
        let count = arrays[0].samples.count();
        if arrays.iter().any(|a| a.samples.count() != count) {
            let counts: Vec<String> = arrays
                .iter()
                .map(|a| {
                    format!(
                        "'{}' has {} (shape {:?})",
                        a.entry.name,
                        a.samples.count(),
                        a.samples.array_shape()
                    )
                })
                .collect();
            return Err(err(
                &what,
                format!(
                    "the arrays do not have the same number of samples (leading dimension): {}",
                    counts.join(", ")
                ),
            ));
        }
        Ok(NpzDataset {
            path: path.to_path_buf(),
            arrays,
            count,
            next: 0,
        })
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of samples (the arrays' common leading dimension).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Never true: an empty array is refused when opening.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The arrays read, in the order of each sample's tensors, with the name each sample
    /// gives them (`None`: positional).
    pub fn arrays(&self) -> Vec<(&str, Option<&str>)> {
        self.arrays
            .iter()
            .map(|a| (a.entry.name.as_str(), a.key.as_deref()))
            .collect()
    }

    /// The shape of each sample's tensors, in the order of [`NpzDataset::arrays`].
    pub fn sample_shapes(&self) -> Vec<&[usize]> {
        self.arrays
            .iter()
            .map(|a| a.samples.sample_shape())
            .collect()
    }

    /// Start again from the first sample (the arrays' streams are reopened).
    pub fn rewind(&mut self) -> Result<()> {
        for a in &mut self.arrays {
            let mut reader = open_entry(&self.path, &a.entry)?;
            read_header(&mut reader, &a.samples.what)?;
            a.samples.restart(reader);
        }
        self.next = 0;
        Ok(())
    }
}

impl Dataset for NpzDataset {
    fn len_hint(&self) -> Option<usize> {
        Some(self.count)
    }

    fn next_sample(&mut self) -> Option<Result<Sample>> {
        if self.next >= self.count {
            return None;
        }
        self.next += 1;
        let mut sample = Vec::with_capacity(self.arrays.len());
        for a in &mut self.arrays {
            match a.samples.read_next() {
                Some(Ok(t)) => sample.push((a.key.clone(), t)),
                Some(Err(e)) => {
                    self.next = self.count;
                    return Some(Err(e));
                }
                None => {
                    self.next = self.count;
                    return Some(Err(err(&a.samples.what, "fewer samples than expected")));
                }
            }
        }
        Some(Ok(sample))
    }
}
