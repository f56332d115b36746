use super::*;
use crate::model::Op;
use crate::reference::reduce::{output_index_map_in, reduced_shape};
use crate::reference::test_support::{check_op, prepare_single, tensor};

fn axis_bytes(axes: &[i32]) -> Vec<u8> {
    axes.iter().flat_map(|a| a.to_le_bytes()).collect()
}

/// A float kernel over `shape` reducing `axes` (resolved), in either order.
fn float_kernel(kind: ReduceKind, shape: &[usize], axes: &[usize], converter: bool) -> Reduce {
    let map = output_index_map_in(Vec::new(), shape, axes);
    let n_out = reduced_shape(shape, axes, false).iter().product();
    Reduce {
        label: "test".into(),
        kind,
        map,
        n_out,
        count: axes.iter().map(|&a| shape[a]).product(),
        start_at_first: axes.len() == shape.len() || converter,
        optimized_compare: converter,
        sum_requant: None,
        prod_requant: None,
    }
}

fn run(k: &Reduce, x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0; k.n_out];
    k.run_f32(x, &mut y);
    y
}

#[test]
fn float_reductions_start_and_compare_like_tflite() {
    let nan = f32::NAN;
    let ninf = f32::NEG_INFINITY;
    // ReduceGeneric (not every axis): the neutral start. -inf never beats -FLT_MAX, NaN
    // never replaces the current value.
    let k = float_kernel(ReduceKind::Max, &[2, 3], &[1], false);
    let y = run(&k, &[ninf, ninf, ninf, nan, 1.0, nan]);
    assert_eq!(y, vec![f32::MIN, 1.0]);
    let k = float_kernel(ReduceKind::Min, &[2, 3], &[1], false);
    assert_eq!(run(&k, &[f32::INFINITY; 6]), vec![f32::MAX; 2]);
    // ReduceAllDims: the first element starts, so -inf and a leading NaN survive.
    let k = float_kernel(ReduceKind::Max, &[2, 3], &[0, 1], false);
    assert_eq!(run(&k, &[ninf; 6]), vec![ninf]);
    assert!(run(&k, &[nan, 1.0, 2.0, 3.0, 4.0, 5.0])[0].is_nan());
    assert_eq!(run(&k, &[1.0, nan, 2.0, 3.0, 4.0, 5.0]), vec![5.0]);
    // The converter's kernels: the first input starts, and `(current > in) ? current : in`
    // lets a NaN input replace the result.
    let k = float_kernel(ReduceKind::Max, &[2, 3], &[1], true);
    let y = run(&k, &[ninf, ninf, ninf, 1.0, 3.0, nan]);
    assert_eq!(y[0], ninf);
    assert!(y[1].is_nan());
    // SUM: 0 + (-0) is +0 from the neutral start, -0 from the first element.
    let k = float_kernel(ReduceKind::Sum, &[2, 2], &[1], false);
    assert!(run(&k, &[-0.0; 4])[0].is_sign_positive());
    let k = float_kernel(ReduceKind::Sum, &[2, 2], &[1], true);
    assert!(run(&k, &[-0.0; 4])[0].is_sign_negative());
    // Row-major order in both: ((1e8 + 1) + -1e8) + 1 over axis 0 of [4, 1].
    for conv in [false, true] {
        let k = float_kernel(ReduceKind::Sum, &[4, 2], &[0], conv);
        let x = [1e8f32, 0.0, 1.0, 0.0, -1e8, 0.0, 1.0, 0.0];
        assert_eq!(run(&k, &x), vec![((1e8f32 + 1.0) - 1e8) + 1.0, 0.0]);
    }
}

/// BUILTIN_REF's int8 SUM reads and writes the bytes as uint8.
#[test]
fn int8_sum_reads_bytes_as_unsigned() {
    let (s_in, zp_in, s_out, zp_out) = (0.02f32, -5i64, 0.1f32, -20i64);
    let k = prepare_single(
        Op::Sum { keep_dims: false },
        vec![
            tensor(DType::I8, &[2, 3], Some((s_in, zp_in)), None),
            tensor(DType::I32, &[1], None, Some(axis_bytes(&[1]))),
            tensor(DType::I8, &[2], Some((s_out, zp_out)), None),
        ],
        2,
    )
    .unwrap();
    let data = [-1i8, 3, 7, 10, 20, 30];
    let x = Tensor::from_i8(&[2, 3], &data).unwrap();
    let mut out = vec![Tensor::zeros(DType::I8, &[2]).unwrap()];
    k.run(&[Some(&x), None], &mut out).unwrap();
    let got = out[0].as_i8().unwrap().to_vec();
    // Independently: unsigned bytes, sum − zp_in·3, rescaled by s_in/s_out, + zp_out,
    // clamped to [0, 255], stored as a byte.
    let want: Vec<i8> = data
        .chunks(3)
        .map(|row| {
            let sum: i64 = row.iter().map(|&v| i64::from(v as u8)).sum();
            let real = (sum - zp_in * 3) as f64 * f64::from(s_in) / f64::from(s_out);
            let q = (real.round() as i64 + zp_out).clamp(0, 255);
            q as u8 as i8
        })
        .collect();
    assert_eq!(got, want);
    // The first row holds 255 (−1): 255 + 3 + 7 + 15 = 280 steps of 0.2 → 56 − 20 = 36,
    // where a signed read would give 9 + 15 = 24 → 4.8 → 5 − 20 = −15.
    assert_eq!(got[0], 36);
}

#[test]
fn prepare_refuses_what_tflite_refuses() {
    let op = || Op::ReduceMax { keep_dims: false };
    let axes = || tensor(DType::I32, &[1], None, Some(axis_bytes(&[1])));
    // int8 MAX with different input and output parameters.
    let r = prepare_single(
        op(),
        vec![
            tensor(DType::I8, &[2, 3], Some((0.1, 0)), None),
            axes(),
            tensor(DType::I8, &[2], Some((0.2, 0)), None),
        ],
        2,
    );
    assert!(r.is_err());
    // An axis out of range.
    let r = prepare_single(
        op(),
        vec![
            tensor(DType::F32, &[2, 3], None, None),
            tensor(DType::I32, &[1], None, Some(axis_bytes(&[2]))),
            tensor(DType::F32, &[2], None, None),
        ],
        2,
    );
    assert!(r.err().unwrap().to_string().contains("out of range"));
    // A wrong output shape.
    let r = prepare_single(
        Op::Sum { keep_dims: true },
        vec![
            tensor(DType::F32, &[2, 3], None, None),
            axes(),
            tensor(DType::F32, &[2], None, None),
        ],
        2,
    );
    assert!(r.err().unwrap().to_string().contains("output shape"));
    // int16 SUM.
    let r = prepare_single(
        Op::Sum { keep_dims: false },
        vec![
            tensor(DType::I16, &[2, 3], Some((0.1, 0)), None),
            axes(),
            tensor(DType::I16, &[2], Some((0.1, 0)), None),
        ],
        2,
    );
    assert!(r.is_err());
}

#[test]
fn fixtures_match_litert_in_isolation() {
    for (f, op) in [
        ("sum_hw_keepdims_f32", "SUM"),
        ("sum_hw_keepdims_int8", "SUM"),
        ("sum_hw_keepdims_int8io", "SUM"),
        ("sum_last_f32", "SUM"),
        ("sum_last_int8", "SUM"),
        ("sum_c0_f32", "SUM"),
        ("sum_c0_int8", "SUM"),
        ("sum_all_f32", "SUM"),
        ("sum_all_int8", "SUM"),
        ("reduce_max_hw_f32", "REDUCE_MAX"),
        ("reduce_max_hw_int8", "REDUCE_MAX"),
        ("reduce_max_hw_int8io", "REDUCE_MAX"),
        ("reduce_max_last_keepdims_f32", "REDUCE_MAX"),
        ("reduce_max_last_keepdims_int8", "REDUCE_MAX"),
        ("reduce_max_all_f32", "REDUCE_MAX"),
        ("reduce_max_all_int8", "REDUCE_MAX"),
        ("reduce_min_c_f32", "REDUCE_MIN"),
        ("reduce_min_c_int8", "REDUCE_MIN"),
        ("reduce_min_c_int8io", "REDUCE_MIN"),
        ("reduce_min_last_f32", "REDUCE_MIN"),
        ("reduce_min_last_int8", "REDUCE_MIN"),
        ("reduce_prod_last_f32", "REDUCE_PROD"),
        ("reduce_prod_last_int8", "REDUCE_PROD"),
        ("reduce_prod_last_int8io", "REDUCE_PROD"),
        ("reduce_prod_hw_keepdims_f32", "REDUCE_PROD"),
        ("reduce_prod_hw_keepdims_int8", "REDUCE_PROD"),
    ] {
        assert!(check_op(f, op) > 0, "{f}");
    }
}

/// TFLite's int64 `MultiplyByQuantizedMultiplier`: the multiplier reduced to 16 bits, one
/// rounding shift (round half up), truncated to int32.
#[test]
fn prod_rescale_is_the_int64_multiplier() {
    let m = quantize_multiplier(0.75); // 0x60000000, shift 0
    let p = ProdRequant::new(m, 0, 0).unwrap();
    assert_eq!(p.reduced_multiplier, (0x6000_0000 + (1 << 15)) >> 16);
    assert_eq!(p.total_shift, 15);
    assert_eq!(p.mbqm64(100), 75);
    assert_eq!(p.mbqm64(-100), -75);
    // Ties round up (towards +inf): 0.75 * 2 = 1.5 -> 2, 0.75 * -2 = -1.5 -> -1.
    assert_eq!(p.mbqm64(2), 2);
    assert_eq!(p.mbqm64(-2), -1);
    // Multipliers at or above 0x7FFF0000 reduce to 0x7FFF.
    let big = QuantizedMultiplier {
        multiplier: 0x7FFF_8000,
        shift: 1,
    };
    assert_eq!(
        ProdRequant::new(big, 0, 0).unwrap().reduced_multiplier,
        0x7FFF
    );
    // Shifts outside [-31, 7] are refused (the kernel's DCHECK).
    let far = QuantizedMultiplier {
        multiplier: 1 << 30,
        shift: 9,
    };
    assert!(ProdRequant::new(far, 0, 0).is_none());
    // Large products: (2^40 * rm + round) >> ts, truncated.
    let x = 1i64 << 40;
    let want = ((x * i64::from(p.reduced_multiplier) + (1 << 14)) >> 15) as i32;
    assert_eq!(p.mbqm64(x), want);
}
