//! Fast int8 ADD and SUB without broadcasting (`reference_integer_ops::Add` /
//! `reference_ops::Sub` as the reference kernel's [`AddSubParams::apply`]): eight elements at
//! a time with AVX2 ([`super::requant::mbqm8`] for each `MultiplyByQuantizedMultiplier`),
//! the rest element by element through the reference's own function.

use crate::quant::fixedpoint::QuantizedMultiplier;
use crate::reference::binary::add_sub::AddSubParams;
use crate::reference::Kernel;
use crate::{Error, Result, Tensor};

use crate::reference::binary::Arith;
use crate::reference::common::clamp_like_cpp;

use super::conv::{f32_in, f32_out, i8_in, i8_out};
use super::gemm::Simd;

/// int8 ADD (`subtract == false`) or SUB of two tensors of `n` elements each.
pub(crate) struct AddSubI8 {
    pub(crate) label: String,
    pub(crate) n: usize,
    pub(crate) p: AddSubParams,
    pub(crate) subtract: bool,
    pub(crate) simd: Simd,
}

impl AddSubI8 {
    /// Whether the AVX2 path computes these parameters exactly (non-negative multipliers).
    pub(crate) fn vector_ok(p: &AddSubParams) -> bool {
        [
            p.input1_multiplier,
            p.input2_multiplier,
            p.output_multiplier,
        ]
        .iter()
        .all(|m| m.multiplier >= 0)
            && (0..=30).contains(&p.left_shift)
    }
}

impl Kernel for AddSubI8 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let (a, b) = (i8_in(l, inputs, 0, self.n)?, i8_in(l, inputs, 1, self.n)?);
        if outputs.len() != 1 {
            return Err(Error::Shape(format!("{l}: one output expected")));
        }
        let out = i8_out(l, outputs, self.n)?;
        let mut i = 0;
        #[cfg(target_arch = "x86_64")]
        if self.simd == Simd::Avx2 && Self::vector_ok(&self.p) {
            // SAFETY: AVX2 was detected; `add8` reads and writes `i .. i + 8`, in bounds.
            while i + 8 <= self.n {
                unsafe { self.add8(&a[i..i + 8], &b[i..i + 8], &mut out[i..i + 8]) };
                i += 8;
            }
        }
        for ((o, &x), &y) in out[i..].iter_mut().zip(&a[i..]).zip(&b[i..]) {
            *o = self.p.apply(i32::from(x), i32::from(y), self.subtract) as i8;
        }
        Ok(())
    }
}

impl AddSubI8 {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add8(&self, a: &[i8], b: &[i8], out: &mut [i8]) {
        use super::requant::mbqm8;
        use std::arch::x86_64::*;
        assert!(a.len() == 8 && b.len() == 8 && out.len() == 8);
        let p = &self.p;
        // (m, 1 << left, right) of a QuantizedMultiplier, broadcast.
        let parts = |m: QuantizedMultiplier| {
            (
                _mm256_set1_epi32(m.multiplier),
                _mm256_set1_epi32(1i32.wrapping_shl(m.shift.max(0) as u32)),
                _mm256_set1_epi32((-m.shift).max(0)),
            )
        };
        let shift = _mm256_set1_epi32(1i32 << p.left_shift);
        let scaled = |v: &[i8], offset: i32, m: QuantizedMultiplier| {
            let x = _mm256_cvtepi8_epi32(_mm_loadl_epi64(v.as_ptr() as *const __m128i));
            let x = _mm256_mullo_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(offset)), shift);
            let (mm, up, right) = parts(m);
            mbqm8(_mm256_mullo_epi32(x, up), mm, right)
        };
        let x = scaled(a, p.input1_offset, p.input1_multiplier);
        let y = scaled(b, p.input2_offset, p.input2_multiplier);
        let raw = if self.subtract {
            _mm256_sub_epi32(x, y)
        } else {
            _mm256_add_epi32(x, y)
        };
        let (mm, up, right) = parts(p.output_multiplier);
        let r = mbqm8(_mm256_mullo_epi32(raw, up), mm, right);
        let r = _mm256_add_epi32(r, _mm256_set1_epi32(p.output_offset));
        let r = _mm256_min_epi32(
            _mm256_max_epi32(r, _mm256_set1_epi32(p.act_min)),
            _mm256_set1_epi32(p.act_max),
        );
        let mut v = [0i32; 8];
        _mm256_storeu_si256(v.as_mut_ptr() as *mut __m256i, r);
        for (o, v) in out.iter_mut().zip(v) {
            *o = v as i8;
        }
    }
}

/// float32 ADD, SUB or MUL with the fused activation's clamp: the reference's per-element
/// arithmetic, in loops the compiler vectorises. Output element `i` reads `a[i % len_a]`
/// and `b[i % len_b]`: the same shape, or one input repeated over the outer dimensions (a
/// scalar, one value per channel); elementwise, so no order question.
pub(crate) struct BinaryF32 {
    pub(crate) label: String,
    pub(crate) n: usize,
    pub(crate) len_a: usize,
    pub(crate) len_b: usize,
    pub(crate) arith: Arith,
    pub(crate) lo: f32,
    pub(crate) hi: f32,
}

impl BinaryF32 {
    /// Whether the kernel handles inputs of these periods for `n` outputs: at most one of
    /// them repeats.
    pub(crate) fn fits(n: usize, len_a: usize, len_b: usize) -> bool {
        n > 0 && (len_a == n || len_b == n) && n % len_a == 0 && n % len_b == 0
    }
}

impl Kernel for BinaryF32 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let l = self.label.as_str();
        let (a, b) = (
            f32_in(l, inputs, 0, self.len_a)?,
            f32_in(l, inputs, 1, self.len_b)?,
        );
        if outputs.len() != 1 {
            return Err(Error::Shape(format!("{l}: one output expected")));
        }
        if !Self::fits(self.n, self.len_a, self.len_b) {
            return Err(Error::Shape(format!(
                "{l}: inputs of {} and {} elements do not repeat into {}",
                self.len_a, self.len_b, self.n
            )));
        }
        let out = f32_out(l, outputs, self.n)?;
        let (lo, hi) = (self.lo, self.hi);
        let go = |f: fn(f32, f32) -> f32, out: &mut [f32]| {
            if a.len() == out.len() && b.len() == out.len() {
                for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                    *o = clamp_like_cpp(f(x, y), lo, hi);
                }
            } else if a.len() == out.len() {
                for (o, a) in out.chunks_exact_mut(b.len()).zip(a.chunks_exact(b.len())) {
                    for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
                        *o = clamp_like_cpp(f(x, y), lo, hi);
                    }
                }
            } else {
                for (o, b) in out.chunks_exact_mut(a.len()).zip(b.chunks_exact(a.len())) {
                    for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
                        *o = clamp_like_cpp(f(x, y), lo, hi);
                    }
                }
            }
        };
        match self.arith {
            Arith::Add => go(|x, y| x + y, out),
            Arith::Sub => go(|x, y| x - y, out),
            Arith::Mul => go(|x, y| x * y, out),
            other => {
                return Err(Error::Unsupported(format!(
                    "{l}: no fast float32 kernel for {other:?}"
                )))
            }
        }
        Ok(())
    }
}
