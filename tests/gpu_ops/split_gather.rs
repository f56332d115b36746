//! SPLIT, SPLIT_V, UNPACK, PACK, GATHER and EXPAND_DIMS against the reference, over every
//! element size each op's TFLite kernel takes; GATHER with run-time indices, in and out of
//! bounds, on both engines.

use litequant::model::{DType, Op};
use litequant::{Buf, Engine, ReferenceEngine, Session, Tensor};

use super::{check, engine, i32_bytes, one_op, random_quant, random_tensor, tensor, Ran, Rng};

fn random_shape(rng: &mut Rng, rank: usize) -> Vec<usize> {
    (0..rank).map(|_| rng.range(1, 5) as usize).collect()
}

fn agree(engine: &litequant::gpu::GpuEngine, rng: &mut Rng, model: &litequant::Model, what: &str) {
    assert_eq!(check(engine, rng, model, what), Ran::Agree, "{what}");
}

#[test]
fn split_and_split_v_match_the_reference() {
    let Some(engine) = engine("split_and_split_v_match_the_reference") else {
        return;
    };
    let mut rng = Rng(41);
    let split_types = [DType::F32, DType::U8, DType::I8, DType::I16, DType::I32];
    let split_v_types = [
        DType::F32,
        DType::U8,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
    ];
    for case in 0..36 {
        let rank = rng.range(1, 4) as usize;
        let mut shape = random_shape(&mut rng, rank);
        let axis = rng.range(0, rank as i64 - 1) as usize;
        let n = rng.range(1, 4) as usize;
        let axis_opt = if rng.next() % 2 == 0 {
            axis as i32
        } else {
            axis as i32 - rank as i32
        };
        if case % 2 == 0 {
            let dtype = split_types[case / 2 % split_types.len()];
            shape[axis] = n * rng.range(1, 3) as usize;
            let q = random_quant(&mut rng, dtype);
            let mut out = shape.clone();
            out[axis] /= n;
            let mut tensors = vec![
                tensor(DType::I32, &[], None, Some(i32_bytes(&[axis_opt]))),
                tensor(dtype, &shape, q, None),
            ];
            tensors.extend((0..n).map(|_| tensor(dtype, &out, q, None)));
            let model = one_op(
                Op::Split {
                    num_splits: n as i32,
                },
                tensors,
                2,
            );
            let what = format!("split case {case} {dtype} {shape:?} axis {axis_opt} n {n}");
            agree(&engine, &mut rng, &model, &what);
        } else {
            let dtype = split_v_types[case / 2 % split_v_types.len()];
            let sizes: Vec<i32> = (0..n).map(|_| rng.range(1, 3) as i32).collect();
            shape[axis] = sizes.iter().sum::<i32>() as usize;
            let q = random_quant(&mut rng, dtype);
            // One size as -1 (the rest of the axis) in half the cases.
            let mut given = sizes.clone();
            if rng.next() % 2 == 0 {
                given[rng.range(0, n as i64 - 1) as usize] = -1;
            }
            let mut tensors = vec![
                tensor(dtype, &shape, q, None),
                tensor(DType::I32, &[n], None, Some(i32_bytes(&given))),
                tensor(DType::I32, &[1], None, Some(i32_bytes(&[axis_opt]))),
            ];
            for &d in &sizes {
                let mut out = shape.clone();
                out[axis] = d as usize;
                tensors.push(tensor(dtype, &out, q, None));
            }
            let model = one_op(
                Op::SplitV {
                    num_splits: n as i32,
                },
                tensors,
                3,
            );
            let what = format!("split_v case {case} {dtype} {shape:?} axis {axis_opt} {given:?}");
            agree(&engine, &mut rng, &model, &what);
        }
    }
}

#[test]
fn pack_unpack_and_expand_dims_match_the_reference() {
    let Some(engine) = engine("pack_unpack_and_expand_dims_match_the_reference") else {
        return;
    };
    let mut rng = Rng(43);
    let pack_types = [
        DType::F32,
        DType::U8,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
    ];
    let unpack_types = [
        DType::F32,
        DType::F16,
        DType::U8,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::Bool,
    ];
    for case in 0..42 {
        let rank = rng.range(1, 4) as usize;
        let shape = random_shape(&mut rng, rank);
        match case % 3 {
            0 => {
                let dtype = pack_types[case / 3 % pack_types.len()];
                let n = rng.range(1, 4) as usize;
                let axis = rng.range(0, rank as i64) as usize;
                let q = random_quant(&mut rng, dtype);
                let mut out = shape.clone();
                out.insert(axis, n);
                let mut tensors: Vec<_> = (0..n).map(|_| tensor(dtype, &shape, q, None)).collect();
                tensors.push(tensor(dtype, &out, q, None));
                let op = Op::Pack {
                    values_count: n as i32,
                    axis: axis as i32,
                };
                let what = format!("pack case {case} {dtype} {shape:?} axis {axis} n {n}");
                agree(&engine, &mut rng, &one_op(op, tensors, n), &what);
            }
            1 => {
                let dtype = unpack_types[case / 3 % unpack_types.len()];
                let axis = rng.range(0, rank as i64 - 1) as usize;
                let q = random_quant(&mut rng, dtype);
                let mut out = shape.clone();
                let n = out.remove(axis);
                let mut tensors = vec![tensor(dtype, &shape, q, None)];
                tensors.extend((0..n).map(|_| tensor(dtype, &out, q, None)));
                let op = Op::Unpack {
                    num: n as i32,
                    axis: axis as i32 - rank as i32,
                };
                let what = format!("unpack case {case} {dtype} {shape:?} axis {axis}");
                agree(&engine, &mut rng, &one_op(op, tensors, 1), &what);
            }
            _ => {
                let dtype = unpack_types[case / 3 % unpack_types.len()];
                let axis = rng.range(-(rank as i64) - 1, rank as i64);
                let a = if axis < 0 {
                    axis + rank as i64 + 1
                } else {
                    axis
                } as usize;
                let q = random_quant(&mut rng, dtype);
                let mut out = shape.clone();
                out.insert(a, 1);
                let tensors = vec![
                    tensor(dtype, &shape, q, None),
                    tensor(DType::I32, &[], None, Some(i32_bytes(&[axis as i32]))),
                    tensor(dtype, &out, q, None),
                ];
                let what = format!("expand_dims case {case} {dtype} {shape:?} axis {axis}");
                agree(
                    &engine,
                    &mut rng,
                    &one_op(Op::ExpandDims, tensors, 2),
                    &what,
                );
            }
        }
    }
}

/// Little-endian bytes of `v` as `dtype` (int16, int32 or int64 indices).
fn index_bytes(dtype: DType, v: &[i64]) -> Vec<u8> {
    match dtype {
        DType::I16 => v.iter().flat_map(|&x| (x as i16).to_le_bytes()).collect(),
        DType::I32 => v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect(),
        _ => v.iter().flat_map(|&x| x.to_le_bytes()).collect(),
    }
}

fn index_tensor(dtype: DType, shape: &[usize], v: &[i64]) -> Tensor {
    let buf = match dtype {
        DType::I16 => Buf::I16(v.iter().map(|&x| x as i16).collect()),
        DType::I32 => Buf::I32(v.iter().map(|&x| x as i32).collect()),
        _ => Buf::I64(v.to_vec()),
    };
    Tensor::new(shape, buf).unwrap()
}

/// A GATHER model: params `[shape]`, indices of `idx_shape` (a constant holding `constant`,
/// or a model input), axis and batch_dims.
fn gather_model(
    dtype: DType,
    shape: &[usize],
    idx_type: DType,
    idx_shape: &[usize],
    constant: Option<&[i64]>,
    axis: usize,
    batch_dims: usize,
) -> litequant::Model {
    let mut out: Vec<usize> = shape[..axis].to_vec();
    out.extend_from_slice(&idx_shape[batch_dims..]);
    out.extend_from_slice(&shape[axis + 1..]);
    let q = if dtype == DType::I8 {
        Some((0.05, -3))
    } else {
        None
    };
    let tensors = vec![
        tensor(dtype, shape, q, None),
        tensor(
            idx_type,
            idx_shape,
            None,
            constant.map(|v| index_bytes(idx_type, v)),
        ),
        tensor(dtype, &out, q, None),
    ];
    one_op(
        Op::Gather {
            axis: axis as i32,
            batch_dims: batch_dims as i32,
        },
        tensors,
        2,
    )
}

#[test]
fn gather_matches_the_reference() {
    let Some(engine) = engine("gather_matches_the_reference") else {
        return;
    };
    let mut rng = Rng(47);
    let types = [
        DType::F32,
        DType::F16,
        DType::U8,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::Bool,
    ];
    for case in 0..48 {
        let dtype = types[case % types.len()];
        let idx_type = [DType::I16, DType::I32, DType::I64][case / 3 % 3];
        let rank = rng.range(1, 4) as usize;
        let shape = random_shape(&mut rng, rank);
        let axis = rng.range(0, rank as i64 - 1) as usize;
        let batch_dims = rng.range(0, axis as i64) as usize;
        let mut idx_shape: Vec<usize> = shape[..batch_dims].to_vec();
        let idx_rank = rng.range(0, 2) as usize;
        idx_shape.extend(random_shape(&mut rng, idx_rank));
        let n: usize = idx_shape.iter().product();
        let idx: Vec<i64> = (0..n)
            .map(|_| rng.range(0, shape[axis] as i64 - 1))
            .collect();
        let model = gather_model(
            dtype,
            &shape,
            idx_type,
            &idx_shape,
            Some(&idx),
            axis,
            batch_dims,
        );
        let what = format!(
            "gather case {case} {dtype} {shape:?} axis {axis} batch_dims {batch_dims} \
             {idx_type} indices {idx_shape:?} {idx:?}"
        );
        agree(&engine, &mut rng, &model, &what);
    }
}

#[test]
fn gather_indices_out_of_bounds_fail_the_run_on_both_engines() {
    let Some(engine) = engine("gather_indices_out_of_bounds_fail_the_run_on_both_engines") else {
        return;
    };
    let mut rng = Rng(53);
    for idx_type in [DType::I16, DType::I32, DType::I64] {
        let shape = [2usize, 5, 3];
        let model = gather_model(DType::I8, &shape, idx_type, &[4], None, 1, 0);
        let mut reference = ReferenceEngine.prepare(&model).unwrap();
        let mut gpu = engine.prepare(&model).unwrap();
        let x = random_tensor(&mut rng, DType::I8, &shape);
        // In bounds: equal outputs.
        let ok = index_tensor(idx_type, &[4], &[4, 0, 2, 4]);
        let want = reference.run(&[x.clone(), ok.clone()]).unwrap();
        let got = gpu.run(&[x.clone(), ok]).unwrap();
        assert_eq!(got[0].buf(), want[0].buf(), "{idx_type}");
        // A negative index, one equal to the axis size, and one past 2^32 (int64).
        let mut bad = vec![vec![1, -1, 0, 0], vec![0, 5, 1, 1]];
        if idx_type == DType::I64 {
            bad.push(vec![0, 1, 1 << 32, 2]);
        }
        for b in bad {
            let t = index_tensor(idx_type, &[4], &b);
            let e = reference
                .run(&[x.clone(), t.clone()])
                .unwrap_err()
                .to_string();
            assert!(e.contains("GATHER") && e.contains("out of bounds"), "{e}");
            let e = gpu.run(&[x.clone(), t]).unwrap_err().to_string();
            assert!(e.contains("GATHER") && e.contains("out of bounds"), "{e}");
        }
        // The engines run again after a refused run.
        let ok = index_tensor(idx_type, &[4], &[1, 1, 3, 0]);
        let want = reference.run(&[x.clone(), ok.clone()]).unwrap();
        let got = gpu.run(&[x.clone(), ok]).unwrap();
        assert_eq!(got[0].buf(), want[0].buf(), "{idx_type} after a refusal");
    }
}

#[test]
fn broadcast_to_fill_and_zeros_like_match_the_reference() {
    let Some(engine) = engine("broadcast_to_fill_and_zeros_like_match_the_reference") else {
        return;
    };
    let mut rng = Rng(61);
    let types = [
        DType::F32,
        DType::F16,
        DType::U8,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::Bool,
    ];
    for case in 0..40 {
        let dtype = types[case % types.len()];
        let rank = rng.range(1, 4) as usize;
        let out = random_shape(&mut rng, rank);
        match case % 3 {
            0 => {
                // An input of up to `rank` dims, each 1 or the output's.
                let drop = rng.range(0, rank as i64 - 1) as usize;
                let input: Vec<usize> = out[drop..]
                    .iter()
                    .map(|&d| if rng.next() % 2 == 0 { 1 } else { d })
                    .collect();
                let q = random_quant(&mut rng, dtype);
                let dims: Vec<i32> = out.iter().map(|&d| d as i32).collect();
                let tensors = vec![
                    tensor(dtype, &input, q, None),
                    tensor(DType::I32, &[rank], None, Some(i32_bytes(&dims))),
                    tensor(dtype, &out, q, None),
                ];
                let what = format!("broadcast_to case {case} {dtype} {input:?} -> {out:?}");
                agree(
                    &engine,
                    &mut rng,
                    &one_op(Op::BroadcastTo, tensors, 2),
                    &what,
                );
            }
            1 if !matches!(dtype, DType::U8) => {
                let q = random_quant(&mut rng, dtype);
                let dims: Vec<i32> = out.iter().map(|&d| d as i32).collect();
                let tensors = vec![
                    tensor(DType::I32, &[rank], None, Some(i32_bytes(&dims))),
                    tensor(dtype, &[], q, None),
                    tensor(dtype, &out, q, None),
                ];
                let what = format!("fill case {case} {dtype} {out:?}");
                agree(&engine, &mut rng, &one_op(Op::Fill, tensors, 2), &what);
            }
            _ if matches!(dtype, DType::F32 | DType::I32 | DType::I64) => {
                let tensors = vec![
                    tensor(dtype, &out, None, None),
                    tensor(dtype, &out, None, None),
                ];
                let what = format!("zeros_like case {case} {dtype} {out:?}");
                agree(&engine, &mut rng, &one_op(Op::ZerosLike, tensors, 1), &what);
            }
            _ => {}
        }
    }
}

#[test]
fn a_shape_known_only_at_run_time_is_refused_by_name() {
    // FILL whose dims are a model input: TFLite resizes the output at run time; the engines
    // plan shapes at prepare and refuse, naming the op.
    let model = one_op(
        Op::Fill,
        vec![
            tensor(DType::I32, &[2], None, None),
            tensor(DType::F32, &[], None, Some(1.5f32.to_le_bytes().to_vec())),
            tensor(DType::F32, &[3, 4], None, None),
        ],
        2,
    );
    let e = ReferenceEngine
        .prepare(&model)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("FILL") && e.contains("computed at run time"),
        "{e}"
    );
    if let Some(engine) = engine("a_shape_known_only_at_run_time_is_refused_by_name") {
        let Err(e) = engine.prepare(&model) else {
            panic!("the GPU prepares a FILL of run-time dims");
        };
        let e = e.to_string();
        assert!(
            e.contains("FILL") && e.contains("computed at run time"),
            "{e}"
        );
    }
}

#[test]
fn rescaling_copies_are_refused_where_litert_refuses_them() {
    // LiteRT 2.3.0 (BUILTIN_REF) refuses PACK, UNPACK and EXPAND_DIMS whose input and output
    // scales differ (their Prepare checks) and runs SPLIT, GATHER and BROADCAST_TO alike,
    // copying the bytes (checked on the converter's int8io fixtures with one scale doubled).
    let (a, b) = (Some((0.05f32, -3i64)), Some((0.1f32, -3i64)));
    let pack = one_op(
        Op::Pack {
            values_count: 2,
            axis: 0,
        },
        vec![
            tensor(DType::I8, &[3], a, None),
            tensor(DType::I8, &[3], a, None),
            tensor(DType::I8, &[2, 3], b, None),
        ],
        2,
    );
    let unpack = one_op(
        Op::Unpack { num: 2, axis: 0 },
        vec![
            tensor(DType::I8, &[2, 3], a, None),
            tensor(DType::I8, &[3], b, None),
            tensor(DType::I8, &[3], a, None),
        ],
        1,
    );
    let expand = one_op(
        Op::ExpandDims,
        vec![
            tensor(DType::I8, &[3], a, None),
            tensor(DType::I32, &[], None, Some(i32_bytes(&[0]))),
            tensor(DType::I8, &[1, 3], b, None),
        ],
        2,
    );
    for (m, op) in [
        (&pack, "PACK"),
        (&unpack, "UNPACK"),
        (&expand, "EXPAND_DIMS"),
    ] {
        let Err(e) = ReferenceEngine.prepare(m) else {
            panic!("{op} with rescaling prepares");
        };
        let e = e.to_string();
        assert!(e.contains(op) && e.contains("scale"), "{e}");
    }
    let split = one_op(
        Op::Split { num_splits: 2 },
        vec![
            tensor(DType::I32, &[], None, Some(i32_bytes(&[0]))),
            tensor(DType::I8, &[4], a, None),
            tensor(DType::I8, &[2], b, None),
            tensor(DType::I8, &[2], a, None),
        ],
        2,
    );
    let x = Tensor::new(&[4], Buf::I8(vec![-7, 1, 100, -128])).unwrap();
    let out = ReferenceEngine.prepare(&split).unwrap().run(&[x]).unwrap();
    assert_eq!(out[0].buf(), &Buf::I8(vec![-7, 1]));
    assert_eq!(out[1].buf(), &Buf::I8(vec![100, -128]));
}
