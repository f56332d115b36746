#!/usr/bin/env python3
"""TF 2.21's 16x8 files of some reduced zoo models (tests/fixtures/zoo_int16/).

    /work/venv/bin/python tools/make_int16_zoo.py [NAME ...]

Each model is rebuilt exactly as tools/zoo_fixtures.py builds it (same builder, seed, batch
norm statistics, layer names); the script checks that its float conversion has the buffers of
tests/fixtures/zoo/NAME_float32.tflite (keras numbers tensor names per session), then converts it in 16x8 mode with float I/O and
float fallback (`supported_ops = [EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
TFLITE_BUILTINS]`, representative dataset tests/fixtures/zoo/calibS.npy in order) and writes
NAME_int16.tflite with its LiteRT BUILTIN_REF golden NAME_int16.npz (zoo_fixtures' format:
every op-written tensor on the held-out crop) and manifest.json. Where the rebuilt float
model's weights differ from the zoo fixture's in the last bits (the batch-norm statistics are
reduced over threads), that float model is written here too (NAME_float32.tflite) and the
manifest's "float" names it.
"""

import contextlib
import io
import json
import os
import pathlib
import sys

# As tools/make_zoo.py sets them, before TensorFlow loads (oneDNN changes the float weights).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import npz_fixed  # noqa: E402
import zoo_fixtures as zf  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
ZOO = ROOT / "tests" / "fixtures" / "zoo"
OUT = ROOT / "tests" / "fixtures" / "zoo_int16"
DEFAULT = ["MobileNetV2", "ResNet50", "DenseNet121", "UNet", "EfficientNetB0",
           "MobileNetV3Small", "TransformerBlock", "GRU"]


def convert16(m, calib):
    c = tf.lite.TFLiteConverter.from_keras_model(m)

    def rep():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep
    c.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
        tf.lite.OpsSet.TFLITE_BUILTINS]
    with contextlib.redirect_stdout(io.StringIO()):
        return c.convert()


def same_model(a, b):
    """The same float model: every buffer byte for byte and as many tensors (names may
    differ: keras numbers its tensors per session, `keras_tensor_13` for `keras_tensor_99`)."""
    from ai_edge_litert import schema_py_generated as schema
    ma = schema.ModelT.InitFromPackedBuf(bytearray(a), 0)
    mb = schema.ModelT.InitFromPackedBuf(bytearray(b), 0)
    data = lambda m: [None if x.data is None else bytes(x.data) for x in m.buffers]  # noqa: E731
    return (len(ma.subgraphs[0].tensors) == len(mb.subgraphs[0].tensors)
            and len(ma.subgraphs[0].operators) == len(mb.subgraphs[0].operators)
            and data(ma)[:-2] == data(mb)[:-2])   # the last two: the metadata entries


def main():
    from make_zoo import convert, input_for, photos, set_batchnorm
    names = sys.argv[1:] or DEFAULT
    OUT.mkdir(parents=True, exist_ok=True)
    zf.small_inputs()
    mpath = OUT / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {"models": {}}
    for name in names:
        size = zf.SIZE = zf.SIZES.get(name, zf.DEFAULT_SIZE)
        x = photos(zf.N_CALIB + 1, size, 3)
        calib, held = x[:zf.N_CALIB], x[zf.N_CALIB:]
        assert np.array_equal(calib, np.load(ZOO / f"calib{size}.npy")), name
        tf.keras.utils.set_random_seed(7)
        m = zf.MINI[name]()
        zf.short_names(m)
        set_batchnorm(m, calib, 0)
        inp = tf.keras.Input((size, size, 3), batch_size=1)
        m = tf.keras.Model(inp, m(inp), name="z")
        f32 = convert(m, calib, "float32")
        same = same_model(f32, (ZOO / f"{name}_float32.tflite").read_bytes())
        entry = {"model": name, "calib": f"../zoo/calib{size}.npy",
                 "float": f"../zoo/{name}_float32.tflite", "float_model_reproduced": same}
        if not same:
            # The batch-norm statistics (set_batchnorm) come out a few ulp apart from run to
            # run (TF's reductions over threads): the float model converted alongside is
            # written here.
            (OUT / f"{name}_float32.tflite").write_bytes(f32)
            entry["float"] = f"{name}_float32.tflite"
        if True:
            p = OUT / f"{name}_int16.tflite"
            p.write_bytes(convert16(m, calib))
            try:
                arrays, ops = zf.golden(p, input_for(p, held))
            except Exception as e:  # noqa: BLE001 - LiteRT refuses the converter's file
                p.unlink()
                (OUT / f"{name}_float32.tflite").unlink(missing_ok=True)
                entry["error"] = "LiteRT refuses the converter's file: " + " ".join(
                    str(e).split())[:160]
                manifest["models"][f"{name}_int16"] = entry
                print(json.dumps({name: entry}), flush=True)
                continue
            npz_fixed.write_npz(OUT / f"{name}_int16.npz", arrays, zf.key_order)
            entry.update(file=p.name, golden_file=f"{name}_int16.npz", op_histogram=ops,
                         size=p.stat().st_size)
        manifest["models"][f"{name}_int16"] = entry
        print(json.dumps({name: {k: v for k, v in entry.items() if k != "op_histogram"}}),
              flush=True)
    mpath.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
