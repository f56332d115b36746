"""A DenseNet-style block for the converter's backward propagation of a concatenation's
quantization parameters through same-scale ops (issue 9: DenseNet121 came out with 4 extra
requantizing QUANTIZE ops).

The Keras model: three branches from one input, concatenated, then a 1x1 convolution:
  CONV_2D 3x3 relu -> MAX_POOL_2D 2x2 s1 SAME
  CONV_2D 3x3      -> PAD (ZeroPadding2D 1) -> AVERAGE_POOL_2D 3x3 VALID
  CONV_2D 1x1
The TF 2.21 converter (full integer, float I/O) gives every tensor from the convolutions'
outputs to the concatenation the concatenation's output parameters: no QUANTIZE in between.

Written to tests/fixtures/concat_backprop/:
  block_f32.tflite   the float model
  block_int8.tflite  the converter's int8 model (Optimize.DEFAULT + representative dataset)
  calib.npy          the 16 representative samples, in the order the converter consumed them

Run:  /work/venv/bin/python tools/make_concat_backprop_pair.py
"""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TF_DETERMINISTIC_OPS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "concat_backprop"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(3)
    x = tf.keras.Input((8, 8, 4), batch_size=1)
    a = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    b = tf.keras.layers.MaxPooling2D(2, 1, padding="same")(a)
    c = tf.keras.layers.Conv2D(6, 3, padding="same")(x)
    c = tf.keras.layers.ZeroPadding2D(1)(c)
    c = tf.keras.layers.AveragePooling2D(3, 1, padding="valid")(c)
    d = tf.keras.layers.Conv2D(5, 1)(x)
    y = tf.keras.layers.Concatenate()([b, c, d])
    y = tf.keras.layers.Conv2D(4, 1)(y)
    model = tf.keras.Model(x, y)
    calib = np.random.default_rng(0).uniform(-2, 2, size=(16, 1, 8, 8, 4)).astype(np.float32)
    np.save(OUT / "calib.npy", calib[:, 0])

    def representative():
        for s in calib:
            yield [s]

    (OUT / "block_f32.tflite").write_bytes(
        tf.lite.TFLiteConverter.from_keras_model(model).convert())
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    (OUT / "block_int8.tflite").write_bytes(conv.convert())
    for f in sorted(OUT.iterdir()):
        print(f"  {f.name}  {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
