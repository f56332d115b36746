//! Test support shared by the family's files: run one operator of an op fixture on the
//! golden values of its inputs and compare its output with the golden (so an op can be
//! checked before the other ops of its fixture model exist).

use std::path::PathBuf;

use super::super::{constant_value, dims, prepare_op, Kernel, OpCtx};
use crate::data::Npz;
use crate::model::{self, DType, Model, Op, Operator, QuantParams, Subgraph};
use crate::{Buf, Tensor};

/// A tensor for [`prepare_single`]: dtype, shape, optional (scale, zero point), optional
/// constant little-endian bytes.
pub fn tensor(
    dtype: DType,
    shape: &[i32],
    quant: Option<(f32, i64)>,
    data: Option<Vec<u8>>,
) -> model::Tensor {
    let mut t = model::Tensor::new("t", dtype, shape.to_vec());
    t.quant = quant.map(|(s, z)| QuantParams::per_tensor(s, z));
    t.data = data.map(|d| d.into());
    t
}

/// Prepare one operator reading `tensors[..n_inputs]` and writing the rest.
pub fn prepare_single(
    op: Op,
    tensors: Vec<model::Tensor>,
    n_inputs: usize,
) -> crate::Result<Box<dyn Kernel>> {
    let n = tensors.len() as i32;
    let sg = Subgraph {
        name: None,
        tensors,
        inputs: vec![],
        outputs: vec![],
        operators: vec![Operator {
            op,
            version: 1,
            inputs: (0..n_inputs as i32).collect(),
            outputs: (n_inputs as i32..n).collect(),
            intermediates: vec![],
            mutating_variable_inputs: vec![],
            debug_metadata_index: -1,
            options_omitted: false,
        }],
        debug_metadata_index: -1,
    };
    let consts: Vec<Option<Tensor>> = sg
        .tensors
        .iter()
        .enumerate()
        .map(|(ti, t)| constant_value(0, ti, t).expect("constant"))
        .collect();
    let ctx = OpCtx {
        index: 0,
        op: &sg.operators[0],
        sg: &sg,
        consts: &consts,
    };
    prepare_op(&ctx)
}

fn sample(stacked: &Tensor, s: usize) -> Tensor {
    let shape = &stacked.shape()[1..];
    let n: usize = shape.iter().product();
    let r = s * n..(s + 1) * n;
    let buf = match stacked.buf() {
        Buf::F32(v) => Buf::F32(v[r].to_vec()),
        Buf::F16(v) => Buf::F16(v[r].to_vec()),
        Buf::I8(v) => Buf::I8(v[r].to_vec()),
        Buf::U8(v) => Buf::U8(v[r].to_vec()),
        Buf::I16(v) => Buf::I16(v[r].to_vec()),
        Buf::I32(v) => Buf::I32(v[r].to_vec()),
        Buf::I64(v) => Buf::I64(v[r].to_vec()),
        Buf::Bool(v) => Buf::Bool(v[r].to_vec()),
    };
    Tensor::new(shape, buf).expect("sample shape")
}

/// Differences between `got` and `want` (integers exactly, floats within 1e-5 + 1e-5·|x|).
pub fn differences(got: &Tensor, want: &Tensor) -> Vec<String> {
    assert_eq!(got.shape(), want.shape());
    let mut bad = Vec::new();
    match (got.buf(), want.buf()) {
        (Buf::F32(a), Buf::F32(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if !((x - y).abs() <= 1e-5 + 1e-5 * y.abs() || x == y) {
                    bad.push(format!("[{i}] got {x} want {y}"));
                }
            }
        }
        (Buf::I8(a), Buf::I8(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    bad.push(format!("[{i}] got {x} want {y}"));
                }
            }
        }
        (Buf::U8(a), Buf::U8(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    bad.push(format!("[{i}] got {x} want {y}"));
                }
            }
        }
        _ => panic!("dtypes {} vs {}", got.dtype(), want.dtype()),
    }
    bad
}

/// Run the first operator named `op` of `tests/fixtures/ops/{fixture}.tflite` on every
/// golden sample of its inputs; panics on any difference. Returns the samples checked.
pub fn check_op(fixture: &str, op: &str) -> usize {
    check_op_in(
        &format!("ops/{fixture}.tflite"),
        &format!("ops/{fixture}.npz"),
        op,
    )
}

/// [`check_op`] for a model and golden file given relative to `tests/fixtures`.
pub fn check_op_in(model: &str, golden: &str, op: &str) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let fixture = model;
    let model = Model::from_file(dir.join(model)).expect("model");
    let mut npz = Npz::open(dir.join(golden)).expect("golden");
    let sg = model.main();
    let consts: Vec<Option<Tensor>> = sg
        .tensors
        .iter()
        .enumerate()
        .map(|(ti, t)| constant_value(0, ti, t).expect("constant"))
        .collect();
    let (index, operator) = sg
        .operators
        .iter()
        .enumerate()
        .find(|(_, o)| o.op.name() == op)
        .unwrap_or_else(|| panic!("{fixture} has no {op}"));
    let ctx = OpCtx {
        index,
        op: operator,
        sg,
        consts: &consts,
    };
    let kernel = match prepare_op(&ctx) {
        Ok(k) => k,
        Err(e) => panic!("{fixture}: prepare: {e}"),
    };
    let ins: Vec<Option<Tensor>> = operator
        .inputs
        .iter()
        .map(|&t| {
            let t = usize::try_from(t).ok()?;
            consts[t]
                .clone()
                .or_else(|| Some(npz.read(&format!("t{t}")).expect("golden input")))
        })
        .collect();
    let out_t = operator.output_tensors().next().expect("an output");
    let want = npz.read(&format!("t{out_t}")).expect("golden output");
    let samples = want.shape()[0];
    let mut failures = Vec::new();
    for s in 0..samples {
        let ins_s: Vec<Option<Tensor>> = ins
            .iter()
            .zip(&operator.inputs)
            .map(|(v, &t)| {
                let v = v.as_ref()?;
                let is_const = usize::try_from(t).is_ok_and(|t| consts[t].is_some());
                Some(if is_const { v.clone() } else { sample(v, s) })
            })
            .collect();
        let refs: Vec<Option<&Tensor>> = ins_s.iter().map(|t| t.as_ref()).collect();
        let spec = &sg.tensors[out_t];
        let mut outs = vec![Tensor::zeros(spec.dtype, &dims(spec)).expect("output dtype")];
        kernel.run(&refs, &mut outs).expect("run");
        let d = differences(&outs[0], &sample(&want, s));
        if !d.is_empty() {
            failures.push(format!(
                "sample {s}: {} of {} differ: {}",
                d.len(),
                outs[0].len(),
                d[..d.len().min(8)].join(", ")
            ));
        }
    }
    assert!(failures.is_empty(), "{fixture}:\n{}", failures.join("\n"));
    samples
}
