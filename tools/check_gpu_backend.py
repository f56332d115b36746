#!/usr/bin/env python3
"""The GPU backend end to end on a realistic network (too big to commit as a fixture).

    cargo build --release
    tools/.venv/bin/python tools/check_gpu_backend.py [--out DIR]

Builds the MobileNetV2 of tools/check_mobilenet.py (alpha 0.35, 96x96x3, seeded random
weights, data-dependent BatchNorm statistics) and its TF-converter int8 file, then:

1. `litequant run --backend gpu` vs `--backend reference` on the float and the converter's
   int8 model over 16 held-out samples: the int8 model's outputs must be identical, the float
   model's within 1e-4 + 1e-4|x|.
2. `litequant quantize --backend gpu` vs `--backend reference` on the same 16 calibration
   samples (both timed): every scale within 4 float32 ulp, the files loaded and run by stock
   LiteRT (BUILTIN_REF and default kernels), and the int8 values of the output (the tensor
   before the final DEQUANTIZE) on the held-out samples agreeing on >= 99.9 % of elements.

Prints one JSON object; exits 1 if a check fails. Needs a GPU adapter (lavapipe will do:
VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json WGPU_ADAPTER_NAME=llvmpipe).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import check_mobilenet as cm  # noqa: E402

BIN = os.environ.get("LITEQUANT_BIN", str(cm.BIN))


def litequant(*args):
    t0 = time.perf_counter()
    r = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit(f"litequant {' '.join(map(str, args))} failed")
    return r, dt


def run_both(model, inputs_npy, out):
    got = {}
    for backend in ("gpu", "reference"):
        o = out / f"{model.stem}.{backend}.npz"
        r, dt = litequant("run", model, "--input", inputs_npy, "-o", o, "--backend", backend)
        got[backend] = (np.load(o), dt, r.stdout.strip().splitlines()[-1:])
    return got


def scales(path):
    a = cm.load(path)
    res = {}
    for t in a.subgraphs[0].tensors:
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale):
            res[t.name.decode()] = (np.array(q.scale, np.float32), list(q.zeroPoint))
    return res


def ulp_distance(a, b):
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    return np.abs(ia - ib)


def int8_outputs(path, data):
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    m = cm.load(path)
    sg = m.subgraphs[0]
    out_t = sg.outputs[0]
    # The int8 tensor the final DEQUANTIZE reads.
    src = next(op.inputs[0] for op in sg.operators if op.outputs[0] == out_t)
    i = it.get_input_details()[0]["index"]
    res = []
    for k in range(len(data)):
        it.set_tensor(i, data[k:k + 1])
        it.invoke()
        res.append(it.get_tensor(src).copy())
    return np.array(res)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=pathlib.Path)
    args = ap.parse_args()
    out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="litequant-gpu-"))
    out.mkdir(parents=True, exist_ok=True)
    calib = cm.build(out)
    held = np.random.default_rng(1).uniform(-1, 1, (16, 96, 96, 3)).astype(np.float32)
    result = {"folder": str(out)}
    ok = True

    # 1. run: gpu vs reference, one sample at a time (the model's batch is 1).
    for name in ("float.tflite", "converter_int8.tflite"):
        worst, same, times = 0.0, True, []
        for k in range(len(held)):
            x = out / "x.npy"
            np.save(x, held[k:k + 1])
            got = run_both(out / name, x, out)
            g, r = got["gpu"][0], got["reference"][0]
            for key in r.files:
                a, b = g[key], r[key]
                same &= bool(np.array_equal(a, b))
                worst = max(worst, float(np.max(np.abs(a - b) / (1e-4 + 1e-4 * np.abs(b)))))
            times.append((got["gpu"][1], got["reference"][1]))
        entry = {"identical": same, "worst_error_over_tolerance": worst,
                 "wall_s_gpu_ref_per_sample": [float(np.median([t[0] for t in times])),
                                               float(np.median([t[1] for t in times]))]}
        result[f"run {name}"] = entry
        ok &= same if "int8" in name else worst <= 1.0

    # 2. quantize: gpu vs reference calibration.
    files = {}
    for backend in ("reference", "gpu"):
        f = out / f"litequant_int8_{backend}.tflite"
        _, dt = litequant("quantize", out / "float.tflite", "-o", f, "--calib", out / "calib.npy",
                          "--backend", backend)
        files[backend] = f
        result[f"quantize --backend {backend} wall_s"] = round(dt, 2)
    sr, sg = scales(files["reference"]), scales(files["gpu"])
    worst_ulp, zp_diff, missing = 0, 0, sorted(set(sr) ^ set(sg))
    for name in set(sr) & set(sg):
        (a, za), (b, zb) = sr[name], sg[name]
        if a.shape != b.shape:
            missing.append(name)
            continue
        worst_ulp = max(worst_ulp, int(ulp_distance(a, b).max()))
        zp_diff += sum(int(x != y) for x, y in zip(za, zb))
    qa, qb = int8_outputs(files["reference"], held), int8_outputs(files["gpu"], held)
    agree = float(np.mean(qa == qb))
    for f in files.values():
        it = Interpreter(model_path=str(f))
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], held[:1])
        it.invoke()
    result["quantize gpu vs reference"] = {
        "tensors_compared": len(set(sr) & set(sg)), "mismatched_layout": missing,
        "worst_scale_ulp": worst_ulp, "zero_points_differing": zp_diff,
        "held_out_int8_output_agreement": agree,
        "converter_identical_reference_file": not cm.compare(files["reference"],
                                                             out / "converter_int8.tflite")["differences"],
    }
    ok &= worst_ulp <= 4 and not missing and agree >= 0.999
    result["ok"] = bool(ok)
    print(json.dumps(result, indent=1))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
