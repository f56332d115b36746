#!/usr/bin/env python3
"""Accuracy harness: litequant's quantization settings against its peers on real models and
real photos.

    cargo build --release
    /work/venv/bin/python tools/accuracy.py [--models NAME,...] [--zoo-size N] [--data DIR]
                                            [--md FILE] [--json FILE] [--no-eval-check]

Models: the MediaPipe float models in --mediapipe (default /work/models/mediapipe:
hand_recrop, iris_landmark, face_detection_short_range, palm_detection_lite,
hand_landmark_lite; selfie_segmentation and face_landmark on request) and the zoo
(tools/make_zoo.py's Keras architectures, converted here at --zoo-size).

Data: scikit-image's sample photos (skimage.data, offline), random square crops with random
horizontal flips from fixed seeds, resized to the model's input (skimage.transform.resize,
anti-aliased) and normalised as the model expects (MODELS below, from each MediaPipe graph's
ImageToTensorCalculator / TfLiteConverterCalculator; the zoo's [-1, 1], on which its
BatchNormalization statistics are set). 32 crops calibrate (seed 1), 16 other crops score
(seed 2). Written as calib.npy / score.npy under --data/NAME (default target/accuracy: git
ignored; MBs, never committed).

The float file: MediaPipe's, with float16 weights (face detector, palm detector, hand
landmarks ship FLOAT16 constants behind DEQUANTIZE) widened to float32 constants and those
DEQUANTIZE ops removed (exact: the same outputs); neither litequant nor ai-edge-quantizer
quantizes a model that is already float16. Written as float32.tflite under --data/NAME.

Settings, each quantized from the same float file with the same 32 calibration crops:
  lq:<method>   `litequant quantize --mode int8` with each --calibration method the release
                binary offers (minmax is the default; the others are added by name when
                `litequant quantize --help` lists them)
  lq:int16x8    `--mode int16x8`, when the binary has it (minmax ranges; with
                --int16x8-methods M,..., also lq:int16x8-M: --calibration M)
  lq:target     `--max-rel-rmse R`, R = --target-factor (default 0.5) times the best peer's
                score on this model, when the binary has the flag (error-guided mixed
                precision; the cell shows how many ops it moved)
  aeq:ai8/ai16  ai-edge-quantizer 0.10 recipes static_wi8_ai8 / static_wi8_ai16 (the model
                gets a `serving_default` signature first: aeq calibrates by signature)
  conv:int8     the TF converter's int8 (float I/O), only where a Keras model exists (zoo)

Score: every quantized file and the float file run in LiteRT (BUILTIN_REF) on the 16 scoring
crops; per output, relative RMSE = sqrt(sum (q - f)^2 / sum f^2) over all elements of all
crops (SQNR = -20 log10 of it); a model's score is its worst output. The litequant files are
also scored by `litequant eval` on the same crops, which must agree (SQNR within 0.01 dB:
the reference engine is bit-exact with BUILTIN_REF), unless --no-eval-check.

Prints a markdown table (docs/accuracy.md takes it): relative RMSE in % (SQNR dB), best per
row in bold.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")
ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(os.environ.get("LITEQUANT_BIN", ROOT / "target" / "release" / "litequant"))

# Input normalisation of the MediaPipe models: the float range their graph's image converter
# writes. Sources (google-ai-edge/mediapipe, mediapipe/modules/...):
#   face_detection/face_detection.pbtxt            output_tensor_float_range [-1, 1]
#   palm_detection/palm_detection_cpu.pbtxt        [0, 1]
#   hand_landmark/hand_landmark_cpu.pbtxt          [0, 1]
#   hand_landmark/hand_recrop_by_roi_cpu.pbtxt     [0, 1]
#   iris_landmark/iris_landmark_cpu.pbtxt          TfLiteConverterCalculator zero_center:
#                                                  false, i.e. [0, 1]
#   selfie_segmentation/selfie_segmentation_cpu.pbtxt, face_landmark/face_landmark_cpu.pbtxt
#                                                  [0, 1]
MEDIAPIPE = {
    "hand_recrop": (0.0, 1.0),
    "iris_landmark": (0.0, 1.0),
    "face_detection_short_range": (-1.0, 1.0),
    "palm_detection_lite": (0.0, 1.0),
    "hand_landmark_lite": (0.0, 1.0),
    "selfie_segmentation": (0.0, 1.0),
    "face_landmark": (0.0, 1.0),
}
DEFAULT_MEDIAPIPE = ["hand_recrop", "iris_landmark", "face_detection_short_range",
                     "palm_detection_lite", "hand_landmark_lite"]
METHODS = ["minmax", "moving-average", "percentile", "mse", "entropy", "auto"]
PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "motorcycle_right",
          "hubble_deep_field", "immunohistochemistry", "retina", "colorwheel", "logo",
          "camera", "coins", "moon", "page", "text", "grass", "gravel", "brick"]
N_CALIB, N_SCORE = 32, 16


def source_photos():
    from skimage import data
    imgs = []
    for nm in PHOTOS:
        try:
            a = getattr(data, nm)()
        except Exception:  # noqa: BLE001 - a photo that needs a download: skipped
            continue
        a = np.asarray(a)
        if a.ndim == 2:
            a = np.stack([a] * 3, axis=-1)
        if a.ndim == 3 and a.shape[-1] >= 3 and min(a.shape[:2]) >= 64:
            imgs.append(a[..., :3].astype(np.float32) / 255.0 if a.dtype == np.uint8
                        else a[..., :3].astype(np.float32))
    return imgs


def crops(imgs, n, size, seed, lo, hi):
    """`n` random square crops (side between a third and all of the shorter side), flipped
    left-right with probability 1/2, resized to `size` x `size`, values mapped to [lo, hi]."""
    from skimage.transform import resize
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = imgs[int(rng.integers(len(imgs)))]
        h, w = a.shape[:2]
        c = int(rng.integers(min(h, w) // 3, min(h, w) + 1))
        y, x = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
        crop = a[y:y + c, x:x + c]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        r = resize(crop, size, anti_aliasing=True, preserve_range=True)
        out.append(lo + (hi - lo) * np.clip(r, 0.0, 1.0))
    return np.stack(out).astype(np.float32)


def input_shape(path):
    from ai_edge_litert.interpreter import Interpreter
    d = Interpreter(model_path=str(path)).get_input_details()
    if len(d) != 1:
        raise ValueError(f"{path}: {len(d)} inputs; the harness feeds single-image models")
    return tuple(int(s) for s in d[0]["shape"][1:])


def run_all(path, xs):
    """Every output of `path` on each sample, LiteRT BUILTIN_REF: {name: [N, ...] float64}."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_path=str(path),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i = it.get_input_details()[0]
    outs = it.get_output_details()
    res = {o["name"]: [] for o in outs}
    for x in xs:
        v = x[None]
        if i["dtype"] != np.float32:
            s, z = i["quantization"]
            info = np.iinfo(i["dtype"])
            v = np.clip(np.round(v / s) + z, info.min, info.max).astype(i["dtype"])
        it.set_tensor(i["index"], v)
        it.invoke()
        for o in outs:
            y = it.get_tensor(o["index"]).astype(np.float64)
            if o["dtype"] != np.float32:
                s, z = o["quantization"]
                y = (y - z) * s
            res[o["name"]].append(y)
    return {k: np.array(v) for k, v in res.items()}, [o["name"] for o in outs]


def in_child(fn, *args):
    """fn(*args) in a forked child (LiteRT aborts the process on some models)."""
    import pickle
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        try:
            data = pickle.dumps((fn(*args), None))
        except Exception as e:  # noqa: BLE001
            data = pickle.dumps((None, f"{type(e).__name__}: {e}"[:160]))
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


def score(ref, ref_names, got, got_names):
    """Per output (float model's order): rel RMSE and SQNR; outputs paired by name when every
    name is found, else by position."""
    by_name = all(n in got for n in ref_names)
    res = []
    for k, n in enumerate(ref_names):
        g = got[n] if by_name else got[got_names[k]]
        f = ref[n]
        if g.size != f.size:
            raise ValueError(f"output '{n}': {g.shape} vs float {f.shape}")
        g = g.reshape(f.shape)
        noise, signal = float(np.sum((g - f) ** 2)), float(np.sum(f ** 2))
        rel = float(np.sqrt(noise / signal)) if signal > 0 else float("inf")
        sq = float("inf") if noise == 0 else 10 * np.log10(signal / noise)
        res.append({"output": n, "rel_rmse": rel, "sqnr_db": sq})
    return res


def with_signature(src, dst):
    """`src` made fit for ai-edge-quantizer: a `serving_default` signature over its inputs and
    outputs (by tensor name; aeq calibrates by signature, and MediaPipe's files have none),
    and every OperatorCode's `builtin_code` set to max(builtin_code,
    deprecated_builtin_code) as LiteRT reads it (MediaPipe's older files carry only the
    deprecated field; aeq 0.10 reads `builtin_code` alone, sees every op as ADD (0) and
    quantizes weights and biases as activations)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb
    buf = pathlib.Path(src).read_bytes()
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(buf, 0))
    for oc in m.operatorCodes:
        oc.builtinCode = max(oc.builtinCode, oc.deprecatedBuiltinCode)
    if not m.signatureDefs:
        sg = m.subgraphs[0]

        def maps(ix):
            res = []
            for t in ix:
                tm = fb.TensorMapT()
                tm.name, tm.tensorIndex = sg.tensors[t].name, int(t)
                res.append(tm)
            return res
        sd = fb.SignatureDefT()
        sd.signatureKey, sd.subgraphIndex = "serving_default", 0
        sd.inputs, sd.outputs = maps(sg.inputs), maps(sg.outputs)
        m.signatureDefs = [sd]
    b = flatbuffers.Builder(len(buf) + 4096)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    pathlib.Path(dst).write_bytes(bytes(b.Output()))


def float32_weights(src, dst):
    """`src` with its FLOAT16 constants widened to float32 and the DEQUANTIZE ops that read
    them removed (their outputs become the float32 constants): the float model every
    setting quantizes. MediaPipe ships some models with float16 weights (face detector,
    palm detector, hand landmarks); float16 -> float32 is exact, so the outputs are the
    same. Returns how many DEQUANTIZE ops were folded."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb
    buf = pathlib.Path(src).read_bytes()
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(buf, 0))
    folded, remap = 0, []
    for sg in m.subgraphs:
        keep = []
        for op in sg.operators:
            oc = m.operatorCodes[op.opcodeIndex]
            code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
            src_t = sg.tensors[op.inputs[0]] if len(op.inputs) == 1 else None
            data = None if src_t is None else m.buffers[src_t.buffer].data
            if (code == fb.BuiltinOperator.DEQUANTIZE and src_t.type == fb.TensorType.FLOAT16
                    and data is not None and len(data) > 0):
                wide = np.frombuffer(bytes(bytearray(data)), np.float16).astype(np.float32)
                b = fb.BufferT()
                b.data = np.frombuffer(wide.tobytes(), np.uint8)
                m.buffers.append(b)
                sg.tensors[op.outputs[0]].buffer = len(m.buffers) - 1
                folded += 1
            else:
                keep.append(op)
        sg.operators = keep
        # Drop the tensors nothing uses any more (the float16 originals): litequant and aeq
        # refuse a model holding FLOAT16 constants, used or not.
        used = set(sg.inputs) | set(sg.outputs)
        for op in sg.operators:
            for v in (op.inputs, op.outputs, op.intermediates):
                used |= {t for t in (v if v is not None else []) if t >= 0}
        new = {t: k for k, t in enumerate(sorted(used))}
        sg.tensors = [sg.tensors[t] for t in sorted(used)]
        sg.inputs = [new[t] for t in sg.inputs]
        sg.outputs = [new[t] for t in sg.outputs]
        for op in sg.operators:
            op.inputs = [new[t] if t >= 0 else t for t in op.inputs]
            op.outputs = [new[t] for t in op.outputs]
            if op.intermediates is not None:
                op.intermediates = [new[t] for t in op.intermediates]
        remap.append(new)
    for sd in m.signatureDefs or []:
        for tm in (sd.inputs or []) + (sd.outputs or []):
            tm.tensorIndex = remap[sd.subgraphIndex][tm.tensorIndex]
    b = flatbuffers.Builder(len(buf) * 2 + 4096)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    pathlib.Path(dst).write_bytes(bytes(b.Output()))
    return folded


def aeq(src, dst, recipe_name, calib):
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe
    signed = dst.with_suffix(".signed.tflite")
    with_signature(src, signed)
    q = quantizer.Quantizer(str(signed))
    q.load_quantization_recipe(getattr(recipe, recipe_name)())
    it = Interpreter(model_path=str(signed))
    sig = it.get_signature_list()
    key = next(iter(sig))
    iname = sig[key]["inputs"][0]
    data = {key: [{iname: calib[i:i + 1]} for i in range(len(calib))]}
    q.quantize(q.calibrate(data)).export_model(str(dst), overwrite=True)
    signed.unlink()


def lq(*args, timeout=3600):
    r = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def capabilities():
    """What the release binary offers, from `litequant quantize --help`."""
    rc, out, err = lq("quantize", "--help")
    text = out + err
    methods = ["minmax"]
    if "--calibration" in text:
        methods += [m for m in METHODS[1:] if m in text]
    return {"methods": methods, "int16x8": "int16x8" in text,
            "target": "--max-rel-rmse" in text}


def lq_settings(caps, calib, target, methods16=("minmax",)):
    s = {}
    for m in caps["methods"]:
        extra = [] if m == "minmax" else ["--calibration", m]
        s[f"lq:{m}"] = ["--mode", "int8", "--calib", calib, *extra]
    if caps["int16x8"]:
        for m in methods16:
            extra = [] if m == "minmax" else ["--calibration", m]
            label = "lq:int16x8" if m == "minmax" else f"lq:int16x8-{m}"
            s[label] = ["--mode", "int16x8", "--calib", calib, *extra]
    if caps["target"] and target is not None:
        s["lq:target"] = ["--mode", "int8", "--calib", calib, "--max-rel-rmse", f"{target:.6g}"]
    return s


def eval_check(float_path, qpath, score_npy, expected, work):
    """`litequant eval` on the scoring crops: its SQNR per output vs LiteRT's."""
    js = work / "eval.json"
    rc, out, err = lq("eval", float_path, qpath, "--data", score_npy, "--json", js)
    if rc != 0:
        return f"eval fails: {(err.strip().splitlines() or [''])[-1][:120]}"
    rep = json.loads(js.read_text())
    worst = 0.0
    for o, e in zip(rep["outputs"], expected):
        a = o["sqnr_db"] if o["sqnr_db"] is not None else float("inf")
        b = e["sqnr_db"]
        if np.isfinite(a) or np.isfinite(b):
            worst = max(worst, abs(a - b))
    return "agrees" if worst <= 0.01 else f"differs by {worst:.3f} dB"


def zoo_model(name, size, d, calib):
    """The Keras zoo model `name` (tools/make_zoo.py): float32.tflite and the converter's
    int8 (float I/O, the same calibration crops)."""
    import tensorflow as tf
    sys.path.insert(0, str(ROOT / "tools"))
    import make_zoo
    tf.keras.utils.set_random_seed(7)
    size = make_zoo.SMALL.get(name, size)
    m = make_zoo.APPS[name](size) if name in make_zoo.APPS else make_zoo.BUILT[name](size)
    make_zoo.set_batchnorm(m, calib, 0)
    inp = tf.keras.Input((size, size, 3), batch_size=1)
    m = tf.keras.Model(inp, m(inp))
    (d / "float32.tflite").write_bytes(make_zoo.convert(m, calib, "float32"))
    try:
        (d / "conv_int8.tflite").write_bytes(make_zoo.convert(m, calib, "int8"))
        return None
    except Exception as e:  # noqa: BLE001 - the converter refuses: recorded
        return f"converter fails: {str(e).splitlines()[0][:100]}"


def zoo_size(name, size):
    sys.path.insert(0, str(ROOT / "tools"))
    import make_zoo
    return make_zoo.SMALL.get(name, size)


def one(name, args, caps, imgs):
    d = args.data / name
    d.mkdir(parents=True, exist_ok=True)
    files, errors = {}, {}
    if name in MEDIAPIPE:
        lo, hi = MEDIAPIPE[name]
        float_path = d / "float32.tflite"
        folded = float32_weights(args.mediapipe / f"{name}.tflite", float_path)
        shape = input_shape(float_path)
    else:
        lo, hi = -1.0, 1.0
        s = zoo_size(name, args.zoo_size)
        shape, float_path = (s, s, 3), d / "float32.tflite"
    calib = crops(imgs, N_CALIB, shape[:2], 1, lo, hi)
    held = crops(imgs, N_SCORE, shape[:2], 2, lo, hi)
    np.save(d / "calib.npy", calib)
    np.save(d / "score.npy", held)
    if name not in MEDIAPIPE:
        why = zoo_model(name, shape[0], d, calib)
        if why:
            errors["conv:int8"] = why
        else:
            files["conv:int8"] = d / "conv_int8.tflite"
    for label, r in (("aeq:ai8", "static_wi8_ai8"), ("aeq:ai16", "static_wi8_ai16")):
        p = d / f"aeq_{r}.tflite"
        if label in args.skip:
            continue
        if args.reuse and p.exists():
            files[label] = p
            continue
        _, why = in_child(aeq, float_path, p, r, calib)
        if why:
            errors[label] = f"aeq fails: {why}"
        else:
            files[label] = p
    ref, ref_names = run_all(float_path, held)
    rows = {}

    def add(label, path):
        got, why = in_child(run_all, path, held)
        if why:
            errors[label] = why
            return
        rows[label] = {"outputs": score(ref, ref_names, *got), "bytes": path.stat().st_size}

    for label, p in files.items():
        add(label, p)
    peers = [rows[k]["outputs"] for k in ("aeq:ai8", "aeq:ai16", "conv:int8") if k in rows]
    best_peer = min((max(o["rel_rmse"] for o in p) for p in peers), default=None)
    target = None if best_peer is None else best_peer * args.target_factor
    for label, a in lq_settings(caps, d / "calib.npy", target, args.int16x8_methods).items():
        if label in args.skip:
            continue
        p = d / f"lq_{label.split(':')[1]}.tflite"
        t0 = time.time()
        rc, out, err = lq("quantize", float_path, "-o", p, *a, "--report", d / "report.json")
        if rc != 0:
            errors[label] = f"quantize fails: {(err.strip().splitlines() or [''])[-1][:160]}"
            continue
        add(label, p)
        if label in rows:
            rows[label]["seconds"] = round(time.time() - t0, 1)
            log = (out + err).splitlines()
            if label == "lq:target" or label.endswith("auto"):
                # The search's / auto's report (what moved, which method per tensor).
                rows[label]["log"] = [x for x in log if x.strip()][-40:]
            if label == "lq:target":
                moved = [x.strip() for x in log if x.strip().startswith("moved ")]
                rows[label]["moved"] = int(moved[0].split()[1]) if moved else 0
                # "moved N of M ranked ops (A to int16, B to float; C int16 candidates; P
                # probes):" (litequant with int16 moves; older binaries: float only)
                m16 = re.search(r"\((\d+) to int16, (\d+) to float; (\d+) int16 candidates; "
                                r"(\d+) probes\)", moved[0]) if moved else None
                if m16:
                    rows[label].update(int16=int(m16[1]), float=int(m16[2]),
                                       candidates=int(m16[3]), probes=int(m16[4]))
                for key in ("before", "after"):
                    held = [x.strip() for x in log if x.strip().startswith(key + ":")]
                    if held:
                        rows[label]["held_out_" + key] = held[0]
            if args.eval_check:
                rows[label]["eval"] = eval_check(float_path, p, d / "score.npy",
                                                 rows[label]["outputs"], d)
    for r in rows.values():
        worst = max(r["outputs"], key=lambda o: o["rel_rmse"])
        r["rel_rmse"], r["sqnr_db"] = worst["rel_rmse"], worst["sqnr_db"]
    return {"model": name, "input": list(shape), "range": [lo, hi],
            "float16_weights_widened": folded if name in MEDIAPIPE else 0,
            "float_bytes": float_path.stat().st_size, "target": target,
            "results": rows, "errors": errors}


def columns(caps, methods16=("minmax",)):
    cols = [f"lq:{m}" for m in caps["methods"]]
    if caps["int16x8"]:
        cols += ["lq:int16x8" if m == "minmax" else f"lq:int16x8-{m}" for m in methods16]
    if caps["target"]:
        cols.append("lq:target")

    return cols + ["aeq:ai8", "aeq:ai16", "conv:int8"]


def markdown(models, cols):
    head = "| model | " + " | ".join(c.split(":")[1] if c.startswith("lq:") else c
                                     for c in cols) + " |"
    lines = [head, "|---|" + "---:|" * len(cols)]
    for m in models:
        res = m["results"]
        best = min((res[c]["rel_rmse"] for c in cols if c in res), default=None)
        cells = []
        for c in cols:
            if c in res:
                r = res[c]
                v = f"{100 * r['rel_rmse']:.3g}% ({r['sqnr_db']:.1f})"
                if "int16" in r:
                    v += f", {r['int16']} int16 + {r['float']} float"
                elif "moved" in r:
                    v += f", {r['moved']} float"
                cells.append(f"**{v}**" if r["rel_rmse"] == best else v)
            elif c in m["errors"]:
                cells.append("fails")
            else:
                cells.append("—")
        lines.append(f"| {m['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(DEFAULT_MEDIAPIPE),
                    help="comma-separated MediaPipe names and zoo names (tools/make_zoo.py); "
                         "'zoo' adds every zoo model")
    ap.add_argument("--mediapipe", type=pathlib.Path, default=pathlib.Path(
        "/work/models/mediapipe"))
    ap.add_argument("--zoo-size", type=int, default=96)
    ap.add_argument("--data", type=pathlib.Path, default=ROOT / "target" / "accuracy")
    ap.add_argument("--no-eval-check", dest="eval_check", action="store_false")
    ap.add_argument("--target-factor", type=float, default=0.5,
                    help="lq:target's --max-rel-rmse as a fraction of the best peer's score")
    ap.add_argument("--skip", type=lambda v: set(v.split(",")), default=set(),
                    help="settings to leave out (lq:target,aeq:ai8,...)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the aeq files a previous run left under --data (same float "
                         "file, same calibration crops)")
    ap.add_argument("--int16x8-methods", type=lambda v: v.split(","), default=["minmax"],
                    help="the --calibration methods of the --mode int16x8 settings "
                         "(lq:int16x8 is minmax's, the others lq:int16x8-METHOD)")
    ap.add_argument("--md", type=pathlib.Path)
    ap.add_argument("--json", type=pathlib.Path)
    args = ap.parse_args()
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: cargo build --release")
    names = []
    for n in args.models.split(","):
        if n == "zoo":
            sys.path.insert(0, str(ROOT / "tools"))
            import make_zoo
            names += [*make_zoo.APPS, *make_zoo.BUILT]
        elif n:
            names.append(n)
    caps = capabilities()
    imgs = source_photos()
    models = []
    for name in names:
        t0 = time.time()
        try:
            m = one(name, args, caps, imgs)
        except Exception as e:  # noqa: BLE001 - keep going with the other models
            m = {"model": name, "results": {}, "errors": {"-": f"{type(e).__name__}: {e}"[:200]}}
        m["seconds"] = round(time.time() - t0)
        models.append(m)
        print(json.dumps(m), flush=True)
        print(f"[{name}] {m['seconds']} s", file=sys.stderr, flush=True)
    md = markdown(models, columns(caps, args.int16x8_methods))
    machine = f"{platform.node()}: {platform.processor() or platform.machine()}, " \
              f"{os.cpu_count()} CPUs"
    print(md)
    if args.md:
        args.md.write_text(md + "\n")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "capabilities": caps,
                                         "models": models}, indent=1) + "\n")


if __name__ == "__main__":
    main()
