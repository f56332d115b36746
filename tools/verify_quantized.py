"""Check litequant's quantized models against stock LiteRT.

For the demo float models (cnn, mlp) and every mode, runs `litequant quantize`, then:
  1. loads the output in LiteRT (BUILTIN_REF and the default kernels) and runs it on the
     200 held-out digits;
  2. runs the same inputs through litequant's reference engine (`litequant run`) and
     requires outputs identical to LiteRT BUILTIN_REF's (bit for bit for integer models;
     float outputs within 1e-5);
  3. compares with the converter's own model of the same mode (tests/fixtures/NAME_MODE):
     accuracy, and whether outputs are identical.
Writes the table to tests/fixtures/verify_quantized.json.

    cargo build --release && tools/.venv/bin/python tools/verify_quantized.py
"""
import json, os, subprocess, sys, tempfile
from pathlib import Path
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
BIN = ROOT / "target" / "release" / "litequant"
HOLD = np.load(FIX / "digits_holdout.npz")
X, Y = HOLD["x"], HOLD["y"]
N_ENGINE = 20  # samples also run through litequant's engine (one CLI call each)

MODES = [
    ("dynamic", ["--mode", "dynamic"], "dynamic"),
    ("float16", ["--mode", "float16"], "float16"),
    ("int8", ["--calib", str(FIX / "digits_calib.npy")], "int8"),
    ("int8_only", ["--calib", str(FIX / "digits_calib.npy"), "--mode", "int8-only",
                   "--input-type", "int8", "--output-type", "int8"], "int8_only"),
    ("int8_only_uint8", ["--calib", str(FIX / "digits_calib.npy"), "--mode", "int8-only",
                         "--input-type", "uint8", "--output-type", "uint8"], None),
]


def feed(detail, x):
    v = x.reshape(detail["shape"])
    if detail["dtype"] != np.float32:
        s, z = detail["quantization"]
        info = np.iinfo(detail["dtype"])
        v = np.clip(np.round(v / s) + z, info.min, info.max).astype(detail["dtype"])
    return v


def litert(path, ref, xs):
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=(
        OpResolverType.BUILTIN_REF if ref else OpResolverType.AUTO))
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    outs = []
    for x in xs:
        it.set_tensor(i["index"], feed(i, x))
        it.invoke()
        outs.append(it.get_tensor(o["index"]).copy())
    return np.array(outs), i


def ours(path, detail, xs, tmp):
    outs = []
    for k, x in enumerate(xs):
        xin = Path(tmp) / f"x{k}.npy"
        np.save(xin, feed(detail, x))
        out = Path(tmp) / f"o{k}.npz"
        subprocess.run([BIN, "run", path, "--input", xin, "-o", out], check=True,
                       capture_output=True)
        z = np.load(out)
        outs.append(z[z.files[0]])
    return np.array(outs)


def same(a, b):
    if a.dtype == np.float32:
        return bool(np.allclose(a, b, rtol=1e-5, atol=1e-5))
    return bool(np.array_equal(a, b))


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("cnn", "mlp"):
            for name, args, conv in MODES:
                out = Path(tmp) / f"{model}_{name}.tflite"
                subprocess.run([BIN, "quantize", FIX / f"{model}_float32.tflite", "-o", out, *args],
                               check=True, capture_output=True)
                ref, detail = litert(out, True, X)
                dflt, _ = litert(out, False, X)
                acc = float((ref.reshape(len(X), -1).argmax(1) == Y).mean())
                engine = ours(out, detail, X[:N_ENGINE], tmp)
                row = {
                    "model": model, "mode": name, "bytes": out.stat().st_size,
                    "loads_in_litert": True,
                    "accuracy_litert_ref": acc,
                    "default_kernels_equal_ref": same(dflt, ref),
                    f"litequant_engine_equals_litert_ref_on_{N_ENGINE}": same(engine, ref[:N_ENGINE]),
                }
                if conv:
                    theirs, _ = litert(FIX / f"{model}_{conv}.tflite", True, X)
                    row["converter_accuracy"] = float((theirs.reshape(len(X), -1).argmax(1) == Y).mean())
                    row["outputs_equal_converter_model"] = same(ref, theirs)
                rows.append(row)
                print(json.dumps(row))
    (FIX / "verify_quantized.json").write_text(json.dumps(rows, indent=1) + "\n")
    bad = [r for r in rows if not r[f"litequant_engine_equals_litert_ref_on_{N_ENGINE}"]]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
