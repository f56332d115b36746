//! The 16x8 kernels' 64-bit WGSL helpers on the adapter against their native definitions:
//! `double_rescale64` (`shaders/common/double_rescale.wgsl`) against
//! `((acc as f64) * m).round() as i32`, and `mbqm_i64` (`shaders/common/mbqm64.wgsl`)
//! against `multiply_by_quantized_multiplier_i64`, over edge values and random ones.

use super::gpu;
use crate::quant::fixedpoint::double_rescale::tests::{double_rounding_ties, multipliers};
use crate::quant::fixedpoint::double_rescale::RescaleMultiplier;
use crate::quant::fixedpoint::test_rng::SplitMix64 as Rng;
use crate::quant::fixedpoint::{
    multiply_by_quantized_multiplier_i64, quantize_multiplier, QuantizedMultiplier,
    ReducedMultiplier,
};

/// Runs `entry` of `shaders/fc16.wgsl` over `words` (its `t_in`), `n` results.
fn run_test_entry(entry: &'static str, words: &[u32], n: usize) -> Option<Vec<i32>> {
    use wgpu::util::DeviceExt as _;
    let gpu = gpu(entry)?;
    let ctx = gpu.context();
    let device = ctx.device();
    let pipeline = ctx
        .pipeline(&crate::gpu::PipelineKey::new("fc16", entry))
        .expect("pipeline");
    let input = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(words),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let size = (n * 4) as u64;
    let output = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: input.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: output.as_entire_binding(),
            },
        ],
    });
    let mut encoder =
        device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups((n as u32).div_ceil(64), 1, 1);
    }
    ctx.queue().submit([encoder.finish()]);
    let bytes = ctx.read_buffer(&output, size).expect("readback");
    Some(bytemuck::cast_slice(&bytes).to_vec())
}

/// int64 accumulators at the edges: small, around 2^31, 2^32 and 2^53 (where the
/// conversion to double starts rounding), and the extremes.
fn accs64() -> Vec<i64> {
    let mut v = vec![0, 1, -1, 2, -3, 127, -128, 32767, -32768];
    for e in [22, 31, 32, 33, 40, 47, 52, 53, 54, 55, 62] {
        let p = 1i64 << e;
        v.extend([p, p - 1, p + 1, p + 3, -p, -p + 1, -p - 1, -p - 3]);
    }
    v.extend([i64::MAX, i64::MIN, i64::MIN + 1]);
    v
}

#[test]
fn wgsl_double_rescale64_equals_native_f64() {
    let mut cases: Vec<(i64, f64)> = Vec::new();
    for &m in &multipliers() {
        cases.extend(accs64().into_iter().map(|a| (a, m)));
    }
    let mut rng = Rng(0x1608);
    for (a, m) in double_rounding_ties(&mut rng, 10_000) {
        for k in [0u32, 9, 21] {
            cases.push((i64::from(a) << k, m / f64::from(1u32 << k)));
        }
    }
    while cases.len() < 200_000 {
        let acc = (rng.next() as i64) >> rng.below(64);
        let m =
            (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 2f64.powi(rng.below(40) as i32 - 32);
        cases.push((acc, m));
    }
    let words: Vec<u32> = cases
        .iter()
        .flat_map(|&(a, m)| {
            let r = RescaleMultiplier::new(m).expect("finite");
            [
                a as u32,
                ((a as u64) >> 32) as u32,
                r.lo,
                r.hi,
                r.exponent as u32,
                0,
                0,
                0,
            ]
        })
        .collect();
    let Some(got) = run_test_entry("rescale64_test", &words, cases.len()) else {
        return;
    };
    let bad: Vec<String> = cases
        .iter()
        .zip(&got)
        .filter(|((a, m), g)| **g != (*a as f64 * m).round() as i32)
        .take(10)
        .map(|((a, m), g)| format!("acc {a} m {m:e}: gpu {g}"))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn wgsl_mbqm_i64_equals_the_int64_definition() {
    let mut cases: Vec<(i64, ReducedMultiplier)> = Vec::new();
    let mut edges = Vec::new();
    for shift in [-31, -20, -15, -1, 0, 1, 7, 14] {
        for multiplier in [1 << 30, 0x7FFE_FFFF, 0x7FFF_0000, i32::MAX, 0x4000_8000] {
            if let Some(r) = ReducedMultiplier::new(QuantizedMultiplier { multiplier, shift }) {
                edges.push(r);
            }
        }
    }
    for &r in &edges {
        cases.extend(accs64().into_iter().map(|x| (x, r)));
    }
    let mut rng = Rng(0x6416);
    while cases.len() < 200_000 {
        let real =
            (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 2f64.powi(rng.below(38) as i32 - 31);
        let Some(r) = ReducedMultiplier::new(quantize_multiplier(real)) else {
            continue;
        };
        let x = (rng.next() as i64) >> rng.below(64);
        cases.push((x, r));
    }
    let words: Vec<u32> = cases
        .iter()
        .flat_map(|&(x, r)| {
            [
                x as u32,
                ((x as u64) >> 32) as u32,
                r.multiplier as u32,
                r.total_shift,
            ]
        })
        .collect();
    let Some(got) = run_test_entry("mbqm_i64_test", &words, cases.len()) else {
        return;
    };
    let bad: Vec<String> = cases
        .iter()
        .zip(&got)
        .filter(|((x, r), g)| **g != multiply_by_quantized_multiplier_i64(*x, *r))
        .take(10)
        .map(|((x, r), g)| format!("x {x} {r:?}: gpu {g}"))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}
