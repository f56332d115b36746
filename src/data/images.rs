//! [`ImageDirDataset`]: a directory of PNG/JPEG images, decoded, resized and normalised for
//! an image input, one file per sample.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};

use super::fit::quantize;
use super::npy::err;
use super::{Dataset, ImageOptions, Sample};
use crate::model::DType;
use crate::{Buf, Error, IoSpec, Result, Tensor};

/// Files taken as images: by extension, case-insensitive.
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// A directory of PNG and JPEG images (`.png`, `.jpg`, `.jpeg`, any case), one sample per
/// file in the order of the file names; other files are skipped and counted
/// ([`ImageDirDataset::skipped`]), subdirectories are ignored. Only the file list is held;
/// each image is decoded when its sample is asked for.
///
/// For an input of shape `[1, H, W, C]` (or `[H, W, C]`) with C = 3 (RGB) or 1 (grayscale,
/// the `image` crate's luma conversion), each image is converted to 8-bit RGB or grayscale,
/// resized to H×W with `image::imageops::resize` and the Triangle (bilinear) filter when its
/// size differs (the result rounded to 8 bits, as PIL's bilinear resize of a uint8 image), and
/// normalised with [`ImageOptions`] to float32. For an int8 or uint8 input the normalised
/// values are quantized with the input's scale and zero point as TFLite's QUANTIZE op does:
/// `clamp(round(x / scale) + zero_point)`, the division in float32, rounding half away from
/// zero. A file that cannot be decoded is an error naming it.
pub struct ImageDirDataset {
    dir: PathBuf,
    files: Vec<PathBuf>,
    skipped: usize,
    height: u32,
    width: u32,
    channels: usize,
    shape: Vec<usize>,
    dtype: DType,
    quant: Option<(f32, i64)>,
    scale: f32,
    mean: Vec<f32>,
    std: Vec<f32>,
    next: usize,
}

impl ImageDirDataset {
    /// List the images in `dir` for the model input `input` (its shape, dtype and
    /// quantization). A directory without images, an input that is not an image input, or
    /// options that do not fit its channels are errors here.
    pub fn open(
        dir: impl AsRef<Path>,
        input: &IoSpec,
        opts: &ImageOptions,
    ) -> Result<ImageDirDataset> {
        let dir = dir.as_ref().to_path_buf();
        let what = dir.display().to_string();
        let (h, w, c) = match input.shape.as_slice() {
            [1, h, w, c] | [h, w, c] if (*c == 1 || *c == 3) && *h > 0 && *w > 0 => (*h, *w, *c),
            s => {
                return Err(err(
                    &what,
                    format!(
                        "input '{}' of shape {s:?} is not an image input: images need an input \
                         of shape [1, H, W, C] with C = 1 (grayscale) or 3 (RGB)",
                        input.key()
                    ),
                ))
            }
        };
        let quant = match input.dtype {
            DType::F32 => None,
            DType::I8 | DType::U8 => match input.quant {
                Some((s, zp)) if s.is_finite() && s > 0.0 => Some((s, zp)),
                _ => {
                    return Err(err(
                        &what,
                        format!(
                            "input '{}' is {} without usable quantization parameters",
                            input.key(),
                            input.dtype
                        ),
                    ))
                }
            },
            d => {
                return Err(err(
                    &what,
                    format!(
                        "input '{}' is {d}: images feed float32, int8 or uint8 inputs",
                        input.key()
                    ),
                ))
            }
        };
        let per_channel = |name: &str, v: &[f32]| -> Result<Vec<f32>> {
            let v = match v.len() {
                1 => vec![v[0]; c],
                n if n == c => v.to_vec(),
                n => {
                    return Err(err(
                        &what,
                        format!(
                            "{name} has {n} values; the input has {c} channel(s): give 1 or {c}"
                        ),
                    ))
                }
            };
            if v.iter().any(|x| !x.is_finite()) {
                return Err(err(&what, format!("{name} {v:?} is not finite")));
            }
            Ok(v)
        };
        let mean = per_channel("mean", &opts.mean)?;
        let std = per_channel("std", &opts.std)?;
        if std.contains(&0.0) {
            return Err(err(&what, format!("std {std:?} has a zero")));
        }
        if !opts.scale.is_finite() {
            return Err(err(&what, format!("scale {} is not finite", opts.scale)));
        }

        let ioerr = |source| Error::Io {
            path: dir.clone(),
            source,
        };
        let mut files = Vec::new();
        let mut skipped = 0;
        for entry in std::fs::read_dir(&dir).map_err(ioerr)? {
            let entry = entry.map_err(ioerr)?;
            let path = entry.path();
            // Follows symbolic links, as opening the file will.
            if path.is_dir() {
                continue;
            }
            let is_image = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)));
            if is_image {
                // Before any work: a FIFO named like an image would block calibration.
                crate::fsutil::check_regular(&path)?;
                files.push(path);
            } else {
                skipped += 1;
            }
        }
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        if files.is_empty() {
            return Err(err(
                &what,
                format!(
                    "the dataset is empty: no PNG or JPEG images (.png, .jpg, .jpeg) \
                     ({skipped} other file(s) skipped)"
                ),
            ));
        }
        Ok(ImageDirDataset {
            dir,
            files,
            skipped,
            height: u32::try_from(h).map_err(|_| err(&what, "image height too large"))?,
            width: u32::try_from(w).map_err(|_| err(&what, "image width too large"))?,
            channels: c,
            shape: input.shape.clone(),
            dtype: input.dtype,
            quant,
            scale: opts.scale,
            mean,
            std,
            next: 0,
        })
    }

    /// The directory the images are read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The image files, in the order samples are given.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// How many files were skipped as not PNG/JPEG (by extension).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Never true: a directory without images is refused by [`ImageDirDataset::open`].
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Start again from the first image.
    pub fn rewind(&mut self) {
        self.next = 0;
    }

    /// Decode, resize and normalise one image file as this dataset does.
    pub fn load(&self, path: &Path) -> Result<Tensor> {
        let what = path.display().to_string();
        crate::fsutil::check_regular(path)?;
        let img = image::ImageReader::open(path)
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?
            .with_guessed_format()
            .map_err(|e| err(&what, format!("cannot read image: {e}")))?
            .decode()
            .map_err(|e| err(&what, format!("cannot decode image: {e}")))?;
        let (w, h) = (self.width, self.height);
        let pixels: Vec<u8> = if self.channels == 3 {
            let img = img.to_rgb8();
            if img.dimensions() == (w, h) {
                img.into_raw()
            } else {
                imageops::resize(&img, w, h, FilterType::Triangle).into_raw()
            }
        } else {
            let img = img.to_luma8();
            if img.dimensions() == (w, h) {
                img.into_raw()
            } else {
                imageops::resize(&img, w, h, FilterType::Triangle).into_raw()
            }
        };
        let c = self.channels;
        let x: Vec<f32> = pixels
            .iter()
            .enumerate()
            .map(|(i, &p)| (p as f32 * self.scale - self.mean[i % c]) / self.std[i % c])
            .collect();
        let buf = match self.quant {
            Some((s, zp)) => quantize(&x, self.dtype, s, zp),
            None => Buf::F32(x),
        };
        Tensor::new(&self.shape, buf)
    }
}

impl Dataset for ImageDirDataset {
    fn len_hint(&self) -> Option<usize> {
        Some(self.files.len())
    }

    fn next_sample(&mut self) -> Option<Result<Sample>> {
        let path = self.files.get(self.next)?;
        self.next += 1;
        Some(self.load(path).map(|t| vec![(None, t)]))
    }
}
