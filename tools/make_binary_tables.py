#!/usr/bin/env python3
"""LiteRT's int8/uint8 results of DIV and SQUARED_DIFFERENCE over random input pairs, for
many quantization parameters (tests/fixtures/binary_tables/): the reference engine's
element functions (src/reference/binary) are compared with them value for value.

Run from the repository root:

    /work/venv/bin/python tools/make_binary_tables.py     # a few seconds, no network

For each op and dtype the real TF converter writes the float model of `x0 ∘ x1` on two
[1024] inputs; its three tensors are retyped to INT8/UINT8 with random (scale, zero point)
triples (scales over several decades, zero points at the type's edges among them), kept
only where LiteRT's Prepare accepts them (SQUARED_DIFFERENCE needs multipliers below 1),
and LiteRT's BUILTIN_REF kernels run them on 1024 random pairs (the type's edge values and
the zero points among them; DIV divisors equal to their zero point, which LiteRT refuses,
are moved one step).

Writes OP_DTYPE.npz: `params` float32 [N, 6] = (s1, zp1, s2, zp2, s_out, zp_out) with the
scales as stored, `a`, `b`, `outputs` [N, 1024] in the dtype. Deterministic.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import npz_fixed
from retype import float_model, int_type, qparams, retype

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "binary_tables"
N = 16      # parameter sets per (op, dtype)
PAIRS = 1024

OPS = {
    "div": (tf.math.divide, ("int8", "uint8")),
    "squared_difference": (tf.math.squared_difference, ("int8",)),
}


def retyped(buf, dtype, q, version):
    """q: {"x0" | "x1" | "out": (scale, zp)}."""
    def fn(i, t):
        name = bytes(t.name).decode()
        key = "x0" if "x0" in name else "x1" if "x1" in name else "out"
        t.type = int_type(dtype)
        t.quantization = qparams(*q[key])
    return retype(buf, fn, version=version)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"tensorflow {tf.__version__}")
    for name, (fn, dtypes) in OPS.items():
        base = float_model(fn, [[PAIRS], [PAIRS]])
        for dtype in dtypes:
            rng = np.random.default_rng([11, sum(map(ord, name + dtype))])
            info = np.iinfo(dtype)
            lo, hi = int(info.min), int(info.max)
            params, avs, bvs, outs = [], [], [], []
            tries = 0
            while len(params) < N:
                tries += 1
                assert tries < 50 * N, "too many parameter sets refused"
                k = len(params)

                def qp(decades):
                    s = np.float32(10.0 ** rng.uniform(*decades))
                    z = [lo, hi, (lo + hi) // 2, int(rng.integers(lo, hi + 1))][
                        int(rng.integers(0, 4))]
                    return s, z
                q = {"x0": qp((-3, 0)), "x1": qp((-3, 0)), "out": qp((-3, 0.5))}
                if name == "squared_difference":
                    m = max(q["x0"][0], q["x1"][0])
                    bound = 4.0 * float(m) * float(m) / 16384.0
                    q["out"] = (np.float32(bound * 10.0 ** rng.uniform(0.01, 2.5)), q["out"][1])
                a = rng.integers(lo, hi + 1, size=PAIRS)
                b = rng.integers(lo, hi + 1, size=PAIRS)
                a[:8] = [lo, hi, q["x0"][1], lo, hi, q["x0"][1], 0, 1]
                b[:8] = [lo, lo, lo, hi, hi, hi, q["x1"][1] + 1, 1]
                if name == "div":
                    z2 = q["x1"][1]
                    b = np.where(b == z2, z2 + 1 if z2 < hi else z2 - 1, b)
                a, b = a.astype(dtype), b.astype(dtype)
                version = 2 if (name == "squared_difference") else 1
                try:
                    it = Interpreter(model_content=retyped(base, dtype, q, version),
                                     experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
                    it.allocate_tensors()
                except (RuntimeError, ValueError):
                    continue  # LiteRT's Prepare refuses these parameters
                for d in it.get_input_details():
                    it.set_tensor(d["index"], a if "x0" in d["name"] else b)
                it.invoke()
                y = it.get_tensor(it.get_output_details()[0]["index"]).copy()
                params.append([float(q["x0"][0]), q["x0"][1], float(q["x1"][0]), q["x1"][1],
                               float(q["out"][0]), q["out"][1]])
                avs.append(a)
                bvs.append(b)
                outs.append(y)
            path = OUT / f"{name}_{dtype}.npz"
            npz_fixed.write_npz(path, {"params": np.array(params, np.float32),
                                       "a": np.stack(avs), "b": np.stack(bvs),
                                       "outputs": np.stack(outs)},
                                lambda key: ["params", "a", "b", "outputs"].index(key))
            print(f"[ok] {path.name}: {N} parameter sets ({tries} tried), "
                  f"{path.stat().st_size} B")


if __name__ == "__main__":
    sys.exit(main())
