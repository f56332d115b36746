#!/usr/bin/env python3
"""The model zoo: real architectures through the TF converter, ai-edge-quantizer and litequant.

    cargo build --release
    /work/venv/bin/python tools/make_zoo.py [--models NAME,...] [--size N] [--out DIR]
                                            [--golden K] [--md FILE] [--json FILE]

Each model is a Keras application built with `weights=None` (no network): seeded random
weights, then every BatchNormalization's moving statistics set from the layer's own inputs on
real photos (scikit-image's sample photos, cropped and resized; offline), so activations
keep a sane scale through the whole depth. Plus three small models built here: a U-Net with
Conv2DTranspose, a transformer encoder block (MultiHeadAttention, LayerNormalization, GELU)
and an unrolled GRU.

For each model the script writes, under DIR/NAME/:
  float32.tflite                  TF 2.21 converter, no optimization
  dynamic / int8 / int8_only / float16.tflite
                                  the converter's modes (int8: float I/O, 16 calibration
                                  photos; int8_only: TFLITE_BUILTINS_INT8, int8 I/O)
  aeq_<recipe>.tflite             ai-edge-quantizer 0.10 recipes dynamic_wi8_afp32,
                                  weight_only_wi8_afp32, static_wi8_ai8 (same photos)
  lq_<mode>.tflite                `litequant quantize` of float32.tflite in the same mode
and checks, per file:
  loads      `litequant inspect` succeeds
  exact      `litequant run --dump-all` equals LiteRT BUILTIN_REF on every tensor of K
             held-out photos (ints bit for bit, floats within 1e-4 + 1e-4|x|, as the tests)
  parity     for lq_<mode>: tensors equal to the converter's file by name (dtype, scales as
             float32 bits, zero points, constant data); counts of differing scales
  sqnr       for quantized files: SQNR (dB) of the first output vs the float model over 16
             held-out photos, LiteRT BUILTIN_REF
and prints a markdown table (docs/zoo.md takes it) and a JSON summary.

`--fixed-batch` converts with batch 1 fixed; by default the batch is dynamic, as
`from_keras_model` gives it, and the converter computes reshapes' batch at run time.

`--fixtures DIR` writes the reduced-size zoo instead (tools/zoo_fixtures.py): the committed
fixtures of tests/zoo.rs, with LiteRT goldens; needs no litequant build.

Slow: minutes per full-size model on 2 cores. `--size 96` (default 224 for the applications)
gives smaller inputs where the architecture allows.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

warnings.filterwarnings("ignore")
ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(os.environ.get("LITEQUANT_BIN", ROOT / "target" / "release" / "litequant"))
sys.path.insert(0, str(ROOT / "tools"))
from check_mobilenet import compare  # noqa: E402

APPS = {
    "MobileNetV2": lambda s: tf.keras.applications.MobileNetV2((s, s, 3), weights=None),
    "MobileNetV3Small": lambda s: tf.keras.applications.MobileNetV3Small(
        (s, s, 3), weights=None),
    "MobileNetV3Large": lambda s: tf.keras.applications.MobileNetV3Large(
        (s, s, 3), weights=None),
    "EfficientNetB0": lambda s: tf.keras.applications.EfficientNetB0(
        input_shape=(s, s, 3), weights=None),
    "EfficientNetV2B0": lambda s: tf.keras.applications.EfficientNetV2B0(
        input_shape=(s, s, 3), weights=None),
    "ResNet50": lambda s: tf.keras.applications.ResNet50(input_shape=(s, s, 3), weights=None),
    "DenseNet121": lambda s: tf.keras.applications.DenseNet121(
        input_shape=(s, s, 3), weights=None),
    "NASNetMobile": lambda s: tf.keras.applications.NASNetMobile(
        input_shape=(s, s, 3), weights=None),
    "ConvNeXtTiny": lambda s: tf.keras.applications.ConvNeXtTiny(
        input_shape=(s, s, 3), weights=None),
}


def unet(s):
    x = inp = tf.keras.Input((s, s, 3))
    skips = []
    for c in (16, 32):
        x = tf.keras.layers.Conv2D(c, 3, padding="same", activation="relu")(x)
        skips.append(x)
        x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    for c, skip in zip((32, 16), reversed(skips)):
        x = tf.keras.layers.Conv2DTranspose(c, 3, strides=2, padding="same")(x)
        x = tf.keras.layers.Concatenate()([x, skip])
        x = tf.keras.layers.Conv2D(c, 3, padding="same", activation="relu")(x)
    return tf.keras.Model(inp, tf.keras.layers.Conv2D(2, 1, activation="softmax")(x))


def encoder(s):
    # Image patches -> tokens -> one transformer encoder block -> class scores.
    inp = tf.keras.Input((s, s, 3))
    x = tf.keras.layers.Conv2D(64, 16, strides=16)(inp)
    n = (s // 16) ** 2
    x = tf.keras.layers.Reshape((n, 64))(x)
    h = tf.keras.layers.LayerNormalization()(x)
    h = tf.keras.layers.MultiHeadAttention(num_heads=4, key_dim=16)(h, h)
    x = tf.keras.layers.Add()([x, h])
    h = tf.keras.layers.LayerNormalization()(x)
    h = tf.keras.layers.Dense(128, activation="gelu")(h)
    h = tf.keras.layers.Dense(64)(h)
    x = tf.keras.layers.Add()([x, h])
    x = tf.keras.layers.GlobalAveragePooling1D()(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(10, activation="softmax")(x))


def gru(s):
    # Image rows as a sequence through an unrolled GRU.
    inp = tf.keras.Input((s, s, 3))
    x = tf.keras.layers.Conv2D(8, 4, strides=4, activation="relu")(inp)
    x = tf.keras.layers.Reshape((s // 4, (s // 4) * 8))(x)
    x = tf.keras.layers.GRU(32, unroll=True)(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(10, activation="softmax")(x))


BUILT = {"UNet": unet, "TransformerBlock": encoder, "GRU": gru}
SMALL = {"UNet": 64, "TransformerBlock": 64, "GRU": 32}


def photos(n, size, seed):
    """`n` crops of scikit-image's colour sample photos, resized to `size`, in [-1, 1]."""
    from skimage import data
    names = ["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "motorcycle_right",
             "hubble_deep_field", "immunohistochemistry", "retina", "colorwheel", "logo"]
    imgs = []
    for nm in names:
        try:
            a = getattr(data, nm)()
        except Exception:  # noqa: BLE001 - a photo that needs a download: skip it
            continue
        if a.ndim == 3 and a.shape[-1] >= 3:
            imgs.append(a[..., :3])
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = imgs[k % len(imgs)]
        h, w = a.shape[:2]
        c = int(rng.integers(min(h, w) // 2, min(h, w) + 1))
        y, x = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
        crop = tf.image.resize(a[y:y + c, x:x + c].astype(np.float32), (size, size)).numpy()
        out.append(crop / 127.5 - 1.0)
    return np.stack(out).astype(np.float32)


def set_batchnorm(m, x, seed):
    rng = np.random.default_rng(seed)
    for layer in m.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            h = tf.keras.Model(m.input, layer.input)(x, training=False).numpy()
            axes = tuple(range(h.ndim - 1))
            c = h.shape[-1]
            layer.set_weights([
                rng.uniform(0.5, 1.5, c).astype(np.float32),
                rng.uniform(-0.3, 0.3, c).astype(np.float32),
                h.mean(axis=axes).astype(np.float32),
                (h.var(axis=axes) + 1e-3).astype(np.float32),
            ])


def convert(m, calib, mode):
    c = tf.lite.TFLiteConverter.from_keras_model(m)

    def rep():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    if mode == "dynamic":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = rep
    elif mode == "int8_only":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = rep
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c.inference_input_type = tf.int8
        c.inference_output_type = tf.int8
    elif mode == "float16":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.target_spec.supported_types = [tf.float16]
    return c.convert()


def aeq(src, dst, name, calib):
    from ai_edge_quantizer import quantizer, recipe
    q = quantizer.Quantizer(str(src))
    q.load_quantization_recipe(getattr(recipe, name)())
    if q.need_calibration:
        it = Interpreter(model_path=str(src))
        sig = it.get_signature_list()
        key = next(iter(sig))
        iname = sig[key]["inputs"][0]
        data = {key: [{iname: calib[i:i + 1]} for i in range(len(calib))]}
        q.quantize(q.calibrate(data)).export_model(str(dst), overwrite=True)
    else:
        q.quantize().export_model(str(dst), overwrite=True)


def lq(*args):
    r = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True)
    return r.returncode, (r.stderr.strip() or r.stdout.strip()).splitlines()[-1:] or [""]


def input_for(path, x):
    it = Interpreter(model_path=str(path))
    d = it.get_input_details()[0]
    if d["dtype"] == np.float32:
        return x
    s, z = d["quantization"]
    info = np.iinfo(d["dtype"])
    return np.clip(np.round(x / s) + z, info.min, info.max).astype(d["dtype"])


def in_child(fn, *args):
    """fn(*args) in a forked child: LiteRT aborts the process on some inputs (e.g. an int8
    SOFTMAX row whose exponentials need a shift of 32, where litequant refuses the run).
    Returns (value, None) or (None, why)."""
    import pickle
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        try:
            data = pickle.dumps((fn(*args), None))
        except Exception as e:  # noqa: BLE001
            data = pickle.dumps((None, f"{type(e).__name__}: {e}"[:100]))
        with os.fdopen(wr, "wb") as f:
            f.write(data)
        os._exit(0)
    os.close(wr)
    with os.fdopen(rd, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        return None, f"LiteRT aborts (wait status {status})"
    return pickle.loads(data)


def litert_all(path, x):
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    res = {}
    for d in it.get_tensor_details():
        try:
            res[d["index"]] = it.get_tensor(d["index"]).copy()
        except ValueError:
            pass
    return res, it.get_output_details()[0]["index"]


def exact(path, xs, work):
    """Every tensor of `litequant run --dump-all` vs LiteRT BUILTIN_REF on each sample."""
    worst, compared = None, 0
    for k, x in enumerate(xs):
        x = input_for(path, x[None])
        np.save(work / "x.npy", x)
        dump = work / f"dump{k}"
        rc, msg = lq("run", path, "--input", work / "x.npy", "-o", work / "o.npz",
                     "--dump-all", dump)
        if rc != 0:
            return f"run fails: {msg[0]}", compared
        got, why = in_child(litert_all, path, x)
        if why:
            return f"{why}; litequant: {msg[0] if rc else 'ran'}", compared
        theirs, _ = got
        for e in json.loads((dump / "index.json").read_text()):
            i, f = e["tensor"], dump / e["file"]
            if i not in theirs or not f.exists():
                continue
            a, b = np.load(f), theirs[i]
            if a.shape != b.shape and a.size == b.size:
                a = a.reshape(b.shape)
            compared += 1
            if a.shape != b.shape:
                return f"t{i}: shape {a.shape} vs {b.shape}", compared
            if a.dtype.kind in "iub":
                if not np.array_equal(a, b):
                    return f"t{i}: {int((a != b).sum())} ints differ", compared
            else:
                d = np.abs(a.astype(np.float64) - b)
                bad = d > 1e-4 + 1e-4 * np.abs(b.astype(np.float64))
                bad &= ~(np.isnan(a) & np.isnan(b))
                if bad.any():
                    worst = worst or f"t{i}: max |d| {float(np.nanmax(d)):.3g}"
    return worst or "exact", compared


def first_output(path, xs):
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    res = []
    for x in xs:
        it.set_tensor(i["index"], input_for(path, x[None]))
        it.invoke()
        y = it.get_tensor(o["index"]).astype(np.float64)
        if o["dtype"] != np.float32:
            s, z = o["quantization"]
            y = (y - z) * s
        res.append(y)
    return np.array(res)


def sqnr(ref, y):
    noise = np.sum((ref - y) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref ** 2) / noise))


LQ_MODES = {"dynamic": ["--mode", "dynamic"], "int8": ["--mode", "int8"],
            "int8_only": ["--mode", "int8-only", "--input-type", "int8", "--output-type", "int8"],
            "float16": ["--mode", "float16"]}
RECIPES = ["dynamic_wi8_afp32", "weight_only_wi8_afp32", "static_wi8_ai8"]


def one(name, size, out, golden, fixed_batch):
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(7)
    m = APPS[name](size) if name in APPS else BUILT[name](size)
    x = photos(32, size, 1)
    calib, held = x[:16], x[16:]
    set_batchnorm(m, calib, 0)
    if fixed_batch:
        # Batch 1 in the graph: no SHAPE/PACK batch arithmetic around reshapes.
        inp = tf.keras.Input((size, size, 3), batch_size=1)
        m = tf.keras.Model(inp, m(inp))
    np.save(d / "calib.npy", calib)
    files = {"float32": d / "float32.tflite"}
    files["float32"].write_bytes(convert(m, calib, "float32"))
    for mode in ("dynamic", "int8", "int8_only", "float16"):
        p = d / f"{mode}.tflite"
        try:
            p.write_bytes(convert(m, calib, mode))
            files[mode] = p
        except Exception as e:  # noqa: BLE001 - the converter refuses: recorded
            files[mode] = f"converter fails: {str(e).splitlines()[0][:80]}"
    for r in RECIPES:
        p = d / f"aeq_{r}.tflite"
        try:
            aeq(files["float32"], p, r, calib)
            files[f"aeq:{r}"] = p
        except Exception as e:  # noqa: BLE001
            files[f"aeq:{r}"] = f"aeq fails: {str(e).splitlines()[0][:80]}"
    for mode, args in LQ_MODES.items():
        p = d / f"lq_{mode}.tflite"
        extra = [] if mode in ("dynamic", "float16") else ["--calib", d / "calib.npy"]
        rc, msg = lq("quantize", files["float32"], "-o", p, *args, *extra)
        files[f"litequant:{mode}"] = p if rc == 0 else f"quantize fails: {msg[0][:100]}"
    ref = first_output(files["float32"], held)
    rows = []
    with tempfile.TemporaryDirectory() as w:
        w = pathlib.Path(w)
        for key, p in files.items():
            row = {"model": name, "file": key}
            if isinstance(p, str):
                row["error"] = p
                rows.append(row)
                continue
            rc, msg = lq("inspect", p)
            row["loads"] = rc == 0 or msg[0]
            row["exact"], row["tensors"] = exact(p, held[:golden], w)
            if key != "float32":
                y, why = in_child(first_output, p, held)
                row["sqnr_db"] = round(sqnr(ref, y), 1) if why is None else why
            if key.startswith("litequant:"):
                theirs = files.get(key.split(":")[1])
                if isinstance(theirs, pathlib.Path):
                    c = compare(p, theirs)
                    scales = sum("scales differ" in s for s in c["differences"])
                    row["parity"] = ("fields equal" if not c["differences"] else
                                     f"{len(c['differences'])} diffs ({scales} scales), "
                                     f"ops {c['operators'][0]} vs {c['operators'][1]}")
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def markdown(rows):
    lines = ["| model | file | loads | exact vs BUILTIN_REF | parity with converter | SQNR dB |",
             "|---|---|---|---|---|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['file']} | {r['error']} | | | |")
            continue
        loads = "yes" if r["loads"] is True else r["loads"]
        ex = f"{r['exact']} ({r['tensors']} tensors)"
        lines.append(f"| {r['model']} | {r['file']} | {loads} | {ex} | {r.get('parity', '')} "
                     f"| {r.get('sqnr_db', '')} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join([*APPS, *BUILT]))
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--out", type=pathlib.Path)
    ap.add_argument("--golden", type=int, default=2, help="held-out photos for `exact`")
    ap.add_argument("--fixed-batch", action="store_true",
                    help="convert with batch 1 fixed (default: Keras' dynamic batch, as "
                         "from_keras_model gives it: SHAPE/STRIDED_SLICE/PACK before reshapes)")
    ap.add_argument("--md", type=pathlib.Path)
    ap.add_argument("--json", type=pathlib.Path)
    ap.add_argument("--fixtures", type=pathlib.Path,
                    help="write the reduced-size zoo (tools/zoo_fixtures.py) as test fixtures "
                         "to this folder (e.g. tests/fixtures/zoo) instead")
    args = ap.parse_args()
    if args.fixtures:
        import zoo_fixtures
        names = args.models.split(",") if "--models" in sys.argv else list(zoo_fixtures.MINI)
        zoo_fixtures.build(args.fixtures, names)
        return
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: cargo build --release")
    out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="litequant-zoo-"))
    rows = []
    for name in args.models.split(","):
        size = SMALL.get(name, args.size)
        t0 = time.time()
        try:
            rows += one(name, size, out, args.golden, args.fixed_batch)
        except Exception as e:  # noqa: BLE001 - keep going with the other models
            rows.append({"model": name, "file": "-", "error": f"{type(e).__name__}: {e}"[:120]})
        print(f"[{name}] {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    md = markdown(rows)
    print(md)
    if args.md:
        args.md.write_text(md + "\n")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
