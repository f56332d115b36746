"""Models with sparse weights, made the way real ones are: a Keras model whose weights are
pruned in blocks, converted by TF's converter with `tf.lite.Optimize.EXPERIMENTAL_SPARSITY`.

The model: CONV_2D 3x3 (8 filters, relu) -> FLATTEN -> FULLY_CONNECTED 16 (relu) ->
FULLY_CONNECTED 8, on a 6x6x4 input. Pruning as tfmot's block pruning leaves it (tfmot is
not needed): in every kernel, 75 % of the blocks of 4 consecutive input channels / input
features (1x4 blocks in TFLite's [out, in] layout) are set to zero; the conv kernel's
blocks run along its input channels.

What the converter writes (TF 2.21), per variant (all written to `tests/fixtures/sparse/`):

  f32      EXPERIMENTAL_SPARSITY: the conv weights sparse (random sparsity: last dimension
           SPARSE_CSR) behind a DENSIFY; both FULLY_CONNECTED weights sparse with 1x4 blocks,
           read directly by the FULLY_CONNECTED (no DENSIFY).
  int8     + DEFAULT + representative data: int8 weights stored sparse (random sparsity)
           behind DENSIFY ops, int8 kernels, float I/O.
  dynamic  + DEFAULT without data: DENSIFY of float conv weights and of the large int8 FC
           weights (hybrid FULLY_CONNECTED), the small FC's float weights read sparse.
  float16  + DEFAULT + float16: the conv's float16 weights sparse behind DENSIFY then
           DEQUANTIZE, but both FULLY_CONNECTED weights sparse float16 read by DEQUANTIZE
           directly. LiteRT's DEQUANTIZE does not expand them: it reads the compressed values
           as if dense, and past the end of the buffer (its outputs change from run to run),
           so this file has no goldens; litequant refuses it naming the op.
  conv_float16  a second model, CONV_2D 3x3 (8, relu) -> CONV_2D 3x3 (4), pruned the same
           way, in float16 + EXPERIMENTAL_SPARSITY: float16 weights sparse behind DENSIFY
           (float16) then DEQUANTIZE, which LiteRT runs.
  int8_dense  the int8 variant without EXPERIMENTAL_SPARSITY (the converter's dense int8
           file of the same model and data: what `litequant quantize` of the f32 file is
           compared with).

Each NAME.tflite but float16 has NAME.npz: LiteRT BUILTIN_REF results on 3 samples (input_0,
output_0 and every non-constant tensor as t{index}, the format of make_fixtures.py), and
`calib.npy` holds the 16 representative samples (float32 [16, 1, 6, 6, 4]) the int8 variants
were calibrated on, fed in order.

Run:  /work/venv/bin/python tools/make_sparse_fixtures.py
      (tensorflow-cpu 2.21.0, ai-edge-litert 2.3.0; ~30 s, no network)
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from npz_fixed import write_npz  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "sparse"


def prune_blocks(kernel, rng, frac=0.75):
    """Zero `frac` of the blocks of 4 consecutive inputs of each output (Keras layouts:
    Dense [in, out], Conv2D [kh, kw, in, out])."""
    k = kernel.copy()
    flat = k.reshape(-1, k.shape[-2], k.shape[-1]) if k.ndim == 4 else k[None]
    for tap in flat:
        nin, nout = tap.shape
        for b in range(nin // 4):
            for o in range(nout):
                if rng.random() < frac:
                    tap[4 * b : 4 * b + 4, o] = 0.0
    return flat.reshape(kernel.shape)


def keras_model():
    tf.keras.utils.set_random_seed(5)
    tf.config.experimental.enable_op_determinism()
    x = tf.keras.Input((6, 6, 4), batch_size=1)
    y = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = tf.keras.layers.Flatten()(y)
    y = tf.keras.layers.Dense(16, activation="relu")(y)
    y = tf.keras.layers.Dense(8)(y)
    m = tf.keras.Model(x, y)
    rng = np.random.default_rng(9)
    for layer in m.layers:
        w = layer.get_weights()
        if w:
            w[0] = prune_blocks(w[0], rng)
            w[1] = rng.uniform(-0.1, 0.1, size=w[1].shape).astype(np.float32)
            layer.set_weights(w)
    return m


def conv_model():
    tf.keras.utils.set_random_seed(6)
    x = tf.keras.Input((6, 6, 4), batch_size=1)
    y = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = tf.keras.layers.Conv2D(4, 3, padding="same")(y)
    m = tf.keras.Model(x, y)
    rng = np.random.default_rng(10)
    for layer in m.layers:
        w = layer.get_weights()
        if w:
            w[0] = prune_blocks(w[0], rng)
            w[1] = rng.uniform(-0.1, 0.1, size=w[1].shape).astype(np.float32)
            layer.set_weights(w)
    return m


def calib():
    rng = np.random.default_rng(21)
    return rng.uniform(-1.0, 1.0, size=(16, 1, 6, 6, 4)).astype(np.float32)


def convert(m, variant, data):
    c = tf.lite.TFLiteConverter.from_keras_model(m)
    sparse = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if variant == "f32":
        c.optimizations = sparse
    elif variant in ("int8", "int8_dense"):
        c.optimizations = [tf.lite.Optimize.DEFAULT] + (sparse if variant == "int8" else [])

        def rep():
            for x in data:
                yield [x]

        c.representative_dataset = rep
    elif variant == "dynamic":
        c.optimizations = [tf.lite.Optimize.DEFAULT] + sparse
    elif variant in ("float16", "conv_float16"):
        c.optimizations = [tf.lite.Optimize.DEFAULT] + sparse
        c.target_spec.supported_types = [tf.float16]
    return c.convert()


def goldens(path, xs):
    m = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    tensors, buffers = m.subgraphs[0].tensors, m.buffers
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
        for i in range(len(tensors)):
            if i == inp["index"] or i in constant:
                continue
            gold.setdefault(f"t{i}", []).append(it.get_tensor(i).copy())
    return {k: np.stack(v) for k, v in gold.items()}


def describe(path):
    m = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    sg = m.subgraphs[0]
    ops = [names[codes[o.opcodeIndex]] for o in sg.operators]
    sparse = [i for i, t in enumerate(sg.tensors) if t.sparsity is not None]
    return f"{' '.join(ops)}; sparse tensors {sparse}"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    m = keras_model()
    data = calib()
    np.save(OUT / "calib.npy", data)
    rng = np.random.default_rng(33)
    xs = [rng.uniform(-1.0, 1.0, size=(1, 6, 6, 4)).astype(np.float32) for _ in range(3)]
    for variant in ("f32", "int8", "dynamic", "float16", "conv_float16", "int8_dense"):
        path = OUT / f"{variant}.tflite"
        path.write_bytes(convert(conv_model() if variant == "conv_float16" else m, variant, data))
        if variant != "float16":
            write_npz(OUT / f"{variant}.npz", goldens(path, xs))
        print(f"  {variant}: {describe(path)}")
    for f in sorted(OUT.iterdir()):
        print(f"  {f.relative_to(ROOT)}  {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
