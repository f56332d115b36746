"""Hybrid per-channel kernels as ai-edge-quantizer writes them, on inputs that sit on the
rounding edge of the run-time input quantization.

LiteRT on x86-64 quantizes a hybrid op's float input with the NEON code of
`neon_tensor_utils.cc` (through NEON_2_SSE): `x * inv` rounded as `trunc(x * inv ± 0.5)` for the
first `len & ~7` elements of a row, `round(inv * x)` after them, and the zero point added after
rounding; the range's width in float. The portable code rounds `zp + x * inv` instead. The two
differ only where `x * inv` lies next to a half, so random inputs rarely tell them apart (one
element in 110,592 on a MobileNetV2 layer); these inputs are built to sit there.

The model: a small Keras CNN (CONV_2D 3x3 -> DEPTHWISE_CONV_2D 3x3 -> FULLY_CONNECTED), its
input 6x6x3 (108 values: 13 vectors of 8 and a tail of 4), converted by TF 2.21 and quantized by
ai-edge-quantizer 0.10 with the `dynamic_wi8_afp32` recipe: hybrid per-channel CONV_2D and
DEPTHWISE_CONV_2D (asymmetric per-batch input quantization), hybrid FULLY_CONNECTED.
Written to `tests/fixtures/hybrid_neon/`:

  cnn_dynamic_wi8.tflite  the quantizer's file
  cnn_dynamic_wi8.npz     LiteRT BUILTIN_REF results on 6 samples (input_0, output_0 and every
                          non-constant tensor as t{index}: the golden format of make_fixtures.py)

Run:  /work/venv/bin/python tools/make_hybrid_neon_fixtures.py
      (tensorflow-cpu 2.21.0, ai-edge-litert 2.3.0, ai-edge-quantizer 0.10.0)
"""

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402
from ai_edge_quantizer import quantizer, recipe  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from npz_fixed import write_npz  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "hybrid_neon"


def float_model(path):
    tf.keras.utils.set_random_seed(7)
    x = tf.keras.Input((6, 6, 3), batch_size=1)
    y = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = tf.keras.layers.DepthwiseConv2D(3, padding="same")(y)
    y = tf.keras.layers.Flatten()(y)
    y = tf.keras.layers.Dense(10)(y)
    m = tf.keras.Model(x, y)
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(m).convert())


def near_ties(rng):
    """An input whose values times the NEON quantizer's inverse scale lie within a few ulp of
    a half, the row's min and max kept."""
    x = rng.uniform(-1.5, 2.5, size=108).astype(np.float32)
    x[0], x[1] = np.float32(-1.5), np.float32(2.5)
    rmin, rmax = min(np.float32(0), x.min()), max(np.float32(0), x.max())
    scale = np.float32(np.float64(np.float32(rmax - rmin)) / 255.0)
    inv = np.float32(1.0 / np.float64(scale))
    for i in range(2, 108):
        k = np.floor(x[i] * inv)
        v = np.float32((k + 0.5) / np.float64(inv))
        # Nudge by a few ulp either way.
        v = np.nextafter(v, np.float32(np.inf) if rng.random() < 0.5 else np.float32(-np.inf))
        x[i] = v
    return x.reshape(1, 6, 6, 3)


def goldens(path, xs):
    m = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    tensors, buffers = m.subgraphs[0].tensors, m.buffers
    n_model = len(tensors)
    constant = {
        i for i, t in enumerate(tensors) if t.buffer != 0 and buffers[t.buffer].data is not None
    }
    gold = {"input_0": [], "output_0": []}
    for x in xs:
        it = Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=True,
        )
        it.allocate_tensors()
        inp = it.get_input_details()[0]
        it.set_tensor(inp["index"], x)
        it.invoke()
        gold["input_0"].append(x)
        gold["output_0"].append(it.get_tensor(it.get_output_details()[0]["index"]))
        for i in range(n_model):
            if i == inp["index"] or i in constant:
                continue
            gold.setdefault(f"t{i}", []).append(it.get_tensor(i).copy())
    return {k: np.stack(v) for k, v in gold.items()}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "float.tflite"
        float_model(f)
        dst = OUT / "cnn_dynamic_wi8.tflite"
        q = quantizer.Quantizer(str(f))
        q.load_quantization_recipe(recipe.dynamic_wi8_afp32())
        q.quantize().export_model(str(dst), overwrite=True)
    xs = [near_ties(rng) for _ in range(6)]
    write_npz(OUT / "cnn_dynamic_wi8.npz", goldens(dst, xs))
    for f in sorted(OUT.iterdir()):
        print(f"  {f.relative_to(ROOT)}  {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
