//! ADD, SUB, MUL, MAXIMUM, MINIMUM.

use litequant::model::{Activation, AddSubOptions, DType, Op, QuantParams};
use litequant::Engine as _;
use litequant::{Buf, Tensor};

use super::*;

// ---------------------------------------------------------------------------------------------
// ADD, SUB, MUL, MAXIMUM, MINIMUM

/// Output shape and two input shapes that broadcast to it (dimensions set to 1, leading
/// dimensions dropped), or equal shapes.
fn broadcast_shapes(rng: &mut Rng) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let out = random_shape(rng, 5, 400);
    let derive = |rng: &mut Rng| -> Vec<usize> {
        if rng.below(3) == 0 {
            return out.clone();
        }
        let drop = rng.below(out.len() + 1);
        out[drop..]
            .iter()
            .map(|&d| if rng.below(2) == 0 { 1 } else { d })
            .collect()
    };
    let a = derive(rng);
    let b = derive(rng);
    // Both derived shapes may miss a dimension of the output: put it back in one.
    // Right-aligned, every output dimension above 1 must come from a or b.
    let dim_at = |s: &[usize], k: usize| if k < s.len() { s[s.len() - 1 - k] } else { 1 };
    let covered = (0..out.len()).all(|k| {
        let d = dim_at(&out, k);
        d == 1 || dim_at(&a, k) == d || dim_at(&b, k) == d
    });
    if !covered {
        return (out.clone(), out.clone(), b.iter().map(|_| 1).collect());
    }
    (out, a, b)
}

fn activation(rng: &mut Rng) -> Activation {
    [
        Activation::None,
        Activation::Relu,
        Activation::Relu6,
        Activation::ReluN1To1,
    ][rng.below(4)]
}

fn binary_op(kind: usize, act: Activation) -> Op {
    let o = AddSubOptions {
        activation: act,
        pot_scale_int16: false,
    };
    match kind {
        0 => Op::Add(o),
        1 => Op::Sub(o),
        2 => Op::Mul { activation: act },
        3 => Op::Maximum,
        _ => Op::Minimum,
    }
}

/// A binary model; input 1 a constant with `b_data` when given.
fn binary_model(
    op: Op,
    dtype: DType,
    shapes: (&[usize], &[usize], &[usize]),
    q: [Option<QuantParams>; 3],
    b_data: Option<&Buf>,
) -> litequant::Model {
    let [qa, qb, qo] = q;
    let mut tb = tensor("b", dtype, shapes.1, qb);
    if let Some(d) = b_data {
        tb.data = Some(le_bytes(d).into());
    }
    one_op(
        op,
        vec![
            tensor("a", dtype, shapes.0, qa),
            tb,
            tensor("y", dtype, shapes.2, qo),
        ],
        2,
    )
}

#[test]
fn float_and_int32_binary_ops_match_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("float_and_int32_binary_ops_match_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0xb1a7);
    for case in 0..60 {
        let kind = case % 5;
        let dtype = if case % 10 < 5 {
            DType::F32
        } else {
            DType::I32
        };
        let (out, sa, sb) = broadcast_shapes(&mut rng);
        let act = if kind < 3 {
            activation(&mut rng)
        } else {
            Activation::None
        };
        let (na, nb): (usize, usize) = (sa.iter().product(), sb.iter().product());
        let data = |rng: &mut Rng, n: usize| -> Buf {
            if dtype == DType::F32 {
                Buf::F32(
                    (0..n)
                        .map(|i| {
                            if i % 11 == 5 {
                                f32::NAN
                            } else {
                                rng.unit() * 8.0
                            }
                        })
                        .collect(),
                )
            } else {
                random_ints(rng, DType::I32, n)
            }
        };
        let (xa, xb) = (data(&mut rng, na), data(&mut rng, nb));
        let constant = case % 3 == 0;
        let m = binary_model(
            binary_op(kind, act),
            dtype,
            (&sa, &sb, &out),
            [None, None, None],
            constant.then_some(&xb),
        );
        let mut inputs = vec![Tensor::new(&sa, xa)?];
        if !constant {
            inputs.push(Tensor::new(&sb, xb)?);
        }
        h.check(
            &m,
            &inputs,
            &format!("case {case} op {kind} {dtype:?} {act:?} {sa:?} {sb:?} -> {out:?}"),
        )?;
    }
    Ok(())
}

#[test]
fn quantized_binary_ops_match_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("quantized_binary_ops_match_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0xb1a8);
    let mut done = 0;
    for case in 0..200 {
        let kind = case % 5;
        let dtype = [DType::I8, DType::U8, DType::I16, DType::I32][(case / 5) % 4];
        if kind < 3 && !matches!(dtype, DType::I8 | DType::U8) {
            continue;
        }
        let (lo, hi) = range(dtype);
        let (out, sa, sb) = broadcast_shapes(&mut rng);
        let act = if kind < 3 {
            activation(&mut rng)
        } else {
            Activation::None
        };
        let qp = |rng: &mut Rng| -> Option<QuantParams> {
            if dtype == DType::I32 {
                return None;
            }
            // Scales over several decades (extreme multipliers), zero points at the edges.
            let s = 10f32.powi(rng.below(7) as i32 - 4) * (0.5 + rng.unit().abs());
            let z = match dtype {
                DType::I16 => 0,
                _ => [
                    lo,
                    hi,
                    (lo + hi) / 2,
                    lo + rng.below((hi - lo) as usize) as i32,
                ][rng.below(4)],
            };
            Some(QuantParams::per_tensor(s, z as i64))
        };
        let q = [qp(&mut rng), qp(&mut rng), qp(&mut rng)];
        let (na, nb): (usize, usize) = (sa.iter().product(), sb.iter().product());
        let xa = random_ints(&mut rng, dtype, na);
        let xb = random_ints(&mut rng, dtype, nb);
        let constant = case % 4 == 1;
        let m = binary_model(
            binary_op(kind, act),
            dtype,
            (&sa, &sb, &out),
            q,
            constant.then_some(&xb),
        );
        // Some parameter sets are refused by the reference (multipliers >= 1): skip those.
        if litequant::ReferenceEngine.prepare(&m).is_err() {
            continue;
        }
        let mut inputs = vec![Tensor::new(&sa, xa)?];
        if !constant {
            inputs.push(Tensor::new(&sb, xb)?);
        }
        h.check(
            &m,
            &inputs,
            &format!("case {case} op {kind} {dtype:?} {act:?} {sa:?} {sb:?} -> {out:?}"),
        )?;
        done += 1;
    }
    println!("{done} quantized binary models compared");
    assert!(done >= 80, "only {done} models prepared");
    Ok(())
}
