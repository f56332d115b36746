//! The kernels of the data-movement family. Everything here is decided at prepare time
//! (shapes, index steps, pad values, requantization constants); running only moves elements.
//!
//! Every kernel is generic over the element type: TFLite dispatches these ops on the element
//! size (`TfLiteTypeGetSizeBits`) or copies bytes, so one loop serves float32, int8, uint8,
//! int16, int32, int64, float16 and bool alike.

use crate::{Buf, Error, Result, Tensor};

use super::super::Kernel;

/// Apply `$f(src, dst, extra...)` to two buffers of the same element type; an error if their
/// types differ (the engine allocates outputs with the dtypes prepare checked, so this is a
/// guard, not a path).
macro_rules! with_same_type {
    ($src:expr, $dst:expr, $what:expr, |$s:ident, $d:ident| $body:expr) => {
        match ($src, $dst) {
            (Buf::F32($s), Buf::F32($d)) => $body,
            (Buf::F16($s), Buf::F16($d)) => $body,
            (Buf::I8($s), Buf::I8($d)) => $body,
            (Buf::U8($s), Buf::U8($d)) => $body,
            (Buf::I16($s), Buf::I16($d)) => $body,
            (Buf::I32($s), Buf::I32($d)) => $body,
            (Buf::I64($s), Buf::I64($d)) => $body,
            (Buf::Bool($s), Buf::Bool($d)) => $body,
            (s, d) => Err(Error::Shape(format!(
                "{}: input is {}, output is {}",
                $what,
                s.dtype(),
                d.dtype()
            ))),
        }
    };
}

fn input<'a>(inputs: &[Option<&'a Tensor>], i: usize, what: &str) -> Result<&'a Tensor> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| Error::Shape(format!("{what}: input {i} was not given")))
}

fn check_len(what: &str, which: &str, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::Shape(format!(
            "{what}: {which} holds {got} elements, the prepared op expects {want}"
        )))
    }
}

// ---------------------------------------------------------------------------------------
// RESHAPE, SQUEEZE: `memcpy(output, input, input->bytes)`.

/// A run-time check of a RESHAPE whose shape input is not a constant: the engine has static
/// shapes, so the shape the tensor asks for must be the one the model stores.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeShape {
    /// The input index of the shape tensor.
    pub input: usize,
    pub input_shape: Vec<usize>,
    pub output_shape: Vec<usize>,
}

pub(crate) struct CopyKernel {
    pub what: String,
    pub len: usize,
    pub runtime_shape: Option<RuntimeShape>,
}

impl Kernel for CopyKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let x = input(inputs, 0, &self.what)?;
        if let Some(rs) = &self.runtime_shape {
            let shape = input(inputs, rs.input, &self.what)?;
            let values: Vec<i64> = match shape.buf() {
                Buf::I32(v) => v.iter().map(|&x| x as i64).collect(),
                b => {
                    return Err(Error::Shape(format!(
                        "{}: the shape input is {}, not int32",
                        self.what,
                        b.dtype()
                    )))
                }
            };
            let got = super::reshape_output_shape(&rs.input_shape, &values);
            if got.as_deref() != Some(rs.output_shape.as_slice()) {
                return Err(Error::Shape(format!(
                    "{}: the shape input {values:?} does not give the model's output shape {:?}",
                    self.what, rs.output_shape
                )));
            }
        }
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{}: no output", self.what)))?;
        check_len(&self.what, "the input", x.len(), self.len)?;
        check_len(&self.what, "the output", out.len(), self.len)?;
        with_same_type!(x.buf(), out.buf_mut(), self.what, |s, d| {
            d.copy_from_slice(s);
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------
// TRANSPOSE, SLICE, STRIDED_SLICE: every one writes its output sequentially, reading the
// input at `base + Σ_d k_d · step_d` for the output position `(k_0, …, k_{r-1})` in a box
// of `counts` — the loop nests of `reference_ops::Transpose`, `Slice` and `StridedSlice`
// with the per-axis offsets multiplied out at prepare.

/// A strided walk over the input: the index plan of a gather.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Walk {
    /// Input element count the plan was made for.
    pub in_len: usize,
    /// Flat input index of the first element.
    pub base: usize,
    /// Iterations per loop, outermost first.
    pub counts: Vec<usize>,
    /// Input index step per loop (may be negative).
    pub steps: Vec<isize>,
}

impl Walk {
    /// A walk, if every index it visits lies in `[0, in_len)`.
    pub fn new(in_len: usize, base: i64, counts: Vec<usize>, steps: Vec<i64>) -> Option<Walk> {
        if counts.len() != steps.len() {
            return None;
        }
        let total = counts.iter().try_fold(1usize, |a, &c| a.checked_mul(c))?;
        let (mut lo, mut hi) = (base as i128, base as i128);
        for (&c, &s) in counts.iter().zip(&steps) {
            if c == 0 {
                continue;
            }
            let span = (c as i128 - 1) * s as i128;
            if span < 0 {
                lo += span;
            } else {
                hi += span;
            }
        }
        if total > 0 && (lo < 0 || hi >= in_len as i128) {
            return None;
        }
        Some(Walk {
            in_len,
            base: if total > 0 {
                usize::try_from(base).ok()?
            } else {
                0
            },
            counts,
            steps: steps
                .iter()
                .map(|&s| isize::try_from(s).ok())
                .collect::<Option<_>>()?,
        })
    }

    pub fn len(&self) -> usize {
        self.counts.iter().product()
    }
}

/// `for k_0 … for k_{r-1}: *out++ = in[base + Σ k_d · step_d]`, as one odometer.
fn walk<T: Copy>(src: &[T], dst: &mut [T], w: &Walk) {
    let rank = w.counts.len();
    let mut k = vec![0usize; rank];
    let mut at = w.base as isize;
    for o in dst.iter_mut() {
        *o = src[at as usize];
        let mut d = rank;
        while d > 0 {
            d -= 1;
            k[d] += 1;
            at += w.steps[d];
            if k[d] < w.counts[d] {
                break;
            }
            at -= w.steps[d] * w.counts[d] as isize;
            k[d] = 0;
        }
    }
}

pub(crate) struct GatherKernel {
    pub what: String,
    pub walk: Walk,
}

impl Kernel for GatherKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let x = input(inputs, 0, &self.what)?;
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{}: no output", self.what)))?;
        check_len(&self.what, "the input", x.len(), self.walk.in_len)?;
        check_len(&self.what, "the output", out.len(), self.walk.len())?;
        with_same_type!(x.buf(), out.buf_mut(), self.what, |s, d| {
            walk(s, d, &self.walk);
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------
// PAD, PADV2: `reference_ops::PadImpl`.

/// Where the pad value comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PadValue {
    /// Decided at prepare (zero, the output zero point, or a constant input), as a
    /// one-element buffer of the output's type.
    Fixed(Buf),
    /// The first element of this input, read at run time.
    Input(usize),
}

#[derive(Clone)]
pub(crate) struct PadKernel {
    pub what: String,
    pub in_shape: Vec<usize>,
    pub out_shape: Vec<usize>,
    pub left: Vec<usize>,
    pub value: PadValue,
}

/// For each output position in row-major order: the pad value if the position lies in the
/// padding of any axis, else the next input element (`*out_ptr++ = *in_ptr++`).
fn pad<T: Copy>(src: &[T], dst: &mut [T], value: T, k: &PadKernel) {
    let rank = k.out_shape.len();
    let mut idx = vec![0usize; rank];
    let mut next = 0usize;
    for o in dst.iter_mut() {
        let inside = (0..rank).all(|d| idx[d] >= k.left[d] && idx[d] < k.left[d] + k.in_shape[d]);
        if inside {
            *o = src[next];
            next += 1;
        } else {
            *o = value;
        }
        let mut d = rank;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            if idx[d] < k.out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

impl Kernel for PadKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let x = input(inputs, 0, &self.what)?;
        let value = match &self.value {
            PadValue::Fixed(b) => b,
            PadValue::Input(i) => input(inputs, *i, &self.what)?.buf(),
        };
        if value.is_empty() {
            return Err(Error::Shape(format!(
                "{}: the pad value is empty",
                self.what
            )));
        }
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{}: no output", self.what)))?;
        check_len(
            &self.what,
            "the input",
            x.len(),
            self.in_shape.iter().product(),
        )?;
        check_len(
            &self.what,
            "the output",
            out.len(),
            self.out_shape.iter().product(),
        )?;
        macro_rules! go {
            ($($v:ident),*) => {
                match (x.buf(), out.buf_mut(), value) {
                    $((Buf::$v(s), Buf::$v(d), Buf::$v(p)) => {
                        pad(s, d, p[0], self);
                        Ok(())
                    })*
                    (s, d, p) => Err(Error::Shape(format!(
                        "{}: input {}, output {}, pad value {}",
                        self.what,
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

// ---------------------------------------------------------------------------------------
// CONCATENATION: `reference_ops::Concatenation` (a copy per input per outer row) and, for
// uint8 inputs whose parameters differ from the output's, `ConcatenationWithScaling`.

/// `ConcatenationWithScaling`'s float requantization of one uint8 input:
/// `clamp(round(q · scale + bias) + zp_out, 0, 255)` with `scale = s_in · (1 / s_out)` and
/// `bias = -zp_in · scale`, all in float32.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Requant {
    pub scale: f32,
    pub bias: f32,
    pub output_zero_point: i32,
}

impl Requant {
    #[inline]
    pub fn apply(&self, q: u8) -> u8 {
        let value = (q as f32 * self.scale + self.bias).round() as i32 + self.output_zero_point;
        value.clamp(0, 255) as u8
    }
}

pub(crate) struct ConcatKernel {
    pub what: String,
    /// Product of the output dims before the axis.
    pub outer: usize,
    /// Per input: `Dims(axis) · base_inner_size`, the elements it adds to each outer row.
    pub copy: Vec<usize>,
    /// Per input: requantization (uint8 only), `None` to copy.
    pub requant: Vec<Option<Requant>>,
}

impl Kernel for ConcatKernel {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let out = outputs
            .first_mut()
            .ok_or_else(|| Error::Shape(format!("{}: no output", self.what)))?;
        let row: usize = self.copy.iter().sum();
        check_len(&self.what, "the output", out.len(), self.outer * row)?;
        let mut offset = 0;
        for (i, (&n, rq)) in self.copy.iter().zip(&self.requant).enumerate() {
            let x = input(inputs, i, &self.what)?;
            check_len(&self.what, &format!("input {i}"), x.len(), self.outer * n)?;
            match (rq, x.buf(), out.buf_mut()) {
                (Some(rq), Buf::U8(s), Buf::U8(d)) => {
                    for k in 0..self.outer {
                        let src = &s[k * n..(k + 1) * n];
                        let dst = &mut d[k * row + offset..k * row + offset + n];
                        for (o, &q) in dst.iter_mut().zip(src) {
                            *o = rq.apply(q);
                        }
                    }
                }
                (Some(_), s, _) => {
                    return Err(Error::Shape(format!(
                        "{}: input {i} is {}, requantization is for uint8",
                        self.what,
                        s.dtype()
                    )))
                }
                (None, s, d) => with_same_type!(s, d, self.what, |s, d| {
                    for k in 0..self.outer {
                        d[k * row + offset..k * row + offset + n]
                            .copy_from_slice(&s[k * n..(k + 1) * n]);
                    }
                    Ok::<(), Error>(())
                })?,
            }
            offset += n;
        }
        Ok(())
    }
}
