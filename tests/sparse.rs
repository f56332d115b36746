//! Sparse weights as TF's converter writes them with `Optimize.EXPERIMENTAL_SPARSITY`
//! (`tools/make_sparse_fixtures.py`): DENSIFY before CONV_2D and FULLY_CONNECTED, float32
//! FULLY_CONNECTED weights read sparse directly (1x4 blocks), int8, hybrid and float16
//! (DENSIFY of float16 weights) variants.
//! Every tensor equals LiteRT's BUILTIN_REF results on the reference engine and on the GPU;
//! the files round-trip; quantizing the sparse float model gives the converter's dense int8
//! file.

mod common;

use std::path::PathBuf;

use common::golden::{check_model, check_model_on, Outcome};
use litequant::gpu::{self, GpuEngine};
use litequant::{Engine, Model, ReferenceEngine};

const GOLDEN: [&str; 5] = ["f32", "int8", "dynamic", "conv_float16", "int8_dense"];

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
        ("conv_float16", 2, 2),
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
        assert_eq!(
            (n, d),
            (sparse, densify),
            "{name}: sparse tensors, DENSIFY ops"
        );
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
    let e = ReferenceEngine
        .prepare(&m)
        .err()
        .expect("refused")
        .to_string();
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

mod quantize_common;

/// The sparse float model calibrated on the converter's representative samples
/// (`calib.npy`, in order) in the converter's float order.
fn calibrated_f32() -> (Model, litequant::Stats) {
    calibrated_f32_on(&litequant::ConverterFloatEngine)
}

fn calibrated_f32_on<E: Engine>(engine: &E) -> (Model, litequant::Stats) {
    use litequant::data::NpyDataset;
    use litequant::{calibrate, CalibrationOptions, Session};
    let m = Model::from_file(fixture("f32").0).unwrap();
    let spec = ReferenceEngine.prepare(&m).unwrap().inputs()[0].clone();
    let mut data = NpyDataset::open(common::fixtures().join("sparse/calib.npy"))
        .unwrap()
        .with_input(&spec)
        .unwrap();
    let stats = calibrate(&m, engine, &mut data, &CalibrationOptions::default()).unwrap();
    assert_eq!(stats.samples, 16);
    (m, stats)
}

#[test]
fn quantizing_sparse_float_weights_gives_the_converters_dense_int8_model() {
    use litequant::quant::{quantize_int8, Int8Options};
    let (m, stats) = calibrated_f32();
    let ours = quantize_int8(&m, &stats, &Int8Options::int8()).unwrap();
    let theirs = Model::from_file(fixture("int8_dense").0).unwrap();
    // Field for field, scales and values to the bit. The one residual is names: the
    // converter's sparsity pass renamed the weights it made sparse (the FULLY_CONNECTED
    // weights carry fused location names, the second one 'StatefulPartitionedCall_1:01'),
    // and the names the converter gives the dense weights cannot be recovered from them;
    // the activations after them take other uniquifier suffixes.
    let d = quantize_common::diffs(&ours, &theirs);
    let other: Vec<&String> = d.iter().filter(|d| !d.contains("): name: ")).collect();
    assert!(other.is_empty(), "{}", d.join("\n"));
    assert!(
        d.len() <= 6,
        "more names differ than the weights': {}",
        d.join("\n")
    );
    // The same computation: every tensor bit-identical to the converter's file on the
    // golden samples, and the converter's file equal to LiteRT on every tensor.
    let compared = quantize_common::same_results(&ours, &theirs, &fixture("int8_dense").1);
    assert!(compared >= 3 * 7, "{compared} compared");
}

/// Pruned output channels (all weights zero, bias not) need the converter's bias fit: the
/// weight scale raised so that the bias stays within int32::MAX / 2 on its grid.
#[test]
fn zero_weight_channels_get_the_converters_bias_fit() {
    use litequant::quant::{quantize_int8, Int8Options};
    let (m, stats) = calibrated_f32();
    let ours = quantize_int8(&m, &stats, &Int8Options::int8()).unwrap();
    let mut fitted = 0;
    for t in &ours.main().tensors {
        let (Some(data), Some(q)) = (&t.data, &t.quant) else {
            continue;
        };
        if t.dtype == litequant::model::DType::I32 {
            for c in data.chunks_exact(4) {
                let v = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                assert!(
                    v.unsigned_abs() <= (i32::MAX / 2) as u32 + 1,
                    "{}: {v}",
                    t.name
                );
                fitted += usize::from(v.unsigned_abs() >= (i32::MAX / 2) as u32);
            }
            assert!(q.scale.iter().all(|s| s.is_finite() && *s > 0.0));
        }
    }
    assert!(fitted >= 2, "{fitted} biases at the fit bound");
}

#[test]
fn inspect_shows_the_sparsity_of_each_sparse_tensor() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_litequant"))
        .arg("inspect")
        .arg(fixture("f32").0)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("sparse: 92 of 288 values; levels d0:8 d1:3 d2:3 d3:csr(u8)"),
        "{text}"
    );
    assert!(
        text.contains(
            "sparse: 1136 of 4608 values; levels d0:16 d1:csr(u8) d2:4; blocks [4] on dims [1]"
        ),
        "{text}"
    );
    assert!(text.contains("DENSIFY v1  in [2] out [3]"), "{text}");
}

/// Metadata LiteRT's verifier refuses is an error at prepare that names the tensor and the
/// rule, on both engines' shared path; never a panic or an out-of-bounds write.
#[test]
fn broken_sparsity_is_a_clear_error() {
    use litequant::model::SegmentArray;
    let m = Model::from_file(fixture("f32").0).unwrap();
    let mut bad = m.clone();
    let sp = bad.subgraphs[0].tensors[8].sparsity.as_mut().unwrap();
    sp.dim_metadata[1].array_indices = Some(SegmentArray::U8(vec![200; 284]));
    let e = ReferenceEngine
        .prepare(&bad)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("tensor 8") && e.contains("array_indices[0] = 200 is outside"),
        "{e}"
    );
    let mut bad = m.clone();
    bad.subgraphs[0].tensors[2].data = Some(vec![0u8; 12].into());
    let e = ReferenceEngine
        .prepare(&bad)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("tensor 2") && e.contains("holds 12 bytes"),
        "{e}"
    );
    // The quantizer reports the same.
    let e = litequant::quant::quantize_float16(&bad)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tensor 2") && e.contains("holds 12 bytes"),
        "{e}"
    );
}

/// The dense contents of sparse constants are charged to the memory budget.
#[test]
fn densified_weights_count_against_the_memory_budget() {
    let m = Model::from_file(fixture("f32").0).unwrap();
    let e = ReferenceEngine
        .with_max_memory(10_000)
        .prepare(&m)
        .err()
        .expect("over budget");
    assert!(matches!(e, litequant::Error::Memory(_)), "{e}");
    assert!(e.to_string().contains("sparse tensor 8"), "{e}");
    assert!(ReferenceEngine.with_max_memory(100_000).prepare(&m).is_ok());
}

/// Calibrating the sparse model on the GPU (DENSIFY's output a constant there) gives the
/// same int8 model as on the CPU.
#[test]
fn gpu_calibration_of_a_sparse_model_quantizes_the_same() -> litequant::Result<()> {
    use litequant::quant::{quantize_int8, Int8Options};
    use litequant::reference::FloatOrder;
    let Some(ctx) = gpu::context_or_skip("gpu_calibration_of_a_sparse_model_quantizes_the_same")?
    else {
        return Ok(());
    };
    let engine = GpuEngine::new(ctx).with_float_order(FloatOrder::Converter);
    let (m, gpu_stats) = calibrated_f32_on(&engine);
    let (_, cpu_stats) = calibrated_f32();
    let ours = quantize_int8(&m, &gpu_stats, &Int8Options::int8())?;
    let cpu = quantize_int8(&m, &cpu_stats, &Int8Options::int8())?;
    let d = quantize_common::diffs(&ours, &cpu);
    assert!(d.is_empty(), "{}", d.join("\n"));
    Ok(())
}
