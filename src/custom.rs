//! Custom operators from the library's user: a kernel registered by custom-op name on the
//! CPU engines.
//!
//! A `.tflite` file may carry operators with the builtin code `CUSTOM` and a name
//! (`custom_code`): MediaPipe's models carry `Convolution2DTransposeBias`,
//! `Landmarks2TransformMatrix`, ... LiteRT runs them only when the application registers a
//! kernel under that name; litequant likewise. Implement [`CustomOp`] and register it on
//! the engine:
//!
//! ```
//! use litequant::custom::{CustomKernel, CustomNode, CustomOp, CustomOpError};
//! use litequant::{Engine, Tensor};
//!
//! /// A custom op that doubles its one float32 input.
//! struct Double;
//! struct DoubleKernel;
//!
//! impl CustomOp for Double {
//!     fn prepare(&self, node: &CustomNode<'_>) -> Result<Box<dyn CustomKernel>, CustomOpError> {
//!         node.expect_counts(1, 1)?;
//!         Ok(Box::new(DoubleKernel))
//!     }
//! }
//!
//! impl CustomKernel for DoubleKernel {
//!     fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<(), CustomOpError> {
//!         let x = inputs[0].and_then(|t| t.as_f32()).ok_or(CustomOpError::tensors("float32 input"))?;
//!         let y: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
//!         outputs[0] = Tensor::from_f32(outputs[0].shape(), &y)?;
//!         Ok(())
//!     }
//! }
//!
//! let engine = litequant::ReferenceEngine::default().with_custom_op("Double", Double);
//! # let _ = engine;
//! ```
//!
//! What the engines do with custom ops:
//! - [`struct@crate::ReferenceEngine`] and [`struct@crate::ConverterFloatEngine`] call the registered
//!   [`CustomOp::prepare`] once per operator when a model is prepared, and the kernel it
//!   returns on every run. Calibration ([`crate::calibrate`]) therefore runs through the op
//!   and records its outputs like any other tensor.
//! - [`crate::gpu::GpuEngine`] refuses a model with a custom op at prepare (custom kernels
//!   are CPU code; docs/gpu.md).
//! - An operator whose name has no registered kernel is [`crate::Error::MissingCustomOp`] at
//!   prepare, naming the op and how to register one.
//! - Outputs have the shapes the model declares: new input shapes
//!   ([`crate::Engine::prepare_with_input_shapes`]) cannot be propagated through a custom op
//!   (an error naming it). What a kernel allocates is outside the engine's memory budget.
//!
//! The quantizer never needs a kernel: in full-integer mode a custom op stays float between
//! DEQUANTIZE and QUANTIZE (a float island, as the TF converter keeps ops it cannot
//! quantize); dynamic-range mode leaves it and its operands as they are; float16 mode leaves
//! the op as it is and, as the converter does for every float32 constant an op reads,
//! stores its float32 constant operands as FLOAT16 behind a DEQUANTIZE.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::{self, DType, Op, Operator, QuantParams, Subgraph};
use crate::reference::{FloatOrder, Kernel, OpCtx};
use crate::{Error, Result, Tensor};

/// The failure of a custom kernel. The engine reports it as [`crate::Error::CustomOp`],
/// naming the operator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustomOpError {
    /// The op's `custom_options` bytes cannot be read.
    #[error("invalid custom options: {0}")]
    Options(String),
    /// Inputs or outputs the kernel does not accept (count, dtype, shape).
    #[error("{0}")]
    Tensors(String),
    /// An error of a library call the kernel made (a [`BuiltinKernel`] it composes, a
    /// [`Tensor`] it builds).
    #[error("{0}")]
    Library(Box<Error>),
    /// Anything else.
    #[error("{0}")]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl CustomOpError {
    /// [`CustomOpError::Options`].
    pub fn options(why: impl Into<String>) -> Self {
        CustomOpError::Options(why.into())
    }

    /// [`CustomOpError::Tensors`].
    pub fn tensors(why: impl Into<String>) -> Self {
        CustomOpError::Tensors(why.into())
    }
}

impl From<Error> for CustomOpError {
    fn from(e: Error) -> Self {
        CustomOpError::Library(Box::new(e))
    }
}

/// One operand of a custom op as the model declares it.
#[derive(Debug, Clone)]
pub struct TensorInfo<'a> {
    /// The tensor's name.
    pub name: &'a str,
    /// The element type.
    pub dtype: DType,
    /// The declared shape (a dynamic dimension shows its stored size).
    pub shape: Vec<usize>,
    /// Quantization parameters, if the tensor has any.
    pub quant: Option<&'a QuantParams>,
    /// The value of a constant operand (weights, biases), `None` for activations.
    pub constant: Option<&'a Tensor>,
}

impl<'a> TensorInfo<'a> {
    /// An activation operand (no quantization, not constant).
    pub fn activation(name: &'a str, dtype: DType, shape: &[usize]) -> Self {
        TensorInfo {
            name,
            dtype,
            shape: shape.to_vec(),
            quant: None,
            constant: None,
        }
    }

    /// A constant operand holding `value`.
    pub fn constant(name: &'a str, value: &'a Tensor) -> Self {
        TensorInfo {
            name,
            dtype: value.dtype(),
            shape: value.shape().to_vec(),
            quant: None,
            constant: Some(value),
        }
    }
}

/// A custom operator of a model, as [`CustomOp::prepare`] sees it.
#[derive(Debug, Clone)]
pub struct CustomNode<'a> {
    /// The operator's index in the main subgraph.
    pub index: usize,
    /// The custom-op name (`custom_code`).
    pub name: &'a str,
    /// The operator's version (from the operator-code table).
    pub version: i32,
    /// The `custom_options` bytes, exactly as stored (their layout is the op's own: a
    /// flexbuffer, a C struct, ...).
    pub options: &'a [u8],
    /// `custom_options_format` (0 = FLEXBUFFERS, the only value the schema defines; files
    /// that store a raw struct still say 0).
    pub options_format: i8,
    /// The inputs in order; `None` for an omitted optional input.
    pub inputs: Vec<Option<TensorInfo<'a>>>,
    /// The outputs in order. [`CustomKernel::run`] receives them allocated with these
    /// dtypes and shapes.
    pub outputs: Vec<TensorInfo<'a>>,
    /// The float summation order of the engine's builtin kernels, for a kernel that
    /// composes them ([`BuiltinKernel::prepare`]).
    pub float_order: FloatOrder,
}

impl CustomNode<'_> {
    /// A [`CustomOpError::Tensors`] unless the op has `inputs` inputs and `outputs` outputs.
    pub fn expect_counts(&self, inputs: usize, outputs: usize) -> Result<(), CustomOpError> {
        if self.inputs.len() != inputs || self.outputs.len() != outputs {
            return Err(CustomOpError::tensors(format!(
                "takes {inputs} input(s) and {outputs} output(s), the model gives {} and {}",
                self.inputs.len(),
                self.outputs.len()
            )));
        }
        Ok(())
    }

    /// Input `i`, which must be present.
    pub fn input(&self, i: usize) -> Result<&TensorInfo<'_>, CustomOpError> {
        self.inputs
            .get(i)
            .and_then(Option::as_ref)
            .ok_or_else(|| CustomOpError::tensors(format!("input {i} is missing")))
    }
}

/// A custom operator's implementation, registered by name on an engine
/// ([`crate::ReferenceEngine::with_custom_op`]). Shared by every model the engine prepares,
/// hence `Send + Sync`.
pub trait CustomOp: Send + Sync {
    /// Check the operator (options, operand dtypes and shapes) and precompute what its runs
    /// need. Called once per operator when a model is prepared; an error here fails the
    /// prepare, naming the operator.
    fn prepare(&self, node: &CustomNode<'_>) -> Result<Box<dyn CustomKernel>, CustomOpError>;
}

/// A prepared custom operator: computes its outputs from its inputs.
pub trait CustomKernel: Send + Sync {
    /// `inputs[i]` is `None` for an omitted optional input. `outputs` arrive allocated
    /// (zeros) with the dtypes and shapes of [`CustomNode::outputs`]; a kernel may write
    /// into them or replace them, but the dtype and shape must stay (the engine checks).
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<(), CustomOpError>;
}

/// Custom-op kernels by name. Cheap to clone (the kernels are shared).
#[derive(Clone, Default)]
pub struct CustomOps {
    ops: BTreeMap<String, Arc<dyn CustomOp>>,
}

impl CustomOps {
    /// No custom ops.
    pub const fn new() -> Self {
        CustomOps {
            ops: BTreeMap::new(),
        }
    }

    /// Register `op` under `name` (a later registration of the same name replaces it).
    pub fn register(&mut self, name: impl Into<String>, op: impl CustomOp + 'static) {
        self.ops.insert(name.into(), Arc::new(op));
    }

    /// These ops with `op` registered under `name`.
    pub fn with(mut self, name: impl Into<String>, op: impl CustomOp + 'static) -> Self {
        self.register(name, op);
        self
    }

    /// The kernel registered under `name`.
    pub fn get(&self, name: &str) -> Option<&dyn CustomOp> {
        self.ops.get(name).map(|o| o.as_ref())
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.ops.keys().map(String::as_str)
    }

    /// Whether the options hold no entries.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl std::fmt::Debug for CustomOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.ops.keys()).finish()
    }
}

/// Equal when the same names map to the same registered values.
impl PartialEq for CustomOps {
    fn eq(&self, other: &Self) -> bool {
        self.ops.len() == other.ops.len()
            && self
                .ops
                .iter()
                .zip(&other.ops)
                .all(|((a, x), (b, y))| a == b && Arc::ptr_eq(x, y))
    }
}

impl Eq for CustomOps {}

/// The custom-op name of an operator, if it is a custom op.
pub(crate) fn custom_name(op: &Operator) -> Option<&str> {
    match &op.op {
        Op::Other(o) if o.code == model::code::CUSTOM => o.custom_code.as_deref(),
        _ => None,
    }
}

fn info<'a>(sg: &'a Subgraph, consts: &'a [Option<Tensor>], t: usize) -> TensorInfo<'a> {
    let tensor = &sg.tensors[t];
    TensorInfo {
        name: &tensor.name,
        dtype: tensor.dtype,
        shape: crate::reference::dims(tensor),
        quant: tensor.quant.as_ref(),
        constant: consts[t].as_ref(),
    }
}

/// The reference engines' kernel for the custom op in `ctx` (`name` its custom code): the
/// one `registry` holds, prepared, or [`Error::MissingCustomOp`].
pub(crate) fn prepare_custom(
    ctx: &OpCtx,
    name: &str,
    registry: &CustomOps,
) -> Result<Box<dyn Kernel>> {
    let Some(op) = registry.get(name) else {
        return Err(missing(ctx.index, name));
    };
    let Op::Other(other) = &ctx.op.op else {
        return Err(missing(ctx.index, name));
    };
    let node = CustomNode {
        index: ctx.index,
        name,
        version: ctx.op.version,
        options: &other.custom_options,
        options_format: other.custom_options_format,
        inputs: ctx
            .op
            .inputs
            .iter()
            .map(|&t| usize::try_from(t).ok().map(|t| info(ctx.sg, ctx.consts, t)))
            .collect(),
        outputs: ctx
            .op
            .output_tensors()
            .map(|t| info(ctx.sg, ctx.consts, t))
            .collect(),
        float_order: ctx.float_order,
    };
    let kernel = op.prepare(&node).map_err(|source| Error::CustomOp {
        op: ctx.label(),
        source,
    })?;
    Ok(Box::new(CustomStep {
        label: ctx.label(),
        kernel,
    }))
}

/// [`Error::MissingCustomOp`] for operator `index`, custom op `name`.
pub(crate) fn missing(index: usize, name: &str) -> Error {
    Error::MissingCustomOp {
        index,
        name: name.to_string(),
    }
}

/// A registered custom kernel inside a reference session.
struct CustomStep {
    label: String,
    kernel: Box<dyn CustomKernel>,
}

impl Kernel for CustomStep {
    fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        let want: Vec<(DType, Vec<usize>)> = outputs
            .iter()
            .map(|t| (t.dtype(), t.shape().to_vec()))
            .collect();
        self.kernel
            .run(inputs, outputs)
            .map_err(|source| Error::CustomOp {
                op: self.label.clone(),
                source,
            })?;
        for (k, (out, (dtype, shape))) in outputs.iter().zip(&want).enumerate() {
            if out.dtype() != *dtype || out.shape() != shape.as_slice() {
                return Err(Error::CustomOp {
                    op: self.label.clone(),
                    source: CustomOpError::tensors(format!(
                        "the kernel returned output {k} as {} {:?}, the model declares {dtype} \
                         {shape:?}",
                        out.dtype(),
                        out.shape()
                    )),
                });
            }
        }
        Ok(())
    }
}

/// A builtin operator of the reference engine, prepared on operands a custom kernel
/// describes: a custom op built from builtin ones (MediaPipe's
/// `Convolution2DTransposeBias` is TRANSPOSE_CONV with a bias, `examples/custom_op.rs`)
/// computes exactly what the builtin kernel computes.
pub struct BuiltinKernel {
    kernel: Box<dyn Kernel>,
    op: String,
}

impl BuiltinKernel {
    /// Prepare `op` (a typed builtin op: [`Op::TransposeConv`], [`Op::Conv2D`], ...) on
    /// `inputs` (`None`: an omitted optional input; constants carry their value) and
    /// `outputs`, with the float32 kernels summing in `float_order`. The checks and errors
    /// are the engine's own for that op.
    pub fn prepare(
        op: Op,
        inputs: &[Option<TensorInfo<'_>>],
        outputs: &[TensorInfo<'_>],
        float_order: FloatOrder,
    ) -> Result<BuiltinKernel> {
        if custom_name_of(&op).is_some() {
            return Err(Error::Unsupported(
                "BuiltinKernel prepares builtin ops, not custom ops".into(),
            ));
        }
        let mut tensors = Vec::new();
        let mut consts = Vec::new();
        let mut add = |i: &TensorInfo<'_>| -> Result<i32> {
            let shape = i
                .shape
                .iter()
                .map(|&d| i32::try_from(d))
                .collect::<std::result::Result<Vec<i32>, _>>()
                .map_err(|_| Error::Shape(format!("tensor '{}': shape too large", i.name)))?;
            let mut t = model::Tensor::new(i.name, i.dtype, shape);
            t.quant = i.quant.cloned();
            if let Some(c) = i.constant {
                if c.dtype() != i.dtype || c.shape() != i.shape.as_slice() {
                    return Err(Error::Shape(format!(
                        "constant '{}' is {} {:?}, declared {} {:?}",
                        i.name,
                        c.dtype(),
                        c.shape(),
                        i.dtype,
                        i.shape
                    )));
                }
                t.data = Some(c.buf().to_le_bytes().into());
            }
            tensors.push(t);
            consts.push(i.constant.cloned());
            Ok(tensors.len() as i32 - 1)
        };
        let ins = inputs
            .iter()
            .map(|i| match i {
                Some(i) => add(i),
                None => Ok(model::OPTIONAL),
            })
            .collect::<Result<Vec<i32>>>()?;
        let outs = outputs.iter().map(&mut add).collect::<Result<Vec<i32>>>()?;
        let operator = Operator {
            op,
            version: 1,
            inputs: ins,
            outputs: outs,
            intermediates: Vec::new(),
            mutating_variable_inputs: Vec::new(),
            debug_metadata_index: -1,
            options_omitted: false,
        };
        let sg = Subgraph {
            name: None,
            tensors,
            inputs: Vec::new(),
            outputs: Vec::new(),
            operators: Vec::new(),
            debug_metadata_index: -1,
        };
        let budget = crate::memory::Budget::new(None);
        let ctx = OpCtx {
            index: 0,
            op: &operator,
            sg: &sg,
            consts: &consts,
            float_order,
            budget: &budget,
        };
        Ok(BuiltinKernel {
            kernel: crate::reference::prepare_op(&ctx)?,
            op: ctx.label(),
        })
    }

    /// Run on `inputs`, in the order given to [`BuiltinKernel::prepare`] and constants
    /// included (kernels read some of them at run), into `outputs`, which must have the
    /// declared dtypes and shapes.
    pub fn run(&self, inputs: &[Option<&Tensor>], outputs: &mut [Tensor]) -> Result<()> {
        self.kernel.run(inputs, outputs).map_err(|e| match e {
            Error::Shape(m) => Error::Shape(format!("{}: {m}", self.op)),
            other => other,
        })
    }
}

fn custom_name_of(op: &Op) -> Option<&str> {
    match op {
        Op::Other(o) if o.code == model::code::CUSTOM => {
            Some(o.custom_code.as_deref().unwrap_or(""))
        }
        _ => None,
    }
}
