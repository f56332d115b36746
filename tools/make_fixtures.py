#!/usr/bin/env python3
"""Generate the committed test fixtures in tests/fixtures/.

Run from the repository root:

    tools/.venv/bin/python tools/make_fixtures.py

Everything is deterministic (fixed seeds, op determinism, single-threaded TF and
LiteRT); running it twice with the same pinned packages (tools/setup_venv.sh)
produces byte-identical files. No network access is needed: the training data
is scikit-learn's bundled `load_digits` (8x8 grey images, 10 classes).

Outputs (all small):
  digits_calib.npy          float32 [100,8,8,1]: first 100 training samples,
                            the representative (calibration) set used for the
                            int8 variants (the mlp reshapes them to [1,64]).
  digits_holdout.npz        x: float32 [200,8,8,1], y: int64 [200] labels.
  {cnn,mlp}_{float32,dynamic,int8,int8_only,float16}.tflite
                            written by the real TF converter, batch 1.
  custom_op.tflite          a CUSTOM op (Cumprod) emitted with allow_custom_ops.
  deprecated_opcodes.tflite cnn_float32 rewritten so every OperatorCode sets only
                            deprecated_builtin_code (builtin_code left at 0).
  golden/NAME.npz           LiteRT BUILTIN_REF outputs for 4 held-out samples:
                            input_K, output_K stacked on a leading axis of 4;
                            for *_int8 and *_int8_only also every non-constant
                            tensor as t{index} (same stacking).
  fixtures.json             manifest (tensors, dtypes, shapes, quantization,
                            op histograms, goldens, sizes, sha256).
"""

import os

# Determinism and quiet logs: must be set before TensorFlow is imported.
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
import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import flatbuffers

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "tests" / "fixtures"

SEED = 1234
N_HOLDOUT = 200
N_CALIB = 100
GOLDEN_SAMPLES = [0, 1, 2, 3]  # indices into the held-out set
VARIANTS = ["float32", "dynamic", "int8", "int8_only", "float16"]

BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items()
                 if not k.startswith("_") and isinstance(v, int)}
TENSOR_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items()
                     if not k.startswith("_") and isinstance(v, int)}


def set_determinism():
    tf.keras.utils.set_random_seed(SEED)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------- data

def load_data():
    digits = load_digits()
    x = (digits.images.astype(np.float32) / np.float32(16.0)).reshape(-1, 8, 8, 1)
    y = digits.target.astype(np.int64)
    perm = np.random.default_rng(SEED).permutation(len(x))
    x, y = x[perm], y[perm]
    x_train, y_train = x[:-N_HOLDOUT], y[:-N_HOLDOUT]
    x_hold, y_hold = x[-N_HOLDOUT:], y[-N_HOLDOUT:]
    assert x_hold.shape == (N_HOLDOUT, 8, 8, 1)
    return x_train, y_train, x_hold, y_hold


# --------------------------------------------------------------------------- models

def build_cnn(batch_size=None):
    L = tf.keras.layers
    inp = tf.keras.Input(shape=(8, 8, 1), batch_size=batch_size, name="image")
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="conv")(inp)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu6", name="dwconv")(x)
    x = L.MaxPooling2D(2, name="maxpool")(x)                         # 4x4x16
    x = L.AveragePooling2D(2, strides=1, padding="valid", name="avgpool")(x)  # 3x3x16
    x = L.Flatten(name="flatten")(x)                                 # 144
    out = L.Dense(10, activation="softmax", name="fc")(x)            # 1440 weights
    return tf.keras.Model(inp, out, name="cnn")


def build_mlp(batch_size=None):
    L = tf.keras.layers
    inp = tf.keras.Input(shape=(64,), batch_size=batch_size, name="pixels")
    x = L.Dense(128, activation="relu", name="fc1")(inp)             # 8192 weights
    out = L.Dense(10, activation="softmax", name="fc2")(x)           # 1280 weights
    return tf.keras.Model(inp, out, name="mlp")


MODELS = {
    # name: (builder, input name, per-sample input shape, epochs)
    "cnn": (build_cnn, "image", (8, 8, 1), 12),
    "mlp": (build_mlp, "pixels", (64,), 20),
}


def train(name, x_train, y_train, x_hold, y_hold):
    builder, _, in_shape, epochs = MODELS[name]
    set_determinism()
    model = builder()
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2 if name == "cnn" else 3e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    xt = x_train.reshape((-1,) + in_shape)
    xh = x_hold.reshape((-1,) + in_shape)
    model.fit(xt, y_train, batch_size=32, epochs=epochs, shuffle=True, verbose=0)
    _, acc = model.evaluate(xh, y_hold, verbose=0)
    print(f"[train] {name}: held-out accuracy {acc:.4f}")
    return model, float(acc)


def batch1_copy(model, name):
    """Same architecture with the batch dimension fixed to 1, same weights."""
    builder = MODELS[name][0]
    m1 = builder(batch_size=1)
    m1.set_weights(model.get_weights())
    return m1


def convert(model, name, variant, calib):
    _, input_name, in_shape, _ = MODELS[name]
    conv = tf.lite.TFLiteConverter.from_keras_model(batch1_copy(model, name))

    def rep_data():
        for i in range(calib.shape[0]):
            yield [calib[i:i + 1].reshape((1,) + in_shape)]

    if variant == "float32":
        pass
    elif variant == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep_data
    elif variant == "int8_only":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep_data
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    elif variant == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    else:
        raise ValueError(variant)
    # from_keras_model exports a temporary SavedModel and prints a summary of it.
    with contextlib.redirect_stdout(io.StringIO()):
        return conv.convert()


def make_custom_op_model():
    """A tiny graph with a TF op that has no TFLite builtin (Cumprod).

    With allow_custom_ops and without SELECT_TF_OPS the converter emits it as
    a CUSTOM operator: custom_code b"Cumprod" and custom_options holding a
    flexbuffer map of the node attributes (T, Tidx, exclusive, reverse).
    """
    rng = np.random.default_rng(SEED + 7)
    w = tf.constant(rng.standard_normal((8, 4)).astype(np.float32))
    b = tf.constant(rng.standard_normal((4,)).astype(np.float32))

    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec((1, 8), tf.float32, name="x")])
    def serve(x):
        y = tf.math.cumprod(x, axis=1, exclusive=True)
        return {"y": tf.nn.relu(tf.matmul(y, w) + b)}

    module.serve = serve
    conv = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], module)
    conv.allow_custom_ops = True
    return conv.convert()


class AlignedBuilder(flatbuffers.Builder):
    """Builder that 16-byte aligns uint8 vectors (Buffer.data), as TFLite's own
    writer does (`force_align: 16` in the schema); the Python object API would
    otherwise align them to 1."""

    def CreateNumpyVector(self, x):
        if x.dtype == np.uint8 and x.ndim == 1:
            self.StartVector(1, x.size, 16)
            payload = x.tobytes()
            self.head = self.head - len(payload)
            self.Bytes[self.head:self.head + len(payload)] = payload
            self.vectorNumElems = x.size
            return self.EndVector()
        return super().CreateNumpyVector(x)


def make_deprecated_opcodes(buf):
    m = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    for oc in m.operatorCodes:
        code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
        assert code < 127, f"op code {code} does not fit deprecated_builtin_code"
        oc.deprecatedBuiltinCode = code
        oc.builtinCode = 0  # default: not written by the builder
    b = AlignedBuilder(len(buf) + 1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    out = bytes(b.Output())
    # Check it really carries only the deprecated field.
    m2 = schema.Model.GetRootAs(out, 0)
    for i in range(m2.OperatorCodesLength()):
        oc = m2.OperatorCodes(i)
        assert oc.BuiltinCode() == 0 and oc.DeprecatedBuiltinCode() > 0
    return out


# --------------------------------------------------------------------------- inspection

def parse_model(buf):
    return schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)


def opcode_name(oc):
    code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
    if code == schema.BuiltinOperator.CUSTOM:
        return "CUSTOM:" + bytes(oc.customCode).decode()
    return BUILTIN_NAMES.get(code, str(code))


def schema_op_histogram(m):
    hist = collections.Counter()
    for sg in m.subgraphs:
        for op in sg.operators:
            hist[opcode_name(m.operatorCodes[op.opcodeIndex])] += 1
    return dict(sorted(hist.items()))


def constant_tensors(m):
    sg = m.subgraphs[0]
    consts = set()
    for i, t in enumerate(sg.tensors):
        buf = m.buffers[t.buffer] if t.buffer < len(m.buffers) else None
        if t.buffer != 0 and buf is not None and buf.data is not None and len(buf.data) > 0:
            consts.add(i)
    return consts


def weight_summary(m):
    """Types of the constant tensors consumed by each op (for the report)."""
    sg = m.subgraphs[0]
    consts = constant_tensors(m)
    rows = []
    for op in sg.operators:
        name = opcode_name(m.operatorCodes[op.opcodeIndex])
        ins = []
        for ti in (op.inputs if op.inputs is not None else []):
            if ti >= 0 and ti in consts:
                t = sg.tensors[ti]
                shape = [int(s) for s in t.shape] if t.shape is not None else []
                ins.append(f"{TENSOR_TYPE_NAMES[t.type]}{shape}")
        rows.append((name, ins))
    return rows


def make_interpreter(path, ref=True):
    kw = dict(model_path=str(path), num_threads=1, experimental_preserve_all_tensors=True)
    if ref:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_REF
    return Interpreter(**kw)


def interp_op_histogram(it):
    hist = collections.Counter(d["op_name"] for d in it._get_ops_details())
    return dict(sorted(hist.items()))


def quant_info(d):
    qp = d["quantization_parameters"]
    scales = [float(s) for s in np.asarray(qp["scales"]).ravel()]
    zps = [int(z) for z in np.asarray(qp["zero_points"]).ravel()]
    return {"scale": scales[0] if len(scales) == 1 else scales,
            "zero_point": zps[0] if len(zps) == 1 else zps,
            "quantized_dimension": int(qp["quantized_dimension"])} if scales else None


def tensor_info(d):
    return {"name": d["name"], "index": int(d["index"]),
            "dtype": np.dtype(d["dtype"]).name,
            "shape": [int(s) for s in d["shape"]],
            "quantization": quant_info(d)}


def to_input_dtype(x, d):
    """Float sample -> the input tensor's dtype (quantized for int8/uint8)."""
    dt = np.dtype(d["dtype"])
    x = x.reshape(d["shape"])
    if dt == np.float32:
        return x.astype(np.float32)
    scale, zp = d["quantization"]
    info = np.iinfo(dt)
    q = np.round(x / np.float32(scale)) + zp
    return np.clip(q, info.min, info.max).astype(dt)


def run_goldens(path, samples, keep_tensors, ref=True):
    """Run `samples` (float, [N,...]) one at a time; return dict of stacked arrays."""
    it = make_interpreter(path, ref=ref)
    it.allocate_tensors()
    ins, outs = it.get_input_details(), it.get_output_details()
    assert len(ins) == 1, "fixtures have one input"
    acc = collections.defaultdict(list)
    skipped = set()
    for s in samples:
        x = to_input_dtype(s, ins[0])
        it.set_tensor(ins[0]["index"], x)
        it.invoke()
        acc["input_0"].append(x)
        for k, d in enumerate(outs):
            acc[f"output_{k}"].append(it.get_tensor(d["index"]).copy())
        for ti in keep_tensors:
            try:
                acc[f"t{ti}"].append(np.array(it.get_tensor(ti), copy=True))
            except Exception:
                skipped.add(ti)
    return {k: np.stack(v) for k, v in acc.items()
            if not (k.startswith("t") and int(k[1:]) in skipped)}, sorted(skipped)


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    out = args.out
    gold_dir = out / "golden"
    out.mkdir(parents=True, exist_ok=True)
    if gold_dir.exists():
        shutil.rmtree(gold_dir)
    gold_dir.mkdir()

    print(f"tensorflow {tf.__version__}, numpy {np.__version__}")
    set_determinism()
    x_train, y_train, x_hold, y_hold = load_data()
    calib = np.ascontiguousarray(x_train[:N_CALIB], dtype=np.float32)
    np.save(out / "digits_calib.npy", calib)
    np.savez_compressed(out / "digits_holdout.npz", x=x_hold, y=y_hold)

    fixtures = {}   # name -> (bytes, meta)
    accuracies = {}
    for name in MODELS:
        model, acc = train(name, x_train, y_train, x_hold, y_hold)
        accuracies[name] = acc
        for v in VARIANTS:
            fixtures[f"{name}_{v}"] = (convert(model, name, v, calib),
                                       {"model": name, "variant": v})
    fixtures["custom_op"] = (make_custom_op_model(),
                             {"model": "custom_op", "variant": "float32_custom"})
    fixtures["deprecated_opcodes"] = (make_deprecated_opcodes(fixtures["cnn_float32"][0]),
                                      {"model": "cnn", "variant": "float32_deprecated_opcodes",
                                       "derived_from": "cnn_float32.tflite"})

    golden_x = x_hold[GOLDEN_SAMPLES]
    manifest = {
        "generator": "tools/make_fixtures.py",
        "versions": {"tensorflow": tf.__version__, "numpy": np.__version__,
                     "ai_edge_litert": _pkg_version("ai-edge-litert"),
                     "scikit_learn": _pkg_version("scikit-learn")},
        "data": {
            "calib": {"file": "digits_calib.npy", "dtype": "float32",
                      "shape": list(calib.shape),
                      "note": "first 100 training samples (pixels/16); the representative "
                              "dataset of the int8 variants; mlp reshapes each to [1,64]"},
            "holdout": {"file": "digits_holdout.npz", "x_shape": list(x_hold.shape),
                        "y_dtype": "int64", "n": N_HOLDOUT},
            "golden_samples": GOLDEN_SAMPLES,
            "seed": SEED,
        },
        "keras_holdout_accuracy": accuracies,
        "fixtures": {},
    }

    print()
    for fname, (buf, meta) in fixtures.items():
        path = out / f"{fname}.tflite"
        path.write_bytes(buf)
        m = parse_model(buf)
        entry = {"file": path.name, **meta, "size": len(buf), "sha256": sha256(path),
                 "op_histogram": schema_op_histogram(m)}
        try:
            it = make_interpreter(path)
            it.allocate_tensors()
        except Exception as e:  # custom op: no kernel registered
            entry.update(runnable=False, litert_error=str(e).strip().splitlines()[0],
                         goldens=False)
            manifest["fixtures"][fname] = entry
            print(f"[load] {fname}: NOT runnable in LiteRT ({entry['litert_error']})")
            continue
        entry["runnable"] = True
        entry["interpreter_op_histogram"] = interp_op_histogram(it)
        entry["inputs"] = [tensor_info(d) for d in it.get_input_details()]
        entry["outputs"] = [tensor_info(d) for d in it.get_output_details()]

        keep = []
        if meta["variant"] in ("int8", "int8_only"):
            consts = constant_tensors(m)
            keep = [i for i in range(len(m.subgraphs[0].tensors)) if i not in consts]
        gold, skipped = run_goldens(path, golden_x, keep)
        # the default (optimized / XNNPACK) resolver, for information only
        gold_default, _ = run_goldens(path, golden_x, [], ref=False)
        same_default = all(np.array_equal(gold[k], gold_default[k])
                           for k in gold_default if k.startswith("output_"))
        np.savez_compressed(gold_dir / f"{fname}.npz", **gold)
        entry.update(goldens=True, golden_file=f"golden/{fname}.npz",
                     golden_keys=sorted(gold.keys(), key=_key_order),
                     golden_tensors_skipped=skipped,
                     default_resolver_outputs_equal_ref=same_default)
        if keep:
            sg = m.subgraphs[0]
            entry["golden_tensor_names"] = {
                f"t{i}": bytes(sg.tensors[i].name).decode() for i in keep if i not in skipped}
        # top-1 agreement with the labels on the golden samples, as a sanity check
        probs = gold["output_0"].reshape(len(GOLDEN_SAMPLES), -1)
        entry["golden_argmax"] = [int(a) for a in probs.argmax(axis=1)]
        manifest["fixtures"][fname] = entry
        print(f"[load] {fname}: ok, ops {entry['interpreter_op_histogram']}, "
              f"default==ref: {same_default}")

    # The deprecated-opcode rewrite must behave exactly like its source.
    g_src = np.load(gold_dir / "cnn_float32.npz")
    g_dep = np.load(gold_dir / "deprecated_opcodes.npz")
    assert set(g_src.files) == set(g_dep.files)
    for k in g_src.files:
        assert np.array_equal(g_src[k], g_dep[k]), f"deprecated_opcodes differs on {k}"
    print("[check] deprecated_opcodes.tflite == cnn_float32.tflite outputs (BUILTIN_REF)")
    manifest["golden_labels"] = [int(v) for v in y_hold[GOLDEN_SAMPLES]]

    with open(out / "fixtures.json", "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")

    # Dynamic-range check: which constant weights ended up int8?
    print("\n[weights] constant inputs per op (dynamic variants):")
    for fname in ("cnn_dynamic", "mlp_dynamic"):
        for name, ins in weight_summary(parse_model(fixtures[fname][0])):
            print(f"  {fname:12s} {name:18s} {', '.join(ins)}")

    print_sizes(out)


def _key_order(k):
    if k.startswith("t"):
        return (2, int(k[1:]), "")
    return (0 if k.startswith("input") else 1, int(k.split("_")[1]), k)


def _pkg_version(name):
    from importlib.metadata import version
    return version(name)


def print_sizes(out):
    print("\n[sizes]")
    total = 0
    for p in sorted(out.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            print(f"  {p.stat().st_size:8d}  {p.relative_to(out)}")
    print(f"  {total:8d}  total")


if __name__ == "__main__":
    sys.exit(main())
