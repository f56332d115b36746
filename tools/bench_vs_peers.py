#!/usr/bin/env python3
"""Speed side by side, in one run on one machine: `litequant run --backend cpu` against
LiteRT, and `litequant quantize` against ai-edge-quantizer, on real vision models.

    cargo build --release
    /work/venv/bin/python tools/bench_vs_peers.py [--models NAME,...] [--repeat N]
                                                  [--threads N] [--md FILE] [--no-quantize]

Models: the MediaPipe float models (--mediapipe, default /work/models/mediapipe), each
made a float32 file first (float16 weights widened, tools/accuracy.py's float32_weights),
and its int8 version made by `litequant quantize --mode int8 --backend cpu` from the same 32
calibration crops tools/accuracy.py uses (seed 1; float input and output). Written under
--data/NAME (default target/bench: git-ignored).

Inference (same input, a random crop; the minimum of --repeat runs after one warm-up, since
the machine may be shared):
  lq 1t / lq Nt      `litequant run --backend cpu --threads 1|N --repeat R` (its
                     "ran in MIN ms (min of R, ...)" line)
  ref 1t             LiteRT BUILTIN_REF (the kernels litequant's results equal), 1 thread
  opt 1t             LiteRT optimized builtin kernels without delegates, 1 thread
  xnn 1t / xnn Nt    LiteRT with XNNPACK (the default), 1 and N threads
Ratios: lq 1t / opt 1t and lq Nt / xnn Nt (below 1: litequant is faster).

Quantization (--no-quantize skips it): wall time of `litequant quantize --mode int8
--backend cpu` (the whole process) and of ai-edge-quantizer's static_wi8_ai8 calibrate +
quantize + export (in this process, imports excluded) on the same 32 crops.

Prints a markdown table (docs/performance.md keeps the latest).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import accuracy  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = accuracy.BIN
DEFAULT = ["iris_landmark", "face_detection_short_range", "hand_landmark_lite",
           "palm_detection_lite", "hand_recrop", "selfie_segmentation"]


def litert_ms(path, x, resolver, threads, repeat):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_path=str(path), num_threads=threads,
                     experimental_op_resolver_type=getattr(OpResolverType, resolver))
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], x)
    it.invoke()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        it.invoke()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def lq_ms(path, npy, threads, repeat, work):
    out = work / "out.npz"
    r = subprocess.run([str(BIN), "run", str(path), "--input", str(npy), "-o", str(out),
                        "--backend", "cpu", "--threads", str(threads), "--repeat",
                        str(repeat)], capture_output=True, text=True)
    m = re.search(r"ran in ([0-9.]+) ms", r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"litequant run failed: {r.stderr.strip()[-500:]}")
    return float(m.group(1))


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def fmt(v):
    return "—" if v is None else f"{v:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(DEFAULT))
    ap.add_argument("--mediapipe", default="/work/models/mediapipe")
    ap.add_argument("--data", default=str(ROOT / "target" / "bench"))
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--md")
    ap.add_argument("--no-quantize", action="store_true")
    a = ap.parse_args()
    imgs = accuracy.source_photos()
    rows, qrows = [], []
    for name in a.models.split(","):
        src = pathlib.Path(a.mediapipe) / f"{name}.tflite"
        work = pathlib.Path(a.data) / name
        work.mkdir(parents=True, exist_ok=True)
        f32 = work / "float32.tflite"
        accuracy.float32_weights(src, f32)
        shape = accuracy.input_shape(f32)
        lo, hi = accuracy.MEDIAPIPE.get(name, (0.0, 1.0))
        calib = accuracy.crops(imgs, accuracy.N_CALIB, shape[:2], 1, lo, hi)
        np.save(work / "calib.npy", calib)
        x = accuracy.crops(imgs, 1, shape[:2], 3, lo, hi)
        np.save(work / "x.npy", x)
        i8 = work / "int8.tflite"
        t0 = time.perf_counter()
        r = subprocess.run([str(BIN), "quantize", str(f32), "-o", str(i8), "--mode", "int8",
                            "--calib", str(work / "calib.npy"), "--backend", "cpu"],
                           capture_output=True, text=True)
        lq_q = time.perf_counter() - t0
        if r.returncode != 0:
            print(f"{name}: litequant quantize failed: {r.stderr[-400:]}", file=sys.stderr)
            continue
        if not a.no_quantize:
            t0 = time.perf_counter()
            accuracy.aeq(f32, work / "aeq_int8.tflite", "static_wi8_ai8", calib)
            qrows.append((name, lq_q, time.perf_counter() - t0))
        for kind, path in [("float32", f32), ("int8", i8)]:
            n = a.threads
            v = {
                "lq1": lq_ms(path, work / "x.npy", 1, a.repeat, work),
                "lqN": lq_ms(path, work / "x.npy", n, a.repeat, work),
                "ref1": litert_ms(path, x, "BUILTIN_REF", 1, max(2, a.repeat // 3)),
                "opt1": litert_ms(path, x, "BUILTIN_WITHOUT_DEFAULT_DELEGATES", 1, a.repeat),
                "xnn1": litert_ms(path, x, "BUILTIN", 1, a.repeat),
                "xnnN": litert_ms(path, x, "BUILTIN", n, a.repeat),
            }
            rows.append((name, kind, v))
            print(f"{name} {kind}: " + ", ".join(f"{k} {fmt(t)} ms" for k, t in v.items()),
                  file=sys.stderr)
    n = a.threads
    lines = [f"Machine: {machine()}; minimum of {a.repeat} runs.", "",
             f"| model | type | lq 1t | lq {n}t | LiteRT ref 1t | LiteRT opt 1t | "
             f"XNNPACK 1t | XNNPACK {n}t | lq 1t / opt 1t | lq {n}t / XNNPACK {n}t |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, kind, v in rows:
        lines.append(f"| {name} | {kind} | {fmt(v['lq1'])} | {fmt(v['lqN'])} | "
                     f"{fmt(v['ref1'])} | {fmt(v['opt1'])} | {fmt(v['xnn1'])} | "
                     f"{fmt(v['xnnN'])} | {v['lq1'] / v['opt1']:.2f} | "
                     f"{v['lqN'] / v['xnnN']:.2f} |")
    if qrows:
        lines += ["", "| model | litequant quantize (s) | ai-edge-quantizer (s) | ratio |",
                  "|---|---:|---:|---:|"]
        for name, lqs, aqs in qrows:
            lines.append(f"| {name} | {lqs:.2f} | {aqs:.2f} | {lqs / aqs:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.md:
        pathlib.Path(a.md).write_text(text)


if __name__ == "__main__":
    main()
