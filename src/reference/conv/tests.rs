//! Tests of the convolution kernels:
//! - each CONV_2D / DEPTHWISE_CONV_2D of every fixture model run alone on LiteRT's recorded
//!   input tensors (so int8 models are checked before QUANTIZE/DEQUANTIZE exist), its output
//!   compared with LiteRT's (`BUILTIN_REF`);
//! - the loops against a second formulation (explicitly padded input, no bounds tests) over
//!   random shapes with odd sizes, strides, dilations, groups, batches, depth multipliers
//!   and both paddings;
//! - the int8 parameters (multipliers in double, activation clamps) and the hybrid paths.

use std::path::{Path, PathBuf};

use crate::data::Npz;
use crate::model::{
    self, Activation, Conv2DOptions, DType, DepthwiseConv2DOptions, Model, Op, Operator, Padding,
    QuantParams, Subgraph,
};
use crate::quant::fixedpoint::{multiply_by_quantized_multiplier, quantize_multiplier};
use crate::{Buf, Tensor};

use super::super::{constant_value, Kernel, OpCtx};
use super::{prepare_conv2d, prepare_depthwise};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn sample(stacked: &Tensor, s: usize) -> Tensor {
    let shape = &stacked.shape()[1..];
    let n: usize = shape.iter().product();
    let r = s * n..(s + 1) * n;
    let buf = match stacked.buf() {
        Buf::F32(v) => Buf::F32(v[r].to_vec()),
        Buf::I8(v) => Buf::I8(v[r].to_vec()),
        Buf::U8(v) => Buf::U8(v[r].to_vec()),
        Buf::I32(v) => Buf::I32(v[r].to_vec()),
        other => panic!("unexpected golden dtype {}", other.dtype()),
    };
    Tensor::new(shape, buf).unwrap()
}

fn prepare(ctx: &OpCtx) -> crate::Result<Box<dyn Kernel>> {
    match &ctx.op.op {
        Op::Conv2D(o) => prepare_conv2d(ctx, o),
        Op::DepthwiseConv2D(o) => prepare_depthwise(ctx, o),
        _ => unreachable!(),
    }
}

/// Run every convolution of `model_path` alone on the golden inputs; return how many
/// (op, sample) outputs were compared. Panics on a difference.
fn check_isolated(model_path: &Path, golden_path: &Path) -> usize {
    let m = Model::from_file(model_path).unwrap();
    let sg = m.main();
    let consts: Vec<Option<Tensor>> = sg
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| constant_value(0, i, t).unwrap())
        .collect();
    let mut npz = Npz::open(golden_path).unwrap();
    let names = npz.names();
    let mut compared = 0;
    for (index, op) in sg.operators.iter().enumerate() {
        if !matches!(op.op, Op::Conv2D(_) | Op::DepthwiseConv2D(_)) {
            continue;
        }
        let ctx = OpCtx {
            index,
            op,
            sg,
            consts: &consts,
        };
        let kernel =
            prepare(&ctx).unwrap_or_else(|e| panic!("{}: op {index}: {e}", model_path.display()));
        let golden = |npz: &mut Npz, t: usize| {
            let key = format!("t{t}");
            names.contains(&key).then(|| npz.read(&key).unwrap())
        };
        let ins: Vec<Option<Tensor>> = op
            .inputs
            .iter()
            .map(|&t| usize::try_from(t).ok())
            .map(|t| t.and_then(|t| golden(&mut npz, t).map(Ok).or(consts[t].clone().map(Err))))
            .map(|v| v.map(|r| r.unwrap_or_else(|c| c)))
            .collect();
        let out_t = op.outputs[0] as usize;
        let Some(want) = golden(&mut npz, out_t) else {
            panic!(
                "{}: no golden t{out_t} for op {index}",
                model_path.display()
            );
        };
        let samples = want.shape()[0];
        for s in 0..samples {
            // Golden tensors carry a leading sample axis; constants do not.
            let args: Vec<Option<Tensor>> = op
                .inputs
                .iter()
                .zip(&ins)
                .map(|(&t, v)| {
                    v.as_ref().map(|v| {
                        let is_golden = names.contains(&format!("t{t}"));
                        if is_golden {
                            sample(v, s)
                        } else {
                            v.clone()
                        }
                    })
                })
                .collect();
            let refs: Vec<Option<&Tensor>> = args.iter().map(|a| a.as_ref()).collect();
            let spec = &sg.tensors[out_t];
            let mut outs = vec![Tensor::zeros(spec.dtype, &super::super::dims(spec)).unwrap()];
            kernel.run(&refs, &mut outs).unwrap();
            let want = sample(&want, s);
            let label = format!("{} op {index} sample {s}", model_path.display());
            match (outs[0].buf(), want.buf()) {
                (Buf::I8(a), Buf::I8(b)) => {
                    let bad = a.iter().zip(b).filter(|(x, y)| x != y).count();
                    assert_eq!(bad, 0, "{label}: {bad} of {} int8 elements differ", a.len());
                }
                (Buf::F32(a), Buf::F32(b)) => {
                    for (i, (x, y)) in a.iter().zip(b).enumerate() {
                        assert!(
                            (x - y).abs() <= 1e-5 + 1e-5 * y.abs(),
                            "{label}: element {i}: got {x}, want {y}"
                        );
                    }
                }
                _ => panic!("{label}: dtype mismatch"),
            }
            compared += 1;
        }
    }
    compared
}

/// Every CONV_2D / DEPTHWISE_CONV_2D in the op fixtures, run alone (the model fixtures record
/// only their inputs and outputs; the conformance test covers them whole).
#[test]
fn fixture_convolutions_match_litert_in_isolation() {
    let mut models = Vec::new();
    let ops = fixtures().join("ops");
    for e in std::fs::read_dir(&ops).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if (name.starts_with("conv2d_") || name.starts_with("dwconv_")) && name.ends_with(".tflite")
        {
            models.push((p.clone(), p.with_extension("npz")));
        }
    }
    models.sort();
    assert!(
        models.len() >= 40,
        "expected the conv fixtures, found {}",
        models.len()
    );
    let mut compared = 0;
    for (model, golden) in &models {
        assert!(golden.exists(), "{}", golden.display());
        let n = check_isolated(model, golden);
        assert!(n > 0, "{}: no convolution compared", model.display());
        compared += n;
    }
    eprintln!(
        "{} models, {compared} convolution outputs compared",
        models.len()
    );
}

// ---- synthetic problems -------------------------------------------------------------------

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn i8(&mut self) -> i8 {
        self.next() as i8
    }
}

fn qp(scale: Vec<f32>, zp: Vec<i64>, axis: i32) -> Option<QuantParams> {
    Some(QuantParams {
        scale,
        zero_point: zp,
        quantized_dimension: axis,
        ..Default::default()
    })
}

fn tensor(name: &str, dtype: DType, shape: &[usize], quant: Option<QuantParams>) -> model::Tensor {
    let mut t = model::Tensor::new(name, dtype, shape.iter().map(|&d| d as i32).collect());
    t.quant = quant;
    t
}

/// A one-op subgraph: tensors 0 input, 1 filter, 2 bias (optional), 3 output.
struct Problem {
    sg: Subgraph,
    op: Operator,
    consts: Vec<Option<Tensor>>,
}

impl Problem {
    fn new(op: Op, tensors: Vec<model::Tensor>, filter: Tensor, bias: Option<Tensor>) -> Problem {
        let has_bias = bias.is_some();
        let op = Operator {
            op,
            version: 1,
            inputs: vec![0, 1, if has_bias { 2 } else { model::OPTIONAL }],
            outputs: vec![3],
            intermediates: vec![],
            mutating_variable_inputs: vec![],
            debug_metadata_index: -1,
            options_omitted: false,
        };
        let sg = Subgraph {
            name: None,
            tensors,
            inputs: vec![0],
            outputs: vec![3],
            operators: vec![op.clone()],
            debug_metadata_index: -1,
        };
        Problem {
            sg,
            op,
            consts: vec![None, Some(filter), bias, None],
        }
    }

    fn ctx(&self) -> OpCtx<'_> {
        OpCtx {
            index: 0,
            op: &self.op,
            sg: &self.sg,
            consts: &self.consts,
        }
    }

    fn run(&self, input: Tensor) -> crate::Result<Tensor> {
        let kernel = prepare(&self.ctx())?;
        let spec = &self.sg.tensors[3];
        let mut outs = vec![Tensor::zeros(spec.dtype, &super::super::dims(spec)).unwrap()];
        let ins = [
            Some(&input),
            self.consts[1].as_ref(),
            self.consts[2].as_ref(),
        ];
        kernel.run(&ins, &mut outs)?;
        Ok(outs.pop().unwrap())
    }
}

/// Random convolution geometry, including odd sizes and asymmetric SAME padding.
#[derive(Debug, Clone, Copy)]
struct Case {
    depthwise: bool,
    batches: usize,
    in_h: usize,
    in_w: usize,
    in_c: usize,
    /// CONV_2D: the filter's input depth; DEPTHWISE: unused.
    filter_in_c: usize,
    /// CONV_2D: output channels; DEPTHWISE: the depth multiplier.
    out: usize,
    fh: usize,
    fw: usize,
    sh: usize,
    sw: usize,
    dh: usize,
    dw: usize,
    same: bool,
    act: Activation,
}

impl Case {
    fn random(rng: &mut Rng, depthwise: bool) -> Case {
        loop {
            let in_c = rng.range(1, 5);
            let groups = if depthwise || rng.below(3) > 0 {
                1
            } else {
                in_c
            };
            let filter_in_c = in_c / groups;
            let out = if depthwise {
                rng.range(1, 3)
            } else {
                groups * rng.range(1, 3)
            };
            let c = Case {
                depthwise,
                batches: rng.range(1, 3),
                in_h: rng.range(1, 9),
                in_w: rng.range(1, 8),
                in_c,
                filter_in_c,
                out,
                fh: rng.range(1, 4),
                fw: rng.range(1, 4),
                sh: rng.range(1, 3),
                sw: rng.range(1, 3),
                dh: rng.range(1, 3),
                dw: rng.range(1, 2),
                same: rng.below(2) == 0,
                act: [
                    Activation::None,
                    Activation::Relu,
                    Activation::Relu6,
                    Activation::ReluN1To1,
                ][rng.below(4)],
            };
            if c.same || (c.in_h > (c.fh - 1) * c.dh && c.in_w > (c.fw - 1) * c.dw) {
                return c;
            }
        }
    }

    fn out_c(&self) -> usize {
        if self.depthwise {
            self.in_c * self.out
        } else {
            self.out
        }
    }

    /// Output size and padding before, as TensorFlow defines them.
    fn dim(&self, size: usize, f: usize, s: usize, d: usize) -> (usize, usize) {
        let eff = (f - 1) * d + 1;
        if self.same {
            let out = size.div_ceil(s);
            let total = ((out - 1) * s + eff).saturating_sub(size);
            (out, total / 2)
        } else {
            ((size - eff) / s + 1, 0)
        }
    }

    fn filter_shape(&self) -> Vec<usize> {
        if self.depthwise {
            vec![1, self.fh, self.fw, self.out_c()]
        } else {
            vec![self.out, self.fh, self.fw, self.filter_in_c]
        }
    }

    fn out_shape(&self) -> Vec<usize> {
        let (oh, _) = self.dim(self.in_h, self.fh, self.sh, self.dh);
        let (ow, _) = self.dim(self.in_w, self.fw, self.sw, self.dw);
        vec![self.batches, oh, ow, self.out_c()]
    }

    fn op(&self) -> Op {
        let padding = if self.same {
            Padding::Same
        } else {
            Padding::Valid
        };
        if self.depthwise {
            Op::DepthwiseConv2D(DepthwiseConv2DOptions {
                padding,
                stride_w: self.sw as i32,
                stride_h: self.sh as i32,
                depth_multiplier: self.out as i32,
                activation: self.act,
                dilation_w: self.dw as i32,
                dilation_h: self.dh as i32,
            })
        } else {
            Op::Conv2D(Conv2DOptions {
                padding,
                stride_w: self.sw as i32,
                stride_h: self.sh as i32,
                activation: self.act,
                dilation_w: self.dw as i32,
                dilation_h: self.dh as i32,
                quantized_bias_type: DType::F32,
            })
        }
    }

    /// The input padded explicitly with `fill` so every tap is in range: `(data, ph, pw, H, W)`.
    fn pad<T: Copy>(&self, x: &[T], fill: T) -> (Vec<T>, usize, usize, usize, usize) {
        let (oh, ph) = self.dim(self.in_h, self.fh, self.sh, self.dh);
        let (ow, pw) = self.dim(self.in_w, self.fw, self.sw, self.dw);
        let hh = ((oh - 1) * self.sh + (self.fh - 1) * self.dh + 1).max(ph + self.in_h);
        let ww = ((ow - 1) * self.sw + (self.fw - 1) * self.dw + 1).max(pw + self.in_w);
        let c = self.in_c;
        let mut p = vec![fill; self.batches * hh * ww * c];
        for b in 0..self.batches {
            for y in 0..self.in_h {
                for xx in 0..self.in_w {
                    for k in 0..c {
                        p[((b * hh + y + ph) * ww + xx + pw) * c + k] =
                            x[((b * self.in_h + y) * self.in_w + xx) * c + k];
                    }
                }
            }
        }
        (p, ph, pw, hh, ww)
    }

    /// For each output element `(b, oy, ox, oc)`, the taps `(padded input index, filter
    /// index)` in TFLite's accumulation order.
    fn taps(&self) -> Vec<Vec<(usize, usize)>> {
        let (oh, _) = self.dim(self.in_h, self.fh, self.sh, self.dh);
        let (ow, _) = self.dim(self.in_w, self.fw, self.sw, self.dw);
        let (_, _, _, hh, ww) = self.pad(
            &vec![0u8; self.batches * self.in_h * self.in_w * self.in_c],
            0,
        );
        let oc_n = self.out_c();
        let mut all = Vec::new();
        for b in 0..self.batches {
            for oy in 0..oh {
                for ox in 0..ow {
                    for oc in 0..oc_n {
                        let mut t = Vec::new();
                        for fy in 0..self.fh {
                            for fx in 0..self.fw {
                                let y = oy * self.sh + fy * self.dh;
                                let x = ox * self.sw + fx * self.dw;
                                let pix = (b * hh + y) * ww + x;
                                if self.depthwise {
                                    let ic = oc / self.out;
                                    t.push((pix * self.in_c + ic, (fy * self.fw + fx) * oc_n + oc));
                                } else {
                                    let group = oc / (self.out / (self.in_c / self.filter_in_c));
                                    for k in 0..self.filter_in_c {
                                        t.push((
                                            pix * self.in_c + group * self.filter_in_c + k,
                                            ((oc * self.fh + fy) * self.fw + fx) * self.filter_in_c
                                                + k,
                                        ));
                                    }
                                }
                            }
                        }
                        all.push(t);
                    }
                }
            }
        }
        all
    }
}

#[test]
fn float_loops_match_a_padded_formulation() {
    let mut rng = Rng(11);
    for i in 0..400 {
        let c = Case::random(&mut rng, i % 2 == 0);
        let n_in = c.batches * c.in_h * c.in_w * c.in_c;
        let x: Vec<f32> = (0..n_in).map(|_| rng.f32() * 3.0).collect();
        let fshape = c.filter_shape();
        let w: Vec<f32> = (0..fshape.iter().product()).map(|_| rng.f32()).collect();
        let bias: Vec<f32> = (0..c.out_c()).map(|_| rng.f32()).collect();
        let with_bias = rng.below(4) > 0;
        let p = Problem::new(
            c.op(),
            vec![
                tensor("x", DType::F32, &[c.batches, c.in_h, c.in_w, c.in_c], None),
                tensor("w", DType::F32, &fshape, None),
                tensor("b", DType::F32, &[c.out_c()], None),
                tensor("y", DType::F32, &c.out_shape(), None),
            ],
            Tensor::from_f32(&fshape, &w).unwrap(),
            with_bias.then(|| Tensor::from_f32(&[c.out_c()], &bias).unwrap()),
        );
        let got = p.run(Tensor::from_f32(&[c.batches, c.in_h, c.in_w, c.in_c], &x).unwrap());
        let got = got.unwrap_or_else(|e| panic!("{c:?}: {e}"));
        let (xp, ..) = c.pad(&x, 0.0f32);
        let (lo, hi) = super::super::common::float_activation_range(c.act).unwrap();
        let want: Vec<f32> = c
            .taps()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let total = t.iter().fold(0.0f32, |acc, &(xi, wi)| acc + xp[xi] * w[wi]);
                let b = if with_bias { bias[i % c.out_c()] } else { 0.0 };
                (total + b).max(lo).min(hi)
            })
            .collect();
        assert_eq!(got.as_f32().unwrap(), want.as_slice(), "{c:?}");
    }
}

#[test]
fn int8_loops_match_a_padded_formulation() {
    let mut rng = Rng(12);
    for i in 0..400 {
        let c = Case::random(&mut rng, i % 2 == 1);
        let n_in = c.batches * c.in_h * c.in_w * c.in_c;
        let x: Vec<i8> = (0..n_in).map(|_| rng.i8()).collect();
        let fshape = c.filter_shape();
        let w: Vec<i8> = (0..fshape.iter().product())
            .map(|_| rng.i8().max(-127))
            .collect();
        let oc_n = c.out_c();
        let bias: Vec<i32> = (0..oc_n)
            .map(|_| (rng.next() % 20001) as i32 - 10000)
            .collect();
        let per_channel = rng.below(2) == 0;
        let w_scales: Vec<f32> = if per_channel {
            (0..oc_n).map(|_| 0.002 + rng.f32().abs() * 0.01).collect()
        } else {
            vec![0.004]
        };
        let (s_in, zp_in) = (0.02 + rng.f32().abs() * 0.05, rng.i8() as i64);
        let (s_out, zp_out) = (0.05 + rng.f32().abs() * 0.1, rng.i8() as i64);
        let axis = if c.depthwise { 3 } else { 0 };
        let bias_scales: Vec<f32> = w_scales.iter().map(|s| s * s_in).collect();
        let p = Problem::new(
            c.op(),
            vec![
                tensor(
                    "x",
                    DType::I8,
                    &[c.batches, c.in_h, c.in_w, c.in_c],
                    qp(vec![s_in], vec![zp_in], 0),
                ),
                tensor(
                    "w",
                    DType::I8,
                    &fshape,
                    qp(w_scales.clone(), vec![0; w_scales.len()], axis),
                ),
                tensor(
                    "b",
                    DType::I32,
                    &[oc_n],
                    qp(bias_scales, vec![0; w_scales.len()], 0),
                ),
                tensor(
                    "y",
                    DType::I8,
                    &c.out_shape(),
                    qp(vec![s_out], vec![zp_out], 0),
                ),
            ],
            Tensor::new(&fshape, Buf::I8(w.clone())).unwrap(),
            Some(Tensor::new(&[oc_n], Buf::I32(bias.clone())).unwrap()),
        );
        let got = p.run(Tensor::from_i8(&[c.batches, c.in_h, c.in_w, c.in_c], &x).unwrap());
        let got = got.unwrap_or_else(|e| panic!("{c:?}: {e}"));
        // Padding with the input zero point makes out-of-image taps contribute 0.
        let (xp, ..) = c.pad(&x, zp_in as i8);
        let (lo, hi) = super::super::common::quantized_activation_range(
            c.act,
            DType::I8,
            s_out,
            zp_out as i32,
        )
        .unwrap();
        let want: Vec<i8> = c
            .taps()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let oc = i % oc_n;
                let acc: i64 = t
                    .iter()
                    .map(|&(xi, wi)| i64::from(w[wi]) * (i64::from(xp[xi]) - zp_in))
                    .sum();
                let s_w = w_scales[if per_channel { oc } else { 0 }];
                let m = quantize_multiplier(f64::from(s_in) * f64::from(s_w) / f64::from(s_out));
                let v = multiply_by_quantized_multiplier(acc as i32 + bias[oc], m) + zp_out as i32;
                v.clamp(lo, hi) as i8
            })
            .collect();
        assert_eq!(got.as_i8().unwrap(), want.as_slice(), "{c:?}");
    }
}

/// Hybrid kernels: the per-channel (asymmetric) and per-tensor (symmetric) CONV_2D paths and
/// the depthwise path, against the same steps written over the padded input.
#[test]
fn hybrid_loops_match_a_padded_formulation() {
    let mut rng = Rng(13);
    for i in 0..300 {
        let c = Case::random(&mut rng, i % 3 == 0);
        let n_in = c.batches * c.in_h * c.in_w * c.in_c;
        let x: Vec<f32> = (0..n_in).map(|_| rng.f32() * 2.0 + 0.3).collect();
        let fshape = c.filter_shape();
        let w: Vec<i8> = (0..fshape.iter().product())
            .map(|_| rng.i8().max(-127))
            .collect();
        let oc_n = c.out_c();
        let bias: Vec<f32> = (0..oc_n).map(|_| rng.f32()).collect();
        let groups = if c.depthwise {
            1
        } else {
            c.in_c / c.filter_in_c
        };
        // Per-tensor scales only where TFLite has that path (CONV_2D without groups).
        let per_channel = c.depthwise || groups != 1 || rng.below(2) == 0;
        let w_scales: Vec<f32> = if per_channel {
            (0..oc_n).map(|k| 0.01 + 0.001 * k as f32).collect()
        } else {
            vec![0.01; if rng.below(2) == 0 { 1 } else { oc_n }]
        };
        // TFLite's choice: depthwise is always per channel; CONV_2D only with distinct scales.
        let per_channel = c.depthwise || w_scales.iter().any(|&s| s != w_scales[0]);
        let axis = if c.depthwise { 3 } else { 0 };
        let p = Problem::new(
            c.op(),
            vec![
                tensor("x", DType::F32, &[c.batches, c.in_h, c.in_w, c.in_c], None),
                tensor(
                    "w",
                    DType::I8,
                    &fshape,
                    qp(w_scales.clone(), vec![0; w_scales.len()], axis),
                ),
                tensor("b", DType::F32, &[oc_n], None),
                tensor("y", DType::F32, &c.out_shape(), None),
            ],
            Tensor::new(&fshape, Buf::I8(w.clone())).unwrap(),
            Some(Tensor::from_f32(&[oc_n], &bias).unwrap()),
        );
        let got = p.run(Tensor::from_f32(&[c.batches, c.in_h, c.in_w, c.in_c], &x).unwrap());
        let got = got.unwrap_or_else(|e| panic!("{c:?}: {e}"));
        let per_batch = n_in / c.batches;
        let mut q = vec![0i8; n_in];
        let mut scaling = vec![0f32; c.batches];
        let mut offset = vec![0i32; c.batches];
        for b in 0..c.batches {
            let r = b * per_batch..(b + 1) * per_batch;
            if per_channel {
                let (s, zp) =
                    super::super::common::asymmetric_quantize_floats(&x[r.clone()], &mut q[r]);
                scaling[b] = s;
                offset[b] = zp;
            } else {
                let s = super::super::common::symmetric_quantize_floats(&x[r.clone()], &mut q[r]);
                scaling[b] = s * w_scales[0];
            }
        }
        let (lo, hi) = super::super::common::float_activation_range(c.act).unwrap();
        let oh_ow = c.out_shape()[1] * c.out_shape()[2] * oc_n;
        // Centred values, padded with 0: out-of-image taps contribute nothing.
        let centred: Vec<i32> = (0..n_in)
            .map(|i| i32::from(q[i]) - offset[i / per_batch])
            .collect();
        let (xp, ..) = c.pad(&centred, 0i32);
        for (i, t) in c.taps().iter().enumerate() {
            let (b, oc) = (i / oh_ow, i % oc_n);
            let acc: i32 = t.iter().map(|&(xi, wi)| i32::from(w[wi]) * xp[xi]).sum();
            let v = if c.depthwise {
                acc as f32 * (w_scales[oc] * scaling[b])
            } else if per_channel {
                acc as f32 * w_scales[oc] * scaling[b]
            } else {
                acc as f32 * scaling[b]
            };
            let want = (v + bias[oc]).max(lo).min(hi);
            assert_eq!(got.as_f32().unwrap()[i], want, "{c:?} element {i}");
        }
    }
}

#[test]
fn geometry_pads_before_with_the_smaller_half() {
    // 8 wide, 3 taps, stride 2, SAME: 4 outputs, total padding 1, all of it after.
    let g = super::Geom {
        batches: 1,
        in_h: 8,
        in_w: 8,
        in_c: 1,
        out_h: 4,
        out_w: 4,
        out_c: 1,
        filter_h: 3,
        filter_w: 3,
        stride_h: 2,
        stride_w: 2,
        dilation_h: 1,
        dilation_w: 1,
        pad_h: 0,
        pad_w: 0,
    };
    assert_eq!(g.in_y(3, 2), None); // 6 + 2 = 8: outside
    assert_eq!(g.in_y(3, 1), Some(7));
    let g = super::Geom {
        pad_w: 1,
        dilation_w: 2,
        ..g
    };
    assert_eq!(g.in_x(0, 0), None);
    assert_eq!(g.in_x(0, 1), Some(1));
    assert_eq!(g.in_x(3, 2), None); // 6 + 4 - 1 = 9
}

#[test]
fn unsupported_shapes_and_types_fail_at_prepare() {
    let c = Case {
        depthwise: false,
        batches: 1,
        in_h: 4,
        in_w: 4,
        in_c: 2,
        filter_in_c: 2,
        out: 3,
        fh: 3,
        fw: 3,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        same: false,
        act: Activation::Tanh,
    };
    let fshape = c.filter_shape();
    let mk = |act: Activation, out_shape: Vec<usize>, w_scales: Vec<f32>| {
        let c = Case { act, ..c };
        Problem::new(
            c.op(),
            vec![
                tensor("x", DType::F32, &[1, 4, 4, 2], None),
                tensor(
                    "w",
                    DType::I8,
                    &fshape,
                    qp(w_scales.clone(), vec![0; w_scales.len()], 0),
                ),
                tensor("b", DType::F32, &[3], None),
                tensor("y", DType::F32, &out_shape, None),
            ],
            Tensor::new(&fshape, Buf::I8(vec![1; 54])).unwrap(),
            Some(Tensor::from_f32(&[3], &[0.0; 3]).unwrap()),
        )
    };
    let err = |p: &Problem| {
        prepare(&p.ctx())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    // A fused TANH is not applied by TFLite's conv kernels: refused.
    assert!(err(&mk(Activation::Tanh, vec![1, 2, 2, 3], vec![0.1])).contains("fused activation"));
    // The output shape must be what the window gives.
    assert!(err(&mk(Activation::None, vec![1, 3, 3, 3], vec![0.1])).contains("output"));
    // Two scales for three channels.
    assert!(err(&mk(Activation::None, vec![1, 2, 2, 3], vec![0.1, 0.2])).contains("scales"));
    assert!(prepare(&mk(Activation::None, vec![1, 2, 2, 3], vec![0.1, 0.2, 0.3]).ctx()).is_ok());
}

/// Fixed-point corners of the epilogue through a whole kernel: a large accumulator, a
/// multiplier above 1 (left shift), clamping at both ends.
#[test]
fn int8_extremes() {
    // 1x1 conv, 64 input channels all -128 with zp 127 and weights -127: acc = 64 * 127 * 255.
    let x = vec![-128i8; 64];
    let w = vec![-127i8; 2 * 64];
    let p = Problem::new(
        Op::Conv2D(Conv2DOptions {
            padding: Padding::Valid,
            stride_w: 1,
            stride_h: 1,
            activation: Activation::None,
            dilation_w: 1,
            dilation_h: 1,
            quantized_bias_type: DType::F32,
        }),
        vec![
            tensor("x", DType::I8, &[1, 1, 1, 64], qp(vec![1.0], vec![127], 0)),
            tensor(
                "w",
                DType::I8,
                &[2, 1, 1, 64],
                qp(vec![1e-6, 3.0], vec![0, 0], 0),
            ),
            tensor("b", DType::I32, &[2], None),
            tensor("y", DType::I8, &[1, 1, 1, 2], qp(vec![1.0], vec![-3], 0)),
        ],
        Tensor::new(&[2, 1, 1, 64], Buf::I8(w)).unwrap(),
        Some(Tensor::new(&[2], Buf::I32(vec![i32::MIN / 2, 7])).unwrap()),
    );
    let y = p.run(Tensor::from_i8(&[1, 1, 1, 64], &x).unwrap()).unwrap();
    let acc = 64 * 127 * 255;
    let m0 = quantize_multiplier(1e-6f32 as f64);
    let v0 = multiply_by_quantized_multiplier(acc + i32::MIN / 2, m0) - 3;
    assert_eq!(y.as_i8().unwrap(), &[v0.clamp(-128, 127) as i8, 127]);
}
