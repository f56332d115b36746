//! Fitting array samples to a model input: the sample's shape (batch axis, flattening) and
//! its dtype (pass through, or quantize float data for an int8/uint8 input).

use super::npy::{err, Elem};
use crate::model::DType;
use crate::{Buf, IoSpec, Result};

/// How the elements of a sample become the input's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Conv {
    /// As read (float64 already read as float32).
    Pass,
    /// Float data for a quantized input: see [`quantize`].
    Quantize {
        dtype: DType,
        scale: f32,
        zero_point: i64,
    },
}

impl Conv {
    pub fn apply(self, buf: Buf) -> Buf {
        match (self, buf) {
            (
                Conv::Quantize {
                    dtype,
                    scale,
                    zero_point,
                },
                Buf::F32(x),
            ) => quantize(&x, dtype, scale, zero_point),
            (_, buf) => buf,
        }
    }
}

/// Quantize float values for an int8 or uint8 input as TFLite's QUANTIZE op does:
/// `q = clamp(round(x / scale) + zero_point)`, the division in float32 and `round` half away
/// from zero (`TfLiteRound`, i.e. `std::round`). NaN becomes the zero point; ±Inf saturate.
pub(crate) fn quantize(x: &[f32], dtype: DType, scale: f32, zero_point: i64) -> Buf {
    let (lo, hi) = if dtype == DType::U8 {
        (0.0f32, 255.0f32)
    } else {
        (-128.0, 127.0)
    };
    let zp = zero_point as f32;
    let q = x.iter().map(move |&v| {
        let r = (v / scale).round();
        if r.is_nan() {
            zp.clamp(lo, hi)
        } else {
            // round(x / scale) is an integer; adding the (small) zero point in f32 is exact
            // below 2^24, and anything beyond that saturates anyway.
            (r + zp).clamp(lo, hi)
        }
    });
    if dtype == DType::U8 {
        Buf::U8(q.map(|v| v as u8).collect())
    } else {
        Buf::I8(q.map(|v| v as i8).collect())
    }
}

/// The conversion from stored elements to the input's dtype; `None` input: as read.
pub(crate) fn conversion(what: &str, elem: Elem, input: Option<&IoSpec>) -> Result<Conv> {
    let Some(spec) = input else {
        return Ok(Conv::Pass);
    };
    let have = elem.out_dtype();
    if have == spec.dtype {
        return Ok(Conv::Pass);
    }
    if have == DType::F32 && matches!(spec.dtype, DType::I8 | DType::U8) {
        if let Some((scale, zero_point)) = spec.quant {
            if scale.is_finite() && scale > 0.0 {
                return Ok(Conv::Quantize {
                    dtype: spec.dtype,
                    scale,
                    zero_point,
                });
            }
        }
        return Err(err(
            what,
            format!(
                "float data for input '{}' of dtype {} needs the input's quantization \
                 parameters, which it does not have",
                spec.key(),
                spec.dtype
            ),
        ));
    }
    Err(err(
        what,
        format!(
            "array dtype {} does not fit input '{}' of dtype {}{}",
            elem.stored_name(),
            spec.key(),
            spec.dtype,
            match spec.dtype {
                DType::F32 => " (give float32 or float64 data)",
                DType::I8 | DType::U8 => " (give data of that dtype, or float data to quantize)",
                _ => "",
            }
        ),
    ))
}

/// The shape of one sample of an array whose leading axis counts samples.
///
/// Without an input shape each sample is a batch of one: `[1, rest...]`. With one, the
/// sample's shape `rest` must be the input's shape without its leading 1 (the batch axis is
/// added), the input's shape itself (models without a batch axis), or, for an input of shape
/// `[1, K]` or `[K]`, hold K elements (flattened in C order, as an MLP fed images). Dimensions
/// flagged in `dynamic` (the input's `-1`s) take the sample's size. Anything else is an error
/// naming both shapes.
pub(crate) fn sample_shape(
    what: &str,
    array_shape: &[usize],
    input: Option<(&str, &[usize])>,
    dynamic: &[bool],
) -> Result<Vec<usize>> {
    let Some((_, rest)) = array_shape.split_first() else {
        return Err(err(
            what,
            "a scalar is not an array of samples (the leading axis counts samples)",
        ));
    };
    let batched: Vec<usize> = std::iter::once(1).chain(rest.iter().copied()).collect();
    let Some((key, want)) = input else {
        return Ok(batched);
    };
    let free = |have: &[usize]| {
        have.len() == want.len()
            && dynamic.len() == want.len()
            && (0..want.len()).all(|i| have[i] == want[i] || dynamic[i])
    };
    if dynamic.iter().any(|&d| d) {
        for have in [batched.as_slice(), rest] {
            if free(have) {
                return Ok(have.to_vec());
            }
        }
    }
    let k: usize = rest.iter().product();
    let fits =
        want == batched.as_slice() || want == rest || matches!(want, [1, n] | [n] if *n == k);
    if fits {
        return Ok(want.to_vec());
    }
    let per_sample = match want.split_first() {
        Some((1, tail)) => format!("{tail:?}"),
        _ => format!("{want:?}"),
    };
    Err(err(
        what,
        format!(
            "samples of shape {rest:?} (array of shape {array_shape:?}) do not fit input \
             '{key}' of shape {want:?}: expected an array of shape [N, {}]",
            per_sample.trim_start_matches('[').trim_end_matches(']')
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let s =
            |a: &[usize], w: Option<&[usize]>| sample_shape("a.npy", a, w.map(|w| ("x", w)), &[]);
        assert_eq!(s(&[5, 8, 8, 1], None).unwrap(), vec![1, 8, 8, 1]);
        assert_eq!(s(&[5], None).unwrap(), vec![1]);
        assert_eq!(
            s(&[5, 8, 8, 1], Some(&[1, 8, 8, 1])).unwrap(),
            vec![1, 8, 8, 1]
        );
        assert_eq!(
            s(&[5, 1, 8, 8, 1], Some(&[1, 8, 8, 1])).unwrap(),
            vec![1, 8, 8, 1]
        );
        assert_eq!(s(&[5, 8, 8, 1], Some(&[8, 8, 1])).unwrap(), vec![8, 8, 1]);
        assert_eq!(s(&[5, 8, 8, 1], Some(&[1, 64])).unwrap(), vec![1, 64]);
        let e = s(&[5, 1, 8, 8], Some(&[1, 8, 8, 1]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a.npy") && e.contains("[1, 8, 8]") && e.contains("[N, 8, 8, 1]"),
            "{e}"
        );
        assert!(s(&[], None).unwrap_err().to_string().contains("scalar"));
        // Dynamic dimensions take the sample's size; the others must match.
        let dynamic = [false, true, false, true];
        let d = |a: &[usize]| sample_shape("a.npy", a, Some(("x", &[1, 1, 1, 1])), &dynamic);
        assert_eq!(d(&[5, 1, 4, 1, 3]).unwrap(), vec![1, 4, 1, 3]);
        assert_eq!(d(&[5, 4, 1, 3]).unwrap(), vec![1, 4, 1, 3]);
        assert!(d(&[5, 1, 4, 2, 3]).is_err());
    }

    #[test]
    fn quantize_rounds_half_away_and_saturates() {
        let x = [
            0.5,
            -0.5,
            1.5,
            -1.5,
            1000.0,
            -1000.0,
            f32::NAN,
            f32::INFINITY,
        ];
        assert_eq!(
            quantize(&x, DType::I8, 1.0, 0),
            Buf::I8(vec![1, -1, 2, -2, 127, -128, 0, 127])
        );
        assert_eq!(
            quantize(&x, DType::U8, 1.0, 128),
            Buf::U8(vec![129, 127, 130, 126, 255, 0, 128, 255])
        );
    }
}
