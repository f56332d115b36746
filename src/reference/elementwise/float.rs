//! The float32 element functions of the unary family, as data so that the GPU engine can
//! tell which one a prepared kernel computes.

use super::gelu;

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
    /// GELU: `0.5·x·erfc(−x/√2)`.
    Gelu,
    /// GELU with `approximate`: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
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
            UnaryFloatFn::Gelu => gelu::gelu_transform(x),
            UnaryFloatFn::GeluApprox => gelu::gelu_transform_approximate(x),
        }
    }
}
