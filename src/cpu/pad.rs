//! Fast PAD (and PADV2, MIRROR_PAD aside): the reference kernel's output — the pad value
//! wherever a position lies in the padding of any axis, the input elements in order
//! everywhere else — written as whole runs (`fill` and `copy_from_slice` per innermost
//! row) instead of an index test per element. A copy, so the bits are the reference's for
//! every dtype.

use crate::reference::shape_ops::kernels::{PadKernel, PadValue};
use crate::reference::Kernel;
use crate::{Buf, Error, Result, Tensor};

pub(crate) struct PadFast(pub(crate) PadKernel);

/// Axis `d` of `dst` (a block of the output of `out[d..]`) from `src` (a block of the input
/// of `inn[d..]`), `left[d]` pad positions first.
fn fill_axis<T: Copy>(k: &PadKernel, d: usize, src: &[T], dst: &mut [T], value: T) {
    let (inn, out) = (&k.in_shape, &k.out_shape);
    if d == out.len() {
        dst[0] = src[0];
        return;
    }
    let inner_out: usize = out[d + 1..].iter().product();
    let inner_in: usize = inn[d + 1..].iter().product();
    let (l, n) = (k.left[d], inn[d]);
    dst[..l * inner_out].fill(value);
    if d + 1 == out.len() {
        dst[l..l + n].copy_from_slice(&src[..n]);
    } else {
        for i in 0..n {
            fill_axis(
                k,
                d + 1,
                &src[i * inner_in..(i + 1) * inner_in],
                &mut dst[(l + i) * inner_out..(l + i + 1) * inner_out],
                value,
            );
        }
    }
    dst[(l + n) * inner_out..out[d] * inner_out].fill(value);
}

impl PadFast {
    /// Whether the shapes are consistent (`left[d] + in[d] <= out[d]` on every axis), so
    /// that the runs stay in bounds.
    pub(crate) fn fits(k: &PadKernel) -> bool {
        let rank = k.out_shape.len();
        k.in_shape.len() == rank
            && k.left.len() == rank
            && (0..rank).all(|d| {
                k.left[d]
                    .checked_add(k.in_shape[d])
                    .is_some_and(|e| e <= k.out_shape[d])
            })
    }
}

impl Kernel for PadFast {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let k = &self.0;
        let what = k.what.as_str();
        let arg = |i: usize| {
            inputs
                .get(i)
                .copied()
                .flatten()
                .ok_or_else(|| Error::InvalidModel(format!("{what}: input {i} has no value")))
        };
        let x = arg(0)?;
        let value = match &k.value {
            PadValue::Fixed(b) => b,
            PadValue::Input(i) => arg(*i)?.buf(),
        };
        if value.is_empty() {
            return Err(Error::Shape(format!("{what}: the pad value is empty")));
        }
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{what}: no output")))?;
        let (n_in, n_out) = (
            k.in_shape.iter().product::<usize>(),
            k.out_shape.iter().product::<usize>(),
        );
        if x.len() != n_in || out.len() != n_out || !Self::fits(k) {
            return Err(Error::Shape(format!(
                "{what}: input of {} elements, output of {} ({n_in} and {n_out} expected)",
                x.len(),
                out.len()
            )));
        }
        if n_out == 0 {
            return Ok(());
        }
        macro_rules! go {
            ($($v:ident),*) => {
                match (x.buf(), out.buf_mut(), value) {
                    $((Buf::$v(s), Buf::$v(d), Buf::$v(p)) => {
                        fill_axis(k, 0, s, d, p[0]);
                        Ok(())
                    })*
                    (s, d, p) => Err(Error::Shape(format!(
                        "{what}: input {}, output {}, pad value {}",
                        s.dtype(),
                        d.dtype(),
                        p.dtype()
                    ))),
                }
            };
        }
        go!(F32, F16, I8, U8, I16, I32, I64, Bool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DType;

    /// The fast kernel writes the reference kernel's bits, on shapes the fixtures do not
    /// have: rank 0 to 4, empty axes, no padding, padding on one side only, a negative zero
    /// as the pad value.
    #[test]
    fn equals_the_reference_kernel() {
        let cases: &[(&[usize], &[usize], &[usize])] = &[
            (&[], &[], &[]),
            (&[3], &[0], &[3]),
            (&[3], &[2], &[7]),
            (&[2, 3], &[1, 0], &[4, 5]),
            (&[0, 3], &[1, 1], &[2, 5]),
            (&[1, 2, 3, 4], &[0, 1, 0, 2], &[1, 5, 3, 9]),
            (&[2, 1, 2, 3], &[1, 2, 3, 0], &[3, 4, 6, 3]),
        ];
        for &(inn, left, out) in cases {
            let n: usize = inn.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
            let x = Tensor::from_f32(inn, &data).unwrap();
            let k = PadKernel {
                what: "PAD".into(),
                in_shape: inn.to_vec(),
                out_shape: out.to_vec(),
                left: left.to_vec(),
                value: PadValue::Fixed(Buf::F32(vec![-0.0])),
            };
            assert!(PadFast::fits(&k));
            let mut want = vec![Tensor::zeros(DType::F32, out).unwrap()];
            let mut got = vec![Tensor::from_f32(out, &vec![7.0; want[0].len()]).unwrap()];
            k.run(&[Some(&x)], &mut want).unwrap();
            PadFast(k.clone()).run(&[Some(&x)], &mut got).unwrap();
            let bits = |t: &Tensor| -> Vec<u32> {
                t.as_f32().unwrap().iter().map(|v| v.to_bits()).collect()
            };
            assert_eq!(bits(&got[0]), bits(&want[0]), "{inn:?} {left:?} {out:?}");
        }
        // Inconsistent shapes are refused at prepare, and a wrong input at run time.
        let mut k = PadKernel {
            what: "PAD".into(),
            in_shape: vec![3],
            out_shape: vec![4],
            left: vec![2],
            value: PadValue::Fixed(Buf::F32(vec![0.0])),
        };
        assert!(!PadFast::fits(&k));
        k.left = vec![1];
        let x = Tensor::from_f32(&[2], &[1.0, 2.0]).unwrap();
        let mut out = vec![Tensor::zeros(DType::F32, &[4]).unwrap()];
        assert!(PadFast(k).run(&[Some(&x)], &mut out).is_err());
    }
}
