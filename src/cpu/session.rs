//! [`FastSession`]: the fast kernels swapped in where they apply, every tensor allocated at
//! prepare and reused by every run.

use std::any::Any;

use crate::engine::{IoSpec, Observer, Session};
use crate::memory::Budget;
use crate::model::DType;
use crate::reference::activations::prelu as rprelu;
use crate::reference::binary::{self as rbin, Arith, BinaryOp};
use crate::reference::conv::conv2d as rconv;
use crate::reference::conv::depthwise as rdw;
use crate::reference::fully_connected::fc as rfc;
use crate::reference::shape_ops::kernels::PadKernel;
use crate::reference::{check_inputs, FloatOrder, Kernel, Prepared, Step};
use crate::{Buf, Error, Result, Tensor};

use super::binary::{AddSubI8, BinaryF32};
use super::conv::{ConvF32, ConvI8, FcF32, FcI8};
use super::converter::{ConvF32Converter, FcF32Converter};
use super::depthwise::{DwF32, DwI8};
use super::gemm::{PackedF32, PackedI16, Simd};
use super::pad::PadFast;
use super::par::Par;
use super::prelu::PreluFast;
use super::requant::FastEpilogue;

struct FastStep {
    kernel: Box<dyn Kernel>,
    inputs: Vec<Option<usize>>,
    outputs: Vec<usize>,
    /// Whether the kernel writes every element of its outputs (a fast kernel); the
    /// reference kernels get their outputs zeroed first, as they are used to.
    overwrites: bool,
    /// Computed once at prepare (all its inputs are constant: the DEQUANTIZE of float16
    /// weights, say): a run only shows its outputs to the observer.
    folded: bool,
}

/// A model prepared on [`super::FastCpuEngine`].
pub struct FastSession {
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
    names: Vec<String>,
    specs: Vec<(DType, Vec<usize>)>,
    consts: Vec<Option<Tensor>>,
    steps: Vec<FastStep>,
    /// The value of every tensor a run computes (or is given), allocated at prepare.
    values: Vec<Option<Tensor>>,
    /// How many operators run a fast kernel.
    fast: usize,
}

fn zeros(specs: &[(DType, Vec<usize>)], t: usize) -> Result<Tensor> {
    let (dtype, shape) = &specs[t];
    Tensor::try_zeros(*dtype, shape)?
        .ok_or_else(|| Error::Unsupported(format!("tensor {t}: dtype {dtype} cannot be held")))
}

/// Set every element of `t` to zero, in place.
fn clear(t: &mut Tensor) {
    match t.buf_mut() {
        Buf::F32(v) => v.fill(0.0),
        Buf::F16(v) => v.fill(0),
        Buf::I8(v) => v.fill(0),
        Buf::U8(v) => v.fill(0),
        Buf::I16(v) => v.fill(0),
        Buf::I32(v) => v.fill(0),
        Buf::I64(v) => v.fill(0),
        Buf::Bool(v) => v.fill(false),
    }
}

/// Copy `src` into `dst` when they have the same dtype and shape (else replace `dst`).
fn copy_into(dst: &mut Tensor, src: &Tensor) {
    if dst.shape() != src.shape() {
        *dst = src.clone();
        return;
    }
    match (dst.buf_mut(), src.buf()) {
        (Buf::F32(d), Buf::F32(s)) => d.copy_from_slice(s),
        (Buf::F16(d), Buf::F16(s)) => d.copy_from_slice(s),
        (Buf::I8(d), Buf::I8(s)) => d.copy_from_slice(s),
        (Buf::U8(d), Buf::U8(s)) => d.copy_from_slice(s),
        (Buf::I16(d), Buf::I16(s)) => d.copy_from_slice(s),
        (Buf::I32(d), Buf::I32(s)) => d.copy_from_slice(s),
        (Buf::I64(d), Buf::I64(s)) => d.copy_from_slice(s),
        (Buf::Bool(d), Buf::Bool(s)) => d.copy_from_slice(s),
        _ => *dst = src.clone(),
    }
}

impl FastSession {
    pub(super) fn new(p: Prepared, simd: Simd, par: Par) -> Result<FastSession> {
        let mut values: Vec<Option<Tensor>> = vec![None; p.specs.len()];
        for spec in &p.inputs {
            values[spec.tensor] = Some(zeros(&p.specs, spec.tensor)?);
        }
        let mut consts = p.consts;
        let mut steps = Vec::with_capacity(p.steps.len());
        let mut fast = 0;
        for step in p.steps {
            if fold(&step, &p.specs, &mut consts) {
                steps.push(FastStep {
                    kernel: step.kernel,
                    inputs: step.inputs,
                    outputs: step.outputs,
                    overwrites: false,
                    folded: true,
                });
                continue;
            }
            for &t in &step.outputs {
                values[t] = Some(zeros(&p.specs, t)?);
            }
            let opts = Opts {
                simd,
                par,
                specs: &p.specs,
                consts: &consts,
                budget: &p.budget,
            };
            let (kernel, overwrites) = match adapt(&step, &opts)? {
                Some(k) => (k, true),
                None => (step.kernel, false),
            };
            fast += usize::from(overwrites);
            steps.push(FastStep {
                kernel,
                inputs: step.inputs,
                outputs: step.outputs,
                overwrites,
                folded: false,
            });
        }
        Ok(FastSession {
            inputs: p.inputs,
            outputs: p.outputs,
            names: p.names,
            specs: p.specs,
            consts,
            steps,
            values,
            fast,
        })
    }

    /// How many operators run a fast kernel (the others run their reference kernel).
    pub fn fast_ops(&self) -> usize {
        self.fast
    }
}

impl Session for FastSession {
    fn inputs(&self) -> &[IoSpec] {
        &self.inputs
    }

    fn outputs(&self) -> &[IoSpec] {
        &self.outputs
    }

    fn run_observed(
        &mut self,
        inputs: &[Tensor],
        mut observer: Option<&mut dyn Observer>,
    ) -> Result<Vec<Tensor>> {
        check_inputs(&self.inputs, inputs)?;
        for (spec, t) in self.inputs.iter().zip(inputs) {
            match &mut self.values[spec.tensor] {
                Some(v) => copy_into(v, t),
                slot => *slot = Some(t.clone()),
            }
            if let Some(o) = observer.as_deref_mut() {
                o.observe(spec.tensor, &self.names[spec.tensor], t)?;
            }
        }
        let mut outs: Vec<Tensor> = Vec::new();
        for step in &self.steps {
            if step.folded {
                if let Some(o) = observer.as_deref_mut() {
                    for &t in &step.outputs {
                        if let Some(v) = &self.consts[t] {
                            o.observe(t, &self.names[t], v)?;
                        }
                    }
                }
                continue;
            }
            outs.clear();
            for &t in &step.outputs {
                let mut v = match self.values[t].take() {
                    Some(v) => v,
                    None => zeros(&self.specs, t)?,
                };
                if !step.overwrites {
                    if (v.dtype(), v.shape()) != (self.specs[t].0, self.specs[t].1.as_slice()) {
                        v = zeros(&self.specs, t)?;
                    } else {
                        clear(&mut v);
                    }
                }
                outs.push(v);
            }
            let ran = {
                let (values, consts) = (&self.values, &self.consts);
                let ins: Vec<Option<&Tensor>> = step
                    .inputs
                    .iter()
                    .map(|t| t.and_then(|t| values[t].as_ref().or(consts[t].as_ref())))
                    .collect();
                step.kernel.run(&ins, &mut outs)
            };
            // The buffers go back whether the kernel succeeded or not.
            for (&t, v) in step.outputs.iter().zip(outs.drain(..)) {
                self.values[t] = Some(v);
            }
            ran?;
            if let Some(o) = observer.as_deref_mut() {
                for &t in &step.outputs {
                    if let Some(v) = &self.values[t] {
                        o.observe(t, &self.names[t], v)?;
                    }
                }
            }
        }
        self.outputs
            .iter()
            .map(|spec| {
                self.values[spec.tensor]
                    .clone()
                    .or_else(|| self.consts[spec.tensor].clone())
                    .ok_or_else(|| {
                        Error::InvalidModel(format!(
                            "output tensor {} was not computed",
                            spec.tensor
                        ))
                    })
            })
            .collect()
    }
}

/// Run a builtin `step` whose inputs are all constant once, its outputs becoming constants;
/// false (nothing changed) when it has no input, reads a non-constant or fails (the run
/// then fails as the reference engine's would).
fn fold(step: &Step, specs: &[(DType, Vec<usize>)], consts: &mut [Option<Tensor>]) -> bool {
    let given: Vec<usize> = step.inputs.iter().flatten().copied().collect();
    if !step.builtin || given.is_empty() || given.iter().any(|&t| consts[t].is_none()) {
        return false;
    }
    let Ok(mut outs) = step
        .outputs
        .iter()
        .map(|&t| zeros(specs, t))
        .collect::<Result<Vec<_>>>()
    else {
        return false;
    };
    let ran = {
        let ins: Vec<Option<&Tensor>> = step
            .inputs
            .iter()
            .map(|t| t.and_then(|t| consts[t].as_ref()))
            .collect();
        step.kernel.run(&ins, &mut outs)
    };
    if ran.is_err() {
        return false;
    }
    for (&t, v) in step.outputs.iter().zip(outs) {
        consts[t] = Some(v);
    }
    true
}

/// What the fast kernels are built with.
struct Opts<'a> {
    simd: Simd,
    par: Par,
    specs: &'a [(DType, Vec<usize>)],
    consts: &'a [Option<Tensor>],
    budget: &'a Budget,
}

impl Opts<'_> {
    /// The constant value of a step's input `i`.
    fn constant<'s>(&'s self, step: &Step, i: usize) -> Option<&'s Tensor> {
        let t = (*step.inputs.get(i)?)?;
        self.consts[t].as_ref()
    }

    fn charge(&self, label: &str, bytes: u64) -> Result<()> {
        self.budget
            .charge(Some(bytes), || format!("{label}: the packed weights"))
    }
}

/// An integer offset whose sums with int8 values fit int16 products without overflow.
fn small(offset: i32) -> bool {
    (-256..=256).contains(&offset)
}

/// The fast kernel for `step`, built from its reference kernel's parameters, or `None` to
/// keep the reference kernel.
fn adapt(step: &Step, o: &Opts) -> Result<Option<Box<dyn Kernel>>> {
    let any = step.kernel.as_ref() as &dyn Any;
    let (simd, par) = (o.simd, o.par);
    if let Some(k) = any.downcast_ref::<rconv::ConvF32>() {
        let (s, g) = (&k.shape, k.shape.g);
        let Some(f) = o.constant(step, 1).and_then(Tensor::as_f32) else {
            return Ok(None);
        };
        let depth = g.filter_h * g.filter_w * s.filter_in_c;
        if k.order == FloatOrder::Converter
            && s.filters_per_group == g.out_c
            && f.len() == g.out_c * depth
        {
            // The converter's order multiplies the patch's zeros too: any weight will do.
            let w = PackedF32::pack(g.out_c, depth, |c, d| f[c * depth + d]);
            o.charge(&k.label, 2 * w.bytes())?;
            return Ok(Some(Box::new(ConvF32Converter {
                g,
                act: k.act,
                w,
                filter: f.to_vec(),
                simd,
                par,
                reference: rconv::ConvF32 {
                    label: k.label.clone(),
                    shape: k.shape,
                    act: k.act,
                    order: k.order,
                },
            })));
        }
        // Zero taps stand for skipped ones only when no weight is infinite or NaN.
        if k.order != FloatOrder::Reference
            || s.filters_per_group != g.out_c
            || f.len() != g.out_c * depth
            || !f.iter().all(|w| w.is_finite())
        {
            return Ok(None);
        }
        let w = PackedF32::pack(g.out_c, depth, |c, d| f[c * depth + d]);
        o.charge(&k.label, w.bytes())?;
        return Ok(Some(Box::new(ConvF32 {
            label: k.label.clone(),
            g,
            act: k.act,
            w,
            simd,
            par,
        })));
    }
    if let Some(k) = any.downcast_ref::<rconv::ConvI8>() {
        let (s, g) = (&k.shape, k.shape.g);
        let depth = g.filter_h * g.filter_w * s.filter_in_c;
        if s.filters_per_group != g.out_c || !small(k.input_offset) {
            return Ok(None);
        }
        let w = PackedI16::pack(g.out_c, depth, |c, d| i16::from(k.filter[c * depth + d]));
        o.charge(&k.label, w.bytes())?;
        return Ok(Some(Box::new(ConvI8 {
            label: k.label.clone(),
            g,
            input_offset: k.input_offset,
            w,
            epilogue: FastEpilogue::new(&k.epilogue),
            simd,
            par,
        })));
    }
    if let Some(k) = any.downcast_ref::<rdw::DwF32>() {
        if k.shape.depth_multiplier != 1 {
            return Ok(None);
        }
        return Ok(Some(Box::new(DwF32 {
            label: k.label.clone(),
            g: k.shape.g,
            act: k.act,
            order: k.order,
            simd,
            par,
        })));
    }
    if let Some(k) = any.downcast_ref::<rdw::DwI8>() {
        if k.shape.depth_multiplier != 1 {
            return Ok(None);
        }
        return Ok(Some(Box::new(DwI8 {
            label: k.label.clone(),
            g: k.shape.g,
            input_offset: k.input_offset,
            filter: k.filter.clone(),
            epilogue: FastEpilogue::new(&k.epilogue),
            simd,
            par,
        })));
    }
    if let Some(k) = any.downcast_ref::<PadKernel>() {
        return Ok(PadFast::fits(k).then(|| Box::new(PadFast(k.clone())) as Box<dyn Kernel>));
    }
    if let Some(k) = any.downcast_ref::<rprelu::Prelu>() {
        let float = k.quant.is_none() && o.specs[step.outputs[0]].0 == DType::F32;
        let int8 = k.quant.is_some() && o.specs[step.outputs[0]].0 == DType::I8;
        return Ok(match PreluFast::period_of(&k.alpha_index) {
            Some(period) if step.outputs.len() == 1 && (float || int8) => {
                Some(Box::new(PreluFast {
                    label: k.label.clone(),
                    n: k.alpha_index.len(),
                    period,
                    quant: k.quant,
                }))
            }
            _ => None,
        });
    }
    if let Some(k) = any.downcast_ref::<rbin::BinaryKernel>() {
        let ops = &k.operands;
        let int8_out = step.outputs.len() == 1 && o.specs[step.outputs[0]].0 == DType::I8;
        if let BinaryOp::Float { arith, lo, hi } = &k.op {
            let float_out = step.outputs.len() == 1 && o.specs[step.outputs[0]].0 == DType::F32;
            let plain = matches!(arith, Arith::Add | Arith::Sub | Arith::Mul);
            let periods = ops
                .periods()
                .filter(|&(pa, pb)| BinaryF32::fits(ops.len_out, pa, pb));
            if let (true, true, Some((len_a, len_b))) = (float_out, plain, periods) {
                return Ok(Some(Box::new(BinaryF32 {
                    label: format!("{} ({})", k.name, step.outputs[0]),
                    n: ops.len_out,
                    len_a,
                    len_b,
                    arith: *arith,
                    lo: *lo,
                    hi: *hi,
                })));
            }
        }
        if let BinaryOp::QuantAddSub { p, subtract } = &k.op {
            if int8_out && ops.len_a == ops.len_out && ops.len_b == ops.len_out {
                return Ok(Some(Box::new(AddSubI8 {
                    label: format!("{} ({})", k.name, step.outputs[0]),
                    n: ops.len_out,
                    p: *p,
                    subtract: *subtract,
                    simd,
                })));
            }
        }
        return Ok(None);
    }
    if let Some(k) = any.downcast_ref::<rfc::FloatFc>() {
        let d = k.dims;
        let Some(f) = o.constant(step, 1).and_then(Tensor::as_f32) else {
            return Ok(None);
        };
        if d.depth == 0 || f.len() != d.units * d.depth {
            return Ok(None);
        }
        if k.order == FloatOrder::Converter {
            let w = PackedF32::pack(d.units, d.depth, |c, s| f[c * d.depth + s]);
            o.charge(&k.label, 2 * w.bytes())?;
            return Ok(Some(Box::new(FcF32Converter {
                w,
                filter: f.to_vec(),
                simd,
                par,
                reference: rfc::FloatFc {
                    label: k.label.clone(),
                    dims: k.dims,
                    lo: k.lo,
                    hi: k.hi,
                    has_bias: k.has_bias,
                    order: k.order,
                },
            })));
        }
        if k.order != FloatOrder::Reference {
            return Ok(None);
        }
        let w = PackedF32::pack(d.units, d.depth, |c, s| f[c * d.depth + s]);
        o.charge(&k.label, w.bytes())?;
        return Ok(Some(Box::new(FcF32 {
            label: k.label.clone(),
            batches: d.batches,
            lo: k.lo,
            hi: k.hi,
            has_bias: k.has_bias,
            w,
            simd,
            par,
        })));
    }
    if let Some(k) = any.downcast_ref::<rfc::QuantFc<i8>>() {
        let d = k.dims;
        let Some(f) = o.constant(step, 1).and_then(Tensor::as_i8) else {
            return Ok(None);
        };
        if d.depth == 0
            || f.len() != d.units * d.depth
            || !small(k.input_offset)
            || !small(k.filter_offset)
        {
            return Ok(None);
        }
        let w = PackedI16::pack(d.units, d.depth, |c, s| {
            (i32::from(f[c * d.depth + s]) + k.filter_offset) as i16
        });
        o.charge(&k.label, w.bytes())?;
        return Ok(Some(Box::new(FcI8 {
            label: k.label.clone(),
            batches: d.batches,
            depth: d.depth,
            input_offset: k.input_offset,
            w,
            epilogue: k.epilogue.clone(),
            simd,
            par,
        })));
    }
    Ok(None)
}
