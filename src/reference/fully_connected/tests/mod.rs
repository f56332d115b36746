//! Tests of FULLY_CONNECTED and BATCH_MATMUL on their own: every such op of the conformance
//! fixtures fed LiteRT's recorded inputs (so no other op family is needed), the run-time
//! row quantization, and the tricky arithmetic on hand-made cases (`bmm.rs`, `fc.rs`).

use crate::model::{self, DType, Op, QuantParams};
use crate::reference::test_support::{
    fixture_pairs, one_op_subgraph, prepare_at, run_alone, Compare,
};
use crate::Tensor;

use super::{asymmetric_quantize, symmetric_quantize, RowQuant};

use crate::reference::test_support::Rng;

mod bmm;
mod fc;

/// Every FULLY_CONNECTED and BATCH_MATMUL of the fixtures, alone on LiteRT's inputs.
/// `LITEQUANT_CONFORMANCE=substring` narrows the models.
#[test]
fn each_op_matches_litert_on_recorded_inputs() {
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let mut report = Vec::new();
    let mut total = 0;
    let mut bad = 0;
    for pair in fixture_pairs() {
        if !pair.name.contains(&filter) {
            continue;
        }
        let r = run_alone(
            &pair,
            &["FULLY_CONNECTED", "BATCH_MATMUL"],
            Compare::Tolerance,
        );
        let (name, checked, failures) = (&pair.name, r.ops, r.failures);
        if checked == 0 && failures.is_empty() {
            continue;
        }
        total += checked;
        if failures.is_empty() {
            report.push(format!("ok   {name}: {checked} op(s)"));
        } else {
            bad += 1;
            report.push(format!("FAIL {name}:\n    {}", failures.join("\n    ")));
        }
    }
    println!("{}", report.join("\n"));
    println!("{total} ops checked, {bad} models failing");
    assert_eq!(bad, 0, "{}", report.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Run-time input quantization (portable_tensor_utils.cc).

#[test]
fn asymmetric_quantization_of_a_row() {
    // Range [-1, 3]: scale 4/255, zero point from min: -128 + 1/(4/255) = -64.25 -> -64.
    let v = [-1.0f32, 0.0, 1.0, 3.0];
    let mut q = [0i8; 4];
    let r = asymmetric_quantize(&v, &mut q);
    assert_eq!(r.offset, -64);
    assert_eq!(r.scale, (4.0f64 / 255.0) as f32);
    assert_eq!(q, [-128, -64, 0, 127]);
}

#[test]
fn asymmetric_quantization_widens_to_zero() {
    // All positive: the range still starts at 0, so the zero point is -128.
    let v = [0.5f32, 2.0, 1.0];
    let mut q = [0i8; 3];
    let r = asymmetric_quantize(&v, &mut q);
    assert_eq!(r.offset, -128);
    assert_eq!(q[1], 127);
    // All negative: the zero point is 127.
    let v = [-0.5f32, -2.0];
    let r = asymmetric_quantize(&v, &mut q[..2]);
    assert_eq!(r.offset, 127);
    assert_eq!(q[1], -128);
}

#[test]
fn quantization_of_a_zero_row() {
    let mut q = [5i8; 3];
    assert_eq!(
        asymmetric_quantize(&[0.0; 3], &mut q),
        RowQuant {
            scale: 1.0,
            offset: 0
        }
    );
    assert_eq!(q, [0; 3]);
    let mut q = [5i8; 3];
    assert_eq!(
        symmetric_quantize(&[0.0; 3], &mut q),
        RowQuant {
            scale: 1.0,
            offset: 0
        }
    );
    assert_eq!(q, [0; 3]);
}

#[test]
fn symmetric_quantization_rounds_half_away_from_zero() {
    // Range 127: scale 1; 0.5 -> 1, -0.5 -> -1, 2.5 -> 3.
    let v = [127.0f32, 0.5, -0.5, 2.5, -127.0];
    let mut q = [0i8; 5];
    let r = symmetric_quantize(&v, &mut q);
    assert_eq!(r.scale, 1.0);
    assert_eq!(q, [127, 1, -1, 3, -127]);
}

// ---------------------------------------------------------------------------------------------
// Hand-made ops (`bmm.rs`, `fc.rs`).

fn tensor(dtype: DType, shape: &[usize], quant: Option<(f32, i64)>) -> model::Tensor {
    let mut t = model::Tensor::new("t", dtype, shape.iter().map(|&d| d as i32).collect());
    t.quant = quant.map(|(s, z)| QuantParams::per_tensor(s, z));
    t
}

/// The kernel of a one-op subgraph over `tensors` (inputs first, the output last).
fn one_op(
    op: Op,
    tensors: Vec<model::Tensor>,
    inputs: Vec<i32>,
    consts: &[Option<Tensor>],
) -> crate::Result<Box<dyn crate::reference::Kernel>> {
    let out = tensors.len() as i32 - 1;
    prepare_at(&one_op_subgraph(op, tensors, inputs, vec![out]), consts, 0)
}
