//! Tests of the convolution kernels:
//! - each CONV_2D / DEPTHWISE_CONV_2D of every fixture model run alone on LiteRT's recorded
//!   input tensors (so int8 models are checked before QUANTIZE/DEQUANTIZE exist), its output
//!   compared with LiteRT's (`BUILTIN_REF`);
//! - the loops against a second formulation (explicitly padded input, no bounds tests) over
//!   random shapes with odd sizes, strides, dilations, groups, batches, depth multipliers
//!   and both paddings (`padded.rs`);
//! - the int8 parameters (multipliers in double, activation clamps) and the hybrid paths
//!   (`padded.rs`, `prepare.rs`).

use crate::model::{
    self, Activation, Conv2DOptions, DType, DepthwiseConv2DOptions, Op, Padding, QuantParams,
    Subgraph,
};
use crate::reference::test_support::{
    fixture_pairs, one_op_subgraph, prepare_at, run_alone, Compare, FixturePair,
};
use crate::reference::Kernel;
use crate::Tensor;

use crate::reference::test_support::Rng;

mod padded;
mod prepare;
mod tconv;

/// Every CONV_2D / DEPTHWISE_CONV_2D in the op fixtures, run alone (the model fixtures record
/// only their inputs and outputs; the conformance test covers them whole).
#[test]
fn fixture_convolutions_match_litert_in_isolation() {
    let models: Vec<FixturePair> = fixture_pairs()
        .into_iter()
        .filter(|p| {
            p.is_op_fixture() && (p.name.starts_with("conv2d_") || p.name.starts_with("dwconv_"))
        })
        .collect();
    assert!(
        models.len() >= 40,
        "expected the conv fixtures, found {}",
        models.len()
    );
    let mut compared = 0;
    for pair in &models {
        let r = run_alone(pair, &["CONV_2D", "DEPTHWISE_CONV_2D"], Compare::Tolerance);
        assert!(r.failures.is_empty(), "{}", r.failures.join("\n"));
        assert!(r.skipped.is_empty(), "not recorded: {:?}", r.skipped);
        assert!(r.outputs > 0, "{}: no convolution compared", pair.name);
        compared += r.outputs;
    }
    eprintln!(
        "{} models, {compared} convolution outputs compared",
        models.len()
    );
}

// ---- synthetic problems -------------------------------------------------------------------

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
    consts: Vec<Option<Tensor>>,
}

impl Problem {
    /// Without a bias, a DEPTHWISE_CONV_2D takes two inputs; a CONV_2D, which LiteRT refuses
    /// without one (conv.cc: `TF_LITE_ENSURE(context, has_bias)`), a zero bias.
    fn new(op: Op, tensors: Vec<model::Tensor>, filter: Tensor, bias: Option<Tensor>) -> Problem {
        let bias = match (bias, &op) {
            (None, Op::Conv2D(_)) => {
                let b = &tensors[2];
                Some(Tensor::zeros(b.dtype, &super::super::dims(b)).unwrap())
            }
            (b, _) => b,
        };
        let inputs = if bias.is_some() {
            vec![0, 1, 2]
        } else {
            vec![0, 1]
        };
        Problem {
            sg: one_op_subgraph(op, tensors, inputs, vec![3]),
            consts: vec![None, Some(filter), bias, None],
        }
    }

    fn prepare(&self) -> crate::Result<Box<dyn Kernel>> {
        prepare_at(&self.sg, &self.consts, 0)
    }

    fn run(&self, input: Tensor) -> crate::Result<Tensor> {
        let kernel = self.prepare()?;
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
