//! The soft division on the device, QUANTIZE and DEQUANTIZE.

use litequant::gpu::{self, GpuContext};
use litequant::model::{DType, Op, QuantParams};
use litequant::quant::fixedpoint::softdiv;
use litequant::{Buf, Tensor};

use super::*;

// ---------------------------------------------------------------------------------------------
// Soft division (shaders/common/softdiv.wgsl) on the device

const SOFTDIV_TEST: &str = r#"
#import softdiv
@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= arrayLength(&a)) {
        return;
    }
    out[2u * i] = f32_div_bits(a[i], b[i]);
    out[2u * i + 1u] = u32(affine_quantize_soft(a[i], b[i], -3, -128, 127));
}
"#;

fn softdiv_pairs() -> Vec<(u32, u32)> {
    let mut edges: Vec<u32> = vec![
        0,
        1,
        2,
        3,
        0x40_0000,
        0x7f_ffff,
        0x80_0000,
        0x80_0001,
        0xff_ffff,
        0x3f00_0000,
        0x3f7f_ffff,
        0x3f80_0000,
        0x3f80_0001,
        0x3fc0_0000,
        0x4000_0000,
        0x4b00_0000,
        0x4b7f_ffff,
        0x4b80_0000,
        0x3dcc_cccd,
        0x3c00_0000,
        0x3b80_0000,
        0x7f7f_ffff,
        0x7f00_0000,
        0x7f80_0000,
        0x7fc0_0000,
        0x7f80_0001,
    ];
    let neg: Vec<u32> = edges.iter().map(|x| x | 0x8000_0000).collect();
    edges.extend(neg);
    let mut pairs = Vec::new();
    for &a in &edges {
        for &b in &edges {
            pairs.push((a, b));
        }
    }
    let mut rng = Rng(0x50f7_d1f0);
    while pairs.len() < 600_000 {
        let r = rng.next();
        let (lo, hi) = (r as u32, (r >> 32) as u32);
        let pair = match pairs.len() % 5 {
            0 => (lo, hi),
            1 => (lo, (lo & 0xff80_0000) | (hi & 0x007f_ffff)),
            2 => (lo & 0x807f_ffff, hi),
            3 => (
                (lo & 0x807f_ffff) | ((1 + hi % 40) << 23),
                (hi & 0x807f_ffff) | ((100 + (lo >> 24) % 60) << 23),
            ),
            _ => {
                // Exact halves over QUANTIZE-like scales.
                let s = f32::from_bits(0x3000_0000 + lo % 0x0f00_0000);
                let k = (hi % 400) as f32 - 200.0;
                (((k + 0.5) * s).to_bits(), s.to_bits())
            }
        };
        pairs.push(pair);
    }
    pairs
}

fn run_softdiv(ctx: &GpuContext, pairs: &[(u32, u32)]) -> Vec<u32> {
    let a: Vec<u32> = pairs.iter().map(|p| p.0).collect();
    let b: Vec<u32> = pairs.iter().map(|p| p.1).collect();
    run_wgsl(ctx, SOFTDIV_TEST, &[&a, &b], 2 * pairs.len())
}

#[test]
fn wgsl_soft_division_equals_native_division() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("wgsl_soft_division_equals_native_division")? else {
        return Ok(());
    };
    let pairs = softdiv_pairs();
    let got = run_softdiv(&ctx, &pairs);
    let mut bad = Vec::new();
    for (i, &(a, b)) in pairs.iter().enumerate() {
        let native = f32::from_bits(a) / f32::from_bits(b);
        let want = if native.is_nan() {
            softdiv::QNAN
        } else {
            native.to_bits()
        };
        let twin = softdiv::f32_div_bits(a, b);
        let q = softdiv::affine_quantize_soft(a, b, -3, -128, 127);
        if got[2 * i] != want || twin != want || got[2 * i + 1] as i32 != q {
            bad.push(format!(
                "{a:#010x} / {b:#010x}: gpu {:#010x}, rust {twin:#010x}, native {want:#010x}; quantize gpu {} rust {q}",
                got[2 * i],
                got[2 * i + 1] as i32
            ));
        }
    }
    println!("{} pairs divided on the device", pairs.len());
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// QUANTIZE / DEQUANTIZE

fn scale_for(rng: &mut Rng) -> f32 {
    // Typical activation scales, plus extremes.
    match rng.below(6) {
        0 => 10f32.powi(rng.below(13) as i32 - 10) * (1.0 + rng.unit()),
        1 => 1.0 / 256.0,
        2 => f32::from_bits(0x0080_0000 + rng.below(0x0100_0000) as u32), // tiny normal
        _ => 0.001 + rng.unit().abs() * 0.1,
    }
}

fn floats_for(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| match i % 7 {
            0 => (rng.below(400) as f32 - 200.0 + 0.5) * scale,
            1 => rng.unit() * 300.0 * scale,
            2 => f32::from_bits(rng.next() as u32),
            3 => [
                0.0,
                -0.0,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::NAN,
                1e-40,
                -1e-40,
            ][rng.below(7)],
            _ => rng.unit() * 130.0 * scale,
        })
        .collect()
}

#[test]
fn quantize_float_matches_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("quantize_float_matches_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0x9a47);
    for case in 0..36 {
        let dtype = [DType::I8, DType::U8, DType::I16][case % 3];
        let (lo, hi) = range(dtype);
        let shape = random_shape(&mut rng, 4, 300);
        let n: usize = shape.iter().product();
        let scale = scale_for(&mut rng);
        let zp = [lo, hi, 0, lo + 1, (lo + hi) / 2][rng.below(5)];
        let x = floats_for(&mut rng, n, scale);
        let per_channel = case % 4 == 3 && !shape.is_empty();
        let mut out = tensor(
            "y",
            dtype,
            &shape,
            Some(QuantParams::per_tensor(scale, zp as i64)),
        );
        if per_channel {
            let axis = rng.below(shape.len());
            let c = shape[axis];
            out.quant = Some(QuantParams {
                scale: (0..c).map(|_| scale_for(&mut rng)).collect(),
                zero_point: (0..c)
                    .map(|_| (lo + rng.below((hi - lo) as usize + 1) as i32) as i64)
                    .collect(),
                quantized_dimension: axis as i32,
                ..Default::default()
            });
        }
        let m = one_op(
            Op::Quantize,
            vec![tensor("x", DType::F32, &shape, None), out],
            1,
        );
        h.check(
            &m,
            &[Tensor::from_f32(&shape, &x)?],
            &format!(
                "case {case} {dtype:?} {shape:?} scale {scale:e} zp {zp} per_channel {per_channel}"
            ),
        )?;
    }
    Ok(())
}

#[test]
fn requantize_matches_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("requantize_matches_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0x4e9a);
    let pairs = [
        (DType::I8, DType::I8),
        (DType::I8, DType::U8),
        (DType::U8, DType::I8),
        (DType::U8, DType::U8),
        (DType::I16, DType::I8),
        (DType::I16, DType::I16),
        (DType::I16, DType::I32),
        (DType::I32, DType::I8),
        (DType::I32, DType::I16),
    ];
    for case in 0..40 {
        let (din, dout) = pairs[case % pairs.len()];
        let shape = random_shape(&mut rng, 3, 200);
        let n: usize = shape.iter().product();
        let zp_of = |rng: &mut Rng, d: DType| -> i32 {
            match d {
                DType::I16 | DType::I32 => 0,
                _ => {
                    let (lo, hi) = range(d);
                    [lo, hi, 0.max(lo), lo + rng.below((hi - lo) as usize) as i32][rng.below(4)]
                }
            }
        };
        let (zin, zout) = (zp_of(&mut rng, din), zp_of(&mut rng, dout));
        let s_in = scale_for(&mut rng);
        // Same scale half the time (the int8<->uint8 bit flip when zero points differ by 128).
        let s_out = if case % 2 == 0 {
            s_in
        } else {
            s_in * (0.01 + 4.0 * rng.unit().abs())
        };
        let (zin, zout) = if case % 4 == 0 && din == DType::I8 && dout == DType::U8 {
            (zin.min(127), zin.min(127) + 128)
        } else {
            (zin, zout)
        };
        let x = random_ints(&mut rng, din, n);
        let m = one_op(
            Op::Quantize,
            vec![
                tensor(
                    "x",
                    din,
                    &shape,
                    Some(QuantParams::per_tensor(s_in, zin as i64)),
                ),
                tensor(
                    "y",
                    dout,
                    &shape,
                    Some(QuantParams::per_tensor(s_out, zout as i64)),
                ),
            ],
            1,
        );
        h.check(
            &m,
            &[Tensor::new(&shape, x)?],
            &format!("case {case} {din:?}->{dout:?} {shape:?}"),
        )?;
    }
    Ok(())
}

#[test]
fn dequantize_matches_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("dequantize_matches_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0xde9a);
    for case in 0..30 {
        let dtype = [DType::I8, DType::U8, DType::I16][case % 3];
        let (lo, hi) = range(dtype);
        let shape = random_shape(&mut rng, 4, 300);
        let n: usize = shape.iter().product();
        let scale = scale_for(&mut rng);
        let zp = if dtype == DType::I16 {
            0
        } else {
            [lo, hi, 0.max(lo)][rng.below(3)]
        };
        let mut x_t = tensor(
            "x",
            dtype,
            &shape,
            Some(QuantParams::per_tensor(scale, zp as i64)),
        );
        if case % 3 != 2 && case % 2 == 1 && !shape.is_empty() {
            let axis = rng.below(shape.len());
            let c = shape[axis];
            x_t.quant = Some(QuantParams {
                scale: (0..c).map(|_| scale_for(&mut rng)).collect(),
                zero_point: (0..c)
                    .map(|_| (lo + rng.below((hi - lo) as usize + 1) as i32) as i64)
                    .collect(),
                quantized_dimension: axis as i32,
                ..Default::default()
            });
        }
        let m = one_op(
            Op::Dequantize,
            vec![x_t, tensor("y", DType::F32, &shape, None)],
            1,
        );
        let x = random_ints(&mut rng, dtype, n);
        h.check(
            &m,
            &[Tensor::new(&shape, x)?],
            &format!("case {case} {dtype:?} {shape:?}"),
        )?;
    }
    // float16: every bit pattern (subnormals, infinities, NaNs), bit for bit.
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let shape = [all.len()];
    let m = one_op(
        Op::Dequantize,
        vec![
            tensor("x", DType::F16, &shape, None),
            tensor("y", DType::F32, &shape, None),
        ],
        1,
    );
    let got = h.gpu(&m, &[Tensor::new(&shape, Buf::F16(all.clone()))?])?;
    let got = got[0].as_f32().expect("f32");
    for (&hb, g) in all.iter().zip(got) {
        assert_eq!(
            g.to_bits(),
            litequant::f16_to_f32(hb).to_bits(),
            "f16 {hb:#06x}"
        );
    }
    Ok(())
}

/// Zero points beyond what the exact integer path handles: an error from prepare, never a
/// panic or a wrong result.
#[test]
fn extreme_zero_points_are_refused_not_panicked() -> litequant::Result<()> {
    let Some(h) = Harness::new("extreme_zero_points_are_refused_not_panicked")? else {
        return Ok(());
    };
    use litequant::Engine as _;
    for zp in [i32::MIN as i64, i32::MAX as i64, 1 << 21] {
        for (din, dout) in [(DType::F32, DType::I8), (DType::I8, DType::F32)] {
            let op = if din == DType::F32 {
                Op::Quantize
            } else {
                Op::Dequantize
            };
            let q = Some(QuantParams::per_tensor(0.5, zp));
            let (qi, qo) = if din == DType::F32 {
                (None, q)
            } else {
                (q, None)
            };
            let m = one_op(
                op,
                vec![tensor("x", din, &[5], qi), tensor("y", dout, &[5], qo)],
                1,
            );
            match h.engine.prepare(&m) {
                Ok(_) => panic!("zero point {zp} {din:?}->{dout:?} was accepted"),
                Err(e) => println!("zero point {zp}: {e}"),
            }
        }
    }
    Ok(())
}
