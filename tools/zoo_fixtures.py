"""The reduced-size zoo as committed test fixtures (`make_zoo.py --fixtures DIR`).

Every zoo architecture, built small: keras.applications' own builders with reduced
arguments where they take them (MobileNetV3 with a short `stack_fn` of keras'
`_inverted_res_block` and `last_point_ch` 32, EfficientNet / EfficientNetV2 with a short
`blocks_args` and `width_coefficient` 0.1, ResNet with two `stack_residual_blocks_v1` of 2 and
4 filters, NASNet with `penultimate_filters=96`, `filter_multiplier=1` (every cell 4 filters
wide), `num_blocks=1`, `stem_block_filters=4`, ConvNeXt with depths 1,1,1,1 and widths 4,8,12,16), and
a faithful mini build of the same blocks where the builder hard-codes its widths (MobileNetV2
from keras' `_inverted_res_block` at alpha 0.35; DenseNet's
BN-ReLU-conv1x1-BN-ReLU-conv3x3-concat blocks with growth 4), plus the U-Net, transformer
block and GRU of make_zoo.py at small widths. Every build keeps one weight of >= 1024
elements, so that the converter's dynamic-range mode still quantizes something. Layers are
renamed l0, l1, ... (the converter names tensors after them; keras' names were a third of a
small file). Input 8x8x3, batch 1 (16x16 for the MobileNetV3s, NASNet and EfficientNetV2B0, 32x32 for
ConvNeXt, see SIZES).

Per model NAME, under DIR/:
  NAME_{float32,dynamic,int8,int8_only,float16}.tflite       the TF 2.21 converter's modes
  NAME_aeq_{dynamic_wi8_afp32,weight_only_wi8_afp32,static_wi8_ai8}.tflite
                                                             ai-edge-quantizer 0.10 recipes
  NAME_VARIANT.npz   LiteRT BUILTIN_REF (experimental_preserve_all_tensors) on one held-out
                     photo crop: input_0, output_0 and t{index} for every tensor an operator
                     writes except DEQUANTIZE of a constant (a dequantized weight, a pure
                     function of the file), stacked on a leading sample axis of 1 (the ops
                     fixtures' format)
DIR/calib{8,16,32}.npy float32 [8,S,S,3]: the crops the converter and ai-edge-quantizer
                     calibrated on, in order (litequant calibrates on the same)
DIR/manifest.json    per file: model, variant, file, golden, op histogram, or why it is missing
"""

import json
import pathlib

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import npz_fixed

L = tf.keras.layers
SIZE = 16  # set per model by build()
# Input side per architecture (8 unless listed: the last blocks of the networks that downsample
# by 16 then run at 1x1): 32 for ConvNeXt (its stem and three downsamplings need 32), 16 for
# the MobileNetV3s and NASNet (which downsample by 32 and 16 with stride-2 cells), and for
# EfficientNetV2B0 (at 8 the GPU engine's float conv of its weight-only file at 1x1 drifts
# 2e-4 from LiteRT while the reference engine matches: to be traced, see docs/zoo.md).
SIZES = {"ConvNeXtTiny": 32, "MobileNetV3Small": 16, "MobileNetV3Large": 16,
         "NASNetMobile": 16, "EfficientNetV2B0": 16}
DEFAULT_SIZE = 8
N_CALIB = 8


def mobilenet_v2():
    from keras.src.applications.mobilenet_v2 import _inverted_res_block as irb
    inp = tf.keras.Input((SIZE, SIZE, 3))
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inp)
    x = L.ReLU(6.0)(L.BatchNormalization(epsilon=1e-3)(x))
    x = irb(x, filters=16, alpha=0.35, stride=1, expansion=1, block_id=0)
    x = irb(x, filters=24, alpha=0.35, stride=2, expansion=6, block_id=1)
    x = irb(x, filters=24, alpha=0.35, stride=1, expansion=6, block_id=2)
    x = irb(x, filters=32, alpha=0.35, stride=2, expansion=6, block_id=3)
    x = L.Conv2D(64, 1, use_bias=False)(x)
    x = L.ReLU(6.0)(L.BatchNormalization(epsilon=1e-3)(x))
    x = L.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, L.Dense(10, activation="softmax")(x))


def mobilenet_v3(large):
    from keras.src.applications import mobilenet_v3 as m3
    irb, relu = m3._inverted_res_block, m3.relu

    def stack_small(x, kernel, activation, se_ratio):
        x = irb(x, 1, 8, 3, 2, se_ratio, relu, 0)
        x = irb(x, 72.0 / 16, 8, 3, 2, None, relu, 1)
        x = irb(x, 88.0 / 24, 8, 3, 1, None, relu, 2)
        x = irb(x, 4, 8, kernel, 2, se_ratio, activation, 3)
        return irb(x, 3, 8, kernel, 1, se_ratio, activation, 4)

    def stack_large(x, kernel, activation, se_ratio):
        x = irb(x, 1, 16, 3, 1, None, relu, 0)
        x = irb(x, 4, 8, 3, 2, None, relu, 1)
        x = irb(x, 3, 8, kernel, 2, se_ratio, relu, 2)
        x = irb(x, 3, 8, 3, 2, None, activation, 3)
        return irb(x, 3, 8, 3, 1, se_ratio, activation, 4)

    # (None, None, 3): MobileNetV3 checks for 32x32 itself; build() feeds it SIZE.
    return m3.MobileNetV3(stack_large if large else stack_small, 32, (None, None, 3),
                          alpha=1.0, model_type="large" if large else "small",
                          weights=None, classes=10)


def efficientnet():
    from keras.src.applications.efficientnet import EfficientNet
    blocks = [
        dict(kernel_size=3, repeats=1, filters_in=32, filters_out=16, expand_ratio=1,
             id_skip=True, strides=1, se_ratio=0.25),
        dict(kernel_size=3, repeats=2, filters_in=16, filters_out=24, expand_ratio=6,
             id_skip=True, strides=2, se_ratio=0.25),
        dict(kernel_size=5, repeats=1, filters_in=24, filters_out=40, expand_ratio=6,
             id_skip=True, strides=2, se_ratio=0.25),
    ]
    return EfficientNet(0.1, 1.0, SIZE, blocks_args=blocks, input_shape=(SIZE, SIZE, 3),
                        weights=None, classes=10, name="efficientnet_mini")


def efficientnet_v2():
    from keras.src.applications.efficientnet_v2 import EfficientNetV2
    blocks = [
        dict(kernel_size=3, num_repeat=1, input_filters=32, output_filters=16, expand_ratio=1,
             se_ratio=0.0, strides=1, conv_type=1),
        dict(kernel_size=3, num_repeat=2, input_filters=16, output_filters=32, expand_ratio=4,
             se_ratio=0.0, strides=2, conv_type=1),
        dict(kernel_size=3, num_repeat=2, input_filters=32, output_filters=64, expand_ratio=4,
             se_ratio=0.25, strides=2, conv_type=0),
    ]
    return EfficientNetV2(0.1, 1.0, SIZE, blocks_args=blocks, input_shape=(SIZE, SIZE, 3),
                          weights=None, classes=10, name="efficientnetv2_mini")


def resnet():
    from keras.src.applications.resnet import ResNet, stack_residual_blocks_v1 as stack

    def stack_fn(x):
        x = stack(x, 2, 2, stride1=1, name="conv2")
        return stack(x, 4, 2, name="conv3")

    return ResNet(stack_fn, False, True, input_shape=(SIZE, SIZE, 3), weights=None,
                  classes=10, name="resnet_mini")


def densenet():
    def conv_block(x, growth):
        h = L.ReLU()(L.BatchNormalization(epsilon=1.001e-5)(x))
        h = L.Conv2D(4 * growth, 1, use_bias=False)(h)
        h = L.ReLU()(L.BatchNormalization(epsilon=1.001e-5)(h))
        h = L.Conv2D(growth, 3, padding="same", use_bias=False)(h)
        return L.Concatenate()([x, h])

    def transition(x):
        x = L.ReLU()(L.BatchNormalization(epsilon=1.001e-5)(x))
        x = L.Conv2D(int(x.shape[-1] * 0.5), 1, use_bias=False)(x)
        return L.AveragePooling2D(2, strides=2)(x)

    inp = tf.keras.Input((SIZE, SIZE, 3))
    x = L.ZeroPadding2D(((3, 3), (3, 3)))(inp)
    x = L.Conv2D(8, 7, strides=2, use_bias=False)(x)
    x = L.ReLU()(L.BatchNormalization(epsilon=1.001e-5)(x))
    x = L.ZeroPadding2D(((1, 1), (1, 1)))(x)
    x = L.MaxPooling2D(3, strides=2)(x)
    for i, n in enumerate((2, 2)):
        for _ in range(n):
            x = conv_block(x, 4)
        if i == 0:
            x = transition(x)
    x = L.ReLU()(L.BatchNormalization(epsilon=1.001e-5)(x))
    x = L.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, L.Dense(10, activation="softmax")(x))


def nasnet():
    from keras.src.applications.nasnet import NASNet
    return NASNet((SIZE, SIZE, 3), penultimate_filters=96, num_blocks=1, stem_block_filters=4,
                  skip_reduction=False, filter_multiplier=1, weights=None, classes=10,
                  default_size=SIZE)


def convnext():
    from keras.src.applications.convnext import ConvNeXt
    return ConvNeXt([1, 1, 1, 1], [4, 8, 12, 16], default_size=SIZE,
                    input_shape=(SIZE, SIZE, 3), weights=None, classes=10, name="convnext_mini")


def unet():
    x = inp = tf.keras.Input((SIZE, SIZE, 3))
    skips = []
    for c in (4, 8):
        x = L.Conv2D(c, 3, padding="same", activation="relu")(x)
        skips.append(x)
        x = L.MaxPooling2D()(x)
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    for c, skip in zip((8, 4), reversed(skips)):
        x = L.Conv2DTranspose(c, 3, strides=2, padding="same")(x)
        x = L.Concatenate()([x, skip])
        x = L.Conv2D(c, 3, padding="same", activation="relu")(x)
    return tf.keras.Model(inp, L.Conv2D(2, 1, activation="softmax")(x))


def encoder():
    inp = tf.keras.Input((SIZE, SIZE, 3))
    x = L.Conv2D(16, 4, strides=4)(inp)
    x = L.Reshape(((SIZE // 4) ** 2, 16))(x)
    h = L.LayerNormalization()(x)
    h = L.MultiHeadAttention(num_heads=2, key_dim=8)(h, h)
    x = L.Add()([x, h])
    h = L.LayerNormalization()(x)
    h = L.Dense(64, activation="gelu")(h)
    h = L.Dense(16)(h)
    x = L.Add()([x, h])
    x = L.GlobalAveragePooling1D()(x)
    return tf.keras.Model(inp, L.Dense(10, activation="softmax")(x))


def gru():
    inp = tf.keras.Input((SIZE, SIZE, 3))
    x = L.Conv2D(8, 2, strides=2, activation="relu")(inp)
    x = L.Reshape((SIZE // 2, (SIZE // 2) * 8))(x)
    x = L.GRU(16, unroll=True)(x)
    return tf.keras.Model(inp, L.Dense(10, activation="softmax")(x))


MINI = {
    "MobileNetV2": mobilenet_v2,
    "MobileNetV3Small": lambda: mobilenet_v3(False),
    "MobileNetV3Large": lambda: mobilenet_v3(True),
    "EfficientNetB0": efficientnet,
    "EfficientNetV2B0": efficientnet_v2,
    "ResNet50": resnet,
    "DenseNet121": densenet,
    "NASNetMobile": nasnet,
    "ConvNeXtTiny": convnext,
    "UNet": unet,
    "TransformerBlock": encoder,
    "GRU": gru,
}


def golden(path, x):
    """LiteRT BUILTIN_REF on one input: input_0, output_0, t{i} for every op-written tensor."""
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    ops = it._get_ops_details()
    written = {int(o) for op in ops for o in op["outputs"] if o >= 0}
    graph_inputs = {int(d["index"]) for d in it.get_input_details()}
    # A DEQUANTIZE of a constant (a weight of a dynamic / float16 / weight-only file) is a
    # pure function of the file's bytes: its output is left out of the goldens (size).
    weights = {int(op["outputs"][0]) for op in ops if op["op_name"] == "DEQUANTIZE"
               and int(op["inputs"][0]) not in written | graph_inputs}
    written = sorted(written - weights)
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], x)
    it.invoke()
    res = {"input_0": x, "output_0": it.get_tensor(it.get_output_details()[0]["index"]).copy()}
    for i in written:
        try:
            res[f"t{i}"] = np.array(it.get_tensor(i), copy=True)
        except ValueError:
            pass
    ops = {}
    for op in it._get_ops_details():
        ops[op["op_name"]] = ops.get(op["op_name"], 0) + 1
    return {k: v[None] for k, v in res.items()}, dict(sorted(ops.items()))


def key_order(k):
    if k.startswith("t"):
        return (2, int(k[1:]))
    return (0 if k.startswith("input") else 1, int(k.split("_")[1]))


def small_inputs():
    """keras.applications refuse inputs under 32x32 (`obtain_input_shape(min_size=32)`);
    every layer of the reduced builds works at 16, so only that check is relaxed."""
    from keras.src.applications import imagenet_utils
    orig = imagenet_utils.obtain_input_shape
    if getattr(orig, "relaxed", False):
        return

    def relaxed(*a, **k):
        k["min_size"] = min(k.get("min_size", 8), 8)
        return orig(*a, **k)
    relaxed.relaxed = True
    imagenet_utils.obtain_input_shape = relaxed


def short_names(m):
    """Layer names l0, l1, ... (the model: m): the converter names every tensor after the
    layers it comes from, and keras' long names were most of a small file's bytes."""
    m.name = "m"
    for i, layer in enumerate(m._flatten_layers(include_self=False)):
        layer.name = f"l{i}"


def build(out, names):
    from make_zoo import RECIPES, aeq, convert, in_child, input_for, photos, set_batchnorm
    out.mkdir(parents=True, exist_ok=True)
    global SIZE
    small_inputs()
    sets = {}
    for s in (8, 16, 32):
        x = photos(N_CALIB + 1, s, 3)
        sets[s] = x[:N_CALIB], x[N_CALIB:]
        np.save(out / f"calib{s}.npy", sets[s][0])
    mpath = out / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {"models": {}}
    for name in names:
        size = SIZE = SIZES.get(name, DEFAULT_SIZE)
        calib, held = sets[size]
        tf.keras.utils.set_random_seed(7)
        m = MINI[name]()
        short_names(m)
        set_batchnorm(m, calib, 0)
        inp = tf.keras.Input((size, size, 3), batch_size=1)
        m = tf.keras.Model(inp, m(inp), name="z")
        files = {}
        for mode in ("float32", "dynamic", "int8", "int8_only", "float16"):
            p = out / f"{name}_{mode}.tflite"
            try:
                p.write_bytes(convert(m, calib, mode))
                files[mode] = p
            except Exception as e:  # noqa: BLE001 - recorded
                files[mode] = f"converter fails: {str(e).splitlines()[0][:80]}"
        for r in RECIPES:
            p = out / f"{name}_aeq_{r}.tflite"
            try:
                aeq(files["float32"], p, r, calib)
                files[f"aeq_{r}"] = p
            except Exception as e:  # noqa: BLE001 - recorded
                files[f"aeq_{r}"] = f"aeq fails: {str(e).splitlines()[0][:80]}"
        for variant, p in files.items():
            key = f"{name}_{variant}"
            entry = {"model": name, "variant": variant, "calib": f"calib{size}.npy"}
            if isinstance(p, str):
                entry["error"] = p
            else:
                entry["file"] = p.name
                got, why = in_child(golden, p, input_for(p, held))
                if why:
                    entry["litert"] = why
                else:
                    arrays, ops = got
                    g = out / f"{key}.npz"
                    npz_fixed.write_npz(g, arrays, key_order)
                    entry["golden_file"] = g.name
                    entry["op_histogram"] = ops
                    entry["tensors"] = len(arrays) - 2
            manifest["models"][key] = entry
            print(json.dumps({key: {k: v for k, v in entry.items() if k != "op_histogram"}}),
                  flush=True)
        manifest["models"] = dict(sorted(manifest["models"].items()))
        mpath.write_text(json.dumps(manifest, indent=1) + "\n")
