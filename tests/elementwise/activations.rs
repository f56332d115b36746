//! RELU, RELU6, LEAKY_RELU, HARD_SWISH, LOGISTIC, TANH, PRELU, and the 16-bit fixed-point
//! primitives of `shaders/common/fixedpoint16.wgsl` on the device.

use litequant::gpu;
use litequant::model::{DType, Op, QuantParams};
use litequant::quant::fixedpoint::{
    rounding_divide_by_pot_i16, saturating_doubling_high_mul_i16, saturating_left_shift_i16,
    srdhm_i16,
};
use litequant::Engine as _;
use litequant::{Buf, Tensor};

use super::*;

const FIXEDPOINT16_TEST: &str = r#"
#import fixedpoint16
@group(0) @binding(0) var<storage, read> a: array<i32>;
@group(0) @binding(1) var<storage, read> b: array<i32>;
@group(0) @binding(2) var<storage, read> e: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= arrayLength(&a)) {
        return;
    }
    out[4u * i] = srdhm_i16(a[i], b[i]);
    out[4u * i + 1u] = saturating_doubling_high_mul_i16(a[i], b[i]);
    out[4u * i + 2u] = rounding_divide_by_pot_i16(a[i], e[i] % 32);
    out[4u * i + 3u] = saturating_left_shift_i16(a[i], e[i] % 31);
}
"#;

#[test]
fn wgsl_fixedpoint16_equals_rust_twin() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("wgsl_fixedpoint16_equals_rust_twin")? else {
        return Ok(());
    };
    let edges: [i16; 14] = [
        i16::MIN,
        i16::MIN + 1,
        -16385,
        -16384,
        -257,
        -2,
        -1,
        0,
        1,
        2,
        255,
        16384,
        i16::MAX - 1,
        i16::MAX,
    ];
    let (mut a, mut b, mut e) = (Vec::new(), Vec::new(), Vec::new());
    for &x in &edges {
        for &y in &edges {
            for k in 0..32 {
                a.push(x as i32 as u32);
                b.push(y as i32 as u32);
                e.push(k);
            }
        }
    }
    let mut rng = Rng(0xf16);
    while a.len() < 300_000 {
        let r = rng.next();
        a.push(r as i16 as i32 as u32);
        b.push((r >> 16) as i16 as i32 as u32);
        e.push(((r >> 32) % 32) as u32);
    }
    let got = run_wgsl(&ctx, FIXEDPOINT16_TEST, &[&a, &b, &e], 4 * a.len());
    let mut bad = Vec::new();
    for i in 0..a.len() {
        let (x, y, k) = (a[i] as i32 as i16, b[i] as i32 as i16, e[i] as i32);
        let want = [
            srdhm_i16(x, y) as i32,
            saturating_doubling_high_mul_i16(x, y) as i32,
            rounding_divide_by_pot_i16(x, k % 32) as i32,
            saturating_left_shift_i16(x, k % 31) as i32,
        ];
        let g = [got[4 * i], got[4 * i + 1], got[4 * i + 2], got[4 * i + 3]].map(|v| v as i32);
        if g != want {
            bad.push(format!("a {x} b {y} e {k}: gpu {g:?} rust {want:?}"));
        }
    }
    println!("{} fixedpoint16 cases on the device", a.len());
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
    Ok(())
}

fn unary_op(k: usize, rng: &mut Rng) -> (Op, &'static str) {
    match k {
        0 => (Op::Relu, "RELU"),
        1 => (Op::Relu6, "RELU6"),
        2 => {
            let alpha = [0.2, -0.5, 1.5, 0.01, -3.0][rng.below(5)];
            (Op::LeakyRelu { alpha }, "LEAKY_RELU")
        }
        3 => (Op::HardSwish, "HARD_SWISH"),
        4 => (Op::Logistic, "LOGISTIC"),
        _ => (Op::Tanh, "TANH"),
    }
}

/// Quantization of a unary op's input and output: random, or the fixed output parameters
/// LOGISTIC and TANH need.
fn unary_quant(rng: &mut Rng, name: &str, dtype: DType) -> [QuantParams; 2] {
    if dtype == DType::F32 {
        return [QuantParams::default(), QuantParams::default()];
    }
    let (lo, hi) = range(dtype);
    let mut q = || {
        let s = 10f32.powi(rng.below(4) as i32 - 3) * (0.3 + rng.unit().abs() * 3.0);
        let z = if dtype == DType::I16 {
            0
        } else {
            [
                lo,
                hi,
                (lo + hi) / 2,
                lo + rng.below((hi - lo) as usize) as i32,
            ][rng.below(4)]
        };
        QuantParams::per_tensor(s, z as i64)
    };
    let qin = q();
    let half = if dtype == DType::U8 { 128 } else { 0 };
    let qout = match name {
        "LOGISTIC" => {
            QuantParams::per_tensor(1.0 / 256.0, if dtype == DType::U8 { 0 } else { -128 })
        }
        "TANH" => QuantParams::per_tensor(1.0 / 128.0, half),
        _ => q(),
    };
    [qin, qout]
}

#[test]
fn unary_activations_match_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("unary_activations_match_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0xac7);
    let mut done = std::collections::BTreeMap::<String, usize>::new();
    for case in 0..240 {
        let (op, name) = unary_op(case % 6, &mut rng);
        let dtype = [DType::F32, DType::I8, DType::U8, DType::I16][(case / 6) % 4];
        let shape = random_shape(&mut rng, 4, 300);
        let n: usize = shape.iter().product();
        let [qin, qout] = unary_quant(&mut rng, name, dtype);
        let (q_in, q_out) = if dtype == DType::F32 {
            (None, None)
        } else {
            (Some(qin), Some(qout))
        };
        let m = one_op(
            op.clone(),
            vec![
                tensor("x", dtype, &shape, q_in),
                tensor("y", dtype, &shape, q_out),
            ],
            1,
        );
        // Parameter sets or dtypes the reference refuses are skipped (counted below).
        if litequant::ReferenceEngine.prepare(&m).is_err() {
            continue;
        }
        let x = if dtype == DType::F32 {
            Buf::F32(
                (0..n)
                    .map(|i| match i % 9 {
                        0 => {
                            [f32::NAN, 0.0, -0.0, 3.0, -3.0, 6.0, 150.0, -150.0, 1e-5][rng.below(9)]
                        }
                        _ => rng.unit() * 12.0,
                    })
                    .collect(),
            )
        } else {
            random_ints(&mut rng, dtype, n)
        };
        h.check(
            &m,
            &[Tensor::new(&shape, x)?],
            &format!("case {case} {name} {dtype:?} {shape:?}"),
        )?;
        // Every 8-bit input value once.
        if matches!(dtype, DType::I8 | DType::U8) {
            let (lo, _) = range(dtype);
            let all = (0..256).map(|v| v + lo).collect::<Vec<i32>>();
            let buf = if dtype == DType::I8 {
                Buf::I8(all.iter().map(|&v| v as i8).collect())
            } else {
                Buf::U8(all.iter().map(|&v| v as u8).collect())
            };
            let m = one_op(
                op,
                vec![
                    tensor("x", dtype, &[256], m.main().tensors[0].quant.clone()),
                    tensor("y", dtype, &[256], m.main().tensors[1].quant.clone()),
                ],
                1,
            );
            h.check(
                &m,
                &[Tensor::new(&[256], buf)?],
                &format!("case {case} {name} {dtype:?} all values"),
            )?;
        }
        *done.entry(format!("{name} {dtype:?}")).or_default() += 1;
    }
    println!("compared: {done:?}");
    for name in [
        "RELU",
        "RELU6",
        "LEAKY_RELU",
        "HARD_SWISH",
        "LOGISTIC",
        "TANH",
    ] {
        for d in ["F32", "I8", "U8"] {
            assert!(
                done.contains_key(&format!("{name} {d}")),
                "no {name} {d} case ran: {done:?}"
            );
        }
    }
    Ok(())
}

#[test]
fn prelu_matches_reference() -> litequant::Result<()> {
    let Some(h) = Harness::new("prelu_matches_reference")? else {
        return Ok(());
    };
    let mut rng = Rng(0x9e1);
    let mut done = 0;
    for case in 0..48 {
        let dtype = [DType::F32, DType::I8, DType::U8][case % 3];
        let shape = random_shape(&mut rng, 4, 300);
        // alpha: the input's trailing dimensions, some set to 1.
        let drop = rng.below(shape.len() + 1);
        let alpha_shape: Vec<usize> = shape[drop..]
            .iter()
            .map(|&d| if rng.below(2) == 0 { 1 } else { d })
            .collect();
        let (n, na) = (
            shape.iter().product::<usize>(),
            alpha_shape.iter().product::<usize>(),
        );
        let (lo, hi) = range(dtype);
        let mut q = || {
            (dtype != DType::F32).then(|| {
                let s = 10f32.powi(rng.below(3) as i32 - 3) * (0.5 + rng.unit().abs() * 4.0);
                let z = [
                    lo,
                    hi,
                    (lo + hi) / 2,
                    lo + rng.below((hi - lo) as usize) as i32,
                ][rng.below(4)];
                QuantParams::per_tensor(s, z as i64)
            })
        };
        let (qx, qa, qy) = (q(), q(), q());
        let alpha = if dtype == DType::F32 {
            Buf::F32((0..na).map(|_| rng.unit() * 2.0).collect())
        } else {
            random_ints(&mut rng, dtype, na)
        };
        let x = if dtype == DType::F32 {
            Buf::F32((0..n).map(|_| rng.unit() * 10.0).collect())
        } else {
            random_ints(&mut rng, dtype, n)
        };
        let constant = case % 2 == 0;
        let mut ta = tensor("alpha", dtype, &alpha_shape, qa);
        if constant {
            ta.data = Some(le_bytes(&alpha).into());
        }
        let m = one_op(
            Op::Prelu,
            vec![
                tensor("x", dtype, &shape, qx),
                ta,
                tensor("y", dtype, &shape, qy),
            ],
            2,
        );
        if litequant::ReferenceEngine.prepare(&m).is_err() {
            continue;
        }
        let mut inputs = vec![Tensor::new(&shape, x)?];
        if !constant {
            inputs.push(Tensor::new(&alpha_shape, alpha)?);
        }
        h.check(
            &m,
            &inputs,
            &format!("case {case} {dtype:?} {shape:?} alpha {alpha_shape:?}"),
        )?;
        done += 1;
    }
    println!("{done} PRELU models compared");
    assert!(done >= 30, "only {done} PRELU models prepared");
    Ok(())
}

/// [-40, 40] in steps of 0.0005, the neighbourhood of 0 in steps of 1e-6, the extremes and
/// infinities, then `more`.
fn dense_sweep(more: &[f32]) -> Vec<f32> {
    let mut x: Vec<f32> = (0..160_001).map(|i| -40.0 + i as f32 * 0.0005).collect();
    x.extend((0..20_000).map(|i| (i as f32 - 10_000.0) * 1e-6));
    x.extend([f32::MAX, f32::MIN, f32::INFINITY, f32::NEG_INFINITY]);
    x.extend_from_slice(more);
    x
}

/// The float transcendental activations over a dense sweep of [-40, 40] and of the
/// neighbourhood of 0 (where a `(1 - e) / (1 + e)` tanh would cancel): within tolerance.
#[test]
fn float_transcendentals_stay_within_tolerance_on_a_dense_sweep() -> litequant::Result<()> {
    let Some(h) = Harness::new("float_transcendentals_stay_within_tolerance_on_a_dense_sweep")?
    else {
        return Ok(());
    };
    let x = dense_sweep(&[1e-30, -1e-30]);
    let shape = [x.len()];
    for op in [Op::Logistic, Op::Tanh, Op::HardSwish] {
        let m = one_op(
            op.clone(),
            vec![
                tensor("x", DType::F32, &shape, None),
                tensor("y", DType::F32, &shape, None),
            ],
            1,
        );
        h.check(
            &m,
            &[Tensor::from_f32(&shape, &x)?],
            &format!("{op:?} sweep"),
        )?;
    }
    Ok(())
}

/// Eigen's forms on the GPU give the CPU's bits over a dense sweep of [-40, 40], values near
/// 0 and the special values: float GELU (both forms) in the reference's order, LOGISTIC and
/// TANH in the converter's (`shaders/common/eigen_act.wgsl`). Inputs whose CPU result is
/// subnormal are left out (a GPU may flush them).
#[test]
fn eigen_forms_are_the_cpu_bits_on_a_dense_sweep() -> litequant::Result<()> {
    let Some(h) = Harness::new("eigen_forms_are_the_cpu_bits_on_a_dense_sweep")? else {
        return Ok(());
    };
    let x = dense_sweep(&[f32::NAN, 1e-30]);
    let shape = [x.len()];
    let input = Tensor::from_f32(&shape, &x)?;
    let converter = h
        .engine
        .clone()
        .with_float_order(litequant::FloatOrder::Converter);
    let cases: [(Op, bool); 4] = [
        (Op::Gelu { approximate: false }, false),
        (Op::Gelu { approximate: true }, false),
        (Op::Logistic, true),
        (Op::Tanh, true),
    ];
    for (op, in_converter_order) in cases {
        let m = one_op(
            op.clone(),
            vec![
                tensor("x", DType::F32, &shape, None),
                tensor("y", DType::F32, &shape, None),
            ],
            1,
        );
        let inputs = std::slice::from_ref(&input);
        let (got, want) = if in_converter_order {
            let want = litequant::ConverterFloatEngine.prepare(&m)?.run(inputs)?;
            (converter.prepare(&m)?.run(inputs)?, want)
        } else {
            let want = litequant::ReferenceEngine.prepare(&m)?.run(inputs)?;
            (h.gpu(&m, inputs)?, want)
        };
        let (g, w) = (got[0].as_f32().unwrap(), want[0].as_f32().unwrap());
        let bad: Vec<usize> = (0..x.len())
            .filter(|&i| w[i] == 0.0 || w[i].is_normal() || w[i].is_nan() || w[i].is_infinite())
            .filter(|&i| g[i].to_bits() != w[i].to_bits() && !(g[i].is_nan() && w[i].is_nan()))
            .collect();
        assert!(
            bad.is_empty(),
            "{op:?}: {} of {} differ, first x = {:e}: gpu {:e}, cpu {:e}",
            bad.len(),
            x.len(),
            x[bad[0]],
            g[bad[0]],
            w[bad[0]]
        );
    }
    Ok(())
}
