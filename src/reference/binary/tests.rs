//! Tests of the binary ops: broadcasting, the C++ clamp and comparison semantics, the
//! quantized element functions over every int8 pair and at their edges, prepare's refusals,
//! and every op of the fixtures alone on LiteRT's recorded inputs.

use super::add_sub::{add_sub_real_multipliers, quantize_multiplier_smaller_than_one};
use super::mul::mul_real_multiplier;
use super::*;
use crate::model::Model;
use crate::quant::fixedpoint::{quantize_multiplier, QuantizedMultiplier};
use crate::reference::common::broadcast_map;
use crate::reference::test_support::{
    op_fixture_model as fixture, prepare_first, run_alone_everywhere, Compare,
};
use crate::Error;

fn operands(a: &[usize], b: &[usize], out: &[usize]) -> Operands {
    let map = |s: &[usize]| (s != out).then(|| broadcast_map(s, out).expect("broadcasts"));
    Operands {
        len_a: a.iter().product(),
        len_b: b.iter().product(),
        len_out: out.iter().product(),
        map_a: map(a),
        map_b: map(b),
    }
}

#[test]
fn both_inputs_broadcast() {
    // [3,1] - [1,4] -> [3,4]; [4] + [2,3,4] (rank extension) -> [2,3,4].
    let ops = operands(&[3, 1], &[1, 4], &[3, 4]);
    let mut out = vec![0i32; 12];
    ops.zip_with(&[10, 20, 30], &[1, 2, 3, 4], &mut out, |x, y| x - y);
    assert_eq!(out, [9, 8, 7, 6, 19, 18, 17, 16, 29, 28, 27, 26]);
    let ops = operands(&[4], &[2, 3, 4], &[2, 3, 4]);
    let b: Vec<i32> = (0..24).collect();
    let mut out = vec![0i32; 24];
    ops.zip_with(&[100, 200, 300, 400], &b, &mut out, |x, y| x + y);
    let want: Vec<i32> = (0..24).map(|i| (i % 4 + 1) * 100 + i).collect();
    assert_eq!(out, want);
    // A scalar (rank 0) against anything.
    let ops = operands(&[], &[5], &[5]);
    let mut out = vec![0i32; 5];
    ops.zip_with(&[7], &[1, 2, 3, 4, 5], &mut out, |x, y| x * y);
    assert_eq!(out, [7, 14, 21, 28, 35]);
}

#[test]
fn cpp_clamp_and_max_min_semantics() {
    assert_eq!(clamp_like_cpp(7.0, 0.0, 6.0), 6.0);
    assert_eq!(clamp_like_cpp(-1.0, 0.0, 6.0), 0.0);
    assert!(clamp_like_cpp(f32::NAN, 0.0, 6.0).is_nan());
    // No activation still clamps infinities to ±FLT_MAX.
    let (lo, hi) = float_activation_range(Activation::None).expect("range");
    assert_eq!(clamp_like_cpp(f32::INFINITY, lo, hi), f32::MAX);
    // `a > b ? a : b`: a NaN first operand yields the second, a NaN second yields NaN.
    assert_eq!(max_min(true, f32::NAN, 1.0), 1.0);
    assert!(max_min(true, 1.0, f32::NAN).is_nan());
    assert_eq!(max_min(false, f32::NAN, 1.0), 1.0);
    assert_eq!(max_min(true, -0.0f32, 0.0).to_bits(), 0.0f32.to_bits());
    assert_eq!(max_min(false, -3i8, 4), -3);
}

/// Over every int8 pair, the ADD/SUB/MUL results stay within one step of the exact
/// real result (the fixed-point pipeline's double rounding), and hit the clamps.
#[test]
fn quantized_arith_tracks_the_real_result_over_all_int8_pairs() {
    let (s1, z1, s2, z2, so, zo) = (0.0132f32, -31, 0.0087f32, 17, 0.0211f32, -5);
    let add = add_params(s1, z1, s2, z2, so, zo);
    let mul = MulParams {
        input1_offset: -z1,
        input2_offset: -z2,
        output_offset: zo,
        output_multiplier: quantize_multiplier((s1 * s2 / so) as f64),
        act_min: -128,
        act_max: 127,
    };
    let mut clamped = 0;
    for x in -128..=127 {
        for y in -128..=127 {
            let rx = s1 as f64 * (x - z1) as f64;
            let ry = s2 as f64 * (y - z2) as f64;
            for (got, real) in [
                (add.apply(x, y, false), rx + ry),
                (add.apply(x, y, true), rx - ry),
                (mul.apply(x, y), rx * ry),
            ] {
                let exact = (real / so as f64 + zo as f64).clamp(-128.0, 127.0);
                assert!(
                    (got as f64 - exact).abs() <= 1.0,
                    "x={x} y={y}: got {got}, exact {exact}"
                );
                if got == -128 || got == 127 {
                    clamped += 1;
                }
            }
        }
    }
    assert!(clamped > 0);
}

#[test]
fn mismatched_dtypes_and_shapes_are_rejected_at_prepare() {
    let mut m = fixture("add_same_f32");
    let o = m.subgraphs[0].operators[0].clone();
    let out = o.output_tensors().next().expect("output");
    m.subgraphs[0].tensors[out].shape = vec![1, 4, 4, 2];
    assert!(matches!(
        prepare_first(&m, "ADD"),
        Err(Error::InvalidModel(_))
    ));
    let mut m = fixture("maximum_f32");
    let out = m.subgraphs[0].operators[0]
        .output_tensors()
        .next()
        .expect("output");
    m.subgraphs[0].tensors[out].dtype = DType::I8;
    assert!(matches!(
        prepare_first(&m, "MAXIMUM"),
        Err(Error::Unsupported(_))
    ));
}

/// Every ADD, SUB, MUL, MAXIMUM and MINIMUM of the fixtures, alone on LiteRT's recorded
/// inputs: outputs must equal LiteRT's (floats too).
#[test]
fn binary_ops_match_litert_in_every_fixture() {
    let r = run_alone_everywhere(&["ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM"], Compare::Equal);
    println!("binary ops: {} outputs checked", r.outputs);
    assert!(r.outputs >= 39, "only {} outputs checked", r.outputs);
    assert!(r.failures.is_empty(), "{}", r.failures.join("\n"));
}

fn set_scale(model: &mut Model, op: &str, which: &str, scale: f32) {
    let sg = &mut model.subgraphs[0];
    let o = sg
        .operators
        .iter()
        .find(|o| o.op.name() == op)
        .expect("op present");
    let t = match which {
        "in0" => o.input(0),
        "in1" => o.input(1),
        _ => o.output_tensors().next(),
    }
    .expect("tensor");
    sg.tensors[t].quant.as_mut().expect("quantized").scale = vec![scale];
}

fn add_params(s1: f32, z1: i32, s2: f32, z2: i32, so: f32, zo: i32) -> AddSubParams {
    let q = |m: f64| quantize_multiplier_smaller_than_one(m).expect("below one");
    let [m1, m2, mo] = add_sub_real_multipliers(s1, s2, so, 20);
    AddSubParams {
        left_shift: 20,
        input1_offset: -z1,
        input1_multiplier: q(m1),
        input2_offset: -z2,
        input2_multiplier: q(m2),
        output_offset: zo,
        output_multiplier: q(mo),
        act_min: -128,
        act_max: 127,
    }
}

#[test]
fn add_edge_values() {
    // Equal scales: input multipliers are exactly 1/2 = (2^30, 0).
    let p = add_params(0.5, 0, 0.5, 0, 1.0, 0);
    assert_eq!(
        p.input1_multiplier,
        QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: 0
        }
    );
    // 0.5*(-128) + 0.5*(-128) = -128 -> -128; 127 + 127 halves -> 127.
    assert_eq!(p.apply(-128, -128, false), -128);
    assert_eq!(p.apply(127, 127, false), 127);
    assert_eq!(p.apply(127, -128, true), 127);
    // Ties: 0.5 * (1 + 0) = 0.5 rounds away from zero, -0.5 likewise through the
    // double rounding of the output stage.
    assert_eq!(p.apply(1, 0, false), 1);
    assert_eq!(p.apply(-1, 0, false), -1);
    assert_eq!(p.apply(0, 1, true), -1);
    // Fused activation clamp.
    let relu = AddSubParams { act_min: 0, ..p };
    assert_eq!(relu.apply(-5, -5, false), 0);
}

#[test]
fn mul_multiplier_is_computed_in_float() {
    // Scales where the float product/quotient and the double one quantize to different
    // multipliers: prepare must take the float one (mul.cc multiplies `float` scales).
    let so = 0.0171f32;
    let mut found = 0;
    for i in 1..2000 {
        let s1 = 0.01f32 + i as f32 * 1.3e-5;
        for s2 in [0.0131f32, 0.0077, 0.0203] {
            let float = quantize_multiplier((s1 * s2 / so) as f64);
            let double = quantize_multiplier(s1 as f64 * s2 as f64 / so as f64);
            assert_eq!(quantize_multiplier(mul_real_multiplier(s1, s2, so)), float);
            found += (float != double) as usize;
        }
    }
    assert!(found > 0, "no float/double disagreement found");
    // ADD's are in double: 2·max is exact, so s/twice_max is exactly 1/2 for the larger.
    let [m1, m2, _] = add_sub_real_multipliers(0.3, 0.1, 0.2, 20);
    assert_eq!(m1, 0.5);
    assert_eq!(m2, 0.1f32 as f64 / (2.0 * 0.3f32 as f64));
}

#[test]
fn add_and_sub_reject_what_tflite_aborts_on() {
    for (name, op) in [("add_same_int8", "ADD"), ("sub_same_int8", "SUB")] {
        assert!(prepare_first(&fixture(name), op).is_ok());
        // A tiny output scale makes twice_max / (2^20 s_out) >= 1.
        let mut m = fixture(name);
        set_scale(&mut m, op, "out", 1e-9);
        match prepare_first(&m, op) {
            Err(Error::Unsupported(e)) => assert!(e.contains("multiplier"), "{e}"),
            Err(e) => panic!("{op}: unexpected error {e}"),
            Ok(_) => panic!("{op}: expected unsupported"),
        }
        // A non-positive scale.
        let mut m = fixture(name);
        set_scale(&mut m, op, "in1", 0.0);
        assert!(matches!(prepare_first(&m, op), Err(Error::Unsupported(_))));
    }
}

/// int8/uint8 DIV and int8 SQUARED_DIFFERENCE against LiteRT's outputs on 1024 input pairs
/// (edge values and zero points among them) for 16 parameter sets per op and dtype
/// (`tools/make_binary_tables.py`), value for value.
#[test]
fn quantized_elements_match_litert_on_random_pairs() {
    use crate::data::Npz;
    use crate::reference::test_support::fixtures_dir;
    let ints = |t: &Tensor| -> Vec<i32> {
        match t.buf() {
            Buf::I8(v) => v.iter().map(|&x| i32::from(x)).collect(),
            Buf::U8(v) => v.iter().map(|&x| i32::from(x)).collect(),
            other => panic!("unexpected {:?}", other.dtype()),
        }
    };
    let mut compared = 0;
    for (file, dtype) in [
        ("div_int8.npz", DType::I8),
        ("div_uint8.npz", DType::U8),
        ("squared_difference_int8.npz", DType::I8),
    ] {
        let mut npz = Npz::open(fixtures_dir().join("binary_tables").join(file)).unwrap();
        let params = npz.read("params").unwrap().as_f32().unwrap().to_vec();
        let a = ints(&npz.read("a").unwrap());
        let b = ints(&npz.read("b").unwrap());
        let want = ints(&npz.read("outputs").unwrap());
        let sets = params.len() / 6;
        let per = a.len() / sets;
        assert!(sets >= 16 && per >= 1024, "{file}");
        let (lo, hi) = qrange(dtype).unwrap();
        for k in 0..sets {
            let p = &params[6 * k..6 * k + 6];
            let q = [
                (p[0], p[1] as i32),
                (p[2], p[3] as i32),
                (p[4], p[5] as i32),
            ];
            let f: Box<dyn Fn(i32, i32) -> Option<i32>> = if file.starts_with("div") {
                let d = DivParams::new(q, (lo, hi)).unwrap();
                Box::new(move |x, y| d.apply(x, y))
            } else {
                let s = AddSubParams::squared_difference_params(q).unwrap();
                Box::new(move |x, y| Some(s.squared_difference(x, y)))
            };
            for i in k * per..(k + 1) * per {
                assert_eq!(
                    f(a[i], b[i]),
                    Some(want[i]),
                    "{file} set {k} {q:?}: {} ∘ {}",
                    a[i],
                    b[i]
                );
                compared += 1;
            }
        }
    }
    println!("{compared} element results equal to LiteRT's");
}

#[test]
fn count_leading_sign_bits_follows_tflite() {
    use super::div::count_leading_sign_bits as clsb;
    assert_eq!(clsb(0), 31);
    assert_eq!(clsb(1), 30);
    assert_eq!(clsb(255), 23);
    assert_eq!(clsb(-1), 31);
    assert_eq!(clsb(-255), 23);
    assert_eq!(clsb(-256), 23);
    assert_eq!(clsb(i32::MAX), 0);
    assert_eq!(clsb(i32::MIN), 0);
}
