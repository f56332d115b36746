//! GELU's transforms as `reference/gelu.h` writes them (`GeluTransform`,
//! `GeluTransformApproximate`), in float with the C library's `erfcf`/`tanhf`: they fill the
//! int8/uint8 tables (`LUTPopulate`). The float kernel is another function — the same
//! formulas as an Eigen expression, with Eigen's vectorised `erfc`/`tanh`
//! (`reference::eigen_math`).

/// `M_SQRT1_2` rounded to float.
const SQRT1_2: f32 = std::f64::consts::FRAC_1_SQRT_2 as f32;
/// `kSqrt2dPi = M_2_SQRTPI * M_SQRT1_2`, a `constexpr float` (the product in double).
const SQRT_2_OVER_PI: f32 =
    (std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2) as f32;

/// `erfcf` of the platform's C math library: the function `std::erfc(float)` calls, so the
/// tables are LiteRT's bit for bit where both use the same library.
fn erfc_f32(x: f32) -> f32 {
    extern "C" {
        fn erfcf(x: f32) -> f32;
    }
    // SAFETY: `erfcf` is a pure C99 math function of one float (no pointers, no state).
    unsafe { erfcf(x) }
}

/// `0.5f * in * std::erfc(in * static_cast<float>(-M_SQRT1_2))`.
pub(crate) fn gelu_transform(x: f32) -> f32 {
    0.5 * x * erfc_f32(x * -SQRT1_2)
}

/// `0.5f * in * (1.f + std::tanh(kSqrt2dPi * (in + 0.044715f * in * in * in)))`.
pub(crate) fn gelu_transform_approximate(x: f32) -> f32 {
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh())
}
