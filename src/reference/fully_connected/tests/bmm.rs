//! BATCH_MATMUL against a naive loop nest: random ranks, broadcasting, adjoints, zero points,
//! int32 output and the hybrid kernel's indexing.

use crate::model::{BatchMatMulOptions, DType, Op, QuantParams};
use crate::quant::fixedpoint::{multiply_by_quantized_multiplier, quantize_multiplier};
use crate::Tensor;

use super::{one_op, tensor, Rng};

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Naive batched matmul: out[b, m, n] = Σ_k lhs'[b, m, k] · rhs'[b, k, n] in k order, with the
/// product taken as `rhs' * lhs'` like TFLite's (operand-swapped) loop.
#[allow(clippy::too_many_arguments)]
fn naive_bmm<T: Copy, A: Copy + std::ops::Add<Output = A> + std::ops::Mul<Output = A>>(
    lhs: &[T],
    ls: &[usize],
    rhs: &[T],
    rs: &[usize],
    adj_x: bool,
    adj_y: bool,
    zero: A,
    conv: impl Fn(T, bool) -> A,
) -> (Vec<usize>, Vec<A>) {
    let rank = ls.len().max(rs.len());
    let el = [vec![1; rank - ls.len()], ls.to_vec()].concat();
    let er = [vec![1; rank - rs.len()], rs.to_vec()].concat();
    let batch: Vec<usize> = (0..rank - 2).map(|i| el[i].max(er[i])).collect();
    let m = if adj_x { el[rank - 1] } else { el[rank - 2] };
    let k = if adj_x { el[rank - 2] } else { el[rank - 1] };
    let n = if adj_y { er[rank - 2] } else { er[rank - 1] };
    let (sl, sr) = (strides(&el), strides(&er));
    let nb: usize = batch.iter().product();
    let mut out = Vec::new();
    for b in 0..nb {
        // multi-index of b
        let mut rem = b;
        let mut idx = vec![0; rank - 2];
        for d in (0..rank - 2).rev() {
            idx[d] = rem % batch[d];
            rem /= batch[d];
        }
        let lb: usize = (0..rank - 2)
            .map(|d| if el[d] == 1 { 0 } else { idx[d] * sl[d] })
            .sum();
        let rb: usize = (0..rank - 2)
            .map(|d| if er[d] == 1 { 0 } else { idx[d] * sr[d] })
            .sum();
        for i in 0..m {
            for j in 0..n {
                let mut total = zero;
                for kk in 0..k {
                    let a = if adj_x {
                        lhs[lb + kk * sl[rank - 2] + i]
                    } else {
                        lhs[lb + i * sl[rank - 2] + kk]
                    };
                    let bv = if adj_y {
                        rhs[rb + j * sr[rank - 2] + kk]
                    } else {
                        rhs[rb + kk * sr[rank - 2] + j]
                    };
                    total = total + conv(bv, false) * conv(a, true);
                }
                out.push(total);
            }
        }
    }
    let mut shape = batch;
    shape.extend([m, n]);
    (shape, out)
}

/// Random broadcast-compatible operand shapes of ranks 2 to 5.
fn random_shapes(rng: &mut Rng, adj_x: bool, adj_y: bool) -> (Vec<usize>, Vec<usize>) {
    let (rl, rr) = (2 + rng.below(4), 2 + rng.below(4));
    let rank = rl.max(rr);
    let batch: Vec<usize> = (0..rank - 2).map(|_| 1 + rng.below(3)).collect();
    let pick = |rng: &mut Rng, d: usize| if rng.below(3) == 0 { 1 } else { d };
    let (m, k, n) = (1 + rng.below(5), 1 + rng.below(7), 1 + rng.below(5));
    let mut ls: Vec<usize> = batch[rank - rl..].iter().map(|&d| pick(rng, d)).collect();
    let mut rs: Vec<usize> = batch[rank - rr..].iter().map(|&d| pick(rng, d)).collect();
    ls.extend(if adj_x { [k, m] } else { [m, k] });
    rs.extend(if adj_y { [n, k] } else { [k, n] });
    (ls, rs)
}

#[test]
fn float_batch_matmul_matches_a_naive_loop() {
    let mut rng = Rng(11);
    for case in 0..300 {
        let (adj_x, adj_y) = (rng.below(2) == 1, rng.below(2) == 1);
        let (ls, rs) = random_shapes(&mut rng, adj_x, adj_y);
        let lhs: Vec<f32> = (0..ls.iter().product()).map(|_| rng.milli_f32()).collect();
        let rhs: Vec<f32> = (0..rs.iter().product()).map(|_| rng.milli_f32()).collect();
        let (os, want) = naive_bmm(&lhs, &ls, &rhs, &rs, adj_x, adj_y, 0.0f32, |v, _| v);
        let rhs_t = Tensor::from_f32(&rs, &rhs).unwrap();
        let constant = rng.below(2) == 1;
        let consts = vec![None, constant.then(|| rhs_t.clone()), None];
        let k = one_op(
            Op::BatchMatMul(BatchMatMulOptions {
                adj_x,
                adj_y,
                asymmetric_quantize_inputs: false,
            }),
            vec![
                tensor(DType::F32, &ls, None),
                tensor(DType::F32, &rs, None),
                tensor(DType::F32, &os, None),
            ],
            vec![0, 1],
            &consts,
        )
        .unwrap_or_else(|e| panic!("case {case}: {ls:?} {rs:?}: {e}"));
        let lhs_t = Tensor::from_f32(&ls, &lhs).unwrap();
        let mut outs = vec![Tensor::zeros(DType::F32, &os).unwrap()];
        k.run(&[Some(&lhs_t), Some(&rhs_t)], &mut outs).unwrap();
        assert_eq!(
            outs[0].as_f32().unwrap(),
            want.as_slice(),
            "case {case}: {ls:?} x {rs:?} adj {adj_x} {adj_y}"
        );
    }
}

#[test]
fn int8_batch_matmul_matches_a_naive_loop() {
    let mut rng = Rng(12);
    for case in 0..300 {
        let (adj_x, adj_y) = (rng.below(2) == 1, rng.below(2) == 1);
        let (ls, rs) = random_shapes(&mut rng, adj_x, adj_y);
        let lhs: Vec<i8> = (0..ls.iter().product()).map(|_| rng.i8()).collect();
        let rhs: Vec<i8> = (0..rs.iter().product()).map(|_| rng.i8()).collect();
        let (lzp, rzp, ozp) = (rng.i8() as i32, rng.i8() as i32 / 8, rng.i8() as i32);
        let (lsc, rsc, osc) = (0.02f32, 0.003f32, 0.05f32);
        let (os, acc) = naive_bmm(&lhs, &ls, &rhs, &rs, adj_x, adj_y, 0i32, |v, is_lhs| {
            v as i32 - if is_lhs { lzp } else { rzp }
        });
        let m = quantize_multiplier(f64::from(lsc * rsc) / f64::from(osc));
        let want: Vec<i8> = acc
            .iter()
            .map(|&a| (multiply_by_quantized_multiplier(a, m) + ozp).clamp(-128, 127) as i8)
            .collect();
        let rhs_t = Tensor::from_i8(&rs, &rhs).unwrap();
        let consts = vec![None, (case % 2 == 0).then(|| rhs_t.clone()), None];
        let k = one_op(
            Op::BatchMatMul(BatchMatMulOptions {
                adj_x,
                adj_y,
                asymmetric_quantize_inputs: false,
            }),
            vec![
                tensor(DType::I8, &ls, Some((lsc, lzp as i64))),
                tensor(DType::I8, &rs, Some((rsc, rzp as i64))),
                tensor(DType::I8, &os, Some((osc, ozp as i64))),
            ],
            vec![0, 1],
            &consts,
        )
        .unwrap();
        let lhs_t = Tensor::from_i8(&ls, &lhs).unwrap();
        let mut outs = vec![Tensor::zeros(DType::I8, &os).unwrap()];
        k.run(&[Some(&lhs_t), Some(&rhs_t)], &mut outs).unwrap();
        assert_eq!(outs[0].as_i8().unwrap(), want.as_slice(), "case {case}");
    }
}

#[test]
fn int8_batch_matmul_to_int32_ignores_zero_points() {
    // EvalInt8Int32: raw products.
    let (ls, rs) = ([2usize, 3], [3usize, 2]);
    let lhs = [1i8, -2, 3, 4, 5, -6];
    let rhs = [7i8, 8, 9, -10, 11, 12];
    let k = one_op(
        Op::BatchMatMul(BatchMatMulOptions {
            adj_x: false,
            adj_y: false,
            asymmetric_quantize_inputs: false,
        }),
        vec![
            tensor(DType::I8, &ls, Some((0.1, 5))),
            tensor(DType::I8, &rs, Some((0.1, 3))),
            tensor(DType::I32, &[2, 2], None),
        ],
        vec![0, 1],
        &[None, None, None],
    )
    .unwrap();
    let (l, r) = (
        Tensor::from_i8(&ls, &lhs).unwrap(),
        Tensor::from_i8(&rs, &rhs).unwrap(),
    );
    let mut outs = vec![Tensor::zeros(DType::I32, &[2, 2]).unwrap()];
    k.run(&[Some(&l), Some(&r)], &mut outs).unwrap();
    assert_eq!(outs[0].as_i32().unwrap(), &[22, 64, 7, -90]);
}

#[test]
fn hybrid_batch_matmul_reads_scaling_factors_as_tflite_does() {
    // LHS [2, 3, M, K] against RHS [2, 3, K, N]: TFLite's hybrid loop advances the per-row
    // scaling factors by M for each of b1 and b2 (so batch (b1, b2) reads rows of batch
    // b1 + b2), and the row sums by N likewise.
    let p = super::super::bmm::tests_support::plan(&[2, 3, 4, 5], &[2, 3, 5, 6], false, false);
    let scale: Vec<usize> = p.iter().map(|s| s.0).collect();
    let sums: Vec<usize> = p.iter().map(|s| s.1).collect();
    assert_eq!(scale, vec![0, 4, 8, 4, 8, 12]);
    assert_eq!(sums, vec![0, 6, 12, 6, 12, 18]);
}

#[test]
fn hybrid_batch_matmul_matches_quantized_naive_loop() {
    // Per-tensor and per-column RHS scales, symmetric and asymmetric inputs; one LHS batch
    // dimension (where TFLite's indexing is the plain one).
    let mut rng = Rng(13);
    for case in 0..200 {
        let adj_y = rng.below(2) == 1;
        let (b, m, k, n) = (
            1 + rng.below(3),
            1 + rng.below(4),
            1 + rng.below(9),
            1 + rng.below(5),
        );
        let rb = if rng.below(2) == 0 { 1 } else { b };
        let ls = vec![b, m, k];
        let rs = if adj_y {
            vec![rb, n, k]
        } else {
            vec![rb, k, n]
        };
        let lhs: Vec<f32> = (0..b * m * k).map(|_| rng.milli_f32() * 3.0).collect();
        let rhs: Vec<i8> = (0..rb * k * n).map(|_| rng.i8().max(-127)).collect();
        let asymmetric = rng.below(2) == 1;
        let per_channel = rng.below(2) == 1;
        let scales: Vec<f32> = (0..if per_channel { n } else { 1 })
            .map(|i| 0.01 + 0.001 * i as f32)
            .collect();
        // Expected: quantize each LHS row, integer dot products, TFLite's float steps.
        let mut q = vec![0i8; lhs.len()];
        let rows = super::super::batch_quantize(&lhs, k, asymmetric, &mut q);
        let mut want = Vec::new();
        for bi in 0..b {
            let rbi = if rb == 1 { 0 } else { bi };
            for i in 0..m {
                let r = rows[bi * m + i];
                for j in 0..n {
                    let w = |kk: usize| {
                        if adj_y {
                            rhs[rbi * n * k + j * k + kk]
                        } else {
                            rhs[rbi * k * n + kk * n + j]
                        }
                    };
                    let mut total = 0i32;
                    let mut row_sum = 0i32;
                    for kk in 0..k {
                        total += w(kk) as i32 * q[(bi * m + i) * k + kk] as i32;
                        row_sum += w(kk) as i32;
                    }
                    total = (total as f32 - row_sum as f32 * r.offset as f32) as i32;
                    let scale = if per_channel {
                        r.scale * scales[j]
                    } else {
                        r.scale * scales[0]
                    };
                    want.push(0.0f32 + scale * total as f32);
                }
            }
        }
        let mut rt = tensor(DType::I8, &rs, None);
        rt.quant = Some(QuantParams {
            scale: scales.clone(),
            zero_point: vec![0; scales.len()],
            quantized_dimension: if adj_y { 1 } else { 2 },
            ..Default::default()
        });
        let rhs_t = Tensor::from_i8(&rs, &rhs).unwrap();
        let consts = vec![None, Some(rhs_t.clone()), None];
        let kern = one_op(
            Op::BatchMatMul(BatchMatMulOptions {
                adj_x: false,
                adj_y,
                asymmetric_quantize_inputs: asymmetric,
            }),
            vec![
                tensor(DType::F32, &ls, None),
                rt,
                tensor(DType::F32, &[b, m, n], None),
            ],
            vec![0, 1],
            &consts,
        )
        .unwrap();
        let lhs_t = Tensor::from_f32(&ls, &lhs).unwrap();
        let mut outs = vec![Tensor::zeros(DType::F32, &[b, m, n]).unwrap()];
        kern.run(&[Some(&lhs_t), Some(&rhs_t)], &mut outs).unwrap();
        assert_eq!(outs[0].as_f32().unwrap(), want.as_slice(), "case {case}");
    }
}
