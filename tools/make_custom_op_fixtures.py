"""Fixtures for custom ops registered from the library (`litequant::custom`): a model with
MediaPipe's `Convolution2DTransposeBias`, made from a real converter output.

1. A Keras model, converted by TF's converter (float32):
     x [1,4,4,3] -> Conv2D 8 3x3 SAME relu -> Conv2DTranspose 6 3x3 stride 2 SAME (+bias)
       -> Conv2D 4 3x3 SAME relu -> Conv2DTranspose 2 2x2 stride 2 VALID (+bias) -> [1,16,16,2]
   The converter writes each Conv2DTranspose as TRANSPOSE_CONV (inputs: output shape,
   weights [O,H,W,I], input, bias; no fused activation). -> `builtin_f32.tflite`.
2. The same file with every TRANSPOSE_CONV rewritten into the custom op as MediaPipe's
   models store it (mediapipe/util/tflite/operations/transpose_conv_bias.cc): builtin code
   CUSTOM, custom_code `Convolution2DTransposeBias`, inputs (input, weights, bias), no
   builtin options, and custom_options the raw bytes of the C struct
   `TfLiteTransposeConvParams` the kernel casts them to — its leading fields
   `TfLitePadding padding` (kTfLitePaddingSame = 1, kTfLitePaddingValid = 2; not the
   schema's Padding values), `int stride_width`, `int stride_height`: 12 bytes,
   little-endian int32 (custom_options_format FLEXBUFFERS = 0, the field's default). The
   output-shape constants stay in the tensor list, unused, so every tensor keeps its index.
   -> `mediapipe_f32.tflite`.
3. Goldens: LiteRT BUILTIN_REF results of the *builtin* file (LiteRT's Python API cannot
   register a custom op) on 3 inputs: `input_0`, `output_0` and every non-constant tensor as
   `t{index}` (the indices of both files) -> `builtin_f32.npz`. The custom op computes the
   same thing (MediaPipe's loop starts each output from the bias, TFLite's adds the bias
   after the sum: the same float values up to the rounding of that one addition).
4. `calib.npy`: 16 calibration samples, float32 [16, 1, 4, 4, 3].

`--check-quantized FILE` (after `cargo run --example custom_op -- MODEL CALIB OUT` wrote
`tests/fixtures/custom/mediapipe_int8.tflite`, tools/README.md): rewrites the custom ops of that quantized
file back into float TRANSPOSE_CONV ops (an int32 output-shape constant appended as the last
tensor), checks that LiteRT loads and runs it, and writes its BUILTIN_REF goldens on the same
3 inputs next to it as `mediapipe_int8.npz` (format as above), which
`tests/custom_op.rs` compares litequant's run of the custom-op file with.

Run:  /work/venv/bin/python tools/make_custom_op_fixtures.py
      /work/venv/bin/python tools/make_custom_op_fixtures.py \
          --check-quantized tests/fixtures/custom/mediapipe_int8.tflite
      (tensorflow-cpu 2.21.0, ai-edge-litert 2.3.0; ~10 s, no network)
"""

import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import flatbuffers  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from make_fixtures import AlignedBuilder  # noqa: E402
from npz_fixed import write_npz  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "custom"
NAME = "Convolution2DTransposeBias"
# TfLitePadding (tensorflow/lite/core/c/builtin_op_data.h) by the schema's Padding.
TFLITE_PADDING = {schema.Padding.SAME: 1, schema.Padding.VALID: 2}
SCHEMA_PADDING = {v: k for k, v in TFLITE_PADDING.items()}


def keras_model():
    tf.keras.utils.set_random_seed(77)
    x = tf.keras.Input((4, 4, 3), batch_size=1)
    y = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = tf.keras.layers.Conv2DTranspose(6, 3, strides=2, padding="same")(y)
    y = tf.keras.layers.Conv2D(4, 3, padding="same", activation="relu")(y)
    y = tf.keras.layers.Conv2DTranspose(2, 2, strides=2, padding="valid")(y)
    m = tf.keras.Model(x, y)
    rng = np.random.default_rng(78)
    for layer in m.layers:
        w = layer.get_weights()
        if w:
            w[1] = rng.uniform(-0.3, 0.3, size=w[1].shape).astype(np.float32)
            layer.set_weights(w)
    return m


def pack(m):
    b = AlignedBuilder(1 << 16)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def opcode(m, code, custom=None):
    for i, oc in enumerate(m.operatorCodes):
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code and (
            custom is None or (oc.customCode or b"").decode() == custom
        ):
            return i
    oc = schema.OperatorCodeT()
    oc.builtinCode = code
    oc.deprecatedBuiltinCode = min(code, 127)
    oc.customCode = custom
    oc.version = 1
    m.operatorCodes.append(oc)
    return len(m.operatorCodes) - 1


def to_custom(buf):
    """Every TRANSPOSE_CONV (with bias, no activation) -> Convolution2DTransposeBias."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    custom = opcode(m, schema.BuiltinOperator.CUSTOM, NAME)
    n = 0
    for op in m.subgraphs[0].operators:
        oc = m.operatorCodes[op.opcodeIndex]
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) != schema.BuiltinOperator.TRANSPOSE_CONV:
            continue
        o = op.builtinOptions
        assert len(op.inputs) == 4 and op.inputs[3] >= 0, "TRANSPOSE_CONV without a bias"
        assert o.fusedActivationFunction == 0, "MediaPipe's op has no fused activation"
        op.opcodeIndex = custom
        op.inputs = [op.inputs[2], op.inputs[1], op.inputs[3]]
        op.builtinOptionsType = 0
        op.builtinOptions = None
        op.customOptions = list(
            struct.pack("<iii", TFLITE_PADDING[o.padding], o.strideW, o.strideH)
        )
        op.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
        n += 1
    assert n == 2, n
    # The TRANSPOSE_CONV code is now unused: drop it (every op keeps its index otherwise).
    used = {op.opcodeIndex for op in m.subgraphs[0].operators}
    keep = [i for i in range(len(m.operatorCodes)) if i in used]
    remap = {old: new for new, old in enumerate(keep)}
    m.operatorCodes = [m.operatorCodes[i] for i in keep]
    for op in m.subgraphs[0].operators:
        op.opcodeIndex = remap[op.opcodeIndex]
    return pack(m)


def to_builtin(buf):
    """The inverse of `to_custom` on any file: each Convolution2DTransposeBias becomes a
    float TRANSPOSE_CONV with a new int32 output-shape constant (appended last)."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    sg = m.subgraphs[0]
    tconv = opcode(m, schema.BuiltinOperator.TRANSPOSE_CONV)
    m.operatorCodes[tconv].version = max(m.operatorCodes[tconv].version, 3)
    for op in sg.operators:
        oc = m.operatorCodes[op.opcodeIndex]
        if (oc.customCode or b"").decode() != NAME:
            continue
        padding, sw, sh = struct.unpack("<iii", bytes(op.customOptions[:12]))
        out = sg.tensors[op.outputs[0]]
        shape = schema.TensorT()
        shape.shape = [4]
        shape.type = schema.TensorType.INT32
        shape.name = f"{out.name.decode()}/output_shape".encode()
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(np.array(out.shape, "<i4").tobytes(), np.uint8)
        m.buffers.append(buffer)
        shape.buffer = len(m.buffers) - 1
        sg.tensors.append(shape)
        x, w, b = op.inputs
        op.inputs = [len(sg.tensors) - 1, w, x, b]
        op.opcodeIndex = tconv
        opts = schema.TransposeConvOptionsT()
        opts.padding = SCHEMA_PADDING[padding]
        opts.strideW, opts.strideH = sw, sh
        op.builtinOptionsType = schema.BuiltinOptions.TransposeConvOptions
        op.builtinOptions = opts
        op.customOptions = None
    return pack(m)


def inputs():
    rng = np.random.default_rng(79)
    return [rng.uniform(-1.0, 1.0, size=(1, 4, 4, 3)).astype(np.float32) for _ in range(3)]


def goldens(path, xs, first_tensors=None):
    """LiteRT BUILTIN_REF results; tensors `t{i}` for i below `first_tensors` (all)."""
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
        it.set_tensor(inp["index"], x.astype(inp["dtype"]))
        it.invoke()
        gold["input_0"].append(x.astype(inp["dtype"]))
        gold["output_0"].append(it.get_tensor(it.get_output_details()[0]["index"]))
        for i in range(min(len(tensors), first_tensors or len(tensors))):
            if i == inp["index"] or i in constant:
                continue
            gold.setdefault(f"t{i}", []).append(it.get_tensor(i).copy())
    return {k: np.stack(v) for k, v in gold.items()}


def describe(buf):
    m = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = []
    for op in m.subgraphs[0].operators:
        oc = m.operatorCodes[op.opcodeIndex]
        code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
        out.append(oc.customCode.decode() if oc.customCode else names[code])
    return " ".join(out)


def check_quantized(path):
    path = Path(path).resolve()
    buf = path.read_bytes()
    n_tensors = len(schema.ModelT.InitFromPackedBuf(bytearray(buf), 0).subgraphs[0].tensors)
    builtin = to_builtin(buf)
    tmp = path.with_name(path.stem + "_as_builtin.tflite")
    tmp.write_bytes(builtin)
    print(f"  {path.name}: {describe(buf)}")
    print(f"  as builtin: {describe(builtin)}")
    gold = goldens(tmp, inputs(), first_tensors=n_tensors)
    tmp.unlink()
    write_npz(path.with_suffix(".npz"), gold)
    print(f"  LiteRT BUILTIN_REF ran it: output {gold['output_0'].shape} "
          f"{gold['output_0'].dtype}; wrote {path.with_suffix('.npz').relative_to(ROOT)}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check-quantized":
        check_quantized(sys.argv[2])
        return
    OUT.mkdir(parents=True, exist_ok=True)
    tf.config.experimental.enable_op_determinism()
    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model())
    builtin = conv.convert()
    (OUT / "builtin_f32.tflite").write_bytes(builtin)
    custom = to_custom(builtin)
    (OUT / "mediapipe_f32.tflite").write_bytes(custom)
    xs = inputs()
    gold = goldens(OUT / "builtin_f32.tflite", xs)
    write_npz(OUT / "builtin_f32.npz", gold)
    # The inverse rewrite gives back a file LiteRT computes the same on.
    back = OUT / "roundtrip.tflite"
    back.write_bytes(to_builtin(custom))
    again = goldens(back, xs)
    back.unlink()
    for k, v in gold.items():
        assert np.array_equal(v, again[k]), k
    rng = np.random.default_rng(80)
    np.save(OUT / "calib.npy", rng.uniform(-1.0, 1.0, size=(16, 1, 4, 4, 3)).astype(np.float32))
    print(f"  builtin_f32: {describe(builtin)}")
    print(f"  mediapipe_f32: {describe(custom)}")
    for f in sorted(OUT.iterdir()):
        print(f"  {f.relative_to(ROOT)}  {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
