#!/usr/bin/env python3
"""Converter pairs for selective quantization (`keep_float`) and float islands in int8 mode
(tests/fixtures/selective/). Run from the repository root:

    tools/.venv/bin/python tools/make_selective_pairs.py            # ~30 s, no network
    git diff --stat tests/fixtures/selective                         # empty with the pinned venv
    cargo build --release && \\
    tools/.venv/bin/python tools/make_selective_pairs.py --verify-ours target/release/litequant

Two small float models made with `TFLiteConverter.from_concrete_functions` (numpy constants
inside a `tf.function`, batch 1, input `x0`):

  cnn  CONV_2D(relu) -> CONV_2D(relu) -> DEPTHWISE_CONV_2D(relu6) -> AVERAGE_POOL_2D
       -> RESHAPE -> FULLY_CONNECTED(relu) -> FULLY_CONNECTED -> SOFTMAX
  res  a = CONV_2D(relu)(x); s = ADD(a, CONV_2D(a)); MUL(MAX_POOL_2D(s), MEAN(s))
       -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX       (s and a have two readers each)
  mix  CONV_2D(relu) -> ADD(constant) -> STRIDED_SLICE -> RESHAPE -> FULLY_CONNECTED
       -> SOFTMAX                                     (int32 and float constants)
  nob  FULLY_CONNECTED(no bias, relu) -> FULLY_CONNECTED -> SOFTMAX

Per case the converter's int8 model (float I/O, `Optimize.DEFAULT`, the same 20
representative samples): `int8` is the plain converter; the `kf_*` cases go through
`tf.lite.experimental.QuantizationDebugger(converter=...)` with
`QuantizationDebugOptions(denylisted_nodes=[output tensor names])` or `denylisted_ops=[builtin
names]`, then `get_nondebug_quantized_model()` (TF 2.21 offers selective quantization only
there: `convert.mlir_quantize(calibrated, denylisted_ops=, denylisted_nodes=)`; the plain
converter calls the same `mlir_quantize` without the lists). Checked here: the debugger's
model without a denylist equals the plain converter's except for the metadata (the
debugger returns `mlir_quantize`'s output as is: the calibrated model's CONVERSION_METADATA,
whose model hash is the float model's, written before `min_runtime_version`).

Files (NAME = MODEL_CASE):
  MODEL_f32.tflite      the float model
  MODEL.calib.npz       `x0` float32 [20, *input shape]: the samples the converter consumed,
                        recorded as the representative dataset handed them over (the same
                        for every case, asserted)
  NAME.tflite           the converter's model
  NAME.npz              LiteRT BUILTIN_REF on 3 held-out samples (batch 1, stacked):
                        input_0, output_0, t{index} for every non-constant tensor
  manifest.json         per case: files, `keep_float` (what litequant is given), the
                        converter options, ops with versions, float ops, default-kernel diff
  subsets.json          the converter's layout (tensor names and dtypes in order, ops) for
                        every set of one or two ops of cnn, res and mix kept float
  verify_ours.json      (--verify-ours) litequant's own outputs in stock LiteRT
Deterministic (fixed seeds, single-threaded TF/LiteRT, fixed zip timestamps).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["PYTHONHASHSEED"] = "0"
os.environ["TF_DETERMINISTIC_OPS"] = "1"
os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

import argparse
import contextlib
import hashlib
import io
import itertools
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

import npz_fixed
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

warnings.filterwarnings("ignore")
REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "selective"
N_CALIB, N_GOLDEN = 20, 3
BUILTIN = {v: k for k, v in vars(schema.BuiltinOperator).items()
           if not k.startswith("_") and isinstance(v, int)}
TTYPE = {v: k for k, v in vars(schema.TensorType).items()
         if not k.startswith("_") and isinstance(v, int)}


def w(rng, shape, scale):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def cnn_model():
    r = np.random.default_rng(5)
    W1, B1 = w(r, (3, 3, 3, 4), 0.4), w(r, (4,), 0.2)
    W2, B2 = w(r, (3, 3, 4, 4), 0.3), w(r, (4,), 0.2)
    W3, B3 = w(r, (3, 3, 4, 1), 0.4), w(r, (4,), 0.2)
    W4, B4 = w(r, (36, 12), 0.2), w(r, (12,), 0.2)
    W5, B5 = w(r, (12, 5), 0.4), w(r, (5,), 0.2)

    def f(x):
        y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, W1, 1, "SAME"), B1))
        y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(y, W2, 1, "SAME"), B2))
        y = tf.nn.relu6(tf.nn.bias_add(tf.nn.depthwise_conv2d(y, W3, [1, 1, 1, 1], "SAME"), B3))
        y = tf.reshape(tf.nn.avg_pool2d(y, 2, 2, "VALID"), [1, 36])
        y = tf.nn.relu(tf.matmul(y, W4) + B4)
        return tf.nn.softmax(tf.matmul(y, W5) + B5)
    return f, (1, 6, 6, 3), (-1.0, 1.5)


def res_model():
    r = np.random.default_rng(6)
    W1, B1 = w(r, (3, 3, 4, 4), 0.4), w(r, (4,), 0.2)
    W2, B2 = w(r, (3, 3, 4, 4), 0.3), w(r, (4,), 0.2)
    W3, B3 = w(r, (36, 5), 0.3), w(r, (5,), 0.2)

    def f(x):
        a = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, W1, 1, "SAME"), B1))
        s = a + tf.nn.bias_add(tf.nn.conv2d(a, W2, 1, "SAME"), B2)
        y = tf.nn.max_pool2d(s, 2, 2, "VALID") * tf.reduce_mean(s, [1, 2], keepdims=True)
        return tf.nn.softmax(tf.matmul(tf.reshape(y, [1, 36]), W3) + B3)
    return f, (1, 6, 6, 4), (-1.2, 1.8)


def mix_model():
    r = np.random.default_rng(9)
    W1, B1 = w(r, (3, 3, 3, 4), 0.4), w(r, (4,), 0.2)
    C = w(r, (4,), 0.5)
    W3, B3 = w(r, (16, 5), 0.3), w(r, (5,), 0.2)

    def f(x):
        y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, W1, 1, "SAME"), B1)) + C
        y = tf.strided_slice(y, [0, 1, 1, 0], [1, 5, 5, 4], [1, 2, 2, 1])
        return tf.nn.softmax(tf.matmul(tf.reshape(y, [1, 16]), W3) + B3)
    return f, (1, 6, 6, 3), (-1.0, 1.5)


def nob_model():
    r = np.random.default_rng(10)
    W1, W2, B2 = w(r, (8, 6), 0.4), w(r, (6, 4), 0.4), w(r, (4,), 0.2)

    def f(x):
        return tf.nn.softmax(tf.matmul(tf.nn.relu(tf.matmul(x, W1)), W2) + B2)
    return f, (1, 8), (-1.0, 1.5)


MODELS = {"cnn": cnn_model, "res": res_model, "mix": mix_model, "nob": nob_model}

# (model, case, denylist kind, what: output tensor names are looked up by op position in
# the float model ("op:K") or given as builtin names). "int8": the plain converter.
CASES = [
    ("cnn", "int8", None, []),
    ("cnn", "kf_conv", "nodes", ["op:1"]),            # the middle CONV_2D
    ("cnn", "kf_fc", "nodes", ["op:5"]),              # the first FULLY_CONNECTED
    ("cnn", "kf_conv_fc", "nodes", ["op:1", "op:5"]),
    ("cnn", "kf_softmax", "nodes", ["op:7"]),         # the op writing the model output
    ("cnn", "kf_op_conv", "ops", ["CONV_2D"]),        # both convolutions, the first on x0
    ("cnn", "kf_op_fc", "ops", ["FULLY_CONNECTED"]),
    ("res", "int8", None, []),
    ("res", "kf_add", "nodes", ["op:2"]),             # ADD: both inputs int8 elsewhere too
    ("res", "kf_pool", "nodes", ["op:3"]),            # MAX_POOL_2D (same-scale op)
    ("res", "kf_mean", "nodes", ["op:4"]),            # MEAN feeding MUL
    ("cnn", "kf_reshape", "nodes", ["op:4"]),         # RESHAPE (same-scale, honoured)
    ("mix", "int8", None, []),
    ("mix", "kf_conv", "nodes", ["op:0"]),            # the first op, on x0
    ("mix", "kf_add", "nodes", ["op:1"]),             # ADD with a float constant
    ("mix", "kf_add_fc", "nodes", ["op:1", "op:4"]),
    ("mix", "kf_slice", "nodes", ["op:2"]),           # STRIDED_SLICE on an int8 input
    ("nob", "int8", None, []),
    ("nob", "kf_fc", "nodes", ["op:0"]),              # FULLY_CONNECTED without bias
]


def set_determinism():
    tf.keras.utils.set_random_seed(4321)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()


def samples(model, n, seed):
    _, shape, (lo, hi) = MODELS[model]()
    rng = np.random.default_rng(seed)
    return rng.uniform(lo, hi, size=(n,) + shape).astype(np.float32)


def converter(model, quantize, record=None):
    set_determinism()
    fn, shape, _ = MODELS[model]()
    module = tf.Module()
    module.f = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32, name="x0")])
    conv = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.f.get_concrete_function()], module)
    if quantize:
        calib = samples(model, N_CALIB, 1)

        def rep():
            passes = []
            if record is not None:
                record.append(passes)
            for x in calib:
                passes.append(np.array(x, copy=True))
                yield {"x0": x}
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
    return conv


def quiet(f, *a, **k):
    with contextlib.redirect_stdout(io.StringIO()):
        return f(*a, **k)


def debugger_model(model, kind, names, record):
    opts = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_nodes=names if kind == "nodes" else None,
        denylisted_ops=names if kind == "ops" else None)
    dbg = quiet(tf.lite.experimental.QuantizationDebugger,
                converter=converter(model, True, record),
                debug_dataset=lambda: iter([]), debug_options=opts)
    return quiet(dbg.get_nondebug_quantized_model)


def load(b):
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(b, 0))


def op_list(b):
    m = load(b)
    sg = m.subgraphs[0]
    out = []
    for o in sg.operators:
        oc = m.operatorCodes[o.opcodeIndex]
        name = BUILTIN[max(oc.builtinCode, oc.deprecatedBuiltinCode)]
        types = [TTYPE[sg.tensors[i].type] for i in o.outputs]
        outs = [sg.tensors[i].name.decode() for i in o.outputs]
        out.append({"op": name, "version": oc.version, "outputs": outs, "output_types": types})
    return out


def without_metadata(b):
    """The model with the metadata entries (and their buffers) dropped, packed again."""
    import flatbuffers
    m = load(b)
    drop = {e.buffer for e in m.metadata or []}
    keep = [i for i in range(len(m.buffers)) if i not in drop]
    remap = {old: new for new, old in enumerate(keep)}
    m.buffers = [m.buffers[i] for i in keep]
    for sg in m.subgraphs:
        for t in sg.tensors:
            t.buffer = remap[t.buffer]
    m.metadata = None
    fb = flatbuffers.Builder(0)
    fb.Finish(m.Pack(fb), file_identifier=b"TFL3")
    return bytes(fb.Output())


def interpreter(path, ref=True):
    kw = dict(model_path=str(path), num_threads=1, experimental_preserve_all_tensors=True)
    if ref:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_REF
    it = Interpreter(**kw)
    it.allocate_tensors()
    return it


def run(path, xs, ref=True, keep=()):
    it = interpreter(path, ref)
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    acc = {"input_0": [], "output_0": []}
    for x in xs:
        it.set_tensor(i["index"], x)
        it.invoke()
        acc["input_0"].append(x)
        acc["output_0"].append(it.get_tensor(o["index"]).copy())
        for t in keep:
            acc.setdefault(f"t{t}", []).append(np.array(it.get_tensor(t), copy=True))
    return {k: np.stack(v) for k, v in acc.items()}


def computed_tensors(b):
    sg = load(b).subgraphs[0]
    return sorted({t for o in sg.operators for t in o.outputs} | set(sg.inputs))


def key_order(k):
    return (2, int(k[1:])) if k.startswith("t") else (0 if k.startswith("input") else 1, 0)


def write_npz(path, arrays):
    """np.savez_compressed with a fixed zip timestamp (byte-reproducible)."""
    npz_fixed.write_npz(path, arrays, key_order)


def max_abs(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def make(out):
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"generator": "tools/make_selective_pairs.py",
                "tensorflow": tf.__version__, "cases": {}}
    floats, recorded = {}, {}
    for model in MODELS:
        b = quiet(converter(model, False).convert)
        (out / f"{model}_f32.tflite").write_bytes(b)
        floats[model] = b
    for model, case, kind, what in CASES:
        name = f"{model}_{case}"
        fops = op_list(floats[model])
        names = [fops[int(x[3:])]["outputs"][0] if x.startswith("op:") else x for x in what]
        record = []
        if kind is None:
            b = quiet(converter(model, True, record).convert)
            plain = b
            # The debugger without a denylist: the same model but for the metadata.
            again = debugger_model(model, "nodes", [], [])
            assert without_metadata(again) == without_metadata(plain), name
        else:
            b = debugger_model(model, kind, names, record)
        assert len(record) == 1 and len(record[0]) == N_CALIB, (name, len(record))
        calib = np.stack(record[0])
        if model in recorded:
            assert np.array_equal(recorded[model], calib), name
        else:
            recorded[model] = calib
            write_npz(out / f"{model}.calib.npz", {"x0": calib})
        path = out / f"{name}.tflite"
        path.write_bytes(b)
        xs = samples(model, N_GOLDEN, 2)
        gold = run(path, xs, True, computed_tensors(b))
        write_npz(out / f"{name}.npz", gold)
        dflt = run(path, xs, False)
        ops = op_list(b)
        manifest["cases"][name] = {
            "model": model, "file": path.name, "float_file": f"{model}_f32.tflite",
            "calib_file": f"{model}.calib.npz", "golden_file": f"{name}.npz",
            "keep_float": names,
            "converter": ("TFLiteConverter.convert()" if kind is None else
                          f"QuantizationDebugger(denylisted_{kind}={names})"
                          ".get_nondebug_quantized_model()"),
            "ops": [f"{o['op']}/v{o['version']}" for o in ops],
            "float_ops": [o["op"] for o in ops if o["op"] not in ("QUANTIZE", "DEQUANTIZE")
                          and o["output_types"][0] == "FLOAT32"],
            "default_resolver_max_abs_diff": max_abs(dflt["output_0"], gold["output_0"]),
            "sha256": hashlib.sha256(b).hexdigest(),
        }
        print(name, " ".join(manifest["cases"][name]["ops"]))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    make_subsets(out, floats)


def make_subsets(out, floats):
    """subsets.json: for every set of one or two ops (all but the last) of cnn, res and mix
    kept float through the debugger, the converter's layout only: tensor names in order
    with their dtypes, and the operators with their output dtype (the same calibration
    samples as the cases)."""
    rows = []
    for model in ("cnn", "res", "mix"):
        fops = op_list(floats[model])
        for r in (1, 2):
            for sub in itertools.combinations(range(len(fops) - 1), r):
                names = [fops[i]["outputs"][0] for i in sub]
                b = debugger_model(model, "nodes", names, [])
                sg = load(b).subgraphs[0]
                rows.append({
                    "model": model, "keep_float": names,
                    "tensors": [[t.name.decode(), TTYPE[t.type]] for t in sg.tensors],
                    "ops": [[o["op"], o["output_types"][0]] for o in op_list(b)],
                })
    (out / "subsets.json").write_text(
        "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    print(f"subsets.json: {len(rows)} converter models")


def verify_ours(out, binary):
    """litequant's models of every case: load and run in stock LiteRT (reference and
    default kernels), outputs against the converter's model on the golden inputs."""
    manifest = json.loads((out / "manifest.json").read_text())
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, c in manifest["cases"].items():
            ours = Path(tmp) / f"{name}.tflite"
            calib = Path(tmp) / f"{c['model']}.npy"
            np.save(calib, np.load(out / c["calib_file"])["x0"])
            args = [binary, "quantize", out / c["float_file"], "-o", ours, "--calib", calib]
            for k in c["keep_float"]:
                args += ["--keep-float", k]
            subprocess.run(args, check=True, capture_output=True)
            gold = np.load(out / c["golden_file"])
            xs = gold["input_0"]
            ref = run(ours, xs, True)["output_0"]
            dflt = run(ours, xs, False)["output_0"]
            theirs = gold["output_0"]
            rows[name] = {
                "loads_and_runs_in_litert_ref_and_default": True,
                "ours_ref_vs_converter_ref_max_abs_diff": max_abs(ref, theirs),
                "ours_ref_equals_converter_ref": bool(np.array_equal(ref, theirs)),
                "ours_default_vs_ours_ref_max_abs_diff": max_abs(dflt, ref),
                "same_ops": op_list(ours.read_bytes()) == op_list(
                    (out / c["file"]).read_bytes()),
            }
            print(name, json.dumps(rows[name]))
    (out / "verify_ours.json").write_text(json.dumps(rows, indent=1) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--verify-ours", metavar="LITEQUANT_BINARY",
                    help="only check litequant's outputs against the committed pairs")
    a = ap.parse_args()
    if a.verify_ours:
        verify_ours(a.out, a.verify_ours)
    else:
        make(a.out)


if __name__ == "__main__":
    sys.exit(main())
