//! Custom ops registered from the library (`litequant::custom`), on MediaPipe's
//! `Convolution2DTransposeBias` (`tools/make_custom_op_fixtures.py`, kernel in
//! `examples/custom_op.rs`): the custom-op model run with the registered kernel equals
//! LiteRT's BUILTIN_REF results of the builtin model it was made from, every tensor to the
//! bit; calibration runs through the op; int8 quantization keeps it float between DEQUANTIZE
//! and QUANTIZE, and the quantized file run with the kernel equals LiteRT's run of the same
//! file with the op written back as TRANSPOSE_CONV; without a kernel, the library and the CLI
//! say which op is missing and how to register one.

mod common;

#[allow(dead_code)]
#[path = "../examples/custom_op.rs"]
mod example;

use std::path::PathBuf;
use std::process::Command;

use common::golden::{check_model_on, Outcome};
use example::{TransposeConvBias, NAME};
use litequant::model::{DType, Op, Padding};
use litequant::quant::{quantize, QuantizeOptions};
use litequant::{ConverterFloatEngine, Engine, Error, Model, ReferenceEngine, Session, Tensor};

fn fixture(name: &str) -> PathBuf {
    common::fixtures().join("custom").join(name)
}

fn engine() -> ReferenceEngine {
    ReferenceEngine::default().with_custom_op(NAME, TransposeConvBias)
}

/// Every tensor bit-exact (floats too: atol = rtol = 0); at least `min` values compared.
fn assert_exact<E: Engine>(engine: &E, model: &str, golden: &str, min: usize) {
    match check_model_on(engine, &fixture(model), &fixture(golden), 0.0, 0.0) {
        Outcome::Pass { compared } => assert!(compared >= min, "{model}: {compared} compared"),
        Outcome::Unsupported(e) => panic!("{model}: unsupported: {e}"),
        Outcome::Fail(f) => panic!("{model}: {} differ:\n{}", f.len(), f.join("\n")),
    }
}

fn custom_ops(m: &Model) -> Vec<(usize, &litequant::model::OtherOp)> {
    m.main()
        .operators
        .iter()
        .enumerate()
        .filter_map(|(k, op)| match &op.op {
            Op::Other(o) if o.custom_code.as_deref() == Some(NAME) => Some((k, o)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_fixture_carries_the_op_as_mediapipe_stores_it() {
    let m = Model::from_file(fixture("mediapipe_f32.tflite")).unwrap();
    let ops = custom_ops(&m);
    assert_eq!(ops.len(), 2);
    // TfLiteTransposeConvParams { padding (1 SAME, 2 VALID), stride_width, stride_height }.
    let words = |b: &[u8]| -> Vec<i32> {
        b.chunks(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    assert_eq!(words(&ops[0].1.custom_options), [1, 2, 2]);
    assert_eq!(words(&ops[1].1.custom_options), [2, 2, 2]);
    for (k, o) in &ops {
        assert_eq!(o.custom_options_format, 0);
        assert!(o.options.name().is_none(), "no builtin options");
        assert_eq!(
            m.main().operators[*k].inputs.len(),
            3,
            "input, weights, bias"
        );
    }
    // The builtin twin has TRANSPOSE_CONVs where the custom ops are, with these options.
    let b = Model::from_file(fixture("builtin_f32.tflite")).unwrap();
    let pads: Vec<Padding> = b
        .main()
        .operators
        .iter()
        .filter_map(|op| match &op.op {
            Op::TransposeConv(o) => Some(o.padding),
            _ => None,
        })
        .collect();
    assert_eq!(pads, [Padding::Same, Padding::Valid]);
}

#[test]
fn the_registered_kernel_equals_litert_on_the_builtin_model() {
    // 3 samples × (output + 4 activations).
    assert_exact(&engine(), "mediapipe_f32.tflite", "builtin_f32.npz", 15);
    let converter = ConverterFloatEngine::default().with_custom_op(NAME, TransposeConvBias);
    // The converter-order engine runs the op too (its TRANSPOSE_CONV order differs).
    let m = Model::from_file(fixture("mediapipe_f32.tflite")).unwrap();
    let x = Tensor::from_f32(&[1, 4, 4, 3], &[0.25; 48]).unwrap();
    let a = converter
        .prepare(&m)
        .unwrap()
        .run(std::slice::from_ref(&x))
        .unwrap();
    let b = engine().prepare(&m).unwrap().run(&[x]).unwrap();
    let (a, b) = (a[0].as_f32().unwrap(), b[0].as_f32().unwrap());
    assert!(a.iter().zip(b).all(|(p, q)| (p - q).abs() <= 1e-5));
}

#[test]
fn without_a_kernel_the_error_names_the_op_and_how_to_register_one() {
    let m = Model::from_file(fixture("mediapipe_f32.tflite")).unwrap();
    for e in [
        ReferenceEngine.prepare(&m).err().unwrap(),
        ConverterFloatEngine.prepare(&m).err().unwrap(),
        // Registered under another name only.
        ReferenceEngine::default()
            .with_custom_op("Other", TransposeConvBias)
            .prepare(&m)
            .err()
            .unwrap(),
    ] {
        let msg = e.to_string();
        assert!(
            matches!(&e, Error::MissingCustomOp { index: 1, name } if name == NAME),
            "{e:?}"
        );
        for part in [
            "operator 1",
            "'Convolution2DTransposeBias'",
            "litequant::custom::CustomOp",
            "with_custom_op(\"Convolution2DTransposeBias\"",
        ] {
            assert!(msg.contains(part), "{part}: {msg}");
        }
    }
}

#[test]
fn a_failing_kernel_is_an_error_naming_the_op() {
    // The weights' options cut to 8 bytes: the kernel's own typed error, with the op named.
    let mut m = Model::from_file(fixture("mediapipe_f32.tflite")).unwrap();
    if let Op::Other(o) = &mut m.subgraphs[0].operators[1].op {
        o.custom_options.truncate(8);
    }
    let e = engine().prepare(&m).err().unwrap();
    assert!(
        matches!(
            &e,
            Error::CustomOp {
                source: litequant::custom::CustomOpError::Options(_),
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("operator 1 (Convolution2DTransposeBias): invalid custom options: 8 bytes"),
        "{msg}"
    );
}

#[test]
fn the_gpu_engine_refuses_custom_ops() -> litequant::Result<()> {
    let Some(ctx) = litequant::gpu::context_or_skip("the_gpu_engine_refuses_custom_ops")? else {
        return Ok(());
    };
    let m = Model::from_file(fixture("mediapipe_f32.tflite"))?;
    let e = litequant::gpu::GpuEngine::new(ctx)
        .prepare(&m)
        .err()
        .unwrap();
    let msg = e.to_string();
    assert!(
        msg.contains("operator 1 is the custom op 'Convolution2DTransposeBias'")
            && msg.contains("GPU engine does not run custom ops"),
        "{msg}"
    );
    Ok(())
}

fn calibrated() -> (Model, litequant::Stats) {
    let m = Model::from_file(fixture("mediapipe_f32.tflite")).unwrap();
    let engine = engine();
    let inputs = engine.prepare(&m).unwrap().inputs().to_vec();
    let mut data =
        litequant::data::open(fixture("calib.npy"), &inputs, &Default::default()).unwrap();
    let stats = litequant::calibrate(&m, &engine, &mut data, &Default::default()).unwrap();
    (m, stats)
}

#[test]
fn calibration_runs_through_the_op_and_int8_keeps_it_float() {
    let (m, stats) = calibrated();
    assert_eq!(stats.samples, 16);
    // The custom ops' outputs have ranges (and the conv reading the first one).
    for (k, _) in custom_ops(&m) {
        let out = m.main().operators[k].outputs[0] as usize;
        assert!(stats.tensors[&out].has_range(), "output of operator {k}");
    }
    // Without the kernel, calibration fails at prepare like a run.
    let inputs = engine().prepare(&m).unwrap().inputs().to_vec();
    let mut data =
        litequant::data::open(fixture("calib.npy"), &inputs, &Default::default()).unwrap();
    let e = litequant::calibrate(&m, &ReferenceEngine, &mut data, &Default::default());
    assert!(matches!(e, Err(Error::MissingCustomOp { .. })));

    let (q, report) = quantize(&m, Some(&stats), &QuantizeOptions::int8()).unwrap();
    let floats: Vec<(usize, &litequant::model::OpKind)> =
        report.float_ops.iter().map(|f| (f.index, &f.op)).collect();
    let custom = litequant::model::OpKind::Custom(NAME.into());
    assert_eq!(floats, [(1, &custom), (3, &custom)]);
    let names: Vec<String> = q.main().operators.iter().map(|o| o.op.name()).collect();
    assert_eq!(
        names,
        [
            "QUANTIZE",
            "CONV_2D",
            "DEQUANTIZE",
            NAME,
            "QUANTIZE",
            "CONV_2D",
            "DEQUANTIZE",
            NAME
        ]
    );
    let sg = q.main();
    for (k, o) in custom_ops(&q) {
        let op = &sg.operators[k];
        // Options kept; reads a DEQUANTIZE's float32 output and float32 constants.
        assert_eq!(o.custom_options, custom_ops(&m)[k / 4].1.custom_options);
        let input = op.inputs[0];
        assert!(
            sg.operators[k - 1].outputs == [input],
            "DEQUANTIZE before {k}"
        );
        assert!(matches!(sg.operators[k - 1].op, Op::Dequantize));
        for &t in &op.inputs {
            assert_eq!(sg.tensors[t as usize].dtype, DType::F32);
        }
        for &t in &op.inputs[1..] {
            assert!(sg.tensors[t as usize].data.is_some(), "constant {t}");
        }
    }
    // The first op's float output is requantized for the int8 CONV_2D after it.
    assert!(matches!(sg.operators[4].op, Op::Quantize));
    assert_eq!(sg.operators[4].inputs, sg.operators[3].outputs);
    assert_eq!(
        sg.tensors[sg.operators[4].outputs[0] as usize].dtype,
        DType::I8
    );

    // The committed file is this one (written by `examples/custom_op.rs`), and its
    // LiteRT goldens come from the same file with the op written back as TRANSPOSE_CONV.
    let bytes = q.to_bytes().unwrap();
    let committed = std::fs::read(fixture("mediapipe_int8.tflite")).unwrap();
    assert!(
        bytes == committed,
        "quantizing differs from tests/fixtures/custom/mediapipe_int8.tflite"
    );
    Model::from_bytes(&bytes).unwrap();
    // 3 samples × (output + 7 activations): int8 bit for bit, floats to the bit too.
    assert_exact(&engine(), "mediapipe_int8.tflite", "mediapipe_int8.npz", 24);

    // int8-only cannot keep it float: the error names both ops.
    let e = quantize(&m, Some(&stats), &QuantizeOptions::int8_only())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("operator 1 (Convolution2DTransposeBias)")
            && e.contains("operator 3 (Convolution2DTransposeBias)"),
        "{e}"
    );
}

#[test]
fn dynamic_and_float16_leave_the_op_as_it_is() {
    let m = Model::from_file(fixture("mediapipe_f32.tflite")).unwrap();
    let x = Tensor::from_f32(
        &[1, 4, 4, 3],
        &(0..48).map(|i| (i as f32 / 24.0) - 1.0).collect::<Vec<_>>(),
    )
    .unwrap();
    let want = engine()
        .prepare(&m)
        .unwrap()
        .run(std::slice::from_ref(&x))
        .unwrap();
    // Weights of every size quantized, so that a rule that touched the op's would show.
    let dynamic = litequant::quant::quantize_dynamic(
        &m,
        &litequant::quant::DynamicOptions {
            min_elements: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let float16 = litequant::quant::quantize_float16(&m).unwrap();
    for (mode, q) in [("dynamic", &dynamic), ("float16", &float16)] {
        let ops = custom_ops(q);
        assert_eq!(ops.len(), 2, "{mode}");
        for ((k, o), (_, was)) in ops.iter().zip(custom_ops(&m)) {
            assert_eq!(o.custom_options, was.custom_options, "{mode}");
            for &t in &q.main().operators[*k].inputs {
                assert_eq!(
                    q.main().tensors[t as usize].dtype,
                    DType::F32,
                    "{mode} op {k}"
                );
            }
        }
        let got = engine()
            .prepare(q)
            .unwrap()
            .run(std::slice::from_ref(&x))
            .unwrap();
        let (a, b) = (want[0].as_f32().unwrap(), got[0].as_f32().unwrap());
        let err = a
            .iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.05, "{mode}: {err}");
    }
    // dynamic: the custom ops read their float32 constants directly (the CONV_2D weights
    // became int8).
    let sg = dynamic.main();
    for (k, _) in custom_ops(&dynamic) {
        for &t in &sg.operators[k].inputs[1..] {
            assert!(
                sg.tensors[t as usize].data.is_some(),
                "dynamic op {k} input {t}"
            );
        }
    }
    assert!(sg.tensors.iter().any(|t| t.dtype == DType::I8));
    // float16: as the converter does for every float32 constant an op reads
    // (prepare_quantize_dynamic_range.cc, getQuantizableOps in DT_HALF), the op's weights
    // and bias are FLOAT16 constants behind DEQUANTIZE ops.
    let sg = float16.main();
    for (k, _) in custom_ops(&float16) {
        for &t in &sg.operators[k].inputs[1..] {
            let producer = sg
                .operators
                .iter()
                .find(|o| o.outputs == [t])
                .unwrap_or_else(|| panic!("float16 op {k} input {t} has no producer"));
            assert!(matches!(producer.op, Op::Dequantize));
            assert_eq!(sg.tensors[producer.inputs[0] as usize].dtype, DType::F16);
        }
    }
}

fn cli(args: &[&str]) -> (bool, String) {
    let res = Command::new(env!("CARGO_BIN_EXE_litequant"))
        .args(args)
        .output()
        .unwrap();
    (
        res.status.success(),
        String::from_utf8_lossy(&res.stderr).into_owned(),
    )
}

#[test]
fn the_cli_says_it_cannot_load_custom_kernels() {
    let dir = common::TempDir::new("custom_op_cli");
    let model = fixture("mediapipe_f32.tflite");
    let model = model.to_str().unwrap();
    let calib = fixture("calib.npy");
    let out = dir.join("q.tflite");
    let x = dir.join("x.npy");
    let y = dir.join("y.npz");
    std::fs::write(
        &x,
        litequant::data::npy_bytes(&Tensor::from_f32(&[1, 4, 4, 3], &[0.5; 48]).unwrap()),
    )
    .unwrap();
    for args in [
        vec![
            "run",
            model,
            "--input",
            x.to_str().unwrap(),
            "-o",
            y.to_str().unwrap(),
        ],
        vec![
            "quantize",
            model,
            "-o",
            out.to_str().unwrap(),
            "--calib",
            calib.to_str().unwrap(),
        ],
    ] {
        let (ok, stderr) = cli(&args);
        assert!(!ok, "{args:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        for part in [
            "operator 1 is the custom op 'Convolution2DTransposeBias'",
            "with_custom_op",
            "command line cannot load custom kernels",
        ] {
            assert!(stderr.contains(part), "{args:?}: {part}: {stderr}");
        }
    }
    // Dynamic range and float16 need no kernel.
    for mode in ["dynamic", "float16"] {
        let (ok, stderr) = cli(&[
            "quantize",
            model,
            "-o",
            out.to_str().unwrap(),
            "--mode",
            mode,
        ]);
        assert!(ok, "{mode}: {stderr}");
        let q = Model::from_file(&out).unwrap();
        assert_eq!(custom_ops(&q).len(), 2, "{mode}");
    }
}

/// A kernel that misbehaves at run: `Wrong::Shape` returns its output reshaped,
/// `Wrong::Fails` an error of its own.
enum Wrong {
    Shape,
    Fails,
}

impl litequant::custom::CustomOp for Wrong {
    fn prepare(
        &self,
        _node: &litequant::custom::CustomNode<'_>,
    ) -> Result<Box<dyn litequant::custom::CustomKernel>, litequant::custom::CustomOpError> {
        Ok(Box::new(match self {
            Wrong::Shape => Wrong::Shape,
            Wrong::Fails => Wrong::Fails,
        }))
    }
}

impl litequant::custom::CustomKernel for Wrong {
    fn run(
        &self,
        _inputs: &[Option<&Tensor>],
        outputs: &mut [Tensor],
    ) -> Result<(), litequant::custom::CustomOpError> {
        match self {
            Wrong::Shape => {
                let n = outputs[0].len();
                outputs[0] = Tensor::from_f32(&[n], &vec![0.0; n])?;
                Ok(())
            }
            Wrong::Fails => Err(litequant::custom::CustomOpError::Other(
                "device lost".into(),
            )),
        }
    }
}

#[test]
fn a_kernel_that_misbehaves_at_run_is_an_error_naming_the_op() {
    let m = Model::from_file(fixture("mediapipe_f32.tflite")).unwrap();
    let x = Tensor::from_f32(&[1, 4, 4, 3], &[0.5; 48]).unwrap();
    let run = |op: Wrong| {
        ReferenceEngine::default()
            .with_custom_op(NAME, op)
            .prepare(&m)
            .unwrap()
            .run(std::slice::from_ref(&x))
            .err()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        run(Wrong::Shape),
        "operator 1 (Convolution2DTransposeBias): the kernel returned output 0 as FLOAT32 \
         [384], the model declares FLOAT32 [1, 8, 8, 6]"
    );
    assert_eq!(
        run(Wrong::Fails),
        "operator 1 (Convolution2DTransposeBias): device lost"
    );
    // Registries compare by what they hold; builtin kernels are for builtin ops only.
    let a = litequant::custom::CustomOps::new().with(NAME, TransposeConvBias);
    assert_eq!(a.names().collect::<Vec<_>>(), [NAME]);
    assert_eq!(a, a.clone());
    assert_ne!(
        a,
        litequant::custom::CustomOps::new().with(NAME, TransposeConvBias)
    );
    let custom = m.main().operators[1].op.clone();
    let e = litequant::custom::BuiltinKernel::prepare(
        custom,
        &[],
        &[],
        litequant::FloatOrder::Reference,
    );
    assert!(e.is_err());
}
