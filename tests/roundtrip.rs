//! Lossless read/write on the real converter's files.
//!
//! `tests/fixtures/roundtrip/NAME.tflite` are files this writer produced that
//! `tools/verify_roundtrip.py` ran in LiteRT (reference and default kernels) with outputs
//! identical to the original's and a structure equal field by field; this test pins the
//! writer to those LiteRT-checked bytes.

mod common;

use litequant::model::{code, Op};
use litequant::Model;

#[test]
fn read_write_read_is_equal_for_every_fixture() {
    for path in common::tflite_fixtures() {
        let bytes = std::fs::read(&path).unwrap();
        let m = Model::from_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written = m.to_bytes().unwrap();
        let again = Model::from_bytes(&written).unwrap();
        assert_eq!(m, again, "{}", path.display());
        // Writing is deterministic and idempotent.
        assert_eq!(again.to_bytes().unwrap(), written, "{}", path.display());
    }
}

#[test]
fn writer_reproduces_the_litert_checked_files() {
    for path in common::tflite_fixtures() {
        let name = common::stem(&path);
        let checked = common::fixtures()
            .join("roundtrip")
            .join(format!("{name}.tflite"));
        let expected = std::fs::read(&checked).unwrap_or_else(|e| {
            panic!("{}: {e} (run tools/verify_roundtrip.py)", checked.display())
        });
        let written = Model::from_file(&path).unwrap().to_bytes().unwrap();
        assert!(
            written == expected,
            "{name}: writer output differs from the LiteRT-checked file"
        );
    }
}

#[test]
fn written_files_follow_the_format_conventions() {
    use litequant::tflite::fb;
    for path in common::tflite_fixtures() {
        let written = Model::from_file(&path).unwrap().to_bytes().unwrap();
        let root = fb::root_as_model(&written).unwrap();
        let buffers = root.buffers().unwrap();
        let b0 = buffers.get(0);
        assert!(
            b0.data().is_none_or(|d| d.is_empty()),
            "buffer 0 must be empty"
        );
        let base = written.as_ptr() as usize;
        for b in buffers.iter() {
            if let Some(d) = b.data().filter(|d| !d.is_empty()) {
                let off = d.bytes().as_ptr() as usize - base;
                assert_eq!(
                    off % 16,
                    0,
                    "{}: buffer data at offset {off}",
                    path.display()
                );
            }
        }
        let mut seen = std::collections::HashSet::new();
        for oc in root.operator_codes().unwrap() {
            let c = oc.builtin_code().0;
            assert_eq!(oc.deprecated_builtin_code() as i32, c.min(127));
            assert!(seen.insert((c, oc.custom_code().map(str::to_string), oc.version())));
        }
    }
}

#[test]
fn deprecated_only_opcodes_read_as_the_real_ops() {
    let dep = Model::from_file(common::fixtures().join("deprecated_opcodes.tflite")).unwrap();
    let cnn = Model::from_file(common::fixtures().join("cnn_float32.tflite")).unwrap();
    let ops = |m: &Model| {
        m.main()
            .operators
            .iter()
            .map(|o| o.op.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ops(&dep), ops(&cnn));
    assert!(matches!(dep.main().operators[0].op, Op::Conv2D(_)));
}

#[test]
fn typed_ops_and_opaque_custom_op() {
    let cnn = Model::from_file(common::fixtures().join("cnn_int8.tflite")).unwrap();
    let names: Vec<String> = cnn.main().operators.iter().map(|o| o.op.name()).collect();
    assert_eq!(
        names,
        [
            "QUANTIZE",
            "CONV_2D",
            "DEPTHWISE_CONV_2D",
            "MAX_POOL_2D",
            "AVERAGE_POOL_2D",
            "RESHAPE",
            "FULLY_CONNECTED",
            "SOFTMAX",
            "DEQUANTIZE"
        ]
    );
    assert!(cnn
        .main()
        .operators
        .iter()
        .all(|o| !matches!(o.op, Op::Other(_))));
    match &cnn.main().operators[1].op {
        Op::Conv2D(c) => assert_eq!((c.stride_w, c.stride_h, c.dilation_w), (1, 1, 1)),
        other => panic!("{other:?}"),
    }

    let custom = Model::from_file(common::fixtures().join("custom_op.tflite")).unwrap();
    let op = custom
        .main()
        .operators
        .iter()
        .find_map(|o| match &o.op {
            Op::Other(x) if x.code == code::CUSTOM => Some(x.clone()),
            _ => None,
        })
        .expect("a custom op");
    assert_eq!(op.custom_code.as_deref(), Some("Cumprod"));
    assert!(
        !op.custom_options.is_empty(),
        "custom options bytes are kept"
    );
    let back = Model::from_bytes(&custom.to_bytes().unwrap()).unwrap();
    assert_eq!(back, custom);
}

#[test]
fn metadata_and_signatures_survive() {
    let m = Model::from_file(common::fixtures().join("mlp_int8.tflite")).unwrap();
    let conv = m
        .metadata("CONVERSION_METADATA")
        .expect("converter metadata");
    assert!(!conv.data.is_empty());
    assert!(m.metadata("min_runtime_version").is_some());
    assert_eq!(m.signature_defs[0].key, "serving_default");
}

/// The reductions and LOG read as typed ops with the converter's options and survive a write
/// unchanged (every op fixture holding one; the writer re-emits `ReducerOptions` and LOG's
/// absent options table as read).
#[test]
fn reductions_and_log_round_trip_typed() {
    let dir = common::fixtures().join("ops");
    let mut seen = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = common::stem(&path);
        let wanted = [
            "sum_",
            "reduce_max_",
            "reduce_min_",
            "reduce_prod_",
            "log_",
            "log.",
        ];
        if path.extension().is_none_or(|e| e != "tflite")
            || !wanted.iter().any(|w| name.starts_with(w) || name == "log")
        {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let m = Model::from_bytes(&bytes).unwrap();
        for op in &m.main().operators {
            let keep = match &op.op {
                Op::Sum { keep_dims }
                | Op::ReduceMax { keep_dims }
                | Op::ReduceMin { keep_dims }
                | Op::ReduceProd { keep_dims } => Some(*keep_dims),
                Op::Log => None,
                Op::Other(o) => panic!("{name}: {} read untyped", o.code),
                _ => continue,
            };
            // keep_dims as the converter set it: the output keeps the input's rank.
            if let Some(k) = keep {
                let sg = m.main();
                let rank = |t: i32| sg.tensors[t as usize].shape.len();
                let same_rank = rank(op.inputs[0]) == rank(op.outputs[0]);
                assert_eq!(k, same_rank, "{name}: keep_dims");
            }
            *seen.entry(op.op.name()).or_insert(0) += 1;
        }
        let again = Model::from_bytes(&m.to_bytes().unwrap()).unwrap();
        assert_eq!(m, again, "{name}");
    }
    let names: Vec<&str> = seen.keys().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        ["LOG", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "SUM"],
        "{seen:?}"
    );
}

/// The shape ops' converter files (SPLIT ... BROADCAST_TO) read as typed ops, with their
/// options, and read → write → read is equal (the written files were also compared with the
/// originals field by field with the schema's Python object API while adding the ops: equal
/// up to buffer numbering).
#[test]
fn shape_op_fixtures_read_as_typed_ops_and_round_trip() {
    let typed = [
        code::SPLIT,
        code::SPLIT_V,
        code::PACK,
        code::UNPACK,
        code::GATHER,
        code::EXPAND_DIMS,
        code::CAST,
        code::SHAPE,
        code::FILL,
        code::ZEROS_LIKE,
        code::BROADCAST_TO,
    ];
    let dir = common::fixtures().join("ops");
    let mut seen = std::collections::HashSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "tflite") {
            continue;
        }
        let m = Model::from_file(&path).unwrap();
        let mut has = false;
        for op in &m.main().operators {
            if typed.contains(&op.op.code()) {
                assert!(
                    !matches!(op.op, Op::Other(_)),
                    "{}: {:?}",
                    path.display(),
                    op.op
                );
                seen.insert(op.op.code());
                has = true;
            }
        }
        if has {
            let written = m.to_bytes().unwrap();
            let again = Model::from_bytes(&written).unwrap();
            assert_eq!(m, again, "{}", path.display());
            assert_eq!(again.to_bytes().unwrap(), written, "{}", path.display());
        }
    }
    assert_eq!(
        seen.len(),
        typed.len(),
        "every shape op has a fixture: {seen:?}"
    );
}
