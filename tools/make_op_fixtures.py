#!/usr/bin/env python3
"""Per-op conformance fixtures for litequant's reference engine (tests/fixtures/ops/).

Run from the repository root:

    tools/.venv/bin/python tools/make_op_fixtures.py [--only SUBSTR ...] [--out DIR]

For every case below (one op under test, tiny shapes, batch 1) the real TF
converter (tf.lite.TFLiteConverter.from_concrete_functions, or from_keras_model
for PReLU) writes one .tflite per variant:

  f32      float model, no optimization
  int8     full integer with a representative dataset, float I/O kept
           (QUANTIZE at the inputs, DEQUANTIZE at the outputs)
  int8io   TFLITE_BUILTINS_INT8 with int8 inputs/outputs
  uint8io  TFLITE_BUILTINS_INT8 with uint8 inputs/outputs
  hybrid   dynamic range (Optimize.DEFAULT, no dataset): int8 weights, float
           activations, checked to be a real hybrid op
  f16      float16 weights (DEQUANTIZE FLOAT16 -> FLOAT32 in front of the op)
  int8raw  the f32 model with its activations retyped to INT8 (per-case scales and zero
           points, `Case.raw_quant`): int8 kernels the converter never emits but
           BUILTIN_REF has (NEG)
  uint8raw the int8io model with every INT8 tensor retyped to UINT8, zero points + 128:
           uint8 kernels the converter never emits but BUILTIN_REF has (GELU)
  uint8    the int8io model rewritten in the legacy TF1 uint8 scheme (legacy_uint8):
           uint8 activations, per-tensor asymmetric uint8 weights; no TF 2.21
           converter writes it, LiteRT still runs it (TRANSPOSE_CONV's uint8 path)

Each model is checked with LiteRT's _get_ops_details() (and the flatbuffer) to
contain the op under test in the intended dtypes; a model that does not is not
written, and the reason is recorded under "not_produced" in the manifest.

Goldens: 3 input samples per model (fixed seed), each run at batch 1 with the
BUILTIN_REF resolver and experimental_preserve_all_tensors=True, stacked on a
new leading axis and written to NAME.npz: input_K, output_K and every
non-constant tensor of subgraph 0 as t{index}. int8io/uint8io inputs are
quantized with the input tensor's (scale, zero point): round(x/scale)+zp,
clamped. manifest.json describes every model.

Calibration samples: for every case with an int8/int8io/uint8io model, the
representative samples the converter consumed are written to CASE.calib.npz,
one float32 array per model input keyed by its signature name (x0, x1, ...),
the samples on the leading axis in the order they were fed ([N_CALIB, *shape],
shape with its batch 1: sample i is exactly the i-th array yielded). They are
recorded by wrapping the representative_dataset generator, at the point each
sample is handed to the converter, and checked to be the same for every
int8-family variant of the case. Manifest entries of those models name the
file in "calib_file".

Deterministic: per-case seeds derived from the case name (crc32), single
threaded TF and LiteRT, and the .npz files are written with a fixed zip
timestamp (np.savez_compressed stamps the current time). Two runs give
byte-identical files.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["PYTHONHASHSEED"] = "0"
os.environ["TF_DETERMINISTIC_OPS"] = "1"
os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

import argparse
import collections
import contextlib
import dataclasses
import hashlib
import io
import json
import shutil
import sys
import warnings
import zlib
from pathlib import Path
from typing import Callable, Optional

import flatbuffers
import numpy as np

import npz_fixed
from retype import qparams, retype
import tensorflow as tf

from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

warnings.filterwarnings("ignore")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "tests" / "fixtures" / "ops"

SEED = 4321
N_CALIB = 20          # representative samples per model
N_GOLDEN = 3          # golden samples per model
RANGE = (-1.3, 2.1)   # default input range (not symmetric: non-trivial zero points)
GOLDEN_WIDEN = 0.1    # golden inputs go 10% beyond the calibration range (clamps)

BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items()
                 if not k.startswith("_") and isinstance(v, int)}
TENSOR_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items()
                     if not k.startswith("_") and isinstance(v, int)}
ACT_NAMES = {v: k for k, v in vars(schema.ActivationFunctionType).items()
             if not k.startswith("_") and isinstance(v, int)}
PAD_NAMES = {v: k for k, v in vars(schema.Padding).items()
             if not k.startswith("_") and isinstance(v, int)}


def set_determinism():
    tf.keras.utils.set_random_seed(SEED)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------- cases

@dataclasses.dataclass
class Case:
    name: str
    op: str                                   # main op under test (BuiltinOperator name)
    inputs: list                              # [(shape, (lo, hi)), ...]
    fn: Optional[Callable] = None             # fn(*tf_inputs) -> tensor (uses self.w)
    keras: Optional[Callable] = None          # keras(case) -> tf.keras.Model (batch 1)
    variants: tuple = ("f32", "int8")
    expect: Optional[dict] = None             # variant -> extra ops that must be present
    notes: str = ""
    sig: Optional[list] = None                # converter input shapes (None = dynamic dim)
    main_spec: Optional[str] = None           # e.g. "QUANTIZE:INT8->INT8" (default: op)
    widen: float = None                       # golden widening (default GOLDEN_WIDEN)
    raw_quant: Optional[list] = None          # int8raw: [(scale, zp)] per activation tensor
    w: dict = dataclasses.field(default_factory=dict)

    def seed(self, k):
        return (zlib.crc32(self.name.encode()) + 7919 * k) % (2 ** 32)


def rnd(case, key, shape, scale=0.5, lo=None, hi=None):
    """A deterministic constant for `case` (normal * scale, or uniform [lo, hi])."""
    rng = np.random.default_rng([case.seed(0), zlib.crc32(key.encode())])
    if lo is not None:
        v = rng.uniform(lo, hi, size=shape)
    else:
        v = rng.standard_normal(size=shape) * scale
    case.w[key] = v.astype(np.float32)
    return case.w[key]


ACT = {None: lambda x: x, "relu": tf.nn.relu, "relu6": tf.nn.relu6}


def conv_case(name, in_shape, k, cout, padding="SAME", stride=1, dilation=1, act=None,
              bias=True, variants=("f32", "int8"), notes=""):
    c = Case(name, "CONV_2D", [(in_shape, RANGE)], variants=variants, notes=notes)
    kh, kw = (k, k) if isinstance(k, int) else k
    cin = in_shape[-1]
    w = rnd(c, "w", (kh, kw, cin, cout), scale=1.0 / np.sqrt(kh * kw * cin))
    b = rnd(c, "b", (cout,), scale=0.3) if bias else None

    def fn(x):
        y = tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding=padding,
                         dilations=[1, dilation, dilation, 1])
        if b is not None:
            y = tf.nn.bias_add(y, b)
        return ACT[act](y)
    c.fn = fn
    return c


def dw_case(name, in_shape, k, mult, padding="SAME", stride=1, dilation=1, act=None,
            variants=("f32", "int8"), notes=""):
    c = Case(name, "DEPTHWISE_CONV_2D", [(in_shape, RANGE)], variants=variants, notes=notes)
    cin = in_shape[-1]
    w = rnd(c, "w", (k, k, cin, mult), scale=1.0 / k)
    b = rnd(c, "b", (cin * mult,), scale=0.3)

    def fn(x):
        y = tf.nn.depthwise_conv2d(x, w, strides=[1, stride, stride, 1], padding=padding,
                                   dilations=[dilation, dilation])
        return ACT[act](tf.nn.bias_add(y, b))
    c.fn = fn
    return c


def tconv_case(name, in_shape, k, cout, padding="SAME", stride=1, act=None, bias=True,
               variants=("f32", "int8"), notes=""):
    """tf.nn.conv2d_transpose (Keras Conv2DTranspose's op) -> TRANSPOSE_CONV, the bias
    folded into its fourth input. Output size as Keras computes it: SAME in*stride,
    VALID (in-1)*stride + k."""
    c = Case(name, "TRANSPOSE_CONV", [(in_shape, RANGE)], variants=variants, notes=notes)
    kh, kw = (k, k) if isinstance(k, int) else k
    n, h, w_, cin = in_shape
    if padding == "SAME":
        oh, ow = h * stride, w_ * stride
    else:
        oh, ow = (h - 1) * stride + kh, (w_ - 1) * stride + kw
    w = rnd(c, "w", (kh, kw, cout, cin), scale=1.0 / np.sqrt(kh * kw * cin))
    b = rnd(c, "b", (cout,), scale=0.3) if bias else None

    def fn(x):
        y = tf.nn.conv2d_transpose(x, w, output_shape=[n, oh, ow, cout],
                                   strides=[1, stride, stride, 1], padding=padding)
        if b is not None:
            y = tf.nn.bias_add(y, b)
        return ACT[act](y)
    c.fn = fn
    return c


def fc_case(name, in_shape, units, bias=True, act=None, variants=("f32", "int8"), notes=""):
    c = Case(name, "FULLY_CONNECTED", [(in_shape, RANGE)], variants=variants, notes=notes)
    k = in_shape[-1]
    w = rnd(c, "w", (k, units), scale=1.0 / np.sqrt(k))
    b = rnd(c, "b", (units,), scale=0.3) if bias else None

    def fn(x):
        y = tf.matmul(x, w)
        if b is not None:
            y = y + b
        return ACT[act](y)
    c.fn = fn
    return c


def bmm_case(name, a_shape, b_shape, adj_x=False, adj_y=False, variants=("f32", "int8"),
             notes=""):
    c = Case(name, "BATCH_MATMUL", [(a_shape, RANGE), (b_shape, (-0.9, 1.6))],
             variants=variants, notes=notes)
    c.fn = lambda a, b: tf.linalg.matmul(a, b, adjoint_a=adj_x, adjoint_b=adj_y)
    return c


def bmm_const_case(name, a_shape, w_shape, adj_y=False, variants=("f32", "int8", "hybrid"),
                   notes=""):
    c = Case(name, "BATCH_MATMUL", [(a_shape, RANGE)], variants=variants, notes=notes)
    w = rnd(c, "w", w_shape, scale=1.0 / np.sqrt(a_shape[-1]))
    c.fn = lambda a: tf.linalg.matmul(a, w, adjoint_b=adj_y)
    return c


def binary_case(name, op, a_shape, b_shape, act=None, b_range=(-0.7, 3.0),
                variants=("f32", "int8"), const_b=False, notes=""):
    tfop = {"ADD": tf.add, "SUB": tf.subtract, "MUL": tf.multiply,
            "MAXIMUM": tf.maximum, "MINIMUM": tf.minimum,
            "SQUARED_DIFFERENCE": tf.math.squared_difference, "DIV": tf.math.divide}[op]
    if const_b:
        c = Case(name, op, [(a_shape, RANGE)], variants=variants, notes=notes)
        bc = rnd(c, "b", b_shape, lo=b_range[0], hi=b_range[1])
        c.fn = lambda a: ACT[act](tfop(a, bc))
    else:
        c = Case(name, op, [(a_shape, RANGE), (b_shape, b_range)], variants=variants,
                 notes=notes)
        c.fn = lambda a, b: ACT[act](tfop(a, b))
    return c


def pool_case(name, op, in_shape, k, stride, padding, variants=("f32", "int8"), notes=""):
    c = Case(name, op, [(in_shape, RANGE)], variants=variants, notes=notes)
    f = tf.nn.avg_pool2d if op == "AVERAGE_POOL_2D" else tf.nn.max_pool2d
    c.fn = lambda x: f(x, ksize=k, strides=stride, padding=padding)
    return c


def unary_case(name, op, in_shape, fn, variants=("f32", "int8"), rng=RANGE, notes="",
               expect=None):
    return Case(name, op, [(in_shape, rng)], fn=fn, variants=variants, notes=notes,
                expect=expect)


def prelu_keras(case):
    shape = case.inputs[0][0]
    alpha = rnd(case, "alpha", (1, 1, shape[-1]), lo=-0.4, hi=0.6)
    inp = tf.keras.Input(shape=shape[1:], batch_size=1, name="x0")
    layer = tf.keras.layers.PReLU(shared_axes=[1, 2], name="prelu")
    out = layer(inp)
    m = tf.keras.Model(inp, out)
    layer.set_weights([alpha])
    return m


def gelu_mlp_case():
    """A transformer MLP: dense -> GELU -> dense on [1, 4, 12]."""
    c = Case("gelu_mlp", "GELU", [([1, 4, 12], RANGE)], variants=("f32", "int8"),
             notes="x @ W1 + b1 -> gelu (exact) -> @ W2 + b2: FULLY_CONNECTED around GELU")
    w1 = rnd(c, "w1", (12, 24), scale=1.0 / np.sqrt(12))
    b1 = rnd(c, "b1", (24,), scale=0.3)
    w2 = rnd(c, "w2", (24, 8), scale=1.0 / np.sqrt(24))
    b2 = rnd(c, "b2", (8,), scale=0.3)
    c.fn = lambda x: tf.matmul(tf.nn.gelu(tf.matmul(x, w1) + b1, approximate=False), w2) + b2
    return c


def layernorm_keras(case):
    shape = case.inputs[0][0]
    gamma = rnd(case, "gamma", (shape[-1],), lo=0.5, hi=1.5)
    beta = rnd(case, "beta", (shape[-1],), lo=-0.3, hi=0.3)
    inp = tf.keras.Input(shape=shape[1:], batch_size=1, name="x0")
    layer = tf.keras.layers.LayerNormalization(epsilon=1e-3, name="ln")
    m = tf.keras.Model(inp, layer(inp))
    layer.set_weights([gamma, beta])
    return m


def hard_swish(x):
    return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


def build_cases():
    C = []
    ALLQ = ("f32", "int8", "int8io")
    # ---- CONV_2D
    C += [
        conv_case("conv2d_same", [1, 7, 5, 3], 3, 5, "SAME",
                  variants=("f32", "int8", "int8io", "uint8io", "f16")),
        conv_case("conv2d_valid_relu", [1, 7, 5, 3], (3, 2), 5, "VALID", act="relu"),
        conv_case("conv2d_s2_same_relu6", [1, 7, 5, 3], 3, 5, "SAME", stride=2, act="relu6",
                  variants=ALLQ),
        conv_case("conv2d_s2_valid", [1, 8, 7, 4], 3, 5, "VALID", stride=2),
        conv_case("conv2d_dil2_same_relu", [1, 9, 7, 3], 3, 5, "SAME", dilation=2, act="relu"),
        conv_case("conv2d_dil2_valid", [1, 9, 7, 3], 3, 4, "VALID", dilation=2),
        conv_case("conv2d_1x1_nobias", [1, 5, 5, 6], 1, 5, "VALID", bias=False),
        conv_case("conv2d_big_same_relu", [1, 7, 5, 16], 3, 8, "SAME", act="relu",
                  variants=("f32", "int8", "hybrid", "f16"),
                  notes="1152 weights (>= 1024) so dynamic range quantizes them"),
        conv_case("conv2d_big_s2_valid", [1, 9, 7, 8], 3, 16, "VALID", stride=2,
                  variants=("f32", "int8", "hybrid")),
    ]
    # ---- DEPTHWISE_CONV_2D
    C += [
        dw_case("dwconv_m1_same_relu6", [1, 7, 5, 4], 3, 1, "SAME", act="relu6", variants=ALLQ),
        dw_case("dwconv_m2_valid", [1, 7, 5, 3], 3, 2, "VALID"),
        dw_case("dwconv_m1_s2_same_relu", [1, 8, 7, 4], 3, 1, "SAME", stride=2, act="relu"),
        dw_case("dwconv_m2_s2_valid", [1, 7, 6, 3], 3, 2, "VALID", stride=2),
        dw_case("dwconv_m2_dil2_same", [1, 9, 7, 3], 3, 2, "SAME", dilation=2),
        dw_case("dwconv_m1_dil2_valid", [1, 9, 7, 4], 3, 1, "VALID", dilation=2),
        dw_case("dwconv_big_m2_valid", [1, 4, 4, 64], 3, 2, "VALID",
                variants=("f32", "int8", "hybrid", "f16"),
                notes="1152 weights (>= 1024) so dynamic range quantizes them"),
    ]
    # ---- TRANSPOSE_CONV
    C += [
        tconv_case("tconv_same", [1, 5, 3, 3], 3, 4, "SAME", variants=ALLQ + ("uint8",)),
        tconv_case("tconv_s2_same_relu", [1, 3, 5, 3], 3, 5, "SAME", stride=2, act="relu",
                   variants=ALLQ + ("uint8",)),
        tconv_case("tconv_valid_nobias", [1, 4, 3, 2], (3, 2), 3, "VALID", bias=False),
        tconv_case("tconv_s2_valid", [1, 3, 4, 4], 3, 3, "VALID", stride=2),
        tconv_case("tconv_s2_k2_valid_relu6", [1, 3, 3, 5], 2, 4, "VALID", stride=2,
                   act="relu6", notes="the Keras/U-Net 2x2 stride-2 upsampling"),
        tconv_case("tconv_s2_same_nobias", [1, 4, 3, 3], (3, 4), 2, "SAME", stride=2,
                   bias=False),
        tconv_case("tconv_big_s2_same", [1, 3, 3, 16], 3, 8, "SAME", stride=2,
                   variants=("f32", "int8", "hybrid", "f16"),
                   notes="1152 weights (>= 1024) so dynamic range quantizes them"),
    ]
    # ---- FULLY_CONNECTED
    C += [
        fc_case("fc_bias", [1, 16], 8, variants=("f32", "int8", "int8io", "f16")),
        fc_case("fc_nobias_relu", [1, 12], 7, bias=False, act="relu"),
        fc_case("fc_keepdims", [1, 4, 12], 6,
                notes="rank-3 input times a constant: keep_num_dims expected"),
        fc_case("fc_big_relu", [1, 64], 32, act="relu",
                variants=("f32", "int8", "hybrid", "f16"),
                notes="2048 weights (>= 1024) so dynamic range quantizes them"),
        fc_case("fc_big_keepdims", [1, 3, 64], 24, variants=("f32", "int8", "hybrid"),
                notes="1536 weights, rank-3 input"),
    ]
    # ---- BATCH_MATMUL
    C += [
        bmm_case("bmm", [1, 4, 6], [1, 6, 5]),
        bmm_case("bmm_adjx", [1, 6, 4], [1, 6, 5], adj_x=True),
        bmm_case("bmm_adjy", [1, 4, 6], [1, 5, 6], adj_y=True),
        bmm_case("bmm_rank4_bcast", [1, 2, 3, 6], [1, 1, 6, 4]),
        bmm_const_case("bmm_const2d", [1, 4, 64], [64, 32],
                       notes="constant 2-D RHS: the converter may make it FULLY_CONNECTED"),
        bmm_const_case("bmm_const3d_b1", [1, 4, 64], [1, 64, 32],
                       notes="constant 3-D RHS with batch 1"),
        bmm_const_case("bmm_const3d_b2", [1, 4, 64], [2, 64, 16],
                       notes="constant 3-D RHS with batch 2 (LHS batch 1 broadcast)"),
        bmm_const_case("bmm_const3d_b2_adjy", [1, 4, 64], [2, 16, 64], adj_y=True,
                       notes="constant 3-D RHS with batch 2, adj_y"),
    ]
    # ---- ADD / SUB / MUL
    for op in ("ADD", "SUB", "MUL"):
        lo = op.lower()
        C += [
            binary_case(f"{lo}_same", op, [1, 4, 4, 3], [1, 4, 4, 3],
                        variants=ALLQ if op == "ADD" else ("f32", "int8")),
            binary_case(f"{lo}_bcast_c", op, [1, 4, 4, 3], [1, 1, 1, 3]),
            binary_case(f"{lo}_bcast_hw", op, [1, 4, 4, 3], [1, 4, 1, 1]),
            binary_case(f"{lo}_same_relu", op, [1, 4, 4, 3], [1, 4, 4, 3], act="relu"),
            binary_case(f"{lo}_const_c", op, [1, 4, 4, 3], [3], const_b=True),
        ]
    # ---- pools
    for op, p in (("AVERAGE_POOL_2D", "avgpool"), ("MAX_POOL_2D", "maxpool")):
        C += [
            pool_case(f"{p}_2x2_s2_valid", op, [1, 6, 6, 3], 2, 2, "VALID"),
            pool_case(f"{p}_3x3_s2_same", op, [1, 7, 5, 3], 3, 2, "SAME", variants=ALLQ),
            pool_case(f"{p}_3x3_s1_same", op, [1, 5, 5, 4], 3, 1, "SAME"),
            pool_case(f"{p}_3x3_s2_valid", op, [1, 7, 9, 2], 3, 2, "VALID"),
        ]
    # ---- MEAN
    C += [
        unary_case("mean_hw_keepdims", "MEAN", [1, 5, 7, 3],
                   lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=True)),
        unary_case("mean_hw", "MEAN", [1, 5, 7, 3],
                   lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=False)),
        unary_case("mean_last", "MEAN", [1, 4, 4, 6],
                   lambda x: tf.reduce_mean(x, axis=[3], keepdims=False)),
        unary_case("mean_last_keepdims", "MEAN", [1, 4, 6],
                   lambda x: tf.reduce_mean(x, axis=[-1], keepdims=True)),
    ]
    # ---- shape ops
    C += [
        unary_case("reshape", "RESHAPE", [1, 4, 4, 3], lambda x: tf.reshape(x, [1, 12, 4])),
        unary_case("squeeze", "SQUEEZE", [1, 4, 1, 3], lambda x: tf.squeeze(x, axis=[2])),
        Case("squeeze_dyn", "SQUEEZE", [([1, 4, 1, 3], RANGE)],
             fn=lambda x: tf.squeeze(x, axis=[2]), sig=[[1, None, 1, 3]],
             notes="converted with input shape [1,None,1,3] (a static squeeze becomes "
                   "RESHAPE); the interpreter is resized to [1,4,1,3] for the goldens"),
        Case("squeeze_dyn2", "SQUEEZE", [([1, 4, 1, 3], RANGE)],
             fn=lambda x: tf.squeeze(x, axis=[2]), sig=[[1, None, 1, None]],
             notes="converted with input shape [1,None,1,None]; the interpreter is "
                   "resized to [1,4,1,3] for the goldens"),
        unary_case("transpose_nchw", "TRANSPOSE", [1, 4, 5, 3],
                   lambda x: tf.transpose(x, [0, 3, 1, 2])),
        unary_case("transpose_rank3", "TRANSPOSE", [1, 6, 5], lambda x: tf.transpose(x, [0, 2, 1])),
        unary_case("pad", "PAD", [1, 4, 5, 3],
                   lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]])),
        unary_case("pad_rank3_c", "PAD", [1, 3, 4],
                   lambda x: tf.pad(x, [[0, 0], [0, 1], [2, 3]])),
        unary_case("padv2", "PADV2", [1, 4, 5, 3],
                   lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]], constant_values=0.7)),
        unary_case("padv2_neg", "PADV2", [1, 3, 4],
                   lambda x: tf.pad(x, [[0, 0], [1, 1], [0, 2]], constant_values=-1.1)),
        unary_case("strided_slice_strides", "STRIDED_SLICE", [1, 8, 7, 4],
                   lambda x: x[:, 1:7:2, ::3, 1:]),
        unary_case("strided_slice_neg", "STRIDED_SLICE", [1, 8, 7, 4],
                   lambda x: x[:, -6:-1:2, :-2, -3:]),
        unary_case("strided_slice_masks", "STRIDED_SLICE", [1, 8, 7, 4],
                   lambda x: tf.strided_slice(x, [0, 1, 0, 3], [0, 7, 5, 0], [1, 3, 2, -1],
                                              begin_mask=0b0101, end_mask=0b1001)),
        unary_case("strided_slice_shrink", "STRIDED_SLICE", [1, 8, 7, 4],
                   lambda x: tf.strided_slice(x, [0, 2, 0, 1], [1, 3, 7, 4], [1, 1, 2, 1],
                                              shrink_axis_mask=0b0010)),
        unary_case("slice", "SLICE", [1, 6, 7, 4], lambda x: tf.slice(x, [0, 1, 2, 0], [1, 3, -1, 2])),
        unary_case("slice_rank3", "SLICE", [1, 6, 7], lambda x: tf.slice(x, [0, 2, 1], [-1, 3, 5])),
    ]
    # ---- CONCATENATION
    C += [
        Case("concat_axis3", "CONCATENATION",
             [([1, 4, 4, 3], RANGE), ([1, 4, 4, 2], (-4.0, 0.5))],
             fn=lambda a, b: tf.concat([a, b], axis=3)),
        Case("concat_axis1", "CONCATENATION",
             [([1, 3, 5, 2], RANGE), ([1, 2, 5, 2], (-0.3, 0.4)), ([1, 1, 5, 2], (-6.0, 6.0))],
             fn=lambda a, b, c: tf.concat([a, b, c], axis=1)),
        Case("requant_concat", "QUANTIZE", [([1, 4, 4, 3], (-5.0, 3.5)), ([1, 4, 4, 2], (-2.6, 1.9))],
             fn=lambda a, b: tf.concat([tf.math.sigmoid(a), tf.math.tanh(b)], axis=3),
             main_spec="QUANTIZE:INT8->INT8", variants=("int8", "int8io"),
             expect={"int8": ["CONCATENATION:INT8->INT8"], "int8io": ["CONCATENATION:INT8->INT8"]},
             notes="concat of LOGISTIC (1/256, -128) and TANH (1/128, 0) outputs: "
                   "int8 -> int8 requantizing QUANTIZE in front of the concatenation"),
        Case("concat_rank2", "CONCATENATION",
             [([1, 7], RANGE), ([1, 5], (0.0, 5.0))],
             fn=lambda a, b: tf.concat([a, b], axis=-1)),
    ]
    # ---- resize
    rb = tf.compat.v1.image.resize_bilinear
    rn = tf.compat.v1.image.resize_nearest_neighbor
    C += [
        unary_case("resize_bilinear", "RESIZE_BILINEAR", [1, 3, 5, 2],
                   lambda x: rb(x, [7, 9], align_corners=False, half_pixel_centers=False)),
        unary_case("resize_bilinear_align", "RESIZE_BILINEAR", [1, 3, 5, 2],
                   lambda x: rb(x, [7, 9], align_corners=True, half_pixel_centers=False)),
        unary_case("resize_bilinear_half", "RESIZE_BILINEAR", [1, 3, 5, 2],
                   lambda x: rb(x, [7, 9], align_corners=False, half_pixel_centers=True)),
        unary_case("resize_bilinear_half_down", "RESIZE_BILINEAR", [1, 7, 5, 2],
                   lambda x: rb(x, [3, 4], align_corners=False, half_pixel_centers=True)),
        unary_case("resize_nearest", "RESIZE_NEAREST_NEIGHBOR", [1, 3, 5, 2],
                   lambda x: rn(x, [7, 9], align_corners=False, half_pixel_centers=False)),
        unary_case("resize_nearest_align", "RESIZE_NEAREST_NEIGHBOR", [1, 3, 5, 2],
                   lambda x: rn(x, [7, 9], align_corners=True, half_pixel_centers=False)),
        unary_case("resize_nearest_half", "RESIZE_NEAREST_NEIGHBOR", [1, 3, 5, 2],
                   lambda x: rn(x, [7, 9], align_corners=False, half_pixel_centers=True)),
    ]
    # ---- activations (directly on the model input, so nothing can fuse them)
    C += [
        unary_case("softmax", "SOFTMAX", [1, 10], tf.nn.softmax, variants=ALLQ),
        unary_case("softmax_rank3", "SOFTMAX", [1, 3, 7], tf.nn.softmax),
        unary_case("softmax_beta2", "SOFTMAX", [1, 10], lambda x: tf.nn.softmax(2.0 * x),
                   notes="softmax(2*x): does the converter fold the scale into beta?"),
        unary_case("logistic", "LOGISTIC", [1, 4, 4, 3], tf.math.sigmoid, rng=(-5.0, 3.5)),
        unary_case("tanh", "TANH", [1, 4, 4, 3], tf.math.tanh, rng=(-2.6, 1.9)),
        unary_case("relu", "RELU", [1, 4, 4, 3], tf.nn.relu),
        unary_case("relu6", "RELU6", [1, 4, 4, 3], tf.nn.relu6, rng=(-2.0, 7.5)),
        unary_case("leaky_relu", "LEAKY_RELU", [1, 4, 4, 3],
                   lambda x: tf.nn.leaky_relu(x, alpha=0.2)),
        Case("prelu", "PRELU", [([1, 4, 4, 3], RANGE)], keras=prelu_keras,
             notes="keras PReLU(shared_axes=[1,2]): per-channel alpha [1,1,3]"),
        unary_case("hard_swish", "HARD_SWISH", [1, 4, 4, 3], hard_swish, rng=(-4.0, 4.5),
                   notes="x * relu6(x + 3) * (1/6)"),
        binary_case("maximum", "MAXIMUM", [1, 4, 4, 3], [1, 4, 4, 3]),
        binary_case("maximum_const_c", "MAXIMUM", [1, 4, 4, 3], [3], const_b=True,
                    b_range=(-0.5, 1.0)),
        binary_case("minimum", "MINIMUM", [1, 4, 4, 3], [1, 4, 4, 3]),
        binary_case("minimum_bcast_hw", "MINIMUM", [1, 4, 4, 3], [1, 4, 1, 1]),
    ]
    # ---- elementwise math (ConvNeXt / transformer blocks)
    C += [
        unary_case("neg", "NEG", [1, 4, 4, 3], tf.math.negative,
                   variants=("f32", "int8raw"),
                   notes="int8raw: the f32 model retyped to INT8 (input (0.02, 3), output "
                         "(0.02, -3)); the converter never quantizes NEG"),
        Case("neg_island", "ADD", [([1, 4, 4, 3], RANGE)],
             fn=lambda x: tf.math.negative(x + 0.5) * 1.7,
             variants=("f32", "int8"), main_spec="ADD",
             expect={"int8": ["NEG:FLOAT32->FLOAT32"], "f32": ["NEG"]},
             notes="ADD -> NEG -> MUL: the converter leaves NEG float between "
                   "DEQUANTIZE and QUANTIZE"),
        binary_case("sqdiff_same", "SQUARED_DIFFERENCE", [1, 4, 4, 3], [1, 4, 4, 3],
                    variants=ALLQ),
        binary_case("sqdiff_bcast_c", "SQUARED_DIFFERENCE", [1, 4, 4, 3], [1, 1, 1, 3]),
        binary_case("sqdiff_bcast_hw", "SQUARED_DIFFERENCE", [1, 4, 4, 3], [1, 4, 1, 1]),
        binary_case("sqdiff_const_c", "SQUARED_DIFFERENCE", [1, 4, 4, 3], [3],
                    const_b=True),
        unary_case("rsqrt", "RSQRT", [1, 4, 4, 3], tf.math.rsqrt, variants=ALLQ,
                   rng=(0.1, 4.0)),
        unary_case("rsqrt_small", "RSQRT", [1, 5, 7], tf.math.rsqrt, rng=(0.002, 0.3)),
        unary_case("sqrt", "SQRT", [1, 4, 4, 3], tf.math.sqrt, variants=ALLQ, rng=(0.05, 4.0)),
        unary_case("exp", "EXP", [1, 4, 4, 3], tf.math.exp, variants=ALLQ),
        unary_case("exp_rank2", "EXP", [1, 10], tf.math.exp, rng=(-6.0, 0.5)),
        binary_case("div_same", "DIV", [1, 4, 4, 3], [1, 4, 4, 3], b_range=(0.5, 3.0),
                    variants=ALLQ + ("uint8raw",)),
        binary_case("div_bcast_c", "DIV", [1, 4, 4, 3], [1, 1, 1, 3], b_range=(-3.0, -0.4)),
        Case("div_const_num", "DIV", [([1, 4, 4, 3], (0.5, 3.0))],
             fn=lambda x: tf.math.divide(tf.constant([1.5, -0.7, 2.2], tf.float32), x),
             notes="a constant dividend [3] over the input (a constant divisor becomes MUL)"),
        binary_case("div_relu", "DIV", [1, 4, 4, 3], [1, 4, 4, 3], act="relu",
                    b_range=(0.5, 3.0)),
        unary_case("gelu", "GELU", [1, 4, 4, 3], lambda x: tf.nn.gelu(x, approximate=False),
                   variants=ALLQ + ("uint8raw",), rng=(-4.0, 3.0)),
        unary_case("gelu_approx", "GELU", [1, 4, 4, 3],
                   lambda x: tf.nn.gelu(x, approximate=True),
                   variants=ALLQ + ("uint8raw",), rng=(-4.0, 3.0)),
        gelu_mlp_case(),
        Case("layernorm", "RSQRT", [([1, 4, 8], RANGE)], keras=layernorm_keras,
             variants=("f32", "int8"),
             notes="keras LayerNormalization(epsilon=1e-3) over the last axis: the "
                   "converter's MEAN / SQUARED_DIFFERENCE / RSQRT / MUL / SUB chain"),
    ]
    # ---- reductions and LOG (transformer / attention pooling, log-domain heads)
    C += [
        unary_case("sum_hw_keepdims", "SUM", [1, 5, 7, 3],
                   lambda x: tf.reduce_sum(x, axis=[1, 2], keepdims=True), variants=ALLQ),
        unary_case("sum_last", "SUM", [1, 4, 4, 6],
                   lambda x: tf.reduce_sum(x, axis=[3], keepdims=False)),
        unary_case("sum_c0", "SUM", [1, 4, 6],
                   lambda x: tf.reduce_sum(x, axis=[1], keepdims=True)),
        unary_case("sum_all", "SUM", [1, 3, 5], lambda x: tf.reduce_sum(x, axis=[0, 1, 2])),
        unary_case("reduce_max_hw", "REDUCE_MAX", [1, 5, 7, 3],
                   lambda x: tf.reduce_max(x, axis=[1, 2], keepdims=False), variants=ALLQ),
        unary_case("reduce_max_last_keepdims", "REDUCE_MAX", [1, 4, 6],
                   lambda x: tf.reduce_max(x, axis=[-1], keepdims=True)),
        unary_case("reduce_max_all", "REDUCE_MAX", [1, 3, 5],
                   lambda x: tf.reduce_max(x, axis=[0, 1, 2])),
        unary_case("reduce_min_c", "REDUCE_MIN", [1, 4, 4, 3],
                   lambda x: tf.reduce_min(x, axis=[1], keepdims=False), variants=ALLQ),
        unary_case("reduce_min_last", "REDUCE_MIN", [1, 4, 6],
                   lambda x: tf.reduce_min(x, axis=[2], keepdims=True)),
        unary_case("reduce_prod_last", "REDUCE_PROD", [1, 4, 5],
                   lambda x: tf.reduce_prod(x, axis=[2], keepdims=False), rng=(0.5, 1.6),
                   variants=ALLQ),
        unary_case("reduce_prod_hw_keepdims", "REDUCE_PROD", [1, 3, 2, 4],
                   lambda x: tf.reduce_prod(x, axis=[1, 2], keepdims=True), rng=(-1.2, 1.5)),
        unary_case("log", "LOG", [1, 4, 4, 3], tf.math.log, variants=ALLQ, rng=(0.05, 4.0)),
        unary_case("log_rank2", "LOG", [1, 10], tf.math.log, rng=(0.001, 0.5)),
    ]
    # ---- SPLIT / SPLIT_V / PACK / UNPACK / GATHER / EXPAND_DIMS (model zoo: RNN, transformer)
    C += [
        # Ops with several results that are model outputs: f32 and int8io only. In int8
        # (float I/O) files the converter's order of their output DEQUANTIZE ops varies
        # between identical structures (docs/ops.md); the int8 cases feed the results on.
        unary_case("split_axis3", "SPLIT", [1, 4, 4, 6], lambda x: tuple(tf.split(x, 3, axis=3)),
                   variants=("f32", "int8io")),
        unary_case("split_concat", "SPLIT", [1, 4, 4, 6],
                   lambda x: (lambda a, b, c: tf.concat([c, a, b], axis=3))(
                       *tf.split(x, 3, axis=3)),
                   variants=ALLQ, notes="three pieces concatenated in another order"),
        unary_case("split_neg_axis", "SPLIT", [1, 6, 5, 2],
                   lambda x: (lambda a, b: a - b)(*tf.split(tf.nn.relu(x), 2, axis=-3)),
                   notes="RELU, a split along axis -3 (negative axis constant), SUB"),
        unary_case("split_v", "SPLIT_V", [1, 4, 6, 3],
                   lambda x: tuple(tf.split(x, [1, 3, 2], axis=2)), variants=("f32", "int8io")),
        unary_case("split_v_gates", "SPLIT_V", [1, 12],
                   lambda x: (lambda i, f, g: tf.concat(
                       [tf.math.sigmoid(i), tf.math.tanh(f), g], axis=1))(
                       *tf.split(x * 1.5, [5, 4, 3], axis=1)),
                   variants=ALLQ,
                   notes="MUL, uneven pieces of a vector (an LSTM's gates) into LOGISTIC, TANH "
                         "and a CONCATENATION"),
        Case("pack_axis1", "PACK", [([1, 4, 3], RANGE), ([1, 4, 3], RANGE)],
             fn=lambda a, b: tf.stack([a, b], axis=1), variants=ALLQ),
        Case("pack_three", "PACK",
             [([1, 5], RANGE), ([1, 5], (-0.4, 3.0)), ([1, 5], (-2.5, 0.7))],
             fn=lambda a, b, c: tf.stack([a, tf.nn.relu(b), c * 2.0], axis=-1),
             notes="three inputs of different ranges, last axis: the converter carries the "
                   "output's parameters back into the producers"),
        Case("pack_fixed", "PACK", [([1, 4, 3], (-5.0, 3.5)), ([1, 4, 3], RANGE)],
             fn=lambda a, b: tf.stack([tf.math.sigmoid(a), b], axis=0),
             notes="a LOGISTIC input (fixed 1/256, -128) stacked with the model input: "
                   "a requantizing QUANTIZE in front of the PACK"),
        unary_case("unpack_axis1", "UNPACK", [1, 3, 4, 2], lambda x: tuple(tf.unstack(x, axis=1)),
                   variants=("f32", "int8io")),
        unary_case("unpack_last", "UNPACK", [1, 4, 3],
                   lambda x: (lambda a, b, c: a * b + c)(*tf.unstack(x - 0.25, axis=-1)),
                   variants=ALLQ, notes="SUB, unstack of the last axis, MUL and ADD"),
        unary_case("gather_axis1", "GATHER", [1, 5, 3],
                   lambda x: tf.gather(x, [2, 0, 3, 3], axis=1), variants=ALLQ),
        unary_case("gather_2d_idx", "GATHER", [1, 4, 6],
                   lambda x: tf.gather(x, [[1, 5], [0, 2], [4, 4]], axis=2),
                   notes="rank-2 indices on the last axis"),
        unary_case("gather_i64", "GATHER", [1, 6, 2],
                   lambda x: tf.gather(tf.nn.relu(x), tf.constant([5, 1, 0], tf.int64), axis=1),
                   notes="int64 indices"),
        unary_case("gather_batch_dims", "GATHER", [1, 5, 3],
                   lambda x: tf.gather(x, [[4, 1, 1]], axis=1, batch_dims=1),
                   notes="batch_dims 1"),
        Case("expand_dims", "EXPAND_DIMS", [([1, 4, 3], RANGE)],
             fn=lambda x: tf.expand_dims(x, 2), sig=[[None, 4, 3]], variants=ALLQ,
             notes="converted with a dynamic batch (a static EXPAND_DIMS becomes RESHAPE)"),
        Case("expand_dims_neg", "EXPAND_DIMS", [([1, 6], RANGE)],
             fn=lambda x: tf.expand_dims(tf.nn.relu(x), -1), sig=[[None, 6]],
             notes="axis -1, dynamic batch"),
    ]
    # ---- CAST (float32 model only: the converter never quantizes CAST; it stays a float
    # island in int8 files, the island case below)
    I8T = (tf.int32, tf.int8, tf.uint8, tf.int16, tf.int64, tf.bool, tf.float16)
    C += [
        unary_case("cast_from_float", "CAST", [1, 4, 6],
                   lambda x: tuple(tf.cast(x * 100.0, t) for t in I8T)
                   + (tf.cast(x * 3e9, tf.int32), tf.cast(x * 1e5, tf.float16)),
                   variants=("f32",),
                   notes="x*100 to int32, int8, uint8, int16, int64, bool, float16 (the int8 and "
                         "uint8 casts saturate), x*3e9 to int32 (saturates), x*1e5 to float16 "
                         "(overflows to infinity)"),
        Case("cast_from_int", "CAST", [([1, 4, 6], RANGE)],
                   fn=lambda x: (lambda i: tuple(tf.cast(i, t) for t in
                                              (tf.float32, tf.int8, tf.uint8, tf.int16,
                                               tf.int64, tf.bool, tf.float16)))(
                       tf.cast(x * 150.0, tf.int32)),
                   variants=("f32",), main_spec="CAST:INT32->FLOAT32",
                   notes="x*150 to int32, then to float32, int8 and uint8 and int16 (wrap), "
                         "int64, bool, float16"),
        Case("cast_chain", "CAST", [([1, 4, 6], RANGE)],
                   fn=lambda x: (tf.cast(tf.cast(tf.cast(x * 4e4, tf.int64), tf.int16), tf.float32),
                              tf.cast(tf.cast(x, tf.bool), tf.float32),
                              tf.cast(tf.cast(tf.cast(x * 9e3, tf.float16), tf.int8),
                                      tf.int32),
                              tf.cast(tf.cast(x * 60.0, tf.uint8), tf.float16)),
                   variants=("f32",), main_spec="CAST:INT64->INT16",
                   notes="int64 to int16 (wrap), bool to float32, float16 to int8 "
                         "(saturating), uint8 to float16"),
        Case("cast_island", "ADD", [([1, 4, 6], RANGE)],
             fn=lambda x: tf.cast(tf.cast(x * 10.0, tf.int32), tf.float32) * 0.1 + x,
             variants=("f32", "int8"), main_spec="ADD",
             expect={"int8": ["CAST:FLOAT32->INT32", "CAST:INT32->FLOAT32"]},
             notes="MUL, CAST to int32 and back, MUL, ADD: the casts stay float between "
                   "DEQUANTIZE and QUANTIZE in the int8 file"),
    ]
    # ---- SHAPE, FILL, ZEROS_LIKE, BROADCAST_TO: shape-producing ops. The converter folds
    # them when every shape is static; a dynamic batch keeps them (the goldens run at 1).
    DYN = [[None, 4, 3]]
    C += [
        Case("shape_reshape", "SHAPE", [([1, 4, 3], RANGE)],
             fn=lambda x: tf.reshape(x, [tf.shape(x)[0], 12]), sig=DYN, variants=ALLQ,
             main_spec="RESHAPE",
             expect={"f32": ["SHAPE"], "int8": ["SHAPE:INT8->INT32"],
                     "int8io": ["SHAPE:INT8->INT32"]},
             notes="dynamic batch: SHAPE, STRIDED_SLICE, PACK of int32 shape values, RESHAPE"),
        Case("fill_shape", "FILL", [([1, 4, 3], RANGE)],
             fn=lambda x: tf.fill(tf.shape(x), 2.0) + x, sig=DYN, variants=ALLQ,
             expect={"f32": ["SHAPE"], "int8": ["SHAPE:INT8->INT32"]},
             notes="dynamic batch: FILL of the input's SHAPE with 2.0, ADD"),
        Case("zeros_like", "ZEROS_LIKE", [([1, 4, 3], RANGE)],
             fn=lambda x: tf.zeros_like(x) + tf.nn.relu(x), sig=DYN, variants=("f32", "int8"),
             main_spec="ADD", expect={"f32": ["ZEROS_LIKE"],
                                      "int8": ["ZEROS_LIKE:FLOAT32->FLOAT32"]},
             notes="dynamic batch; int8: ZEROS_LIKE stays float, its QUANTIZE has the "
                   "converter's very-small-range parameters (2e-6/255, 0)"),
        Case("zeros_like_int", "ZEROS_LIKE", [([1, 4, 3], RANGE)],
             fn=lambda x: tf.cast(tf.zeros_like(tf.cast(x * 10.0, tf.int32)) + 1,
                                  tf.float32) * x,
             sig=DYN, variants=("f32",), main_spec="ZEROS_LIKE:INT32->INT32",
             notes="int32 ZEROS_LIKE (dynamic batch)"),
        unary_case("broadcast_to", "BROADCAST_TO", [1, 4, 1, 3],
                   lambda x: tf.broadcast_to(x, [1, 4, 5, 3]), variants=ALLQ),
        unary_case("broadcast_to_rank", "BROADCAST_TO", [1, 3],
                   lambda x: tf.broadcast_to(tf.nn.relu(x), [2, 4, 3]),
                   notes="RELU, then [1, 3] to [2, 4, 3] (a new leading axis)"),
        Case("broadcast_to_shape", "BROADCAST_TO", [([1, 4, 3], RANGE)],
             fn=lambda x: tf.broadcast_to(tf.reduce_mean(x, axis=1, keepdims=True),
                                          tf.shape(x)),
             sig=DYN, variants=("f32", "int8"),
             notes="dynamic batch: MEAN over axis 1 broadcast back to the input's SHAPE"),
    ]
    # The same graphs run at batch 2 (converted with a dynamic batch, stored as batch 1; the
    # goldens come from LiteRT resized to [2, 4, 3]): the engines propagate the new shape
    # through the SHAPE values (float32 models: the int8 pairs calibrate at the stored shape).
    B2 = [([2, 4, 3], RANGE)]
    C += [
        Case("shape_reshape_b2", "SHAPE", B2, fn=lambda x: tf.reshape(x, [tf.shape(x)[0], 12]),
             sig=DYN, variants=("f32",), main_spec="RESHAPE", expect={"f32": ["SHAPE"]},
             notes="shape_reshape at batch 2"),
        Case("fill_shape_b2", "FILL", B2, fn=lambda x: tf.fill(tf.shape(x), 2.0) + x,
             sig=DYN, variants=("f32",), expect={"f32": ["SHAPE"]},
             notes="fill_shape at batch 2"),
        Case("broadcast_to_shape_b2", "BROADCAST_TO", B2,
             fn=lambda x: tf.broadcast_to(tf.reduce_mean(x, axis=1, keepdims=True),
                                          tf.shape(x)),
             sig=DYN, variants=("f32",), notes="broadcast_to_shape at batch 2"),
        Case("zeros_like_b2", "ZEROS_LIKE", B2,
             fn=lambda x: tf.zeros_like(x) + tf.nn.relu(x), sig=DYN, variants=("f32",),
             main_spec="ADD", expect={"f32": ["ZEROS_LIKE"]}, notes="zeros_like at batch 2"),
        Case("expand_dims_b2", "EXPAND_DIMS", B2, fn=lambda x: tf.expand_dims(x, 2), sig=DYN,
             variants=("f32",), notes="expand_dims at batch 2"),
    ]
    for c in C:
        if c.name in ("log", "log_rank2"):
            c.widen = 0.01   # stay positive: float LOG of a negative is NaN
        if c.name in ("rsqrt", "rsqrt_small", "sqrt"):
            c.widen = 0.01   # stay positive: float RSQRT/SQRT of a negative is NaN
        if c.name == "neg":
            c.raw_quant = [(0.02, 3), (0.02, -3)]
    names = [c.name for c in C]
    assert len(names) == len(set(names)), "duplicate case names"
    return C


# --------------------------------------------------------------------------- conversion

def input_samples(case, n, seed_k, widen=0.0):
    rng = np.random.default_rng(case.seed(seed_k))
    out = []
    for shape, (lo, hi) in case.inputs:
        pad = (hi - lo) * widen
        out.append(rng.uniform(lo - pad, hi + pad, size=[n] + list(shape)).astype(np.float32))
    return out  # per input: [n, *shape]


def recording(gen, record, names):
    """Wrap a representative_dataset function: every sample it yields is recorded
    (copied, keyed by signature name) as it is handed to the converter. One list per
    call of the function (the converter should iterate it once)."""
    def wrapped():
        passes = []
        record.append(passes)
        for sample in gen():
            if isinstance(sample, dict):
                rec = {k: np.array(v, copy=True) for k, v in sample.items()}
            else:  # a list is fed in the model's input order (keras: one input only)
                assert isinstance(sample, list) and len(sample) == len(names) == 1, sample
                rec = {names[0]: np.array(sample[0], copy=True)}
            passes.append(rec)
            yield sample
    return wrapped


def int8_raw(case, buf):
    """The f32 model's non-constant tensors as INT8 with case.raw_quant[k] (in tensor
    order)."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    consts = constant_tensors(m)
    acts = [i for i in range(len(m.subgraphs[0].tensors)) if i not in consts]
    assert len(acts) == len(case.raw_quant), (case.name, acts)

    def fn(i, t):
        if i in acts:
            assert t.type == schema.TensorType.FLOAT32
            t.type = schema.TensorType.INT8
            t.quantization = qparams(*case.raw_quant[acts.index(i)])
    return retype(buf, fn)


def uint8_raw(buf):
    """Every INT8 tensor of an int8io model as UINT8 with its zero point + 128."""
    def fn(i, t):
        if t.type == schema.TensorType.INT8:
            t.type = schema.TensorType.UINT8
            t.quantization.zeroPoint = [int(z) + 128 for z in t.quantization.zeroPoint]
    return retype(buf, fn)
def legacy_uint8(buf):
    """An int8-only model rewritten in the legacy (TF1) uint8 scheme, which TFLite still
    runs (no TF 2.21 converter writes it): activations uint8 with zero point + 128 and the
    same scale; weights dequantized and requantized per tensor, asymmetric uint8 (range
    widened to include 0, scale (max - min) / 255, zero point round(-min / scale)); int32
    biases requantized to the new s_in * s_w."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    sg = m.subgraphs[0]
    def data(t):
        return m.buffers[t.buffer].data if t.buffer > 0 else None
    new_scale = {}
    for i, t in enumerate(sg.tensors):
        if t.type != schema.TensorType.INT8:
            continue
        q = t.quantization
        raw = data(t)
        t.type = schema.TensorType.UINT8
        if raw is None:  # an activation
            q.zeroPoint = [int(z) + 128 for z in q.zeroPoint]
            continue
        v = np.frombuffer(bytes(raw), np.int8).astype(np.float64)
        scales = np.array(q.scale, np.float64)
        axis = q.quantizedDimension if len(scales) > 1 else 0
        shape = [int(d) for d in t.shape]
        bshape = [1] * len(shape)
        bshape[axis] = len(scales)
        w = v.reshape(shape) * scales.reshape(bshape)
        lo, hi = min(w.min(), 0.0), max(w.max(), 0.0)
        sc = np.float32((hi - lo) / 255.0)
        zp = int(np.clip(np.round(-lo / np.float64(sc)), 0, 255))
        qv = np.clip(np.round(w / np.float64(sc)) + zp, 0, 255).astype(np.uint8)
        m.buffers[t.buffer].data = np.frombuffer(qv.tobytes(), np.uint8)
        t.quantization.scale = [float(sc)]
        t.quantization.zeroPoint = [zp]
        t.quantization.quantizedDimension = 0
        new_scale[i] = sc
    for op in sg.operators:
        ins = [int(x) for x in op.inputs]
        wts = [x for x in ins if x in new_scale]
        for b in ins:
            t = sg.tensors[b] if b >= 0 else None
            if t is None or t.type != schema.TensorType.INT32 or t.quantization is None \
                    or t.quantization.scale is None or len(t.quantization.scale) == 0:
                continue
            act = [x for x in ins if x >= 0 and sg.tensors[x].type == schema.TensorType.UINT8
                   and x not in new_scale]
            s_in = np.float32(sg.tensors[act[0]].quantization.scale[0])
            s_b = np.float32(s_in * new_scale[wts[0]])
            old = np.array(t.quantization.scale, np.float64)
            v = np.frombuffer(bytes(data(t)), np.int32).astype(np.float64)
            f = v * (old if len(old) > 1 else old[0])
            qb = np.round(f / np.float64(s_b)).astype(np.int32)
            m.buffers[t.buffer].data = np.frombuffer(qb.tobytes(), np.uint8)
            t.quantization.scale = [float(s_b)]
            t.quantization.zeroPoint = [0]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def convert(case, variant, record=None):
    """The converted model. For the int8 family, `record` (a list) receives what the
    representative dataset yielded: one list of samples per pass over it."""
    if variant == "int8raw":
        return int8_raw(case, convert(case, "f32"))
    if variant == "uint8raw":
        return uint8_raw(convert(case, "int8io", record))
    set_determinism()
    calib = input_samples(case, N_CALIB, 1)

    def rep_data():
        # A dict keyed by signature input name: a list would be fed in the order of the
        # model's subgraph inputs, which the converter does not keep (two-input
        # functions come out as [x1, x0]).
        for i in range(N_CALIB):
            if case.keras is not None:
                yield [c[i] for c in calib]
            else:
                yield {f"x{k}": c[i] for k, c in enumerate(calib)}

    if record is not None:
        rep_data = recording(rep_data, record, [f"x{k}" for k in range(len(calib))])

    if case.keras is not None:
        # A fresh Keras session per conversion: every variant traces the model under the
        # same names (otherwise each build uniquifies them: functional_1, functional_1_1).
        tf.keras.backend.clear_session()
        model = case.keras(case)
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
    else:
        shapes = case.sig or [shape for shape, _ in case.inputs]
        sig = [tf.TensorSpec(shape, tf.float32, name=f"x{i}")
               for i, shape in enumerate(shapes)]
        module = tf.Module()
        module.f = tf.function(case.fn, input_signature=sig)
        conv = tf.lite.TFLiteConverter.from_concrete_functions(
            [module.f.get_concrete_function()], module)

    if variant == "f32":
        pass
    elif variant == "int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep_data
    elif variant in ("int8io", "uint8io"):
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep_data
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_t = tf.int8 if variant == "int8io" else tf.uint8
        conv.inference_input_type = io_t
        conv.inference_output_type = io_t
    elif variant == "hybrid":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "f16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif variant == "uint8":
        return legacy_uint8(convert(case, "int8io", record))
    else:
        raise ValueError(variant)
    with contextlib.redirect_stdout(io.StringIO()):
        return conv.convert()


# --------------------------------------------------------------------------- inspection

def opcode_name(oc):
    code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
    if code == schema.BuiltinOperator.CUSTOM:
        return "CUSTOM:" + bytes(oc.customCode).decode()
    return BUILTIN_NAMES.get(code, str(code))


def jsonable(v):
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if hasattr(v, "__dict__"):
        return {k: jsonable(x) for k, x in vars(v).items()}
    return v


def options_dict(op):
    if op.builtinOptions is None:
        d = {}
    else:
        d = {k: jsonable(v) for k, v in vars(op.builtinOptions).items()}
    if "fusedActivationFunction" in d:
        d["fusedActivationFunction"] = ACT_NAMES.get(d["fusedActivationFunction"],
                                                     d["fusedActivationFunction"])
    if "padding" in d and isinstance(d["padding"], int):
        d["padding"] = PAD_NAMES.get(d["padding"], d["padding"])
    if op.builtinOptions2 is not None:
        d["_options2"] = jsonable(op.builtinOptions2)
    return d


def constant_tensors(m):
    sg = m.subgraphs[0]
    consts = set()
    for i, t in enumerate(sg.tensors):
        buf = m.buffers[t.buffer] if t.buffer < len(m.buffers) else None
        if t.buffer != 0 and buf is not None and buf.data is not None and len(buf.data) > 0:
            consts.add(i)
    return consts


def ttype(sg, i):
    return TENSOR_TYPE_NAMES[sg.tensors[i].type] if i >= 0 else None


def op_list(m):
    sg = m.subgraphs[0]
    consts = constant_tensors(m)
    rows = []
    for op in sg.operators:
        oc = m.operatorCodes[op.opcodeIndex]
        ins = [int(i) for i in (op.inputs if op.inputs is not None else [])]
        outs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
        rows.append({
            "op": opcode_name(oc), "version": int(oc.version),
            "inputs": ins, "outputs": outs,
            "input_types": [ttype(sg, i) for i in ins],
            "output_types": [ttype(sg, i) for i in outs],
            "const_inputs": [i for i in ins if i in consts],
            "options": options_dict(op),
        })
    return rows


def make_interpreter(path, ref=True):
    kw = dict(model_path=str(path), num_threads=1, experimental_preserve_all_tensors=True)
    if ref:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_REF
    return Interpreter(**kw)


def quant_info(d):
    qp = d["quantization_parameters"]
    scales = [float(s) for s in np.asarray(qp["scales"]).ravel()]
    zps = [int(z) for z in np.asarray(qp["zero_points"]).ravel()]
    if not scales:
        return None
    return {"scale": scales[0] if len(scales) == 1 else scales,
            "zero_point": zps[0] if len(zps) == 1 else zps,
            "quantized_dimension": int(qp["quantized_dimension"])}


def tensor_info(d):
    return {"name": d["name"], "index": int(d["index"]),
            "dtype": np.dtype(d["dtype"]).name,
            "shape": [int(s) for s in d["shape"]],
            "shape_signature": [int(s) for s in d["shape_signature"]],
            "quantization": quant_info(d)}


def op_matches(spec, o):
    """spec: "OP" or "OP:IN_TYPE->OUT_TYPE" (types of the first input and output)."""
    name, _, types = spec.partition(":")
    if o["op"] != name:
        return False
    if types:
        tin, tout = types.split("->")
        return o["input_types"][0] == tin and o["output_types"][0] == tout
    return True


def main_ops(case, ops):
    spec = case.main_spec or case.op
    return [o for o in ops if op_matches(spec, o)]


def check_model(case, variant, ops):
    """Return None if the model tests what it should, else the reason it does not."""
    names = [o["op"] for o in ops]
    main = main_ops(case, ops)
    if not main:
        return f"no {case.main_spec or case.op} in the converted model (ops: {names})"
    extra = (case.expect or {}).get(variant, [])
    for e in extra:
        if not any(op_matches(e, o) for o in ops):
            return f"no {e} in the converted model (ops: {names})"
    o = main[0]
    # Computed int32/int64 inputs are shapes (a SHAPE's output feeding FILL, RESHAPE, ...).
    act_in = [t for i, t in zip(o["inputs"], o["input_types"])
              if i >= 0 and i not in o["const_inputs"] and t not in ("INT32", "INT64")]
    const_in = [t for i, t in zip(o["inputs"], o["input_types"]) if i in o["const_inputs"]]
    if variant == "uint8raw":
        if not all(t == "UINT8" for t in act_in + o["output_types"]):
            return f"{case.op} is not uint8: {o['input_types']}"
    if variant in ("int8", "int8io", "uint8io", "int8raw"):
        if not all(t == "INT8" for t in act_in + o["output_types"]):
            return (f"{case.op} is not int8: inputs {o['input_types']}, "
                    f"outputs {o['output_types']} (ops: {names})")
    if variant in ("f32", "f16", "hybrid") and case.op not in ("CAST", "ZEROS_LIKE"):
        if not all(t == "FLOAT32" for t in act_in + o["output_types"]):
            return f"{case.op} activations are not float32: {o['input_types']}"
    if variant == "hybrid":
        if "INT8" not in const_in:
            return (f"{case.op} is not hybrid: constant inputs {const_in}, "
                    f"inputs {o['input_types']} (ops: {names})")
    if variant == "f16":
        if "DEQUANTIZE" not in names or not any(
                "FLOAT16" in d["input_types"] for d in ops if d["op"] == "DEQUANTIZE"):
            return f"no FLOAT16 DEQUANTIZE (ops: {names})"
    if variant == "uint8":
        if not all(t == "UINT8" for t in act_in + o["output_types"]):
            return f"{case.op} is not uint8: {o['input_types']} -> {o['output_types']}"
    if variant in ("int8io", "uint8io", "int8raw", "uint8raw", "uint8"):
        if "FLOAT32" in [t for d in ops for t in d["input_types"] + d["output_types"] if t]:
            return "float tensors left in an integer-only model"
    return None


def to_input_dtype(x, d):
    """Float sample -> the input tensor's dtype (quantized for int8/uint8)."""
    dt = np.dtype(d["dtype"])
    x = x.reshape(d["shape"])
    if dt == np.float32:
        return x.astype(np.float32)
    scale, zp = d["quantization"]
    info = np.iinfo(dt)
    q = np.round(x.astype(np.float64) / np.float64(np.float32(scale))) + zp
    return np.clip(q, info.min, info.max).astype(dt)


def case_input_index(case, d):
    """Which case input (x0, x1, ...) a model input is, by name."""
    base = d["name"].split(":")[0]
    for k in range(len(case.inputs)):
        if base == f"x{k}" or base.endswith(f"_x{k}"):
            return k
    raise AssertionError((case.name, d["name"]))


def run_goldens(case, path, samples, keep, ref=True):
    """input_K / output_K follow the model's subgraph input / output order."""
    it = make_interpreter(path, ref=ref)
    for d in it.get_input_details():
        shape = case.inputs[case_input_index(case, d)][0]
        if list(d["shape"]) != list(shape):   # dynamic dims: resize to the case's shape
            it.resize_tensor_input(d["index"], shape, strict=True)
    it.allocate_tensors()
    ins = it.get_input_details()
    outs = it.get_output_details()
    acc = collections.defaultdict(list)
    skipped = set()
    for s in range(N_GOLDEN):
        for k, d in enumerate(ins):
            x = to_input_dtype(samples[case_input_index(case, d)][s], d)
            it.set_tensor(d["index"], x)
            acc[f"input_{k}"].append(x)
        it.invoke()
        for k, d in enumerate(outs):
            acc[f"output_{k}"].append(it.get_tensor(d["index"]).copy())
        for ti in keep:
            try:
                acc[f"t{ti}"].append(np.array(it.get_tensor(ti), copy=True))
            except Exception:
                skipped.add(ti)
    gold = {k: np.stack(v) for k, v in acc.items()
            if not (k.startswith("t") and int(k[1:]) in skipped)}
    return gold, sorted(skipped), ins, outs


def key_order(k):
    if k.startswith("t"):
        return (2, int(k[1:]), "")
    return (0 if k.startswith("input") else 1, int(k.split("_")[1]), k)


def write_npz(path, arrays, order=key_order):
    """np.savez_compressed, but with a fixed zip timestamp (byte-reproducible)."""
    npz_fixed.write_npz(path, arrays, order)


INT8_FAMILY = ("int8", "int8io", "uint8io", "uint8")


def calib_arrays(case, record, name):
    """The samples of one recorded conversion as {signature name: [n, *shape] float32}."""
    assert len(record) == 1, f"{name}: representative dataset iterated {len(record)} times"
    samples = record[0]
    assert len(samples) == N_CALIB, (name, len(samples))
    names = [f"x{k}" for k in range(len(case.inputs))]
    assert all(sorted(s) == names for s in samples), (name, [sorted(s) for s in samples])
    arrays = {}
    for k, n in enumerate(names):
        xs = [s[n] for s in samples]
        assert all(x.dtype == np.float32 and list(x.shape) == list(case.inputs[k][0])
                   for x in xs), (name, n, [(x.dtype, x.shape) for x in xs])
        arrays[n] = np.stack(xs)
    return arrays


def calib_order(k):
    return int(k[1:])   # x0, x1, ...


def compact_json(v, ind=0):
    """JSON with one key per line, but lists of scalars and short values on one line."""
    flat = json.dumps(v)
    if not isinstance(v, (dict, list)) or len(flat) <= 160:
        return flat
    if isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
        return flat
    pad = " " * (ind + 1)
    if isinstance(v, dict):
        items = [f"{pad}{json.dumps(k)}: {compact_json(x, ind + 1)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * ind + "}"
    items = [pad + compact_json(x, ind + 1) for x in v]
    return "[\n" + ",\n".join(items) + "\n" + " " * ind + "]"


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def max_abs_diff(a, b):
    if a.shape != b.shape:
        return None
    if a.size == 0:
        return 0.0
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    if same.all():
        return 0.0
    d = float(np.max(np.abs(a64[~same] - b64[~same])))
    return d if np.isfinite(d) else "non-finite"   # JSON has no NaN/Infinity


# --------------------------------------------------------------------------- main

def _pkg_version(name):
    from importlib.metadata import version
    return version(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", default=None,
                    help="only cases whose name contains one of these (their entries "
                         "replace those in the existing manifest.json)")
    args = ap.parse_args()
    out = args.out
    if args.only is None and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)

    print(f"tensorflow {tf.__version__}, numpy {np.__version__}, "
          f"ai-edge-litert {_pkg_version('ai-edge-litert')}")
    set_determinism()
    cases = build_cases()
    if args.only:
        cases = [c for c in cases if any(s in c.name for s in args.only)]

    manifest = {
        "generator": "tools/make_op_fixtures.py",
        "versions": {"tensorflow": tf.__version__, "numpy": np.__version__,
                     "ai_edge_litert": _pkg_version("ai-edge-litert")},
        "seed": SEED, "n_calib": N_CALIB, "n_golden": N_GOLDEN,
        "golden_widen": GOLDEN_WIDEN,
        "golden_format": ("NAME.npz: input_K / output_K / t{index} (index into subgraph 0 "
                          "tensors, every non-constant tensor), each stacked over the "
                          f"{N_GOLDEN} samples on a new leading axis; LiteRT BUILTIN_REF, "
                          "batch-1 invokes"),
        "notes": {
            "inputs": ("input_K / output_K and manifest inputs[K] / outputs[K] follow the "
                       "model's subgraph input/output order (what get_input_details gives); "
                       "for two-input functions the converter stores [x1, x0], so use "
                       "signature_name or index, not the Python argument order"),
            "goldens": ("t{index}: every non-constant tensor of subgraph 0 (model inputs, "
                        "intermediates, outputs; also DEQUANTIZE outputs of constant FLOAT16 "
                        "weights), dtype as stored; compare int8/uint8/int32 bit-exactly"),
            "default_resolver_max_abs_diff": (
                "max |BUILTIN_REF - default resolver| per output over the golden samples, "
                "in the output's own units (floats for float outputs, including dequantized "
                "int8 models; integer steps for int8io/uint8io); information only"),
            "golden_inputs": (f"uniform in each input's calib_range widened by "
                              f"{GOLDEN_WIDEN:.0%} on both sides, so the edge QUANTIZE "
                              "clamps some elements"),
            "calib_file": ("CASE.calib.npz (int8/int8io/uint8io models): the representative "
                           "samples the converter consumed, recorded as the dataset "
                           "generator yielded them (one pass, dicts keyed by signature "
                           "name; the keras PReLU case yields a one-element list, stored "
                           "as x0). One float32 array per model input keyed by signature "
                           f"name, [{N_CALIB}, *input shape] (batch 1 kept): sample i is "
                           "the i-th array fed. The same for every int8-family variant of "
                           "the case"),
        },
        "models": {},
        "not_produced": {},
    }

    for case in cases:
        cal_ranges = [list(r) for _, r in case.inputs]
        golden_x = input_samples(case, N_GOLDEN, 2,
                                 widen=GOLDEN_WIDEN if case.widen is None else case.widen)
        calib = None          # {signature name: [N_CALIB, *shape]} of this case
        calib_models = []     # int8-family models written for this case
        for variant in case.variants:
            name = f"{case.name}_{variant}"
            record = [] if variant in INT8_FAMILY else None
            try:
                buf = convert(case, variant, record)
            except Exception as e:  # converter refused
                msg = str(e).strip().splitlines()
                manifest["not_produced"][name] = {
                    "op": case.op, "variant": variant,
                    "reason": "converter error: " + (msg[0] if msg else type(e).__name__)}
                print(f"[skip] {name}: converter error: {msg[:1]}")
                continue
            m = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
            ops = op_list(m)
            reason = check_model(case, variant, ops)
            if reason is not None:
                manifest["not_produced"][name] = {"op": case.op, "variant": variant,
                                                  "reason": reason,
                                                  "ops": [f"{o['op']}/v{o['version']}"
                                                          for o in ops]}
                print(f"[skip] {name}: {reason}")
                continue
            if record is not None:
                arrays = calib_arrays(case, record, name)
                if calib is None:
                    calib = arrays
                else:  # every int8-family variant of a case saw the same samples
                    assert calib.keys() == arrays.keys() and all(
                        np.array_equal(calib[k], arrays[k]) for k in calib), name
                calib_models.append(name)
            path = out / f"{name}.tflite"
            path.write_bytes(buf)

            consts = constant_tensors(m)
            sg = m.subgraphs[0]
            keep = [i for i in range(len(sg.tensors)) if i not in consts]
            gold, skipped, ins, outs = run_goldens(case, path, golden_x, keep)
            gold_def, _, _, _ = run_goldens(case, path, golden_x, [], ref=False)
            default_diff = {k: max_abs_diff(gold[k], gold_def[k])
                            for k in gold_def if k.startswith("output_")}
            write_npz(out / f"{name}.npz", gold)

            it = make_interpreter(path)
            it.allocate_tensors()
            hist = collections.Counter(d["op_name"] for d in it._get_ops_details())
            file_hist = collections.Counter(o["op"] for o in ops)
            assert hist == file_hist, (name, hist, file_hist)  # LiteRT sees what we checked
            tensors = {}
            for i in keep:
                if i in skipped:
                    continue
                t = sg.tensors[i]
                q = t.quantization
                qd = None
                if q is not None and q.scale is not None and len(q.scale) > 0:
                    sc = [float(s) for s in q.scale]
                    zp = [int(z) for z in q.zeroPoint]
                    qd = {"scale": sc[0] if len(sc) == 1 else sc,
                          "zero_point": zp[0] if len(zp) == 1 else zp}
                tensors[f"t{i}"] = {"name": bytes(t.name).decode(),
                                    "dtype": TENSOR_TYPE_NAMES[t.type],
                                    "shape": [int(s) for s in gold[f"t{i}"].shape[1:]],
                                    "quantization": qd}
            mains = main_ops(case, ops)
            entry = {
                "file": path.name, "golden_file": f"{name}.npz",
                "op": case.op, "variant": variant, "case": case.name,
                "size": len(buf), "sha256": sha256(path),
                "op_histogram": dict(sorted(hist.items())),
                "file_op_histogram": dict(sorted(file_hist.items())),
                "main_op": {"version": mains[0]["version"],
                            "options": mains[0]["options"],
                            "input_types": mains[0]["input_types"],
                            "output_types": mains[0]["output_types"]},
                "ops": ops,
                "inputs": [dict(tensor_info(d), signature_name=f"x{case_input_index(case, d)}",
                                calib_range=cal_ranges[case_input_index(case, d)])
                           for d in ins],
                "outputs": [tensor_info(d) for d in outs],
                "golden_keys": sorted(gold.keys(), key=key_order),
                "golden_tensors": tensors,
                "golden_tensors_skipped": skipped,
                "default_resolver_max_abs_diff": default_diff,
                "notes": case.notes,
            }
            if record is not None:
                entry["calib_file"] = f"{case.name}.calib.npz"
            manifest["models"][name] = entry
            print(f"[ok] {name:34s} {len(buf):6d} B  "
                  f"{' '.join(f'{k}x{v}' if v > 1 else k for k, v in sorted(hist.items()))}"
                  f"  v{entry['main_op']['version']}  default-diff "
                  f"{max((v for v in default_diff.values() if isinstance(v, float)), default=0):.3g}")
        if calib_models:
            cpath = out / f"{case.name}.calib.npz"
            write_npz(cpath, calib, order=calib_order)
            print(f"[calib] {cpath.name:34s} {cpath.stat().st_size:6d} B  "
                  f"{' '.join(f'{k}{list(v.shape)}' for k, v in calib.items())}"
                  f"  for {', '.join(calib_models)}")

    if args.only is not None and (out / "manifest.json").exists():
        # --only: merge into the existing manifest, replacing the selected cases' entries.
        old = json.loads((out / "manifest.json").read_text())
        chosen = {c.name for c in cases}
        for key in ("models", "not_produced"):
            kept = {k: v for k, v in old[key].items() if k.rsplit("_", 1)[0] not in chosen}
            kept.update(manifest[key])  # the selected cases after the others
            manifest[key] = kept
    (out / "manifest.json").write_text(compact_json(manifest) + "\n")

    print("\n[not produced]")
    for k, v in manifest["not_produced"].items():
        print(f"  {k}: {v['reason']}")
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    calib_total = sum(p.stat().st_size for p in out.glob("*.calib.npz"))
    print(f"\n{len(manifest['models'])} models, {total} bytes in {out} "
          f"({calib_total} bytes of calibration samples)")


if __name__ == "__main__":
    sys.exit(main())
