//! Bad input: every malformed file gives an `Error` that names the problem, never a panic.
//! Cases are made from a real converter file by editing it through the generated object API
//! (or its bytes), so each one differs from a valid model in exactly one way.

mod common;

use litequant::tflite::fb;
use litequant::Model;

use common::fbedit::{fixture_bytes, pack, unpacked};

/// The error for an edited copy of `cnn_int8.tflite`; asserts every `needle` is in it.
fn error_of(edit: impl FnOnce(&mut fb::ModelT), needles: &[&str]) -> String {
    let mut m = unpacked("cnn_int8.tflite");
    edit(&mut m);
    let e = Model::from_bytes(&pack(&m))
        .expect_err("malformed model must be rejected")
        .to_string();
    for n in needles {
        assert!(e.contains(n), "error {e:?} should mention {n:?}");
    }
    e
}

fn sg(m: &mut fb::ModelT) -> &mut fb::SubGraphT {
    &mut m.subgraphs.as_mut().unwrap()[0]
}
fn ops(m: &mut fb::ModelT) -> &mut Vec<fb::OperatorT> {
    sg(m).operators.as_mut().unwrap()
}
fn tensors(m: &mut fb::ModelT) -> &mut Vec<fb::TensorT> {
    sg(m).tensors.as_mut().unwrap()
}

#[test]
fn the_unedited_copy_is_valid() {
    let m = unpacked("cnn_int8.tflite");
    Model::from_bytes(&pack(&m)).unwrap();
}

#[test]
fn truncated_files_at_every_length() {
    let bytes = fixture_bytes("mlp_int8_only.tflite");
    for len in 0..bytes.len() {
        let e = Model::from_bytes(&bytes[..len]);
        assert!(e.is_err(), "a file cut to {len} bytes was accepted");
    }
    let e = Model::from_bytes(&bytes[..3]).unwrap_err().to_string();
    assert!(e.contains("3 bytes"), "{e}");
}

#[test]
fn wrong_identifier() {
    let mut bytes = fixture_bytes("cnn_float32.tflite");
    bytes[4..8].copy_from_slice(b"TFL2");
    let e = Model::from_bytes(&bytes).unwrap_err().to_string();
    assert!(e.contains("identifier") && e.contains("TFL2"), "{e}");
}

#[test]
fn vector_longer_than_the_file() {
    // Find the length prefix of the largest buffer's data and claim 2^31 - 1 bytes.
    let bytes = fixture_bytes("mlp_float32.tflite");
    let root = fb::root_as_model(&bytes).unwrap();
    let data = root
        .buffers()
        .unwrap()
        .iter()
        .filter_map(|b| b.data())
        .max_by_key(|d| d.len())
        .unwrap();
    let at = data.bytes().as_ptr() as usize - bytes.as_ptr() as usize - 4;
    let mut bad = bytes.clone();
    bad[at..at + 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let e = Model::from_bytes(&bad).unwrap_err().to_string();
    assert!(e.contains("verification failed"), "{e}");
}

#[test]
fn schema_version_and_empty_model() {
    error_of(|m| m.version = 2, &["schema version 2"]);
    error_of(|m| m.subgraphs = Some(vec![]), &["no subgraphs"]);
}

#[test]
fn buffer_index_out_of_range() {
    // (Metadata naming a missing buffer is only a warning: tests/lenient.rs.)
    error_of(|m| tensors(m)[3].buffer = 999, &["tensor 3", "buffer 999"]);
}

#[test]
fn opcode_index_out_of_range() {
    error_of(
        |m| ops(m)[2].opcode_index = 77,
        &["operator 2", "operator code 77"],
    );
}

#[test]
fn negative_builtin_code() {
    error_of(
        |m| {
            let oc = &mut m.operator_codes.as_mut().unwrap()[0];
            oc.builtin_code = fb::BuiltinOperator(-5);
            oc.deprecated_builtin_code = -5;
        },
        &["operator code 0", "negative"],
    );
}

#[test]
fn tensor_indices_out_of_range() {
    error_of(
        |m| ops(m)[1].inputs.as_mut().unwrap()[1] = 40,
        &["operator 1 (CONV_2D) input 1", "tensor 40", "17 tensors"],
    );
    error_of(
        |m| ops(m)[1].inputs.as_mut().unwrap()[0] = -7,
        &["operator 1", "tensor -7"],
    );
    error_of(
        |m| ops(m)[4].outputs.as_mut().unwrap()[0] = 17,
        &["operator 4 (AVERAGE_POOL_2D) output 0", "tensor 17"],
    );
    error_of(
        |m| ops(m)[0].intermediates = Some(vec![1000]),
        &["intermediate 0", "tensor 1000"],
    );
    error_of(|m| sg(m).inputs = Some(vec![99]), &["input 0", "tensor 99"]);
    error_of(|m| sg(m).outputs = Some(vec![-1]), &["outputs", "-1"]);
}

#[test]
fn negative_and_absurd_shapes() {
    error_of(
        |m| tensors(m)[9].shape = Some(vec![1, -8, 8, 16]),
        &["tensor 9", "negative dimension -8"],
    );
    error_of(
        |m| tensors(m)[9].shape = Some(vec![i32::MAX; 8]),
        &["tensor 9", "more elements than can be counted"],
    );
}

#[test]
fn data_size_disagrees_with_shape_and_dtype() {
    error_of(
        |m| tensors(m)[3].shape = Some(vec![10, 145]),
        &["tensor 3", "1440 bytes", "needs 1450"],
    );
    error_of(
        |m| tensors(m)[3].type_ = fb::TensorType::FLOAT32,
        &["tensor 3", "FLOAT32", "needs 5760"],
    );
}

#[test]
fn quantization_inconsistent() {
    error_of(
        |m| {
            tensors(m)[5]
                .quantization
                .as_mut()
                .unwrap()
                .quantized_dimension = 0
        },
        &["tensor 5", "16 scales", "dimension 0"],
    );
    error_of(
        |m| {
            tensors(m)[5]
                .quantization
                .as_mut()
                .unwrap()
                .quantized_dimension = 9
        },
        &["tensor 5", "quantized_dimension 9"],
    );
    error_of(
        |m| tensors(m)[8].quantization.as_mut().unwrap().zero_point = Some(vec![0, 1]),
        &["tensor 8", "1 scales but 2 zero points"],
    );
}

#[test]
fn cycles_and_dangling_references() {
    // Operators out of order: the conv now runs before the quantize that feeds it.
    error_of(
        |m| ops(m).swap(0, 1),
        &["reads tensor 8", "before operator 1 (QUANTIZE)"],
    );
    // A self-loop: the depthwise reads its own output.
    error_of(
        |m| ops(m)[2].inputs.as_mut().unwrap()[0] = 10,
        &["operator 2", "reads tensor 10"],
    );
    // A tensor nobody writes.
    error_of(
        |m| {
            let t = tensors(m);
            let mut extra = t[9].clone();
            extra.name = Some("orphan".into());
            t.push(extra);
            ops(m)[2].inputs.as_mut().unwrap()[0] = 17;
        },
        &["reads tensor 17 ('orphan')", "no operator writes"],
    );
    error_of(
        |m| ops(m)[3].outputs.as_mut().unwrap()[0] = 9,
        &["tensor 9", "written by operator 1 and again by operator 3"],
    );
    error_of(
        |m| ops(m)[3].outputs.as_mut().unwrap()[0] = 3,
        &["operator 3", "writes tensor 3", "a constant"],
    );
    error_of(
        |m| sg(m).operators.as_mut().unwrap().truncate(8),
        &["output tensor 16", "never written"],
    );
}

fn while_op(m: &mut fb::ModelT, cond: i32, body: i32) {
    let codes = m.operator_codes.as_mut().unwrap();
    let mut code = fb::OperatorCodeT::default();
    code.deprecated_builtin_code = fb::BuiltinOperator::WHILE.0 as i8;
    code.builtin_code = fb::BuiltinOperator::WHILE;
    code.version = 1;
    codes.push(code);
    let mut options = fb::WhileOptionsT::default();
    options.cond_subgraph_index = cond;
    options.body_subgraph_index = body;
    let mut op = fb::OperatorT::default();
    op.opcode_index = codes.len() as u32 - 1;
    op.inputs = Some(vec![16]);
    op.outputs = Some(vec![]);
    op.builtin_options = fb::BuiltinOptionsT::WhileOptions(Box::new(options));
    ops(m).push(op);
}

#[test]
fn subgraph_references() {
    error_of(
        |m| while_op(m, 0, 5),
        &["operator 9 (WHILE)", "subgraph 5", "1 subgraphs"],
    );
    error_of(|m| while_op(m, 0, 0), &["subgraph 0", "recursive"]);
}

#[test]
fn custom_op_without_code_and_large_options_outside_the_file() {
    error_of(
        |m| {
            let oc = &mut m.operator_codes.as_mut().unwrap()[0];
            oc.builtin_code = fb::BuiltinOperator::CUSTOM;
            oc.deprecated_builtin_code = 32;
            oc.custom_code = None;
        },
        &["CUSTOM op without a custom_code"],
    );
    error_of(
        |m| {
            ops(m)[0].large_custom_options_offset = 1 << 40;
            ops(m)[0].large_custom_options_size = 16;
        },
        &["operator 0", "large custom options", "outside"],
    );
    error_of(
        |m| {
            let b = &mut m.buffers.as_mut().unwrap()[1];
            b.data = None;
            b.offset = 1 << 33;
            b.size = 1 << 20;
        },
        &["buffer 1", "outside"],
    );
}

/// Deterministic xorshift, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_corruption_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for path in common::tflite_fixtures() {
        let bytes = std::fs::read(&path).unwrap();
        for _ in 0..300 {
            let mut bad = bytes.clone();
            let flips = 1 + rng.next() % 4;
            for _ in 0..flips {
                let at = (rng.next() % bad.len() as u64) as usize;
                bad[at] = rng.next() as u8;
            }
            // Ok or Err are both fine; a panic fails the test. An accepted file must write.
            if let Ok(m) = Model::from_bytes(&bad) {
                let again = Model::from_bytes(&m.to_bytes().unwrap()).unwrap();
                assert_eq!(again.to_bytes().unwrap(), m.to_bytes().unwrap());
            }
        }
    }
}

#[test]
fn fuzz_found_and_hand_made_files_are_rejected_cleanly() {
    let dir = common::fixtures().join("malformed");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries {
        let path = e.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(m) = Model::from_bytes(&bytes) {
            let again = Model::from_bytes(&m.to_bytes().unwrap()).unwrap();
            assert_eq!(
                again.to_bytes().unwrap(),
                m.to_bytes().unwrap(),
                "{}",
                path.display()
            );
        }
    }
}

/// The `prepare_model` fuzz target's finds (`fuzz-prepare-*.tflite`): each reads, prepares
/// on the reference engine under a small budget and runs on zeros, or fails cleanly — never
/// a panic (debug builds check integer overflow; LiteRT's int32 arithmetic wraps).
#[test]
fn fuzz_found_models_prepare_and_run_or_fail_cleanly() {
    use litequant::{Engine, ReferenceEngine, Session, Tensor};
    let dir = common::fixtures().join("malformed");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("fuzz-prepare-") {
            continue;
        }
        seen += 1;
        let Ok(m) = Model::from_bytes(&std::fs::read(&path).unwrap()) else {
            continue;
        };
        let Ok(mut s) = ReferenceEngine::default()
            .with_max_memory(16 << 20)
            .prepare(&m)
        else {
            continue;
        };
        let inputs: Vec<Tensor> = s
            .inputs()
            .iter()
            .map(|i| Tensor::zeros(i.dtype, &i.shape).unwrap())
            .collect();
        if let Err(e) = s.run(&inputs) {
            assert!(!e.to_string().is_empty(), "{name}");
        }
    }
    assert!(seen > 0);
}
