//! The fast CPU engine's converter-order CONV_2D and FULLY_CONNECTED (what calibration
//! runs) against `ConverterFloatEngine`, bit for bit, at 1, 2 and 7 threads, with the AVX2
//! and the portable loops:
//! - on the models of `tests/fixtures/converter_float/` (Eigen's GEMM row and column
//!   blocks, GEMVs, depths over `kc`, the contractions spread over the calibrator's threads
//!   by depth, row and column), also against the goldens of TF's own interpreter;
//! - on random one-op CONV_2D and FULLY_CONNECTED models (odd channel counts, strides,
//!   dilations, padding, batches).
//!
//! The goldens were made on a machine with a 32 KiB L1 data cache, 1 MiB of L2 and an L3
//! Eigen reads as 320 MiB: this binary sets those sizes (one value, process-wide, in every
//! test).

mod common;
pub use common::Rng;

#[allow(dead_code)]
#[path = "gpu_conv/problems.rs"]
mod problems;

use std::path::Path;

use litequant::cpu::Simd;
use litequant::data::Npz;
use litequant::model::{Activation, Conv2DOptions, DType, FullyConnectedOptions, Op, Padding};
use litequant::reference::{set_converter_l1d_cache, set_converter_l2_l3_cache};
use litequant::{Buf, ConverterFloatEngine, Engine, FastCpuEngine, FloatOrder, Model, Tensor};
use problems::{constant, le, model_of, tensor};

fn golden_caches() {
    set_converter_l1d_cache(Some(32 * 1024));
    set_converter_l2_l3_cache(Some((1 << 20, 640 * 512 * 1024)));
}

fn f32s(t: &Tensor) -> &[f32] {
    match t.buf() {
        Buf::F32(v) => v,
        other => panic!("float32 expected, got {:?}", other.dtype()),
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn engines() -> Vec<(String, FastCpuEngine)> {
    [
        (1, Simd::detect()),
        (2, Simd::detect()),
        (7, Simd::detect()),
        (7, Simd::Portable),
    ]
    .into_iter()
    .map(|(threads, simd)| {
        let e = FastCpuEngine::new()
            .with_threads(threads)
            .with_min_work_per_thread(1)
            .with_simd(simd)
            .with_float_order(FloatOrder::Converter);
        (format!("{threads} threads, {simd:?}"), e)
    })
    .collect()
}

/// Output 0 of `model` on `input` from every fast variant and from the converter engine:
/// the descriptions of the variants that differ, and the converter engine's output.
/// `fast`: the fast kernel must be the one that runs (grouped convolutions have none).
fn compare(what: &str, model: &Model, input: &Tensor, fast: bool) -> (Vec<String>, Vec<f32>) {
    let want = ConverterFloatEngine
        .prepare(model)
        .and_then(|mut s| litequant::Session::run(&mut s, std::slice::from_ref(input)))
        .unwrap_or_else(|e| panic!("{what}: converter engine: {e}"));
    let want = f32s(&want[0]).to_vec();
    let mut bad = Vec::new();
    for (desc, engine) in engines() {
        let mut s = engine.prepare(model).unwrap();
        if fast {
            assert_eq!(s.fast_ops(), 1, "{what}: the fast kernel was not chosen");
        }
        let got = litequant::Session::run(&mut s, std::slice::from_ref(input)).unwrap();
        let differ = bits(f32s(&got[0]))
            .iter()
            .zip(bits(&want))
            .filter(|(a, b)| **a != *b)
            .count();
        if differ > 0 {
            bad.push(format!("{what} ({desc}): {differ} elements differ"));
        }
    }
    (bad, want)
}

#[test]
fn converter_fixtures_bit_for_bit() {
    golden_caches();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/converter_float");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().ok()?;
            let stem = name.strip_suffix(".tflite")?;
            let conv_or_fc =
                stem.contains("conv") && !stem.contains("tconv") && !stem.contains("dwconv")
                    || stem.contains("_fc_");
            conv_or_fc.then(|| stem.to_string())
        })
        .collect();
    names.sort();
    assert!(names.len() >= 15, "{names:?}");
    let (mut failures, mut checked) = (Vec::new(), 0);
    for name in &names {
        let model = Model::from_file(dir.join(format!("{name}.tflite"))).unwrap();
        if model.main().operators.len() != 1 {
            continue;
        }
        let mut npz = Npz::open(dir.join(format!("{name}.npz"))).unwrap();
        let x = npz.read("input_0").unwrap();
        let out = model.main().outputs[0];
        let golden = npz.read(&format!("t{out}")).ok();
        let shape = &x.shape()[1..];
        let n: usize = shape.iter().product();
        for s in 0..x.shape()[0] {
            let input =
                Tensor::new(shape, Buf::F32(f32s(&x)[s * n..(s + 1) * n].to_vec())).unwrap();
            let (bad, want) = compare(
                &format!("{name} sample {s}"),
                &model,
                &input,
                !name.starts_with("grouped"),
            );
            failures.extend(bad);
            if let Some(g) = &golden {
                let m = want.len();
                if bits(&f32s(g)[s * m..(s + 1) * m]) != bits(&want) {
                    failures.push(format!(
                        "{name} sample {s}: the converter engine is off the golden"
                    ));
                }
            }
            checked += 1;
        }
    }
    println!("{checked} fixture samples compared");
    assert!(checked >= 15);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn random_f32s(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| (rng.unit() * 2.0 - 1.0) * scale).collect()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    le(v, |x| x.to_le_bytes().to_vec())
}

fn conv_model(rng: &mut Rng) -> (String, Model, Tensor) {
    let batches = rng.usize(1, 2);
    let in_c = rng.pick(&[1, 3, 8, 13, 16, 36, 60]);
    let out_c = rng.pick(&[1, 5, 13, 16, 24, 36, 40, 52, 144]);
    let (h, w) = (rng.usize(1, 20), rng.usize(1, 20));
    let f = rng.pick(&[1, 1, 2, 3, 3]);
    let stride = rng.usize(1, 2);
    let dil = if rng.usize(0, 4) == 0 { 2 } else { 1 };
    let padding = if rng.usize(0, 1) == 0 {
        Padding::Same
    } else {
        Padding::Valid
    };
    let eff = (f - 1) * dil + 1;
    let (oh, ow) = match padding {
        Padding::Same => (h.div_ceil(stride), w.div_ceil(stride)),
        _ if h < eff || w < eff => return conv_model(rng),
        _ => ((h - eff) / stride + 1, (w - eff) / stride + 1),
    };
    let act = rng.pick(&[Activation::None, Activation::Relu, Activation::Relu6]);
    let what = format!(
        "conv {batches}x{h}x{w}x{in_c} -> {out_c}, {f}x{f} s{stride} d{dil} {padding:?} {act:?}"
    );
    let filter = random_f32s(rng, out_c * f * f * in_c, 1.0);
    let bias = random_f32s(rng, out_c, 0.5);
    let tensors = vec![
        tensor("x", DType::F32, &[batches, h, w, in_c], None),
        constant(
            tensor("w", DType::F32, &[out_c, f, f, in_c], None),
            f32_bytes(&filter),
        ),
        constant(tensor("b", DType::F32, &[out_c], None), f32_bytes(&bias)),
        tensor("y", DType::F32, &[batches, oh, ow, out_c], None),
    ];
    let op = Op::Conv2D(Conv2DOptions {
        padding,
        stride_w: stride as i32,
        stride_h: stride as i32,
        activation: act,
        dilation_w: dil as i32,
        dilation_h: dil as i32,
        quantized_bias_type: DType::F32,
    });
    let x = random_f32s(rng, batches * h * w * in_c, 2.0);
    let input = Tensor::new(&[batches, h, w, in_c], Buf::F32(x)).unwrap();
    (what, model_of(op, tensors, true), input)
}

fn fc_model(rng: &mut Rng) -> (String, Model, Tensor) {
    let batches = rng.pick(&[1, 1, 2, 5, 9, 64]);
    let depth = rng.pick(&[1, 7, 8, 13, 40, 64, 100, 450, 820]);
    let units = rng.pick(&[2, 3, 9, 13, 16, 17, 33, 100]);
    let what = format!("fc {batches}x{depth} -> {units}");
    let w = random_f32s(rng, units * depth, 1.0);
    let bias = random_f32s(rng, units, 0.5);
    let tensors = vec![
        tensor("x", DType::F32, &[batches, depth], None),
        constant(
            tensor("w", DType::F32, &[units, depth], None),
            f32_bytes(&w),
        ),
        constant(tensor("b", DType::F32, &[units], None), f32_bytes(&bias)),
        tensor("y", DType::F32, &[batches, units], None),
    ];
    let op = Op::FullyConnected(FullyConnectedOptions {
        activation: Activation::None,
        weights_format: 0,
        keep_num_dims: false,
        asymmetric_quantize_inputs: false,
        quantized_bias_type: DType::F32,
        quant_spec: Vec::new(),
    });
    let x = random_f32s(rng, batches * depth, 2.0);
    let input = Tensor::new(&[batches, depth], Buf::F32(x)).unwrap();
    (what, model_of(op, tensors, true), input)
}

#[test]
fn random_convolutions_and_fully_connected_bit_for_bit() {
    golden_caches();
    let mut rng = Rng(0x5eed_c0de);
    let mut failures = Vec::new();
    for i in 0..60 {
        let (what, model, input) = if i % 3 == 2 {
            fc_model(&mut rng)
        } else {
            conv_model(&mut rng)
        };
        failures.extend(compare(&what, &model, &input, true).0);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
