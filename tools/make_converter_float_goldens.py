#!/usr/bin/env python3
"""Goldens of the float kernels TensorFlow's converter calibrates with.

Run from the repository root:

    tools/.venv/bin/python tools/make_converter_float_goldens.py
    tools/.venv/bin/python tools/make_converter_float_goldens.py NAME...  # only these
                                                                        # EXTRA models

The converter's calibrator (tensorflow/lite/python/optimize/calibrator.py) runs
the float model on the TFLite interpreter *built into the TensorFlow wheel*,
with the optimized kernels and no delegate, and records every tensor's min/max.
Those kernels sum in another order than TFLite's reference kernels, which is
why a calibrated int8 scale depends on them. This script runs the same
interpreter (tf.lite.Interpreter with BUILTIN_WITHOUT_DEFAULT_DELEGATES, i.e.
the wheel's own kernels, not ai-edge-litert's) and saves:

  tests/fixtures/converter_float/NAME.npz
      input_K (the samples), and t{index} for the output of every CONV_2D,
      DEPTHWISE_CONV_2D, FULLY_CONNECTED, HARD_SWISH, AVERAGE_POOL_2D, MEAN,
      TRANSPOSE_CONV, SOFTMAX, SUM, REDUCE_MAX, REDUCE_MIN and REDUCE_PROD
      (the ops whose float result depends on the summation order), stacked
      over the samples on a new leading axis, run at batch 1.
  tests/fixtures/converter_float/ranges.json
      per model, the min/max (as float32 bits) that TF's Calibrator recorded
      for every tensor over all of the calibration samples — the ranges the
      converter turned into scales.

Models: tests/fixtures/{cnn,mlp}_float32.tflite on the first 10 of
digits_calib.npy; every op fixture tests/fixtures/ops/CASE_f32.tflite that
has CASE.calib.npz, on its first 5 samples (ranges over all of them); and the
float models made here (tests/fixtures/converter_float/NAME.tflite, see
EXTRA) for the GEMM/GEMV paths the op fixtures leave out — 24 and 20 output
channels (row blocks of 16, then 8 or 4), 13 and 9 units, odd depths,
TRANSPOSE_CONV's GEMM and both of its GEMV cases, CONV_2D's and FULLY_CONNECTED's
GEMV cases (one output pixel, one output channel or unit), depths over Eigen's cache
blocking kc (made on a machine with a 32 KiB L1 data cache: kc = 400), SOFTMAX rows of
odd lengths (7 rows of 37: each row's sum starts at another misalignment) on inputs
scaled by 30 and by 120 (exps down to zero, subnormal results), and a SOFTMAX feeding a
FULLY_CONNECTED (attention weights times values) — on 6
samples of uniform [-1, 1] data saved as their goldens' input_0 (ranges over
those samples).

tests/converter_float_order.rs checks that litequant's ConverterFloatEngine
reproduces every saved tensor bit for bit and every recorded range exactly.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import json
import pathlib
import sys
import warnings

import numpy as np

import npz_fixed
import tensorflow as tf
from tensorflow.lite.python.optimize import calibrator as tf_calibrator

try:
    from tensorflow.lite.python import schema_py_generated as schema
except ImportError:  # pragma: no cover
    from ai_edge_litert import schema_py_generated as schema

warnings.filterwarnings("ignore")

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
OUT = FIX / "converter_float"
ORDER_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "HARD_SWISH",
             "AVERAGE_POOL_2D", "MEAN", "TRANSPOSE_CONV", "SOFTMAX", "SUM", "REDUCE_MAX",
             "REDUCE_MIN", "REDUCE_PROD"}
def interpreter(path):
    return tf.lite.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=(
            tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
        experimental_preserve_all_tensors=True,
        # As TF's calibrator: its interpreter keeps the default thread count, with which
        # float CONV_2D runs multithreaded_ops::Conv (Eigen's tensor contraction on a pool
        # of 4); with num_threads=1 it would run im2col + cpu_backend_gemm instead.
        num_threads=4,
    )


def order_outputs(it):
    out = []
    for op in it._get_ops_details():
        if op["op_name"] in ORDER_OPS:
            out.extend(int(t) for t in op["outputs"])
    return out


def in_model_order(path, samples, keys):
    """Samples keyed by signature name ('x0', 'x1') → lists in the model's input order
    (input tensor 'serving_default_x1:0' is signature input 'x1')."""
    details = interpreter(path).get_input_details()
    pos = [next(j for j, k in enumerate(keys) if d["name"].endswith(f"_{k}:0"))
           for d in details]
    return [[s[j] for j in pos] for s in samples]


def run(path, samples):
    """samples: list over samples of lists over the model's inputs (with batch 1)."""
    it = interpreter(path)
    details = it.get_input_details()
    ins = [d["index"] for d in details]
    for i, x in zip(ins, samples[0]):
        # Dynamic inputs (-1 in the signature) take the samples' shape.
        it.resize_tensor_input(i, list(np.shape(x)))
    it.allocate_tensors()
    want = order_outputs(it)
    got = {f"t{t}": [] for t in want}
    got.update({f"input_{k}": [] for k in range(len(ins))})
    for sample in samples:
        for k, (i, x) in enumerate(zip(ins, sample)):
            it.set_tensor(i, x)
            got[f"input_{k}"].append(np.array(x))
        it.invoke()
        for t in want:
            got[f"t{t}"].append(np.array(it.get_tensor(t)))
    return {k: np.stack(v) for k, v in got.items()}


def calibrated_ranges(path, samples):
    """samples: lists in the model's input order, in the order the converter consumed."""
    cal = tf_calibrator.Calibrator(pathlib.Path(path).read_bytes())

    def gen():
        for s in samples:
            yield list(s)

    model = schema.ModelT.InitFromObj(
        schema.Model.GetRootAsModel(cal.calibrate(gen), 0))
    ranges = {}
    for i, t in enumerate(model.subgraphs[0].tensors):
        q = t.quantization
        if q is not None and q.min is not None and len(q.min) == 1:
            ranges[str(i)] = [int(np.float32(q.min[0]).view(np.uint32)),
                              int(np.float32(q.max[0]).view(np.uint32))]
    return ranges


# name: (input shape, builder of the float function)
def _conv(cin, cout, k, seed):
    rng = np.random.default_rng(seed)
    w = tf.constant(rng.uniform(-0.3, 0.3, (k, k, cin, cout)).astype(np.float32))
    b = tf.constant(rng.uniform(-0.5, 0.5, cout).astype(np.float32))
    return lambda x: tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME") + b)


def _conv_s(cin, cout, k, stride, padding, seed):
    rng = np.random.default_rng(seed)
    w = tf.constant(rng.uniform(-0.3, 0.3, (k, k, cin, cout)).astype(np.float32))
    b = tf.constant(rng.uniform(-0.5, 0.5, cout).astype(np.float32))
    return lambda x: tf.nn.conv2d(x, w, stride, padding) + b


def _conv_grouped(cin, k, seed):
    """ConvNeXt's depthwise-as-grouped conv (Keras Conv2D(groups=cin)): one input channel
    per filter, a grouped CONV_2D in the converter's file."""
    rng = np.random.default_rng(seed)
    w = tf.constant(rng.uniform(-0.3, 0.3, (k, k, 1, cin)).astype(np.float32))
    b = tf.constant(rng.uniform(-0.5, 0.5, cin).astype(np.float32))
    return lambda x: tf.nn.conv2d(x, w, 1, "SAME") + b


def _fc(k, units, seed):
    rng = np.random.default_rng(seed)
    w = tf.constant(rng.uniform(-0.3, 0.3, (k, units)).astype(np.float32))
    b = tf.constant(rng.uniform(-0.5, 0.5, units).astype(np.float32))
    return lambda x: tf.matmul(x, w) + b


def _tconv(shape, cout, k, stride, padding, seed):
    rng = np.random.default_rng(seed)
    n, h, w_, cin = shape
    w = tf.constant(rng.uniform(-0.3, 0.3, (k, k, cout, cin)).astype(np.float32))
    b = tf.constant(rng.uniform(-0.5, 0.5, cout).astype(np.float32))
    if padding == "SAME":
        out = [n, h * stride, w_ * stride, cout]
    else:
        out = [n, (h - 1) * stride + k, (w_ - 1) * stride + k, cout]
    return lambda x: tf.nn.conv2d_transpose(x, w, out, stride, padding) + b


def _softmax(scale):
    return lambda x: tf.nn.softmax(x * scale)


def _softmax_fc(k, units, seed):
    rng = np.random.default_rng(seed)
    w = tf.constant(rng.uniform(-1.0, 1.0, (k, units)).astype(np.float32))
    return lambda x: tf.matmul(tf.nn.softmax(x * 8.0), w)


EXTRA = {
    "gemm_conv1x1_144x24": ([1, 6, 6, 144], _conv(144, 24, 1, 1)),
    "gemm_conv3x3_16x20": ([1, 5, 7, 16], _conv(16, 20, 3, 2)),
    "gemm_fc_b5_k43_u13": ([5, 43], _fc(43, 13, 3)),
    "gemv_fc_k13_u9": ([1, 13], _fc(13, 9, 4)),
    # TRANSPOSE_CONV: GEMM rows 3*3*6 = 54 (blocks of 16, then 4, then the swapped kernel),
    # 30 pixel columns (blocks of four and two left over), depth 19.
    "gemm_tconv3x3_s2_c19_o6": ([1, 5, 6, 19], _tconv([1, 5, 6, 19], 6, 3, 2, "SAME", 5)),
    # One input pixel: Eigen's GEMV (45 rows, the last one alone).
    "gemv_tconv_1px_c13_o5": ([1, 1, 1, 13], _tconv([1, 1, 1, 13], 5, 3, 2, "VALID", 6)),
    # One weights row (1x1, one output channel): GEMV over 25 pixels.
    "gemv_tconv_rowvec_c12": ([1, 5, 5, 12], _tconv([1, 5, 5, 12], 1, 1, 1, "VALID", 7)),
    # Products with one column or one row: CONV_2D with one output pixel (1x1 on a 1x1
    # input, depth 300: the tensor contraction's column-major GEMV, blocks of 16 columns) or
    # one output channel (its GEMM kernel with one row); FULLY_CONNECTED with one unit over 5
    # input rows (cpu_backend_gemm: Eigen's GEMV over the rows).
    "gemv_conv_1px_c300_o13": ([1, 1, 1, 300], _conv(300, 13, 1, 12)),
    "gemv_conv_1ch_c24": ([1, 5, 5, 24], _conv(24, 1, 3, 13)),
    "gemv_fc_b5_k40_u1": ([5, 40], _fc(40, 1, 14)),
    # Depths over Eigen's kc (400 with this machine's 32 KiB L1 data cache): summed block by
    # block. 408 -> blocks 208 + 200; 3x3x56 = 504 -> 256 + 248; 820 -> 280 + 280 + 260;
    # TRANSPOSE_CONV's GEMM depth is its input channels: 410 -> 208 + 202. Two samples each
    # (KB-sized goldens).
    "kc_conv1x1_408x28": ([1, 3, 3, 408], _conv(408, 28, 1, 8), 2),
    "kc_conv3x3_56x20": ([1, 4, 5, 56], _conv(56, 20, 3, 9), 2),
    "kc_fc_b5_k820_u13": ([5, 820], _fc(820, 13, 10), 2),
    "kc_tconv2x2_c410_o5": ([1, 2, 3, 410], _tconv([1, 2, 3, 410], 5, 2, 2, "VALID", 11), 2),
    # CONV_2D contractions that Eigen's cost model runs on several threads of the pool of 4
    # (TensorContractionThreadPool.h; m output channels, n output pixels, k depth; the
    # machine's L1/L2/L3 as Eigen reads them: 32 KiB, 1 MiB, 320 MiB). Sharded by the
    # depth (`inner`: partial sums over k ranges, combined by addToBuffer/addAllToBuffer):
    # 4 ranges of 288 with m*n = 117 (a scalar tail after the packets of 8); 4 ranges of
    # 328 (each cut at kc = 320); 3 ranges, 2 ranges; MobileNetV2's 1x1 conv m=24, k=144
    # (on 19x19 pixels, the smallest map it shards); the transformer's 16x16 patch conv
    # (k = 768, n = 16, m = 64).
    "mt_inner4_conv3x3_c128_o13": ([1, 3, 3, 128], _conv(128, 13, 3, 15), 2),
    "mt_inner4_conv3x3_c144_o7": ([1, 3, 3, 144], _conv(144, 7, 3, 16), 2),
    "mt_inner3_conv3x3_c28_o5": ([1, 7, 7, 28], _conv(28, 5, 3, 17), 2),
    "mt_inner2_conv3x3_c16_o5": ([1, 12, 12, 16], _conv(16, 5, 3, 18), 2),
    "mt_inner2_conv1x1_c144_o24": ([1, 19, 19, 144], _conv(144, 24, 1, 19), 1),
    "mt_inner4_patch16_c3_o64": ([1, 64, 64, 3], _conv_s(3, 64, 16, 16, "VALID", 20), 1),
    # Sharded by row (many channels, few pixels): row blocks of 36 (not a multiple of 16:
    # the kernel's row paths restart in each block).
    "mt_row4_conv3x3_c32_o144": ([1, 7, 7, 32], _conv(32, 144, 3, 21), 1),
    # Sharded by column, 4 threads: kc = 320 (324 = 320 + 4), column blocks of 28.
    "mt_col4_conv3x3_c36_o12": ([1, 10, 10, 36], _conv(36, 12, 3, 22), 2),
    # A grouped CONV_2D (conv.cc sends it to reference_ops::Conv in every kernel type),
    # the reduced ConvNeXt's 7x7 over 4 channels, which Eigen's contraction would shard.
    "grouped_conv7x7_c4": ([1, 8, 8, 4], _conv_grouped(4, 7, 23), 2),
    # SOFTMAX (optimized_ops::Softmax: Eigen's pexp, redux sum, product by the inverse).
    "softmax_7x37_s30": ([7, 37], _softmax(30.0)),
    "softmax_3x200_s120": ([3, 200], _softmax(120.0)),
    "softmax_fc_4x24_u10": ([4, 24], _softmax_fc(24, 10, 8)),
}


def make_extra(name, shape, fn, n=6):
    module = tf.Module()
    module.f = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32, name="x0")])
    conv = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.f.get_concrete_function()], module)
    path = OUT / f"{name}.tflite"
    path.write_bytes(conv.convert())
    rng = np.random.default_rng(len(name))
    samples = [[rng.uniform(-1, 1, shape).astype(np.float32)] for _ in range(n)]
    return path, samples


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    only = sys.argv[1:]
    if only:
        # Regenerate only these EXTRA models; merge their ranges into ranges.json.
        ranges = json.loads((OUT / "ranges.json").read_text())
        for name in only:
            shape, fn, *n = EXTRA[name]
            path, samples = make_extra(name, shape, fn, *n)
            npz_fixed.write_npz(OUT / f"{name}.npz", run(path, samples))
            ranges[f"converter_float/{name}.tflite"] = calibrated_ranges(path, samples)
        (OUT / "ranges.json").write_text(json.dumps(ranges, indent=1, sort_keys=True) + "\n")
        print(f"{len(only)} models regenerated")
        return
    ranges = {}
    digits = np.load(FIX / "digits_calib.npy")
    for name in ("cnn", "mlp"):
        path = FIX / f"{name}_float32.tflite"
        shape = (1, 8, 8, 1) if name == "cnn" else (1, 64)
        samples = [[digits[i:i + 1].reshape(shape)] for i in range(len(digits))]
        npz_fixed.write_npz(OUT / f"{name}.npz", run(path, samples[:10]))
        ranges[f"{name}_float32.tflite"] = calibrated_ranges(path, samples)
    for calib in sorted((FIX / "ops").glob("*.calib.npz")):
        case = calib.name[: -len(".calib.npz")]
        path = FIX / "ops" / f"{case}_f32.tflite"
        if not path.exists():
            continue
        z = np.load(calib)
        keys = sorted(z.files)
        n = z[keys[0]].shape[0]
        samples = in_model_order(path, [[z[k][i] for k in keys] for i in range(n)], keys)
        arrays = run(path, samples[:5])
        if any(k.startswith("t") for k in arrays):
            npz_fixed.write_npz(OUT / f"{case}.npz", arrays)
        ranges[f"ops/{case}_f32.tflite"] = calibrated_ranges(path, samples)
    for name, (shape, fn, *n) in EXTRA.items():
        path, samples = make_extra(name, shape, fn, *n)
        npz_fixed.write_npz(OUT / f"{name}.npz", run(path, samples))
        ranges[f"converter_float/{name}.tflite"] = calibrated_ranges(path, samples)
    (OUT / "ranges.json").write_text(json.dumps(ranges, indent=1, sort_keys=True) + "\n")
    print(f"{len(ranges)} models; goldens in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
