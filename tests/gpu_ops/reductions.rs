//! SUM, REDUCE_MAX, REDUCE_MIN and REDUCE_PROD against the reference, and float SOFTMAX in
//! the converter's order against `ConverterFloatEngine`, bit for bit.

use litequant::model::{DType, Op};
use litequant::{Engine as _, Session as _};

use super::{check, engine, i32_bytes, one_op, random_quant, tensor, Ran, Rng};

const INT_TYPES: [DType; 4] = [DType::F32, DType::I8, DType::U8, DType::I16];

/// SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD: float32 (from the neutral value and, reducing
/// every axis, from the first element), int8 (SUM read as uint8, PROD's 64-bit rescale),
/// uint8, with NaN and infinities among the float inputs; int16 (and uint8 PROD) refused by
/// both engines.
#[test]
fn reductions_match_the_reference() {
    let Some(engine) = engine("reductions_match_the_reference") else {
        return;
    };
    let mut rng = Rng(212);
    let (mut agreed, mut refused, mut int8_prod) = (0, 0, 0);
    for case in 0..80 {
        let dtype = INT_TYPES[case % 4];
        let op_of = |keep_dims| match (case / 4) % 4 {
            0 => Op::Sum { keep_dims },
            1 => Op::ReduceMax { keep_dims },
            2 => Op::ReduceMin { keep_dims },
            _ => Op::ReduceProd { keep_dims },
        };
        let rank = rng.range(1, 4) as usize;
        let mut shape: Vec<usize> = (0..rank).map(|_| rng.range(1, 7) as usize).collect();
        if case % 7 == 6 {
            shape[0] = rng.range(40, 70) as usize;
        }
        // Every third case reduces every axis (BUILTIN_REF's ReduceAllDims).
        let axes: Vec<i32> = if case % 3 == 2 {
            (0..rank as i32).rev().collect()
        } else {
            let n_axes = rng.range(1, rank as i64) as usize;
            (0..n_axes)
                .map(|_| rng.range(0, rank as i64 - 1) as i32 - rank as i32 * (case % 2) as i32)
                .collect()
        };
        let keep = rng.next() % 2 == 0;
        let resolved: Vec<usize> = axes
            .iter()
            .map(|&a| (a + if a < 0 { rank as i32 } else { 0 }) as usize)
            .collect();
        let out_shape: Vec<usize> = (0..rank)
            .filter_map(|d| match (resolved.contains(&d), keep) {
                (true, true) => Some(1),
                (true, false) => None,
                (false, _) => Some(shape[d]),
            })
            .collect();
        let op = op_of(keep);
        let qi = random_quant(&mut rng, dtype);
        let qo = if matches!(op, Op::Sum { .. } | Op::ReduceProd { .. }) {
            random_quant(&mut rng, dtype)
        } else {
            qi
        };
        let model = one_op(
            op.clone(),
            vec![
                tensor(dtype, &shape, qi, None),
                tensor(DType::I32, &[axes.len()], None, Some(i32_bytes(&axes))),
                tensor(dtype, &out_shape, qo, None),
            ],
            2,
        );
        let what = format!("case {case} {op:?} {dtype} {shape:?} axes {axes:?} {qi:?}->{qo:?}");
        match check(&engine, &mut rng, &model, &what) {
            Ran::Agree => {
                agreed += 1;
                int8_prod += usize::from(dtype == DType::I8 && matches!(op, Op::ReduceProd { .. }));
            }
            _ => refused += 1,
        }
        if dtype == DType::F32 {
            // Special values: each of them first, NaN inside, all -inf, all -0.
            let n: usize = shape.iter().product();
            let specials = [f32::NAN, f32::NEG_INFINITY, f32::INFINITY, -0.0, 0.0, 1.5];
            // Both orders: the reference's reducers, and the converter's (first input, NaN
            // inputs taking over MAX/MIN).
            let converter = engine
                .clone()
                .with_float_order(litequant::FloatOrder::Converter);
            let mut pairs = [
                (
                    litequant::ReferenceEngine.prepare(&model).unwrap(),
                    engine.prepare(&model).unwrap(),
                ),
                (
                    litequant::ConverterFloatEngine.prepare(&model).unwrap(),
                    converter.prepare(&model).unwrap(),
                ),
            ];
            for pattern in 0..8 {
                let x: Vec<f32> = (0..n)
                    .map(|i| match pattern {
                        6 => f32::NEG_INFINITY,
                        7 => -0.0,
                        _ => specials[(i * 7 + pattern) % 6],
                    })
                    .collect();
                let x = litequant::Tensor::from_f32(&shape, &x).unwrap();
                for (order, (cpu, gpu)) in pairs.iter_mut().enumerate() {
                    let want = cpu.run(std::slice::from_ref(&x)).unwrap();
                    let got = gpu.run(std::slice::from_ref(&x)).unwrap();
                    let (w, g) = (want[0].as_f32().unwrap(), got[0].as_f32().unwrap());
                    for (a, b) in g.iter().zip(w) {
                        assert!(
                            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                            "{what}: order {order}, specials {pattern}: got {g:?}, want {w:?}"
                        );
                    }
                }
            }
        }
    }
    assert!(
        agreed >= 50,
        "only {agreed} reduce cases ran ({refused} refused)"
    );
    assert!(
        int8_prod >= 3,
        "only {int8_prod} int8 REDUCE_PROD cases ran"
    );
    // int8 PROD with a tiny input scale: total shifts above 32 (the 64-bit shift's high word,
    // negative products sign-extended).
    for (k, s_in) in [3e-7f32, 1e-6, 4e-6, 2e-5].into_iter().enumerate() {
        let shape = [3, 5, 4];
        let model = one_op(
            Op::ReduceProd { keep_dims: false },
            vec![
                tensor(DType::I8, &shape, Some((s_in, 3)), None),
                tensor(DType::I32, &[1], None, Some(i32_bytes(&[1]))),
                tensor(DType::I8, &[3, 4], Some((0.37, -2)), None),
            ],
            2,
        );
        let what = format!("tiny-scale PROD {k}: s_in {s_in}");
        assert!(
            check(&engine, &mut rng, &model, &what) == Ran::Agree,
            "{what}"
        );
    }
}

/// Float SOFTMAX in the converter's order (Eigen's `pexp`, `redux` row sums, a product by the
/// inverse) gives `ConverterFloatEngine`'s bits on the GPU: rows of every length from 1 to
/// 300 (each row's sum at another misalignment), inputs wide enough that exps reach zero,
/// several betas. Outputs the CPU gives as subnormals may be flushed by a GPU (none on
/// lavapipe, which keeps them).
#[test]
fn softmax_in_the_converters_order_gives_the_cpu_bits() {
    let Some(engine) = engine("softmax_in_the_converters_order_gives_the_cpu_bits") else {
        return;
    };
    let engine = engine.with_float_order(litequant::FloatOrder::Converter);
    let mut rng = Rng(313);
    let (mut compared, mut flushed) = (0usize, 0usize);
    for case in 0..24 {
        let depth = match case % 4 {
            0 => rng.range(1, 9) as usize,
            1 => rng.range(9, 40) as usize,
            2 => rng.range(40, 120) as usize,
            _ => rng.range(120, 300) as usize,
        };
        let rows = rng.range(1, 7) as usize;
        let beta = rng.pick(&[1.0f32, 0.5, 2.0, 1.3]);
        let spread = rng.pick(&[1.0f32, 8.0, 40.0, 150.0]);
        let shape = [rows, depth];
        let model = one_op(
            Op::Softmax { beta },
            vec![
                tensor(DType::F32, &shape, None, None),
                tensor(DType::F32, &shape, None, None),
            ],
            1,
        );
        let x: Vec<f32> = (0..rows * depth)
            .map(|_| rng.f32(-spread, spread))
            .collect();
        let x = litequant::Tensor::from_f32(&shape, &x).unwrap();
        let want = litequant::ConverterFloatEngine
            .prepare(&model)
            .unwrap()
            .run(std::slice::from_ref(&x))
            .unwrap();
        let got = engine.prepare(&model).unwrap().run(&[x]).unwrap();
        let (w, g) = (want[0].as_f32().unwrap(), got[0].as_f32().unwrap());
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            if a.to_bits() == b.to_bits() {
                compared += 1;
            } else if b.is_subnormal() && *a == 0.0 {
                flushed += 1;
            } else {
                panic!(
                    "case {case} {shape:?} beta {beta} spread {spread}: element {i}: gpu {a:e} \
                     ({:#x}), cpu {b:e} ({:#x})",
                    a.to_bits(),
                    b.to_bits()
                );
            }
        }
    }
    println!(
        "softmax (converter order): {compared} outputs bit for bit, {flushed} subnormals flushed"
    );
    assert!(compared > 4000);
}
