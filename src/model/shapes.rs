//! Shape propagation: a model with new input shapes (dynamic dimensions, `-1` in the
//! signature, set to concrete sizes), every tensor downstream re-shaped by the op's rule —
//! what TFLite does on `ResizeInputTensor` + `AllocateTensors`.

use super::{Model, Op, Operator, Subgraph, Tensor};

/// Computes an operator's int32/int64 outputs from the values known so far (see
/// [`Model::with_input_shapes_evaluated`]).
pub(crate) type ShapeEval = dyn Fn(&Subgraph, usize, &[Option<Vec<i64>>]) -> Option<Vec<Vec<i64>>>;
use crate::{Error, Result};

fn err(sg: &Subgraph, oi: usize, op: &Operator, why: impl std::fmt::Display) -> Error {
    let _ = sg;
    Error::Shape(format!(
        "cannot propagate the new input shapes through operator {oi} ({}): {why}",
        op.op.name()
    ))
}

impl Tensor {
    /// The numpy broadcast of two shapes (right-aligned; a size-1 dimension stretches), or
    /// `None` if they do not broadcast. One rule for shape propagation (`i32` model
    /// dimensions) and the reference engine's prepare (`usize` dimensions).
    pub(crate) fn broadcast_shape<D: Copy + PartialEq + From<u8>>(
        a: &[D],
        b: &[D],
    ) -> Option<Vec<D>> {
        let one = D::from(1);
        let rank = a.len().max(b.len());
        (0..rank)
            .map(|i| {
                let da = if i + a.len() >= rank {
                    a[i + a.len() - rank]
                } else {
                    one
                };
                let db = if i + b.len() >= rank {
                    b[i + b.len() - rank]
                } else {
                    one
                };
                if da == db {
                    Some(da)
                } else if da == one {
                    Some(db)
                } else if db == one {
                    Some(da)
                } else {
                    None
                }
            })
            .collect()
    }
}

fn conv_out(in_size: i32, filter: i32, stride: i32, dilation: i32, same: bool) -> Option<i32> {
    if stride <= 0 || dilation <= 0 || filter <= 0 {
        return None;
    }
    let effective = (filter - 1) * dilation + 1;
    Some(if same {
        (in_size + stride - 1) / stride
    } else {
        ((in_size + stride - effective) / stride).max(0)
    })
}

/// The window of a 2-D convolution or pool over an NHWC input: (height, width) pairs.
struct Window2D {
    filter: (i32, i32),
    stride: (i32, i32),
    dilation: (i32, i32),
    same: bool,
}

impl Window2D {
    fn new(
        filter: (i32, i32),
        stride: (i32, i32),
        dilation: (i32, i32),
        padding: super::Padding,
    ) -> Window2D {
        Window2D {
            filter,
            stride,
            dilation,
            same: padding == super::Padding::Same,
        }
    }

    /// `[batches, out_h, out_w, channels]` for input shape `x`, the channels being element
    /// `index` of `shape`.
    fn output_shape(&self, x: &[i32], (shape, index): (&[i32], usize)) -> Option<Vec<i32>> {
        Some(vec![
            x[0],
            conv_out(
                x[1],
                self.filter.0,
                self.stride.0,
                self.dilation.0,
                self.same,
            )?,
            conv_out(
                x[2],
                self.filter.1,
                self.stride.1,
                self.dilation.1,
                self.same,
            )?,
            shape[index],
        ])
    }
}

/// Constant int32 values of input `i` of an operator: its data, or the value computed for it
/// (`known`: a SHAPE's output and what is computed from it alone, see
/// [`Model::with_input_shapes_evaluated`]).
fn const_i32(
    sg: &Subgraph,
    known: &[Option<Vec<i64>>],
    op: &Operator,
    i: usize,
) -> Option<Vec<i32>> {
    let ti = op.input(i)?;
    let t = &sg.tensors[ti];
    if let Some(v) = known.get(ti).and_then(|v| v.as_ref()) {
        return v.iter().map(|&x| i32::try_from(x).ok()).collect();
    }
    if t.dtype != super::DType::I32 {
        return None;
    }
    let d = t.data.as_ref()?;
    Some(
        d.chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

fn axis(a: i32, rank: usize) -> Option<usize> {
    let a = if a < 0 { a + rank as i32 } else { a };
    usize::try_from(a).ok().filter(|&a| a < rank)
}

/// The output shape of `op` given its (current) input shapes.
fn output_shape(sg: &Subgraph, known: &[Option<Vec<i64>>], op: &Operator) -> Option<Vec<i32>> {
    let shape = |i: usize| op.input(i).map(|t| sg.tensors[t].shape.clone());
    let x = shape(0)?;
    Some(match &op.op {
        Op::Conv2D(o) => {
            let f = shape(1)?;
            let stride = (o.stride_h, o.stride_w);
            Window2D::new(
                (f[1], f[2]),
                stride,
                (o.dilation_h, o.dilation_w),
                o.padding,
            )
            .output_shape(&x, (&f, 0))?
        }
        Op::DepthwiseConv2D(o) => {
            let f = shape(1)?;
            let stride = (o.stride_h, o.stride_w);
            Window2D::new(
                (f[1], f[2]),
                stride,
                (o.dilation_h, o.dilation_w),
                o.padding,
            )
            .output_shape(&x, (&f, 3))?
        }
        // The output shape is input 0's constant value.
        Op::TransposeConv(_) => const_i32(sg, known, op, 0)?,
        Op::AveragePool2D(o) | Op::MaxPool2D(o) => {
            let stride = (o.stride_h, o.stride_w);
            Window2D::new((o.filter_h, o.filter_w), stride, (1, 1), o.padding)
                .output_shape(&x, (&x, 3))?
        }
        Op::FullyConnected(o) => {
            let w = shape(1)?;
            let (units, k) = (*w.first()?, *w.get(1)?);
            if o.keep_num_dims {
                let mut s = x.clone();
                *s.last_mut()? = units;
                s
            } else {
                let n: i32 = x.iter().product();
                vec![if k > 0 { n / k } else { 0 }, units]
            }
        }
        Op::BatchMatMul(o) => {
            let y = shape(1)?;
            if x.len() < 2 || y.len() < 2 {
                return None;
            }
            let (m, _) = if o.adj_x {
                (x[x.len() - 1], x[x.len() - 2])
            } else {
                (x[x.len() - 2], x[x.len() - 1])
            };
            let n = if o.adj_y {
                y[y.len() - 2]
            } else {
                y[y.len() - 1]
            };
            let mut s = Tensor::broadcast_shape(&x[..x.len() - 2], &y[..y.len() - 2])?;
            s.extend([m, n]);
            s
        }
        Op::Add(_)
        | Op::Sub(_)
        | Op::Mul { .. }
        | Op::Maximum
        | Op::Minimum
        | Op::Prelu
        | Op::SquaredDifference
        | Op::Div { .. } => Tensor::broadcast_shape(&x, &shape(1)?)?,
        Op::Mean { keep_dims }
        | Op::Sum { keep_dims }
        | Op::ReduceMax { keep_dims }
        | Op::ReduceMin { keep_dims }
        | Op::ReduceProd { keep_dims } => {
            let axes: Vec<usize> = const_i32(sg, known, op, 1)?
                .iter()
                .map(|&a| axis(a, x.len()))
                .collect::<Option<_>>()?;
            x.iter()
                .enumerate()
                .filter_map(|(d, &n)| match (axes.contains(&d), keep_dims) {
                    (false, _) => Some(n),
                    (true, true) => Some(1),
                    (true, false) => None,
                })
                .collect()
        }
        Op::Reshape { new_shape } => {
            // The shape input wins when it is an int32 vector (`GetOutputShape`); one
            // computed from data has no rule.
            let shape_input = op
                .input(1)
                .map(|t| &sg.tensors[t])
                .filter(|t| t.dtype == super::DType::I32 && t.shape.len() == 1);
            let mut s = match shape_input {
                Some(_) => const_i32(sg, known, op, 1)?,
                None => new_shape.clone()?,
            };
            let total: i64 = x.iter().map(|&d| d as i64).product();
            let known: i64 = s.iter().filter(|&&d| d != -1).map(|&d| d as i64).product();
            if let Some(d) = s.iter_mut().find(|d| **d == -1) {
                *d = if known > 0 { (total / known) as i32 } else { 0 };
            }
            s
        }
        Op::Squeeze { squeeze_dims } => {
            let dims: Vec<usize> = squeeze_dims
                .iter()
                .map(|&a| axis(a, x.len()))
                .collect::<Option<_>>()?;
            x.iter()
                .enumerate()
                .filter(|&(d, &n)| !(n == 1 && (dims.is_empty() || dims.contains(&d))))
                .map(|(_, &n)| n)
                .collect()
        }
        Op::Concatenation { axis: a, .. } => {
            let a = axis(*a, x.len())?;
            let mut s = x.clone();
            s[a] = op
                .input_tensors()
                .map(|t| sg.tensors[t].shape.get(a).copied().unwrap_or(0))
                .sum();
            s
        }
        Op::Pad | Op::PadV2 => {
            let p = const_i32(sg, known, op, 1)?;
            x.iter()
                .enumerate()
                .map(|(d, &n)| Some(n + p.get(2 * d)? + p.get(2 * d + 1)?))
                .collect::<Option<_>>()?
        }
        Op::Slice => {
            let b = const_i32(sg, known, op, 1)?;
            let size = const_i32(sg, known, op, 2)?;
            x.iter()
                .enumerate()
                .map(|(d, &n)| {
                    Some(if *size.get(d)? == -1 {
                        n - b.get(d)?
                    } else {
                        size[d]
                    })
                })
                .collect::<Option<_>>()?
        }
        Op::Transpose => {
            let perm = const_i32(sg, known, op, 1)?;
            perm.iter()
                .map(|&p| axis(p, x.len()).map(|p| x[p]))
                .collect::<Option<_>>()?
        }
        Op::ResizeBilinear(_) | Op::ResizeNearestNeighbor(_) => {
            let size = const_i32(sg, known, op, 1)?;
            vec![x[0], *size.first()?, *size.get(1)?, *x.get(3)?]
        }
        Op::Softmax { .. }
        | Op::Logistic
        | Op::Tanh
        | Op::Relu
        | Op::Relu6
        | Op::LeakyRelu { .. }
        | Op::HardSwish
        | Op::Quantize
        | Op::Dequantize
        | Op::Neg
        | Op::Rsqrt
        | Op::Sqrt
        | Op::Exp
        | Op::Log
        | Op::Gelu { .. }
        | Op::Cast { .. }
        | Op::ZerosLike => x,
        Op::Shape { .. } => vec![x.len() as i32],
        // A shape input that is a constant; one computed at run time has no rule here.
        Op::Fill => const_i32(sg, known, op, 0)?,
        Op::BroadcastTo => const_i32(sg, known, op, 1)?,
        Op::Pack { axis: a, .. } => {
            let n = op.inputs.len() as i32;
            let a = axis(*a, x.len() + 1)?;
            let mut s = x.clone();
            s.insert(a, n);
            s
        }
        Op::Gather {
            axis: a,
            batch_dims,
        } => {
            let idx = shape(1)?;
            let a = axis(*a, x.len())?;
            let bd = if *batch_dims < 0 {
                batch_dims + idx.len() as i32
            } else {
                *batch_dims
            };
            let bd = usize::try_from(bd)
                .ok()
                .filter(|&b| b <= a && b <= idx.len())?;
            let mut s = x[..a].to_vec();
            s.extend_from_slice(&idx[bd..]);
            s.extend_from_slice(&x[a + 1..]);
            s
        }
        Op::ExpandDims => {
            let t = &sg.tensors[op.input(1)?];
            let v: i64 = match (t.dtype, t.data.as_deref()) {
                (super::DType::I32, Some(d)) if d.len() == 4 => {
                    i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64
                }
                (super::DType::I64, Some(d)) if d.len() == 8 => {
                    i64::from_le_bytes(d.try_into().ok()?)
                }
                _ => return None,
            };
            let rank = x.len() as i64;
            let a = if v < 0 { rank + 1 + v } else { v };
            let a = usize::try_from(a).ok().filter(|&a| a as i64 <= rank)?;
            let mut s = x.clone();
            s.insert(a, 1);
            s
        }
        _ => return None,
    })
}

/// The output shapes of `op`: one per output (SPLIT, SPLIT_V and UNPACK have several).
fn output_shapes(
    sg: &Subgraph,
    known: &[Option<Vec<i64>>],
    op: &Operator,
) -> Option<Vec<Vec<i32>>> {
    let n = op.outputs.len();
    let split = |x: Vec<i32>, a: usize, sizes: Vec<i32>| -> Option<Vec<Vec<i32>>> {
        (sizes.len() == n).then(|| {
            sizes
                .iter()
                .map(|&d| {
                    let mut s = x.clone();
                    s[a] = d;
                    s
                })
                .collect()
        })
    };
    match &op.op {
        Op::Split { num_splits } => {
            let x = sg.tensors[op.input(1)?].shape.clone();
            let a = axis(*const_i32(sg, known, op, 0)?.first()?, x.len())?;
            let k = *num_splits;
            if k <= 0 || x[a] % k != 0 {
                return None;
            }
            split(x.clone(), a, vec![x[a] / k; k as usize])
        }
        Op::SplitV { .. } => {
            let x = sg.tensors[op.input(0)?].shape.clone();
            let a = axis(*const_i32(sg, known, op, 2)?.first()?, x.len())?;
            let mut sizes = const_i32(sg, known, op, 1)?;
            let known: i32 = sizes.iter().filter(|&&d| d != -1).sum();
            if let Some(d) = sizes.iter_mut().find(|d| **d == -1) {
                *d = x[a] - known;
            }
            split(x, a, sizes)
        }
        Op::Unpack { axis: a, .. } => {
            let mut x = sg.tensors[op.input(0)?].shape.clone();
            let a = axis(*a, x.len())?;
            x.remove(a);
            Some(vec![x; n])
        }
        _ if n == 1 => Some(vec![output_shape(sg, known, op)?]),
        _ => None,
    }
}

impl Model {
    /// A copy of the model whose main-subgraph inputs have `shapes` (in input order), with
    /// every downstream tensor's shape recomputed. Dimensions may differ from the stored
    /// shape only where the input's `shape_signature` has `-1` (or the file has no signature).
    pub fn with_input_shapes(&self, shapes: &[Vec<usize>]) -> Result<Model> {
        self.with_input_shapes_evaluated(shapes, None)
    }

    /// [`Model::with_input_shapes`], with `eval` computing the int32/int64 values that
    /// output shapes are read from: a SHAPE's output and what is computed from such values
    /// and constants alone (`eval(subgraph, operator index, values so far)` gives the
    /// operator's outputs; the engines pass their reference kernels). Without it, an output
    /// shape read from a computed tensor has no rule (an error naming the operator).
    pub(crate) fn with_input_shapes_evaluated(
        &self,
        shapes: &[Vec<usize>],
        eval: Option<&ShapeEval>,
    ) -> Result<Model> {
        let mut m = self.clone();
        let sg = &mut m.subgraphs[0];
        if shapes.len() != sg.inputs.len() {
            return Err(Error::Shape(format!(
                "{} input shapes given for a model with {} inputs",
                shapes.len(),
                sg.inputs.len()
            )));
        }
        let mut changed = vec![false; sg.tensors.len()];
        for (k, (&t, shape)) in sg.inputs.iter().zip(shapes).enumerate() {
            let tensor = &mut sg.tensors[t];
            let new: Vec<i32> = shape
                .iter()
                .map(|&d| {
                    i32::try_from(d)
                        .map_err(|_| Error::Shape(format!("input {k}: dimension {d} is too large")))
                })
                .collect::<Result<_>>()?;
            if new == tensor.shape {
                continue;
            }
            let sig = tensor
                .shape_signature
                .clone()
                .unwrap_or_else(|| vec![-1; tensor.shape.len()]);
            let fits =
                sig.len() == new.len() && sig.iter().zip(&new).all(|(&s, &n)| s == -1 || s == n);
            if !fits {
                return Err(Error::Shape(format!(
                    "input {k} ('{}') has shape signature {sig:?}; {shape:?} does not fit it",
                    tensor.name
                )));
            }
            tensor.shape = new;
            changed[t] = true;
        }
        let mut known: Vec<Option<Vec<i64>>> = vec![None; sg.tensors.len()];
        for oi in 0..sg.operators.len() {
            let op = &sg.operators[oi];
            let outs: Vec<usize> = op.output_tensors().collect();
            if let Some(eval) = eval {
                // Values first (a SHAPE's output changes with its input's shape, not its own).
                let is_shape = matches!(op.op, Op::Shape { .. });
                let from_known = op.input_tensors().any(|t| known[t].is_some())
                    && op
                        .input_tensors()
                        .all(|t| known[t].is_some() || sg.tensors[t].data.is_some());
                let ints = outs
                    .iter()
                    .all(|&t| matches!(sg.tensors[t].dtype, super::DType::I32 | super::DType::I64));
                if (is_shape && op.input_tensors().any(|t| changed[t])) || (from_known && ints) {
                    // Ops without a shape rule here (STRIDED_SLICE, GATHER, ...) keep their
                    // stored output shapes, which the kernel's prepare checks.
                    if !is_shape {
                        if let Some(new) =
                            output_shapes(sg, &known, op).filter(|s| s.len() == outs.len())
                        {
                            for (&o, shape) in outs.iter().zip(new) {
                                sg.tensors[o].shape = shape;
                            }
                        }
                    }
                    if let Some(values) = eval(sg, oi, &known) {
                        for (&o, v) in outs.iter().zip(values) {
                            known[o] = Some(v);
                            changed[o] = true;
                        }
                        continue;
                    }
                }
            }
            if !op.input_tensors().any(|t| changed[t]) {
                continue;
            }
            let shapes = output_shapes(sg, &known, op)
                .filter(|s| s.len() == outs.len())
                .ok_or_else(|| {
                    err(
                        sg,
                        oi,
                        op,
                        "no shape rule for these inputs (an output shape read from a \
                         computed tensor, such as a SHAPE's, is not followed: the engines \
                         plan shapes before any value is computed)",
                    )
                })?;
            for (&o, shape) in outs.iter().zip(shapes) {
                if shape.iter().any(|&d| d < 0) {
                    return Err(err(
                        sg,
                        oi,
                        op,
                        format!("the output shape {shape:?} is negative"),
                    ));
                }
                sg.tensors[o].shape = shape;
                changed[o] = true;
            }
        }
        m.validate()?;
        Ok(m)
    }
}
