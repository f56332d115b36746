#!/usr/bin/env python3
"""End-to-end check on a realistic network, too big to commit as a fixture.

    cargo build --release
    tools/.venv/bin/python tools/check_mobilenet.py [--out DIR]

Builds a Keras MobileNetV2 (alpha 0.35, 96x96x3, 10 classes; seeded random
weights with data-dependent BatchNorm statistics, so activations keep a sane
scale through all 17 blocks), converts it with the TF 2.21 converter to float
and to full integer (int8, float I/O) on 16 representative samples, runs
`litequant quantize` on the float file with the same samples (.npy), and
compares litequant's model with the converter's: every tensor by name (dtype,
scales as float32 bits, zero points, constant data) and the outputs of both in
stock LiteRT (BUILTIN_REF and default kernels) on the 16 samples. Prints one
JSON object; exits 1 if anything differs. Files go to DIR (default: a
temporary folder).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

warnings.filterwarnings("ignore")
ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "litequant"


def build(out):
    tf.keras.utils.set_random_seed(7)
    m = tf.keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35,
                                          weights=None, classes=10)
    rng = np.random.default_rng(0)
    calib = rng.uniform(-1, 1, (16, 96, 96, 3)).astype(np.float32)
    for layer in m.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            h = tf.keras.Model(m.input, layer.input)(calib, training=False).numpy()
            axes = tuple(range(h.ndim - 1))
            c = h.shape[-1]
            layer.set_weights([
                rng.uniform(0.5, 1.5, c).astype(np.float32),
                rng.uniform(-0.3, 0.3, c).astype(np.float32),
                h.mean(axis=axes).astype(np.float32),
                (h.var(axis=axes) + 1e-3).astype(np.float32),
            ])
    np.save(out / "calib.npy", calib)
    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    (out / "float.tflite").write_bytes(conv.convert())

    def rep():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    (out / "converter_int8.tflite").write_bytes(conv.convert())
    return calib


def load(p):
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(p.read_bytes(), 0))


def compare(ours, theirs):
    a, b = load(ours), load(theirs)
    ta, tb = a.subgraphs[0].tensors, b.subgraphs[0].tensors
    named = {t.name: t for t in tb}
    diffs = []
    for t in ta:
        u = named.get(t.name)
        name = t.name.decode()
        if u is None:
            diffs.append(f"{name}: not in the converter's model")
            continue
        if t.type != u.type:
            diffs.append(f"{name}: dtype {t.type} vs {u.type}")
            continue
        qa, qb = t.quantization, u.quantization
        sa = None if qa is None or qa.scale is None else np.array(qa.scale, np.float32)
        sb = None if qb is None or qb.scale is None else np.array(qb.scale, np.float32)
        if (sa is None) != (sb is None) or (sa is not None and (
                sa.shape != sb.shape or not np.array_equal(sa.view(np.uint32), sb.view(np.uint32)))):
            diffs.append(f"{name}: scales differ")
        if sa is not None and list(qa.zeroPoint) != list(qb.zeroPoint):
            diffs.append(f"{name}: zero points differ")
        da, db = a.buffers[t.buffer].data, b.buffers[u.buffer].data
        if (da is None) != (db is None) or (da is not None and not np.array_equal(da, db)):
            diffs.append(f"{name}: data differs")
    return {"tensors": [len(ta), len(tb)],
            "operators": [len(a.subgraphs[0].operators), len(b.subgraphs[0].operators)],
            "differences": diffs}


def outputs(path, calib, resolver):
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    res = []
    for k in range(len(calib)):
        it.set_tensor(i, calib[k:k + 1])
        it.invoke()
        res.append(it.get_tensor(o).copy())
    return np.array(res)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=pathlib.Path)
    args = ap.parse_args()
    out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="litequant-mobilenet-"))
    out.mkdir(parents=True, exist_ok=True)
    calib = build(out)
    ours = out / "litequant_int8.tflite"
    run = subprocess.run([BIN, "quantize", out / "float.tflite", "-o", ours,
                          "--calib", out / "calib.npy"], capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        sys.exit(1)
    result = compare(ours, out / "converter_int8.tflite")
    ref = OpResolverType.BUILTIN_REF
    o_ours, o_theirs = outputs(ours, calib, ref), outputs(out / "converter_int8.tflite", calib, ref)
    o_default = outputs(ours, calib, OpResolverType.AUTO)
    result.update({
        "folder": str(out),
        "sizes": {p: (out / p).stat().st_size for p in
                  ("float.tflite", "converter_int8.tflite", "litequant_int8.tflite")},
        "litert_ref_outputs_identical": bool(np.array_equal(o_ours, o_theirs)),
        "litert_default_vs_ref_max_abs_diff": float(np.abs(o_default - o_ours).max()),
    })
    print(json.dumps(result, indent=1))
    ok = not result["differences"] and result["litert_ref_outputs_identical"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
