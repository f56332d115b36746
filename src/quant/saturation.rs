//! Saturation counts of the quantization [`Report`]: how many values of each quantized
//! tensor fall outside the range of its integer type, i.e. the values the quantized model
//! clamps. Every count is exact; nothing is sampled or estimated.
//!
//! - **Activations** (int8, uint8 or int16 with one scale, main subgraph): the values the
//!   float model computes for the tensor's float twin ([`TensorReport::float_tensor`]) over
//!   the calibration data, mapped as TFLite's QUANTIZE maps them
//!   ([`affine_quantize_unclamped`]: `round_half_away(x / scale) + zero_point`, the
//!   division in float32). A value saturates when that lands outside `[qmin, qmax]` of the
//!   dtype. The map is monotone in `x`, so when the calibrated minimum and maximum both land
//!   inside, the count is 0 and nothing needs to run. Only the other tensors need the values
//!   themselves: operands that take another tensor's parameters, fixed output parameters
//!   (TANH's 1/128: an output of exactly 1.0 lands on 128; LOGISTIC and SOFTMAX likewise),
//!   or a rounded zero point at the end of a range. [`count_saturation`] streams the
//!   calibration data through the float model once more for them, watching only those
//!   tensors, and skips the pass when there are none.
//! - **Constants**, from the float model's data and the stored parameters, rounded as the
//!   quantizer rounds them (biases and the full-integer modes' weights: [`round_with_inverse`],
//!   `round_half_away(x * float(1 / scale))` in float32; the others: [`round_to_grid`],
//!   `round_half_away(x / scale)` in double; then `+ zero_point`): weights (input 1 of
//!   CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, PRELU's alpha, BATCH_MATMUL's in
//!   dynamic mode) against the narrow range [-127, 127] the quantizer clamps them to; other
//!   int8 constants against [-128, 127]; int32 biases against the int32 range.
//!
//! Counts are over finite values (calibration refuses NaN and ±Inf in the int8 modes).

use std::collections::HashMap;

use crate::data::Dataset;
use crate::engine::{Engine, Observer};
use crate::model::{DType, Model, Op, Subgraph, Tensor};
use crate::quant::api::{Mode, Report, TensorReport};
use crate::quant::calibrate::{stream, stream_samples_parallel, Stats};
use crate::quant::fixedpoint::affine_quantize_unclamped;
use crate::quant::weights::{f32_values, round_to_grid, round_with_inverse};
use crate::{Buf, CalibrationOptions, Error, Result};

/// The grid of a per-tensor quantized activation: QUANTIZE's parameters and the dtype's
/// range.
#[derive(Debug, Clone, Copy)]
struct Grid {
    scale: f32,
    zero_point: i32,
    lo: f64,
    hi: f64,
}

impl Grid {
    /// `None` for anything but int8/uint8/int16 with one positive finite scale.
    fn of(t: &Tensor) -> Option<Grid> {
        let q = t.quant.as_ref()?;
        let (lo, hi) = match t.dtype {
            DType::I8 => (-128.0, 127.0),
            DType::U8 => (0.0, 255.0),
            DType::I16 => (-32768.0, 32767.0),
            _ => return None,
        };
        let (&[scale], zero_point) = (q.scale.as_slice(), q.zero_point.as_slice()) else {
            return None;
        };
        let zero_point = match zero_point {
            [] => 0,
            [z] => i32::try_from(*z).ok()?,
            _ => return None,
        };
        (scale.is_finite() && scale > 0.0).then_some(Grid {
            scale,
            zero_point,
            lo,
            hi,
        })
    }

    #[inline]
    fn clips(&self, x: f32) -> bool {
        let q = affine_quantize_unclamped(x, self.scale, self.zero_point);
        q < self.lo || q > self.hi
    }
}

/// Whether the count of `t` waits for [`count_saturation`]: an activation whose values are
/// known ([`TensorReport::observed`]) but whose calibrated range does not fit its grid.
pub(crate) fn pending(t: &TensorReport) -> bool {
    !t.constant && t.saturated.is_none() && t.observed.is_some()
}

/// Fill in what needs no second pass: every constant's count, and 0 for the activations
/// whose calibrated range fits their grid. The others keep `saturated: None` with their
/// `observed` count set ([`pending`]).
pub(crate) fn fill(
    float: &Model,
    quantized: &Model,
    stats: Option<&Stats>,
    mode: Mode,
    tensors: &mut [TensorReport],
) {
    for t in tensors {
        let (Some(f), Some(qsg)) = (t.float_tensor, quantized.subgraphs.get(t.subgraph)) else {
            continue;
        };
        let Some(qt) = qsg.tensors.get(t.index) else {
            continue;
        };
        if t.constant {
            if let Some((saturated, n)) = constant_counts(float, qsg, t, f, mode) {
                t.saturated = Some(saturated);
                t.observed = Some(n);
            }
            continue;
        }
        let stats = stats.filter(|_| t.subgraph == 0);
        let Some(s) = stats
            .and_then(|s| s.tensors.get(&f))
            .filter(|s| s.has_range())
        else {
            continue;
        };
        let Some(grid) = Grid::of(qt) else {
            continue;
        };
        t.observed = Some(s.count);
        // Ranges a calibration method chose may be narrower than the values: only the data
        // can tell.
        let calibrated = stats.is_some_and(|s| s.chosen_by.is_none());
        if calibrated && !grid.clips(s.min) && !grid.clips(s.max) {
            t.saturated = Some(0);
        }
    }
}

/// (saturated, elements) of the constant `t` (in quantized subgraph `qsg`) from the data
/// of its float twin `f`; `None` when the twin has no float32 data or the parameters do not
/// fit the shape.
fn constant_counts(
    float: &Model,
    qsg: &Subgraph,
    t: &TensorReport,
    f: usize,
    mode: Mode,
) -> Option<(u64, u64)> {
    let qt = qsg.tensors.get(t.index)?;
    let ft = float.subgraphs.get(t.subgraph)?.tensors.get(f)?;
    if ft.dtype != DType::F32 {
        return None;
    }
    let values = f32_values(ft.data.as_deref()?);
    if qt.num_elements() != Some(values.len() as u64) {
        return None;
    }
    let q = qt.quant.as_ref()?;
    let shape: Vec<usize> = qt.shape.iter().map(|&d| d.max(0) as usize).collect();
    let (channels, inner) = match q.scale.len() {
        0 => return None,
        1 => (1, values.len().max(1)),
        n => {
            let axis = usize::try_from(q.quantized_dimension)
                .ok()
                .filter(|&a| a < shape.len() && shape[a] == n)?;
            (n, shape[axis + 1..].iter().product::<usize>().max(1))
        }
    };
    let zero_points: Vec<f64> = match q.zero_point.as_slice() {
        [] => vec![0.0; channels],
        [z] => vec![*z as f64; channels],
        z if z.len() == channels => z.iter().map(|&z| z as f64).collect(),
        _ => return None,
    };
    let stored: Vec<f64> = q.scale.iter().map(|&s| f64::from(s)).collect();
    // Biases and the full-integer modes' weights are rounded with the stored scale's float32
    // inverse, the other constants divided by the scale in double ([`round_with_inverse`],
    // [`round_to_grid`]).
    let weight = matches!(qt.dtype, DType::I8) && is_weight(qsg, t.index, mode);
    let inverse = qt.dtype == DType::I32 || (weight && mode != Mode::Dynamic);
    let (lo, hi) = match qt.dtype {
        DType::I32 => (f64::from(i32::MIN), f64::from(i32::MAX)),
        DType::I8 if weight => (-127.0, 127.0),
        DType::I8 => (-128.0, 127.0),
        DType::U8 => (0.0, 255.0),
        DType::I16 => (-32768.0, 32767.0),
        _ => return None,
    };
    let saturated = values
        .iter()
        .enumerate()
        .filter(|&(i, &x)| {
            let c = (i / inner) % channels;
            let grid = if inverse {
                round_with_inverse(x, q.scale[c])
            } else {
                round_to_grid(x, stored[c])
            };
            let v = grid + zero_points[c];
            v < lo || v > hi
        })
        .count();
    Some((saturated as u64, values.len() as u64))
}

/// Whether constant `c` is an int8 weight the quantizer makes symmetric in [-127, 127].
fn is_weight(qsg: &Subgraph, c: usize, mode: Mode) -> bool {
    qsg.operators.iter().any(|o| {
        o.inputs.get(1) == Some(&(c as i32))
            && match o.op {
                Op::Conv2D(_)
                | Op::DepthwiseConv2D(_)
                | Op::FullyConnected(_)
                | Op::TransposeConv(_)
                | Op::Prelu => true,
                Op::BatchMatMul(_) => mode == Mode::Dynamic,
                _ => false,
            }
    })
}

/// [`Count`] into targets of its own (one sample's, on its own thread).
struct OwnCount<'a> {
    by_tensor: &'a HashMap<usize, Vec<usize>>,
    targets: Vec<Target>,
}

impl Observer for OwnCount<'_> {
    fn observe(&mut self, tensor: usize, name: &str, value: &crate::Tensor) -> Result<()> {
        Count {
            by_tensor: self.by_tensor,
            targets: &mut self.targets,
        }
        .observe(tensor, name, value)
    }

    fn wants(&self, tensor: usize) -> bool {
        self.by_tensor.contains_key(&tensor)
    }
}

/// One activation counted in the second pass.
#[derive(Debug, Clone, Copy)]
struct Target {
    report: usize,
    grid: Grid,
    saturated: u64,
    seen: u64,
    min: f32,
    max: f32,
}

struct Count<'a> {
    by_tensor: &'a HashMap<usize, Vec<usize>>,
    targets: &'a mut [Target],
}

impl Observer for Count<'_> {
    fn observe(&mut self, tensor: usize, _name: &str, value: &crate::Tensor) -> Result<()> {
        let Some(ix) = self.by_tensor.get(&tensor) else {
            return Ok(());
        };
        let Buf::F32(v) = value.buf() else {
            return Ok(());
        };
        for &i in ix {
            let t = &mut self.targets[i];
            for &x in v.iter().filter(|x| x.is_finite()) {
                t.seen += 1;
                t.min = t.min.min(x);
                t.max = t.max.max(x);
                if t.grid.clips(x) {
                    t.saturated += 1;
                }
            }
        }
        Ok(())
    }
}

impl Report {
    /// Whether some activation's calibrated range does not fit its grid, so that its
    /// saturation count needs [`count_saturation`] (a second pass over the calibration
    /// data).
    pub fn needs_saturation_pass(&self) -> bool {
        self.tensors.iter().any(pending)
    }

    /// (tensors that clip, values clipped, values checked, tensors counted) over the
    /// tensors whose count is known.
    pub fn saturation_totals(&self) -> (usize, u64, u64, usize) {
        let mut totals = (0, 0, 0, 0);
        for t in &self.tensors {
            if let (Some(s), Some(n)) = (t.saturated, t.observed) {
                totals.0 += usize::from(s > 0);
                totals.1 += s;
                totals.2 += n;
                totals.3 += 1;
            }
        }
        totals
    }
}

/// Count the saturated values of the activations whose calibrated range does not fit
/// their grid ([`Report::needs_saturation_pass`]): run `float` once more over `data` (the
/// calibration data, with the same `opts.max_samples`) on `engine`, watching only those
/// tensors, and fill in their [`TensorReport::saturated`]. `report` describes `quantized`,
/// made from `float` ([`crate::quant::quantize`]). Returns the number of tensors counted;
/// when none needs counting, nothing runs and `data` is not read.
///
/// Errors: a report that does not describe `quantized`; data that are not the calibration
/// data (another number of samples, or other values or ranges for a counted tensor than
/// calibration saw: the counts would not belong to the report's parameters); engine errors
/// naming the sample.
pub fn count_saturation<E: Engine>(
    float: &Model,
    quantized: &Model,
    engine: &E,
    data: &mut dyn Dataset,
    report: &mut Report,
    opts: &CalibrationOptions,
) -> Result<usize> {
    let mut targets = Vec::new();
    let mut by_tensor: HashMap<usize, Vec<usize>> = HashMap::new();
    for (k, t) in report
        .tensors
        .iter()
        .enumerate()
        .filter(|(_, t)| pending(t))
    {
        let qt = quantized
            .subgraphs
            .get(t.subgraph)
            .and_then(|sg| sg.tensors.get(t.index))
            .filter(|qt| qt.name == t.name && t.subgraph == 0);
        let (Some(grid), Some(f)) = (qt.and_then(Grid::of), t.float_tensor) else {
            return Err(Error::Data(format!(
                "the report's tensor {} '{}' is not a quantized activation of the given \
                 model: count saturation with the model the report describes",
                t.index, t.name
            )));
        };
        by_tensor.entry(f).or_default().push(targets.len());
        targets.push(Target {
            report: k,
            grid,
            saturated: 0,
            seen: 0,
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
        });
    }
    if targets.is_empty() {
        return Ok(0);
    }
    let what = crate::progress::Phase::SaturationCount;
    // Samples in parallel where the engine can: counts add, extremes are compared only.
    let fresh: Vec<Target> = targets.clone();
    let parallel = stream_samples_parallel(
        float,
        engine,
        data,
        opts,
        what,
        || OwnCount {
            by_tensor: &by_tensor,
            targets: fresh.clone(),
        },
        |sample| {
            for (t, s) in targets.iter_mut().zip(&sample.targets) {
                t.seen += s.seen;
                t.saturated += s.saturated;
                t.min = t.min.min(s.min);
                t.max = t.max.max(s.max);
            }
        },
    );
    let samples = match parallel {
        Some(samples) => samples?,
        None => {
            let mut count = Count {
                by_tensor: &by_tensor,
                targets: &mut targets,
            };
            stream(float, engine, data, opts, &mut count, what)?
        }
    };
    if let Some(n) = report.calibration_samples.filter(|&n| n != samples) {
        return Err(Error::Data(format!(
            "the data gave {samples} samples, calibration ran on {n}: saturation is counted \
             on the calibration data (the same samples, the same max_samples)"
        )));
    }
    // Ranges chosen by a calibration method other than minmax may clip: the count only.
    let chosen = report
        .calibration_method
        .as_deref()
        .is_some_and(|m| m != "minmax");
    for target in &targets {
        let t = &mut report.tensors[target.report];
        // The same values as calibration saw: as many, and within the calibrated range (equal
        // to it, or wider where calibration widened it as the converter's calibrator does,
        // `CalibrationOptions::converter_in_place`).
        let within = chosen
            || t.range
                .is_some_and(|[lo, hi]| target.min >= lo && target.max <= hi);
        if Some(target.seen) != t.observed || !within {
            return Err(Error::Data(format!(
                "tensor {} '{}': the data gave {} values in [{}, {}], calibration saw {} in \
                 {:?}: saturation is counted on the calibration data, with the engine that \
                 calibrated",
                t.index,
                t.name,
                target.seen,
                target.min,
                target.max,
                t.observed.unwrap_or(0),
                t.range
            )));
        }
        t.saturated = Some(target.saturated);
    }
    Ok(targets.len())
}
