//! Streaming an array sample by sample (its leading axis), and [`NpyDataset`].

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::fit::{conversion, sample_shape, Conv};
use super::npy::{err, read_header, Header};
use super::{Dataset, Sample};
use crate::{Error, IoSpec, Result, Tensor};

/// One array read one sample at a time from a reader positioned at its first data byte.
/// Memory held: one sample's bytes (reused) plus the reader's own buffers.
pub(crate) struct ArraySamples<R> {
    /// The file (and array) in messages.
    pub what: String,
    reader: R,
    header: Header,
    count: usize,
    next: usize,
    sample_bytes: usize,
    out_shape: Vec<usize>,
    conv: Conv,
    bytes: Vec<u8>,
}

impl<R: Read> ArraySamples<R> {
    /// `header` as read from `reader`; a scalar, an array of no samples, or samples of no
    /// elements are errors.
    pub fn new(what: String, reader: R, header: Header) -> Result<Self> {
        let out_shape = sample_shape(&what, &header.shape, None, &[])?;
        let count = header.shape[0];
        if count == 0 {
            return Err(err(
                &what,
                format!(
                    "the dataset is empty: 0 samples (array of shape {:?})",
                    header.shape
                ),
            ));
        }
        let elements: usize = header.shape[1..].iter().product();
        if elements == 0 {
            return Err(err(
                &what,
                format!(
                    "samples of shape {:?} hold no elements (array of shape {:?})",
                    &header.shape[1..],
                    header.shape
                ),
            ));
        }
        Ok(ArraySamples {
            what,
            reader,
            sample_bytes: elements * header.elem.size,
            header,
            count,
            next: 0,
            out_shape,
            conv: Conv::Pass,
            bytes: Vec::new(),
        })
    }

    /// Fit the samples to a model input of this shape (see `fit::sample_shape`) and, with a
    /// spec, this dtype. `key` names the input in messages.
    pub fn fit(&mut self, key: &str, shape: &[usize], spec: Option<&IoSpec>) -> Result<()> {
        let dynamic = spec.map_or(&[][..], |s| &s.dynamic[..]);
        self.out_shape = sample_shape(&self.what, &self.header.shape, Some((key, shape)), dynamic)?;
        self.conv = conversion(&self.what, self.header.elem, spec)?;
        Ok(())
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn array_shape(&self) -> &[usize] {
        &self.header.shape
    }

    pub fn sample_shape(&self) -> &[usize] {
        &self.out_shape
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn reader_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// Start again from sample 0 with a new reader positioned at the first data byte.
    #[cfg_attr(not(feature = "npz"), allow(dead_code))]
    pub fn restart(&mut self, reader: R) {
        self.reader = reader;
        self.next = 0;
    }

    /// Start again from sample 0; the caller has put the reader back at the first data byte.
    pub fn restart_in_place(&mut self) {
        self.next = 0;
    }

    /// The next sample, `None` after the last. After an error the array ends.
    pub fn read_next(&mut self) -> Option<Result<Tensor>> {
        if self.next >= self.count {
            return None;
        }
        let i = self.next;
        self.next += 1;
        Some(self.read_one(i).inspect_err(|_| self.next = self.count))
    }

    fn read_one(&mut self, i: usize) -> Result<Tensor> {
        let what = format!("{}: sample {i}", self.what);
        self.bytes.resize(self.sample_bytes, 0);
        self.reader.read_exact(&mut self.bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                err(
                    &what,
                    format!(
                        "array data is truncated (the header says {} samples of {} bytes)",
                        self.count, self.sample_bytes
                    ),
                )
            } else {
                err(&what, format!("cannot read array data: {e}"))
            }
        })?;
        let buf = self.header.elem.decode(&self.bytes, &what)?;
        Tensor::new(&self.out_shape, self.conv.apply(buf))
    }
}

/// A `.npy` file whose leading axis counts samples, for single-input models. The header is
/// read once; each [`Dataset::next_sample`] reads exactly one sample's bytes, so memory
/// does not grow with the number of samples.
///
/// Each sample is `[1, ...]` (a batch of one) unless fitted to an input with
/// [`NpyDataset::with_input_shape`] or [`NpyDataset::with_input`]. float64 data is read as
/// float32; other dtypes pass through as stored.
pub struct NpyDataset {
    path: PathBuf,
    samples: ArraySamples<BufReader<File>>,
}

impl NpyDataset {
    /// Open a `.npy` file and read its header. A truncated file (fewer bytes than the header
    /// promises), a scalar, or an array of 0 samples is an error here.
    pub fn open(path: impl AsRef<Path>) -> Result<NpyDataset> {
        let path = path.as_ref().to_path_buf();
        let what = path.display().to_string();
        let ioerr = |source| Error::Io {
            path: path.clone(),
            source,
        };
        crate::fsutil::check_regular(&path)?;
        let f = File::open(&path).map_err(ioerr)?;
        let file_len = f.metadata().map_err(ioerr)?.len();
        let mut r = BufReader::new(f);
        let header = read_header(&mut r, &what)?;
        let need = header.data_offset + header.data_bytes() as u64;
        if file_len < need {
            let have = file_len.saturating_sub(header.data_offset);
            let per = (header.data_bytes() / header.shape.first().copied().unwrap_or(1).max(1))
                .max(1) as u64;
            return Err(err(
                &what,
                format!(
                    "array data is truncated: {have} of {} bytes ({} whole samples of the {:?} \
                     the header says)",
                    header.data_bytes(),
                    have / per,
                    header.shape
                ),
            ));
        }
        let samples = ArraySamples::new(what, r, header)?;
        Ok(NpyDataset { path, samples })
    }

    /// Fit samples to a model input of this shape: a file of shape `[N, 8, 8, 1]` feeds an
    /// input `[1, 8, 8, 1]` (the batch axis is added) or `[8, 8, 1]`, and an input `[1, 64]`
    /// (flattened); any other shape is an error naming both.
    pub fn with_input_shape(mut self, shape: &[usize]) -> Result<NpyDataset> {
        self.samples.fit("input", shape, None)?;
        Ok(self)
    }

    /// Fit samples to a model input: its shape as [`NpyDataset::with_input_shape`], and its
    /// dtype: float data for a float32 input, data of the input's own dtype, or float data for
    /// an int8/uint8 input, quantized with the input's scale and zero point (see
    /// [`super::ImageDirDataset`] for the rounding). Anything else is an error.
    pub fn with_input(mut self, spec: &IoSpec) -> Result<NpyDataset> {
        self.samples.fit(spec.key(), &spec.shape, Some(spec))?;
        Ok(self)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of samples (the array's leading dimension).
    pub fn len(&self) -> usize {
        self.samples.count()
    }

    /// Never true: an empty array is refused by [`NpyDataset::open`].
    pub fn is_empty(&self) -> bool {
        self.samples.count() == 0
    }

    /// The shape of the whole array in the file.
    pub fn array_shape(&self) -> &[usize] {
        self.samples.array_shape()
    }

    /// The shape of each sample given out.
    pub fn sample_shape(&self) -> &[usize] {
        self.samples.sample_shape()
    }

    /// Start again from the first sample.
    pub fn rewind(&mut self) -> Result<()> {
        let at = self.samples.header().data_offset;
        self.samples
            .reader_mut()
            .seek(SeekFrom::Start(at))
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        self.samples.restart_in_place();
        Ok(())
    }
}

impl Dataset for NpyDataset {
    fn len_hint(&self) -> Option<usize> {
        Some(self.samples.count())
    }

    fn next_sample(&mut self) -> Option<Result<Sample>> {
        self.samples.read_next().map(|r| r.map(|t| vec![(None, t)]))
    }
}
