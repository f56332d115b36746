//! NEG, RSQRT, SQRT, EXP, LOG, GELU, SQUARED_DIFFERENCE and DIV.

use litequant::model::{DType, Op, QuantParams};
use litequant::{Buf, Engine as _, Session as _, Tensor};

use super::*;

/// The unary ops of the family (GELU both ways).
fn unary_ops() -> [Op; 7] {
    [
        Op::Neg,
        Op::Rsqrt,
        Op::Sqrt,
        Op::Exp,
        Op::Log,
        Op::Gelu { approximate: false },
        Op::Gelu { approximate: true },
    ]
}

/// The dtypes BUILTIN_REF has for an op among int8 and uint8.
fn quant_dtypes(op: &Op) -> &'static [DType] {
    match op {
        Op::Gelu { .. } => &[DType::I8, DType::U8],
        _ => &[DType::I8],
    }
}

fn unary_model(
    op: Op,
    dtype: DType,
    shape: &[usize],
    q: [Option<QuantParams>; 2],
) -> litequant::Model {
    let [qx, qy] = q;
    one_op(
        op,
        vec![tensor("x", dtype, shape, qx), tensor("y", dtype, shape, qy)],
        1,
    )
}

#[test]
fn float_unary_math_matches_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("float_unary_math_matches_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0x6e1);
    for case in 0..48 {
        let op = unary_ops()[case % 7].clone();
        let shape = random_shape(&mut rng, 5, 500);
        let n: usize = shape.iter().product();
        let positive = matches!(op, Op::Rsqrt | Op::Sqrt | Op::Log);
        let x: Vec<f32> = (0..n)
            .map(|i| match i % 13 {
                3 => f32::NAN,
                7 => 0.0,
                11 if !positive => -0.0,
                _ if positive => (rng.unit().abs() * 9.0).max(1e-3),
                _ => rng.unit() * 6.0,
            })
            .collect();
        let m = unary_model(op.clone(), DType::F32, &shape, [None, None]);
        h.check(
            &m,
            &[Tensor::new(&shape, Buf::F32(x))?],
            &format!("case {case} {op:?} {shape:?}"),
        )?;
    }
    Ok(())
}

/// Scales over several decades and zero points at the type's edges.
fn random_qparams(rng: &mut Rng, dtype: DType) -> QuantParams {
    let (lo, hi) = range(dtype);
    let s = 10f32.powi(rng.below(5) as i32 - 3) * (0.5 + rng.unit().abs());
    let z = [
        lo,
        hi,
        (lo + hi) / 2,
        lo + rng.below((hi - lo) as usize) as i32,
    ][rng.below(4)];
    QuantParams::per_tensor(s, z as i64)
}

#[test]
fn quantized_unary_math_matches_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("quantized_unary_math_matches_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0x6e2);
    let mut done = 0;
    for case in 0..120 {
        let op = unary_ops()[case % 7].clone();
        let dtypes = quant_dtypes(&op);
        let dtype = dtypes[(case / 7) % dtypes.len()];
        let shape = random_shape(&mut rng, 5, 500);
        let n: usize = shape.iter().product();
        let (qx, qy) = (
            random_qparams(&mut rng, dtype),
            random_qparams(&mut rng, dtype),
        );
        let zx = qx.zero_point[0] as i32;
        let m = unary_model(op.clone(), dtype, &shape, [Some(qx), Some(qy)]);
        let mut x = random_ints(&mut rng, dtype, n);
        // RSQRT and SQRT refuse inputs below the zero point: keep them at or above it here
        // (refusals are `quantized_unary_refusals_match_reference`).
        if matches!(op, Op::Rsqrt | Op::Sqrt) {
            if let Buf::I8(v) = &mut x {
                for e in v.iter_mut() {
                    *e = (*e).max(zx as i8);
                }
            }
        }
        h.check(
            &m,
            &[Tensor::new(&shape, x)?],
            &format!("case {case} {op:?} {dtype:?} {shape:?}"),
        )?;
        done += 1;
    }
    assert_eq!(done, 120);
    Ok(())
}

/// Where the reference refuses a run (RSQRT below the input zero point, SQRT of a negative
/// value), the GPU engine refuses it too, with the reference's reason.
#[test]
fn quantized_unary_refusals_match_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("quantized_unary_refusals_match_reference")? else {
        return Ok(());
    };
    for (op, why) in [
        (Op::Rsqrt, "Rsqrt is only defined for positive values"),
        (Op::Sqrt, "Sqrt is only defined for non-negative values"),
    ] {
        let q = |s: f32, z: i64| Some(QuantParams::per_tensor(s, z));
        let m = unary_model(op.clone(), DType::I8, &[7], [q(0.05, 3), q(0.02, -100)]);
        let x = Tensor::new(&[7], Buf::I8(vec![3, 4, 100, 127, 2, 50, 9]))?;
        let want = litequant::ReferenceEngine
            .prepare(&m)?
            .run(std::slice::from_ref(&x));
        let got = h.gpu(&m, std::slice::from_ref(&x));
        let (Err(w), Err(g)) = (want, got) else {
            panic!("{op:?}: both engines must refuse");
        };
        assert!(w.to_string().contains(why), "{w}");
        assert!(g.to_string().contains(why), "{g}");
        // Without the offending element both run, equal.
        let ok = Tensor::new(&[6], Buf::I8(vec![3, 4, 100, 127, 50, 9]))?;
        let m6 = unary_model(op.clone(), DType::I8, &[6], [q(0.05, 3), q(0.02, -100)]);
        h.check(&m6, &[ok], &format!("{op:?} valid inputs"))?;
    }
    Ok(())
}

/// Output shape and two input shapes of at most 4 dimensions that broadcast to it.
fn shapes4(rng: &mut Rng) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let out = random_shape(rng, 4, 400);
    let derive = |rng: &mut Rng| -> Vec<usize> {
        let drop = rng.below(out.len() + 1);
        out[drop..]
            .iter()
            .map(|&d| if rng.below(2) == 0 { 1 } else { d })
            .collect()
    };
    match rng.below(3) {
        0 => (out.clone(), out.clone(), out),
        1 => {
            let b = derive(rng);
            (out.clone(), out, b)
        }
        _ => {
            let a = derive(rng);
            (out.clone(), a, out)
        }
    }
}

fn binary_model(
    op: Op,
    dtype: DType,
    (out, sa, sb): (&[usize], &[usize], &[usize]),
    q: [Option<QuantParams>; 3],
    b_data: Option<&Buf>,
) -> litequant::Model {
    let [qa, qb, qo] = q;
    let mut tb = tensor("b", dtype, sb, qb);
    if let Some(d) = b_data {
        tb.data = Some(le_bytes(d).into());
    }
    one_op(
        op,
        vec![tensor("a", dtype, sa, qa), tb, tensor("y", dtype, out, qo)],
        2,
    )
}

/// Runs a binary model on both engines (input 1 a constant when `constant`); `false` when
/// the reference refuses its parameters at prepare (multipliers ≥ 1).
#[allow(clippy::too_many_arguments)]
fn check_binary(
    h: &Harness,
    op: Op,
    dtype: DType,
    shapes: (&[usize], &[usize], &[usize]),
    q: [Option<QuantParams>; 3],
    (xa, xb): (Buf, Buf),
    constant: bool,
    what: &str,
) -> litequant::Result<bool> {
    let m = binary_model(op, dtype, shapes, q, constant.then_some(&xb));
    if litequant::ReferenceEngine.prepare(&m).is_err() {
        return Ok(false);
    }
    let mut inputs = vec![Tensor::new(shapes.1, xa)?];
    if !constant {
        inputs.push(Tensor::new(shapes.2, xb)?);
    }
    h.check(&m, &inputs, what)?;
    Ok(true)
}

#[test]
fn squared_difference_matches_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("squared_difference_matches_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0x5d1f);
    let mut done = 0;
    for case in 0..90 {
        let dtype = [DType::F32, DType::I32, DType::I8][case % 3];
        let (out, sa, sb) = shapes4(&mut rng);
        let (na, nb): (usize, usize) = (sa.iter().product(), sb.iter().product());
        let data = |rng: &mut Rng, n: usize| -> Buf {
            match dtype {
                DType::F32 => Buf::F32(
                    (0..n)
                        .map(|i| {
                            if i % 11 == 5 {
                                f32::NAN
                            } else {
                                rng.unit() * 8.0
                            }
                        })
                        .collect(),
                ),
                DType::I32 => Buf::I32(
                    (0..n)
                        .map(|_| (rng.next() % 200_001) as i32 - 100_000)
                        .collect(),
                ),
                _ => random_ints(rng, dtype, n),
            }
        };
        let q = if dtype == DType::I8 {
            let (qa, qb) = (
                random_qparams(&mut rng, dtype),
                random_qparams(&mut rng, dtype),
            );
            // An output scale that keeps the output multiplier (2·max)² / (2^14·s_out)
            // below 1 (up to 16x above the bound), its zero point at an edge or inside.
            let m = qa.scale[0].max(qb.scale[0]);
            let s_out = 4.0 * m * m / 16384.0 * (1.01 + 15.0 * rng.unit().abs());
            let z = [-128i64, 127, 0, -100][rng.below(4)];
            [Some(qa), Some(qb), Some(QuantParams::per_tensor(s_out, z))]
        } else {
            [None, None, None]
        };
        let (xa, xb) = (data(&mut rng, na), data(&mut rng, nb));
        let what = format!("case {case} {dtype:?} {sa:?} {sb:?} -> {out:?}");
        let shapes = (&out[..], &sa[..], &sb[..]);
        let constant = case % 4 == 1;
        if check_binary(
            &h,
            Op::SquaredDifference,
            dtype,
            shapes,
            q,
            (xa, xb),
            constant,
            &what,
        )? {
            done += 1;
        }
    }
    println!("{done} SQUARED_DIFFERENCE models compared");
    assert_eq!(done, 90, "every model prepares");
    Ok(())
}

#[test]
fn div_matches_reference() -> litequant::Result<()> {
    use litequant::model::Activation;
    let Some(h) = Harness::new("div_matches_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0xd1f);
    let mut done = 0;
    for case in 0..90 {
        let dtype = [DType::F32, DType::I8, DType::U8][case % 3];
        let act = [
            Activation::None,
            Activation::Relu,
            Activation::Relu6,
            Activation::ReluN1To1,
        ][rng.below(4)];
        let (out, sa, sb) = shapes4(&mut rng);
        let (na, nb): (usize, usize) = (sa.iter().product(), sb.iter().product());
        let q = if dtype == DType::F32 {
            [None, None, None]
        } else {
            [
                Some(random_qparams(&mut rng, dtype)),
                Some(random_qparams(&mut rng, dtype)),
                Some(random_qparams(&mut rng, dtype)),
            ]
        };
        let xa = match dtype {
            DType::F32 => Buf::F32(
                (0..na)
                    .map(|i| {
                        if i % 11 == 5 {
                            f32::NAN
                        } else {
                            rng.unit() * 8.0
                        }
                    })
                    .collect(),
            ),
            _ => random_ints(&mut rng, dtype, na),
        };
        // Divisors: never the zero point (the run would be refused; see below), zero and
        // signed zeros among the float ones.
        let xb = match dtype {
            DType::F32 => Buf::F32(
                (0..nb)
                    .map(|i| if i % 13 == 4 { 0.0 } else { rng.unit() * 4.0 })
                    .collect(),
            ),
            _ => {
                let z = q[1].as_ref().map_or(0, |q| q.zero_point[0] as i32);
                let (lo, hi) = range(dtype);
                match random_ints(&mut rng, dtype, nb) {
                    Buf::I8(v) => Buf::I8(
                        v.into_iter()
                            .map(|x| {
                                if i32::from(x) == z {
                                    (if z < hi { z + 1 } else { z - 1 }) as i8
                                } else {
                                    x
                                }
                            })
                            .collect(),
                    ),
                    Buf::U8(v) => Buf::U8(
                        v.into_iter()
                            .map(|x| {
                                if i32::from(x) == z {
                                    (if z < hi { z + 1 } else { lo.max(z - 1) }) as u8
                                } else {
                                    x
                                }
                            })
                            .collect(),
                    ),
                    other => other,
                }
            }
        };
        let what = format!("case {case} {dtype:?} {act:?} {sa:?} {sb:?} -> {out:?}");
        let shapes = (&out[..], &sa[..], &sb[..]);
        let constant = case % 4 == 1;
        let op = Op::Div { activation: act };
        if !check_binary(&h, op, dtype, shapes, q, (xa, xb), constant, &what)? {
            continue;
        }
        done += 1;
    }
    println!("{done} DIV models compared");
    assert!(done >= 80, "only {done} models prepared");
    // A divisor equal to its zero point: both engines refuse the run.
    let q = |s: f32, z: i64| Some(QuantParams::per_tensor(s, z));
    let m = binary_model(
        Op::Div {
            activation: Activation::None,
        },
        DType::I8,
        (&[4], &[4], &[4]),
        [q(0.1, 0), q(0.05, -7), q(0.2, 3)],
        None,
    );
    let ins = [
        Tensor::new(&[4], Buf::I8(vec![1, 2, 3, 4]))?,
        Tensor::new(&[4], Buf::I8(vec![5, -7, 9, 1]))?,
    ];
    let want = litequant::ReferenceEngine.prepare(&m)?.run(&ins);
    let got = h.gpu(&m, &ins);
    let (Err(w), Err(g)) = (want, got) else {
        panic!("DIV by the zero point: both engines must refuse");
    };
    assert!(w.to_string().contains("zero point"), "{w}");
    assert!(g.to_string().contains("zero point"), "{g}");
    Ok(())
}

/// Float SQRT and RSQRT on the GPU give the CPU's bits (the shader's soft square root is
/// correctly rounded, as `f32::sqrt` is): every exponent, subnormals, values next to perfect
/// squares and ties, zeros, infinities, negative numbers and NaN.
#[test]
fn float_sqrt_and_rsqrt_are_the_cpu_bits() -> litequant::Result<()> {
    let Some(h) = Harness::new("float_sqrt_and_rsqrt_are_the_cpu_bits")? else {
        return Ok(());
    };
    let mut rng = Rng(0x5947);
    let mut x: Vec<f32> = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -1.0,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::from_bits(0x007f_ffff),
        f32::MAX,
        1.0,
        2.0,
        4.0,
    ];
    for k in 1..2000u32 {
        let sq = (k as f32) * (k as f32);
        x.extend([
            sq,
            f32::from_bits(sq.to_bits() + 1),
            f32::from_bits(sq.to_bits() - 1),
        ]);
    }
    while x.len() < 40_000 {
        // Random bit patterns over every exponent (positive), and random subnormals.
        let bits = (rng.next() as u32) & 0x7fff_ffff;
        x.push(f32::from_bits(bits));
        x.push(f32::from_bits(bits & 0x007f_ffff));
    }
    let n = x.len();
    for op in [Op::Sqrt, Op::Rsqrt] {
        let m = unary_model(op.clone(), DType::F32, &[n], [None, None]);
        let input = Tensor::new(&[n], Buf::F32(x.clone()))?;
        let want = litequant::ReferenceEngine
            .prepare(&m)?
            .run(std::slice::from_ref(&input))?;
        let got = h.gpu(&m, std::slice::from_ref(&input))?;
        let (g, w) = (got[0].as_f32().unwrap(), want[0].as_f32().unwrap());
        let bad: Vec<usize> = (0..n)
            .filter(|&i| g[i].to_bits() != w[i].to_bits() && !(g[i].is_nan() && w[i].is_nan()))
            .collect();
        assert!(
            bad.is_empty(),
            "{op:?}: {} of {n} differ, first x = {:e} ({:#x}): gpu {:e}, cpu {:e}",
            bad.len(),
            x[bad[0]],
            x[bad[0]].to_bits(),
            g[bad[0]],
            w[bad[0]]
        );
    }
    Ok(())
}
