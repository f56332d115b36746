//! Sparse weights as TF's converter writes them with `Optimize.EXPERIMENTAL_SPARSITY`
//! (`tools/make_sparse_fixtures.py`): DENSIFY before CONV_2D and FULLY_CONNECTED, float32
//! FULLY_CONNECTED weights read sparse directly (1x4 blocks), int8 and hybrid variants.
//! Every tensor equals LiteRT's BUILTIN_REF results on the reference engine and on the GPU;
//! the files round-trip; quantizing the sparse float model gives the converter's dense int8
//! file.

mod common;

use std::path::PathBuf;

use common::golden::{check_model, check_model_on, Outcome};
use litequant::gpu::{self, GpuEngine};
use litequant::{Engine, Model, ReferenceEngine};

const GOLDEN: [&str; 4] = ["f32", "int8", "dynamic", "int8_dense"];

fn fixture(name: &str) -> (PathBuf, PathBuf) {
    let dir = common::fixtures().join("sparse");
    (
        dir.join(format!("{name}.tflite")),
        dir.join(format!("{name}.npz")),
    )
}

fn assert_pass(outcome: Outcome, what: &str) {
    match outcome {
        // 3 samples, the output and at least 4 intermediates each.
        Outcome::Pass { compared } => assert!(compared >= 3 * 5, "{what}: {compared} compared"),
        Outcome::Unsupported(e) => panic!("{what}: unsupported: {e}"),
        Outcome::Fail(f) => panic!("{what}: {} differ:\n{}", f.len(), f.join("\n")),
    }
}

#[test]
fn the_fixtures_are_sparse_as_the_converter_writes_them() {
    for (name, sparse, densify) in [
        ("f32", 3, 1),
        ("int8", 3, 3),
        ("dynamic", 3, 2),
        ("float16", 3, 1),
        ("int8_dense", 0, 0),
    ] {
        let m = Model::from_file(fixture(name).0).unwrap();
        let sg = m.main();
        let n = sg.tensors.iter().filter(|t| t.sparsity.is_some()).count();
        let d = sg
            .operators
            .iter()
            .filter(|op| op.op.name() == "DENSIFY")
            .count();
        assert_eq!((n, d), (sparse, densify), "{name}: sparse tensors, DENSIFY ops");
    }
}

#[test]
fn reference_engine_equals_litert_on_sparse_models() {
    for name in GOLDEN {
        let (model, golden) = fixture(name);
        assert_pass(check_model(&model, &golden), name);
    }
}

#[test]
fn gpu_engine_equals_litert_on_sparse_models() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_engine_equals_litert_on_sparse_models")? else {
        return Ok(());
    };
    let engine = GpuEngine::new(ctx);
    for name in GOLDEN {
        let (model, golden) = fixture(name);
        assert_pass(check_model_on(&engine, &model, &golden, 1e-4, 1e-4), name);
    }
    Ok(())
}

/// LiteRT's DEQUANTIZE does not expand a sparse float16 input: it reads the compressed values
/// as if dense, past the end of the buffer. The converter's float16 file does that; it is
/// refused, naming the op and the tensor.
#[test]
fn dequantize_of_a_sparse_tensor_is_refused_by_name() {
    let m = Model::from_file(fixture("float16").0).unwrap();
    let e = ReferenceEngine.prepare(&m).err().expect("refused").to_string();
    assert!(
        e.contains("DEQUANTIZE") && e.contains("stored sparse") && e.contains("MatMul1"),
        "{e}"
    );
}

#[test]
fn sparse_files_round_trip() {
    let dir = common::TempDir::new("sparse_round_trip");
    for name in GOLDEN.iter().chain(&["float16"]) {
        let (path, golden) = fixture(name);
        let m = Model::from_file(&path).unwrap();
        let written = m.to_bytes().unwrap();
        let again = Model::from_bytes(&written).unwrap();
        assert_eq!(m, again, "{name}");
        assert_eq!(again.to_bytes().unwrap(), written, "{name}: deterministic");
        if *name != "float16" {
            let out = dir.0.join(format!("{name}.tflite"));
            std::fs::write(&out, &written).unwrap();
            assert_pass(check_model(&out, &golden), &format!("{name} rewritten"));
        }
    }
}
