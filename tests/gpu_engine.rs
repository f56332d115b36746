//! The GPU engine as a whole: the session contract (repeated runs, observers that ask for
//! some tensors, input checks), memory shared by tensors with disjoint lifetimes, pipelines
//! built once, and device limits (tiny binding and dispatch limits from a device the caller
//! owns) either split the work or give a clear error.
//!
//! Skips without an adapter unless `LITEQUANT_REQUIRE_GPU=1`.

mod common;

use std::collections::BTreeMap;

use litequant::gpu::{self, GpuContext, GpuEngine};
use litequant::{Engine, Model, Observer, ReferenceEngine, Session, Tensor};

fn model(name: &str) -> Model {
    Model::from_file(common::fixtures().join(name)).unwrap()
}

/// A deterministic input for every model input (floats in [-1, 1), ints over their range).
fn inputs<S: Session>(s: &S, seed: u32) -> Vec<Tensor> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    s.inputs()
        .iter()
        .map(|spec| {
            let n: usize = spec.shape.iter().product();
            match spec.dtype {
                litequant::model::DType::F32 => {
                    let v: Vec<f32> = (0..n)
                        .map(|_| (next() % 2000) as f32 / 1000.0 - 1.0)
                        .collect();
                    Tensor::from_f32(&spec.shape, &v).unwrap()
                }
                litequant::model::DType::I8 => {
                    let v: Vec<i8> = (0..n).map(|_| next() as i8).collect();
                    Tensor::from_i8(&spec.shape, &v).unwrap()
                }
                litequant::model::DType::U8 => {
                    let v: Vec<u8> = (0..n).map(|_| next() as u8).collect();
                    Tensor::from_u8(&spec.shape, &v).unwrap()
                }
                d => panic!("test inputs of {d} not written"),
            }
        })
        .collect()
}

struct Record {
    only: Option<usize>,
    seen: BTreeMap<usize, Tensor>,
    order: Vec<usize>,
}

impl Observer for Record {
    fn observe(&mut self, tensor: usize, _name: &str, value: &Tensor) -> litequant::Result<()> {
        self.order.push(tensor);
        self.seen.insert(tensor, value.clone());
        Ok(())
    }
    fn wants(&self, tensor: usize) -> bool {
        self.only.is_none_or(|t| t == tensor)
    }
}

fn engine(who: &str) -> litequant::Result<Option<GpuEngine>> {
    Ok(gpu::context_or_skip(who)?.map(GpuEngine::new))
}

#[test]
fn int8_models_equal_the_reference_run_after_run_and_observers_see_what_they_ask(
) -> litequant::Result<()> {
    let Some(engine) = engine("gpu_engine_int8_models")? else {
        return Ok(());
    };
    for name in ["mlp_int8_only.tflite", "cnn_int8_only.tflite"] {
        let m = model(name);
        let mut gpu = engine.prepare(&m)?;
        let mut cpu = ReferenceEngine.prepare(&m)?;
        for seed in 0..3 {
            let ins = inputs(&gpu, seed);
            let want = cpu.run(&ins)?;
            // Twice on the same session: buffers are reused, results do not drift.
            assert_eq!(gpu.run(&ins)?, want, "{name} seed {seed}");
            assert_eq!(gpu.run(&ins)?, want, "{name} seed {seed}, second run");
        }
        // Every tensor, in the reference engine's order and with its values.
        let ins = inputs(&gpu, 7);
        let mut all_gpu = Record {
            only: None,
            seen: BTreeMap::new(),
            order: Vec::new(),
        };
        let mut all_cpu = Record {
            only: None,
            seen: BTreeMap::new(),
            order: Vec::new(),
        };
        gpu.run_observed(&ins, Some(&mut all_gpu))?;
        cpu.run_observed(&ins, Some(&mut all_cpu))?;
        assert_eq!(all_gpu.order, all_cpu.order, "{name}: observation order");
        assert_eq!(all_gpu.seen, all_cpu.seen, "{name}: observed values");
        // An observer that wants one intermediate tensor sees only it.
        let pick = all_cpu.order[all_cpu.order.len() / 2];
        let mut one = Record {
            only: Some(pick),
            seen: BTreeMap::new(),
            order: Vec::new(),
        };
        gpu.run_observed(&ins, Some(&mut one))?;
        assert_eq!(one.order, vec![pick], "{name}");
        assert_eq!(one.seen[&pick], all_cpu.seen[&pick], "{name}");
    }
    Ok(())
}

#[test]
fn tensors_with_disjoint_lifetimes_share_memory_and_pipelines_are_built_once(
) -> litequant::Result<()> {
    let Some(engine) = engine("gpu_engine_memory_and_pipelines")? else {
        return Ok(());
    };
    let m = model("cnn_int8.tflite");
    let s = engine.prepare(&m)?;
    let (planned, unshared) = s.tensor_memory();
    println!("cnn_int8: {planned} bytes of tensors on the device, {unshared} without sharing");
    assert!(planned < unshared, "{planned} >= {unshared}");
    let built = engine.context().cached_pipelines();
    assert!(built > 0);
    let _again = engine.prepare(&m)?;
    assert_eq!(
        engine.context().cached_pipelines(),
        built,
        "pipelines rebuilt"
    );
    Ok(())
}

#[test]
fn wrong_inputs_are_refused_with_the_expected_shape() -> litequant::Result<()> {
    let Some(engine) = engine("gpu_engine_wrong_inputs")? else {
        return Ok(());
    };
    let mut s = engine.prepare(&model("mlp_float32.tflite"))?;
    let spec = s.inputs()[0].clone();
    let bad = Tensor::from_f32(&[1, 3], &[0.0; 3])?;
    let e = s.run(&[bad]).unwrap_err().to_string();
    assert!(
        e.contains(&format!("{:?}", spec.shape)) && e.contains("[1, 3]"),
        "{e}"
    );
    Ok(())
}

/// A device on the same adapter with the limits lowered (as an app's own device might have).
fn limited(ctx: &GpuContext, f: impl FnOnce(&mut wgpu::Limits)) -> litequant::Result<GpuEngine> {
    let mut limits = ctx.adapter().limits();
    f(&mut limits);
    let (device, queue) =
        pollster::block_on(ctx.adapter().request_device(&wgpu::DeviceDescriptor {
            label: Some("limited"),
            required_limits: limits,
            ..Default::default()
        }))
        .map_err(|e| litequant::Error::Gpu(e.to_string()))?;
    GpuEngine::with_device(ctx.instance().clone(), ctx.adapter().clone(), device, queue)
}

#[test]
fn a_tiny_dispatch_limit_splits_grids_and_a_tiny_binding_limit_is_a_clear_error(
) -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("gpu_engine_limits")? else {
        return Ok(());
    };
    let m = model("cnn_int8_only.tflite");
    let mut cpu = ReferenceEngine.prepare(&m)?;
    // Few workgroups per dimension: every kernel's grid is split over y and z.
    let small_grid = limited(&ctx, |l| l.max_compute_workgroups_per_dimension = 16)?;
    let mut s = small_grid.prepare(&m)?;
    for seed in 0..2 {
        let ins = inputs(&s, seed);
        assert_eq!(s.run(&ins)?, cpu.run(&ins)?, "seed {seed}");
    }
    // A binding limit smaller than the largest activation: refused at prepare, naming it.
    let small_binding = limited(&ctx, |l| l.max_storage_buffer_binding_size = 256)?;
    let e = small_binding.prepare(&m).unwrap_err().to_string();
    assert!(
        e.contains("storage binding limit") && e.contains("256"),
        "{e}"
    );
    Ok(())
}
