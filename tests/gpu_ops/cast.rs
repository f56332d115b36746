//! CAST on the GPU against the reference, bit for bit, for every pair of the eight dtypes
//! the engines hold, on edge values (NaN, ±infinity, values past every integer range,
//! float16 ties and subnormals, int64 extremes) and random ones.

use litequant::model::{DType, Op};
use litequant::{Buf, Engine, ReferenceEngine, Session, Tensor};

use super::{engine, one_op, random_tensor, tensor, Rng};

const TYPES: [DType; 8] = [
    DType::F32,
    DType::F16,
    DType::I8,
    DType::U8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::Bool,
];

/// Edge values of `dtype` followed by random ones: `n` in all.
fn edge_tensor(rng: &mut Rng, dtype: DType, n: usize) -> Tensor {
    let random = random_tensor(rng, dtype, &[n]);
    let buf = match (dtype, random.buf()) {
        (DType::F32, Buf::F32(r)) => {
            let mut v = vec![
                f32::NAN,
                -f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                0.0,
                -0.0,
                1e-45,
                -2.5,
                2.5,
                127.5,
                -128.9,
                255.9,
                -0.99,
                32767.5,
                -32769.0,
                2147483520.0,
                2147483648.0,
                -2147483648.0,
                -2147483904.0,
                9.223372e18,
                -9.223373e18,
                1e20,
                65504.0,
                65519.99,
                65520.0,
                2f32.powi(-25),
                1.5 * 2f32.powi(-24),
                6.1e-5,
                200.7,
                3e9,
            ];
            v.extend_from_slice(&r[..n - v.len()]);
            Buf::F32(v)
        }
        (DType::F16, Buf::F16(r)) => {
            let mut v = vec![
                0x7e00, 0xfe00, 0x7c00, 0xfc00, 0x7bff, 0xfbff, 0x0001, 0x8000,
            ];
            v.extend_from_slice(&r[..n - v.len()]);
            Buf::F16(v)
        }
        (DType::I64, Buf::I64(r)) => {
            let mut v = vec![
                i64::MIN,
                i64::MAX,
                -1,
                0,
                1 << 40,
                (1 << 24) + 1,
                -(1 << 53) - 1,
                255,
                256,
                -129,
                0x1_0000_8000,
            ];
            v.extend_from_slice(&r[..n - v.len()]);
            Buf::I64(v)
        }
        (DType::I32, Buf::I32(r)) => {
            let mut v = vec![
                i32::MIN,
                i32::MAX,
                -1,
                0,
                16777217,
                -16777219,
                255,
                256,
                -129,
            ];
            v.extend_from_slice(&r[..n - v.len()]);
            Buf::I32(v)
        }
        (_, b) => b.clone(),
    };
    Tensor::new(&[n], buf).unwrap()
}

#[test]
fn cast_matches_the_reference_on_every_pair() {
    let Some(engine) = engine("cast_matches_the_reference_on_every_pair") else {
        return;
    };
    let mut rng = Rng(59);
    let n = 67; // not a multiple of 4: packed words end mid-word
    for &from in &TYPES {
        for &to in &TYPES {
            let model = one_op(
                Op::Cast {
                    in_data_type: from,
                    out_data_type: to,
                },
                vec![tensor(from, &[n], None, None), tensor(to, &[n], None, None)],
                1,
            );
            let x = edge_tensor(&mut rng, from, n);
            let want = ReferenceEngine
                .prepare(&model)
                .unwrap()
                .run(std::slice::from_ref(&x))
                .unwrap();
            let got = engine
                .prepare(&model)
                .unwrap_or_else(|e| panic!("{from} -> {to}: {e}"))
                .run(&[x])
                .unwrap();
            let (g, w) = (got[0].buf().to_le_bytes(), want[0].buf().to_le_bytes());
            assert_eq!(g.len(), w.len(), "{from} -> {to}");
            let size = g.len() / n;
            for i in 0..n {
                assert_eq!(
                    g[i * size..(i + 1) * size],
                    w[i * size..(i + 1) * size],
                    "{from} -> {to}: element {i}"
                );
            }
        }
    }
}
