//! The GPU engine in the converter's order on the products whose order Eigen changes: the
//! models of `tests/fixtures/converter_float/` (made by `tools/make_converter_float_goldens.py`;
//! GEMM row and column blocks, GEMV with one output pixel, channel, unit or input pixel, and
//! depths over Eigen's `kc`), bit for bit against `ConverterFloatEngine` and against the
//! goldens of TF's own interpreter; and the CONV_2D contractions Eigen spreads over the
//! calibrator's threads (`mt_*`: by depth, row, column). The goldens were made on a machine
//! with a 32 KiB L1 data cache (kc = 400), 1 MiB of L2 and an L3 Eigen reads as 320 MiB: this
//! binary sets those sizes (one test: the setting is process-wide).

use std::path::Path;

use litequant::data::Npz;
use litequant::gpu::{self, GpuEngine};
use litequant::reference::{set_converter_l1d_cache, set_converter_l2_l3_cache};
use litequant::{Buf, ConverterFloatEngine, Engine, FloatOrder, Model, Session, Tensor};

fn f32s(t: &Tensor) -> &[f32] {
    match t.buf() {
        Buf::F32(v) => v,
        other => panic!("float32 expected, got {:?}", other.dtype()),
    }
}

#[test]
fn deep_and_gemv_products_give_the_converters_bits() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_converter_order")? else {
        return Ok(());
    };
    set_converter_l1d_cache(Some(32 * 1024));
    set_converter_l2_l3_cache(Some((1 << 20, 640 * 512 * 1024)));
    let gpu = GpuEngine::new(ctx).with_float_order(FloatOrder::Converter);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/converter_float");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().ok()?;
            Some(name.strip_suffix(".tflite")?.to_string())
        })
        .collect();
    names.sort();
    assert!(names.len() >= 22, "{names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let model = Model::from_file(dir.join(format!("{name}.tflite")))?;
        let mut npz = Npz::open(dir.join(format!("{name}.npz"))).unwrap();
        let x = npz.read("input_0").unwrap();
        let shape = &x.shape()[1..];
        let n: usize = shape.iter().product();
        for s in 0..x.shape()[0] {
            let input = Tensor::new(shape, Buf::F32(f32s(&x)[s * n..(s + 1) * n].to_vec()))?;
            let want = ConverterFloatEngine
                .prepare(&model)?
                .run(std::slice::from_ref(&input))?;
            let got = gpu.prepare(&model)?.run(&[input])?;
            let bad = f32s(&got[0])
                .iter()
                .zip(f32s(&want[0]))
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            if bad > 0 {
                failures.push(format!("{name} sample {s}: {bad} elements differ"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
