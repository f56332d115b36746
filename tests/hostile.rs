//! Tiny models that declare huge tensors: a clean `Error::Memory` at prepare naming the op,
//! tensor, shape and bytes, never an abort ("memory allocation of N bytes failed", exit
//! 134), on the reference engine, the converter-order engine, the GPU engine and the CLI.
//!
//! Each model is built here through the library's own types, written by its writer and
//! read back, so it is a file as a user would have it (all under 1 KB).

mod common;

use std::process::Command;
use std::sync::Arc;

use litequant::gpu::{self, GpuEngine};
use litequant::model::{
    Activation, AddSubOptions, DType, Op, Operator, ResizeOptions, Subgraph, Tensor, SCHEMA_VERSION,
};
use litequant::{ConverterFloatEngine, Engine, Error, Model, ReferenceEngine};

fn constant_i32(name: &str, shape: Vec<i32>, values: &[i32]) -> Tensor {
    let mut t = Tensor::new(name, DType::I32, shape);
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t.data = Some(Arc::from(bytes));
    t
}

fn op(op: Op, inputs: &[i32], outputs: &[i32]) -> Operator {
    Operator {
        op,
        version: 1,
        inputs: inputs.to_vec(),
        outputs: outputs.to_vec(),
        intermediates: vec![],
        mutating_variable_inputs: vec![],
        debug_metadata_index: -1,
        options_omitted: false,
    }
}

/// One subgraph: `tensors`, inputs and outputs by index, one operator; through the writer.
fn model(tensors: Vec<Tensor>, inputs: Vec<usize>, outputs: Vec<usize>, o: Operator) -> Model {
    let m = Model {
        version: SCHEMA_VERSION,
        description: None,
        subgraphs: vec![Subgraph {
            name: None,
            tensors,
            inputs,
            outputs,
            operators: vec![o],
            debug_metadata_index: -1,
        }],
        metadata: vec![],
        signature_defs: vec![],
        legacy_metadata_buffers: vec![],
        external_buffer_groups: vec![],
        external_buffers: vec![],
        unused_operator_codes: vec![],
    };
    let bytes = m.to_bytes().unwrap();
    assert!(bytes.len() < 1024, "{} bytes", bytes.len());
    Model::from_bytes(&bytes).unwrap()
}

/// MEAN over axes 1, 2 of an input declared [1, 2^31 - 1, 7, 3] (180 GB of float32).
fn huge_mean() -> Model {
    model(
        vec![
            Tensor::new("x", DType::F32, vec![1, i32::MAX, 7, 3]),
            constant_i32("axes", vec![2], &[1, 2]),
            Tensor::new("y", DType::F32, vec![1, 3]),
        ],
        vec![0],
        vec![2],
        op(Op::Mean { keep_dims: false }, &[0, 1], &[2]),
    )
}

/// A broadcast ADD or MUL of int8 [1, side, side, 1] and [1, 1, 1, 1], with an index map of
/// side² entries built at prepare for the broadcast operand: at side 16384, 256 MiB tensors
/// and a 2 GiB map.
fn broadcast(mul: bool, side: i32) -> Model {
    let q = |name: &str, shape: Vec<i32>| {
        let mut t = Tensor::new(name, DType::I8, shape);
        t.quant = Some(litequant::model::QuantParams {
            scale: vec![0.5],
            zero_point: vec![0],
            min: vec![],
            max: vec![],
            quantized_dimension: 0,
            details: Default::default(),
        });
        t
    };
    let big = vec![1, side, side, 1];
    let o = if mul {
        Op::Mul {
            activation: Activation::None,
        }
    } else {
        Op::Add(AddSubOptions {
            activation: Activation::None,
            pot_scale_int16: true,
        })
    };
    model(
        vec![q("a", big.clone()), q("b", vec![1, 1, 1, 1]), q("c", big)],
        vec![0, 1],
        vec![2],
        op(o, &[0, 1], &[2]),
    )
}

/// RESIZE_BILINEAR of a [1, 2, 2, 1] float image to 65535 x 65535 (17 GB).
fn huge_resize() -> Model {
    model(
        vec![
            Tensor::new("x", DType::F32, vec![1, 2, 2, 1]),
            constant_i32("size", vec![2], &[65535, 65535]),
            Tensor::new("y", DType::F32, vec![1, 65535, 65535, 1]),
        ],
        vec![0],
        vec![2],
        op(
            Op::ResizeBilinear(ResizeOptions {
                align_corners: false,
                half_pixel_centers: false,
            }),
            &[0, 1],
            &[2],
        ),
    )
}

/// PAD of a [1, 2, 2, 1] float image to [1, 103682, 103682, 1] (43 GB).
fn huge_pad() -> Model {
    model(
        vec![
            Tensor::new("x", DType::F32, vec![1, 2, 2, 1]),
            constant_i32("pads", vec![4, 2], &[0, 0, 0, 103680, 0, 103680, 0, 0]),
            Tensor::new("y", DType::F32, vec![1, 103682, 103682, 1]),
        ],
        vec![0],
        vec![2],
        op(Op::Pad, &[0, 1], &[2]),
    )
}

const GIB: u64 = 1 << 30;

fn memory_error(r: litequant::Result<impl Sized>, needles: &[&str]) -> String {
    let e = match r {
        Ok(_) => panic!("prepared a model over the budget"),
        Err(e) => e,
    };
    assert!(matches!(e, Error::Memory(_)), "{e:?}");
    let m = e.to_string();
    for n in needles {
        assert!(m.contains(n), "{m:?} should mention {n:?}");
    }
    m
}

fn cases() -> Vec<(&'static str, Model, Vec<&'static str>)> {
    vec![
        (
            "mean",
            huge_mean(),
            vec![
                "operator 0 (MEAN) input 0",
                "tensor 0 ('x', FLOAT32 [1, 2147483647, 7, 3])",
                "180388626348 bytes",
            ],
        ),
        (
            "add",
            broadcast(false, 16384),
            vec![
                "operator 0 (ADD)",
                "broadcast index map of [1, 1, 1, 1] to [1, 16384, 16384, 1]",
                "(2147483648 bytes)",
            ],
        ),
        (
            "mul",
            broadcast(true, 16384),
            vec!["operator 0 (MUL)", "broadcast index map"],
        ),
        (
            "resize",
            huge_resize(),
            vec![
                "operator 0 (RESIZE_BILINEAR) output 0",
                "tensor 2 ('y', FLOAT32 [1, 65535, 65535, 1])",
                "17179344900 bytes",
            ],
        ),
        (
            "pad",
            huge_pad(),
            vec![
                "operator 0 (PAD) output 0",
                "[1, 103682, 103682, 1]",
                "42999828496 bytes",
            ],
        ),
    ]
}

#[test]
fn huge_declared_tensors_are_a_clean_error_at_prepare() {
    for (name, m, needles) in cases() {
        let e = memory_error(
            ReferenceEngine::default().with_max_memory(GIB).prepare(&m),
            &needles,
        );
        assert!(e.contains("memory budget of 1.00 GiB"), "{name}: {e}");
        memory_error(
            ConverterFloatEngine::default()
                .with_max_memory(GIB)
                .prepare(&m),
            &needles,
        );
    }
}

#[test]
fn the_default_budget_refuses_a_terabyte() {
    // 2^31 - 1 x 2^31 - 1 float32 values: far past any machine's memory.
    let m = model(
        vec![
            Tensor::new("x", DType::F32, vec![1, i32::MAX, i32::MAX, 1]),
            constant_i32("axes", vec![2], &[1, 2]),
            Tensor::new("y", DType::F32, vec![1, 1]),
        ],
        vec![0],
        vec![2],
        op(Op::Mean { keep_dims: false }, &[0, 1], &[2]),
    );
    memory_error(ReferenceEngine.prepare(&m), &["operator 0 (MEAN) input 0"]);
}

#[test]
fn a_budget_that_fits_prepares_and_runs() {
    // A broadcast ADD of [1, 1024, 1024, 1]: 2 MiB of tensors and an 8 MiB index map.
    let m = broadcast(false, 1024);
    let mib = 1 << 20;
    assert!(ReferenceEngine::default()
        .with_max_memory(11 * mib)
        .prepare(&m)
        .is_ok());
    memory_error(
        ReferenceEngine::default()
            .with_max_memory(9 * mib)
            .prepare(&m),
        &["broadcast index map", "8.00 MiB"],
    );
    // And the fixtures run under the default budget as before.
    let cnn = Model::from_file(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cnn_int8.tflite"),
    )
    .unwrap();
    assert!(ReferenceEngine.prepare(&cnn).is_ok());
    memory_error(
        ReferenceEngine::default()
            .with_max_memory(1000)
            .prepare(&cnn),
        &["over the memory budget of 1000 bytes"],
    );
}

#[test]
fn the_gpu_engine_refuses_them_cleanly_too() {
    let Some(ctx) = gpu::context_or_skip("hostile").expect("GPU required") else {
        return;
    };
    let engine = GpuEngine::new(ctx).with_max_memory(GIB);
    for (name, m, _) in cases() {
        // Host memory over the budget, or a tensor over the device's limits: a clean error.
        match engine.prepare(&m) {
            Ok(_) => panic!("{name}: the GPU engine prepared it"),
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    matches!(e, Error::Memory(_))
                        || msg.contains("storage binding limit")
                        || matches!(e, Error::Unsupported(_)),
                    "{name}: {msg}"
                );
            }
        }
    }
}

#[test]
fn the_cli_exits_with_an_error_not_an_abort() {
    let dir = common::TempDir::new("hostile");
    let input = dir.join("x.npy");
    litequant::write_atomic(
        &input,
        &litequant::data::npy_bytes(
            &litequant::Tensor::from_f32(&[1, 2, 2, 1], &[0.0; 4]).unwrap(),
        ),
    )
    .unwrap();
    for (name, m, needles) in cases() {
        let path = dir.join(&format!("{name}.tflite"));
        m.write_file(&path).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_litequant"))
            .args(["run", path.to_str().unwrap(), "--max-memory", "1G"])
            .args(["--input", input.to_str().unwrap(), "-o"])
            .arg(dir.join("out.npz"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains("out of memory budget"), "{name}: {err}");
        for n in &needles {
            assert!(err.contains(n), "{name}: {err} should mention {n}");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_litequant"))
        .args(["run", "x.tflite", "--max-memory", "lots", "-o", "o.npz"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("'lots' is not a size"),
        "{err}"
    );
}
