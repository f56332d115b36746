//! A custom op from the application: MediaPipe's `Convolution2DTransposeBias`, registered on
//! the engine, then calibration and int8 quantization of a model that uses it.
//! `cargo run --release --example custom_op [-- MODEL CALIB OUT]`.
//!
//! With nothing given it uses `tests/fixtures/custom/mediapipe_f32.tflite` (a converter
//! model whose two TRANSPOSE_CONVs were rewritten into the custom op as MediaPipe's files
//! store it, `tools/make_custom_op_fixtures.py`) with `calib.npy` beside it, and writes
//! `target/custom_op/mediapipe_int8.tflite` (the fixture `tests/fixtures/custom/
//! mediapipe_int8.tflite` is this file: tools/README.md).
//!
//! The op (mediapipe/util/tflite/operations/transpose_conv_bias.cc): inputs 0 the input
//! `[N, H, W, I]`, 1 the weights `[O, KH, KW, I]`, 2 the bias `[O]`, all float32; output
//! `[N, OH, OW, O]`. Its `custom_options` are the raw bytes of the C struct
//! `TfLiteTransposeConvParams`, of which it reads the leading `padding` (`TfLitePadding`:
//! 1 SAME, 2 VALID; anything else gets no padding, as VALID), `stride_width` and
//! `stride_height` (int32 each, little-endian: 12 bytes). Output size and padding:
//! `pad = SAME ? max(0, K - (in - 1) % stride - 1) : 0`, `out = stride·(in − 1) + K − pad`,
//! the first `pad / 2` rows/columns cut at the top/left. That is TFLite's TRANSPOSE_CONV with
//! that output size (its `ComputePaddingHeightWidth` gives the same `pad / 2`), so the kernel
//! below is litequant's own TRANSPOSE_CONV reference kernel ([`BuiltinKernel`]): the same
//! float32 results as LiteRT's builtin op, bit for bit. MediaPipe's loop starts each output
//! sum from the bias where TFLite adds the bias after the sum, so its own kernel can differ
//! in the last bit of that one addition.

use std::path::PathBuf;

use anyhow::Context;
use litequant::custom::{
    BuiltinKernel, CustomKernel, CustomNode, CustomOp, CustomOpError, TensorInfo,
};
use litequant::model::{Activation, DType, Op, Padding, TransposeConvOptions};
use litequant::quant::{quantize, QuantizeOptions};
use litequant::{Buf, Engine, ReferenceEngine, Session, Tensor};

/// The custom-op name MediaPipe's models carry.
pub const NAME: &str = "Convolution2DTransposeBias";

/// MediaPipe's transpose convolution with bias.
pub struct TransposeConvBias;

/// Prepared: TFLite's TRANSPOSE_CONV on (output shape, weights, input, bias).
struct Prepared {
    output_shape: Tensor,
    kernel: BuiltinKernel,
}

/// `padding`, `stride_width`, `stride_height` from the struct's bytes.
fn read_options(bytes: &[u8]) -> Result<(i32, i32, i32), CustomOpError> {
    if bytes.len() < 12 {
        return Err(CustomOpError::options(format!(
            "{} bytes; TfLiteTransposeConvParams needs at least 12 (padding, stride_width, \
             stride_height)",
            bytes.len()
        )));
    }
    let int = |k: usize| i32::from_le_bytes([bytes[k], bytes[k + 1], bytes[k + 2], bytes[k + 3]]);
    Ok((int(0), int(4), int(8)))
}

impl CustomOp for TransposeConvBias {
    fn prepare(&self, node: &CustomNode<'_>) -> Result<Box<dyn CustomKernel>, CustomOpError> {
        node.expect_counts(3, 1)?;
        let (padding, stride_w, stride_h) = read_options(node.options)?;
        if stride_w <= 0 || stride_h <= 0 {
            return Err(CustomOpError::options(format!(
                "strides must be positive, are {stride_w} x {stride_h}"
            )));
        }
        let (input, weights, bias) = (node.input(0)?, node.input(1)?, node.input(2)?);
        let output = &node.outputs[0];
        for t in [input, weights, bias, output] {
            if t.dtype != DType::F32 {
                return Err(CustomOpError::tensors(format!(
                    "'{}' is {}: the op is float32 only",
                    t.name, t.dtype
                )));
            }
        }
        let [n, in_h, in_w, in_c] = dims4(input)?;
        let [o, k_h, k_w, w_c] = dims4(weights)?;
        let [b] = <[usize; 1]>::try_from(bias.shape.as_slice()).map_err(|_| rank(bias, 1))?;
        if w_c != in_c || b != o {
            return Err(CustomOpError::tensors(format!(
                "weights {:?} must be [O, KH, KW, {in_c}] and bias {:?} [O]",
                weights.shape, bias.shape
            )));
        }
        let same = padding == 1;
        let size = |input: usize, k: usize, s: usize| {
            let pad = if same {
                k.saturating_sub((input.max(1) - 1) % s + 1)
            } else {
                0
            };
            (s * (input.max(1) - 1) + k).saturating_sub(pad)
        };
        let (out_h, out_w) = (
            size(in_h, k_h, stride_h as usize),
            size(in_w, k_w, stride_w as usize),
        );
        let want = [n, out_h, out_w, o];
        if output.shape != want {
            return Err(CustomOpError::tensors(format!(
                "output '{}' is {:?}; the op computes {want:?}",
                output.name, output.shape
            )));
        }
        let dims: Vec<i32> = want.iter().map(|&d| d as i32).collect();
        let output_shape = Tensor::new(&[4], Buf::I32(dims))?;
        let options = TransposeConvOptions {
            padding: if same { Padding::Same } else { Padding::Valid },
            stride_w,
            stride_h,
            activation: Activation::None,
            quantized_bias_type: DType::F32,
        };
        let kernel = BuiltinKernel::prepare(
            Op::TransposeConv(options),
            &[
                Some(TensorInfo::constant("output_shape", &output_shape)),
                Some(weights.clone()),
                Some(input.clone()),
                Some(bias.clone()),
            ],
            std::slice::from_ref(output),
            node.float_order,
        )?;
        Ok(Box::new(Prepared {
            output_shape,
            kernel,
        }))
    }
}

fn rank(t: &TensorInfo<'_>, r: usize) -> CustomOpError {
    CustomOpError::tensors(format!("'{}' is {:?}, not of rank {r}", t.name, t.shape))
}

fn dims4(t: &TensorInfo<'_>) -> Result<[usize; 4], CustomOpError> {
    <[usize; 4]>::try_from(t.shape.as_slice()).map_err(|_| rank(t, 4))
}

impl CustomKernel for Prepared {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<(), CustomOpError> {
        let ins = [Some(&self.output_shape), inputs[1], inputs[0], inputs[2]];
        Ok(self.kernel.run(&ins, outputs)?)
    }
}

#[allow(dead_code)] // also compiled into tests/custom_op.rs, which has its own main
fn main() -> anyhow::Result<()> {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/custom");
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (model_path, calib, out) = match args.as_slice() {
        [] => (
            fixtures.join("mediapipe_f32.tflite"),
            fixtures.join("calib.npy"),
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/custom_op/mediapipe_int8.tflite"),
        ),
        [m, c, o] => (m.clone(), c.clone(), o.clone()),
        _ => anyhow::bail!("usage: custom_op [MODEL CALIB OUT.tflite]"),
    };

    // 1. Register the kernel by the op's name. Without it, prepare fails with
    //    Error::MissingCustomOp, which says how to register one.
    let engine = ReferenceEngine::default().with_custom_op(NAME, TransposeConvBias);
    let float = litequant::Model::from_file(&model_path)?;
    let inputs = engine.prepare(&float)?.inputs().to_vec();
    println!("model:       {}", model_path.display());

    // 2. Calibrate: the custom op runs like any other, and its outputs get ranges.
    let mut data = litequant::data::open(&calib, &inputs, &Default::default())?;
    let stats = litequant::calibrate(&float, &engine, &mut data, &Default::default())
        .with_context(|| format!("calibrating on {}", calib.display()))?;
    println!(
        "calibration: {} samples on {}",
        stats.samples,
        engine.name()
    );

    // 3. Quantize: the custom op stays float between DEQUANTIZE and QUANTIZE.
    let (quantized, report) = quantize(&float, Some(&stats), &QuantizeOptions::int8())?;
    for f in &report.float_ops {
        println!("float op:    operator {} ({}): {}", f.index, f.op, f.reason);
    }
    let ops: Vec<String> = quantized
        .main()
        .operators
        .iter()
        .map(|o| o.op.name())
        .collect();
    println!("int8 ops:    {}", ops.join(" "));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    quantized.write_file(&out)?;
    println!("written:     {}", out.display());

    // 4. Run both on the first calibration sample; the quantized model needs the kernel too.
    let mut data = litequant::data::open(&calib, &inputs, &Default::default())?;
    let x = litequant::bind_inputs(&inputs, data.next_sample().context("no samples")??)?;
    let want = engine.prepare(&float)?.run(&x)?;
    let got = engine.prepare(&quantized)?.run(&x)?;
    let (want, got) = (
        want[0].as_f32().unwrap_or(&[]),
        got[0].as_f32().unwrap_or(&[]),
    );
    let err = want
        .iter()
        .zip(got)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let range = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    println!("int8 vs float on sample 0: max |diff| {err:.5} (outputs up to {range:.4})");
    Ok(())
}
