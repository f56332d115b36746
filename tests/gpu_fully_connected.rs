//! FULLY_CONNECTED and BATCH_MATMUL of every fixture model, each run alone on random inputs
//! on the GPU engine and on the reference engine: int8/uint8/int32 outputs bit for bit, float
//! outputs within 1e-4 + 1e-4·max|x|. (The whole models need QUANTIZE/DEQUANTIZE, another
//! family's kernels; this checks the fixtures' real weights, scales and shapes now.)
//!
//! The property tests on generated shapes, edge zero points and odd tiles are in
//! `src/gpu/kernels/fully_connected/tests.rs`.

mod common;
pub use common::Rng;

use std::path::{Path, PathBuf};

use litequant::gpu::{self, GpuEngine};
use litequant::model::DType;
use litequant::{Buf, Engine, Model, ReferenceEngine, Session, Tensor};

fn models(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            models(&p, out);
        } else if p.extension().is_some_and(|x| x == "tflite") {
            out.push(p);
        }
    }
}

impl Rng {
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// A random value for a model input.
fn random_input(rng: &mut Rng, dtype: DType, shape: &[usize]) -> Option<Tensor> {
    let n: usize = shape.iter().product();
    let buf = match dtype {
        DType::I8 => Buf::I8((0..n).map(|_| rng.next() as i8).collect()),
        DType::U8 => Buf::U8((0..n).map(|_| rng.next() as u8).collect()),
        DType::I16 => Buf::I16((0..n).map(|_| rng.next() as i16).collect()),
        DType::F32 => Buf::F32((0..n).map(|_| rng.unit() * 4.0).collect()),
        _ => return None,
    };
    Tensor::new(shape, buf).ok()
}

/// `model` cut down to operator `index` alone, its non-constant inputs made model inputs.
fn alone(model: &Model, index: usize) -> Model {
    let mut m = model.clone();
    let sg = &mut m.subgraphs[0];
    let op = sg.operators[index].clone();
    sg.inputs = op
        .inputs
        .iter()
        .filter_map(|&t| usize::try_from(t).ok())
        .filter(|&t| sg.tensors[t].data.is_none())
        .collect();
    sg.outputs = op
        .outputs
        .iter()
        .filter_map(|&t| usize::try_from(t).ok())
        .collect();
    sg.operators = vec![op];
    m.subgraphs.truncate(1);
    m.signature_defs.clear();
    m
}

fn same(got: &Tensor, want: &Tensor) -> Result<(), String> {
    if got.shape() != want.shape() {
        return Err(format!("shape {:?} != {:?}", got.shape(), want.shape()));
    }
    match (got.buf(), want.buf()) {
        (Buf::F32(g), Buf::F32(w)) => {
            let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                if (a - b).abs() > 1e-4 + 1e-4 * scale {
                    return Err(format!("element {i}: gpu {a} reference {b}"));
                }
            }
            Ok(())
        }
        (g, w) => {
            let (gb, wb) = (g.to_le_bytes(), w.to_le_bytes());
            let n = gb.iter().zip(&wb).filter(|(a, b)| a != b).count();
            if gb == wb {
                Ok(())
            } else {
                Err(format!("{n} bytes differ"))
            }
        }
    }
}

#[test]
fn fixture_fully_connected_and_batch_matmul_ops_alone_on_random_inputs() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("fixture_fully_connected_and_batch_matmul_ops_alone")?
    else {
        return Ok(());
    };
    let engine = GpuEngine::new(ctx);
    let mut paths = Vec::new();
    models(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut paths,
    );
    paths.sort();
    let mut rng = Rng(0xf1c);
    let (mut checked, mut problems, mut refused) = (0, Vec::new(), Vec::new());
    for path in &paths {
        let Ok(model) = Model::from_file(path) else {
            continue;
        };
        let Some(sg) = model.subgraphs.first() else {
            continue;
        };
        for (index, op) in sg.operators.iter().enumerate() {
            let name = op.op.name();
            if name != "FULLY_CONNECTED" && name != "BATCH_MATMUL" {
                continue;
            }
            let one = alone(&model, index);
            let what = format!("{} op {index} ({name})", path.display());
            // Ops the reference refuses are not the GPU's to run.
            let Ok(mut reference) = ReferenceEngine.prepare(&one) else {
                refused.push(what);
                continue;
            };
            let mut gpu = match engine.prepare(&one) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(format!("{what}: gpu prepare: {e}"));
                    continue;
                }
            };
            let sg1 = &one.subgraphs[0];
            let inputs: Option<Vec<Tensor>> = sg1
                .inputs
                .iter()
                .map(|&t| {
                    let t = &sg1.tensors[t];
                    let shape: Vec<usize> = t.shape.iter().map(|&d| d.max(1) as usize).collect();
                    random_input(&mut rng, t.dtype, &shape)
                })
                .collect();
            let Some(inputs) = inputs else {
                refused.push(format!("{what}: input dtype"));
                continue;
            };
            let want = reference.run(&inputs)?;
            let got = gpu.run(&inputs)?;
            for (g, w) in got.iter().zip(&want) {
                if let Err(e) = same(g, w) {
                    problems.push(format!("{what}: {e}"));
                }
            }
            checked += 1;
        }
    }
    eprintln!(
        "{checked} FULLY_CONNECTED/BATCH_MATMUL ops checked alone; the reference refuses {}",
        refused.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 40, "only {checked} ops found in the fixtures");
    Ok(())
}
