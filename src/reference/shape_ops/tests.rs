//! Tests of the data-movement kernels: every op of this family in every fixture, run on its
//! own against LiteRT's recorded tensors (so int8 models are checked before QUANTIZE and
//! DEQUANTIZE land), and unit tests of the index logic on cases the fixtures do not cover.

use super::kernels::{ConcatKernel, GatherKernel, PadKernel, PadValue, Requant, Walk};
use super::strided_slice;
use super::*;
use crate::model::{Activation, QuantParams};
use crate::reference::test_support::{
    fixture_pairs, op_fixture_model, prepare_first, run_alone, Compare, FixturePair,
};
use crate::{Error, Tensor};

const FAMILY: &[&str] = &[
    "RESHAPE",
    "SQUEEZE",
    "CONCATENATION",
    "PAD",
    "PADV2",
    "STRIDED_SLICE",
    "SLICE",
    "TRANSPOSE",
];

/// Each op of this family in every fixture, alone on LiteRT's recorded inputs: outputs
/// must equal LiteRT's bit for bit (these ops only move elements).
#[test]
fn every_family_op_in_the_fixtures_matches_litert() {
    let cases: Vec<FixturePair> = fixture_pairs()
        .into_iter()
        .filter(|p| p.holds_any(FAMILY))
        .collect();
    assert!(cases.len() >= 40, "found only {} fixtures", cases.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut skipped = Vec::new();
    for pair in &cases {
        let r = run_alone(pair, FAMILY, Compare::Bits);
        if !r.failures.is_empty() {
            failures.extend(r.failures);
        } else if r.outputs > 0 {
            checked += r.outputs;
        } else if !pair.is_op_fixture() {
            // The per-op fixtures record every tensor; the model fixtures may not.
            skipped.push(pair.name.as_str());
        } else {
            failures.push(format!("{}: nothing checked", pair.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} fixtures, {checked} op outputs bit-exact; without recorded intermediates: {skipped:?}",
        cases.len() - skipped.len()
    );
}

#[test]
fn concatenation_refuses_what_tflite_refuses() {
    let m = op_fixture_model("concat_axis3_int8");
    assert!(prepare_first(&m, "CONCATENATION").is_ok());

    // A fused activation: TFLite's Prepare insists on NONE.
    let mut fused = m.clone();
    for op in &mut fused.subgraphs[0].operators {
        if let Op::Concatenation { activation, .. } = &mut op.op {
            *activation = Activation::Relu;
        }
    }
    assert!(matches!(
        prepare_first(&fused, "CONCATENATION"),
        Err(Error::Unsupported(_))
    ));

    // int8 inputs with other parameters than the output's: no requantization in TFLite.
    let mut rescaled = m.clone();
    let sg = &mut rescaled.subgraphs[0];
    let first_input = sg
        .operators
        .iter()
        .find(|o| o.op.name() == "CONCATENATION")
        .and_then(|o| o.input(0))
        .expect("input");
    let q = sg.tensors[first_input].quant.as_mut().expect("quantized");
    q.scale[0] *= 2.0;
    assert!(matches!(
        prepare_first(&rescaled, "CONCATENATION"),
        Err(Error::Unsupported(_))
    ));

    // A stored output shape that is not the concatenation's.
    let mut wrong = m.clone();
    let sg = &mut wrong.subgraphs[0];
    let out = sg
        .operators
        .iter()
        .find(|o| o.op.name() == "CONCATENATION")
        .map(|o| o.outputs[0] as usize)
        .expect("output");
    sg.tensors[out].shape[3] += 1;
    assert!(matches!(
        prepare_first(&wrong, "CONCATENATION"),
        Err(Error::InvalidModel(_))
    ));
}

#[test]
fn padv2_value_must_share_the_output_parameters() {
    let m = op_fixture_model("padv2_int8");
    assert!(prepare_first(&m, "PADV2").is_ok());
    let mut other = m.clone();
    let sg = &mut other.subgraphs[0];
    let value = sg
        .operators
        .iter()
        .find(|o| o.op.name() == "PADV2")
        .and_then(|o| o.input(2))
        .expect("pad value");
    sg.tensors[value].quant = Some(QuantParams::per_tensor(0.5, 3));
    assert!(matches!(
        prepare_first(&other, "PADV2"),
        Err(Error::Unsupported(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Index logic

fn arange(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::new(shape, Buf::I32((0..n as i32).collect())).expect("arange")
}

fn gather(walk: Walk, x: &Tensor, out_shape: &[usize]) -> Vec<i32> {
    let k = GatherKernel {
        what: "test".into(),
        walk,
    };
    let mut out = vec![Tensor::zeros(DType::I32, out_shape).expect("zeros")];
    k.run(&[Some(x)], &mut out).expect("run");
    out[0].as_i32().expect("i32").to_vec()
}

/// The elements `x[spec]` selects, through the strided-slice plan, for an arange input.
fn strided(
    shape: &[usize],
    o: &StridedSliceOptions,
    begin: &[i32],
    end: &[i32],
    strides: &[i32],
) -> (Vec<usize>, Vec<i32>) {
    let dims: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
    let p = strided_slice::build_params(o, &dims, begin, end, strides, true).expect("params");
    let out_shape = strided_slice::output_shape(&p, end).expect("shape");
    let eff: Vec<usize> = p.effective_shape.iter().map(|&d| d as usize).collect();
    let st = strides_of(&eff);
    let loops = strided_slice::loops(&p);
    let base: i64 = loops
        .iter()
        .zip(&st)
        .map(|(&(start, _, c), &s)| if c > 0 { start * s as i64 } else { 0 })
        .sum();
    let walk = Walk::new(
        shape.iter().product(),
        base,
        loops.iter().map(|l| l.2).collect(),
        loops
            .iter()
            .zip(&st)
            .map(|(l, &s)| l.1 * s as i64)
            .collect(),
    )
    .expect("walk");
    assert_eq!(walk.len(), out_shape.iter().product::<usize>());
    let values = gather(walk, &arange(shape), &out_shape);
    (out_shape, values)
}

fn opts(begin: i32, end: i32, ellipsis: i32, new_axis: i32, shrink: i32) -> StridedSliceOptions {
    StridedSliceOptions {
        begin_mask: begin,
        end_mask: end,
        ellipsis_mask: ellipsis,
        new_axis_mask: new_axis,
        shrink_axis_mask: shrink,
        offset: false,
    }
}

#[test]
fn strided_slice_follows_numpy_indexing() {
    // x = arange(24).reshape(2, 3, 4)
    // x[:, ::-1, 3:0:-2] -> shape [2, 3, 2]
    let (s, v) = strided(
        &[2, 3, 4],
        &opts(0b011, 0b011, 0, 0, 0),
        &[0, 0, 3],
        &[0, 0, 0],
        &[1, -1, -2],
    );
    assert_eq!(s, vec![2, 3, 2]);
    assert_eq!(v, vec![11, 9, 7, 5, 3, 1, 23, 21, 19, 17, 15, 13]);

    // x[1, -2:, -1] (shrink axes 0 and 2) -> [2]: x[1,1,3], x[1,2,3]
    let (s, v) = strided(
        &[2, 3, 4],
        &opts(0, 0, 0, 0, 0b101),
        &[1, -2, -1],
        &[2, 3, 0],
        &[1, 1, 1],
    );
    assert_eq!(s, vec![2]);
    assert_eq!(v, vec![19, 23]);

    // x[..., 1] (ellipsis then shrink) -> [2, 3]
    let (s, v) = strided(
        &[2, 3, 4],
        &opts(0, 0, 0b01, 0, 0b10),
        &[0, 1],
        &[0, 2],
        &[1, 1],
    );
    assert_eq!(s, vec![2, 3]);
    assert_eq!(v, vec![1, 5, 9, 13, 17, 21]);

    // x[:, np.newaxis, 1:] -> [2, 1, 2, 4]
    let (s, v) = strided(
        &[2, 3, 4],
        &opts(0b001, 0b001, 0, 0b010, 0),
        &[0, 0, 1],
        &[0, 0, 3],
        &[1, 1, 1],
    );
    assert_eq!(s, vec![2, 1, 2, 4]);
    assert_eq!(v, (4..12).chain(16..24).collect::<Vec<i32>>());

    // Out-of-range begin/end clamp; a slice that selects nothing has a zero dim.
    let (s, v) = strided(
        &[2, 3, 4],
        &opts(0, 0, 0, 0, 0),
        &[-9, 1, 10],
        &[9, 2, 20],
        &[1, 1, 1],
    );
    assert_eq!(s, vec![2, 1, 0]);
    assert!(v.is_empty());

    // Fewer indices than dims: the rest are full ranges. x[1:] -> [1, 3, 4]
    let (s, v) = strided(&[2, 3, 4], &opts(0, 0, 0, 0, 0), &[1], &[2], &[1]);
    assert_eq!(s, vec![1, 3, 4]);
    assert_eq!(v, (12..24).collect::<Vec<i32>>());

    // Negative stride from the end-masked start down to index 1 (exclusive 0): x[0, 0, :0:-3]
    let (s, v) = strided(
        &[2, 3, 4],
        &opts(0b100, 0, 0, 0, 0b011),
        &[0, 0, 0],
        &[1, 1, 0],
        &[1, 1, -3],
    );
    assert_eq!(s, vec![1]);
    assert_eq!(v, vec![3]);
}

#[test]
fn strided_slice_shape_errors() {
    let dims = [2, 3];
    let none = opts(0, 0, 0, 0, 0);
    let build = |o: &StridedSliceOptions, strides: &[i32], with_indices: bool| {
        strided_slice::build_params(o, &dims, &[1, 1], &[1, 2], strides, with_indices)
    };
    let p = build(&none, &[1, 0], true).expect("params");
    assert!(strided_slice::output_shape(&p, &[1, 2]).is_err());
    let p = build(&none, &[1, i32::MIN], true).expect("params");
    assert!(strided_slice::output_shape(&p, &[1, 2]).is_err());
    // offset: the end values are sizes.
    let mut o = none.clone();
    o.offset = true;
    let p = build(&o, &[1, 1], false).expect("params");
    assert_eq!(strided_slice::output_shape(&p, &[1, 2]), Ok(vec![1, 2]));
    let p = build(&o, &[1, 1], true).expect("params");
    assert_eq!(strided_slice::loops(&p), vec![(1, 1, 1), (1, 1, 2)]);
    // An ellipsis bit past the given indices makes LiteRT read past them: refused.
    let rank4 = [2, 3, 4, 5];
    let odd = opts(0, 0, 0b100, 0, 0);
    assert!(strided_slice::build_params(&odd, &rank4, &[0], &[1], &[1], true).is_none());
}

#[test]
fn walks_outside_the_input_are_refused() {
    assert!(Walk::new(6, 0, vec![2, 3], vec![3, 1]).is_some());
    assert!(Walk::new(6, 1, vec![2, 3], vec![3, 1]).is_none());
    assert!(Walk::new(6, 5, vec![2, 3], vec![-3, -1]).is_some());
    assert!(Walk::new(6, 4, vec![2, 3], vec![-3, -1]).is_none());
    // Nothing to read: any base.
    assert_eq!(
        Walk::new(6, 99, vec![0, 3], vec![3, 1]).map(|w| w.len()),
        Some(0)
    );
    // Rank 0: one element.
    assert_eq!(Walk::new(1, 0, vec![], vec![]).map(|w| w.len()), Some(1));
}

#[test]
fn transpose_and_slice_walks() {
    // transpose(arange(6).reshape(2, 3), [1, 0])
    let w = Walk::new(6, 0, vec![3, 2], vec![1, 3]).expect("walk");
    assert_eq!(gather(w, &arange(&[2, 3]), &[3, 2]), vec![0, 3, 1, 4, 2, 5]);
    // slice(arange(24).reshape(2,3,4), [1, 1, 1], [1, 2, 2])
    let w = Walk::new(24, 12 + 4 + 1, vec![1, 2, 2], vec![12, 4, 1]).expect("walk");
    assert_eq!(
        gather(w, &arange(&[2, 3, 4]), &[1, 2, 2]),
        vec![17, 18, 21, 22]
    );
}

#[test]
fn pad_writes_the_value_around_the_input() {
    let k = PadKernel {
        what: "test".into(),
        in_shape: vec![2, 1],
        out_shape: vec![3, 3],
        left: vec![1, 1],
        value: PadValue::Fixed(Buf::I8(vec![-7])),
    };
    let x = Tensor::from_i8(&[2, 1], &[5, 6]).expect("x");
    let mut out = vec![Tensor::zeros(DType::I8, &[3, 3]).expect("zeros")];
    k.run(&[Some(&x)], &mut out).expect("run");
    assert_eq!(
        out[0].as_i8().expect("i8"),
        &[-7, -7, -7, -7, 5, -7, -7, 6, -7]
    );
    // The value from an input at run time, of the wrong type: an error, not a panic.
    let k = PadKernel {
        value: PadValue::Input(1),
        ..k
    };
    let v = Tensor::from_f32(&[], &[1.0]).expect("v");
    assert!(k.run(&[Some(&x), Some(&v)], &mut out).is_err());
    let v = Tensor::from_i8(&[], &[3]).expect("v");
    k.run(&[Some(&x), Some(&v)], &mut out).expect("run");
    assert_eq!(out[0].as_i8().expect("i8"), &[3, 3, 3, 3, 5, 3, 3, 6, 3]);
}

#[test]
fn uint8_concatenation_requantizes_in_float() {
    // Input 0 shares the output parameters (copied); input 1 has scale 1, zp 0 against the
    // output's 2 and 3: scale 0.5, bias 0, round half away from zero, + 3, clamp.
    let rq = Requant {
        scale: 1.0f32 * (1.0f32 / 2.0),
        bias: 0.0,
        output_zero_point: 3,
    };
    assert_eq!(rq.apply(3), 5); // 1.5 -> 2
    assert_eq!(rq.apply(1), 4); // 0.5 -> 1
    assert_eq!(rq.apply(255), 131); // 127.5 -> 128
    let clamp_low = Requant {
        scale: 1.0,
        bias: -200.0,
        output_zero_point: 0,
    };
    assert_eq!(clamp_low.apply(10), 0);
    let clamp_high = Requant {
        scale: 2.0,
        bias: 0.0,
        output_zero_point: 10,
    };
    assert_eq!(clamp_high.apply(200), 255);

    // Outer 2 rows; input 0 adds 1 element per row, input 1 adds 2.
    let k = ConcatKernel {
        what: "test".into(),
        outer: 2,
        copy: vec![1, 2],
        requant: vec![None, Some(rq)],
    };
    let a = Tensor::from_u8(&[2, 1], &[100, 200]).expect("a");
    let b = Tensor::from_u8(&[2, 2], &[1, 3, 5, 255]).expect("b");
    let mut out = vec![Tensor::zeros(DType::U8, &[2, 3]).expect("zeros")];
    k.run(&[Some(&a), Some(&b)], &mut out).expect("run");
    assert_eq!(out[0].as_u8().expect("u8"), &[100, 4, 5, 200, 6, 131]);
}

#[test]
fn reshape_and_squeeze_shapes() {
    assert_eq!(
        reshape_output_shape(&[1, 4, 4, 3], &[1, -1, 4]),
        Some(vec![1, 12, 4])
    );
    assert_eq!(reshape_output_shape(&[2, 3], &[-1]), Some(vec![6]));
    assert_eq!(reshape_output_shape(&[2, 3], &[-1, -1]), None);
    assert_eq!(reshape_output_shape(&[2, 3], &[4, -1]), None);
    assert_eq!(reshape_output_shape(&[2, 3], &[5]), None);
    assert_eq!(reshape_output_shape(&[1], &[]), Some(vec![]));
    // Zero-sized: the stretch dim becomes 0 when the input is empty.
    assert_eq!(reshape_output_shape(&[0, 3], &[3, -1]), Some(vec![3, 0]));
    assert_eq!(reshape_output_shape(&[2, 0, 3], &[0, -1]), Some(vec![0, 6]));

    assert_eq!(
        squeeze_output_shape(&[1, 4, 1, 3], &[2]),
        Some(vec![1, 4, 3])
    );
    assert_eq!(
        squeeze_output_shape(&[1, 4, 1, 3], &[-2, 0]),
        Some(vec![4, 3])
    );
    assert_eq!(squeeze_output_shape(&[1, 4, 1, 3], &[]), Some(vec![4, 3]));
    assert_eq!(squeeze_output_shape(&[1, 4, 1, 3], &[1]), None);
    assert_eq!(squeeze_output_shape(&[1, 4, 1, 3], &[4]), None);
    assert_eq!(squeeze_output_shape(&[1; 9], &[]), None);
}
