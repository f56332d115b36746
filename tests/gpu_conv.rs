//! CONV_2D and DEPTHWISE_CONV_2D on the GPU against the reference engine: int8 bit for bit,
//! float32 within 1e-4 abs + 1e-4 rel.
//!
//! - Random single-op problems (seeded): sizes that are not tile multiples, strides 1-3,
//!   dilations, SAME/VALID, groups, depth multipliers, batches, input zero points at
//!   -128/127/0, per-channel and per-tensor weight scales, fused activations.
//! - The same problems under odd tile constants (1x3, 3x1, 5x2, ...) and with the scalar
//!   int8 path instead of `dot4I8Packed`, so remainder and fallback paths run.
//! - Every convolution of the op fixtures, cut out as a one-op model and run on the tensors
//!   LiteRT recorded, against LiteRT's recorded output and the reference engine.
//!
//! Skips without an adapter unless `LITEQUANT_REQUIRE_GPU=1` (lavapipe in CI).

use std::sync::Arc;

use litequant::gpu::{self, with_conv_tiles, ConvTiles, GpuEngine};
use litequant::model::{
    self, Activation, Conv2DOptions, DType, DepthwiseConv2DOptions, Op, Operator, Padding,
    QuantParams, Subgraph,
};
use litequant::{Buf, Engine, Model, ReferenceEngine, Session, Tensor};

/// SplitMix64: a seeded source for the problems.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as i64, hi as i64) as usize
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.usize(0, v.len() - 1)]
    }
}

// ---- building one-op models -------------------------------------------------------------

fn tensor(name: &str, dtype: DType, shape: &[usize], quant: Option<QuantParams>) -> model::Tensor {
    let mut t = model::Tensor::new(name, dtype, shape.iter().map(|&d| d as i32).collect());
    t.has_rank = true;
    t.quant = quant;
    t
}

fn constant(mut t: model::Tensor, bytes: Vec<u8>) -> model::Tensor {
    t.data = Some(Arc::from(bytes));
    t
}

fn qp(scale: Vec<f32>, zero_point: Vec<i64>, axis: i32) -> Option<QuantParams> {
    Some(QuantParams {
        scale,
        zero_point,
        quantized_dimension: axis,
        ..Default::default()
    })
}

fn model_of(op: Op, tensors: Vec<model::Tensor>, has_bias: bool) -> Model {
    let version = if tensors[0].dtype == DType::I8 { 3 } else { 1 };
    let out = tensors.len() - 1;
    Model {
        version: 3,
        description: None,
        subgraphs: vec![Subgraph {
            name: None,
            inputs: vec![0],
            outputs: vec![out],
            operators: vec![Operator {
                op,
                version,
                inputs: vec![0, 1, if has_bias { 2 } else { model::OPTIONAL }],
                outputs: vec![out as i32],
                intermediates: vec![],
                mutating_variable_inputs: vec![],
                debug_metadata_index: -1,
                options_omitted: false,
            }],
            tensors,
            debug_metadata_index: -1,
        }],
        metadata: vec![],
        signature_defs: vec![],
        legacy_metadata_buffers: vec![],
        external_buffer_groups: vec![],
        external_buffers: vec![],
    }
}

/// A random convolution (depthwise or not) and one input for it.
struct Problem {
    what: String,
    model: Model,
    input: Tensor,
}

fn le<T: Copy>(v: &[T], f: impl Fn(T) -> Vec<u8>) -> Vec<u8> {
    v.iter().flat_map(|&x| f(x)).collect()
}

/// What a problem's tensors hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int8,
    Float,
    /// float32 input and output, int8 weights (dynamic range).
    Hybrid,
}

fn random_problem(rng: &mut Rng, depthwise: bool, kind: Kind) -> Problem {
    let batches = rng.usize(1, 2);
    let (in_h, in_w) = (rng.usize(1, 11), rng.usize(1, 13));
    let (fh, fw) = (rng.usize(1, 4), rng.usize(1, 4));
    let (sh, sw) = (rng.usize(1, 3), rng.usize(1, 3));
    let (dh, dw) = (rng.pick(&[1, 1, 2, 3]), rng.pick(&[1, 1, 2]));
    // VALID only where the dilated filter fits; SAME always does.
    let fits = (fh - 1) * dh < in_h && (fw - 1) * dw < in_w;
    let padding = if fits && rng.next() % 2 == 0 {
        Padding::Valid
    } else {
        Padding::Same
    };
    let act = rng.pick(&[
        Activation::None,
        Activation::Relu,
        Activation::Relu6,
        Activation::ReluN1To1,
    ]);
    // Hybrid depthwise needs one scale per channel; a grouped hybrid CONV_2D too.
    let per_channel = rng.next() % 3 != 0 || (kind == Kind::Hybrid && depthwise);
    let (in_c, filter_in_c, out_c, mult);
    if depthwise {
        in_c = rng.pick(&[1, 2, 3, 4, 5, 7, 8, 12]);
        mult = rng.pick(&[1, 1, 2, 3]);
        out_c = in_c * mult;
        filter_in_c = 1;
    } else {
        let groups = if kind == Kind::Hybrid && !per_channel {
            1
        } else {
            rng.pick(&[1, 1, 1, 2, 3])
        };
        filter_in_c = rng.pick(&[1, 2, 3, 4, 5, 8, 9, 16, 17]);
        in_c = filter_in_c * groups;
        out_c = groups * rng.pick(&[1, 2, 3, 4, 5, 7, 8, 12, 13]);
        mult = 0;
    }
    let out_h = match padding {
        Padding::Same => in_h.div_ceil(sh),
        _ => (in_h - (fh - 1) * dh - 1) / sh + 1,
    };
    let out_w = match padding {
        Padding::Same => in_w.div_ceil(sw),
        _ => (in_w - (fw - 1) * dw - 1) / sw + 1,
    };
    let in_shape = [batches, in_h, in_w, in_c];
    let filter_shape = if depthwise {
        [1, fh, fw, out_c]
    } else {
        [out_c, fh, fw, filter_in_c]
    };
    let out_shape = [batches, out_h, out_w, out_c];
    let op = if depthwise {
        Op::DepthwiseConv2D(DepthwiseConv2DOptions {
            padding,
            stride_w: sw as i32,
            stride_h: sh as i32,
            depth_multiplier: mult as i32,
            activation: act,
            dilation_w: dw as i32,
            dilation_h: dh as i32,
        })
    } else {
        Op::Conv2D(Conv2DOptions {
            padding,
            stride_w: sw as i32,
            stride_h: sh as i32,
            activation: act,
            dilation_w: dw as i32,
            dilation_h: dh as i32,
            quantized_bias_type: DType::F32,
        })
    };
    let n_in: usize = in_shape.iter().product();
    let n_filter: usize = filter_shape.iter().product();
    let has_bias = rng.next() % 4 != 0;
    let what = format!(
        "{} {:?} in {in_shape:?} filter {filter_shape:?} out {out_shape:?} stride {sh}x{sw} \
         dilation {dh}x{dw} {padding:?} {act:?} bias {has_bias}",
        if depthwise {
            "DEPTHWISE_CONV_2D"
        } else {
            "CONV_2D"
        },
        kind,
    );
    let mut tensors;
    let input;
    let f =
        |rng: &mut Rng, n: usize| -> Vec<f32> { (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect() };
    if kind == Kind::Int8 {
        let any_zp = rng.range(-128, 127);
        let zp_in = rng.pick(&[-128i64, 127, 0, any_zp]);
        let s_in = 0.01 + rng.unit() * 0.1;
        let axis = if depthwise { 3 } else { 0 };
        let scales: Vec<f32> = (0..if per_channel { out_c } else { 1 })
            .map(|_| 0.001 + rng.unit() * 0.02)
            .collect();
        let taps = (fh * fw * filter_in_c) as f32;
        let s_out = s_in * 0.02 * taps.sqrt() * (0.5 + rng.unit() * 40.0);
        let any_zp = rng.range(-128, 127);
        let zp_out = rng.pick(&[-128i64, 127, 0, any_zp]);
        let filter: Vec<i8> = (0..n_filter).map(|_| rng.range(-127, 127) as i8).collect();
        let bias: Vec<i32> = (0..out_c)
            .map(|_| match rng.next() % 8 {
                0 => [i32::MIN / 2, i32::MAX / 2, -1, 0, 1][rng.usize(0, 4)],
                _ => rng.range(-50_000, 50_000) as i32,
            })
            .collect();
        let zeros = vec![0; scales.len()];
        tensors = vec![
            tensor(
                "input",
                DType::I8,
                &in_shape,
                qp(vec![s_in], vec![zp_in], 0),
            ),
            constant(
                tensor("filter", DType::I8, &filter_shape, qp(scales, zeros, axis)),
                le(&filter, |x| vec![x as u8]),
            ),
            constant(
                tensor("bias", DType::I32, &[out_c], qp(vec![1.0], vec![0], 0)),
                le(&bias, |x| x.to_le_bytes().to_vec()),
            ),
            tensor(
                "output",
                DType::I8,
                &out_shape,
                qp(vec![s_out], vec![zp_out], 0),
            ),
        ];
        let x: Vec<i8> = (0..n_in)
            .map(|_| match rng.next() % 6 {
                0 => [-128, 127, zp_in as i8][rng.usize(0, 2)],
                _ => rng.range(-128, 127) as i8,
            })
            .collect();
        input = Tensor::from_i8(&in_shape, &x).unwrap();
    } else if kind == Kind::Hybrid {
        let axis = if depthwise { 3 } else { 0 };
        let scales: Vec<f32> = (0..if per_channel { out_c } else { 1 })
            .map(|_| 0.001 + rng.unit() * 0.02)
            .collect();
        let zeros = vec![0; scales.len()];
        let filter: Vec<i8> = (0..n_filter).map(|_| rng.range(-127, 127) as i8).collect();
        tensors = vec![
            tensor("input", DType::F32, &in_shape, None),
            constant(
                tensor("filter", DType::I8, &filter_shape, qp(scales, zeros, axis)),
                le(&filter, |x| vec![x as u8]),
            ),
            constant(
                tensor("bias", DType::F32, &[out_c], None),
                le(&f(rng, out_c), |x| x.to_le_bytes().to_vec()),
            ),
            tensor("output", DType::F32, &out_shape, None),
        ];
        // Rows of mixed signs, all positive, all negative, or all zero (scale 1, zp 0).
        let per_batch = n_in / batches;
        let mut x = Vec::with_capacity(n_in);
        for _ in 0..batches {
            let (lo, hi) = match rng.next() % 5 {
                0 => (0.0, 3.0),
                1 => (-2.0, -0.5),
                2 => (0.0, 0.0),
                _ => (-1.5, 1.0),
            };
            x.extend((0..per_batch).map(|_| lo + (hi - lo) * rng.unit()));
        }
        input = Tensor::from_f32(&in_shape, &x).unwrap();
    } else {
        let filter = f(rng, n_filter);
        let bias = f(rng, out_c);
        tensors = vec![
            tensor("input", DType::F32, &in_shape, None),
            constant(
                tensor("filter", DType::F32, &filter_shape, None),
                le(&filter, |x| x.to_le_bytes().to_vec()),
            ),
            constant(
                tensor("bias", DType::F32, &[out_c], None),
                le(&bias, |x| x.to_le_bytes().to_vec()),
            ),
            tensor("output", DType::F32, &out_shape, None),
        ];
        input = Tensor::from_f32(&in_shape, &f(rng, n_in)).unwrap();
    }
    if !has_bias {
        // Keep tensor indices 0..=2 dense: the bias stays, unused.
        tensors[2].data = Some(Arc::from(vec![
            0u8;
            tensors[2].dense_bytes().unwrap() as usize
        ]));
    }
    Problem {
        what,
        model: model_of(op, tensors, has_bias),
        input,
    }
}

// ---- comparing --------------------------------------------------------------------------

/// Whether float `x` is within 1e-4 + 1e-4 |want| of `want` (false for NaNs).
fn close(x: f32, want: f32) -> bool {
    (x - want).abs() <= 1e-4 + 1e-4 * want.abs()
}

/// How `got` differs from `want` (int8 exactly; floats within 1e-4 + 1e-4 |want|).
fn differences(got: &Tensor, want: &Tensor) -> Option<String> {
    if got.shape() != want.shape() || got.dtype() != want.dtype() {
        return Some(format!(
            "got {} {:?}, want {} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    let bad: Vec<String> = match (got.buf(), want.buf()) {
        (Buf::I8(a), Buf::I8(b)) => a
            .iter()
            .zip(b)
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .map(|(i, (x, y))| format!("[{i}] {x} vs {y}"))
            .collect(),
        (Buf::F32(a), Buf::F32(b)) => a
            .iter()
            .zip(b)
            .enumerate()
            .filter(|(_, (x, y))| !close(**x, **y))
            .map(|(i, (x, y))| format!("[{i}] {x} vs {y}"))
            .collect(),
        _ => vec!["unexpected dtype".into()],
    };
    (!bad.is_empty()).then(|| {
        format!(
            "{} of {} differ: {}",
            bad.len(),
            got.len(),
            bad[..bad.len().min(6)].join(", ")
        )
    })
}

fn run_on<E: Engine>(engine: &E, model: &Model, input: &Tensor) -> litequant::Result<Tensor> {
    let mut session = engine.prepare(model)?;
    Ok(session.run(std::slice::from_ref(input))?.remove(0))
}

/// The tile configurations the problems run under: the defaults chosen by shape (entry 0,
/// no override), the 8x8 default, odd register tiles and workgroups, and the scalar int8
/// path.
fn tile_configs() -> Vec<(&'static str, ConvTiles)> {
    let d = ConvTiles::default();
    vec![
        ("by shape (no override)", d),
        ("default", d),
        (
            "1x3 wg 15/5 tk 3",
            ConvTiles {
                wg: 15,
                wg_m: 5,
                tm: 1,
                tn: 3,
                tk: 3,
                dw_wg: 7,
                dw_tm: 3,
                ..d
            },
        ),
        (
            "3x1 wg 8/2 tk 1 scalar",
            ConvTiles {
                wg: 8,
                wg_m: 2,
                tm: 3,
                tn: 1,
                tk: 1,
                dot4: false,
                dw_wg: 5,
                dw_tm: 1,
            },
        ),
        (
            "5x2 wg 12/4 tk 5",
            ConvTiles {
                wg: 12,
                wg_m: 4,
                tm: 5,
                tn: 2,
                tk: 5,
                dw_wg: 32,
                dw_tm: 5,
                ..d
            },
        ),
        ("default scalar", ConvTiles { dot4: false, ..d }),
        (
            "4x4 wg 64/16 scalar",
            ConvTiles {
                wg_m: 16,
                tm: 4,
                tn: 4,
                dot4: false,
                ..d
            },
        ),
        (
            "8x8 wg 32/4 tk 2",
            ConvTiles {
                wg: 32,
                wg_m: 4,
                tm: 8,
                tn: 8,
                tk: 2,
                dw_wg: 16,
                dw_tm: 8,
                ..d
            },
        ),
    ]
}

/// `count` random problems of one kind, each under every tile configuration.
fn check_random(seed: u64, depthwise: bool, kind: Kind, count: usize) -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_conv")? else {
        return Ok(());
    };
    let gpu = GpuEngine::new(ctx);
    let mut rng = Rng(seed);
    let configs = tile_configs();
    let mut failures = Vec::new();
    for i in 0..count {
        let p = random_problem(&mut rng, depthwise, kind);
        let want = run_on(&ReferenceEngine, &p.model, &p.input)?;
        // Every problem under the default tiles, and under two of the others in turn.
        let picks = [
            0,
            1 + i % (configs.len() - 1),
            1 + (i + 2) % (configs.len() - 1),
        ];
        for &c in &picks {
            let (name, tiles) = configs[c];
            let got = match c {
                // The tiles prepare picks by shape.
                0 => run_on(&gpu, &p.model, &p.input)?,
                _ => with_conv_tiles(tiles, || run_on(&gpu, &p.model, &p.input))?,
            };
            if let Some(d) = differences(&got, &want) {
                failures.push(format!("problem {i} ({}) tiles {name}: {d}", p.what));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[test]
fn conv2d_int8_matches_reference() -> litequant::Result<()> {
    check_random(1, false, Kind::Int8, 60)
}

#[test]
fn conv2d_f32_matches_reference() -> litequant::Result<()> {
    check_random(2, false, Kind::Float, 30)
}

#[test]
fn depthwise_int8_matches_reference() -> litequant::Result<()> {
    check_random(3, true, Kind::Int8, 60)
}

#[test]
fn depthwise_f32_matches_reference() -> litequant::Result<()> {
    check_random(4, true, Kind::Float, 30)
}

#[test]
fn conv2d_hybrid_matches_reference() -> litequant::Result<()> {
    check_random(5, false, Kind::Hybrid, 30)
}

#[test]
fn depthwise_hybrid_matches_reference() -> litequant::Result<()> {
    check_random(6, true, Kind::Hybrid, 30)
}

// ---- the op fixtures' convolutions on LiteRT's recorded tensors --------------------------

/// The recorded (stacked) value of tensor `t`: `t{t}`, or `input_k` / `output_k`.
fn recorded(npz: &mut litequant::data::Npz, sg: &Subgraph, t: usize) -> Option<Tensor> {
    let names = npz.names();
    let io = |list: &[usize], prefix: &str| {
        list.iter()
            .position(|&i| i == t)
            .map(|k| format!("{prefix}_{k}"))
    };
    let name = [
        Some(format!("t{t}")),
        io(&sg.inputs, "input"),
        io(&sg.outputs, "output"),
    ]
    .into_iter()
    .flatten()
    .find(|n| names.contains(n))?;
    npz.read(&name).ok()
}

/// Sample `s` of a stacked recording.
fn sample(stacked: &Tensor, s: usize) -> Tensor {
    let shape = &stacked.shape()[1..];
    let n: usize = shape.iter().product();
    let r = s * n..(s + 1) * n;
    let buf = match stacked.buf() {
        Buf::F32(v) => Buf::F32(v[r].to_vec()),
        Buf::I8(v) => Buf::I8(v[r].to_vec()),
        other => panic!("unexpected recorded dtype {}", other.dtype()),
    };
    Tensor::new(shape, buf).unwrap()
}

#[test]
fn fixture_convolutions_match_litert_in_isolation() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_conv fixtures")? else {
        return Ok(());
    };
    let gpu = GpuEngine::new(ctx);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ops");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".tflite").map(str::to_string))
        .filter(|n| n.starts_with("conv2d_") || n.starts_with("dwconv_"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 40,
        "expected the conv fixtures, found {}",
        names.len()
    );
    let (mut compared, mut failures, mut refused) = (0, Vec::new(), Vec::new());
    for name in &names {
        let model = Model::from_file(dir.join(format!("{name}.tflite")))?;
        let mut npz = litequant::data::Npz::open(dir.join(format!("{name}.npz")))?;
        let sg = model.main();
        for (index, op) in sg.operators.iter().enumerate() {
            if !matches!(op.op, Op::Conv2D(_) | Op::DepthwiseConv2D(_)) {
                continue;
            }
            let x = op.input(0).unwrap();
            let y = op.outputs[0] as usize;
            let (Some(xs), Some(ys)) = (recorded(&mut npz, sg, x), recorded(&mut npz, sg, y))
            else {
                failures.push(format!("{name} op {index}: not recorded"));
                continue;
            };
            // The op alone: input, filter, bias, output; shapes as recorded.
            let mut tensors = vec![
                sg.tensors[x].clone(),
                sg.tensors[op.input(1).unwrap()].clone(),
            ];
            let bias = op.input(2);
            tensors.push(match bias {
                Some(b) => sg.tensors[b].clone(),
                None => tensor("no bias", DType::F32, &[1], None),
            });
            tensors.push(sg.tensors[y].clone());
            for (t, rec) in [(0, &xs), (3, &ys)] {
                tensors[t].shape = rec.shape()[1..].iter().map(|&d| d as i32).collect();
                tensors[t].shape_signature = None;
            }
            if bias.is_none() {
                tensors[2] = constant(tensors[2].clone(), vec![0; 4]);
            }
            // A filter or bias computed in the model (DEQUANTIZE of float16 weights) becomes
            // the constant LiteRT recorded for it.
            for (k, t) in [(1, op.input(1)), (2, bias)] {
                if let (Some(t), None) = (t, &tensors[k].data) {
                    let Some(v) = recorded(&mut npz, sg, t) else {
                        failures.push(format!("{name} op {index}: input {k} not recorded"));
                        continue;
                    };
                    tensors[k] = constant(tensors[k].clone(), sample(&v, 0).buf().to_le_bytes());
                }
            }
            let mut one = model_of(op.op.clone(), tensors, bias.is_some());
            one.subgraphs[0].operators[0].version = op.version;
            let what = format!("{name} op {index} ({})", op.op.name());
            let mut session = match gpu.prepare(&one) {
                Ok(s) => s,
                Err(e @ litequant::Error::Unsupported(_)) => {
                    refused.push(format!("{what}: {e}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut reference = ReferenceEngine.prepare(&one)?;
            for s in 0..xs.shape()[0] {
                let input = sample(&xs, s);
                let got = session.run(std::slice::from_ref(&input))?.remove(0);
                let want_ref = reference.run(std::slice::from_ref(&input))?.remove(0);
                for (against, want) in [("LiteRT", sample(&ys, s)), ("reference", want_ref)] {
                    if let Some(d) = differences(&got, &want) {
                        failures.push(format!("{what} sample {s} vs {against}: {d}"));
                    }
                }
                compared += 1;
            }
        }
    }
    eprintln!(
        "{} fixtures, {compared} convolution outputs compared, {} refused:\n{}",
        names.len(),
        refused.len(),
        refused.join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(refused.is_empty(), "refused: {refused:?}");
    assert!(compared > 100, "only {compared} outputs compared");
    Ok(())
}
