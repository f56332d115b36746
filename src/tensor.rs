//! Tensor values: what engines take as inputs and give as outputs.

use crate::model::DType;
use crate::{Error, Result};

/// Typed element storage.
#[derive(Debug, Clone, PartialEq)]
pub enum Buf {
    /// float32 elements.
    F32(Vec<f32>),
    /// IEEE binary16 bit patterns.
    F16(Vec<u16>),
    /// int8 elements.
    I8(Vec<i8>),
    /// uint8 elements.
    U8(Vec<u8>),
    /// int16 elements.
    I16(Vec<i16>),
    /// int32 elements.
    I32(Vec<i32>),
    /// int64 elements.
    I64(Vec<i64>),
    /// bool elements.
    Bool(Vec<bool>),
}

impl Buf {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Buf::F32(v) => v.len(),
            Buf::F16(v) => v.len(),
            Buf::I8(v) => v.len(),
            Buf::U8(v) => v.len(),
            Buf::I16(v) => v.len(),
            Buf::I32(v) => v.len(),
            Buf::I64(v) => v.len(),
            Buf::Bool(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Buf::F32(_) => DType::F32,
            Buf::F16(_) => DType::F16,
            Buf::I8(_) => DType::I8,
            Buf::U8(_) => DType::U8,
            Buf::I16(_) => DType::I16,
            Buf::I32(_) => DType::I32,
            Buf::I64(_) => DType::I64,
            Buf::Bool(_) => DType::Bool,
        }
    }

    /// Zeros of a dtype the engines can hold.
    pub fn zeros(dtype: DType, n: usize) -> Option<Buf> {
        Some(match dtype {
            DType::F32 => Buf::F32(vec![0.0; n]),
            DType::F16 => Buf::F16(vec![0; n]),
            DType::I8 => Buf::I8(vec![0; n]),
            DType::U8 => Buf::U8(vec![0; n]),
            DType::I16 => Buf::I16(vec![0; n]),
            DType::I32 => Buf::I32(vec![0; n]),
            DType::I64 => Buf::I64(vec![0; n]),
            DType::Bool => Buf::Bool(vec![false; n]),
            _ => return None,
        })
    }

    /// [`Buf::zeros`], allocated fallibly: `Err` when the allocator refuses, `Ok(None)` for
    /// a dtype that cannot be held.
    pub fn try_zeros(dtype: DType, n: usize) -> crate::Result<Option<Buf>> {
        fn z<T: Clone>(n: usize, v: T, dtype: DType) -> crate::Result<Vec<T>> {
            let mut out = Vec::new();
            out.try_reserve_exact(n).map_err(|e| {
                crate::Error::Memory(format!("allocating {n} {dtype} values failed ({e})"))
            })?;
            out.resize(n, v);
            Ok(out)
        }
        Ok(Some(match dtype {
            DType::F32 => Buf::F32(z(n, 0.0, dtype)?),
            DType::F16 => Buf::F16(z(n, 0, dtype)?),
            DType::I8 => Buf::I8(z(n, 0, dtype)?),
            DType::U8 => Buf::U8(z(n, 0, dtype)?),
            DType::I16 => Buf::I16(z(n, 0, dtype)?),
            DType::I32 => Buf::I32(z(n, 0, dtype)?),
            DType::I64 => Buf::I64(z(n, 0, dtype)?),
            DType::Bool => Buf::Bool(z(n, false, dtype)?),
            _ => return Ok(None),
        }))
    }

    /// Decode little-endian bytes (a constant tensor's data).
    pub fn from_le_bytes(dtype: DType, bytes: &[u8]) -> Option<Buf> {
        fn chunks<const N: usize, T>(b: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
            b.chunks_exact(N)
                .map(|c| {
                    let mut a = [0u8; N];
                    a.copy_from_slice(c); // chunks_exact: c.len() == N
                    f(a)
                })
                .collect()
        }
        Some(match dtype {
            DType::F32 => Buf::F32(chunks(bytes, f32::from_le_bytes)),
            DType::F16 => Buf::F16(chunks(bytes, u16::from_le_bytes)),
            DType::I8 => Buf::I8(bytes.iter().map(|&b| b as i8).collect()),
            DType::U8 => Buf::U8(bytes.to_vec()),
            DType::I16 => Buf::I16(chunks(bytes, i16::from_le_bytes)),
            DType::I32 => Buf::I32(chunks(bytes, i32::from_le_bytes)),
            DType::I64 => Buf::I64(chunks(bytes, i64::from_le_bytes)),
            DType::Bool => Buf::Bool(bytes.iter().map(|&b| b != 0).collect()),
            _ => return None,
        })
    }

    /// Little-endian bytes.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Buf::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Buf::F16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Buf::I8(v) => v.iter().map(|&x| x as u8).collect(),
            Buf::U8(v) => v.clone(),
            Buf::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Buf::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Buf::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Buf::Bool(v) => v.iter().map(|&x| x as u8).collect(),
        }
    }
}

/// A tensor value: shape and typed data (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    buf: Buf,
}

fn product(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

impl Tensor {
    /// A tensor from a shape and data; the element count must match.
    pub fn new(shape: &[usize], buf: Buf) -> Result<Tensor> {
        match product(shape) {
            Some(n) if n == buf.len() => Ok(Tensor {
                shape: shape.to_vec(),
                buf,
            }),
            _ => Err(Error::Shape(format!(
                "shape {shape:?} does not hold {} elements of {}",
                buf.len(),
                buf.dtype()
            ))),
        }
    }

    /// A float32 tensor; `data` must have as many elements as `shape` says.
    pub fn from_f32(shape: &[usize], data: &[f32]) -> Result<Tensor> {
        Tensor::new(shape, Buf::F32(data.to_vec()))
    }

    /// An int8 tensor; `data` must have as many elements as `shape` says.
    pub fn from_i8(shape: &[usize], data: &[i8]) -> Result<Tensor> {
        Tensor::new(shape, Buf::I8(data.to_vec()))
    }

    /// A uint8 tensor; `data` must have as many elements as `shape` says.
    pub fn from_u8(shape: &[usize], data: &[u8]) -> Result<Tensor> {
        Tensor::new(shape, Buf::U8(data.to_vec()))
    }

    /// Zeros of a shape and dtype (`None` for dtypes engines do not hold).
    pub fn zeros(dtype: DType, shape: &[usize]) -> Option<Tensor> {
        let n = product(shape)?;
        Some(Tensor {
            shape: shape.to_vec(),
            buf: Buf::zeros(dtype, n)?,
        })
    }

    /// [`Tensor::zeros`], allocated fallibly ([`Buf::try_zeros`]).
    pub fn try_zeros(dtype: DType, shape: &[usize]) -> crate::Result<Option<Tensor>> {
        let Some(n) = product(shape) else {
            return Ok(None);
        };
        Ok(Buf::try_zeros(dtype, n)?.map(|buf| Tensor {
            shape: shape.to_vec(),
            buf,
        }))
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.buf.dtype()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The elements.
    pub fn buf(&self) -> &Buf {
        &self.buf
    }

    /// The elements, to change in place (the shape stays).
    pub fn buf_mut(&mut self) -> &mut Buf {
        &mut self.buf
    }

    /// The elements, taking the tensor apart.
    pub fn into_buf(self) -> Buf {
        self.buf
    }

    /// The same data under another shape with the same element count.
    pub fn reshaped(mut self, shape: &[usize]) -> Result<Tensor> {
        if product(shape) != Some(self.len()) {
            return Err(Error::Shape(format!(
                "cannot reshape {:?} to {shape:?}",
                self.shape
            )));
        }
        self.shape = shape.to_vec();
        Ok(self)
    }

    /// The elements if float32.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.buf {
            Buf::F32(v) => Some(v),
            _ => None,
        }
    }

    /// The elements if int8.
    pub fn as_i8(&self) -> Option<&[i8]> {
        match &self.buf {
            Buf::I8(v) => Some(v),
            _ => None,
        }
    }

    /// The elements if uint8.
    pub fn as_u8(&self) -> Option<&[u8]> {
        match &self.buf {
            Buf::U8(v) => Some(v),
            _ => None,
        }
    }

    /// The elements if int32.
    pub fn as_i32(&self) -> Option<&[i32]> {
        match &self.buf {
            Buf::I32(v) => Some(v),
            _ => None,
        }
    }

    /// The values of an int16 tensor.
    pub fn as_i16(&self) -> Option<&[i16]> {
        match &self.buf {
            Buf::I16(v) => Some(v),
            _ => None,
        }
    }

    /// The values of an int64 tensor.
    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.buf {
            Buf::I64(v) => Some(v),
            _ => None,
        }
    }
}

/// IEEE binary16 → f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let shift = m.leading_zeros() - 21; // bring the top bit to position 10
            let m = (m << shift) & 0x3ff;
            let e = 127 - 15 + 1 - shift;
            sign | (e << 23) | (m << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, m) => sign | 0x7fc0_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_decoding() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14));
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x3555), 0.33325195);
    }

    #[test]
    fn shape_must_match() {
        assert!(Tensor::from_f32(&[2, 3], &[0.0; 6]).is_ok());
        assert!(Tensor::from_f32(&[2, 3], &[0.0; 5]).is_err());
    }
}
