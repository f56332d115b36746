//! CONV_2D and DEPTHWISE_CONV_2D on the GPU against the reference engine: int8 and float32 bit
//! for bit (float32 in both summation orders: the reference's against `ReferenceEngine`, the
//! converter's against `ConverterFloatEngine`), hybrid within 1e-4 abs + 1e-4 rel.
//!
//! - Random single-op problems (seeded): sizes that are not tile multiples, strides 1-3,
//!   dilations, SAME/VALID, groups, depth multipliers, batches, input zero points at
//!   -128/127/0, per-channel and per-tensor weight scales, fused activations.
//! - The same problems under odd tile constants (1x3, 3x1, 5x2, ...) and with the scalar
//!   int8 path instead of `dot4I8Packed`, so remainder and fallback paths run.
//! - Every convolution of the op fixtures, cut out as a one-op model and run on the tensors
//!   LiteRT recorded, against LiteRT's recorded output and the reference engine.
//!
//! - TRANSPOSE_CONV the same way (`gpu_conv/tconv_problems.rs`): int8, uint8 and float32
//!   (both orders) bit for bit, hybrid bit for bit too (its float steps are products and
//!   sums).
//!
//! Skips without an adapter unless `LITEQUANT_REQUIRE_GPU=1` (lavapipe in CI).

mod common;
use common::golden::sample;
pub use common::Rng;

use litequant::gpu::{self, with_conv_tiles, ConvTiles, GpuEngine};
use litequant::model::{DType, Op, Subgraph};
use litequant::{
    Buf, ConverterFloatEngine, Engine, FloatOrder, Model, ReferenceEngine, Session, Tensor,
};

#[path = "gpu_conv/problems.rs"]
mod problems;
#[path = "gpu_conv/tconv_problems.rs"]
mod tconv_problems;

use problems::{constant, model_of, random_problem, tensor, Kind};

/// Which convolution a random problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Conv,
    Depthwise,
    Transpose,
}

// ---- comparing --------------------------------------------------------------------------

/// Whether float `x` is within 1e-4 + 1e-4 |want| of `want` (false for NaNs).
fn close(x: f32, want: f32) -> bool {
    (x - want).abs() <= 1e-4 + 1e-4 * want.abs()
}

/// How `got` differs from `want` (int8 exactly; floats bit for bit when `exact`, else
/// within 1e-4 + 1e-4 |want|).
fn differences(got: &Tensor, want: &Tensor, exact: bool) -> Option<String> {
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
        (Buf::U8(a), Buf::U8(b)) => a
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
            .filter(|(_, (x, y))| {
                if exact {
                    x.to_bits() != y.to_bits() && !(x.is_nan() && y.is_nan())
                } else {
                    !close(**x, **y)
                }
            })
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

/// `count` random problems of one kind, each under every tile configuration; float32 in the
/// summation order `order`.
fn check_random(
    seed: u64,
    family: Family,
    kind: Kind,
    count: usize,
    order: FloatOrder,
) -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_conv")? else {
        return Ok(());
    };
    let gpu = GpuEngine::new(ctx).with_float_order(order);
    // Hybrid CONV_2D / DEPTHWISE_CONV_2D scale in another association than the CPU; TRANSPOSE_CONV
    // does not.
    let exact = kind != Kind::Hybrid || family == Family::Transpose;
    let mut rng = Rng(seed);
    let configs = tile_configs();
    let (mut failures, mut refused) = (Vec::new(), 0);
    for i in 0..count {
        let p = match family {
            Family::Transpose => tconv_problems::tconv_problem(&mut rng, kind),
            f => random_problem(&mut rng, f == Family::Depthwise, kind),
        };
        let want = match order {
            FloatOrder::Reference => run_on(&ReferenceEngine, &p.model, &p.input),
            FloatOrder::Converter => run_on(&ConverterFloatEngine, &p.model, &p.input),
        };
        // A problem the CPU engine refuses (TRANSPOSE_CONV's optimized kernel on an output
        // larger than its input covers) must be refused on the GPU too.
        let want = match want {
            Err(litequant::Error::Unsupported(why)) => {
                match run_on(&gpu, &p.model, &p.input) {
                    Err(litequant::Error::Unsupported(_)) => refused += 1,
                    other => failures.push(format!(
                        "problem {i} ({}): the CPU refuses ({why}), the GPU gives {other:?}",
                        p.what
                    )),
                }
                continue;
            }
            other => other?,
        };
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
            if let Some(d) = differences(&got, &want, exact) {
                failures.push(format!("problem {i} ({}) tiles {name}: {d}", p.what));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        refused * 4 <= count,
        "{refused} of {count} problems refused"
    );
    Ok(())
}

#[test]
fn conv2d_int8_matches_reference() -> litequant::Result<()> {
    check_random(1, Family::Conv, Kind::Int8, 60, FloatOrder::Reference)
}

#[test]
fn conv2d_f32_matches_reference() -> litequant::Result<()> {
    check_random(2, Family::Conv, Kind::Float, 30, FloatOrder::Reference)
}

#[test]
fn depthwise_int8_matches_reference() -> litequant::Result<()> {
    check_random(3, Family::Depthwise, Kind::Int8, 60, FloatOrder::Reference)
}

#[test]
fn depthwise_f32_matches_reference() -> litequant::Result<()> {
    check_random(4, Family::Depthwise, Kind::Float, 30, FloatOrder::Reference)
}

#[test]
fn conv2d_f32_converter_order_matches_converter_engine() -> litequant::Result<()> {
    check_random(7, Family::Conv, Kind::Float, 30, FloatOrder::Converter)
}

#[test]
fn depthwise_f32_converter_order_matches_converter_engine() -> litequant::Result<()> {
    check_random(8, Family::Depthwise, Kind::Float, 20, FloatOrder::Converter)
}

#[test]
fn conv2d_hybrid_matches_reference() -> litequant::Result<()> {
    check_random(5, Family::Conv, Kind::Hybrid, 30, FloatOrder::Reference)
}

#[test]
fn depthwise_hybrid_matches_reference() -> litequant::Result<()> {
    check_random(
        6,
        Family::Depthwise,
        Kind::Hybrid,
        30,
        FloatOrder::Reference,
    )
}

#[test]
fn transpose_conv_int8_matches_reference() -> litequant::Result<()> {
    check_random(11, Family::Transpose, Kind::Int8, 40, FloatOrder::Reference)
}

#[test]
fn transpose_conv_uint8_matches_reference() -> litequant::Result<()> {
    check_random(
        15,
        Family::Transpose,
        Kind::Uint8,
        30,
        FloatOrder::Reference,
    )
}

#[test]
fn transpose_conv_f32_matches_reference() -> litequant::Result<()> {
    check_random(
        12,
        Family::Transpose,
        Kind::Float,
        30,
        FloatOrder::Reference,
    )
}

#[test]
fn transpose_conv_f32_converter_order_matches_converter_engine() -> litequant::Result<()> {
    check_random(
        13,
        Family::Transpose,
        Kind::Float,
        30,
        FloatOrder::Converter,
    )
}

#[test]
fn transpose_conv_hybrid_matches_reference() -> litequant::Result<()> {
    check_random(
        14,
        Family::Transpose,
        Kind::Hybrid,
        30,
        FloatOrder::Reference,
    )
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
                    // Float within tolerance of LiteRT; hybrid, float and int8 ops alike.
                    if let Some(d) = differences(&got, &want, false) {
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
