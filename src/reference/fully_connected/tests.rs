//! Tests of FULLY_CONNECTED and BATCH_MATMUL on their own: every such op of the conformance
//! fixtures fed LiteRT's recorded inputs (so no other op family is needed), and the tricky
//! arithmetic on hand-made cases.

use std::path::{Path, PathBuf};

use crate::data::Npz;
use crate::model::{Model, Op};
use crate::reference::{constant_value, prepare_op, OpCtx};
use crate::{Buf, Tensor};

use super::{asymmetric_quantize, symmetric_quantize, RowQuant};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Sample `s` of an array stacked on a leading sample axis.
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

/// The conformance harness's comparison: integers exact, floats within 1e-5 + 1e-5·|want|.
fn differs(got: &Tensor, want: &Tensor) -> Option<String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Some(format!(
            "got {} {:?}, want {} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    let bad: Vec<String> = match (got.buf(), want.buf()) {
        (Buf::F32(a), Buf::F32(b)) => (0..a.len())
            .filter(|&i| !((a[i] - b[i]).abs() <= 1e-5 + 1e-5 * b[i].abs() || a[i] == b[i]))
            .map(|i| format!("[{i}] {} vs {}", a[i], b[i]))
            .collect(),
        (Buf::I8(a), Buf::I8(b)) => (0..a.len())
            .filter(|&i| a[i] != b[i])
            .map(|i| format!("[{i}] {} vs {}", a[i], b[i]))
            .collect(),
        (Buf::U8(a), Buf::U8(b)) => (0..a.len())
            .filter(|&i| a[i] != b[i])
            .map(|i| format!("[{i}] {} vs {}", a[i], b[i]))
            .collect(),
        (Buf::I32(a), Buf::I32(b)) => (0..a.len())
            .filter(|&i| a[i] != b[i])
            .map(|i| format!("[{i}] {} vs {}", a[i], b[i]))
            .collect(),
        _ => vec!["unexpected dtype".into()],
    };
    (!bad.is_empty()).then(|| {
        format!(
            "{} of {} differ: {}",
            bad.len(),
            got.len(),
            bad.iter().take(6).cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// Every (model file, golden file) pair of the fixtures.
fn fixture_models() -> Vec<(String, PathBuf, PathBuf)> {
    let mut v = Vec::new();
    let dir = fixtures().join("ops");
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("ops manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("manifest JSON");
    for (name, e) in m["models"].as_object().expect("models") {
        v.push((
            name.clone(),
            dir.join(e["file"].as_str().expect("file")),
            dir.join(e["golden_file"].as_str().expect("golden_file")),
        ));
    }
    let text = std::fs::read_to_string(fixtures().join("fixtures.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("manifest JSON");
    for (name, e) in m["fixtures"].as_object().expect("fixtures") {
        if e["goldens"] == true {
            v.push((
                name.clone(),
                fixtures().join(e["file"].as_str().expect("file")),
                fixtures().join(e["golden_file"].as_str().expect("golden_file")),
            ));
        }
    }
    v.sort();
    v
}

/// Run each FULLY_CONNECTED / BATCH_MATMUL of a model on LiteRT's recorded inputs.
/// Returns (ops checked, failures); ops whose inputs were not recorded are skipped.
fn check_model_ops(model: &Path, golden: &Path) -> (usize, Vec<String>) {
    let m = Model::from_file(model).expect("fixture reads");
    let sg = m.main();
    let consts: Vec<Option<Tensor>> = sg
        .tensors
        .iter()
        .enumerate()
        .map(|(ti, t)| constant_value(0, ti, t).expect("constant decodes"))
        .collect();
    let mut npz = Npz::open(golden).expect("golden opens");
    let names = npz.names();
    let mut read = |t: usize| -> Option<Tensor> {
        let key = format!("t{t}");
        if names.contains(&key) {
            npz.read(&key).ok()
        } else if let Some(k) = sg.inputs.iter().position(|&i| i == t) {
            npz.read(&format!("input_{k}")).ok()
        } else if let Some(k) = sg.outputs.iter().position(|&i| i == t) {
            npz.read(&format!("output_{k}")).ok()
        } else {
            None
        }
    };
    let (mut checked, mut failures) = (0, Vec::new());
    for (index, op) in sg.operators.iter().enumerate() {
        if !matches!(op.op, Op::FullyConnected(_) | Op::BatchMatMul(_)) {
            continue;
        }
        let ctx = OpCtx {
            index,
            op,
            sg,
            consts: &consts,
        };
        let kernel = match prepare_op(&ctx) {
            Ok(k) => k,
            Err(e) => {
                failures.push(format!("op {index}: prepare: {e}"));
                continue;
            }
        };
        // Recorded (stacked) values of the non-constant inputs and of the output.
        let mut stacked: Vec<Option<Tensor>> = Vec::new();
        let mut missing = false;
        for &t in &op.inputs {
            match usize::try_from(t) {
                Ok(t) if consts[t].is_none() => match read(t) {
                    Some(v) => stacked.push(Some(v)),
                    None => {
                        missing = true;
                        stacked.push(None)
                    }
                },
                _ => stacked.push(None),
            }
        }
        let out_t = op.outputs[0] as usize;
        let Some(want_all) = read(out_t) else {
            continue;
        };
        if missing {
            continue;
        }
        checked += 1;
        for s in 0..want_all.shape()[0] {
            let samples: Vec<Option<Tensor>> = stacked
                .iter()
                .map(|v| v.as_ref().map(|v| sample(v, s)))
                .collect();
            let ins: Vec<Option<&Tensor>> = op
                .inputs
                .iter()
                .zip(&samples)
                .map(|(&t, v)| {
                    usize::try_from(t)
                        .ok()
                        .and_then(|t| v.as_ref().or(consts[t].as_ref()))
                })
                .collect();
            let spec = &sg.tensors[out_t];
            let mut outs = vec![
                Tensor::zeros(spec.dtype, &crate::reference::dims(spec)).expect("output dtype")
            ];
            if let Err(e) = kernel.run(&ins, &mut outs) {
                failures.push(format!("op {index} sample {s}: run: {e}"));
                continue;
            }
            if let Some(d) = differs(&outs[0], &sample(&want_all, s)) {
                failures.push(format!("op {index} ({}) sample {s}: {d}", op.op.name()));
            }
        }
    }
    (checked, failures)
}

/// Every FULLY_CONNECTED and BATCH_MATMUL of the fixtures, alone on LiteRT's inputs.
/// `LITEQUANT_CONFORMANCE=substring` narrows the models.
#[test]
fn each_op_matches_litert_on_recorded_inputs() {
    let filter = std::env::var("LITEQUANT_CONFORMANCE").unwrap_or_default();
    let mut report = Vec::new();
    let mut total = 0;
    let mut bad = 0;
    for (name, model, golden) in fixture_models() {
        if !name.contains(&filter) {
            continue;
        }
        let (checked, failures) = check_model_ops(&model, &golden);
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
// Hand-made ops against naive loop nests: odd sizes, broadcasting, adjoints, zero points.

use crate::model::{
    self, Activation, BatchMatMulOptions, DType, FullyConnectedOptions, Operator, QuantParams,
    Subgraph,
};
use crate::quant::fixedpoint::{multiply_by_quantized_multiplier, quantize_multiplier};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn f32(&mut self) -> f32 {
        (self.next() % 2001) as f32 / 1000.0 - 1.0
    }
    fn i8(&mut self) -> i8 {
        self.next() as i8
    }
}

fn tensor(dtype: DType, shape: &[usize], quant: Option<(f32, i64)>) -> model::Tensor {
    let mut t = model::Tensor::new("t", dtype, shape.iter().map(|&d| d as i32).collect());
    t.quant = quant.map(|(s, z)| QuantParams::per_tensor(s, z));
    t
}

/// A one-op subgraph over `tensors` (inputs first, the output last) and the op's kernel.
fn one_op(
    op: Op,
    tensors: Vec<model::Tensor>,
    inputs: Vec<i32>,
    consts: &[Option<Tensor>],
) -> crate::Result<Box<dyn crate::reference::Kernel>> {
    let out = tensors.len() as i32 - 1;
    let sg = Subgraph {
        name: None,
        tensors,
        inputs: Vec::new(),
        outputs: vec![out as usize],
        operators: vec![Operator {
            op,
            version: 1,
            inputs,
            outputs: vec![out],
            intermediates: Vec::new(),
            mutating_variable_inputs: Vec::new(),
            debug_metadata_index: -1,
            options_omitted: false,
        }],
        debug_metadata_index: -1,
    };
    let ctx = OpCtx {
        index: 0,
        op: &sg.operators[0],
        sg: &sg,
        consts,
    };
    prepare_op(&ctx)
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Naive batched matmul: out[b, m, n] = Σ_k lhs'[b, m, k] · rhs'[b, k, n] in k order, with the
/// product taken as `rhs' * lhs'` like TFLite's (operand-swapped) loop.
#[allow(clippy::too_many_arguments)]
fn naive_bmm<T: Copy, A: Copy + std::ops::Add<Output = A> + std::ops::Mul<Output = A>>(
    lhs: &[T],
    ls: &[usize],
    rhs: &[T],
    rs: &[usize],
    adj_x: bool,
    adj_y: bool,
    zero: A,
    conv: impl Fn(T, bool) -> A,
) -> (Vec<usize>, Vec<A>) {
    let rank = ls.len().max(rs.len());
    let el = [vec![1; rank - ls.len()], ls.to_vec()].concat();
    let er = [vec![1; rank - rs.len()], rs.to_vec()].concat();
    let batch: Vec<usize> = (0..rank - 2).map(|i| el[i].max(er[i])).collect();
    let m = if adj_x { el[rank - 1] } else { el[rank - 2] };
    let k = if adj_x { el[rank - 2] } else { el[rank - 1] };
    let n = if adj_y { er[rank - 2] } else { er[rank - 1] };
    let (sl, sr) = (strides(&el), strides(&er));
    let nb: usize = batch.iter().product();
    let mut out = Vec::new();
    for b in 0..nb {
        // multi-index of b
        let mut rem = b;
        let mut idx = vec![0; rank - 2];
        for d in (0..rank - 2).rev() {
            idx[d] = rem % batch[d];
            rem /= batch[d];
        }
        let lb: usize = (0..rank - 2)
            .map(|d| if el[d] == 1 { 0 } else { idx[d] * sl[d] })
            .sum();
        let rb: usize = (0..rank - 2)
            .map(|d| if er[d] == 1 { 0 } else { idx[d] * sr[d] })
            .sum();
        for i in 0..m {
            for j in 0..n {
                let mut total = zero;
                for kk in 0..k {
                    let a = if adj_x {
                        lhs[lb + kk * sl[rank - 2] + i]
                    } else {
                        lhs[lb + i * sl[rank - 2] + kk]
                    };
                    let bv = if adj_y {
                        rhs[rb + j * sr[rank - 2] + kk]
                    } else {
                        rhs[rb + kk * sr[rank - 2] + j]
                    };
                    total = total + conv(bv, false) * conv(a, true);
                }
                out.push(total);
            }
        }
    }
    let mut shape = batch;
    shape.extend([m, n]);
    (shape, out)
}

/// Random broadcast-compatible operand shapes of ranks 2 to 5.
fn random_shapes(rng: &mut Rng, adj_x: bool, adj_y: bool) -> (Vec<usize>, Vec<usize>) {
    let (rl, rr) = (2 + rng.below(4), 2 + rng.below(4));
    let rank = rl.max(rr);
    let batch: Vec<usize> = (0..rank - 2).map(|_| 1 + rng.below(3)).collect();
    let pick = |rng: &mut Rng, d: usize| if rng.below(3) == 0 { 1 } else { d };
    let (m, k, n) = (1 + rng.below(5), 1 + rng.below(7), 1 + rng.below(5));
    let mut ls: Vec<usize> = batch[rank - rl..].iter().map(|&d| pick(rng, d)).collect();
    let mut rs: Vec<usize> = batch[rank - rr..].iter().map(|&d| pick(rng, d)).collect();
    ls.extend(if adj_x { [k, m] } else { [m, k] });
    rs.extend(if adj_y { [n, k] } else { [k, n] });
    (ls, rs)
}

#[test]
fn float_batch_matmul_matches_a_naive_loop() {
    let mut rng = Rng(11);
    for case in 0..300 {
        let (adj_x, adj_y) = (rng.below(2) == 1, rng.below(2) == 1);
        let (ls, rs) = random_shapes(&mut rng, adj_x, adj_y);
        let lhs: Vec<f32> = (0..ls.iter().product()).map(|_| rng.f32()).collect();
        let rhs: Vec<f32> = (0..rs.iter().product()).map(|_| rng.f32()).collect();
        let (os, want) = naive_bmm(&lhs, &ls, &rhs, &rs, adj_x, adj_y, 0.0f32, |v, _| v);
        let rhs_t = Tensor::from_f32(&rs, &rhs).unwrap();
        let constant = rng.below(2) == 1;
        let consts = vec![None, constant.then(|| rhs_t.clone()), None];
        let k = one_op(
            Op::BatchMatMul(BatchMatMulOptions {
                adj_x,
                adj_y,
                asymmetric_quantize_inputs: false,
            }),
            vec![
                tensor(DType::F32, &ls, None),
                tensor(DType::F32, &rs, None),
                tensor(DType::F32, &os, None),
            ],
            vec![0, 1],
            &consts,
        )
        .unwrap_or_else(|e| panic!("case {case}: {ls:?} {rs:?}: {e}"));
        let lhs_t = Tensor::from_f32(&ls, &lhs).unwrap();
        let mut outs = vec![Tensor::zeros(DType::F32, &os).unwrap()];
        k.run(&[Some(&lhs_t), Some(&rhs_t)], &mut outs).unwrap();
        assert_eq!(
            outs[0].as_f32().unwrap(),
            want.as_slice(),
            "case {case}: {ls:?} x {rs:?} adj {adj_x} {adj_y}"
        );
    }
}

#[test]
fn int8_batch_matmul_matches_a_naive_loop() {
    let mut rng = Rng(12);
    for case in 0..300 {
        let (adj_x, adj_y) = (rng.below(2) == 1, rng.below(2) == 1);
        let (ls, rs) = random_shapes(&mut rng, adj_x, adj_y);
        let lhs: Vec<i8> = (0..ls.iter().product()).map(|_| rng.i8()).collect();
        let rhs: Vec<i8> = (0..rs.iter().product()).map(|_| rng.i8()).collect();
        let (lzp, rzp, ozp) = (rng.i8() as i32, rng.i8() as i32 / 8, rng.i8() as i32);
        let (lsc, rsc, osc) = (0.02f32, 0.003f32, 0.05f32);
        let (os, acc) = naive_bmm(&lhs, &ls, &rhs, &rs, adj_x, adj_y, 0i32, |v, is_lhs| {
            v as i32 - if is_lhs { lzp } else { rzp }
        });
        let m = quantize_multiplier(f64::from(lsc * rsc) / f64::from(osc));
        let want: Vec<i8> = acc
            .iter()
            .map(|&a| (multiply_by_quantized_multiplier(a, m) + ozp).clamp(-128, 127) as i8)
            .collect();
        let rhs_t = Tensor::from_i8(&rs, &rhs).unwrap();
        let consts = vec![None, (case % 2 == 0).then(|| rhs_t.clone()), None];
        let k = one_op(
            Op::BatchMatMul(BatchMatMulOptions {
                adj_x,
                adj_y,
                asymmetric_quantize_inputs: false,
            }),
            vec![
                tensor(DType::I8, &ls, Some((lsc, lzp as i64))),
                tensor(DType::I8, &rs, Some((rsc, rzp as i64))),
                tensor(DType::I8, &os, Some((osc, ozp as i64))),
            ],
            vec![0, 1],
            &consts,
        )
        .unwrap();
        let lhs_t = Tensor::from_i8(&ls, &lhs).unwrap();
        let mut outs = vec![Tensor::zeros(DType::I8, &os).unwrap()];
        k.run(&[Some(&lhs_t), Some(&rhs_t)], &mut outs).unwrap();
        assert_eq!(outs[0].as_i8().unwrap(), want.as_slice(), "case {case}");
    }
}

#[test]
fn int8_batch_matmul_to_int32_ignores_zero_points() {
    // EvalInt8Int32: raw products.
    let (ls, rs) = ([2usize, 3], [3usize, 2]);
    let lhs = [1i8, -2, 3, 4, 5, -6];
    let rhs = [7i8, 8, 9, -10, 11, 12];
    let k = one_op(
        Op::BatchMatMul(BatchMatMulOptions {
            adj_x: false,
            adj_y: false,
            asymmetric_quantize_inputs: false,
        }),
        vec![
            tensor(DType::I8, &ls, Some((0.1, 5))),
            tensor(DType::I8, &rs, Some((0.1, 3))),
            tensor(DType::I32, &[2, 2], None),
        ],
        vec![0, 1],
        &[None, None, None],
    )
    .unwrap();
    let (l, r) = (
        Tensor::from_i8(&ls, &lhs).unwrap(),
        Tensor::from_i8(&rs, &rhs).unwrap(),
    );
    let mut outs = vec![Tensor::zeros(DType::I32, &[2, 2]).unwrap()];
    k.run(&[Some(&l), Some(&r)], &mut outs).unwrap();
    assert_eq!(outs[0].as_i32().unwrap(), &[22, 64, 7, -90]);
}

#[test]
fn hybrid_batch_matmul_reads_scaling_factors_as_tflite_does() {
    // LHS [2, 3, M, K] against RHS [2, 3, K, N]: TFLite's hybrid loop advances the per-row
    // scaling factors by M for each of b1 and b2 (so batch (b1, b2) reads rows of batch
    // b1 + b2), and the row sums by N likewise.
    let p = super::bmm::tests_support::plan(&[2, 3, 4, 5], &[2, 3, 5, 6], false, false);
    let scale: Vec<usize> = p.iter().map(|s| s.0).collect();
    let sums: Vec<usize> = p.iter().map(|s| s.1).collect();
    assert_eq!(scale, vec![0, 4, 8, 4, 8, 12]);
    assert_eq!(sums, vec![0, 6, 12, 6, 12, 18]);
}

#[test]
fn hybrid_batch_matmul_matches_quantized_naive_loop() {
    // Per-tensor and per-column RHS scales, symmetric and asymmetric inputs; one LHS batch
    // dimension (where TFLite's indexing is the plain one).
    let mut rng = Rng(13);
    for case in 0..200 {
        let adj_y = rng.below(2) == 1;
        let (b, m, k, n) = (
            1 + rng.below(3),
            1 + rng.below(4),
            1 + rng.below(9),
            1 + rng.below(5),
        );
        let rb = if rng.below(2) == 0 { 1 } else { b };
        let ls = vec![b, m, k];
        let rs = if adj_y {
            vec![rb, n, k]
        } else {
            vec![rb, k, n]
        };
        let lhs: Vec<f32> = (0..b * m * k).map(|_| rng.f32() * 3.0).collect();
        let rhs: Vec<i8> = (0..rb * k * n).map(|_| rng.i8().max(-127)).collect();
        let asymmetric = rng.below(2) == 1;
        let per_channel = rng.below(2) == 1;
        let scales: Vec<f32> = (0..if per_channel { n } else { 1 })
            .map(|i| 0.01 + 0.001 * i as f32)
            .collect();
        // Expected: quantize each LHS row, integer dot products, TFLite's float steps.
        let mut q = vec![0i8; lhs.len()];
        let rows = super::batch_quantize(&lhs, k, asymmetric, &mut q);
        let mut want = Vec::new();
        for bi in 0..b {
            let rbi = if rb == 1 { 0 } else { bi };
            for i in 0..m {
                let r = rows[bi * m + i];
                for j in 0..n {
                    let w = |kk: usize| {
                        if adj_y {
                            rhs[rbi * n * k + j * k + kk]
                        } else {
                            rhs[rbi * k * n + kk * n + j]
                        }
                    };
                    let mut total = 0i32;
                    let mut row_sum = 0i32;
                    for kk in 0..k {
                        total += w(kk) as i32 * q[(bi * m + i) * k + kk] as i32;
                        row_sum += w(kk) as i32;
                    }
                    total = (total as f32 - row_sum as f32 * r.offset as f32) as i32;
                    let scale = if per_channel {
                        r.scale * scales[j]
                    } else {
                        r.scale * scales[0]
                    };
                    want.push(0.0f32 + scale * total as f32);
                }
            }
        }
        let mut rt = tensor(DType::I8, &rs, None);
        rt.quant = Some(QuantParams {
            scale: scales.clone(),
            zero_point: vec![0; scales.len()],
            quantized_dimension: if adj_y { 1 } else { 2 },
            ..Default::default()
        });
        let rhs_t = Tensor::from_i8(&rs, &rhs).unwrap();
        let consts = vec![None, Some(rhs_t.clone()), None];
        let kern = one_op(
            Op::BatchMatMul(BatchMatMulOptions {
                adj_x: false,
                adj_y,
                asymmetric_quantize_inputs: asymmetric,
            }),
            vec![
                tensor(DType::F32, &ls, None),
                rt,
                tensor(DType::F32, &[b, m, n], None),
            ],
            vec![0, 1],
            &consts,
        )
        .unwrap();
        let lhs_t = Tensor::from_f32(&ls, &lhs).unwrap();
        let mut outs = vec![Tensor::zeros(DType::F32, &[b, m, n]).unwrap()];
        kern.run(&[Some(&lhs_t), Some(&rhs_t)], &mut outs).unwrap();
        assert_eq!(outs[0].as_f32().unwrap(), want.as_slice(), "case {case}");
    }
}

fn fc_options(activation: Activation, keep_num_dims: bool, asym: bool) -> Op {
    Op::FullyConnected(FullyConnectedOptions {
        activation,
        weights_format: 0,
        keep_num_dims,
        asymmetric_quantize_inputs: asym,
        quantized_bias_type: DType::F32,
        quant_spec: Vec::new(),
    })
}

#[test]
fn int8_fully_connected_per_tensor_applies_the_weight_zero_point() {
    // Per-tensor weights with a zero point (kept "for backward compatibility"), odd sizes.
    let mut rng = Rng(14);
    let (batches, units, depth) = (3usize, 5usize, 7usize);
    let x: Vec<i8> = (0..batches * depth).map(|_| rng.i8()).collect();
    let w: Vec<i8> = (0..units * depth).map(|_| rng.i8()).collect();
    let bias: Vec<i32> = (0..units).map(|i| i as i32 * 97 - 200).collect();
    let (s_in, z_in, s_w, z_w, s_out, z_out) = (0.05f32, -3i32, 0.004f32, 7i32, 0.07f32, 10i32);
    let eff = f64::from(s_in) * f64::from(s_w) / f64::from(s_out);
    let mut want = Vec::new();
    for b in 0..batches {
        for o in 0..units {
            let mut acc = 0i32;
            for d in 0..depth {
                acc += (w[o * depth + d] as i32 - z_w) * (x[b * depth + d] as i32 - z_in);
            }
            acc += bias[o];
            // Relu: clamp below at the zero point.
            let q = ((f64::from(acc) * eff).round() as i32 + z_out).clamp(z_out, 127);
            want.push(q as i8);
        }
    }
    let mut bt = tensor(DType::I32, &[units], Some((s_in * s_w, 0)));
    bt.quant = Some(QuantParams::per_tensor(s_in * s_w, 0));
    let wt = Tensor::from_i8(&[units, depth], &w).unwrap();
    let bv = Tensor::new(&[units], Buf::I32(bias)).unwrap();
    let consts = vec![None, Some(wt.clone()), Some(bv.clone()), None];
    let k = one_op(
        fc_options(Activation::Relu, false, false),
        vec![
            tensor(DType::I8, &[batches, depth], Some((s_in, z_in as i64))),
            tensor(DType::I8, &[units, depth], Some((s_w, z_w as i64))),
            bt,
            tensor(DType::I8, &[batches, units], Some((s_out, z_out as i64))),
        ],
        vec![0, 1, 2],
        &consts,
    )
    .unwrap();
    let xt = Tensor::from_i8(&[batches, depth], &x).unwrap();
    let mut outs = vec![Tensor::zeros(DType::I8, &[batches, units]).unwrap()];
    k.run(&[Some(&xt), Some(&wt), Some(&bv)], &mut outs)
        .unwrap();
    assert_eq!(outs[0].as_i8().unwrap(), want.as_slice());
}

#[test]
fn hybrid_fully_connected_per_tensor_symmetric_and_zero_input() {
    let (batches, units, depth) = (2usize, 3usize, 5usize);
    let mut rng = Rng(15);
    let w: Vec<i8> = (0..units * depth).map(|_| rng.i8().max(-127)).collect();
    let bias = [0.5f32, -0.25, 1.0];
    let s_w = 0.02f32;
    let mut wt_model = tensor(DType::I8, &[units, depth], Some((s_w, 0)));
    wt_model.quant = Some(QuantParams::per_tensor(s_w, 0));
    let wt = Tensor::from_i8(&[units, depth], &w).unwrap();
    let bv = Tensor::from_f32(&[units], &bias).unwrap();
    let consts = vec![None, Some(wt.clone()), Some(bv.clone()), None];
    let k = one_op(
        fc_options(Activation::Relu6, false, false),
        vec![
            tensor(DType::F32, &[batches, depth], None),
            wt_model,
            tensor(DType::F32, &[units], None),
            tensor(DType::F32, &[batches, units], None),
        ],
        vec![0, 1, 2],
        &consts,
    )
    .unwrap();
    // All-zero input: bias through the activation only.
    let zero = Tensor::from_f32(&[batches, depth], &[0.0; 10]).unwrap();
    let mut outs = vec![Tensor::zeros(DType::F32, &[batches, units]).unwrap()];
    k.run(&[Some(&zero), Some(&wt), Some(&bv)], &mut outs)
        .unwrap();
    assert_eq!(outs[0].as_f32().unwrap(), &[0.5, 0.0, 1.0, 0.5, 0.0, 1.0]);
    // Symmetric per-row quantization, per-tensor weight scale folded into the row factor.
    let x: Vec<f32> = (0..batches * depth).map(|_| rng.f32() * 4.0).collect();
    let mut q = vec![0i8; x.len()];
    let rows = super::batch_quantize(&x, depth, false, &mut q);
    let mut want = Vec::new();
    for b in 0..batches {
        let sf = rows[b].scale * s_w;
        for o in 0..units {
            let mut dot = 0i32;
            for d in 0..depth {
                dot += w[o * depth + d] as i32 * q[b * depth + d] as i32;
            }
            want.push((bias[o] + dot as f32 * sf).clamp(0.0, 6.0));
        }
    }
    let xt = Tensor::from_f32(&[batches, depth], &x).unwrap();
    k.run(&[Some(&xt), Some(&wt), Some(&bv)], &mut outs)
        .unwrap();
    assert_eq!(outs[0].as_f32().unwrap(), want.as_slice());
}

#[test]
fn unsupported_cases_fail_at_prepare() {
    // Shuffled weights.
    let op = Op::FullyConnected(FullyConnectedOptions {
        activation: Activation::None,
        weights_format: 1,
        keep_num_dims: false,
        asymmetric_quantize_inputs: false,
        quantized_bias_type: DType::F32,
        quant_spec: Vec::new(),
    });
    let ts = vec![
        tensor(DType::F32, &[1, 4], None),
        tensor(DType::F32, &[2, 4], None),
        tensor(DType::F32, &[1, 2], None),
    ];
    assert!(one_op(op, ts, vec![0, 1], &[None, None, None]).is_err());
    // A fused TANH on a float FULLY_CONNECTED.
    let ts = vec![
        tensor(DType::F32, &[1, 4], None),
        tensor(DType::F32, &[2, 4], None),
        tensor(DType::F32, &[1, 2], None),
    ];
    assert!(one_op(
        fc_options(Activation::Tanh, false, false),
        ts,
        vec![0, 1],
        &[None, None, None]
    )
    .is_err());
    // A hybrid BATCH_MATMUL whose int8 RHS is not a constant.
    let ts = vec![
        tensor(DType::F32, &[2, 4], None),
        tensor(DType::I8, &[4, 3], Some((0.1, 0))),
        tensor(DType::F32, &[2, 3], None),
    ];
    let op = Op::BatchMatMul(BatchMatMulOptions {
        adj_x: false,
        adj_y: false,
        asymmetric_quantize_inputs: true,
    });
    assert!(one_op(op, ts, vec![0, 1], &[None, None, None]).is_err());
    // Mismatched depths.
    let ts = vec![
        tensor(DType::F32, &[2, 4], None),
        tensor(DType::F32, &[5, 3], None),
        tensor(DType::F32, &[2, 3], None),
    ];
    let op = Op::BatchMatMul(BatchMatMulOptions {
        adj_x: false,
        adj_y: false,
        asymmetric_quantize_inputs: false,
    });
    assert!(one_op(op, ts, vec![0, 1], &[None, None, None]).is_err());
}
