//! FULLY_CONNECTED and BATCH_MATMUL on the GPU against the reference engine, on one-op models
//! built here: int8/uint8 bit for bit, float32 FULLY_CONNECTED bit for bit in both summation
//! orders, hybrid within the conformance tolerance; sizes that
//! are not tile multiples, weight/input zero points at the edges, per-channel scales, the
//! default tiles and small odd ones (forced), `dot4I8Packed` and the scalar dot product.

use super::gemm::{with_tiles, Tiles};
use crate::gpu::GpuEngine;
use crate::model::{self, Activation, DType, FullyConnectedOptions, Model, Op, Operator};
use crate::model::{QuantParams, Subgraph};
use crate::quant::fixedpoint::test_rng::SplitMix64 as Rng;
use crate::{Buf, ConverterFloatEngine, Engine, FloatOrder, ReferenceEngine, Session, Tensor};

pub(super) fn gpu(who: &str) -> Option<GpuEngine> {
    crate::gpu::context_or_skip(who)
        .expect("a GPU when LITEQUANT_REQUIRE_GPU=1")
        .map(GpuEngine::new)
}

/// Small odd tiles (remainder paths everywhere) with `dot4I8Packed` or the scalar product.
pub(super) const ODD: [Tiles; 3] = [
    Tiles {
        wg_m: 3,
        wg_n: 5,
        tm: 3,
        tn: 2,
        kw: 3,
        kf: 5,
        scalar_dot: false,
    },
    Tiles {
        wg_m: 1,
        wg_n: 7,
        tm: 1,
        tn: 4,
        kw: 1,
        kf: 1,
        scalar_dot: true,
    },
    Tiles {
        wg_m: 5,
        wg_n: 2,
        tm: 4,
        tn: 1,
        kw: 2,
        kf: 3,
        scalar_dot: false,
    },
];

pub(super) fn tensor(
    dtype: DType,
    shape: &[usize],
    quant: Option<QuantParams>,
    data: Option<Vec<u8>>,
) -> model::Tensor {
    let mut t = model::Tensor::new("t", dtype, shape.iter().map(|&d| d as i32).collect());
    t.quant = quant;
    t.data = data.map(|d| d.into());
    t
}

/// A model of one op: `tensors[inputs]` in, `tensors[outputs]` out; tensors with data are
/// constants, the others the model's inputs.
pub(super) fn one_op_model(
    op: Op,
    tensors: Vec<model::Tensor>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
) -> Model {
    let model_inputs = inputs
        .iter()
        .filter(|&&t| t >= 0 && tensors[t as usize].data.is_none())
        .map(|&t| t as usize)
        .collect();
    Model {
        version: 3,
        description: None,
        subgraphs: vec![Subgraph {
            name: None,
            tensors,
            inputs: model_inputs,
            outputs: outputs.iter().map(|&t| t as usize).collect(),
            operators: vec![Operator {
                op,
                version: 1,
                inputs,
                outputs,
                intermediates: Vec::new(),
                mutating_variable_inputs: Vec::new(),
                debug_metadata_index: -1,
                options_omitted: false,
            }],
            debug_metadata_index: -1,
        }],
        metadata: Vec::new(),
        signature_defs: Vec::new(),
        legacy_metadata_buffers: Vec::new(),
        external_buffer_groups: Vec::new(),
        external_buffers: Vec::new(),
        unused_operator_codes: Vec::new(),
    }
}

/// Runs `model` on both engines and compares: integers exactly, floats within 1e-4 + 1e-4·|x|
/// (relative to the largest magnitude of the output for the accumulated products).
pub(super) fn compare(gpu: &GpuEngine, model: &Model, inputs: &[Tensor], what: &str) {
    let want = ReferenceEngine
        .prepare(model)
        .and_then(|mut s| s.run(inputs))
        .unwrap_or_else(|e| panic!("{what}: reference: {e}"));
    let got = gpu
        .prepare(model)
        .and_then(|mut s| s.run(inputs))
        .unwrap_or_else(|e| panic!("{what}: gpu: {e}"));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.shape(), w.shape(), "{what}");
        match (g.buf(), w.buf()) {
            (Buf::F32(gf), Buf::F32(wf)) => {
                let (g, w) = (gf, wf);
                let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                for (i, (a, b)) in g.iter().zip(w).enumerate() {
                    let ok = (a - b).abs() <= 1e-4 + 1e-4 * scale || (a.is_nan() && b.is_nan());
                    assert!(ok, "{what}: element {i}: gpu {a} reference {b}");
                }
            }
            _ => {
                let (gb, wb) = (g.buf().to_le_bytes(), w.buf().to_le_bytes());
                let diff = gb.iter().zip(&wb).filter(|(a, b)| a != b).count();
                assert!(
                    gb == wb,
                    "{what}: {diff} bytes differ (gpu {g:?} reference {w:?})"
                );
            }
        }
    }
}

fn fc_op(activation: Activation, asymmetric: bool) -> Op {
    Op::FullyConnected(FullyConnectedOptions {
        activation,
        weights_format: 0,
        keep_num_dims: false,
        asymmetric_quantize_inputs: asymmetric,
        quantized_bias_type: DType::F32,
        quant_spec: Vec::new(),
    })
}

fn bytes_i32(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bytes_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

const SHAPES: [(usize, usize, usize); 9] = [
    (1, 7, 13),
    (1, 29, 300),
    (6, 45, 77),
    (5, 9, 16),
    (3, 33, 1),
    (37, 5, 29),
    (2, 70, 64),
    (1, 1, 1),
    (9, 17, 130),
];

/// An int8 or uint8 FULLY_CONNECTED with random weights, bias and parameters.
fn quant_fc(
    rng: &mut Rng,
    (b, u, d): (usize, usize, usize),
    unsigned: bool,
    per_channel: bool,
) -> (Model, Tensor) {
    let dt = if unsigned { DType::U8 } else { DType::I8 };
    let byte = |rng: &mut Rng| rng.next() as u8;
    let edge_zp = |rng: &mut Rng| -> i64 {
        let lo = if unsigned { 0 } else { -128 };
        match rng.below(4) {
            0 => lo,
            1 => lo + 255,
            _ => lo + rng.below(256) as i64,
        }
    };
    let s_in = 0.01 + rng.unit_f32().abs() * 0.1;
    let s_out = 0.02 + rng.unit_f32().abs() * 0.5;
    let act = [Activation::None, Activation::Relu, Activation::Relu6][rng.below(3)];
    let w: Vec<u8> = (0..u * d).map(|_| byte(rng)).collect();
    let mut wq = QuantParams::per_tensor(0.002 + rng.unit_f32().abs() * 0.01, 0);
    if per_channel {
        wq.scale = (0..u)
            .map(|_| 0.0005 + rng.unit_f32().abs() * 0.02)
            .collect();
        wq.zero_point = vec![0; u];
    } else {
        wq.zero_point = vec![edge_zp(rng)];
    }
    let bias: Vec<i32> = (0..u)
        .map(|_| match rng.below(8) {
            0 => i32::MAX - rng.below(1000) as i32,
            1 => i32::MIN + rng.below(1000) as i32,
            _ => rng.below(200_001) as i32 - 100_000,
        })
        .collect();
    let x: Vec<u8> = (0..b * d).map(|_| byte(rng)).collect();
    let tensors = vec![
        tensor(
            dt,
            &[b, d],
            Some(QuantParams::per_tensor(s_in, edge_zp(rng))),
            None,
        ),
        tensor(dt, &[u, d], Some(wq.clone()), Some(w)),
        tensor(
            DType::I32,
            &[u],
            Some(QuantParams::per_tensor(s_in * wq.scale[0], 0)),
            Some(bytes_i32(&bias)),
        ),
        tensor(
            dt,
            &[b, u],
            Some(QuantParams::per_tensor(s_out, edge_zp(rng))),
            None,
        ),
    ];
    let model = one_op_model(fc_op(act, false), tensors, vec![0, 1, 2], vec![3]);
    let buf = if unsigned {
        Buf::U8(x)
    } else {
        Buf::I8(x.iter().map(|&v| v as i8).collect())
    };
    (model, Tensor::new(&[b, d], buf).expect("input"))
}

#[test]
fn int8_and_uint8_fully_connected_equal_the_reference() {
    let Some(gpu) = gpu("int8_and_uint8_fully_connected_equal_the_reference") else {
        return;
    };
    let mut rng = Rng(0xfc8);
    for (unsigned, per_channel) in [(false, false), (false, true), (true, false)] {
        for (si, &shape) in SHAPES.iter().enumerate() {
            let (model, x) = quant_fc(&mut rng, shape, unsigned, per_channel);
            let what = format!("fc {shape:?} unsigned {unsigned} per-channel {per_channel}");
            compare(
                &gpu,
                &model,
                std::slice::from_ref(&x),
                &format!("{what} default tiles"),
            );
            let tiles = ODD[si % ODD.len()];
            with_tiles(tiles, || {
                compare(
                    &gpu,
                    &model,
                    std::slice::from_ref(&x),
                    &format!("{what} {tiles:?}"),
                )
            });
            // The weights as a run-time input (column sums on the device).
            let mut rt = model.clone();
            let sg = &mut rt.subgraphs[0];
            let wdata = sg.tensors[1].data.take().expect("constant weights");
            sg.inputs.push(1);
            let wbuf = if unsigned {
                Buf::U8(wdata.to_vec())
            } else {
                Buf::I8(wdata.iter().map(|&v| v as i8).collect())
            };
            let wt = Tensor::new(&[shape.1, shape.2], wbuf).expect("weights");
            let what = format!("{what} run-time weights");
            with_tiles(tiles, || compare(&gpu, &rt, &[x, wt], &what));
        }
    }
}
/// Float32 outputs of `model` bit for bit: the GPU in the reference's order against
/// `ReferenceEngine`, in the converter's against `ConverterFloatEngine`.
fn compare_float_bits(gpu: &GpuEngine, model: &Model, inputs: &[Tensor], what: &str) {
    let cpu = |order| {
        match order {
            FloatOrder::Reference => ReferenceEngine
                .prepare(model)
                .and_then(|mut s| s.run(inputs)),
            FloatOrder::Converter => ConverterFloatEngine
                .prepare(model)
                .and_then(|mut s| s.run(inputs)),
        }
        .unwrap_or_else(|e| panic!("{what}: cpu: {e}"))
    };
    for order in [FloatOrder::Reference, FloatOrder::Converter] {
        let want = cpu(order);
        let got = gpu
            .clone()
            .with_float_order(order)
            .prepare(model)
            .and_then(|mut s| s.run(inputs))
            .unwrap_or_else(|e| panic!("{what}: gpu: {e}"));
        for (g, w) in got.iter().zip(&want) {
            let (Buf::F32(g), Buf::F32(w)) = (g.buf(), w.buf()) else {
                panic!("{what}: not float32");
            };
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "{what} {order:?}: element {i}: gpu {a:e} cpu {b:e}"
                );
            }
        }
    }
}

#[test]
fn hybrid_and_float_fully_connected_equal_the_reference() {
    let Some(gpu) = gpu("hybrid_and_float_fully_connected_equal_the_reference") else {
        return;
    };
    let mut rng = Rng(0xfcf);
    for (si, &(b, u, d)) in SHAPES.iter().enumerate() {
        let tiles = ODD[si % ODD.len()];
        let x: Vec<f32> = (0..b * d)
            .map(|i| {
                if (i / d) % 4 == 3 {
                    0.0
                } else {
                    rng.unit_f32() * 3.0
                }
            })
            .collect();
        let bias: Vec<f32> = (0..u).map(|_| rng.unit_f32()).collect();
        let xt = Tensor::from_f32(&[b, d], &x).expect("input");
        // Hybrid: int8 weights, per-tensor or per-channel, symmetric or asymmetric rows.
        for (per_channel, asym) in [(false, false), (true, true), (false, true)] {
            let w: Vec<u8> = (0..u * d)
                .map(|_| (rng.below(255) as i32 - 127) as i8 as u8)
                .collect();
            let mut wq = QuantParams::per_tensor(0.01 + rng.unit_f32().abs() * 0.01, 0);
            if per_channel {
                wq.scale = (0..u)
                    .map(|_| 0.001 + rng.unit_f32().abs() * 0.02)
                    .collect();
                wq.zero_point = vec![0; u];
            }
            let act = [Activation::None, Activation::Relu, Activation::Tanh][si % 3];
            let tensors = vec![
                tensor(DType::F32, &[b, d], None, None),
                tensor(DType::I8, &[u, d], Some(wq), Some(w)),
                tensor(DType::F32, &[u], None, Some(bytes_f32(&bias))),
                tensor(DType::F32, &[b, u], None, None),
            ];
            let model = one_op_model(fc_op(act, asym), tensors, vec![0, 1, 2], vec![3]);
            let what = format!(
                "hybrid fc {:?} per-channel {per_channel} asym {asym}",
                (b, u, d)
            );
            compare(&gpu, &model, std::slice::from_ref(&xt), &what);
            with_tiles(tiles, || {
                compare(
                    &gpu,
                    &model,
                    std::slice::from_ref(&xt),
                    &format!("{what} {tiles:?}"),
                )
            });
            // The weights as a run-time input (column sums on the device).
            let mut rt = model.clone();
            let sg = &mut rt.subgraphs[0];
            let wdata = sg.tensors[1].data.take().expect("constant weights");
            sg.inputs.push(1);
            let wbuf = Buf::I8(wdata.iter().map(|&v| v as i8).collect());
            let wt = Tensor::new(&[u, d], wbuf).expect("weights");
            let what = format!("{what} run-time weights");
            compare(&gpu, &rt, &[xt.clone(), wt.clone()], &what);
            with_tiles(tiles, || compare(&gpu, &rt, &[xt.clone(), wt], &what));
        }
        // float32, without a bias.
        let w: Vec<f32> = (0..u * d).map(|_| rng.unit_f32()).collect();
        let tensors = vec![
            tensor(DType::F32, &[b, d], None, None),
            tensor(DType::F32, &[u, d], None, Some(bytes_f32(&w))),
            tensor(DType::F32, &[b, u], None, None),
        ];
        let model = one_op_model(
            fc_op(Activation::Relu6, false),
            tensors,
            vec![0, 1, -1],
            vec![2],
        );
        let what = format!("float fc {:?}", (b, u, d));
        compare_float_bits(&gpu, &model, std::slice::from_ref(&xt), &what);
        with_tiles(tiles, || {
            compare_float_bits(
                &gpu,
                &model,
                std::slice::from_ref(&xt),
                &format!("{what} {tiles:?}"),
            )
        });
    }
}

#[path = "tests_bmm.rs"]
mod bmm;

/// `double_rescale` in WGSL against `(f64::from(acc) * m).round() as i32` on the edge values
/// of the twin's tests, ties at powers of two, and random pairs next to half-integers.
#[test]
fn wgsl_double_rescale_equals_native_f64() {
    use crate::quant::fixedpoint::double_rescale::tests::{
        accs, double_rounding_ties, multipliers,
    };
    use crate::quant::fixedpoint::double_rescale::RescaleMultiplier;
    use wgpu::util::DeviceExt as _;
    let Some(gpu) = gpu("wgsl_double_rescale_equals_native_f64") else {
        return;
    };
    let mut cases: Vec<(i32, f64)> = Vec::new();
    for &m in &multipliers() {
        cases.extend(accs().into_iter().map(|a| (a, m)));
    }
    for j in 1..=31 {
        for k in -20i64..20 {
            if let Ok(a) = i32::try_from((k << j) + (1i64 << (j - 1))) {
                cases.extend([(a, 2f64.powi(-j)), (a.wrapping_add(1), 2f64.powi(-j))]);
            }
        }
    }
    let mut rng = Rng(0x9d1);
    cases.extend(double_rounding_ties(&mut rng, 20_000));
    while cases.len() < 300_000 {
        let m = f64::from_bits((rng.next() >> 12) | (1023u64 << 52))
            * 2f64.powi((rng.next() % 40) as i32 - 30);
        let t = (rng.next() % 200_000) as f64 - 100_000.0;
        let a = ((t + 0.5) / m).round();
        if a.abs() < 2.0e9 {
            cases.push((a as i32 + (rng.below(3) as i32 - 1), m));
        }
        cases.push((rng.next() as i32, m));
    }
    let words: Vec<u32> = cases
        .iter()
        .flat_map(|&(a, m)| {
            let r = RescaleMultiplier::new(m).expect("finite");
            [a as u32, r.lo, r.hi, r.exponent as u32]
        })
        .collect();
    let ctx = gpu.context();
    let device = ctx.device();
    let pipeline = ctx
        .pipeline(&crate::gpu::PipelineKey::new(
            "fully_connected",
            "rescale_selftest",
        ))
        .expect("pipeline");
    let input = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&words),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let size = (cases.len() * 4) as u64;
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
        pass.dispatch_workgroups((cases.len() as u32).div_ceil(64), 1, 1);
    }
    ctx.queue().submit([encoder.finish()]);
    let bytes = ctx.read_buffer(&output, size).expect("readback");
    let got: &[i32] = bytemuck::cast_slice(&bytes);
    let bad: Vec<String> = cases
        .iter()
        .zip(got)
        .filter(|((a, m), g)| **g != (f64::from(*a) * m).round() as i32)
        .take(10)
        .map(|((a, m), g)| format!("acc {a} m {m:e}: gpu {g}"))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}

#[path = "tests_fc16.rs"]
mod fc16;
