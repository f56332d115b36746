//! The converter's bias-overflow adjustment: a weight scale raised until the int32 bias fits.
//!
//! TF 2.21's quantization driver (`QuantizationDriver::SetBiasParamsWithAdjustments`,
//! `tensorflow/compiler/mlir/lite/quantization/common/quantization_lib/quantization_driver.cc`)
//! checks every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED bias against
//! `kBiasMax = INT32_MAX / 2` (room left for the accumulator). Near-dead channels get tiny
//! weight scales, so `s_in · s_w` can make `|b| / (s_in · s_w)` overflow the int32 bias:
//! - per channel: channel `i` with `|b_i| / (s_in · s_w[i]) > kBiasMax` gets the bias scale
//!   `|b_i| / kBiasMax` and the weight scale `|b_i| / kBiasMax / s_in` (double, `s_in` the
//!   input's double scale); its weights are requantized at that scale;
//! - per tensor: when `max|b| / (s_in · s_w) >= kBiasMax`, the one weight scale becomes
//!   `max|b| / kBiasMax / s_in`.
//!
//! The bias is then quantized at `s_in · s_w` with the raised weight scale, as every bias is,
//! and lands at ±2^30 instead of clipping at ±(2^31 − 1). The legacy quantizer
//! (`tools/optimize`, `AdjustWeightsForBiasScale`) has the same idea with `INT32_MAX` and a
//! factor 2; the converter uses the driver's. Checked against the converter on a model with
//! a near-dead and a dead channel (`tests/quantize_int8.rs`).

use crate::quant::weights::{round_with_inverse, SymmetricInt8};

/// `kBiasMax`: `std::numeric_limits<int32_t>::max() / 2`.
const BIAS_MAX: f64 = (i32::MAX / 2) as f64;

/// Raise the weight scales of `q` where the bias would overflow, requantizing those
/// channels' `values` (the float weights, `shape`); `in_scale` is the input's double scale,
/// `in_scale32` its float32 one. Returns how many channels (or 1 for a per-tensor weight)
/// were raised.
pub(super) fn fit_bias(
    q: &mut SymmetricInt8,
    values: &[f32],
    shape: &[usize],
    bias: &[f32],
    (in_scale, in_scale32): (f64, f32),
) -> usize {
    let channels = q.scales.len();
    if bias.is_empty() || channels == 0 {
        return 0;
    }
    let bias_scale = |s: f32| f64::from(in_scale32) * f64::from(s);
    let mut raised: Vec<Option<f64>> = vec![None; channels];
    if channels == 1 {
        let half_range = bias.iter().fold(0f64, |m, &b| m.max(f64::from(b.abs())));
        if half_range / bias_scale(q.scales[0]) >= BIAS_MAX {
            raised[0] = Some(half_range / BIAS_MAX / in_scale);
        }
    } else {
        for (i, r) in raised.iter_mut().enumerate() {
            let Some(&b) = bias.get(i) else { break };
            let abs_bias = f64::from(b.abs());
            if abs_bias / bias_scale(q.scales[i]) > BIAS_MAX {
                *r = Some(abs_bias / BIAS_MAX / in_scale);
            }
        }
    }
    let count = raised.iter().filter(|r| r.is_some()).count();
    if count == 0 {
        return 0;
    }
    let slice = match q.axis {
        Some(a) => shape[a + 1..].iter().product::<usize>().max(1),
        None => values.len().max(1),
    };
    for (c, r) in raised.iter().enumerate() {
        if let Some(s) = r {
            q.scales[c] = *s as f32;
        }
    }
    for (i, (v, out)) in values.iter().zip(q.values.iter_mut()).enumerate() {
        let c = (i / slice) % channels;
        if raised[c].is_some() {
            *out = round_with_inverse(*v, q.scales[c]).clamp(-127.0, 127.0) as i8;
        }
    }
    count
}
