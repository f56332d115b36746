//! int16 LOGISTIC and TANH: `reference_integer_ops::Logistic` / `Tanh` on int16
//! (`kernels/internal/reference/integer_ops/logistic.h`, `tanh.h`), with the parameters of
//! `SigmoidPrepare` / `TanhPrepare` (`kernels/activations.cc`). `Eval` takes this loop under
//! `kReference` (and whenever the input multiplier is non-zero).
//!
//! - Prepare: zero points 0; the output scale a power of two equal to 2^-15
//!   (`CheckedLog2(s_out) == -15`). `input_left_shift = 12 + round(log2(s_in))`; when
//!   `s_in` is a power of two (`CheckedLog2`: log2 in float, |fraction| < 1e-3) and that
//!   shift is 0 or 1, the multiplier stays 0 (the power-of-two case); otherwise, in double,
//!   `m = s_in · 4096 · 3`, doubled (counting `input_left_shift` from 0) while
//!   `m <= 32767 / 2` and the shift is at most 30, and `input_multiplier = (int32)m`.
//! - Run: a multiplier of 0 becomes `3 << input_left_shift` with shift 0; then
//!   `v = (x · M + round) >> shift`, `|v|` split into a table index and a fraction (9 bits
//!   for LOGISTIC, 8 for TANH), a linear interpolation in `sigmoid_table_uint16`, and the
//!   sign folded back as the kernels do.
//!
//! The table is TFLite's `sigmoid_table_uint16` (`kernels/internal/common.h`), copied as
//! data: no single rounding of `65536·sigmoid(i/24)` reproduces all its entries.

use crate::model::DType;
use crate::{Buf, Error, Result, Tensor};

use super::super::{Kernel, OpCtx};

/// `sigmoid_table_uint16` of `kernels/internal/common.h` ("Table of sigmoid(i/24) at 0.16
/// format - 256 elements"), as published: its entries are not one rounding of
/// `65536·sigmoid(i/24)` (44 differ by one from `round`, up to 1.05 away), so the constants
/// are TFLite's.
const SIGMOID_TABLE_U16: [u16; 256] = [
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
];

fn sigmoid_table() -> [u32; 256] {
    SIGMOID_TABLE_U16.map(u32::from)
}

/// `CheckedLog2`: log2 computed in float, rounded; `Some` when the fraction is below 1e-3.
pub(crate) fn checked_log2(x: f32) -> (bool, i32) {
    let l = x.ln() * (1.0f32 / 2.0f32.ln());
    let r = l.round();
    ((l - r).abs() < 1e-3, r as i32)
}

/// The prepared int16 LOGISTIC / TANH.
pub(crate) struct Sigmoid16 {
    pub(crate) label: String,
    pub(crate) tanh: bool,
    pub(crate) input_multiplier: i32,
    pub(crate) input_left_shift: i32,
    /// `sigmoid_table_uint16` (uploaded as it is by the GPU twin).
    pub(crate) table: [u32; 256],
}

impl Sigmoid16 {
    /// `SigmoidPrepare` / `TanhPrepare` for int16 input and output.
    pub(crate) fn prepare(ctx: &OpCtx, tanh: bool) -> Result<Sigmoid16> {
        let (input, output) = (ctx.input(0)?, ctx.output(0)?);
        if output.dtype != DType::I16 {
            return Err(ctx.unsupported(format!(
                "an int16 input needs an int16 output, is {}",
                output.dtype
            )));
        }
        let (s_in, zp_in) = ctx.per_tensor(input)?;
        let (s_out, zp_out) = ctx.per_tensor(output)?;
        if zp_in != 0 || zp_out != 0 {
            return Err(ctx.unsupported("int16 input and output need zero points 0"));
        }
        let (pot_out, log2_out) = checked_log2(s_out);
        if !pot_out || log2_out != -15 {
            return Err(
                ctx.unsupported(format!("the int16 output scale must be 2^-15, is {s_out}"))
            );
        }
        let (mut pot, log2_in) = checked_log2(s_in);
        // kInputIntegerBits = 3: (15 - 3) + log2(s_in).
        let mut input_left_shift = 12 + log2_in;
        pot &= input_left_shift == 0 || input_left_shift == 1;
        let mut input_multiplier = 0;
        if !pot {
            let mut multiplier = f64::from(s_in) * 4096.0 * 3.0;
            input_left_shift = 0;
            while multiplier <= 32767.0 / 2.0 && input_left_shift <= 30 {
                input_left_shift += 1;
                multiplier *= 2.0;
            }
            input_multiplier = multiplier as i32;
        }
        Ok(Sigmoid16 {
            label: ctx.label(),
            tanh,
            input_multiplier,
            input_left_shift,
            table: sigmoid_table(),
        })
    }

    /// One element, as `Logistic` / `Tanh` compute it.
    #[inline]
    pub(crate) fn apply(&self, x: i16) -> i16 {
        let (mut m, mut shift) = (self.input_multiplier, self.input_left_shift);
        if m == 0 {
            m = 3i32.wrapping_shl(shift as u32);
            shift = 0;
        }
        let round = if shift > 0 { 1i32 << (shift - 1) } else { 0 };
        let v = i32::from(x).wrapping_mul(m).wrapping_add(round) >> shift;
        let a = v.unsigned_abs();
        let t = &self.table;
        if self.tanh {
            let uh = a >> 8;
            let result: i32 = if uh >= 255 {
                0xFFFF << 8
            } else {
                let (ua, ub) = (t[uh as usize], t[uh as usize + 1]);
                let ut = a & 0xFF;
                ((ua << 8).wrapping_add(ut.wrapping_mul(ub.wrapping_sub(ua)))) as i32
            };
            let result = if v >= 0 {
                result - (1 << 23) + (1 << 7)
            } else {
                -result + (1 << 23) + (1 << 7) - 1
            };
            (result >> 8) as i16
        } else {
            let uh = a >> 9;
            let result: u32 = if uh >= 255 {
                0x7FFF << 10
            } else {
                let (ua, ub) = (t[uh as usize], t[uh as usize + 1]);
                let ut = a & 0x1FF;
                (ua << 9).wrapping_add(ut.wrapping_mul(ub.wrapping_sub(ua)))
            };
            let result = if v >= 0 {
                result + (1 << 9)
            } else {
                (1u32 << 25).wrapping_sub(result) + (1 << 9) - 1
            };
            (result >> 10) as i16
        }
    }
}

impl Kernel for Sigmoid16 {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let x = inputs.first().copied().flatten();
        match (x.map(|t| t.buf()), outputs.first_mut().map(|t| t.buf_mut())) {
            (Some(Buf::I16(x)), Some(Buf::I16(y))) if x.len() == y.len() => {
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = self.apply(x);
                }
                Ok(())
            }
            _ => Err(Error::Shape(format!(
                "{}: the input and output must be int16 of equal sizes",
                self.label
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sigmoid_of_i_over_24_within_one_and_a_half() {
        let t = sigmoid_table();
        for (i, &v) in t.iter().enumerate() {
            let s = 65536.0 / (1.0 + (-(i as f64) / 24.0).exp());
            assert!((f64::from(v) - s).abs() <= 1.5, "entry {i}: {v} vs {s}");
        }
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
    }
}
