//! int16 LOGISTIC, TANH, EXP, RSQRT, LOG, GELU (every input value, random scales), SOFTMAX (random
//! row lengths, betas and input scales) and BATCH_MATMUL (adjoints, broadcast batches, long
//! reductions) on the GPU against the reference engine, bit for bit.

use litequant::gpu::{self, GpuEngine};
use litequant::model::{BatchMatMulOptions, DType, Op};
use litequant::{Buf, ReferenceEngine, Tensor};

use super::problems::{one_op_model, qp, tensor};
use super::{differences, run_on, Rng};

/// Every int16 value, in a `[2, 32768]` tensor.
fn every_value() -> Tensor {
    let v: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    Tensor::new(&[2, 32768], Buf::I16(v)).unwrap()
}

fn unary(
    op: Op,
    s_in: f32,
    zp_in: i64,
    s_out: f32,
    zp_out: i64,
    shape: &[usize],
) -> litequant::Model {
    let tensors = vec![
        tensor("x", DType::I16, shape, qp(vec![s_in], vec![zp_in], 0)),
        tensor("y", DType::I16, shape, qp(vec![s_out], vec![zp_out], 0)),
    ];
    one_op_model(op, tensors, vec![0])
}

#[test]
fn logistic_tanh_exp_rsqrt_log_gelu_int16_match_reference_on_every_input() -> litequant::Result<()>
{
    let Some(ctx) = gpu::context_or_skip("gpu_int16 lut ops")? else {
        return Ok(());
    };
    let gpu = GpuEngine::new(ctx);
    let x = every_value();
    let mut rng = Rng(21);
    let mut failures = Vec::new();
    for i in 0..30 {
        // Input scales around the ones the converter writes, and the power-of-two scales of
        // LOGISTIC/TANH's shift-only path (2^-12, 2^-11).
        let s_in = match i % 5 {
            0 => 2f32.powi(-12 + (i / 5 % 2) as i32),
            _ => 2f32.powf(-16.0 + 12.0 * rng.unit()),
        };
        let (op, s_out, zp_in, zp_out) = match i % 5 {
            0 | 1 => (
                if i % 2 == 0 { Op::Logistic } else { Op::Tanh },
                2f32.powi(-15),
                0,
                0,
            ),
            2 => (
                if i % 2 == 0 { Op::Exp } else { Op::Rsqrt },
                2f32.powf(-14.0 + 12.0 * rng.unit()),
                0,
                0,
            ),
            3 => (
                Op::Log,
                2f32.powf(-14.0 + 6.0 * rng.unit()),
                rng.range(-100, 100) * (i % 2) as i64,
                0,
            ),
            _ => (
                Op::Gelu {
                    approximate: i % 2 == 0,
                },
                2f32.powf(-15.0 + 6.0 * rng.unit()),
                0,
                0,
            ),
        };
        let what = format!("{op:?} s_in {s_in} zp {zp_in} s_out {s_out}");
        let model = unary(op, s_in, zp_in, s_out, zp_out, &[2, 32768]);
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

#[test]
fn softmax_int16_matches_reference() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_int16 softmax")? else {
        return Ok(());
    };
    let gpu = GpuEngine::new(ctx);
    let mut rng = Rng(22);
    let mut failures = Vec::new();
    for i in 0..24 {
        let depth = rng.pick(&[1, 2, 3, 7, 16, 33, 100, 257, 1000]);
        let rows = rng.usize(1, 9);
        let shape = [rows, depth];
        let s_in = 2f32.powf(-14.0 + 10.0 * rng.unit());
        let beta = rng.pick(&[1.0f32, 1.0, 0.5, 2.0, 0.1]);
        let model = unary(Op::Softmax { beta }, s_in, 0, 1.0 / 32768.0, 0, &shape);
        let v: Vec<i16> = (0..rows * depth)
            .map(|_| match rng.next() % (if i % 3 == 0 { 2 } else { 8 }) {
                0 => [-32768, 32767, 0][rng.usize(0, 2)],
                _ => rng.range(-32768, 32767) as i16,
            })
            .collect();
        let x = Tensor::new(&shape, Buf::I16(v)).unwrap();
        let what = format!("SOFTMAX {shape:?} s_in {s_in} beta {beta}");
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

#[test]
fn batch_matmul_int16_matches_reference() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_int16 batch_matmul")? else {
        return Ok(());
    };
    let gpu = GpuEngine::new(ctx);
    let mut rng = Rng(23);
    let mut failures = Vec::new();
    for i in 0..30 {
        let long = i % 4 == 0;
        let (m, n) = (rng.usize(1, 7), rng.usize(1, 9));
        let k = if long {
            rng.usize(1500, 3000)
        } else {
            rng.usize(1, 19)
        };
        let (adj_x, adj_y) = (rng.next() % 2 == 0, rng.next() % 2 == 0);
        // Batch dimensions: equal, broadcast from 1 on either side, or absent on the RHS.
        let b = rng.usize(1, 3);
        let (lb, rb): (Vec<usize>, Vec<usize>) = match rng.next() % 4 {
            0 => (vec![b], vec![b]),
            1 => (vec![2, b], vec![1, b]),
            2 => (vec![b], vec![]),
            _ => (vec![1], vec![b]),
        };
        let mut ls = lb.clone();
        ls.extend(if adj_x { [k, m] } else { [m, k] });
        let mut rs = rb.clone();
        rs.extend(if adj_y { [n, k] } else { [k, n] });
        let batch: Vec<usize> = if lb.len() >= rb.len() {
            lb.iter()
                .enumerate()
                .map(|(d, &l)| match d.checked_sub(lb.len() - rb.len()) {
                    Some(r) => l.max(rb[r]),
                    None => l,
                })
                .collect()
        } else {
            rb.clone()
        };
        let mut os = batch;
        os.extend([m, n]);
        let s_l = 2f32.powf(-15.0 + 4.0 * rng.unit());
        let s_r = 2f32.powf(-15.0 + 4.0 * rng.unit());
        let real = if long {
            2f32.powf(-31.0 + 8.0 * rng.unit())
        } else {
            2f32.powf(-30.0 + 30.0 * rng.unit())
        };
        let s_o = s_l * s_r / real;
        let tensors = vec![
            tensor("lhs", DType::I16, &ls, qp(vec![s_l], vec![0], 0)),
            tensor("rhs", DType::I16, &rs, qp(vec![s_r], vec![0], 0)),
            tensor("out", DType::I16, &os, qp(vec![s_o], vec![0], 0)),
        ];
        let op = Op::BatchMatMul(BatchMatMulOptions {
            adj_x,
            adj_y,
            asymmetric_quantize_inputs: false,
        });
        let mut model = one_op_model(op, tensors, vec![0, 1]);
        model.subgraphs[0].inputs = vec![0, 1];
        // Long reductions: operands at ±32767 with equal signs along K (and 2^30 products of
        // -32768 with itself), so the accumulator passes 2^32.
        let values = |rng: &mut Rng, shape: &[usize]| -> Tensor {
            let len: usize = shape.iter().product();
            let v: Vec<i16> = (0..len)
                .map(|_| match (long, rng.next() % 8) {
                    (true, 0) => -32768,
                    (true, _) => 32767,
                    (false, 0) => [-32768, 32767, 0][rng.usize(0, 2)],
                    _ => rng.range(-32768, 32767) as i16,
                })
                .collect();
            Tensor::new(shape, Buf::I16(v)).unwrap()
        };
        let inputs = [values(&mut rng, &ls), values(&mut rng, &rs)];
        let what = format!("BATCH_MATMUL {ls:?} x {rs:?} adj {adj_x}/{adj_y} real {real}");
        let want = run_on(&ReferenceEngine, &model, &inputs)
            .map_err(|e| litequant::Error::Shape(format!("{what}: {e}")))?;
        let got = run_on(&gpu, &model, &inputs)?;
        if let Some(d) = differences(&got, &want) {
            failures.push(format!("{what}: {d}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
