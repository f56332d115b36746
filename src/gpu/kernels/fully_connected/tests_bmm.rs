//! BATCH_MATMUL on the GPU against the reference engine: broadcast batches of ranks 2 to 5,
//! adjoints, constant and run-time RHS, int8 → int8 / int32, hybrid and float32.

use super::super::gemm::with_tiles;
use super::{compare, gpu, one_op_model, tensor, ODD};
use crate::model::{BatchMatMulOptions, DType, Op, QuantParams};
use crate::quant::fixedpoint::test_rng::SplitMix64 as Rng;
use crate::{Buf, Tensor};

/// (lhs shape, rhs shape, adj_x, adj_y) with M, N, K not tile multiples.
fn cases() -> Vec<(Vec<usize>, Vec<usize>, bool, bool)> {
    vec![
        (vec![3, 5], vec![5, 7], false, false),
        (vec![2, 9, 13], vec![2, 13, 6], false, false),
        (vec![2, 13, 9], vec![1, 13, 6], true, false),
        (vec![4, 1, 3, 8], vec![3, 5, 8], false, true),
        (vec![1, 2, 7, 4], vec![2, 1, 6, 7], true, true),
        (vec![2, 3, 6, 10], vec![1, 10, 33], false, false),
        (vec![1, 37, 5], vec![5, 3], false, false),
        (vec![2, 1, 2, 3, 4], vec![2, 2, 1, 4, 5], false, false),
    ]
}

fn bmm_op(adj_x: bool, adj_y: bool, asym: bool) -> Op {
    Op::BatchMatMul(BatchMatMulOptions {
        adj_x,
        adj_y,
        asymmetric_quantize_inputs: asym,
    })
}

/// The output shape of a case (broadcast batch dims, then M, N).
fn out_shape(ls: &[usize], rs: &[usize], adj_x: bool, adj_y: bool) -> Vec<usize> {
    let rank = ls.len().max(rs.len());
    let el = [vec![1; rank - ls.len()], ls.to_vec()].concat();
    let er = [vec![1; rank - rs.len()], rs.to_vec()].concat();
    let mut s: Vec<usize> = (0..rank - 2).map(|i| el[i].max(er[i])).collect();
    s.push(if adj_x { el[rank - 1] } else { el[rank - 2] });
    s.push(if adj_y { er[rank - 2] } else { er[rank - 1] });
    s
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next() as u8).collect()
}

#[test]
fn int8_batch_matmul_equals_the_reference() {
    let Some(gpu) = gpu("int8_batch_matmul_equals_the_reference") else {
        return;
    };
    let mut rng = Rng(0xb88);
    for (ci, (ls, rs, adj_x, adj_y)) in cases().into_iter().enumerate() {
        let os = out_shape(&ls, &rs, adj_x, adj_y);
        let (nl, nr) = (ls.iter().product(), rs.iter().product());
        let x = random_bytes(&mut rng, nl);
        let y = random_bytes(&mut rng, nr);
        let xt = Tensor::new(&ls, Buf::I8(x.iter().map(|&v| v as i8).collect())).expect("lhs");
        let yt = Tensor::new(&rs, Buf::I8(y.iter().map(|&v| v as i8).collect())).expect("rhs");
        let zp = |rng: &mut Rng| [-128i64, 127, 0, rng.below(256) as i64 - 128][rng.below(4)];
        for (out_i32, const_rhs) in [(false, true), (false, false), (true, false), (true, true)] {
            let q = |s: f32, z: i64| Some(QuantParams::per_tensor(s, z));
            let (lq, rq) = (q(0.02, zp(&mut rng)), q(0.01, zp(&mut rng)));
            let out = if out_i32 {
                tensor(DType::I32, &os, None, None)
            } else {
                tensor(
                    DType::I8,
                    &os,
                    q(0.05 + rng.unit_f32().abs(), zp(&mut rng)),
                    None,
                )
            };
            let rhs_data = const_rhs.then(|| y.clone());
            let tensors = vec![
                tensor(DType::I8, &ls, lq, None),
                tensor(DType::I8, &rs, rq, rhs_data),
                out,
            ];
            let model = one_op_model(bmm_op(adj_x, adj_y, false), tensors, vec![0, 1], vec![2]);
            let inputs = if const_rhs {
                vec![xt.clone()]
            } else {
                vec![xt.clone(), yt.clone()]
            };
            let what =
                format!("bmm {ls:?} x {rs:?} adj {adj_x} {adj_y} i32 {out_i32} const {const_rhs}");
            compare(&gpu, &model, &inputs, &what);
            // Odd tiles once per case (each tile set is a pipeline to compile).
            if out_i32 == const_rhs {
                let tiles = ODD[ci % ODD.len()];
                with_tiles(tiles, || {
                    compare(&gpu, &model, &inputs, &format!("{what} {tiles:?}"))
                });
            }
        }
    }
}

#[test]
fn hybrid_and_float_batch_matmul_equal_the_reference() {
    let Some(gpu) = gpu("hybrid_and_float_batch_matmul_equal_the_reference") else {
        return;
    };
    let mut rng = Rng(0xb8f);
    for (ci, (ls, rs, adj_x, adj_y)) in cases().into_iter().enumerate() {
        let os = out_shape(&ls, &rs, adj_x, adj_y);
        let (nl, nr) = (ls.iter().product(), rs.iter().product());
        let x: Vec<f32> = (0..nl).map(|_| rng.unit_f32() * 2.0).collect();
        let xt = Tensor::from_f32(&ls, &x).expect("lhs");
        let tiles = ODD[ci % ODD.len()];
        // float32, constant and run-time RHS.
        let y: Vec<f32> = (0..nr).map(|_| rng.unit_f32()).collect();
        let yb: Vec<u8> = y.iter().flat_map(|v| v.to_le_bytes()).collect();
        for const_rhs in [true, false] {
            let tensors = vec![
                tensor(DType::F32, &ls, None, None),
                tensor(DType::F32, &rs, None, const_rhs.then(|| yb.clone())),
                tensor(DType::F32, &os, None, None),
            ];
            let model = one_op_model(bmm_op(adj_x, adj_y, false), tensors, vec![0, 1], vec![2]);
            let inputs = if const_rhs {
                vec![xt.clone()]
            } else {
                vec![xt.clone(), Tensor::from_f32(&rs, &y).expect("rhs")]
            };
            let what = format!("float bmm {ls:?} x {rs:?} adj {adj_x} {adj_y} const {const_rhs}");
            compare(&gpu, &model, &inputs, &what);
            with_tiles(tiles, || {
                compare(&gpu, &model, &inputs, &format!("{what} {tiles:?}"))
            });
        }
        // Hybrid: constant int8 RHS, per-tensor scale, symmetric and asymmetric rows.
        if rs.len() == 5 && rs[0] > 1 {
            continue; // refused by the reference (row sums TFLite leaves uncomputed)
        }
        let w: Vec<u8> = (0..nr)
            .map(|_| (rng.below(255) as i32 - 127) as i8 as u8)
            .collect();
        for asym in [false, true] {
            let tensors = vec![
                tensor(DType::F32, &ls, None, None),
                tensor(
                    DType::I8,
                    &rs,
                    Some(QuantParams::per_tensor(0.02, 0)),
                    Some(w.clone()),
                ),
                tensor(DType::F32, &os, None, None),
            ];
            let model = one_op_model(bmm_op(adj_x, adj_y, asym), tensors, vec![0, 1], vec![2]);
            let what = format!("hybrid bmm {ls:?} x {rs:?} adj {adj_x} {adj_y} asym {asym}");
            compare(&gpu, &model, std::slice::from_ref(&xt), &what);
            with_tiles(tiles, || {
                compare(
                    &gpu,
                    &model,
                    std::slice::from_ref(&xt),
                    &format!("{what} {tiles:?}"),
                )
            });
        }
    }
}
