//! Element types of tensors (the format's `TensorType`).

use std::fmt;

/// A tensor element type. Values the library does not know are kept as `Other(code)` so that
/// any file round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// float32
    F32,
    /// float16
    F16,
    /// int32
    I32,
    /// uint8
    U8,
    /// int64
    I64,
    /// Strings (TFLite's string tensor layout).
    String,
    /// bool
    Bool,
    /// int16
    I16,
    /// complex64
    Complex64,
    /// int8
    I8,
    /// float64
    F64,
    /// complex128
    Complex128,
    /// uint64
    U64,
    /// A resource handle.
    Resource,
    /// A variant.
    Variant,
    /// uint32
    U32,
    /// uint16
    U16,
    /// int4 (two per byte)
    I4,
    /// bfloat16
    BF16,
    /// A type code this version of litequant has no name for.
    Other(i8),
}

impl DType {
    /// The format's `TensorType` code.
    pub fn code(self) -> i8 {
        match self {
            DType::F32 => 0,
            DType::F16 => 1,
            DType::I32 => 2,
            DType::U8 => 3,
            DType::I64 => 4,
            DType::String => 5,
            DType::Bool => 6,
            DType::I16 => 7,
            DType::Complex64 => 8,
            DType::I8 => 9,
            DType::F64 => 10,
            DType::Complex128 => 11,
            DType::U64 => 12,
            DType::Resource => 13,
            DType::Variant => 14,
            DType::U32 => 15,
            DType::U16 => 16,
            DType::I4 => 17,
            DType::BF16 => 18,
            DType::Other(c) => c,
        }
    }

    /// The type for a `TensorType` code.
    pub fn from_code(code: i8) -> DType {
        match code {
            0 => DType::F32,
            1 => DType::F16,
            2 => DType::I32,
            3 => DType::U8,
            4 => DType::I64,
            5 => DType::String,
            6 => DType::Bool,
            7 => DType::I16,
            8 => DType::Complex64,
            9 => DType::I8,
            10 => DType::F64,
            11 => DType::Complex128,
            12 => DType::U64,
            13 => DType::Resource,
            14 => DType::Variant,
            15 => DType::U32,
            16 => DType::U16,
            17 => DType::I4,
            18 => DType::BF16,
            c => DType::Other(c),
        }
    }

    /// Bytes needed to store `n` elements densely, or `None` for types without a fixed size
    /// (strings, resources, variants, unknown codes) or on overflow.
    pub fn storage_bytes(self, n: u64) -> Option<u64> {
        let per = match self {
            DType::I4 => return Some(n.div_ceil(2)),
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F64 | DType::I64 | DType::U64 | DType::Complex64 => 8,
            DType::Complex128 => 16,
            DType::String | DType::Resource | DType::Variant | DType::Other(_) => return None,
        };
        n.checked_mul(per)
    }

    /// The name TFLite uses (`FLOAT32`, `INT8`, ...), as printed by `inspect`.
    pub fn name(self) -> String {
        let s = match self {
            DType::F32 => "FLOAT32",
            DType::F16 => "FLOAT16",
            DType::I32 => "INT32",
            DType::U8 => "UINT8",
            DType::I64 => "INT64",
            DType::String => "STRING",
            DType::Bool => "BOOL",
            DType::I16 => "INT16",
            DType::Complex64 => "COMPLEX64",
            DType::I8 => "INT8",
            DType::F64 => "FLOAT64",
            DType::Complex128 => "COMPLEX128",
            DType::U64 => "UINT64",
            DType::Resource => "RESOURCE",
            DType::Variant => "VARIANT",
            DType::U32 => "UINT32",
            DType::U16 => "UINT16",
            DType::I4 => "INT4",
            DType::BF16 => "BFLOAT16",
            DType::Other(c) => return format!("TYPE_{c}"),
        };
        s.to_string()
    }
}

impl serde::Serialize for DType {
    /// As its [`DType::name`] (`"INT8"`), the form reports and the JSON outputs use.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in i8::MIN..=i8::MAX {
            assert_eq!(DType::from_code(c).code(), c);
        }
    }

    #[test]
    fn storage() {
        assert_eq!(DType::I4.storage_bytes(5), Some(3));
        assert_eq!(DType::F32.storage_bytes(3), Some(12));
        assert_eq!(DType::String.storage_bytes(3), None);
        assert_eq!(DType::F64.storage_bytes(u64::MAX), None);
    }
}
