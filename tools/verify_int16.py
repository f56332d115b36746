#!/usr/bin/env python3
"""Check litequant's 16x8 files against stock LiteRT.

For every case of tests/fixtures/int16/manifest.json (both variants), runs
`litequant quantize --mode int16x8` on tests/fixtures/ops/CASE_f32.tflite with the
converter's calibration samples (ops/CASE.calib.npz; `--input-type/--output-type int16`
for the int16io variant), then:
  1. loads the file in LiteRT 2.3.0 with BUILTIN_REF and with the default kernels and runs
     the fixture's golden inputs (every tensor preserved);
  2. runs the same inputs through `litequant run --dump-all` (reference engine) and
     requires every tensor LiteRT recorded equal to BUILTIN_REF's: integers bit for bit,
     floats within 1e-5 + 1e-5·|x|;
  3. reports how far the default kernels are from BUILTIN_REF (information only).
Prints one line per file and a summary; exits non-zero on any failure.

    cargo build --bin litequant && /work/venv/bin/python tools/verify_int16.py
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
BIN = ROOT / "target" / "debug" / "litequant"


def litert(path, feeds, ref):
    it = Interpreter(model_path=str(path), num_threads=1, experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=(OpResolverType.BUILTIN_REF if ref
                                                    else OpResolverType.AUTO))
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], feeds[d["name"]])
    it.invoke()
    out = {}
    for d in it.get_tensor_details():
        try:
            out[d["index"]] = np.array(it.get_tensor(d["index"]), copy=True)
        except ValueError:
            pass
    outs = [np.array(it.get_tensor(d["index"]), copy=True) for d in it.get_output_details()]
    return out, outs, it


def main():
    manifest = json.loads((FIX / "int16" / "manifest.json").read_text())
    ok, bad, refused = 0, [], []
    compared = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, m in sorted(manifest["models"].items()):
            case, variant = m["case"], m["variant"]
            float_model = FIX / "ops" / f"{case}_f32.tflite"
            if not float_model.exists():
                continue
            q = tmp / f"{name}.tflite"
            cmd = [str(BIN), "quantize", str(float_model), "-o", str(q), "--mode", "int16x8",
                   "--calib", str(FIX / "ops" / f"{case}.calib.npz")]
            if variant == "int16io":
                cmd += ["--input-type", "int16", "--output-type", "int16"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                refused.append(f"{name}: {r.stderr.strip().splitlines()[-1]}")
                continue
            gold = np.load(FIX / "int16" / m["golden_file"])
            probe = Interpreter(model_path=str(q))
            ins = probe.get_input_details()
            # The fixture's inputs by signature name (x0, x1, ...), quantized as our file's
            # inputs say.
            sig = {i["signature_name"]: k for k, i in enumerate(m["inputs"])}
            failures = []
            default_diff = 0.0
            for s in range(gold["input_0"].shape[0]):
                feeds, npz = {}, {}
                for d in ins:
                    key = d["name"].split(":")[0].split("_")[-1]
                    k = sig[key] if key in sig else (0 if len(sig) == 1 else sig[key])
                    x = gold[f"input_{k}"][s]
                    if x.dtype != np.float32 and d["dtype"] == np.float32:
                        # an int16 golden for a float input: dequantize (fixture's params)
                        qd = m["inputs"][k]["quantization"]
                        x = (x.astype(np.float64) * qd["scale"]).astype(np.float32)
                    elif x.dtype != d["dtype"]:   # float golden for an int16 input: quantize
                        sc, zp = d["quantization"]
                        x = np.clip(np.round(x.astype(np.float64) / np.float32(sc)) + zp,
                                    -32768, 32767).astype(np.int16)
                    feeds[d["name"]] = x.astype(d["dtype"]).reshape(d["shape"])
                    npz[d["name"]] = feeds[d["name"]]
                ref, outs, _ = litert(q, feeds, True)
                _, outs_def, _ = litert(q, feeds, False)
                for a, b in zip(outs, outs_def):
                    default_diff = max(default_diff, float(np.max(np.abs(
                        a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0)
                inp = tmp / "in.npz"
                np.savez(inp, **npz)
                dump = tmp / f"dump_{name}_{s}"
                r = subprocess.run([str(BIN), "run", str(q), "--inputs", str(inp), "-o",
                                    str(tmp / "out.npz"), "--dump-all", str(dump)],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    failures.append(f"run: {r.stderr.strip()[-300:]}")
                    break
                for idx, want in ref.items():
                    f = dump / f"t{idx:04d}.npy"
                    if not f.exists():
                        continue
                    got = np.load(f)
                    compared += 1
                    if got.dtype != want.dtype or got.shape != want.shape:
                        failures.append(f"sample {s} t{idx}: {got.dtype}{got.shape} vs "
                                        f"{want.dtype}{want.shape}")
                    elif got.dtype == np.float32:
                        if not np.all(np.abs(got - want) <= 1e-5 + 1e-5 * np.abs(want)):
                            failures.append(f"sample {s} t{idx}: floats differ")
                    elif not np.array_equal(got, want):
                        failures.append(f"sample {s} t{idx}: "
                                        f"{int(np.sum(got != want))} elements differ")
            if failures:
                bad.append(f"{name}: {failures[:3]}")
                print(f"[FAIL] {name}: {failures[:3]}")
            else:
                ok += 1
                print(f"[ok] {name:34s} default kernels vs BUILTIN_REF: {default_diff:.3g}")
    print(f"\n{ok} files run in stock LiteRT with every tensor equal to litequant's reference "
          f"engine ({compared} tensor comparisons), {len(bad)} failing, {len(refused)} refused "
          "by litequant:")
    for r in refused:
        print("  refused", r)
    for b in bad:
        print("  FAIL", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
