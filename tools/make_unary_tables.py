#!/usr/bin/env python3
"""LiteRT's int8/uint8 results of the one-input math ops over every input value, for many
quantization parameters (tests/fixtures/unary_tables/): the reference engine's element
functions (src/reference/elementwise) are compared with them value for value.

Run from the repository root:

    /work/venv/bin/python tools/make_unary_tables.py     # a few seconds, no network

For each op (RSQRT, SQRT, EXP, LOG int8; GELU and approximate GELU int8 and uint8) the real TF
converter writes the float model of the op on a [256] input; its two tensors are retyped
to INT8/UINT8 with random (scale, zero point) pairs (scales over several decades, zero
points at the type's edges among them), and LiteRT's BUILTIN_REF kernels run it on all 256
values of the type. RSQRT and SQRT refuse inputs below the input zero point (the run
fails), so those inputs are replaced by the zero point and their outputs recorded as they
come (the test skips them).

Float LOGISTIC (`logistic_float32.npz`: `inputs`, `outputs` float32): LiteRT's
reference kernel on values across [-120, 120] and around its cutoffs (-9, 16.619047).
Float LOG (`log_float32.npz`: `inputs`, `outputs` float32 [8192 + specials]): LiteRT's
`logf` on positive floats of every exponent (subnormals included), values next to 1 and
the special values, compared bit for bit with the reference engine's `f32::ln`.

Float GELU (`gelu_float32.npz`: `inputs`, `exact`, `approximate`): LiteRT's BUILTIN_REF GELU,
Eigen's erfc / fast tanh (src/reference/eigen_math.rs). The converter's calibrator
(`eigen_float32.npz`: `inputs`, `gelu`, `logistic`, `tanh`): TF 2.21's own interpreter with
its optimized kernels at 4 threads, whose erfc takes `1/x^2` from the CPU's `rcpps` (the
GELU column is a fact of the CPU family it was made on). `--eigen` makes only these two.

Writes OP_DTYPE.npz per (op, dtype): `params` float32 [N, 4] = (s_in, zp_in, s_out,
zp_out) with the scales as stored (float32), `inputs` [N, 256] and `outputs` [N, 256] in
the dtype. Deterministic (fixed seed, fixed zip timestamps).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import npz_fixed
from retype import float_model, int_type, qparams, retype

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "unary_tables"
N = 48  # parameter sets per (op, dtype)

OPS = {
    "rsqrt": (tf.math.rsqrt, ("int8",)),
    "sqrt": (tf.math.sqrt, ("int8",)),
    "exp": (tf.math.exp, ("int8",)),
    "log": (tf.math.log, ("int8",)),
    "gelu": (lambda x: tf.nn.gelu(x, approximate=False), ("int8", "uint8")),
    "gelu_approx": (lambda x: tf.nn.gelu(x, approximate=True), ("int8", "uint8")),
}


def retyped(buf, dtype, qin, qout):
    def fn(i, t):
        if i in (sg_in, sg_out):
            t.type = int_type(dtype)
            t.quantization = qparams(*(qin if i == sg_in else qout))
    m = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    sg = m.subgraphs[0]
    assert len(sg.tensors) == 2 and len(sg.operators) == 1, "one op, two tensors"
    sg_in, sg_out = sg.inputs[0], sg.outputs[0]
    return retype(buf, fn, version=2)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"tensorflow {tf.__version__}")
    for name, (fn, dtypes) in OPS.items():
        base = float_model(fn, [[256]])
        for dtype in dtypes:
            rng = np.random.default_rng([7, len(name), sum(map(ord, name + dtype))])
            info = np.iinfo(dtype)
            lo, hi = int(info.min), int(info.max)
            params, inputs, outputs = [], [], []
            for k in range(N):
                def qp():
                    s = np.float32(10.0 ** rng.uniform(-3.5, 0.5))
                    z = [lo, hi, (lo + hi) // 2, int(rng.integers(lo, hi + 1))][k % 4]
                    return s, z
                qin, qout = qp(), qp()
                if name in ("exp",):
                    # exp of large inputs saturates everything: keep input scales small.
                    qin = (np.float32(qin[0] / 20), qin[1])
                x = np.arange(lo, hi + 1)
                if name in ("rsqrt", "sqrt"):
                    x = np.maximum(x, qin[1])
                x = x.astype(dtype)
                it = Interpreter(model_content=retyped(base, dtype, qin, qout),
                                 experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
                it.allocate_tensors()
                it.set_tensor(it.get_input_details()[0]["index"], x)
                it.invoke()
                y = it.get_tensor(it.get_output_details()[0]["index"]).copy()
                params.append([float(qin[0]), qin[1], float(qout[0]), qout[1]])
                inputs.append(x)
                outputs.append(y)
            path = OUT / f"{name}_{dtype}.npz"
            npz_fixed.write_npz(path, {"params": np.array(params, np.float32),
                                       "inputs": np.stack(inputs),
                                       "outputs": np.stack(outputs)},
                                lambda k: ["params", "inputs", "outputs"].index(k))
            print(f"[ok] {path.name}: {N} parameter sets, {path.stat().st_size} B")


def float_log():
    """LiteRT's float LOG on floats of every exponent, bit for bit."""
    rng = np.random.default_rng([7, 3, 1])
    bits = rng.integers(1, 0x7f800000, size=8192, dtype=np.int64).astype(np.uint32)
    near_one = (np.float32(1.0) + rng.uniform(-1e-3, 1e-3, size=512)).astype(np.float32)
    specials = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, 1.0, 2.0, 0.5,
                         np.finfo(np.float32).tiny, np.finfo(np.float32).max, 1e-45],
                        np.float32)
    x = np.concatenate([bits.view(np.float32), near_one, specials]).astype(np.float32)
    y = run_float(tf.math.log, x, "BUILTIN_REF")
    path = OUT / "log_float32.npz"
    npz_fixed.write_npz(path, {"inputs": x, "outputs": y},
                        lambda k: ["inputs", "outputs"].index(k))
    print(f"[ok] {path.name}: {len(x)} values, {path.stat().st_size} B")


def float_logistic():
    """LiteRT's float LOGISTIC (reference_ops::Logistic) around its cutoffs and beyond."""
    rng = np.random.default_rng([7, 3, 2])
    wide = rng.uniform(-120.0, 120.0, size=4096)
    low = -9.0 + rng.uniform(-0.5, 0.5, size=512)
    high = 16.619047 + rng.uniform(-0.8, 0.8, size=512)
    specials = np.array([-9.0, np.nextafter(np.float32(-9.0), np.float32(0)),
                         np.nextafter(np.float32(-9.0), np.float32(-10)), 16.619047164916992188,
                         0.0, -0.0, np.inf, -np.inf, np.nan, -100.0, 100.0, -104.0, -88.0],
                        np.float32)
    x = np.concatenate([wide, low, high]).astype(np.float32)
    x = np.concatenate([x, specials]).astype(np.float32)
    y = run_float(tf.math.sigmoid, x, "BUILTIN_REF")
    path = OUT / "logistic_float32.npz"
    npz_fixed.write_npz(path, {"inputs": x, "outputs": y},
                        lambda k: ["inputs", "outputs"].index(k))
    print(f"[ok] {path.name}: {len(x)} values, {path.stat().st_size} B")


def eigen_inputs(seed):
    """Values across each function's branches: wide, near 0, the erfc/tanh/logistic cutoffs,
    and the special values."""
    rng = np.random.default_rng([7, 3, seed])
    parts = [rng.uniform(-12.0, 12.0, 6000), rng.uniform(-1.5, 1.5, 2000),
             rng.normal(0.0, 3.0, 2000), rng.uniform(-120.0, 30.0, 1000),
             np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 30.0, -30.0, 100.0,
                       -100.0, -104.5, 16.6355324, 7.90738964, -7.90738964, 1.41421356,
                       -1.41421356, 15.5563492, -15.5563492])]
    return np.concatenate(parts).astype(np.float32)


def run_float(fn, x, resolver, tf_interpreter=False):
    model = float_model(fn, [[len(x)]])
    if tf_interpreter:
        it = tf.lite.Interpreter(
            model_content=model, num_threads=4,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType[resolver])
    else:
        it = Interpreter(model_content=model,
                         experimental_op_resolver_type=OpResolverType[resolver])
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).copy()


def gelu_exact(t):
    return tf.nn.gelu(t, approximate=False)


def gelu_approximate(t):
    return tf.nn.gelu(t, approximate=True)


def float_gelu():
    """LiteRT's float GELU (both forms, BUILTIN_REF): Eigen's erfc/tanh, bit for bit."""
    x = eigen_inputs(3)
    y = run_float(gelu_exact, x, "BUILTIN_REF")
    ya = run_float(gelu_approximate, x, "BUILTIN_REF")
    path = OUT / "gelu_float32.npz"
    npz_fixed.write_npz(path, {"inputs": x, "exact": y, "approximate": ya},
                        lambda k: ["inputs", "exact", "approximate"].index(k))
    print(f"[ok] {path.name}: {len(x)} values, {path.stat().st_size} B")


def converter_eigen():
    """The converter's calibrator (TF's own interpreter, optimized kernels, 4 threads) on
    float GELU, LOGISTIC and TANH: Eigen's packet forms as TF's wheel builds them. GELU's
    erfc uses this CPU's rcpps (see src/reference/eigen_math.rs)."""
    x = eigen_inputs(4)
    r = "BUILTIN_WITHOUT_DEFAULT_DELEGATES"
    out = {"inputs": x,
           "gelu": run_float(gelu_exact, x, r, tf_interpreter=True),
           "logistic": run_float(tf.math.sigmoid, x, r, tf_interpreter=True),
           "tanh": run_float(tf.math.tanh, x, r, tf_interpreter=True)}
    path = OUT / "eigen_float32.npz"
    keys = list(out)
    npz_fixed.write_npz(path, out, keys.index)
    print(f"[ok] {path.name}: {len(x)} values, {path.stat().st_size} B")


if __name__ == "__main__":
    if sys.argv[1:] == ["--eigen"]:
        float_gelu()
        converter_eigen()
        sys.exit(0)
    float_gelu()
    converter_eigen()
    float_logistic()
    float_log()
    sys.exit(main())
