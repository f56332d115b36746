use super::gelu;
use super::rsqrt::{inv_sqrt_quantized_multiplier_exp, RsqrtParams};
use super::*;
use crate::data::Npz;
use crate::reference::activations::lut::lut_populate;
use crate::reference::test_support::{fixtures_dir, run_alone_everywhere, Compare};

/// Every NEG, RSQRT, SQRT, EXP, LOG and GELU of the fixtures, alone on LiteRT's recorded
/// inputs.
#[test]
fn elementwise_ops_match_their_goldens() {
    let ops = ["NEG", "RSQRT", "SQRT", "EXP", "LOG", "GELU"];
    let r = run_alone_everywhere(&ops, Compare::Tolerance);
    assert!(r.failures.is_empty(), "{}", r.failures.join("\n"));
    println!(
        "checked {} elementwise op instances against their goldens",
        r.ops
    );
    assert!(
        r.ops >= 4,
        "only {} elementwise ops found in the fixtures",
        r.ops
    );
}

/// `GetInvSqrtQuantizedMultiplierExp` is `1/sqrt(x)` as multiplier · 2^shift, to the
/// precision of five Newton-Raphson steps, over every input an int8 RSQRT can pass and
/// wide values beyond.
#[test]
fn inv_sqrt_multiplier_approximates_the_real_value() {
    let mut inputs: Vec<i32> = (2..=300).collect();
    inputs.extend([1 << 20, (1 << 29) - 1, 1 << 29, i32::MAX]);
    for x in inputs {
        let m = inv_sqrt_quantized_multiplier_exp(x, -1);
        let got = f64::from(m.multiplier) / 2f64.powi(31) * 2f64.powi(m.shift);
        let want = 1.0 / f64::from(x).sqrt();
        assert!(
            ((got - want) / want).abs() < 1e-5,
            "x {x}: {m:?} = {got}, want {want}"
        );
    }
    let one = inv_sqrt_quantized_multiplier_exp(1, -1);
    assert_eq!((one.multiplier, one.shift), (i32::MAX, 0));
}

/// The int8 RSQRT element: refusals below the zero point, the maximum at the zero point,
/// and results within one step of the real value elsewhere.
#[test]
fn rsqrt_int8_elements() {
    let (s_in, zp_in, s_out, zp_out) = (0.0156786f32, -128, 0.0123554f32, -128);
    let p = RsqrtParams::prepare((s_in, zp_in), (s_out, zp_out));
    assert_eq!(p.apply(zp_in), Some(127));
    let q = RsqrtParams::prepare((0.05, 3), (0.02, -100));
    assert_eq!(q.apply(2), None);
    assert_eq!(q.apply(-128), None);
    for x in -127..=127 {
        let Some(y) = p.apply(x) else { continue };
        if x == zp_in {
            continue;
        }
        let real = 1.0 / (f64::from(s_in) * f64::from(x - zp_in)).sqrt();
        let want = (real / f64::from(s_out)).round() + f64::from(zp_out);
        let want = want.clamp(-128.0, 127.0);
        assert!((f64::from(y) - want).abs() <= 1.0, "x {x}: {y} vs {want}");
    }
}

/// NEG int8 negates the stored value, wrapping -128.
#[test]
fn neg_int8_wraps() {
    let k = QuantUnary {
        label: "NEG".into(),
        qmin: -128,
        qmax: 127,
        f: QuantFn::Neg,
        refusal: "",
    };
    assert_eq!(k.apply(5), Some(-5));
    assert_eq!(k.apply(127), Some(-127));
    assert_eq!(k.apply(-128), Some(-128));
    assert_eq!(k.table().len(), 256);
}

/// SQRT int8 truncates after dividing by the output scale, and refuses negative inputs.
#[test]
fn sqrt_int8_truncates() {
    // sqrt(0.25 · 9) = 1.5 → 1.5 / 0.5 = 3 exactly; sqrt(0.25 · 8) / 0.5 = 2.83 → 2.
    assert_eq!(sqrt_q(9, (0.25, 0), (0.5, 0), -128, 127), Some(3));
    assert_eq!(sqrt_q(8, (0.25, 0), (0.5, 0), -128, 127), Some(2));
    assert_eq!(sqrt_q(8, (0.25, 0), (0.5, -128), -128, 127), Some(-126));
    assert_eq!(sqrt_q(-1, (0.25, 0), (0.5, 0), -128, 127), None);
    assert_eq!(sqrt_q(127, (1.0, -128), (0.01, 0), -128, 127), Some(127));
}

/// The int8/uint8 element functions against LiteRT's outputs over every input value, for 48
/// parameter sets per op and dtype (`tools/make_unary_tables.py`): equal everywhere except
/// the RSQRT/SQRT inputs below the zero point, which LiteRT refuses.
#[test]
fn quantized_elements_match_litert_over_every_input() {
    let cases: [(&str, DType); 8] = [
        ("rsqrt", DType::I8),
        ("sqrt", DType::I8),
        ("exp", DType::I8),
        ("log", DType::I8),
        ("gelu", DType::I8),
        ("gelu", DType::U8),
        ("gelu_approx", DType::I8),
        ("gelu_approx", DType::U8),
    ];
    let mut compared = 0;
    for (op, dtype) in cases {
        let file = format!(
            "{op}_{}.npz",
            if dtype == DType::I8 { "int8" } else { "uint8" }
        );
        let mut npz = Npz::open(fixtures_dir().join("unary_tables").join(&file)).unwrap();
        let params = npz.read("params").unwrap();
        let params = params.as_f32().expect("float32 params").to_vec();
        let inputs = ints(npz.read("inputs").unwrap().buf());
        let outputs = ints(npz.read("outputs").unwrap().buf());
        let n = params.len() / 4;
        assert!(
            n >= 48 && inputs.len() == n * 256 && outputs.len() == n * 256,
            "{file}"
        );
        for k in 0..n {
            let p = &params[4 * k..4 * k + 4];
            let qin = (p[0], p[1] as i32);
            let qout = (p[2], p[3] as i32);
            let f = match op {
                "rsqrt" => QuantFn::Rsqrt(RsqrtParams::prepare(qin, qout)),
                "sqrt" => QuantFn::Sqrt {
                    input: qin,
                    output: qout,
                },
                "exp" => QuantFn::Table(lut_populate(dtype, qin, qout, f32::exp)),
                "log" => QuantFn::Table(lut_populate(dtype, qin, qout, log_transform(qout, -128))),
                "gelu" => QuantFn::Table(lut_populate(dtype, qin, qout, gelu::gelu_transform)),
                _ => QuantFn::Table(lut_populate(
                    dtype,
                    qin,
                    qout,
                    gelu::gelu_transform_approximate,
                )),
            };
            let kernel = QuantUnary::new(op.to_string(), dtype, f, "");
            for i in 0..256 {
                let (x, want) = (inputs[k * 256 + i], outputs[k * 256 + i]);
                let got = kernel.apply(x);
                assert_eq!(got, Some(want), "{file} set {k} {p:?}: input {x}");
                compared += 1;
            }
        }
    }
    println!("{compared} element results equal to LiteRT's");
}

fn ints(b: &Buf) -> Vec<i32> {
    match b {
        Buf::I8(v) => v.iter().map(|&x| i32::from(x)).collect(),
        Buf::U8(v) => v.iter().map(|&x| i32::from(x)).collect(),
        other => panic!("unexpected {:?}", other.dtype()),
    }
}

/// Float LOG is `logf`: LiteRT's results on positive floats of every exponent (subnormals
/// included), values next to 1 and the special values, bit for bit
/// (`tools/make_unary_tables.py`, `log_float32.npz`).
#[test]
fn float_log_is_litert_bit_for_bit() {
    let mut npz = Npz::open(fixtures_dir().join("unary_tables").join("log_float32.npz")).unwrap();
    let x = npz.read("inputs").unwrap();
    let y = npz.read("outputs").unwrap();
    let (x, y) = (x.as_f32().unwrap(), y.as_f32().unwrap());
    assert!(x.len() > 8000 && x.len() == y.len());
    let mut finite = 0;
    for (&v, &want) in x.iter().zip(y) {
        let got = UnaryFloatFn::Log.apply(v);
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "log({v:e}): got {got:e}, LiteRT {want:e}"
        );
        finite += usize::from(want.is_finite());
    }
    assert!(finite > 8000);
}

/// Float LOGISTIC is `reference_ops::Logistic`'s piecewise form: LiteRT's results across
/// [-120, 120] and around the cutoffs (-9: `exp(x)` below, 16.619047: 1 above), bit for bit
/// (`tools/make_unary_tables.py`, `logistic_float32.npz`).
#[test]
fn float_logistic_is_litert_bit_for_bit() {
    let mut npz = Npz::open(
        fixtures_dir()
            .join("unary_tables")
            .join("logistic_float32.npz"),
    )
    .unwrap();
    let x = npz.read("inputs").unwrap();
    let y = npz.read("outputs").unwrap();
    let (x, y) = (x.as_f32().unwrap(), y.as_f32().unwrap());
    assert!(x.len() > 5000 && x.len() == y.len());
    let mut below = 0;
    for (&v, &want) in x.iter().zip(y) {
        let got = crate::reference::activations::lut::logistic_f32(v);
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "logistic({v:e}): got {got:e}, LiteRT {want:e}"
        );
        below += usize::from(v < -9.0);
    }
    assert!(below > 1000);
}
