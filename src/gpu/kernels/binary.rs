//! ADD, SUB, MUL, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, DIV on the GPU, twin of `src/reference/binary` (shader
//! `shaders/binary.wgsl`). The reference's prepared kernel gives the path and every
//! multiplier; this file lays out the broadcast (merged dimensions and strides) and the
//! parameter block.

use super::quantize::{bits, grid_for, out_words, words_bytes, WG};
use super::{Command, GpuOpCtx};
use crate::gpu::shaders::PipelineKey;
use crate::reference::binary::{Arith, BinaryKernel, BinaryOp};
use crate::reference::common::shape_of;
use crate::Result;

/// The broadcast of `a` and `b` to `out` as (dims, strides of a, strides of b), with
/// size-1 output dimensions dropped and neighbouring dimensions merged where both inputs
/// either broadcast or are read in full along both; empty when both inputs have the output's
/// shape (read at the output's flat index).
pub(crate) fn broadcast_layout(
    a: &[usize],
    b: &[usize],
    out: &[usize],
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let rank = out.len();
    let padded = |s: &[usize]| -> Vec<usize> {
        let mut v = vec![1; rank.saturating_sub(s.len())];
        v.extend_from_slice(s);
        v
    };
    let (pa, pb) = (padded(a), padded(b));
    // (dim, a full?, b full?) of every output dimension larger than 1.
    let mut merged: Vec<(usize, bool, bool)> = Vec::new();
    for d in 0..rank {
        if out[d] == 1 {
            continue;
        }
        let fa = pa[d] != 1;
        let fb = pb[d] != 1;
        match merged.last_mut() {
            Some(last) if last.1 == fa && last.2 == fb => last.0 *= out[d],
            _ => merged.push((out[d], fa, fb)),
        }
    }
    if merged.iter().all(|&(_, fa, fb)| fa && fb) {
        return (Vec::new(), Vec::new(), Vec::new());
    }
    let strides = |full: &dyn Fn(&(usize, bool, bool)) -> bool| -> Vec<usize> {
        let mut s = vec![0; merged.len()];
        let mut acc = 1;
        for (k, m) in merged.iter().enumerate().rev() {
            if full(m) {
                s[k] = acc;
                acc *= m.0;
            }
        }
        s
    };
    let sa = strides(&|m| m.1);
    let sb = strides(&|m| m.2);
    (merged.iter().map(|m| m.0).collect(), sa, sb)
}

/// The words of MUL's and DIV's parameters: the zero point offsets, the output multiplier
/// and shift, the activation range.
fn offsets_and_output(
    w: &mut [u32; 20],
    [in1, in2, out, multiplier]: [i32; 4],
    shift: i32,
    (act_min, act_max): (i32, i32),
) {
    w[4] = in1 as u32;
    w[7] = in2 as u32;
    w[10] = out as u32;
    w[11] = multiplier as u32;
    w[12] = shift as u32;
    w[13] = act_min as u32;
    w[14] = act_max as u32;
}

/// ADD, SUB, MUL, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, DIV.
pub(crate) fn prepare_binary(ctx: &GpuOpCtx) -> Result<Vec<Command>> {
    let k: &BinaryKernel = ctx.kernel()?;
    let dtype = ctx.op.output(0)?.dtype;
    let (nbits, signed) = bits(ctx, dtype)?;
    let (a_shape, b_shape, out_shape) = (
        shape_of(ctx.op.input(0)?),
        shape_of(ctx.op.input(1)?),
        shape_of(ctx.op.output(0)?),
    );
    let (dims, sa, sb) = broadcast_layout(&a_shape, &b_shape, &out_shape);
    let len = u32::try_from(k.operands.len_out)
        .map_err(|_| ctx.unsupported("more than 2^32 elements"))?;
    let to_u32 = |v: &[usize]| -> Result<Vec<u32>> {
        v.iter()
            .map(|&x| u32::try_from(x).map_err(|_| ctx.unsupported("dimension beyond 2^32")))
            .collect()
    };
    let mut layout = to_u32(&dims)?;
    layout.extend(to_u32(&sa)?);
    layout.extend(to_u32(&sb)?);
    let arith_code = |a: Arith| match a {
        Arith::Add => 0u32,
        Arith::Sub => 1,
        Arith::Mul => 2,
        Arith::SquaredDifference => 3,
        Arith::Div => 4,
    };
    // Params words, in the shader's order.
    let mut w = [0u32; 20];
    w[0] = len;
    w[1] = dims.len() as u32;
    let kind = match &k.op {
        BinaryOp::Float { arith, lo, hi } => {
            w[2] = arith_code(*arith);
            w[15] = lo.to_bits();
            w[16] = hi.to_bits();
            0
        }
        BinaryOp::Int32 { arith, lo, hi } => {
            w[2] = arith_code(*arith);
            w[13] = *lo as u32;
            w[14] = *hi as u32;
            1
        }
        BinaryOp::QuantAddSub { p, .. } | BinaryOp::QuantSquaredDiff(p) => {
            if let BinaryOp::QuantAddSub { subtract, .. } = &k.op {
                w[2] = u32::from(*subtract);
            }
            w[3] = p.left_shift as u32;
            w[4] = p.input1_offset as u32;
            w[5] = p.input1_multiplier.multiplier as u32;
            w[6] = p.input1_multiplier.shift as u32;
            w[7] = p.input2_offset as u32;
            w[8] = p.input2_multiplier.multiplier as u32;
            w[9] = p.input2_multiplier.shift as u32;
            w[10] = p.output_offset as u32;
            w[11] = p.output_multiplier.multiplier as u32;
            w[12] = p.output_multiplier.shift as u32;
            w[13] = p.act_min as u32;
            w[14] = p.act_max as u32;
            if matches!(k.op, BinaryOp::QuantSquaredDiff(_)) {
                6
            } else {
                2
            }
        }
        BinaryOp::QuantMul(p) => {
            let m = &p.output_multiplier;
            let words = [
                p.input1_offset,
                p.input2_offset,
                p.output_offset,
                m.multiplier,
            ];
            offsets_and_output(&mut w, words, m.shift, (p.act_min, p.act_max));
            3
        }
        BinaryOp::QuantDiv(p) => {
            let m = &p.output_multiplier;
            let words = [
                p.input1_offset,
                p.input2_offset,
                p.output_offset,
                m.multiplier,
            ];
            offsets_and_output(&mut w, words, m.shift, (p.act_min, p.act_max));
            7
        }
        BinaryOp::MaxMin { max } => {
            w[2] = u32::from(*max);
            if dtype == crate::model::DType::F32 {
                4
            } else {
                5
            }
        }
    };
    let a = ctx.input(0)?;
    let b = ctx.input(1)?;
    let y = ctx.output(0)?;
    let p = ctx.uniform("binary params", &words_bytes(&w))?;
    let l = ctx.upload("binary layout", &words_bytes(&layout))?;
    let key = PipelineKey::new("binary", "main")
        .constant("WG", f64::from(WG))
        .constant("KIND", f64::from(kind))
        .constant("BITS", f64::from(nbits))
        .constant("SIGNED", f64::from(u8::from(signed)));
    let grid = grid_for(ctx, out_words(k.operands.len_out, nbits))?;
    if kind == 7 {
        // int8/uint8 DIV: its own entry point, with the status flag of refused runs.
        let status = ctx.status("DIV: a divisor equals its zero point (TFLite refuses the run)")?;
        let key = PipelineKey::new("binary", "quant_div")
            .constant("WG", f64::from(WG))
            .constant("BITS", f64::from(nbits))
            .constant("SIGNED", f64::from(u8::from(signed)));
        return Ok(vec![ctx.dispatch(
            &key,
            &[&a, &b, &y, &p, &l, &status],
            grid,
        )?]);
    }
    Ok(vec![ctx.dispatch(&key, &[&a, &b, &y, &p, &l], grid)?])
}

#[cfg(test)]
mod tests {
    use super::broadcast_layout;

    /// The merged layout reads the same source elements as the reference's index maps.
    #[test]
    fn layout_matches_reference_broadcast_map() {
        use crate::reference::common::broadcast_map;
        let shapes: &[(&[usize], &[usize])] = &[
            (&[2, 3, 4], &[2, 3, 4]),
            (&[2, 3, 4], &[4]),
            (&[2, 1, 4], &[1, 3, 1]),
            (&[1, 5, 1, 3], &[2, 1, 7, 3]),
            (&[3], &[2, 1, 1]),
            (&[], &[2, 2]),
            (&[1, 1], &[1]),
            (&[6, 1, 1, 2], &[6, 5, 4, 2]),
        ];
        for &(a, b) in shapes {
            let out = crate::model::Tensor::broadcast_shape(a, b).expect("broadcasts");
            let (dims, sa, sb) = broadcast_layout(a, b, &out);
            let n: usize = out.iter().product();
            let ma = broadcast_map(a, &out).expect("a");
            let mb = broadcast_map(b, &out).expect("b");
            for i in 0..n {
                let (mut rem, mut ia, mut ib) = (i, 0, 0);
                if dims.is_empty() {
                    (ia, ib) = (i, i);
                }
                for d in (0..dims.len()).rev() {
                    let c = rem % dims[d];
                    rem /= dims[d];
                    ia += c * sa[d];
                    ib += c * sb[d];
                }
                assert_eq!((ia, ib), (ma[i], mb[i]), "{a:?} {b:?} element {i}");
            }
        }
    }
}
