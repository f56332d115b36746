//! Streaming accumulators of the error between a float reference and a quantized model's
//! values: per output ([`OutputAccumulator`]) and per layer ([`LayerAccumulator`]).

use serde::Serialize;

/// Error metrics of one model output over all samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputMetrics {
    /// The output's key (signature or tensor name) in the float model.
    pub name: String,
    /// The output's key in the quantized model.
    pub quant_name: String,
    /// Finite element pairs compared.
    pub elements: u64,
    /// Element pairs where either value was NaN or ±Inf (left out of the sums).
    pub non_finite: u64,
    /// max |ref − q|.
    pub max_abs_error: f64,
    /// sqrt(mean((ref − q)²)).
    pub rmse: f64,
    /// 10·log10(Σ ref² / Σ (ref − q)²), in dB; `+inf` (JSON `null`) when the outputs are equal.
    pub sqnr_db: f64,
    /// Fraction of rows (samples × leading rows, argmax over the last axis) where both
    /// models pick the same class; `None` for outputs whose last axis has one element.
    pub top1_agreement: Option<f64>,
    /// Fraction of rows where the float model's argmax equals the label.
    pub accuracy_float: Option<f64>,
    /// Fraction of rows where the quantized model's argmax equals the label.
    pub accuracy_quant: Option<f64>,
}

/// Accumulates [`OutputMetrics`] one sample at a time.
#[derive(Debug, Clone, Default)]
pub struct OutputAccumulator {
    elements: u64,
    non_finite: u64,
    max_abs: f64,
    sum_ref2: f64,
    sum_err2: f64,
    rows: u64,
    agree: u64,
    labelled: u64,
    correct_float: u64,
    correct_quant: u64,
    classes: bool,
}

/// Index of the largest value (the first one on ties; NaN never wins).
pub fn argmax(v: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &x) in v.iter().enumerate() {
        if x.is_nan() {
            continue;
        }
        if best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i)
}

impl OutputAccumulator {
    /// Add one sample: `reference` (float model) and `quant` (quantized model, dequantized)
    /// of the same length; `last` is the length of the last axis (classes); `labels`, when
    /// given, one per row (`reference.len() / last` rows).
    pub fn add(&mut self, reference: &[f32], quant: &[f32], last: usize, labels: Option<&[i64]>) {
        for (&r, &q) in reference.iter().zip(quant) {
            if !r.is_finite() || !q.is_finite() {
                self.non_finite += 1;
                continue;
            }
            let (r, q) = (r as f64, q as f64);
            let e = r - q;
            self.elements += 1;
            self.sum_ref2 += r * r;
            self.sum_err2 += e * e;
            self.max_abs = self.max_abs.max(e.abs());
        }
        if last > 1 {
            self.classes = true;
            for (k, (rr, qr)) in reference
                .chunks_exact(last)
                .zip(quant.chunks_exact(last))
                .enumerate()
            {
                let (a, b) = (argmax(rr), argmax(qr));
                self.rows += 1;
                if a.is_some() && a == b {
                    self.agree += 1;
                }
                if let Some(&y) = labels.and_then(|l| l.get(k)) {
                    self.labelled += 1;
                    let y = usize::try_from(y).ok();
                    if y.is_some() && a == y {
                        self.correct_float += 1;
                    }
                    if y.is_some() && b == y {
                        self.correct_quant += 1;
                    }
                }
            }
        }
    }

    /// The metrics so far.
    pub fn finish(&self, name: &str, quant_name: &str) -> OutputMetrics {
        let frac = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        OutputMetrics {
            name: name.to_string(),
            quant_name: quant_name.to_string(),
            elements: self.elements,
            non_finite: self.non_finite,
            max_abs_error: self.max_abs,
            rmse: if self.elements > 0 {
                (self.sum_err2 / self.elements as f64).sqrt()
            } else {
                f64::NAN
            },
            sqnr_db: sqnr_db(self.sum_ref2, self.sum_err2),
            top1_agreement: if self.classes {
                frac(self.agree, self.rows)
            } else {
                None
            },
            accuracy_float: frac(self.correct_float, self.labelled),
            accuracy_quant: frac(self.correct_quant, self.labelled),
        }
    }
}

/// 10·log10(signal / noise): `+inf` for no noise, `NaN` for neither.
pub fn sqnr_db(signal: f64, noise: f64) -> f64 {
    if noise == 0.0 {
        if signal == 0.0 {
            f64::NAN
        } else {
            f64::INFINITY
        }
    } else {
        10.0 * (signal / noise).log10()
    }
}

/// Per-layer statistics of one tensor both models compute, as TFLite's
/// `QuantizationDebugger` reports them: per sample the differences `d = dequant(q) − ref`
/// give `num_elements`, `stddev` (population), `mean_error` (mean of d), `max_abs_error`
/// and `mean_squared_error` (mean of d²); each is then averaged over samples ignoring NaN
/// (`np.nanmean`); `rmse/scale = sqrt(mean_squared_error) / scale` with the quantized
/// tensor's (first) scale.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerMetrics {
    /// The tensor name (shared by both models).
    pub name: String,
    /// Tensor index in the float model's main subgraph.
    pub float_tensor: usize,
    /// Tensor index in the quantized model's main subgraph.
    pub quant_tensor: usize,
    /// The quantized model's dtype of this tensor.
    pub dtype: crate::model::DType,
    /// The quantized tensor's (first) scale and zero point, if quantized.
    pub scale: Option<f32>,
    /// The quantized tensor's (first) zero point, if quantized.
    pub zero_point: Option<i64>,
    /// Samples compared.
    pub samples: u64,
    /// Mean number of elements per sample.
    pub num_elements: f64,
    /// Mean over samples of the standard deviation of the difference (quantized - float).
    pub stddev: f64,
    /// Mean difference (quantized - float): the bias.
    pub mean_error: f64,
    /// Largest absolute difference.
    pub max_abs_error: f64,
    /// Mean squared difference.
    pub mean_squared_error: f64,
    /// sqrt(mean_squared_error).
    pub rmse: f64,
    /// rmse / scale (about 1/sqrt(12) ≈ 0.289 for plain rounding error); `None` for
    /// tensors the quantized model keeps float.
    #[serde(rename = "rmse/scale")]
    pub rmse_over_scale: Option<f64>,
}

/// Accumulates [`LayerMetrics`] one sample at a time.
#[derive(Debug, Clone, Default)]
pub struct LayerAccumulator {
    samples: u64,
    // (sum over samples, samples that were not NaN) per metric
    sums: [(f64, u64); 5],
}

impl LayerAccumulator {
    /// Add one sample's differences `dequant(q) − ref` (float64).
    pub fn add(&mut self, diffs: &[f64]) {
        self.samples += 1;
        let n = diffs.len() as f64;
        let (mean, max_abs, mse, std) = if diffs.is_empty() {
            (f64::NAN, f64::NAN, f64::NAN, f64::NAN)
        } else {
            let mean = diffs.iter().sum::<f64>() / n;
            let var = diffs.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / n;
            let max_abs = diffs.iter().fold(0.0f64, |m, d| {
                if m.is_nan() || d.is_nan() {
                    f64::NAN
                } else {
                    m.max(d.abs())
                }
            });
            let mse = diffs.iter().map(|d| d * d).sum::<f64>() / n;
            (mean, max_abs, mse, var.sqrt())
        };
        for (slot, v) in self.sums.iter_mut().zip([n, std, mean, max_abs, mse]) {
            if !v.is_nan() {
                slot.0 += v;
                slot.1 += 1;
            }
        }
    }

    /// The statistics so far.
    pub fn finish(
        &self,
        name: &str,
        tensors: (usize, usize),
        dtype: crate::model::DType,
        quant: Option<(f32, i64)>,
    ) -> LayerMetrics {
        let m = |k: usize| {
            let (s, c) = self.sums[k];
            if c == 0 {
                f64::NAN
            } else {
                s / c as f64
            }
        };
        let mse = m(4);
        let rmse = mse.sqrt();
        LayerMetrics {
            name: name.to_string(),
            float_tensor: tensors.0,
            quant_tensor: tensors.1,
            dtype,
            scale: quant.map(|q| q.0),
            zero_point: quant.map(|q| q.1),
            samples: self.samples,
            num_elements: m(0),
            stddev: m(1),
            mean_error: m(2),
            max_abs_error: m(3),
            mean_squared_error: mse,
            rmse,
            rmse_over_scale: quant.map(|(s, _)| rmse / s as f64),
        }
    }
}
