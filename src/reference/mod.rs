//! The CPU reference engine: plain loop nests that follow TFLite's reference kernels
//! (`kernels/internal/reference/...`, default build) bit for bit. Normative: the GPU engine
//! and the quantizer's accuracy figures are checked against it.
//!
//! One file per op family, float and int8 side by side. Each family offers `prepare_*`
//! functions that check dtypes and shapes, precompute every parameter (multipliers, shifts,
//! lookup tables, index maps) and return a `Kernel`; running a kernel only computes.

pub(crate) mod activations;
pub(crate) mod binary;
pub(crate) mod cast;
pub(crate) mod common;
pub(crate) mod conv;
pub(crate) mod densify;
mod eigen_cache;
pub(crate) mod eigen_math;
mod eigen_threads;
pub(crate) mod elementwise;
pub(crate) mod float_order;
pub(crate) mod fold;
pub(crate) mod fully_connected;
pub(crate) mod lut16;
pub(crate) mod pooling;
pub(crate) mod quantize;
pub(crate) mod reduce;
pub(crate) mod reduce_generic;
pub(crate) mod resize;
pub(crate) mod shape_ops;
pub(crate) mod softmax;
pub(crate) mod softmax16;
#[cfg(test)]
mod test_support;

use crate::custom::{CustomOp, CustomOps};
use crate::engine::{Engine, IoSpec, Observer, Session};
use crate::model::{self, Model, Op, Operator, Subgraph};
use crate::{Error, Result, Tensor};
use reduce_generic::ReduceKind;

pub(crate) use common::OpCtx;
#[cfg_attr(not(feature = "gpu"), allow(unused_imports))]
pub(crate) use float_order::{conv_sum, eigen_kc, Blocking, ConvSum, Sharding};
pub use float_order::{
    converter_l1d_cache, converter_l2_l3_cache, set_converter_l1d_cache, set_converter_l2_l3_cache,
    FloatOrder,
};

/// A prepared operator: computes its outputs from its inputs.
///
/// `Any` so that the GPU engine can read a prepared kernel's parameters (multipliers, tables,
/// geometry): both engines run from one precomputation ([`crate::gpu`] downcasts to the
/// family's kernel struct), never from copies of it.
pub(crate) trait Kernel: std::any::Any + Send + Sync {
    /// `inputs[i]` is `None` for an omitted optional input. `outputs` arrive allocated with
    /// the model's output shapes and dtypes (zeros).
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()>;
}

/// The CPU reference engine.
///
/// `ReferenceEngine` (the value) is the engine with the default memory budget (the memory
/// available at prepare, [`crate::memory`]) and no custom ops;
/// `ReferenceEngine::default().with_max_memory(n)` sets another budget, and
/// [`ReferenceEngine::with_custom_op`] registers a kernel for a custom op ([`crate::custom`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceEngine {
    max_memory: Option<u64>,
    custom: CustomOps,
}

/// The reference engine with the default memory budget (written like a unit struct, as the
/// engine was before it had options).
#[allow(non_upper_case_globals)]
pub const ReferenceEngine: ReferenceEngine = ReferenceEngine {
    max_memory: None,
    custom: CustomOps::new(),
};

/// The options both CPU engines take: a memory budget and custom-op kernels.
macro_rules! cpu_engine_options {
    ($engine:ident) => {
        impl $engine {
            /// This engine with a memory budget of `bytes` for each prepared model: its
            /// activation tensors and the tables its kernels precompute. A model over it is
            /// an [`Error::Memory`] at prepare.
            pub fn with_max_memory(self, bytes: u64) -> Self {
                Self {
                    max_memory: Some(bytes),
                    ..self
                }
            }

            /// The budget set with `with_max_memory` (`None`: the default).
            pub fn max_memory(&self) -> Option<u64> {
                self.max_memory
            }

            /// This engine with `op` as the kernel of the custom op `name` (the operator's
            /// `custom_code`; [`crate::custom`]).
            pub fn with_custom_op(
                mut self,
                name: impl Into<String>,
                op: impl CustomOp + 'static,
            ) -> Self {
                self.custom.register(name, op);
                self
            }

            /// This engine with the custom-op kernels `ops` (replacing those registered
            /// before).
            pub fn with_custom_ops(self, ops: CustomOps) -> Self {
                Self {
                    custom: ops,
                    ..self
                }
            }

            /// The custom-op kernels registered on this engine.
            pub fn custom_ops(&self) -> &CustomOps {
                &self.custom
            }
        }
    };
}

cpu_engine_options!(ReferenceEngine);
cpu_engine_options!(ConverterFloatEngine);

impl Engine for ReferenceEngine {
    type Session = ReferenceSession;

    fn name(&self) -> String {
        "reference (CPU)".to_string()
    }

    fn prepare(&self, model: &Model) -> Result<ReferenceSession> {
        ReferenceSession::new(model, FloatOrder::Reference, self.max_memory, &self.custom)
    }
}

/// The reference engine with the float32 kernels summing in the order of the kernels
/// TensorFlow's converter calibrates with ([`FloatOrder::Converter`]); everything else —
/// every integer kernel included — is the reference engine's. Calibrating on it gives the
/// converter's ranges, and so its scales, bit for bit (on the x86-64 converter build).
/// Memory budget and custom ops as [`struct@ReferenceEngine`]'s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConverterFloatEngine {
    max_memory: Option<u64>,
    custom: CustomOps,
}

/// The converter-order engine with the default memory budget.
#[allow(non_upper_case_globals)]
pub const ConverterFloatEngine: ConverterFloatEngine = ConverterFloatEngine {
    max_memory: None,
    custom: CustomOps::new(),
};

impl Engine for ConverterFloatEngine {
    type Session = ReferenceSession;

    fn name(&self) -> String {
        "reference (CPU, converter float order)".to_string()
    }

    fn prepare(&self, model: &Model) -> Result<ReferenceSession> {
        ReferenceSession::new(model, FloatOrder::Converter, self.max_memory, &self.custom)
    }
}

/// One prepared operator of a session: its kernel and the tensors it reads and writes.
pub(crate) struct Step {
    pub(crate) kernel: Box<dyn Kernel>,
    pub(crate) inputs: Vec<Option<usize>>,
    pub(crate) outputs: Vec<usize>,
    /// Whether the kernel is a builtin's (a pure function of its inputs: the fast engine
    /// computes it once at prepare when they are all constant); custom kernels are not.
    pub(crate) builtin: bool,
}

/// Everything a CPU session is made of, prepared by the reference kernels
/// ([`prepare_steps`]); the fast CPU engine ([`crate::cpu`]) starts from it too.
pub(crate) struct Prepared {
    pub(crate) inputs: Vec<IoSpec>,
    pub(crate) outputs: Vec<IoSpec>,
    pub(crate) names: Vec<String>,
    /// Output allocations: (dtype, shape) per tensor.
    pub(crate) specs: Vec<(model::DType, Vec<usize>)>,
    pub(crate) consts: Vec<Option<Tensor>>,
    pub(crate) steps: Vec<Step>,
    /// The memory budget the activations and tables were charged to.
    pub(crate) budget: crate::memory::Budget,
}

/// A model prepared on the reference engine.
pub struct ReferenceSession {
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
    names: Vec<String>,
    /// Output allocations: (dtype, shape) per tensor.
    specs: Vec<(model::DType, Vec<usize>)>,
    consts: Vec<Option<Tensor>>,
    steps: Vec<Step>,
}

/// The static shape of a model tensor as `usize`s (validated models have no negative dims).
pub(crate) fn dims(t: &model::Tensor) -> Vec<usize> {
    t.shape.iter().map(|&d| d.max(0) as usize).collect()
}

pub(crate) fn io_specs(model: &Model, sg: &Subgraph, list: &[usize], inputs: bool) -> Vec<IoSpec> {
    list.iter()
        .map(|&t| {
            let tensor = &sg.tensors[t];
            let signature_name = model
                .signature_defs
                .iter()
                .filter(|s| s.subgraph == 0)
                .flat_map(|s| if inputs { &s.inputs } else { &s.outputs })
                .find(|m| m.tensor == t)
                .map(|m| m.name.clone());
            IoSpec {
                tensor: t,
                name: tensor.name.clone(),
                signature_name,
                dtype: tensor.dtype,
                shape: dims(tensor),
                dynamic: match &tensor.shape_signature {
                    Some(sig) if sig.len() == tensor.shape.len() => {
                        sig.iter().map(|&d| d < 0).collect()
                    }
                    _ => vec![false; tensor.shape.len()],
                },
                quant: tensor
                    .quant
                    .as_ref()
                    .filter(|q| q.scale.len() == 1)
                    .map(|q| (q.scale[0], q.zero_point.first().copied().unwrap_or(0))),
            }
        })
        .collect()
}

pub(crate) fn prepare_op(ctx: &OpCtx) -> Result<Box<dyn Kernel>> {
    densify::check_sparse_inputs(ctx)?;
    match &ctx.op.op {
        Op::Conv2D(o) => conv::prepare_conv2d(ctx, o),
        Op::DepthwiseConv2D(o) => conv::prepare_depthwise(ctx, o),
        Op::TransposeConv(o) => conv::prepare_transpose_conv(ctx, o),
        Op::FullyConnected(o) => fully_connected::prepare_fully_connected(ctx, o),
        Op::BatchMatMul(o) => fully_connected::prepare_batch_matmul(ctx, o),
        Op::Add(o) => binary::prepare_add(ctx, o),
        Op::Sub(o) => binary::prepare_sub(ctx, o),
        Op::Mul { activation } => binary::prepare_mul(ctx, *activation),
        Op::Maximum => binary::prepare_maximum(ctx),
        Op::Minimum => binary::prepare_minimum(ctx),
        Op::AveragePool2D(o) => pooling::prepare_average_pool(ctx, o),
        Op::MaxPool2D(o) => pooling::prepare_max_pool(ctx, o),
        Op::Mean { keep_dims } => reduce::prepare_mean(ctx, *keep_dims),
        Op::Sum { keep_dims } => reduce_generic::prepare_reduce(ctx, ReduceKind::Sum, *keep_dims),
        Op::ReduceMax { keep_dims } => {
            reduce_generic::prepare_reduce(ctx, ReduceKind::Max, *keep_dims)
        }
        Op::ReduceMin { keep_dims } => {
            reduce_generic::prepare_reduce(ctx, ReduceKind::Min, *keep_dims)
        }
        Op::ReduceProd { keep_dims } => {
            reduce_generic::prepare_reduce(ctx, ReduceKind::Prod, *keep_dims)
        }
        Op::Reshape { .. } => shape_ops::prepare_reshape(ctx),
        Op::Squeeze { .. } => shape_ops::prepare_reshape(ctx),
        Op::Concatenation { axis, activation } => {
            shape_ops::prepare_concatenation(ctx, *axis, *activation)
        }
        Op::Pad => shape_ops::prepare_pad(ctx),
        Op::PadV2 => shape_ops::prepare_pad(ctx),
        Op::StridedSlice(o) => shape_ops::prepare_strided_slice(ctx, o),
        Op::Slice => shape_ops::prepare_slice(ctx),
        Op::Transpose => shape_ops::prepare_transpose(ctx),
        Op::Split { num_splits } => shape_ops::prepare_split(ctx, *num_splits),
        Op::SplitV { num_splits } => shape_ops::prepare_split_v(ctx, *num_splits),
        Op::Unpack { num, axis } => shape_ops::prepare_unpack(ctx, *num, *axis),
        Op::Pack { values_count, axis } => shape_ops::prepare_pack(ctx, *values_count, *axis),
        Op::Gather { axis, batch_dims } => shape_ops::prepare_gather(ctx, *axis, *batch_dims),
        Op::ExpandDims => shape_ops::prepare_expand_dims(ctx),
        Op::Cast { .. } => cast::prepare_cast(ctx),
        Op::Shape { .. } => shape_ops::prepare_shape(ctx),
        Op::Fill => shape_ops::prepare_fill(ctx),
        Op::ZerosLike => shape_ops::prepare_zeros_like(ctx),
        Op::BroadcastTo => shape_ops::prepare_broadcast_to(ctx),
        Op::ResizeBilinear(o) => resize::prepare_bilinear(ctx, o),
        Op::ResizeNearestNeighbor(o) => resize::prepare_nearest(ctx, o),
        Op::Softmax { beta } => softmax::prepare_softmax(ctx, *beta),
        Op::Logistic => activations::prepare_logistic(ctx),
        Op::Tanh => activations::prepare_tanh(ctx),
        Op::Relu => activations::prepare_relu(ctx),
        Op::Relu6 => activations::prepare_relu6(ctx),
        Op::LeakyRelu { alpha } => activations::prepare_leaky_relu(ctx, *alpha),
        Op::Prelu => activations::prepare_prelu(ctx),
        Op::HardSwish => activations::prepare_hard_swish(ctx),
        Op::Quantize => quantize::prepare_quantize(ctx),
        Op::Dequantize => quantize::prepare_dequantize(ctx),
        Op::Neg => elementwise::prepare_neg(ctx),
        Op::SquaredDifference => binary::prepare_squared_difference(ctx),
        Op::Div { activation } => binary::prepare_div(ctx, *activation),
        Op::Rsqrt => elementwise::prepare_rsqrt(ctx),
        Op::Sqrt => elementwise::prepare_sqrt(ctx),
        Op::Exp => elementwise::prepare_exp(ctx),
        Op::Log => elementwise::prepare_log(ctx),
        Op::Gelu { approximate } => elementwise::prepare_gelu(ctx, *approximate),
        Op::Other(o) if o.code == densify::DENSIFY => densify::prepare_densify(ctx),
        // Custom ops run only through a registered kernel (`ReferenceSession::new`).
        Op::Other(o) if o.code == model::code::CUSTOM => Err(crate::custom::missing(
            ctx.index,
            o.custom_code.as_deref().unwrap_or(""),
        )),
        _ => Err(ctx.unsupported("the reference engine has no kernel for this op")),
    }
}

/// What a tensor is, for memory messages: `operator 2 (MEAN) input 0: tensor 0 ('x',
/// FLOAT32 [1, 2147483647, 7, 3])`, naming the op that writes it (or first reads it).
pub(crate) fn tensor_label(sg: &Subgraph, t: usize) -> String {
    let tensor = &sg.tensors[t];
    let what = format!(
        "tensor {t} ('{}', {} {:?})",
        tensor.name, tensor.dtype, tensor.shape
    );
    let writer = sg.operators.iter().enumerate().find_map(|(i, op)| {
        let k = op.output_tensors().position(|o| o == t)?;
        Some(format!("{} output {k}", op_label(i, op)))
    });
    let reader = || {
        sg.operators.iter().enumerate().find_map(|(i, op)| {
            let k = op.inputs.iter().position(|&x| x == t as i32)?;
            Some(format!("{} input {k}", op_label(i, op)))
        })
    };
    match writer.or_else(reader) {
        Some(op) => format!("{op}: {what}"),
        None => what,
    }
}

/// Charge the host memory of the activation tensors `host(t)` selects to `budget`, each
/// and together, before any kernel or value is allocated.
pub(crate) fn charge_tensors(
    sg: &Subgraph,
    budget: &crate::memory::Budget,
    host: impl Fn(usize) -> bool,
) -> Result<()> {
    for (t, tensor) in sg.tensors.iter().enumerate() {
        if tensor.data.is_some() || !host(t) {
            continue;
        }
        budget.charge(tensor.dense_bytes(), || tensor_label(sg, t))?;
    }
    Ok(())
}

impl ReferenceSession {
    fn new(
        model: &Model,
        float_order: FloatOrder,
        max_memory: Option<u64>,
        custom: &CustomOps,
    ) -> Result<ReferenceSession> {
        let p = prepare_steps(model, float_order, max_memory, custom)?;
        Ok(ReferenceSession {
            inputs: p.inputs,
            outputs: p.outputs,
            names: p.names,
            specs: p.specs,
            consts: p.consts,
            steps: p.steps,
        })
    }
}

/// Validate `model`, charge its activations to a budget of `max_memory`, decode its
/// constants and prepare every operator's reference kernel (custom ops through `custom`).
pub(crate) fn prepare_steps(
    model: &Model,
    float_order: FloatOrder,
    max_memory: Option<u64>,
    custom: &CustomOps,
) -> Result<Prepared> {
    model.validate_for_prepare()?;
    let sg = model.main();
    // Every value of a run stays alive to its end: all activations are on the host.
    let budget = crate::memory::Budget::new(max_memory);
    charge_tensors(sg, &budget, |_| true)?;
    let mut consts = densify::constants(0, sg, &budget)?;
    fold::fold_shape_values(sg, &mut consts, float_order, &budget)?;
    let mut steps = Vec::with_capacity(sg.operators.len());
    for (index, op) in sg.operators.iter().enumerate() {
        let ctx = OpCtx {
            index,
            op,
            sg,
            consts: &consts,
            float_order,
            budget: &budget,
        };
        let custom_name = crate::custom::custom_name(op);
        let kernel = match custom_name {
            Some(name) => crate::custom::prepare_custom(&ctx, name, custom)?,
            None => prepare_op(&ctx)?,
        };
        steps.push(Step {
            kernel,
            inputs: op.inputs.iter().map(|&t| usize::try_from(t).ok()).collect(),
            outputs: op.output_tensors().collect(),
            builtin: custom_name.is_none(),
        });
    }
    let specs = sg.tensors.iter().map(|t| (t.dtype, dims(t))).collect();
    Ok(Prepared {
        inputs: io_specs(model, sg, &sg.inputs, true),
        outputs: io_specs(model, sg, &sg.outputs, false),
        names: sg.tensors.iter().map(|t| t.name.clone()).collect(),
        specs,
        consts,
        steps,
        budget,
    })
}

/// Prepare every op of `model` as the reference engine would, for what LiteRT checks at
/// prepare (the kernels' prepare mirrors theirs: a CONV_2D without its bias, an int8
/// SOFTMAX whose beta makes no multiplier, a resize that reads out of bounds, scales that
/// are not positive, ...), without a memory budget and without running anything. Ops the
/// engine has no kernel for (unknown builtins, custom ops) are skipped: they are LiteRT's
/// to judge. The quantizer calls this on every model before returning it, so that it never
/// writes a file LiteRT refuses at prepare.
pub(crate) fn check_prepare(model: &Model) -> Result<()> {
    model.validate_for_prepare()?;
    let sg = model.main();
    let budget = crate::memory::Budget::new(Some(u64::MAX));
    let mut consts = densify::constants(0, sg, &budget)?;
    fold::fold_shape_values(sg, &mut consts, FloatOrder::Reference, &budget)?;
    for (index, op) in sg.operators.iter().enumerate() {
        if crate::custom::custom_name(op).is_some()
            || matches!(&op.op, Op::Other(o) if o.code != densify::DENSIFY)
        {
            continue;
        }
        let ctx = OpCtx {
            index,
            op,
            sg,
            consts: &consts,
            float_order: FloatOrder::Reference,
            budget: &budget,
        };
        prepare_op(&ctx)?;
    }
    Ok(())
}

/// Check run inputs against the session's input specs.
pub(crate) fn check_inputs(specs: &[IoSpec], inputs: &[Tensor]) -> Result<()> {
    if inputs.len() != specs.len() {
        return Err(Error::Shape(format!(
            "the model takes {} inputs, {} given",
            specs.len(),
            inputs.len()
        )));
    }
    for (k, (spec, t)) in specs.iter().zip(inputs).enumerate() {
        if t.dtype() != spec.dtype || t.shape() != spec.shape.as_slice() {
            return Err(Error::Shape(format!(
                "input {k} ('{}') must be {} {:?}, got {} {:?}",
                spec.key(),
                spec.dtype,
                spec.shape,
                t.dtype(),
                t.shape()
            )));
        }
    }
    Ok(())
}

impl Session for ReferenceSession {
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
        let mut values: Vec<Option<Tensor>> = vec![None; self.specs.len()];
        for (spec, t) in self.inputs.iter().zip(inputs) {
            values[spec.tensor] = Some(t.clone());
            if let Some(o) = observer.as_deref_mut() {
                o.observe(spec.tensor, &self.names[spec.tensor], t)?;
            }
        }
        for step in &self.steps {
            let mut outs = step
                .outputs
                .iter()
                .map(|&t| {
                    let (dtype, shape) = &self.specs[t];
                    Tensor::try_zeros(*dtype, shape)?.ok_or_else(|| {
                        Error::Unsupported(format!("tensor {t}: dtype {dtype} cannot be held"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            {
                let ins: Vec<Option<&Tensor>> = step
                    .inputs
                    .iter()
                    .map(|t| t.and_then(|t| values[t].as_ref().or(self.consts[t].as_ref())))
                    .collect();
                step.kernel.run(&ins, &mut outs)?;
            }
            for (&t, v) in step.outputs.iter().zip(outs) {
                if let Some(o) = observer.as_deref_mut() {
                    o.observe(t, &self.names[t], &v)?;
                }
                values[t] = Some(v);
            }
        }
        self.outputs
            .iter()
            .map(|spec| {
                values[spec.tensor]
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

/// Used by kernels' `prepare` to refer to the op in errors.
pub(crate) fn op_label(index: usize, op: &Operator) -> String {
    format!("operator {index} ({})", op.op.name())
}
