//! Options of the calibration-free quantization modes.

/// Options of [`crate::quant::quantize_dynamic`]. The defaults are the TFLite converter's
/// (`Optimize.DEFAULT` without a representative dataset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicOptions {
    /// Constant weights with fewer elements stay float32 (the converter's
    /// `minimum_elements_for_weights`, 1024).
    pub min_elements: usize,
    /// Per-channel scales for CONV_2D (axis 0) and DEPTHWISE_CONV_2D (axis 3); `false` is
    /// the converter's `_experimental_disable_per_channel`.
    pub per_channel: bool,
    /// Per-channel scales for FULLY_CONNECTED (axis 0) as well; `false` is the converter's
    /// `_experimental_disable_per_channel_quantization_for_dense_layers`.
    pub per_channel_dense: bool,
}

impl Default for DynamicOptions {
    fn default() -> Self {
        DynamicOptions {
            min_elements: 1024,
            per_channel: true,
            per_channel_dense: true,
        }
    }
}
