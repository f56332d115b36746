//! Read what LiteRT reads: files LiteRT loads that a careful writer would not produce load
//! here too, run as the clean file does, print a warning in `inspect`, and round-trip with
//! the oddity kept as it is (docs/reading.md lists every rule).
//!
//! Cases are edits of `cnn_int8.tflite` through the generated object API, plus a real file
//! written by ai-edge-quantizer 0.10 (tools/make_aeq_fixtures.py) with LiteRT's goldens.

mod common;

use std::process::Command;

use common::golden::{check_model, Outcome};
use litequant::model::LegacyMetadataBuffer;
use litequant::tflite::{fb, read_with_warnings};
use litequant::{Engine, Model, ReferenceEngine, Session, Tensor};

use common::fbedit::{fixture_bytes, pack, unpacked};

fn sg(m: &mut fb::ModelT) -> &mut fb::SubGraphT {
    &mut m.subgraphs.as_mut().unwrap()[0]
}

/// The outputs of a model on a fixed input (the digits cnn: one [1, 8, 8, 1] float image).
fn outputs(m: &Model) -> Vec<Tensor> {
    let mut s = ReferenceEngine::default().prepare(m).expect("prepare");
    let spec = &s.inputs()[0];
    let n: usize = spec.shape.iter().product();
    let x: Vec<f32> = (0..n).map(|i| (i % 17) as f32 / 16.0).collect();
    let input = Tensor::from_f32(&spec.shape, &x).unwrap();
    s.run(&[input]).expect("run")
}

/// An edited `cnn_int8.tflite` loads, warns (every needle in one warning), computes what the
/// unedited file computes and round-trips: the rewritten file warns the same way, reads back
/// equal, and writes the same bytes again. Returns the rewritten file.
fn lenient(edit: impl FnOnce(&mut fb::ModelT), needles: &[&str]) -> Vec<u8> {
    let clean = Model::from_bytes(&fixture_bytes("cnn_int8.tflite")).unwrap();
    let mut m = unpacked("cnn_int8.tflite");
    edit(&mut m);
    let (model, warnings) = read_with_warnings(&pack(&m)).expect("LiteRT loads this file");
    let has = |ws: &[String]| ws.iter().any(|w| needles.iter().all(|n| w.contains(n)));
    assert!(
        has(&warnings),
        "no warning with {needles:?} in {warnings:?}"
    );
    assert_eq!(outputs(&model), outputs(&clean));
    let bytes = model.to_bytes().unwrap();
    let (again, warnings_again) = read_with_warnings(&bytes).unwrap();
    assert!(
        has(&warnings_again),
        "lost in the round trip: {warnings_again:?}"
    );
    assert_eq!(again, model);
    assert_eq!(again.to_bytes().unwrap(), bytes);
    bytes
}

#[test]
fn the_clean_fixtures_have_no_warnings() {
    for path in common::tflite_fixtures() {
        let (_, w) = read_with_warnings(&std::fs::read(&path).unwrap()).unwrap();
        assert!(w.is_empty(), "{}: {w:?}", path.display());
    }
}

#[test]
fn metadata_buffer_past_the_end_or_negative() {
    let bytes = lenient(
        |m| {
            let real = m.metadata.as_ref().unwrap()[0].buffer as i32;
            m.metadata_buffer = Some(vec![172, -4, real]);
        },
        &["metadata_buffer entry 0", "buffer 172"],
    );
    let back = fb::root_as_model(&bytes).unwrap();
    let n = back.buffers().unwrap().len() as i32;
    let list: Vec<i32> = back.metadata_buffer().unwrap().iter().collect();
    assert_eq!(list[0], 172, "{list:?}");
    assert_eq!(list[1], -4, "{list:?}");
    assert!(
        list[2] > 0 && list[2] < n,
        "a real buffer stays a real one: {list:?}"
    );
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(
        m.legacy_metadata_buffers[..2],
        [
            LegacyMetadataBuffer::Dangling(172),
            LegacyMetadataBuffer::Dangling(-4)
        ]
    );
    lenient(
        |m| m.metadata_buffer = Some(vec![-4]),
        &["metadata_buffer entry 0", "buffer -4"],
    );
}

#[test]
fn metadata_entry_naming_a_missing_buffer() {
    let bytes = lenient(
        |m| m.metadata.as_mut().unwrap()[0].buffer = 500,
        &["metadata 0", "buffer 500", "ReadAllMetadata"],
    );
    let back = fb::root_as_model(&bytes).unwrap();
    let n = back.buffers().unwrap().len() as u32;
    let md = back.metadata().unwrap().get(0);
    assert!(md.buffer() >= n, "still dangling: {} of {n}", md.buffer());
}

#[test]
fn unused_operator_codes_are_kept() {
    let bytes = lenient(
        |m| {
            let mut code = fb::OperatorCodeT::default();
            code.builtin_code = fb::BuiltinOperator::ADD;
            code.deprecated_builtin_code = 0;
            code.version = 2;
            m.operator_codes.as_mut().unwrap().push(code);
            let mut custom = fb::OperatorCodeT::default();
            custom.builtin_code = fb::BuiltinOperator::CUSTOM;
            custom.deprecated_builtin_code = 32;
            custom.custom_code = Some("MyOp".into());
            custom.version = 1;
            m.operator_codes.as_mut().unwrap().insert(0, custom);
            for op in sg(m).operators.as_mut().unwrap() {
                op.opcode_index += 1;
            }
        },
        &["operator code ADD (version 2)", "used by no operator"],
    );
    let back = fb::root_as_model(&bytes).unwrap();
    let codes: Vec<(i32, Option<String>)> = back
        .operator_codes()
        .unwrap()
        .iter()
        .map(|c| (c.builtin_code().0, c.custom_code().map(str::to_string)))
        .collect();
    assert!(codes.contains(&(0, None)), "{codes:?}");
    assert!(codes.contains(&(32, Some("MyOp".into()))), "{codes:?}");
    // LiteRT refuses an unused code it cannot resolve, and so does litequant.
    let mut m = unpacked("cnn_int8.tflite");
    let mut code = fb::OperatorCodeT::default();
    code.builtin_code = fb::BuiltinOperator::CUSTOM;
    code.deprecated_builtin_code = 32;
    m.operator_codes.as_mut().unwrap().push(code);
    let e = Model::from_bytes(&pack(&m)).unwrap_err().to_string();
    assert!(
        e.contains("no operator uses") && e.contains("custom_code"),
        "{e}"
    );
}

#[test]
fn debug_metadata_index_out_of_range() {
    lenient(
        |m| sg(m).debug_metadata_index = 9,
        &["subgraph 0", "debug_metadata_index 9"],
    );
    lenient(
        |m| sg(m).operators.as_mut().unwrap()[2].debug_metadata_index = -7,
        &["operator 2", "debug_metadata_index -7"],
    );
}

#[test]
fn signatures_naming_what_is_not_there() {
    lenient(
        |m| m.signature_defs.as_mut().unwrap()[0].subgraph_index = 3,
        &["signature 0", "subgraph 3"],
    );
    let bytes = lenient(
        |m| {
            m.signature_defs.as_mut().unwrap()[0]
                .inputs
                .as_mut()
                .unwrap()[0]
                .tensor_index = 123
        },
        &["signature 0", "input 'image'", "tensor 123"],
    );
    let back = fb::root_as_model(&bytes).unwrap();
    let sig = back.signature_defs().unwrap().get(0);
    assert_eq!(sig.inputs().unwrap().get(0).tensor_index(), 123);
}

#[test]
fn shape_signature_below_minus_one() {
    lenient(
        |m| sg(m).tensors.as_mut().unwrap()[9].shape_signature = Some(vec![1, -2, 8, 16]),
        &["tensor 9", "shape_signature [1, -2, 8, 16]"],
    );
}

#[test]
fn buffer_0_with_data_is_no_tensor_data() {
    // LiteRT reads no tensor data from buffer 0: a tensor naming it is an activation. Here
    // the model input names buffer 0, which holds bytes of the input's size.
    let mut m = unpacked("cnn_int8.tflite");
    let input = sg(&mut m).inputs.as_ref().unwrap()[0] as usize;
    sg(&mut m).tensors.as_mut().unwrap()[input].buffer = 0;
    m.buffers.as_mut().unwrap()[0].data = Some(vec![1; 64 * 4]);
    let (model, w) = read_with_warnings(&pack(&m)).unwrap();
    assert!(
        w.iter().any(|w| w.contains("buffer 0 holds 256 bytes")),
        "{w:?}"
    );
    assert!(model.main().tensors[input].data.is_none());
    let clean = Model::from_bytes(&fixture_bytes("cnn_int8.tflite")).unwrap();
    assert_eq!(model, clean);
}

#[test]
fn an_unread_buffer_outside_the_file_is_no_error() {
    // LiteRT checks the offsets of the buffers tensors name only (ParseTensors).
    lenient(
        |m| {
            let mut b = fb::BufferT::default();
            b.offset = 1 << 40;
            b.size = 16;
            m.buffers.as_mut().unwrap().push(b);
            let n = m.buffers.as_ref().unwrap().len() as u32;
            m.metadata.as_mut().unwrap()[0].buffer = n - 1;
        },
        &["metadata 0", "cannot read"],
    );
}

/// The real thing: ai-edge-quantizer 0.10's `weight_only_wi8_afp32` output, whose
/// `metadata_buffer` names buffers 16 and 17 of 10. LiteRT loads and runs it; so does
/// litequant, equal to LiteRT's BUILTIN_REF goldens on every recorded tensor.
#[test]
fn ai_edge_quantizer_file_loads_runs_and_round_trips() {
    let dir = common::fixtures().join("aeq");
    let path = dir.join("cnn_weight_only_wi8.tflite");
    let (model, warnings) = read_with_warnings(&std::fs::read(&path).unwrap()).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("metadata_buffer entry 0 refers to buffer 16")),
        "{warnings:?}"
    );
    match check_model(&path, &dir.join("cnn_weight_only_wi8.npz")) {
        Outcome::Pass { compared } => assert!(compared >= 4 * 11, "{compared}"),
        Outcome::Unsupported(e) => panic!("unsupported: {e}"),
        Outcome::Fail(f) => panic!("{}", f.join("\n")),
    }
    let bytes = model.to_bytes().unwrap();
    let again = Model::from_bytes(&bytes).unwrap();
    assert_eq!(again, model);
    assert_eq!(
        fb::root_as_model(&bytes)
            .unwrap()
            .metadata_buffer()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        vec![16, 17]
    );
}

#[test]
fn inspect_prints_the_warnings() {
    let path = common::fixtures().join("aeq/cnn_weight_only_wi8.tflite");
    let out = Command::new(env!("CARGO_BIN_EXE_litequant"))
        .args(["inspect", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("warnings (2;"), "{text}");
    assert!(
        text.contains("warning: metadata_buffer entry 1 refers to buffer 17"),
        "{text}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_litequant"))
        .args(["inspect", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["warnings"].as_array().unwrap().len(), 2, "{json}");
}
