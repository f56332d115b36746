//! float16 quantization against the TensorFlow Lite converter: for every fixture pair the
//! converter made from one Keras model / function (`*_float32` + `*_float16`, `*_f32` +
//! `*_f16`), converting the float model gives the converter's model: the same operators
//! (the DEQUANTIZEs first, in the converter's order) with the same options and versions,
//! every tensor's name, type, shape and data bytes (FLOAT16 weights and biases), the same
//! metadata bytes (`min_runtime_version`, `reduced_precision_support`,
//! `CONVERSION_METADATA` with its structure hash). The result runs bit-identically to the
//! converter's model on the reference engine, matches the converter model's LiteRT
//! goldens, and survives `to_bytes`/`from_bytes`.

mod common;
mod quantize_common;

use common::golden::{check_model, Outcome};
use litequant::quant::passes::metadata::{ConversionMetadata, CONVERSION_METADATA};
use litequant::quant::quantize_float16;
use litequant::Model;
use quantize_common::{diffs, pairs, same_results, temp_path};

fn float16_pairs() -> Vec<quantize_common::Pair> {
    let v = pairs("float16", "f16");
    assert!(
        v.len() >= 7,
        "expected cnn, mlp and 5 op pairs, found {}",
        v.len()
    );
    v
}

#[test]
fn the_converters_float16_models_are_reproduced_exactly() {
    let mut problems = Vec::new();
    for p in float16_pairs() {
        let float = Model::from_file(&p.float).unwrap();
        let theirs = Model::from_file(&p.quantized).unwrap();
        let ours = quantize_float16(&float).unwrap();
        let d = diffs(&ours, &theirs);
        if !d.is_empty() {
            problems.push(format!("{}:\n    {}", p.name, d.join("\n    ")));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn quantized_models_run_like_the_converters() {
    for p in float16_pairs() {
        let float = Model::from_file(&p.float).unwrap();
        let theirs = Model::from_file(&p.quantized).unwrap();
        let ours = quantize_float16(&float).unwrap();
        // Written and read back unchanged.
        let bytes = ours.to_bytes().unwrap();
        assert_eq!(Model::from_bytes(&bytes).unwrap(), ours, "{}", p.name);
        // Bit-identical to the converter's model on the reference engine.
        let n = same_results(&ours, &theirs, &p.golden);
        assert!(n > 0, "{}", p.name);
        // And LiteRT's BUILTIN_REF goldens of the converter's model hold for ours.
        let path = temp_path(&p.name);
        ours.write_file(&path).unwrap();
        let outcome = check_model(&path, &p.golden);
        std::fs::remove_file(&path).ok();
        match outcome {
            Outcome::Pass { compared } => assert!(compared > 0),
            Outcome::Unsupported(e) => panic!("{}: {e}", p.name),
            Outcome::Fail(f) => panic!("{}: {}", p.name, f.join("\n")),
        }
    }
}

#[test]
fn conversion_metadata_is_the_converters() {
    for p in float16_pairs() {
        let theirs = Model::from_file(&p.quantized).unwrap();
        let bytes = &theirs.metadata(CONVERSION_METADATA).unwrap().data;
        let cm = ConversionMetadata::parse(bytes).unwrap();
        assert_eq!(cm.modes.as_deref(), Some(&[1001][..]), "{}", p.name);
        // Our encoder writes the converter's bytes, and our hash is the converter's.
        assert_eq!(&cm.to_bytes()[..], &bytes[..], "{}", p.name);
        assert_eq!(
            litequant::quant::passes::metadata::model_hash(&theirs),
            cm.model_hash,
            "{}",
            p.name
        );
    }
}

/// Every float fixture (90+ single-op models, the CNN, the MLP, old-style op codes, a
/// custom op): the float16 model validates, survives `to_bytes`/`from_bytes`, has no
/// float32 constant left that an operator reads, and runs on the reference engine
/// wherever the float model does, within float16 rounding of the float model's outputs.
#[test]
fn every_float_fixture_converts_and_runs() {
    let mut ran = 0;
    for (name, path, golden) in quantize_common::float_models() {
        let float = Model::from_file(&path).unwrap();
        let h = quantize_float16(&float).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            Model::from_bytes(&h.to_bytes().unwrap()).unwrap(),
            h,
            "{name}"
        );
        let sg = h.main();
        for op in &sg.operators {
            for t in op.input_tensors() {
                let t = &sg.tensors[t];
                assert!(
                    !(t.data.is_some() && t.dtype == litequant::model::DType::F32),
                    "{name}: {} still reads float32 constant '{}'",
                    op.op.name(),
                    t.name
                );
            }
        }
        let Some(golden) = golden else { continue };
        let Some(want) = quantize_common::run_first_sample(&float, &golden) else {
            continue;
        };
        let got = quantize_common::run_first_sample(&h, &golden)
            .unwrap_or_else(|| panic!("{name}: the float model runs, the float16 one does not"));
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.shape(), w.shape(), "{name}");
            if let (Some(g), Some(w)) = (g.as_f32(), w.as_f32()) {
                let scale = w.iter().fold(0f32, |m, x| m.max(x.abs()));
                for (a, b) in g.iter().zip(w) {
                    assert!(
                        (a - b).abs() <= 1e-2 * scale + 1e-3,
                        "{name}: float16 output {a} vs float {b} (scale {scale})"
                    );
                }
            }
        }
        ran += 1;
    }
    assert!(ran >= 95, "only {ran} models ran");
}

/// The shape ops (SPLIT ... BROADCAST_TO, CAST) are left as they are by the float16 and
/// dynamic-range modes: every one of them in every float fixture stays, with the same
/// tensor types, and the quantized model runs to the float model's outputs where no other
/// op's constant became float16.
#[test]
fn float16_and_dynamic_modes_leave_the_shape_ops_as_they_are() {
    use litequant::model::code;
    use litequant::quant::{quantize_dynamic, DynamicOptions};
    let shape_ops = [
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
    let signature = |m: &Model| -> Vec<(i32, Vec<String>)> {
        let sg = m.main();
        sg.operators
            .iter()
            .filter(|o| shape_ops.contains(&o.op.code()))
            .map(|o| {
                let types = o
                    .input_tensors()
                    .chain(o.output_tensors())
                    .map(|t| sg.tensors[t].dtype.to_string())
                    .collect();
                (o.op.code(), types)
            })
            .collect()
    };
    let mut checked = 0;
    for (name, path, golden) in quantize_common::float_models() {
        let float = Model::from_file(&path).unwrap();
        let want = signature(&float);
        if want.is_empty() {
            continue;
        }
        let golden = golden.expect("op fixtures have goldens");
        let base = quantize_common::run_first_sample(&float, &golden).expect(&name);
        for q in [
            quantize_float16(&float).unwrap(),
            quantize_dynamic(&float, &DynamicOptions::default()).unwrap(),
        ] {
            assert_eq!(signature(&q), want, "{name}");
            let got = quantize_common::run_first_sample(&q, &golden).expect(&name);
            // Equal results unless another op's float constant became float16 (a MUL by
            // 3e9 is a MUL by 65504 in float16).
            let halved = q
                .main()
                .tensors
                .iter()
                .any(|t| t.dtype == litequant::model::DType::F16 && t.data.is_some());
            if !halved {
                assert_eq!(got, base, "{name}");
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 30,
        "only {checked} float fixtures with shape ops"
    );
}
