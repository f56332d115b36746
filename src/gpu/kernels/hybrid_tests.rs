//! The hybrid row quantization: the CPU twin against the reference functions (CPU only), and
//! the shader against the reference on the adapter from the environment.

use super::*;
use crate::gpu::kernels::DeviceTensors;
use crate::model::{Op, Operator, Subgraph};
use crate::quant::fixedpoint::test_rng::SplitMix64;
use crate::reference::common::{asymmetric_quantize_floats, symmetric_quantize_floats};
use crate::reference::{FloatOrder, OpCtx};

/// The reference's result for one row: (q, scale, offset).
fn reference(row: &[f32], symmetric: bool) -> (Vec<i8>, f32, i32) {
    let mut q = vec![0i8; row.len()];
    if symmetric {
        let s = symmetric_quantize_floats(row, &mut q);
        (q, s, 0)
    } else {
        let (s, o) = asymmetric_quantize_floats(row, &mut q);
        (q, s, o)
    }
}

fn same_f32(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

const SPECIALS: [f32; 12] = [
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    1e-45,
    -1e-45,
    1e-40,
    3.4e38,
];

/// A random row: plain values at a random magnitude, integer + half ties, or specials.
fn random_row(rng: &mut SplitMix64, len: usize) -> Vec<f32> {
    let kind = rng.below(8);
    let mag = [1e-30f32, 1e-6, 0.01, 1.0, 3.0, 100.0, 1e6, 1e30][rng.below(8)];
    let offset = if rng.below(3) == 0 {
        rng.unit_f32() * mag
    } else {
        0.0
    };
    (0..len)
        .map(|_| match kind {
            // Ties: with max |x| 127 the symmetric inv is 1; half-integers round away.
            0 => (rng.range(0, 254) as f32 - 127.0) + if rng.below(2) == 0 { 0.5 } else { 0.0 },
            1 => {
                if rng.below(6) == 0 {
                    SPECIALS[rng.below(SPECIALS.len())]
                } else {
                    rng.unit_f32() * mag
                }
            }
            2 => rng.milli_f32() * 127.0 + 127.0,
            3 => f32::from_bits(rng.next() as u32),
            _ => rng.unit_f32() * mag + offset,
        })
        .collect()
}

#[test]
fn twin_equals_the_reference_functions() {
    let mut rng = SplitMix64(0x4b1d);
    let mut rows = 0;
    for len in [1usize, 2, 3, 5, 8, 17, 33] {
        for _ in 0..6_000 {
            let row = random_row(&mut rng, len);
            for symmetric in [true, false] {
                let want = reference(&row, symmetric);
                let got = quantize_row_twin(&row, symmetric);
                assert_eq!(got.0, want.0, "q, symmetric {symmetric}, row {row:?}");
                assert!(same_f32(got.1, want.1), "scale {got:?} {want:?} {row:?}");
                assert_eq!(got.2, want.2, "offset, row {row:?}");
                rows += 1;
            }
        }
    }
    // Hand-picked rows: ranges 127 and 255 (inv 1), all zeros, single NaN, NaN first.
    let picked: Vec<Vec<f32>> = vec![
        vec![-127.0, 0.5, -0.5, 1.5, -2.5, 126.5],
        vec![0.0, 255.0, 0.5, 1.5, 127.5, 254.5],
        vec![-255.0, 0.0, -0.5, -1.5, -127.5],
        vec![0.0, -0.0, 0.0],
        vec![f32::NAN, 1.0, -1.0],
        vec![1.0, f32::NAN, -3.0, 2.0],
        vec![f32::INFINITY, 1.0],
        vec![-1e-45, 1e-45, 0.0],
    ];
    for row in picked {
        for symmetric in [true, false] {
            let want = reference(&row, symmetric);
            let got = quantize_row_twin(&row, symmetric);
            assert_eq!(got.0, want.0, "{row:?} symmetric {symmetric}");
            assert!(
                same_f32(got.1, want.1) && got.2 == want.2,
                "{row:?} {got:?} {want:?}"
            );
        }
    }
    assert!(rows > 80_000);
}

/// Runs the dispatches of `commands` in one submission.
fn submit(gpu: &crate::gpu::GpuContext, commands: &[Command]) {
    let mut encoder = gpu
        .device()
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: None,
        });
        for c in commands {
            if let Command::Dispatch {
                pipeline,
                bind_group,
                workgroups,
            } = c
            {
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, bind_group, &[]);
                pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
            }
        }
    }
    gpu.queue().submit([encoder.finish()]);
}

/// A storage buffer of `words` words the host can read back.
fn readable(gpu: &crate::gpu::GpuContext, words: u32) -> Arg {
    let size = u64::from(words.max(1)) * 4;
    let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    Arg { buffer, size }
}

fn words(gpu: &crate::gpu::GpuContext, a: &Arg) -> Vec<u32> {
    let bytes = gpu.read_buffer(&a.buffer, a.size).expect("readback");
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn shader_equals_the_reference_functions() -> Result<()> {
    let Some(gpu) = crate::gpu::context_or_skip("hybrid shader_equals_the_reference_functions")?
    else {
        return Ok(());
    };
    let sg = Subgraph {
        name: None,
        tensors: Vec::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        operators: Vec::new(),
        debug_metadata_index: -1,
    };
    let op = Operator {
        op: Op::Pad,
        version: 1,
        inputs: Vec::new(),
        outputs: Vec::new(),
        intermediates: Vec::new(),
        mutating_variable_inputs: Vec::new(),
        debug_metadata_index: -1,
        options_omitted: false,
    };
    let octx = OpCtx {
        index: 0,
        op: &op,
        sg: &sg,
        consts: &[],
        float_order: FloatOrder::Reference,
        budget: &crate::memory::Budget::new(None),
    };
    let tensors = DeviceTensors::new(Vec::new(), Vec::new());
    let ctx = GpuOpCtx {
        gpu: &gpu,
        op: &octx,
        kernel: &(),
        tensors: &tensors,
    };
    let mut rng = SplitMix64(0x9e0);
    // (rows, row_len, workgroup size): row lengths not multiples of 4 nor of the workgroup.
    for (rows, row_len, wg) in [
        (37u32, 13u32, 7u32),
        (9, 301, 64),
        (5, 1, 3),
        (3, 64, 64),
        (70, 6, 1),
    ] {
        for symmetric in [true, false] {
            let mut x = Vec::new();
            let mut want = Vec::new();
            for r in 0..rows {
                let mut row = random_row(&mut rng, row_len as usize);
                if r % 11 == 5 {
                    // A NaN somewhere: the sequential path.
                    let at = rng.below(row.len());
                    row[at] = f32::NAN;
                }
                want.push(reference(&row, symmetric));
                x.extend(row);
            }
            let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
            let input = ctx.upload("x", &bytes)?;
            let row_words = row_len.div_ceil(4);
            let out = HybridRows {
                q: readable(&gpu, rows * row_words),
                row_words,
                scale: readable(&gpu, rows),
                zero_point: readable(&gpu, rows),
            };
            let commands = quantize_rows_into(&ctx, &input, rows, row_len, symmetric, wg, &out)?;
            submit(&gpu, &commands);
            let q = words(&gpu, &out.q);
            let scales = words(&gpu, &out.scale);
            let offsets = words(&gpu, &out.zero_point);
            for (r, (wq, ws, wo)) in want.iter().enumerate() {
                let row_q: Vec<u8> = q[r * out.row_words as usize..][..out.row_words as usize]
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .collect();
                let got: Vec<i8> = row_q[..row_len as usize].iter().map(|&b| b as i8).collect();
                let at = format!("rows {rows} len {row_len} wg {wg} sym {symmetric} row {r}");
                assert_eq!(&got, wq, "{at}");
                assert!(
                    row_q[row_len as usize..].iter().all(|&b| b == 0),
                    "{at}: padding"
                );
                assert!(same_f32(f32::from_bits(scales[r]), *ws), "{at}: scale");
                assert_eq!(offsets[r] as i32, *wo, "{at}: offset");
            }
        }
    }
    Ok(())
}
