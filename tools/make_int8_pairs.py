"""Small Keras models and the TF converter's full-integer files of them, for the converter
rules that the op fixtures do not reach (tests/quantize_int8.rs compares `litequant quantize`
with these field for field).

Cases (written to tests/fixtures/int8_pairs/ as NAME_f32.tflite, NAME_int8.tflite and
NAME_calib.npy, the representative samples in the order the converter consumed them):

- concat_backprop: a DenseNet-style block, three branches from one input concatenated, then
  a 1x1 convolution: CONV_2D 3x3 relu -> MAX_POOL_2D 2x2 s1 SAME; CONV_2D 3x3 -> PAD
  (ZeroPadding2D 1) -> AVERAGE_POOL_2D 3x3 VALID; CONV_2D 1x1. The converter gives every
  tensor from the convolutions' outputs to the concatenation the concatenation's output
  parameters: no QUANTIZE in between (issue 9: DenseNet121 had 4 extra).
- bias_overflow: a CONV_2D whose channel 1 has weights of magnitude 1e-6 and bias 5, and whose
  channel 2 has zero weights and bias 3, then a dense layer: the converter raises those
  channels' weight scales so that the int32 bias fits in INT32_MAX / 2.

Run:  /work/venv/bin/python tools/make_int8_pairs.py
"""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TF_DETERMINISTIC_OPS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "int8_pairs"
L = tf.keras.layers


def concat_backprop():
    x = tf.keras.Input((8, 8, 4), batch_size=1)
    b = L.MaxPooling2D(2, 1, padding="same")(L.Conv2D(8, 3, padding="same", activation="relu")(x))
    c = L.AveragePooling2D(3, 1, padding="valid")(L.ZeroPadding2D(1)(L.Conv2D(6, 3, padding="same")(x)))
    d = L.Conv2D(5, 1)(x)
    return tf.keras.Model(x, L.Conv2D(4, 1)(L.Concatenate()([b, c, d]))), (8, 8, 4), 2.0


def bias_overflow():
    x = tf.keras.Input((6, 6, 3), batch_size=1)
    conv = L.Conv2D(4, 3, padding="same")
    z = L.Dense(3)(L.Flatten()(conv(x)))
    w, b = conv.get_weights()
    w[..., 1] = 1e-6 * np.sign(w[..., 1])
    b[1] = 5.0
    w[..., 2] = 0.0
    b[2] = 3.0
    conv.set_weights([w, b])
    return tf.keras.Model(x, z), (6, 6, 3), 1.0


def write(name, build, seed):
    tf.keras.utils.set_random_seed(seed)
    model, shape, amp = build()
    calib = np.random.default_rng(0).uniform(-amp, amp, size=(16, 1, *shape)).astype(np.float32)
    np.save(OUT / f"{name}_calib.npy", calib[:, 0])

    def representative():
        for s in calib:
            yield [s]

    (OUT / f"{name}_f32.tflite").write_bytes(
        tf.lite.TFLiteConverter.from_keras_model(model).convert())
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    (OUT / f"{name}_int8.tflite").write_bytes(conv.convert())


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    write("concat_backprop", concat_backprop, 3)
    write("bias_overflow", bias_overflow, 1)
    for f in sorted(OUT.iterdir()):
        print(f"  {f.name}  {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
