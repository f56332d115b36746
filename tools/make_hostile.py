#!/usr/bin/env python3
"""Hostile-but-valid models and data (issue 9, item 6), each checked against stock LiteRT.

Run from the repository root, after `cargo build --bin litequant`:

    /work/venv/bin/python tools/make_hostile.py [--litequant target/debug/litequant] [--only NAME...]

Every case is a small float (or already quantized) model built with TFLite's generated
Python schema, an input sample and, where it is quantized, calibration data. For each case:

1. LiteRT 2.3.0 (BUILTIN_REF) loads, allocates and invokes the model, in a forked child
   (LiteRT aborts or segfaults on some files): verdict `ok` (outputs saved as a golden),
   `refused` (its error) or `crashed` (the signal).
2. `litequant run` runs it: `ok` (its outputs must equal LiteRT's) or `error` (a clean error,
   exit status 1, whose message must contain the case's `run_error` needle). A case whose
   LiteRT verdict is `refused`/`crashed` must be an error here too.
3. Where the case quantizes: `litequant quantize --mode int8 --calib NAME.calib.npy`:
   `written` or `error` (the message must contain `quantize_error`). A written file is
   checked the same way: LiteRT must load and run it, `litequant run` must give LiteRT's
   outputs. A written file that LiteRT refuses is a failure of the generator (exit 1).

Everything goes to tests/fixtures/hostile/: NAME.tflite, NAME.in.npy, NAME.calib.npy,
NAME.npz (LiteRT's outputs on the float model, golden format of make_op_fixtures.py:
input_0, output_K on a leading sample axis), NAME.int8.tflite + NAME.int8.npz (the written
file LiteRT accepted, and its LiteRT outputs), and manifest.json with every verdict and
message, so tests/hostile_corpus.rs checks the same without Python: our errors, our outputs
against LiteRT's, and that `quantize` writes exactly the bytes LiteRT accepted.
"""

import argparse
import glob
import importlib.util
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import flatbuffers  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from npz_fixed import write_npz  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "hostile"


def load_schema():
    pats = [
        ROOT / "tools" / ".venv" / "lib" / "python3*" / "site-packages",
        Path(sys.prefix) / "lib" / "python3*" / "site-packages",
    ]
    for p in pats:
        hits = glob.glob(str(p / "tensorflow" / "lite" / "python" / "schema_py_generated.py"))
        if hits:
            spec = importlib.util.spec_from_file_location("tflite_schema", hits[0])
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    sys.exit("tensorflow's schema_py_generated.py not found: run tools/setup_venv.sh")


S = load_schema()
OP = S.BuiltinOperator
F32, I32, I8, U8 = S.TensorType.FLOAT32, S.TensorType.INT32, S.TensorType.INT8, S.TensorType.UINT8
NP = {F32: np.float32, I32: np.int32, I8: np.int8, U8: np.uint8}


class Graph:
    """One subgraph, built up tensor by tensor and op by op."""

    def __init__(self):
        self.tensors, self.buffers, self.ops, self.codes = [], [S.BufferT()], [], []
        self.buffer0 = None

    def tensor(self, name, shape, dtype=F32, data=None, scale=None, zp=None, buffer_data=None):
        t = S.TensorT()
        t.name, t.shape, t.type = name, list(shape), dtype
        raw = None
        if data is not None:
            raw = np.asarray(data, dtype=NP[dtype]).reshape(shape).tobytes()
        if buffer_data is not None:
            raw = buffer_data
        if raw is not None:
            b = S.BufferT()
            b.data = list(raw)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        if scale is not None:
            q = S.QuantizationParametersT()
            q.scale = list(np.atleast_1d(np.asarray(scale, np.float32)).tolist())
            q.zeroPoint = list(np.atleast_1d(np.asarray(zp if zp is not None else 0)).tolist())
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code, inputs, outputs, opt_type=0, opt=None):
        if code not in self.codes:
            self.codes.append(code)
        o = S.OperatorT()
        o.opcodeIndex = self.codes.index(code)
        o.inputs, o.outputs = list(inputs), list(outputs)
        o.builtinOptionsType, o.builtinOptions = opt_type, opt
        self.ops.append(o)

    def build(self, inputs, outputs):
        sg = S.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators = self.tensors, inputs, outputs, self.ops
        sg.name = "main"
        m = S.ModelT()
        m.version = 3
        m.description = "litequant tools/make_hostile.py"
        codes = []
        for c in self.codes:
            oc = S.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = c, min(c, 127), 1
            codes.append(oc)
        m.operatorCodes = codes
        m.subgraphs = [sg]
        if self.buffer0 is not None:
            self.buffers[0].data = list(self.buffer0)
        m.buffers = self.buffers
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def opts(cls, **kw):
    o = cls()
    for k, v in kw.items():
        setattr(o, k, v)
    return o


RNG = np.random.default_rng(20261203)


def rand(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


# ---------------------------------------------------------------- cases


def conv(kind, bias):
    """CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV with the bias
    `bias`: 'omitted' (input index -1), 'absent' (one input fewer) or 'present'."""
    g = Graph()
    if kind == "fc":
        x = g.tensor("x", [1, 6])
        w = g.tensor("w", [4, 6], data=rand(4, 6))
        b = g.tensor("b", [4], data=rand(4)) if bias == "present" else -1
        y = g.tensor("y", [1, 4])
        ins = [x, w] + ([b] if bias != "absent" else [])
        g.op(OP.FULLY_CONNECTED, ins, [y], S.BuiltinOptions.FullyConnectedOptions,
             opts(S.FullyConnectedOptionsT))
        return g.build([x], [y]), rand(1, 6), rand(8, 1, 6)
    x = g.tensor("x", [1, 5, 5, 3])
    if kind == "conv":
        w = g.tensor("w", [4, 3, 3, 3], data=rand(4, 3, 3, 3))
        y = g.tensor("y", [1, 5, 5, 4])
        b = g.tensor("b", [4], data=rand(4)) if bias == "present" else -1
        ins = [x, w] + ([b] if bias != "absent" else [])
        g.op(OP.CONV_2D, ins, [y], S.BuiltinOptions.Conv2DOptions,
             opts(S.Conv2DOptionsT, padding=S.Padding.SAME, strideW=1, strideH=1,
                  dilationWFactor=1, dilationHFactor=1))
    elif kind == "dw":
        w = g.tensor("w", [1, 3, 3, 3], data=rand(1, 3, 3, 3))
        y = g.tensor("y", [1, 5, 5, 3])
        b = g.tensor("b", [3], data=rand(3)) if bias == "present" else -1
        ins = [x, w] + ([b] if bias != "absent" else [])
        g.op(OP.DEPTHWISE_CONV_2D, ins, [y], S.BuiltinOptions.DepthwiseConv2DOptions,
             opts(S.DepthwiseConv2DOptionsT, padding=S.Padding.SAME, strideW=1, strideH=1,
                  depthMultiplier=1, dilationWFactor=1, dilationHFactor=1))
    else:  # transpose conv: inputs output_shape, weights, x[, bias]
        shape = g.tensor("shape", [4], I32, data=[1, 5, 5, 2])
        w = g.tensor("w", [2, 3, 3, 3], data=rand(2, 3, 3, 3))
        y = g.tensor("y", [1, 5, 5, 2])
        b = g.tensor("b", [2], data=rand(2)) if bias == "present" else -1
        ins = [shape, w, x] + ([b] if bias != "absent" else [])
        g.op(OP.TRANSPOSE_CONV, ins, [y], S.BuiltinOptions.TransposeConvOptions,
             opts(S.TransposeConvOptionsT, padding=S.Padding.SAME, strideW=1, strideH=1))
    return g.build([x], [y]), rand(1, 5, 5, 3), rand(8, 1, 5, 5, 3)


def relu_model(io="plain", buffer0=None):
    """x -> ADD(x, c) -> RELU -> y, with the I/O twisted as `io` says."""
    g = Graph()
    x = g.tensor("x", [1, 8], data=rand(8) if io == "constant_input" else None)
    c = g.tensor("c", [1, 8], data=rand(8))
    s = g.tensor("s", [1, 8])
    y = g.tensor("y", [1, 8])
    g.op(OP.ADD, [x, c], [s], S.BuiltinOptions.AddOptions, opts(S.AddOptionsT))
    g.op(OP.RELU, [s], [y])
    if buffer0 is not None:
        g.buffer0 = buffer0
    outputs = {"plain": [y], "input_is_output": [y, x], "only_input_out": [x, y],
               "constant_input": [y]}[io]
    return g.build([x], outputs), rand(1, 8), rand(8, 1, 8)


def leaky(alpha):
    g = Graph()
    x = g.tensor("x", [1, 16])
    y = g.tensor("y", [1, 16])
    g.op(OP.LEAKY_RELU, [x], [y], S.BuiltinOptions.LeakyReluOptions,
         opts(S.LeakyReluOptionsT, alpha=alpha))
    return g.build([x], [y]), rand(1, 16), rand(8, 1, 16)


def softmax(beta):
    g = Graph()
    x = g.tensor("x", [1, 10])
    y = g.tensor("y", [1, 10])
    g.op(OP.SOFTMAX, [x], [y], S.BuiltinOptions.SoftmaxOptions,
         opts(S.SoftmaxOptionsT, beta=beta))
    return g.build([x], [y]), rand(1, 10, lo=-4, hi=4), rand(8, 1, 10, lo=-4, hi=4)


def resize(h_in, w_in, h_out, w_out, half=False, align=False):
    g = Graph()
    x = g.tensor("x", [1, h_in, w_in, 1])
    size = g.tensor("size", [2], I32, data=[h_out, w_out])
    y = g.tensor("y", [1, h_out, w_out, 1])
    g.op(OP.RESIZE_BILINEAR, [x, size], [y], S.BuiltinOptions.ResizeBilinearOptions,
         opts(S.ResizeBilinearOptionsT, alignCorners=align, halfPixelCenters=half))
    shp = (1, h_in, w_in, 1)
    return g.build([x], [y]), rand(*shp), rand(8, *shp)


def calib_model(kind):
    """Float models whose calibration makes non-finite values: data near the float32 limit,
    an ADD that overflows, a SQRT of negatives (NaN made inside the graph)."""
    g = Graph()
    x = g.tensor("x", [1, 8])
    y = g.tensor("y", [1, 8])
    if kind == "sqrt":
        s = g.tensor("s", [1, 8])
        g.op(OP.SQRT, [x], [s])
        g.op(OP.RELU, [s], [y])
        data = rand(8, 1, 8)  # half of it negative: NaN in 's'
    elif kind == "add":
        s = g.tensor("sum", [1, 8])
        g.op(OP.ADD, [x, x], [s], S.BuiltinOptions.AddOptions, opts(S.AddOptionsT))
        g.op(OP.RELU, [s], [y])
        data = rand(8, 1, 8) * np.float32(1.6e38)  # x + x: a range wider than float32
    else:  # 'range': finite data spanning almost the whole float32 range
        g.op(OP.RELU, [x], [y])
        data = rand(8, 1, 8)
        data[0, 0, 0], data[1, 0, 1] = np.float32(-3.4e38), np.float32(3.4e38)
    return g.build([x], [y]), rand(1, 8), data.astype(np.float32)


def qparams(where, scale, zp, dtype=I8):
    """An already quantized chain with one bad activation parameter (`where`):
    'quantize': x -> QUANTIZE -> q(scale, zp) -> DEQUANTIZE -> y;
    'add', 'sub', 'mul': that int8 op with the bad parameters on its output;
    'leaky', 'softmax': an int8 LEAKY_RELU / SOFTMAX whose alpha / beta is `scale`."""
    g = Graph()
    x = g.tensor("x", [1, 8])
    if where == "quantize":
        q = g.tensor("q", [1, 8], dtype, scale=scale, zp=zp)
        y = g.tensor("y", [1, 8])
        g.op(OP.QUANTIZE, [x], [q])
        g.op(OP.DEQUANTIZE, [q], [y])
    else:
        q = g.tensor("q", [1, 8], dtype, scale=0.01, zp=0)
        if where == "leaky":  # `scale` is the alpha
            s = g.tensor("s", [1, 8], dtype, scale=0.01, zp=0)
        elif where == "softmax":  # `scale` is the beta
            s = g.tensor("s", [1, 8], dtype, scale=1 / 256, zp=-128)
        else:
            s = g.tensor("s", [1, 8], dtype, scale=scale, zp=zp)
        y = g.tensor("y", [1, 8])
        g.op(OP.QUANTIZE, [x], [q])
        if where == "add":
            g.op(OP.ADD, [q, q], [s], S.BuiltinOptions.AddOptions, opts(S.AddOptionsT))
        elif where == "leaky":
            g.op(OP.LEAKY_RELU, [q], [s], S.BuiltinOptions.LeakyReluOptions,
                 opts(S.LeakyReluOptionsT, alpha=scale))
        elif where == "softmax":
            g.op(OP.SOFTMAX, [q], [s], S.BuiltinOptions.SoftmaxOptions,
                 opts(S.SoftmaxOptionsT, beta=scale))
        elif where == "sub":
            g.op(OP.SUB, [q, q], [s], S.BuiltinOptions.SubOptions, opts(S.SubOptionsT))
        else:
            g.op(OP.MUL, [q, q], [s], S.BuiltinOptions.MulOptions, opts(S.MulOptionsT))
        g.op(OP.DEQUANTIZE, [s], [y])
    return g.build([x], [y]), rand(1, 8), None


NAN, INF = float("nan"), float("inf")

# name -> (builder, what it is, run_error needle or None, quantize: None (not quantized),
#          True (a file LiteRT accepts must be written) or an error needle[, extra quantize
#          arguments])
CASES = {
    "conv_bias_omitted": (lambda: conv("conv", "omitted"),
                          "float CONV_2D whose optional bias is input -1",
                          "optional but was expected", "optional but was expected"),
    "conv_bias_absent": (lambda: conv("conv", "absent"),
                         "float CONV_2D with two inputs (no bias)", "has_bias", "has_bias"),
    "dwconv_bias_omitted": (lambda: conv("dw", "omitted"),
                            "float DEPTHWISE_CONV_2D whose optional bias is input -1",
                            "optional but was expected", "optional but was expected"),
    "dwconv_bias_absent": (lambda: conv("dw", "absent"),
                           "float DEPTHWISE_CONV_2D with two inputs (no bias)", None, True),
    "fc_bias_omitted": (lambda: conv("fc", "omitted"),
                        "float FULLY_CONNECTED whose optional bias is input -1", None, True),
    "fc_bias_absent": (lambda: conv("fc", "absent"),
                       "float FULLY_CONNECTED with two inputs (no bias)", None, True),
    "tconv_bias_absent": (lambda: conv("tconv", "absent"),
                          "float TRANSPOSE_CONV without its optional bias", None, True),
    "tconv_bias_omitted": (lambda: conv("tconv", "omitted"),
                           "float TRANSPOSE_CONV whose optional bias is input -1", None, True),
    "input_is_output": (lambda: relu_model("input_is_output"),
                        "the model input is also its second output", None, True),
    "input_is_first_output": (lambda: relu_model("only_input_out"),
                              "the model input is also its first output", None, True),
    "input_is_output_int8_io": (lambda: relu_model("input_is_output"),
                                "the model input is also an output; int8 input and output",
                                None, True, ["--input-type", "int8", "--output-type", "int8"]),
    "input_is_output_uint8_io": (lambda: relu_model("input_is_output"),
                                 "the model input is also an output; uint8 input and output",
                                 None, True, ["--input-type", "uint8", "--output-type", "uint8"]),
    "input_is_output_float_in_int8_out": (
        lambda: relu_model("input_is_output"),
        "the model input is also an output; float32 input, int8 output", None, True,
        ["--output-type", "int8"]),
    "input_is_output_float_in_uint8_out": (
        lambda: relu_model("input_is_output"),
        "the model input is also an output; float32 input, uint8 output (not supported: "
        "a second QUANTIZE of the input)", None, "--output-type uint8",
        ["--output-type", "uint8"]),
    "constant_input": (lambda: relu_model("constant_input"),
                       "the model input tensor carries constant data", "constant data",
                       "constant data"),
    "buffer0_data": (lambda: relu_model(buffer0=b"\x01\x02\x03\x04"),
                     "buffer 0 (the empty buffer) holds 4 bytes", None, True),
    "leaky_relu_alpha_1e30": (lambda: leaky(1e30), "LEAKY_RELU alpha 1e30", None, True),
    "leaky_relu_alpha_nan": (lambda: leaky(NAN), "LEAKY_RELU alpha NaN", None, "'y': "),
    "softmax_beta_1e-30": (lambda: softmax(1e-30), "SOFTMAX beta 1e-30", None,
                           "(SOFTMAX)"),
    "softmax_beta_nan": (lambda: softmax(NAN), "SOFTMAX beta NaN", None, "'y': "),
    "resize_3x5_to_2048": (lambda: resize(3, 5, 2, 2048),
                           "RESIZE_BILINEAR from 3x5 to 2x2048", None, "(RESIZE_BILINEAR)"),
    "calib_sqrt_nan": (lambda: calib_model("sqrt"),
                       "calibration makes NaN inside the graph (SQRT of negatives)", None,
                       "'s': "),
    "calib_add_overflow": (lambda: calib_model("add"),
                           "calibration data within +-1.6e38 whose sum x + x spans a range "
                           "wider than float32", None, "'sum': the calibrated range"),
    "calib_wide_range": (lambda: calib_model("range"),
                         "calibration data spanning -3.4e38..3.4e38 (finite)", None,
                         "'x': the calibrated range"),
}
for _dt, _name, _bad_zp in ((I8, "int8", 200), (U8, "uint8", -1)):
    for _where in ("quantize", "add", "sub", "mul"):
        for _sname, _s, _z in (("scale0", 0.0, 0), ("scale_neg", -0.01, 0), ("scale_nan", NAN, 0),
                               ("scale_inf", INF, 0), ("zp_out", 0.01, _bad_zp)):
            if _dt == U8 and _where != "quantize":
                continue
            if _where in ("sub", "mul") and _sname not in ("scale0", "zp_out"):
                continue
            CASES[f"q_{_where}_{_name}_{_sname}"] = (
                (lambda w=_where, s=_s, z=_z, d=_dt: qparams(w, s, z, d)),
                f"{_name} {_where.upper()} output with {_sname} ({_s}, zero point {_z})",
                "not a positive finite number" if _where != "quantize" and _sname != "zp_out"
                else None, None)
CASES["q_add_int8_zp_5000"] = (lambda: qparams("add", 0.01, 5000),
                               "int8 ADD output with zero point 5000", None, None)
for _where, _v, _needle in (("leaky", NAN, None), ("leaky", 1e30, "undefined behaviour"),
                           ("softmax", NAN, None),
                           ("softmax", -1.0, None), ("softmax", 1e-30, None)):
    CASES[f"q_{_where}_int8_{_v}"] = (
        (lambda w=_where, v=_v: qparams(w, v, 0)),
        f"int8 {'LEAKY_RELU alpha' if _where == 'leaky' else 'SOFTMAX beta'} {_v}", _needle, None)


# ---------------------------------------------------------------- LiteRT and litequant


def in_child(fn, *args):
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        try:
            data = pickle.dumps(("ok", fn(*args)))
        except Exception as e:  # noqa: BLE001
            data = pickle.dumps(("refused", f"{type(e).__name__}: {e}".strip()[:400]))
        with os.fdopen(wr, "wb") as f:
            f.write(data)
        os._exit(0)
    os.close(wr)
    with os.fdopen(rd, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        return "crashed", f"LiteRT died (signal {sig}, wait status {status})"
    return pickle.loads(data)


def litert_run(path, x):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    if d["dtype"] != np.float32:
        s, z = d["quantization"]
        info = np.iinfo(d["dtype"])
        x = np.clip(np.round(x / s) + z, info.min, info.max).astype(d["dtype"])
    it.set_tensor(d["index"], x)
    it.invoke()
    return x, [it.get_tensor(o["index"]).copy() for o in it.get_output_details()]


def lq(exe, *args):
    """litequant in OUT, files named relative to it (so messages name no machine's paths);
    returns the exit status and the last line of stderr (the error, if any)."""
    p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, cwd=OUT)
    lines = p.stderr.strip().splitlines()
    return p.returncode, lines[-1] if lines else ""


def same(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return f"dtype/shape {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    if a.dtype == np.float32:
        nan = np.isnan(a) | np.isnan(b)
        if (np.isnan(a) != np.isnan(b)).any():
            return "NaN positions differ"
        d = np.abs(a[~nan].astype(np.float64) - b[~nan])
        tol = 1e-5 + 1e-5 * np.abs(b[~nan].astype(np.float64))
        bad = ~((a[~nan] == b[~nan]) | (d <= tol))
        return f"{bad.sum()} floats differ (max {d.max()})" if bad.any() else None
    return None if np.array_equal(a, b) else f"{(a != b).sum()} values differ"


def check_file(exe, path, x, inp, work, needle, golden):
    """LiteRT's verdict on `path`, ours, and the comparison. Returns (record, problems)."""
    status, res = in_child(litert_run, path, x)
    rec = {"litert": status}
    problems = []
    if status != "ok":
        rec["litert_message"] = res
    if status == "ok" and res[0].dtype != x.dtype:
        # An integer model input: the values LiteRT was given (x quantized by the input's
        # parameters), saved for our run too.
        inp = path.name.removesuffix(".tflite") + ".in.npy"
        np.save(OUT / inp, res[0])
    rec["input"] = inp
    rc, err = lq(exe, "run", path.name, "--input", inp, "-o", work / "o.npz")
    if rc == 0:
        rec["run"] = "ok"
        if status != "ok":
            problems.append(f"litequant runs {path.name}, LiteRT: {status} ({rec['litert_message']})")
        else:
            ours = np.load(work / "o.npz")
            outs = [ours[k] for k in ours.files]
            for k, (a, b) in enumerate(zip(outs, res[1])):
                d = same(a, b)
                if d:
                    problems.append(f"{path.name} output {k}: {d}")
    else:
        rec["run"] = "error"
        rec["run_message"] = err
        if rc != 1 or not err.startswith("litequant: error: "):
            problems.append(f"litequant run {path.name}: exit {rc}: {err}")
        if needle and needle not in err:
            problems.append(f"{path.name}: error lacks {needle!r}: {err}")
        if status == "ok":
            rec["run_error_needle"] = needle
            if not needle:
                problems.append(f"litequant refuses {path.name}, LiteRT runs it: {err}")
    if status == "ok":
        xin, outs = res
        arrays = {"input_0": xin[None]}
        arrays.update({f"output_{k}": o[None] for k, o in enumerate(outs)})
        write_npz(golden, arrays)
        rec["golden"] = golden.name
    return rec, problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--litequant", default=str(ROOT / "target" / "debug" / "litequant"))
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    manifest_path = OUT / "manifest.json"
    old = json.loads(manifest_path.read_text())["cases"] if manifest_path.exists() else []
    keep = {c["name"]: c for c in old if args.only and c["name"] not in args.only}
    records, problems = [], []
    work = Path(tempfile.mkdtemp(prefix="hostile"))
    for name, (build, what, run_needle, quant, *extra) in CASES.items():
        qargs = extra[0] if extra else []
        if args.only and name not in args.only:
            if name in keep:
                records.append(keep[name])
            continue
        for stale in OUT.glob(f"{name}.*"):
            stale.unlink()
        # A generator per case, seeded by its name: adding a case changes no other file.
        global RNG
        RNG = np.random.default_rng(zlib.crc32(name.encode()))
        model, x, calib = build()
        path = OUT / f"{name}.tflite"
        path.write_bytes(model)
        np.save(OUT / f"{name}.in.npy", x)
        rec = {"name": name, "what": what, "model": path.name, "input": f"{name}.in.npy"}
        r, p = check_file(args.litequant, path, x, f"{name}.in.npy", work, run_needle,
                          OUT / f"{name}.npz")
        rec.update(r)
        problems += p
        if quant is not None:
            np.save(OUT / f"{name}.calib.npy", calib)
            rec["calib"] = f"{name}.calib.npy"
            q = OUT / f"{name}.int8.tflite"
            rc, err = lq(args.litequant, "quantize", path.name, "-o", work / "q.tflite",
                         "--mode", "int8", "--calib", f"{name}.calib.npy", *qargs)
            rec["quantize_args"] = qargs
            if rc == 0:
                q.write_bytes((work / "q.tflite").read_bytes())
            if rc == 0:
                rec["quantize"] = "written"
                rec["quantized"] = q.name
                if quant is not True:
                    problems.append(f"{name}: quantize wrote a file, expected an error {quant!r}")
                r, p = check_file(args.litequant, q, x, f"{name}.in.npy", work, None,
                                  OUT / f"{name}.int8.npz")
                rec["quantized_check"] = r
                problems += p
                if r["litert"] != "ok":
                    problems.append(f"{name}: quantize wrote a file LiteRT refuses: {r}")
            else:
                rec["quantize"] = "error"
                rec["quantize_message"] = err
                if rc != 1 or not err.startswith("litequant: error: "):
                    problems.append(f"{name}: quantize exit {rc}: {err}")
                if quant is True:
                    problems.append(f"{name}: quantize refused: {err}")
                else:
                    rec["quantize_error_needle"] = quant
                    if quant not in err:
                        problems.append(f"{name}: quantize error lacks {quant!r}: {err}")
        records.append(rec)
        print(f"{name}: LiteRT {rec['litert']}, run {rec['run']}, "
              f"quantize {rec.get('quantize', '-')}", flush=True)
    manifest_path.write_text(json.dumps({"cases": records}, indent=1) + "\n")
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems))
        sys.exit(1)
    print(f"{len(records)} cases, no problems")


if __name__ == "__main__":
    main()
