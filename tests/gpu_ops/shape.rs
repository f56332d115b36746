//! TRANSPOSE, SLICE, STRIDED_SLICE, PAD, PADV2 and CONCATENATION against the reference, over
//! every element size (8-bit packed, 16-bit, 32-bit, int64, bool).

use litequant::model::{Activation, DType, Op, StridedSliceOptions};

use super::{check, engine, i32_bytes, one_op, random_quant, tensor, Ran, Rng};

const TYPES: [DType; 8] = [
    DType::I8,
    DType::U8,
    DType::F32,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::Bool,
    DType::F16,
];

fn random_shape(rng: &mut Rng, rank: usize) -> Vec<usize> {
    (0..rank).map(|_| rng.range(1, 6) as usize).collect()
}

#[test]
fn transpose_matches_the_reference() {
    let Some(engine) = engine("transpose_matches_the_reference") else {
        return;
    };
    let mut rng = Rng(11);
    for case in 0..32 {
        let dtype = TYPES[case % TYPES.len()];
        let rank = rng.range(1, 5) as usize;
        let shape = random_shape(&mut rng, rank);
        let mut perm: Vec<i32> = (0..rank as i32).collect();
        for i in (1..rank).rev() {
            perm.swap(i, rng.range(0, i as i64) as usize);
        }
        let out: Vec<usize> = perm.iter().map(|&p| shape[p as usize]).collect();
        let q = random_quant(&mut rng, dtype);
        let model = one_op(
            Op::Transpose,
            vec![
                tensor(dtype, &shape, q, None),
                tensor(DType::I32, &[rank], None, Some(i32_bytes(&perm))),
                tensor(dtype, &out, q, None),
            ],
            2,
        );
        let what = format!("transpose case {case} {dtype} {shape:?} perm {perm:?}");
        assert_eq!(
            check(&engine, &mut rng, &model, &what),
            Ran::Agree,
            "{what}"
        );
    }
}

#[test]
fn slice_matches_the_reference() {
    let Some(engine) = engine("slice_matches_the_reference") else {
        return;
    };
    let mut rng = Rng(12);
    for case in 0..32 {
        let dtype = TYPES[case % TYPES.len()];
        let rank = rng.range(1, 4) as usize;
        let shape = random_shape(&mut rng, rank);
        let begin: Vec<i32> = shape
            .iter()
            .map(|&d| rng.range(0, d as i64 - 1) as i32)
            .collect();
        let size: Vec<i32> = shape
            .iter()
            .zip(&begin)
            .map(|(&d, &b)| {
                if rng.next() % 4 == 0 {
                    -1
                } else {
                    rng.range(1, d as i64 - b as i64) as i32
                }
            })
            .collect();
        let out: Vec<usize> = (0..rank)
            .map(|i| {
                if size[i] < 0 {
                    shape[i] - begin[i] as usize
                } else {
                    size[i] as usize
                }
            })
            .collect();
        let q = random_quant(&mut rng, dtype);
        let model = one_op(
            Op::Slice,
            vec![
                tensor(dtype, &shape, q, None),
                tensor(DType::I32, &[rank], None, Some(i32_bytes(&begin))),
                tensor(DType::I32, &[rank], None, Some(i32_bytes(&size))),
                tensor(dtype, &out, q, None),
            ],
            3,
        );
        let what = format!("slice case {case} {dtype} {shape:?} begin {begin:?} size {size:?}");
        assert_eq!(
            check(&engine, &mut rng, &model, &what),
            Ran::Agree,
            "{what}"
        );
    }
}

/// The output extent of one strided-slice axis (no ellipsis / new axis), or `None` when the
/// axis is shrunk.
fn strided_extent(
    d: i32,
    b: i32,
    e: i32,
    s: i32,
    bm: bool,
    em: bool,
    shrink: bool,
) -> Option<usize> {
    let clamp = |v: i32| {
        let v = if v < 0 { v + d } else { v };
        if s > 0 {
            v.clamp(0, d)
        } else {
            v.clamp(-1, d - 1)
        }
    };
    let begin = if bm {
        if s > 0 {
            0
        } else {
            d - 1
        }
    } else {
        clamp(b)
    };
    if shrink {
        return None;
    }
    let end = if em {
        if s > 0 {
            d
        } else {
            -1
        }
    } else {
        clamp(e)
    };
    let n = if s > 0 {
        (end - begin + s - 1) / s
    } else {
        (begin - end - s - 1) / -s
    };
    Some(n.max(0) as usize)
}

#[test]
fn strided_slice_matches_the_reference() {
    let Some(engine) = engine("strided_slice_matches_the_reference") else {
        return;
    };
    let mut rng = Rng(13);
    let mut agreed = 0;
    for case in 0..80 {
        let dtype = TYPES[case % TYPES.len()];
        let rank = rng.range(1, 4) as usize;
        let shape = random_shape(&mut rng, rank);
        let (mut b, mut e, mut s) = (Vec::new(), Vec::new(), Vec::new());
        for &d in &shape {
            let d = d as i64;
            b.push(rng.range(-d, d - 1) as i32);
            e.push(rng.range(-d, d) as i32);
            s.push(rng.pick(&[-3, -2, -1, 1, 1, 2, 3]));
        }
        let bm = (rng.next() % (1 << rank)) as i32;
        let em = (rng.next() % (1 << rank)) as i32;
        let shrink = if rng.next() % 3 == 0 {
            1 << rng.range(0, rank as i64 - 1)
        } else {
            0
        };
        // A shrunk axis takes one element going forward (the reference refuses others).
        for (i, s) in s.iter_mut().enumerate() {
            if shrink >> i & 1 == 1 {
                *s = 1;
            }
        }
        let out: Vec<usize> = (0..rank)
            .filter_map(|i| {
                let bit = |m: i32| m >> i & 1 == 1;
                strided_extent(
                    shape[i] as i32,
                    b[i],
                    e[i],
                    s[i],
                    bit(bm),
                    bit(em),
                    bit(shrink),
                )
            })
            .collect();
        if out.iter().product::<usize>() == 0 {
            continue;
        }
        let o = StridedSliceOptions {
            begin_mask: bm,
            end_mask: em,
            ellipsis_mask: 0,
            new_axis_mask: 0,
            shrink_axis_mask: shrink,
            offset: false,
        };
        let q = random_quant(&mut rng, dtype);
        let model = one_op(
            Op::StridedSlice(o),
            vec![
                tensor(dtype, &shape, q, None),
                tensor(DType::I32, &[rank], None, Some(i32_bytes(&b))),
                tensor(DType::I32, &[rank], None, Some(i32_bytes(&e))),
                tensor(DType::I32, &[rank], None, Some(i32_bytes(&s))),
                tensor(dtype, &out, q, None),
            ],
            4,
        );
        let what = format!(
            "strided slice case {case} {dtype} {shape:?} b {b:?} e {e:?} s {s:?} masks {bm} {em} {shrink}"
        );
        match check(&engine, &mut rng, &model, &what) {
            Ran::Agree => agreed += 1,
            Ran::Refused => eprintln!("refused: {what}"),
        }
    }
    assert!(agreed >= 35, "only {agreed} strided slice cases ran");
}

#[test]
fn pad_and_padv2_match_the_reference() {
    let Some(engine) = engine("pad_and_padv2_match_the_reference") else {
        return;
    };
    let mut rng = Rng(14);
    for case in 0..40 {
        let dtype = TYPES[case % TYPES.len()];
        let rank = rng.range(1, 4) as usize;
        let shape = random_shape(&mut rng, rank);
        let pads: Vec<i32> = (0..2 * rank).map(|_| rng.range(0, 3) as i32).collect();
        let out: Vec<usize> = (0..rank)
            .map(|d| shape[d] + (pads[2 * d] + pads[2 * d + 1]) as usize)
            .collect();
        let q = random_quant(&mut rng, dtype);
        let mut tensors = vec![
            tensor(dtype, &shape, q, None),
            tensor(DType::I32, &[rank, 2], None, Some(i32_bytes(&pads))),
        ];
        // PAD; PADV2 with a constant pad value; PADV2 with the pad value a model input.
        let kind = case % 3;
        if kind > 0 {
            let v = super::random_tensor(&mut rng, dtype, &[1]);
            let data = (kind == 1).then(|| v.buf().to_le_bytes());
            tensors.push(tensor(dtype, &[1], q, data));
        }
        let n = tensors.len();
        tensors.push(tensor(dtype, &out, q, None));
        let op = if kind == 0 { Op::Pad } else { Op::PadV2 };
        let model = one_op(op, tensors, n);
        let what = format!("pad case {case} kind {kind} {dtype} {shape:?} pads {pads:?} {q:?}");
        assert_eq!(
            check(&engine, &mut rng, &model, &what),
            Ran::Agree,
            "{what}"
        );
    }
}

#[test]
fn concatenation_matches_the_reference() {
    let Some(engine) = engine("concatenation_matches_the_reference") else {
        return;
    };
    let mut rng = Rng(15);
    for case in 0..40 {
        let dtype = TYPES[case % TYPES.len()];
        let rank = rng.range(1, 4) as usize;
        let shape = random_shape(&mut rng, rank);
        let axis = rng.range(0, rank as i64 - 1) as usize;
        let n = rng.range(1, 4) as usize;
        let q = random_quant(&mut rng, dtype);
        let mut tensors = Vec::new();
        let mut out = shape.clone();
        out[axis] = 0;
        for _ in 0..n {
            let mut s = shape.clone();
            s[axis] = rng.range(1, 5) as usize;
            out[axis] += s[axis];
            // uint8 inputs may carry their own parameters (the requantizing path).
            let qi = if dtype == DType::U8 && rng.next() % 2 == 0 {
                random_quant(&mut rng, dtype)
            } else {
                q
            };
            tensors.push(tensor(dtype, &s, qi, None));
        }
        tensors.push(tensor(dtype, &out, q, None));
        let neg = rng.next() % 2 == 0;
        let axis_opt = if neg {
            axis as i32 - rank as i32
        } else {
            axis as i32
        };
        let model = one_op(
            Op::Concatenation {
                axis: axis_opt,
                activation: Activation::None,
            },
            tensors,
            n,
        );
        let what =
            format!("concat case {case} {dtype} {shape:?} axis {axis_opt} n {n} out {out:?}");
        assert_eq!(
            check(&engine, &mut rng, &model, &what),
            Ran::Agree,
            "{what}"
        );
    }
}
