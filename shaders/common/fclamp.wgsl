// Float activation clamps with the reference's NaN behaviour (WGSL's `min`/`max` leave a NaN
// operand's result to the implementation).

// `ActivationFunctionWithMinMax`: `std::min(std::max(x, lo), hi)` with the C++ comparisons,
// a NaN passes through (twin: `reference::common::clamp_like_cpp`).
fn clamp_cpp(x: f32, lo: f32, hi: f32) -> f32 {
    let a = select(x, lo, x < lo);
    return select(a, hi, hi < a);
}

// `x.max(lo).min(hi)` (IEEE maxNum/minNum): a NaN becomes `lo` (twin:
// `reference::common::clamp_f32`, TFLite's `ApplyActivationToVector`).
fn clamp_nan_low(x: f32, lo: f32, hi: f32) -> f32 {
    let a = select(lo, x, x > lo);
    return select(hi, a, a < hi);
}
