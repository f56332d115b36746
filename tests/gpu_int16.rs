//! The GPU engine's 16x8 kernels against the reference engine on random problems, bit for
//! bit (`gpu_int16/problems16.rs`): CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and
//! FULLY_CONNECTED with odd sizes, strides, dilations, both paddings, groups, depth
//! multipliers, long reductions whose int64 accumulator passes 32 bits (and FULLY_CONNECTED's
//! int32 accumulator without a bias wrapping), int64 biases up to 2^62, multipliers from
//! 2^-30 to 2^6 and at the 16-bit reduction's saturation, fused activations. ADD, SUB and
//! MUL in int16 (the binary kernel's generic integer path, left shift 15) on random shapes,
//! broadcasts, scales and zero points (MUL's non-zero); REDUCE_MAX, REDUCE_MIN and MEAN in
//! int16 on random shapes and axes. LOGISTIC, TANH, EXP, RSQRT, LOG, GELU, SOFTMAX and
//! BATCH_MATMUL: `gpu_int16/lut_ops.rs`.
//!
//! Skips without an adapter unless `LITEQUANT_REQUIRE_GPU=1` (lavapipe in CI).

mod common;
pub use common::Rng;

use litequant::gpu::{self, GpuEngine};
use litequant::model::{AddSubOptions, DType, Op};
use litequant::{Buf, Engine, Model, ReferenceEngine, Session, Tensor};

#[path = "gpu_int16/lut_ops.rs"]
mod lut_ops;
#[path = "gpu_conv/problems.rs"]
#[allow(dead_code)]
mod problems;
#[path = "gpu_int16/problems16.rs"]
mod problems16;

use problems::{one_op_model, qp, tensor};
use problems16::{problem16, Family16};

fn run_on<E: Engine>(engine: &E, model: &Model, inputs: &[Tensor]) -> litequant::Result<Tensor> {
    let mut session = engine.prepare(model)?;
    Ok(session.run(inputs)?.remove(0))
}

fn differences(got: &Tensor, want: &Tensor) -> Option<String> {
    match (got.buf(), want.buf()) {
        (Buf::I16(a), Buf::I16(b)) if got.shape() == want.shape() => {
            let bad: Vec<String> = (0..a.len())
                .filter(|&i| a[i] != b[i])
                .take(5)
                .map(|i| format!("[{i}] {} vs {}", a[i], b[i]))
                .collect();
            let n = (0..a.len()).filter(|&i| a[i] != b[i]).count();
            (n > 0).then(|| format!("{n} of {} differ: {}", a.len(), bad.join(", ")))
        }
        _ => Some(format!(
            "got {} {:?}, want {} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        )),
    }
}

/// `count` problems of `family` (every third a long reduction where `long`), GPU against
/// the reference.
fn check(seed: u64, family: Family16, count: usize, long: bool) -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_int16")? else {
        return Ok(());
    };
    let gpu = GpuEngine::new(ctx);
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    for i in 0..count {
        let p = problem16(&mut rng, family, long && i % 3 == 0);
        let input = std::slice::from_ref(&p.input);
        let want = run_on(&ReferenceEngine, &p.model, input)
            .map_err(|e| litequant::Error::Shape(format!("problem {i} ({}): {e}", p.what)))?;
        let got = run_on(&gpu, &p.model, input)?;
        if let Some(d) = differences(&got, &want) {
            failures.push(format!("problem {i} ({}): {d}", p.what));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[test]
fn conv2d_16x8_matches_reference() -> litequant::Result<()> {
    check(16, Family16::Conv, 24, true)
}

#[test]
fn depthwise_16x8_matches_reference() -> litequant::Result<()> {
    check(17, Family16::Depthwise, 24, false)
}

#[test]
fn transpose_conv_16x8_matches_reference() -> litequant::Result<()> {
    check(18, Family16::Transpose, 18, true)
}

#[test]
fn fully_connected_16x8_matches_reference() -> litequant::Result<()> {
    check(19, Family16::FullyConnected, 30, true)
}

/// int16 ADD, SUB and MUL: two inputs of random shapes with broadcasts, scales and zero
/// points (0 as the converter writes, and others), fused activations.
#[test]
fn add_sub_mul_int16_match_reference() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_int16 binary")? else {
        return Ok(());
    };
    let gpu = GpuEngine::new(ctx);
    let mut rng = Rng(20);
    let (mut failures, mut refused, mut why) = (Vec::new(), 0, Vec::new());
    for i in 0..60 {
        let shape = [
            rng.usize(1, 2),
            rng.usize(1, 5),
            rng.usize(1, 7),
            rng.usize(1, 9),
        ];
        let mut other = shape;
        for d in other.iter_mut() {
            if rng.next() % 3 == 0 {
                *d = 1;
            }
        }
        let (a_shape, b_shape) = if rng.next() % 2 == 0 {
            (shape, other)
        } else {
            (other, shape)
        };
        let out_shape: Vec<usize> = (0..4).map(|k| a_shape[k].max(b_shape[k])).collect();
        let act = rng.pick(&[
            litequant::model::Activation::None,
            litequant::model::Activation::Relu,
            litequant::model::Activation::Relu6,
        ]);
        let op = match i % 3 {
            0 => Op::Add(AddSubOptions {
                activation: act,
                pot_scale_int16: false,
            }),
            1 => Op::Sub(AddSubOptions {
                activation: act,
                pot_scale_int16: false,
            }),
            _ => Op::Mul { activation: act },
        };
        let scale = |rng: &mut Rng| 2f32.powf(-16.0 + 10.0 * rng.unit());
        // LiteRT's int16 ADD and SUB need zero points 0; MUL takes any.
        let mul = i % 3 == 2;
        let zp = |rng: &mut Rng| {
            if mul && rng.next() % 2 == 0 {
                rng.range(-1000, 1000)
            } else {
                0
            }
        };
        let (sa, sb, so) = (scale(&mut rng), scale(&mut rng), scale(&mut rng));
        let (za, zb, zo) = (zp(&mut rng), zp(&mut rng), zp(&mut rng));
        let tensors = vec![
            tensor("a", DType::I16, &a_shape, qp(vec![sa], vec![za], 0)),
            tensor("b", DType::I16, &b_shape, qp(vec![sb], vec![zb], 0)),
            tensor("out", DType::I16, &out_shape, qp(vec![so], vec![zo], 0)),
        ];
        let what =
            format!("{op:?} {a_shape:?} {b_shape:?} scales {sa} {sb} {so} zp {za} {zb} {zo}");
        let mut model = one_op_model(op, tensors, vec![0, 1]);
        model.subgraphs[0].inputs = vec![0, 1];
        let values = |rng: &mut Rng, s: &[usize; 4]| -> Tensor {
            let n: usize = s.iter().product();
            let v: Vec<i16> = (0..n)
                .map(|_| match rng.next() % 5 {
                    0 => [-32768, 32767, 0][rng.usize(0, 2)],
                    _ => rng.range(-32768, 32767) as i16,
                })
                .collect();
            Tensor::new(s, Buf::I16(v)).unwrap()
        };
        let inputs = [values(&mut rng, &a_shape), values(&mut rng, &b_shape)];
        let want = match run_on(&ReferenceEngine, &model, &inputs) {
            Ok(w) => w,
            // A run the reference refuses must be refused on the GPU too.
            Err(e) => {
                refused += 1;
                why.push(format!("{what}: {e}"));
                if run_on(&gpu, &model, &inputs).is_ok() {
                    failures.push(format!("{what}: the reference refuses ({e}), the GPU runs"));
                }
                continue;
            }
        };
        let got = run_on(&gpu, &model, &inputs)?;
        if let Some(d) = differences(&got, &want) {
            failures.push(format!("{what}: {d}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(refused <= 10, "{refused} of 60 problems refused: {why:?}");
    Ok(())
}

/// int16 REDUCE_MAX, REDUCE_MIN and MEAN (the reduce family's generic integer paths) over
/// random shapes and axis sets, with and without kept dimensions.
#[test]
fn reduce_max_min_mean_int16_match_reference() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_int16 reduce")? else {
        return Ok(());
    };
    let gpu = GpuEngine::new(ctx);
    let mut rng = Rng(24);
    let mut failures = Vec::new();
    for i in 0..36 {
        let shape = [
            rng.usize(1, 3),
            rng.usize(1, 9),
            rng.usize(1, 11),
            rng.usize(1, 7),
        ];
        let mut axes: Vec<i32> = (0..4).filter(|_| rng.next() % 2 == 0).collect();
        if axes.is_empty() {
            axes.push(rng.range(0, 3) as i32);
        }
        let keep_dims = rng.next() % 2 == 0;
        let op = match i % 3 {
            0 => Op::ReduceMax { keep_dims },
            1 => Op::ReduceMin { keep_dims },
            _ => Op::Mean { keep_dims },
        };
        let out_shape: Vec<usize> = (0..4)
            .filter_map(|d| match (axes.contains(&(d as i32)), keep_dims) {
                (true, true) => Some(1),
                (true, false) => None,
                _ => Some(shape[d]),
            })
            .collect();
        let s_in = 2f32.powf(-15.0 + 4.0 * rng.unit());
        let s_out = if i % 3 == 2 {
            s_in * (0.5 + rng.unit())
        } else {
            s_in
        };
        let tensors = vec![
            tensor("x", DType::I16, &shape, qp(vec![s_in], vec![0], 0)),
            problems::constant(
                tensor("axes", DType::I32, &[axes.len()], None),
                problems::le(&axes, |v| v.to_le_bytes().to_vec()),
            ),
            tensor("y", DType::I16, &out_shape, qp(vec![s_out], vec![0], 0)),
        ];
        let model = one_op_model(op.clone(), tensors, vec![0, 1]);
        let n: usize = shape.iter().product();
        let v: Vec<i16> = (0..n)
            .map(|_| match rng.next() % 6 {
                0 => [-32768, 32767, 0][rng.usize(0, 2)],
                _ => rng.range(-32768, 32767) as i16,
            })
            .collect();
        let x = Tensor::new(&shape, Buf::I16(v)).unwrap();
        let what = format!("{op:?} {shape:?} axes {axes:?}");
        let want = run_on(&ReferenceEngine, &model, std::slice::from_ref(&x))
            .map_err(|e| litequant::Error::Shape(format!("{what}: {e}")))?;
        let got = run_on(&gpu, &model, std::slice::from_ref(&x))?;
        if let Some(d) = differences(&got, &want) {
            failures.push(format!("{what}: {d}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
