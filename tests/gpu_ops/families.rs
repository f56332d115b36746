//! Pooling, MEAN, SOFTMAX and resize against the reference, and every op of these families
//! and of the shape ops cut out of the int8 fixture models.

use litequant::model::{
    Activation, DType, Model, Op, Padding, Pool2DOptions, ResizeOptions, Subgraph,
};

use super::{check, engine, i32_bytes, one_op, random_quant, tensor, Ran, Rng};

const INT_TYPES: [DType; 4] = [DType::F32, DType::I8, DType::U8, DType::I16];

#[test]
fn pooling_matches_the_reference() {
    let Some(engine) = engine("pooling_matches_the_reference") else {
        return;
    };
    let mut rng = Rng(101);
    let mut agreed = 0;
    for case in 0..48 {
        let dtype = INT_TYPES[case % 4];
        let shape = [
            rng.range(1, 2) as usize,
            rng.range(1, 9) as usize,
            rng.range(1, 9) as usize,
            rng.range(1, 7) as usize,
        ];
        let o = Pool2DOptions {
            padding: rng.pick(&[Padding::Same, Padding::Valid]),
            stride_w: rng.range(1, 3) as i32,
            stride_h: rng.range(1, 3) as i32,
            filter_w: rng.range(1, 4) as i32,
            filter_h: rng.range(1, 4) as i32,
            activation: rng.pick(&[Activation::None, Activation::Relu, Activation::Relu6]),
        };
        let out = |n: usize, f: i32, s: i32| match o.padding {
            Padding::Valid => (n as i64 - f as i64 + s as i64) / s as i64,
            _ => (n as i64 + s as i64 - 1) / s as i64,
        };
        let (oh, ow) = (
            out(shape[1], o.filter_h, o.stride_h),
            out(shape[2], o.filter_w, o.stride_w),
        );
        if oh <= 0 || ow <= 0 {
            continue;
        }
        let q = random_quant(&mut rng, dtype);
        let out_shape = [shape[0], oh as usize, ow as usize, shape[3]];
        let op = if case % 8 < 4 {
            Op::AveragePool2D(o.clone())
        } else {
            Op::MaxPool2D(o.clone())
        };
        let model = one_op(
            op,
            vec![
                tensor(dtype, &shape, q, None),
                tensor(dtype, &out_shape, q, None),
            ],
            1,
        );
        if check(
            &engine,
            &mut rng,
            &model,
            &format!("pool case {case} {dtype} {shape:?} {o:?}"),
        ) == Ran::Agree
        {
            agreed += 1;
        }
    }
    assert!(agreed >= 30, "only {agreed} pooling cases ran");
}

#[test]
fn mean_matches_the_reference() {
    let Some(engine) = engine("mean_matches_the_reference") else {
        return;
    };
    let mut rng = Rng(202);
    let (mut agreed, mut long) = (0, [0; 2]);
    for case in 0..40 {
        let dtype = INT_TYPES[case % 4];
        // Every fifth case long enough for the workgroup-per-output path (>= 256 elements).
        let long_case = case % 5 == 4;
        let rank = if long_case {
            4
        } else {
            rng.range(1, 4) as usize
        };
        let mut shape: Vec<usize> = (0..rank).map(|_| rng.range(1, 7) as usize).collect();
        let n_axes = rng.range(1, rank as i64) as usize;
        let mut axes: Vec<i32> = (0..n_axes)
            .map(|_| {
                let a = rng.range(0, rank as i64 - 1) as i32;
                if rng.next() % 2 == 0 {
                    a - rank as i32
                } else {
                    a
                }
            })
            .collect();
        if long_case {
            shape[1] = rng.range(16, 24) as usize;
            shape[2] = rng.range(16, 24) as usize;
            let choices: [&[i32]; 4] = [&[1, 2], &[2, 1], &[-3, -2], &[1, 2, 3]];
            axes = rng.pick(&choices).to_vec();
        }
        let keep = rng.next() % 2 == 0;
        let resolved: Vec<usize> = axes
            .iter()
            .map(|&a| {
                if a < 0 {
                    (a + rank as i32) as usize
                } else {
                    a as usize
                }
            })
            .collect();
        let out_shape: Vec<usize> = (0..rank)
            .filter_map(|d| match (resolved.contains(&d), keep) {
                (true, true) => Some(1),
                (true, false) => None,
                (false, _) => Some(shape[d]),
            })
            .collect();
        let (qi, qo) = (random_quant(&mut rng, dtype), random_quant(&mut rng, dtype));
        let model = one_op(
            Op::Mean { keep_dims: keep },
            vec![
                tensor(dtype, &shape, qi, None),
                tensor(DType::I32, &[axes.len()], None, Some(i32_bytes(&axes))),
                tensor(dtype, &out_shape, qo, None),
            ],
            2,
        );
        let what =
            format!("mean case {case} {dtype} {shape:?} axes {axes:?} keep {keep} {qi:?}->{qo:?}");
        let count: usize = (0..rank)
            .filter(|d| resolved.contains(d))
            .map(|d| shape[d])
            .product();
        if check(&engine, &mut rng, &model, &what) == Ran::Agree {
            agreed += 1;
            if count >= 256 {
                long[usize::from(dtype != DType::F32)] += 1;
            }
        }
    }
    assert!(agreed >= 30, "only {agreed} mean cases ran");
    // Both long paths (float32, integer) ran.
    assert!(
        long[0] >= 1 && long[1] >= 2,
        "long reductions (f32, int): {long:?}"
    );
}

#[test]
fn softmax_matches_the_reference() {
    let Some(engine) = engine("softmax_matches_the_reference") else {
        return;
    };
    let mut rng = Rng(303);
    let mut agreed = 0;
    let paths = [
        (DType::F32, DType::F32),
        (DType::I8, DType::I8),
        (DType::U8, DType::U8),
        (DType::I8, DType::I16),
        (DType::U8, DType::I16),
    ];
    for case in 0..30 {
        let (di, dout) = paths[case % paths.len()];
        let rank = rng.range(1, 3) as usize;
        let mut shape: Vec<usize> = (0..rank).map(|_| rng.range(1, 5) as usize).collect();
        shape[rank - 1] = rng.pick(&[1, 2, 3, 5, 10, 17, 61, 257]);
        let beta = rng.pick(&[1.0f32, 0.5, 2.0, 1.3]);
        let qi = random_quant(&mut rng, di);
        let qo = match dout {
            DType::I8 => Some((1.0 / 256.0, -128)),
            DType::U8 => Some((1.0 / 256.0, 0)),
            DType::I16 => Some((1.0 / 32768.0, 0)),
            _ => None,
        };
        let model = one_op(
            Op::Softmax { beta },
            vec![tensor(di, &shape, qi, None), tensor(dout, &shape, qo, None)],
            1,
        );
        let what = format!("softmax case {case} {di}->{dout} {shape:?} beta {beta} {qi:?}");
        if check(&engine, &mut rng, &model, &what) == Ran::Agree {
            agreed += 1;
        }
    }
    assert!(agreed >= 20, "only {agreed} softmax cases ran");
}

#[test]
fn resize_matches_the_reference() {
    let Some(engine) = engine("resize_matches_the_reference") else {
        return;
    };
    let mut rng = Rng(404);
    let mut agreed = 0;
    for case in 0..48 {
        let bilinear = case % 2 == 0;
        let dtype = if bilinear {
            [DType::F32, DType::I8, DType::I16, DType::U8][case / 2 % 4]
        } else {
            INT_TYPES[case / 2 % 4]
        };
        let shape = [
            rng.range(1, 2) as usize,
            rng.range(1, 7) as usize,
            rng.range(1, 7) as usize,
            rng.range(1, 5) as usize,
        ];
        let (h, w) = (rng.range(1, 13) as i32, rng.range(1, 13) as i32);
        let (align_corners, half_pixel_centers) =
            rng.pick(&[(false, false), (true, false), (false, true)]);
        let o = ResizeOptions {
            align_corners,
            half_pixel_centers,
        };
        let q = random_quant(&mut rng, dtype);
        let op = if bilinear {
            Op::ResizeBilinear(o.clone())
        } else {
            Op::ResizeNearestNeighbor(o.clone())
        };
        let out_shape = [shape[0], h as usize, w as usize, shape[3]];
        let model = one_op(
            op,
            vec![
                tensor(dtype, &shape, q, None),
                tensor(DType::I32, &[2], None, Some(i32_bytes(&[h, w]))),
                tensor(dtype, &out_shape, q, None),
            ],
            2,
        );
        let what =
            format!("resize case {case} bilinear {bilinear} {dtype} {shape:?} -> {h}x{w} {o:?}");
        if check(&engine, &mut rng, &model, &what) == Ran::Agree {
            agreed += 1;
        }
    }
    assert!(agreed >= 40, "only {agreed} resize cases ran");
}

/// A row the reference refuses at run time (600 equal maxima: the sum of exponentials
/// needs a shift past 31 for an 8-bit output). The device flags it and the GPU run fails
/// as the reference's does, naming the op; a later run with good rows succeeds and equals
/// the reference (the flag is cleared per run).
#[test]
fn softmax_rows_the_reference_refuses_fail_the_gpu_run_too() {
    let Some(engine) = engine("softmax_rows_the_reference_refuses_fail_the_gpu_run_too") else {
        return;
    };
    use litequant::{Engine as _, Session as _, Tensor};
    let model = one_op(
        Op::Softmax { beta: 1.0 },
        vec![
            tensor(DType::I8, &[2, 600], Some((0.05, 0)), None),
            tensor(DType::I8, &[2, 600], Some((1.0 / 256.0, -128)), None),
        ],
        1,
    );
    // Row 0 all equal (refused); row 1 one clear maximum (fine).
    let mut x = vec![7i8; 1200];
    for v in &mut x[600..] {
        *v = -100;
    }
    x[600 + 17] = 127;
    let x = Tensor::from_i8(&[2, 600], &x).unwrap();
    let mut reference = litequant::ReferenceEngine.prepare(&model).unwrap();
    let want = reference
        .run(std::slice::from_ref(&x))
        .unwrap_err()
        .to_string();
    let mut gpu = engine.prepare(&model).unwrap();
    let got = gpu.run(std::slice::from_ref(&x)).unwrap_err();
    assert!(matches!(got, litequant::Error::Unsupported(_)), "{got}");
    let got = got.to_string();
    assert!(
        got.contains("operator 0 (SOFTMAX)") && got.contains("shift"),
        "{got}"
    );
    assert!(want.contains("SOFTMAX"), "{want}");
    // Both rows fine: the same session runs and equals the reference.
    let mut ok = x.as_i8().unwrap().to_vec();
    ok[3] = 127;
    let ok = Tensor::from_i8(&[2, 600], &ok).unwrap();
    assert_eq!(
        gpu.run(std::slice::from_ref(&ok)).unwrap(),
        reference.run(&[ok]).unwrap()
    );
}

/// uint8 bilinear is computed in float32 by the reference and truncated: the GPU repeats the
/// float operations in soft float, so every input byte value and every tap agree bit for bit.
#[test]
fn uint8_bilinear_equals_the_reference_on_every_byte_value() {
    let Some(engine) = engine("uint8_bilinear_equals_the_reference_on_every_byte_value") else {
        return;
    };
    use litequant::{Engine as _, Session as _, Tensor};
    let q = Some((0.1, 3));
    for (align_corners, half_pixel_centers) in [(false, false), (true, false), (false, true)] {
        for (h, w) in [(5, 5), (16, 13), (2, 31)] {
            let model = one_op(
                Op::ResizeBilinear(ResizeOptions {
                    align_corners,
                    half_pixel_centers,
                }),
                vec![
                    tensor(DType::U8, &[1, 4, 8, 8], q, None),
                    tensor(DType::I32, &[2], None, Some(i32_bytes(&[h, w]))),
                    tensor(DType::U8, &[1, h as usize, w as usize, 8], q, None),
                ],
                2,
            );
            // Every byte value, in an order that puts different values side by side.
            let x: Vec<u8> = (0..256u32).map(|i| (i * 151 % 256) as u8).collect();
            let x = Tensor::from_u8(&[1, 4, 8, 8], &x).unwrap();
            let want = litequant::ReferenceEngine
                .prepare(&model)
                .unwrap()
                .run(std::slice::from_ref(&x))
                .unwrap();
            let got = engine.prepare(&model).unwrap().run(&[x]).unwrap();
            assert_eq!(
                got, want,
                "uint8 bilinear {h}x{w} align {align_corners} half {half_pixel_centers}"
            );
        }
    }
}

/// The op families of this file and of the shape ops, as named in the fixture manifests.
pub const FAMILY_OPS: &[&str] = &[
    "AVERAGE_POOL_2D",
    "MAX_POOL_2D",
    "MEAN",
    "SOFTMAX",
    "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR",
    "CONCATENATION",
    "PAD",
    "PADV2",
    "STRIDED_SLICE",
    "SLICE",
    "TRANSPOSE",
];

/// Operator `i` of `model` alone: its tensors (constants kept), its non-constant inputs as
/// the model's inputs.
pub fn cut(model: &Model, i: usize) -> Model {
    let sg = model.main();
    let op = &sg.operators[i];
    let mut used: Vec<usize> = op.input_tensors().chain(op.output_tensors()).collect();
    used.dedup();
    let index = |t: i32| -> i32 {
        if t < 0 {
            t
        } else {
            used.iter().position(|&u| u == t as usize).unwrap() as i32
        }
    };
    let mut op2 = op.clone();
    op2.inputs = op.inputs.iter().map(|&t| index(t)).collect();
    op2.outputs = op.outputs.iter().map(|&t| index(t)).collect();
    let tensors: Vec<_> = used.iter().map(|&t| sg.tensors[t].clone()).collect();
    let inputs = op
        .input_tensors()
        .filter(|&t| sg.tensors[t].data.is_none())
        .map(|t| index(t as i32) as usize)
        .collect();
    let outputs = op
        .output_tensors()
        .map(|t| index(t as i32) as usize)
        .collect();
    let mut m = model.clone();
    m.subgraphs = vec![Subgraph {
        name: None,
        tensors,
        inputs,
        outputs,
        operators: vec![op2],
        debug_metadata_index: -1,
    }];
    m.signature_defs.clear();
    m
}

#[test]
fn fixture_ops_on_random_inputs_match_the_reference() {
    let Some(engine) = engine("fixture_ops_on_random_inputs_match_the_reference") else {
        return;
    };
    let mut rng = Rng(505);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
        .collect();
    names.sort();
    let (mut agreed, mut seen) = (0, Vec::new());
    for path in names {
        let model = Model::from_file(&path).unwrap();
        for (i, op) in model.main().operators.iter().enumerate() {
            let name = op.op.name();
            if !FAMILY_OPS.contains(&name.as_str()) {
                continue;
            }
            let one = cut(&model, i);
            let what = format!("{} op {i} ({name})", path.display());
            for _ in 0..2 {
                if check(&engine, &mut rng, &one, &what) == Ran::Agree {
                    agreed += 1;
                }
            }
            seen.push(name);
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), FAMILY_OPS.len(), "families seen: {seen:?}");
    assert!(agreed >= 100, "only {agreed} fixture op runs agreed");
}
