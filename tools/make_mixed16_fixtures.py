#!/usr/bin/env python3
"""Mixed int8/int16 fixtures: litequant's `--int16-ops` files checked by stock LiteRT.

For each case below, asks the litequant binary to quantize a committed float model (the
selective fixtures' and the 16x8 zoo's float sources, converter-made) in `int8` mode with
some ops on int16 activations (`--int16-ops`), then loads the file in stock LiteRT 2.3.0
with BUILTIN_REF (`experimental_preserve_all_tensors=True`), runs a few samples one by one
and records every non-constant tensor. Writes tests/fixtures/mixed16/:

  CASE.tflite   litequant's file (tests/quantize_mixed16.rs re-quantizes with the same
                command and requires the same bytes)
  CASE.npz      `input_k`, `output_k` and `t{index}` (every tensor LiteRT computed),
                samples stacked on a new leading axis
  manifest.json per case: the float model, calibration file, int16 ops, the command, the
                op histogram, the dtypes LiteRT saw per tensor, and the count of int16
                tensors and of requantizing QUANTIZE ops (int16 -> int8)

The script fails when LiteRT refuses a file or a case has no int16 tensor. Regenerate
after a change to the quantizer that changes these files (the test says so):

    cargo build --bin litequant && /work/venv/bin/python tools/make_mixed16_fixtures.py
"""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
OUT = FIX / "mixed16"
BIN = ROOT / "target" / "debug" / "litequant"
SAMPLES = 3

# name: (float model, calibration data, int16 ops, what it covers)
CASES = {
    "cnn_conv": ("selective/cnn_f32.tflite", "selective/cnn.calib.npz", ["CONV_2D"],
                 "two convolutions in a row, the first reading the float model input"),
    "cnn_dw_pool": ("selective/cnn_f32.tflite", "selective/cnn.calib.npz",
                    ["DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"],
                    "int8 -> int16 through DEQUANTIZE/QUANTIZE, a same-scale op on int16, "
                    "int16 -> int8 requantized by QUANTIZE"),
    "cnn_head": ("selective/cnn_f32.tflite", "selective/cnn.calib.npz",
                 ["FULLY_CONNECTED", "SOFTMAX"],
                 "FC -> FC -> SOFTMAX (fixed 2^-15) on int16 up to the float output"),
    "mix_add_fc": ("selective/mix_f32.tflite", "selective/mix.calib.npz",
                   ["ADD", "FULLY_CONNECTED"],
                   "ADD with a constant operand (int16 grid), FC with int64 bias"),
    "res_add_mean": ("selective/res_f32.tflite", "selective/res.calib.npz", ["ADD", "MEAN"],
                     "a residual ADD on int16 read by int8 MAX_POOL and int16 MEAN"),
    "nob_fc": ("selective/nob_f32.tflite", "selective/nob.calib.npz",
               ["FULLY_CONNECTED"], "FULLY_CONNECTED without bias"),
    "densenet_concat": ("zoo_int16/DenseNet121_float32.tflite", "zoo/calib8.npy",
                        ["CONCATENATION"],
                        "CONCATENATION on int16: each int8 operand through float to the "
                        "output's int16 parameters"),
    "efficientnet_se": ("zoo_int16/EfficientNetB0_float32.tflite", "zoo/calib8.npy",
                        ["LOGISTIC", "MUL"], "LOGISTIC (fixed 2^-15) and MUL on int16"),
    "mobilenetv2_dw": ("zoo_int16/MobileNetV2_float32.tflite", "zoo/calib8.npy",
                       ["DEPTHWISE_CONV_2D"], "every depthwise convolution on int16"),
}


def litert(path, feeds):
    it = Interpreter(model_path=str(path), num_threads=1, experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], x)
    it.invoke()
    out = {}
    for d in it.get_tensor_details():
        try:
            out[d["index"]] = (np.array(it.get_tensor(d["index"]), copy=True), d["dtype"])
        except ValueError:
            pass
    outs = [np.array(it.get_tensor(d["index"]), copy=True) for d in it.get_output_details()]
    return out, outs, it


def op_outputs(it):
    """Indices of the tensors an op writes (every tensor but the constants and inputs)."""
    written = set()
    for op in it._get_ops_details():
        written.update(int(t) for t in op["outputs"] if t >= 0)
    return written


def calib_inputs(calib):
    data = np.load(FIX / calib)
    if isinstance(data, np.ndarray):
        return [data[:, None] if data.ndim >= 1 else data]  # [N, 1, ...]
    return [data[k] for k in sorted(data.files)]


def main():
    OUT.mkdir(exist_ok=True)
    manifest = {"generator": "tools/make_mixed16_fixtures.py", "litert": "ai-edge-litert 2.3.0",
                "samples": SAMPLES, "cases": {}}
    total_tensors = 0
    for name, (float_rel, calib_rel, ops16, what) in CASES.items():
        q = OUT / f"{name}.tflite"
        cmd = ["quantize", f"tests/fixtures/{float_rel}", "-o", f"tests/fixtures/mixed16/{name}.tflite",
               "--mode", "int8", "--calib", f"tests/fixtures/{calib_rel}",
               "--int16-ops", ",".join(ops16)]
        r = subprocess.run([str(BIN)] + cmd, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{name}: litequant failed:\n{r.stderr}")
        ins = calib_inputs(calib_rel)
        probe = Interpreter(model_path=str(q))
        written = op_outputs(probe)
        samples, dtypes = [], {}
        for s in range(SAMPLES):
            # The last samples of the calibration data, batch 1.
            idx = ins[0].shape[0] - 1 - s
            feeds = [x[idx].astype(np.float32) for x in ins]
            tensors, outs, _ = litert(q, feeds)
            rec = {f"input_{k}": f for k, f in enumerate(feeds)}
            rec.update({f"output_{k}": o for k, o in enumerate(outs)})
            for i, (v, dt) in tensors.items():
                if i in written:
                    rec[f"t{i}"] = v
                    dtypes[i] = np.dtype(dt).name
            samples.append(rec)
        stacked = {k: np.stack([r[k] for r in samples]) for k in samples[0]}
        np.savez_compressed(OUT / f"{name}.npz", **stacked)
        ops = [o["op_name"] for o in probe._get_ops_details()]
        details = probe.get_tensor_details()
        by_index = {d["index"]: d for d in details}
        requant = sum(1 for o in probe._get_ops_details() if o["op_name"] == "QUANTIZE"
                      and np.dtype(by_index[o["inputs"][0]]["dtype"]) == np.int16
                      and np.dtype(by_index[o["outputs"][0]]["dtype"]) == np.int8)
        n16 = sum(1 for d in dtypes.values() if d == "int16")
        if n16 == 0:
            sys.exit(f"{name}: no int16 tensor")
        n = sum(1 for k in stacked if k.startswith("t"))
        total_tensors += n * SAMPLES
        manifest["cases"][name] = {
            "float": float_rel, "calib": calib_rel, "int16_ops": ops16, "what": what,
            "command": "litequant " + " ".join(cmd),
            "file": f"{name}.tflite", "golden_file": f"{name}.npz",
            "op_histogram": dict(sorted(Counter(ops).items())),
            "tensors_recorded": n, "int16_tensors": n16, "requantize_int16_to_int8": requant,
            "size": q.stat().st_size,
        }
        print(f"{name}: {len(ops)} ops, {n} tensors ({n16} int16), {requant} int16->int8 "
              f"QUANTIZE, {q.stat().st_size} bytes")
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"{len(CASES)} files, {total_tensors} tensor values recorded in all")


if __name__ == "__main__":
    main()
