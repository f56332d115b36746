//! NumPy `.npy` arrays: read (versions 1–3, little-endian, C order) and write (version 1).

use std::io::{Read, Write};

use crate::model::DType;
use crate::{Buf, Error, Result, Tensor};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Header dictionaries longer than this are not NumPy's (it writes under 100 bytes).
const MAX_HEADER: usize = 1 << 16;

pub(crate) fn err(what: &str, msg: impl std::fmt::Display) -> Error {
    Error::Data(format!("{what}: {msg}"))
}

/// Parse the header dictionary: `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
fn parse_header(what: &str, h: &str) -> Result<(String, bool, Vec<usize>)> {
    let value_of = |key: &str| -> Result<&str> {
        let k = format!("'{key}':");
        let at = h
            .find(&k)
            .ok_or_else(|| err(what, format!("npy header has no '{key}': {h}")))?;
        Ok(h[at + k.len()..].trim_start())
    };
    let descr = value_of("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or_else(|| err(what, format!("bad descr in npy header: {h}")))?
        .to_string();
    let fortran = value_of("fortran_order")?.starts_with("True");
    let shape = value_of("shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| err(what, format!("bad shape in npy header: {h}")))?;
    let dims = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| err(what, format!("bad dimension '{s}' in npy header")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((descr, fortran, dims))
}

/// The element type of an array as stored: `dtype` is `None` for float64, which is read as
/// float32 (NumPy's default float type is float64).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Elem {
    pub dtype: Option<DType>,
    /// Bytes per element in the file.
    pub size: usize,
}

impl Elem {
    /// The dtype of the tensors read from it.
    pub fn out_dtype(self) -> DType {
        self.dtype.unwrap_or(DType::F32)
    }

    /// The dtype as stored, for messages.
    pub fn stored_name(self) -> String {
        match self.dtype {
            Some(d) => d.to_string(),
            None => "FLOAT64".to_string(),
        }
    }

    /// Decode little-endian element bytes (a whole number of elements).
    pub fn decode(self, bytes: &[u8], what: &str) -> Result<Buf> {
        match self.dtype {
            Some(dt) => Buf::from_le_bytes(dt, bytes).ok_or_else(|| err(what, "undecodable dtype")),
            None => Ok(Buf::F32(
                bytes
                    .chunks_exact(8)
                    .map(|c| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(c); // chunks_exact(8)
                        f64::from_le_bytes(a) as f32
                    })
                    .collect(),
            )),
        }
    }
}

/// A parsed `.npy` header.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub elem: Elem,
    pub shape: Vec<usize>,
    /// Bytes before the data (magic, version, length and dictionary).
    pub data_offset: u64,
}

impl Header {
    /// Elements in the whole array (checked for overflow when the header was read).
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// Bytes of data in the whole array (checked for overflow when the header was read).
    pub fn data_bytes(&self) -> usize {
        self.elements() * self.elem.size
    }
}

/// Read a `.npy` header, leaving `r` at the first data byte. `what` names the file (and
/// array) in errors.
pub(crate) fn read_header(r: &mut impl Read, what: &str) -> Result<Header> {
    let io = |e: std::io::Error| err(what, format!("cannot read npy header: {e}"));
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(io)?;
    if &magic[..6] != MAGIC {
        return Err(err(what, "not a .npy array (bad magic)"));
    }
    let (header_len, len_bytes) = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).map_err(io)?;
            (u16::from_le_bytes(b) as usize, 2)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(io)?;
            (u32::from_le_bytes(b) as usize, 4)
        }
        v => return Err(err(what, format!("unsupported .npy version {v}"))),
    };
    if header_len > MAX_HEADER {
        return Err(err(
            what,
            format!("npy header of {header_len} bytes is implausible"),
        ));
    }
    let mut header = vec![0u8; header_len];
    r.read_exact(&mut header).map_err(io)?;
    let header = String::from_utf8_lossy(&header);
    let (descr, fortran, shape) = parse_header(what, &header)?;
    if fortran {
        return Err(err(
            what,
            "Fortran-ordered arrays are not supported (save with np.ascontiguousarray)",
        ));
    }
    let (order, code) = descr.split_at(1.min(descr.len()));
    if order == ">" {
        return Err(err(
            what,
            format!("big-endian arrays ({descr}) are not supported"),
        ));
    }
    let (dtype, size) = match code {
        "f4" => (Some(DType::F32), 4),
        "f8" => (None, 8),
        "f2" => (Some(DType::F16), 2),
        "i1" => (Some(DType::I8), 1),
        "u1" => (Some(DType::U8), 1),
        "i2" => (Some(DType::I16), 2),
        "i4" => (Some(DType::I32), 4),
        "i8" => (Some(DType::I64), 8),
        "b1" => (Some(DType::Bool), 1),
        _ => return Err(err(what, format!("unsupported array dtype '{descr}'"))),
    };
    shape
        .iter()
        .try_fold(size, |a: usize, &d| a.checked_mul(d))
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| err(what, format!("shape {shape:?} is too large")))?;
    Ok(Header {
        elem: Elem { dtype, size },
        shape,
        data_offset: (8 + len_bytes + header_len) as u64,
    })
}

/// Read one `.npy` array from a reader. `what` names the file (and array) in errors.
/// float64 is converted to float32 (NumPy's default float type is float64).
pub fn read_npy(mut r: impl Read, what: &str) -> Result<Tensor> {
    let header = read_header(&mut r, what)?;
    let bytes_len = header.data_bytes();
    // Read in bounded steps so a lying header cannot make a huge allocation up front.
    let mut bytes = Vec::with_capacity(bytes_len.min(1 << 24));
    r.take(bytes_len as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| err(what, format!("cannot read npy data: {e}")))?;
    if bytes.len() != bytes_len {
        return Err(err(
            what,
            format!(
                "array data is truncated: {} of {bytes_len} bytes",
                bytes.len()
            ),
        ));
    }
    Tensor::new(&header.shape, header.elem.decode(&bytes, what)?)
}

/// Read a `.npy` file.
pub fn read_npy_file(path: impl AsRef<std::path::Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let f = crate::fsutil::open_regular(path)?;
    read_npy(std::io::BufReader::new(f), &path.display().to_string())
}

fn descr(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "<f4",
        DType::F16 => "<f2",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::Bool => "|b1",
        _ => "|V1",
    }
}

/// The `.npy` (version 1.0) bytes of a tensor.
pub fn npy_bytes(t: &Tensor) -> Vec<u8> {
    let shape = match t.shape() {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr(t.dtype())
    );
    // Pad so that the data starts at a multiple of 64, ending with a newline.
    let total = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + t.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&t.buf().to_le_bytes());
    out
}

/// Write a tensor as `.npy` to a writer.
pub fn write_npy(mut w: impl Write, t: &Tensor) -> std::io::Result<()> {
    w.write_all(&npy_bytes(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for t in [
            Tensor::from_f32(&[2, 3], &[1.0, -2.0, 3.5, 0.0, 1e-7, 6.0]).unwrap(),
            Tensor::from_i8(&[4], &[-128, 0, 5, 127]).unwrap(),
            Tensor::from_u8(&[], &[9]).unwrap(),
        ] {
            let bytes = npy_bytes(&t);
            assert_eq!((bytes.len() - t.buf().to_le_bytes().len()) % 64, 0);
            assert_eq!(read_npy(&bytes[..], "t").unwrap(), t);
        }
    }

    #[test]
    fn bad_headers_are_errors() {
        let t = Tensor::from_f32(&[2], &[1.0, 2.0]).unwrap();
        let mut b = npy_bytes(&t);
        let e = read_npy(&b[..b.len() - 1], "x.npy")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.npy") && e.contains("truncated"), "{e}");
        b[0] = 0;
        assert!(read_npy(&b[..], "x.npy").is_err());
        let huge = b"\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999), }\n";
        let e = read_npy(&huge[..], "h.npy").unwrap_err().to_string();
        assert!(e.contains("h.npy"), "{e}");
    }
}
