"""The moving-average calibration fixture: ai-edge-quantizer's own statistics as goldens.

A small float CNN (CONV_2D+RELU, DEPTHWISE_CONV_2D, ADD, MAX_POOL_2D, RESHAPE,
FULLY_CONNECTED) whose weights, biases and calibration inputs are multiples of 1/16 in
small ranges, so that every value the model computes is exact in float32 whatever the
summation order: XNNPACK (what ai-edge-quantizer calibrates with) and litequant's
reference engine compute the same bits, and the moving averages must agree to the bit.

ai-edge-quantizer 0.10.0's Calibrator (default `moving_average_update`, smoothing 0.95,
CALIBRATION_PRESERVE_ALL_TENSORS) is run over the samples, one per step, with the
`static_wi8_ai8` recipe; its per-tensor `min`/`max` (float32) are written as bit patterns.
Written to `tests/fixtures/calib_methods/`:

  ema_cnn_f32.tflite        the float model
  ema_cnn.calib.npz         the calibration samples, `input_0` of shape [N, 16, 16, 3]
  ema_cnn.aeq_qsvs.json     {"samples": N, "momentum": 0.95,
                             "tensors": {name: [min_bits, max_bits]}}

Run:  /work/venv/bin/python tools/make_calib_methods_fixture.py
      (needs tensorflow-cpu 2.21 and ai-edge-quantizer==0.10.0)
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_quantizer import calibrator, recipe, recipe_manager  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from npz_fixed import write_npz  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "calib_methods"
SAMPLES = 12


def dyadic(rng, shape, lo, hi):
    """Multiples of 1/16 in [lo, hi]."""
    return (rng.integers(int(lo * 16), int(hi * 16) + 1, size=shape) / 16.0).astype(np.float32)


def build(rng):
    inp = tf.keras.Input((16, 16, 3), batch_size=1, name="x")
    conv = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")
    y = conv(inp)
    dw = tf.keras.layers.DepthwiseConv2D(3, padding="same", name="dw")
    z = dw(y)
    s = tf.keras.layers.Add(name="add")([y, z])
    p = tf.keras.layers.MaxPooling2D(2, name="pool")(s)
    f = tf.keras.layers.Flatten(name="flat")(p)
    fc = tf.keras.layers.Dense(5, name="fc")
    out = fc(f)
    model = tf.keras.Model(inp, out)
    conv.set_weights([dyadic(rng, (3, 3, 3, 8), -0.5, 0.5), dyadic(rng, (8,), -1, 1)])
    dw.set_weights([dyadic(rng, (3, 3, 8, 1), -0.5, 0.5), dyadic(rng, (8,), -1, 1)])
    fc.set_weights([dyadic(rng, (8 * 8 * 8, 5), -0.25, 0.25), dyadic(rng, (5,), -1, 1)])
    return model


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261203)
    model = build(rng)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    tfl = conv.convert()
    path = OUT / "ema_cnn_f32.tflite"
    path.write_bytes(tfl)
    # Inputs: multiples of 1/16, each sample with its own spread, so that per-sample ranges
    # differ and the average moves.
    xs = np.stack(
        [dyadic(rng, (16, 16, 3), -1 - (s % 4) / 2, 1 + (s % 5) / 2) for s in range(SAMPLES)]
    )
    write_npz(OUT / "ema_cnn.calib.npz", {"input_0": xs})

    cal = calibrator.Calibrator(str(path))
    rm = recipe_manager.RecipeManager()
    rm.load_quantization_recipe(recipe.static_wi8_ai8())
    sig = list(tf.lite.Interpreter(model_content=tfl).get_signature_list().keys())[0]
    in_name = list(
        tf.lite.Interpreter(model_content=tfl).get_signature_list()[sig]["inputs"]
    )[0]
    data = [{in_name: xs[s : s + 1]} for s in range(SAMPLES)]
    cal.calibrate({sig: data}, rm)
    qsvs = cal.get_model_qsvs()
    tensors = {}
    for name, q in sorted(qsvs.items()):
        mn = np.asarray(q["min"], dtype=np.float32).reshape(-1)
        mx = np.asarray(q["max"], dtype=np.float32).reshape(-1)
        if mn.size != 1:
            continue  # per-channel weight statistics
        assert np.asarray(q["min"]).dtype == np.float32, (name, np.asarray(q["min"]).dtype)
        tensors[name] = [int(mn.view(np.uint32)[0]), int(mx.view(np.uint32)[0])]
    golden = {"samples": SAMPLES, "momentum": 0.95, "tensors": tensors}
    (OUT / "ema_cnn.aeq_qsvs.json").write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(tensors)} tensors' statistics to {OUT}")


if __name__ == "__main__":
    main()
