//! [`ImageOptions`]: how pixels become an image input's values (kept outside the `images`
//! feature so that [`super::open`] has one signature in every build).

/// Normalisation of pixel values `p` (0..=255 per channel):
/// `x = (p * scale - mean[c]) / std[c]`, computed in float32.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageOptions {
    /// Multiplies pixel values first. Default 1/255 (pixels in [0, 1]).
    pub scale: f32,
    /// Subtracted per channel after scaling: one value for all channels, or one per channel.
    /// Default `[0.0]`.
    pub mean: Vec<f32>,
    /// Divides per channel after subtracting the mean: one value, or one per channel.
    /// Default `[1.0]`.
    pub std: Vec<f32>,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            scale: 1.0 / 255.0,
            mean: vec![0.0],
            std: vec![1.0],
        }
    }
}
