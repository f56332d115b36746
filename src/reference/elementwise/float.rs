//! The float32 element functions of the unary family, as data so that the GPU engine can
//! tell which one a prepared kernel computes.

use crate::reference::eigen_math::{self, Recip};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryFloatFn {
    /// NEG: `-x`.
    Neg,
    /// RSQRT: `1.f / std::sqrt(x)`.
    Rsqrt,
    /// SQRT: `std::sqrt(x)`.
    Sqrt,
    /// EXP: `std::exp(x)`.
    Exp,
    /// LOG: `std::log(x)` (`logf`).
    Log,
    /// GELU: `0.5·x·erfc(−x/√2)` with Eigen's erfc (LiteRT's build: `1/x²` divided).
    Gelu,
    /// GELU in the converter's calibrator (TensorFlow's build: erfc's `1/x²` by `rcpps`).
    GeluConverter,
    /// GELU with `approximate`: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, Eigen's tanh
    /// (the same in both builds).
    GeluApprox,
}

impl UnaryFloatFn {
    #[inline]
    pub(crate) fn apply(self, x: f32) -> f32 {
        match self {
            UnaryFloatFn::Neg => -x,
            UnaryFloatFn::Rsqrt => 1.0 / x.sqrt(),
            UnaryFloatFn::Sqrt => x.sqrt(),
            UnaryFloatFn::Exp => x.exp(),
            UnaryFloatFn::Log => x.ln(),
            UnaryFloatFn::Gelu => eigen_math::gelu(x, Recip::Divide),
            UnaryFloatFn::GeluConverter => eigen_math::gelu(x, Recip::Rcpps),
            UnaryFloatFn::GeluApprox => eigen_math::gelu_approximate(x),
        }
    }
}
