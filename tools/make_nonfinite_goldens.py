#!/usr/bin/env python3
"""NaN and ±Inf through every float op fixture: LiteRT's own results, for tests/nonfinite.rs.

Run from the repository root:

    /work/venv/bin/python tools/make_nonfinite_goldens.py     (or tools/.venv/bin/python)

For every float32 model of tests/fixtures/ops (manifest variant "f32") and the demo models
tests/fixtures/{cnn,mlp}_float32.tflite, the first golden sample of each input is taken and
non-finite values are written into it: sample 0 gets a NaN at a few positions, sample 1 a
+Inf and a -Inf, sample 2 both. The model runs on LiteRT with the BUILTIN_REF resolver and
experimental_preserve_all_tensors=True; tests/fixtures/nonfinite/NAME.npz holds, stacked on a
leading sample axis, input_K, output_K and every non-constant tensor of subgraph 0 as t{index}
(the golden format of make_op_fixtures.py). Deterministic (fixed positions, fixed zip time).
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from npz_fixed import write_npz  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
OUT = FIX / "nonfinite"


def poison(x, kind):
    x = np.array(x, dtype=np.float32, copy=True)
    flat = x.reshape(-1)
    n = flat.size
    spots = sorted({0, n // 3, (2 * n) // 3, n - 1})
    if kind in ("nan", "both"):
        for i in spots[::2]:
            flat[i] = np.nan
    if kind in ("inf", "both"):
        flat[spots[1 % len(spots)]] = np.inf
        flat[spots[-1]] = -np.inf
    return x


def run(model, inputs):
    it = Interpreter(
        model_path=str(model),
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    ins = it.get_input_details()
    for d, x in zip(ins, inputs):
        if tuple(d["shape"]) != x.shape:
            it.resize_tensor_input(d["index"], x.shape)
    it.allocate_tensors()
    ins = it.get_input_details()
    for d, x in zip(ins, inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    out = {f"output_{k}": it.get_tensor(d["index"]).copy()
           for k, d in enumerate(it.get_output_details())}
    for d in it.get_tensor_details():
        try:
            v = it.get_tensor(d["index"])
        except ValueError:
            continue
        out.setdefault(f"t{d['index']}", v.copy())
    return out, [d["index"] for d in ins]


def goldens(model, first):
    per = {}
    for kind in ("nan", "inf", "both"):
        inputs = [poison(x, kind) for x in first]
        res, in_idx = run(model, inputs)
        for k, x in enumerate(inputs):
            per.setdefault(f"input_{k}", []).append(x)
        for k, v in res.items():
            per.setdefault(k, []).append(v)
    return {k: np.stack(v) for k, v in per.items()}


def constants(model):
    from tensorflow.lite.python import schema_py_generated as schema
    m = schema.ModelT.InitFromPackedBuf(model.read_bytes(), 0)
    ts, bs = m.subgraphs[0].tensors, m.buffers
    return {i for i, t in enumerate(ts) if t.buffer != 0 and bs[t.buffer].data is not None}, len(ts)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((FIX / "ops" / "manifest.json").read_text())
    cases = []
    for name, m in sorted(manifest["models"].items()):
        if m["variant"] == "f32":
            cases.append((name, FIX / "ops" / m["file"], FIX / "ops" / m["golden_file"]))
    for name in ("cnn_float32", "mlp_float32"):
        main_manifest = json.loads((FIX / "fixtures.json").read_text())["fixtures"][name]
        cases.append((name, FIX / main_manifest["file"], FIX / main_manifest["golden_file"]))
    written = []
    for name, model, golden in cases:
        g = np.load(golden)
        first = []
        k = 0
        while f"input_{k}" in g.files:
            first.append(g[f"input_{k}"][0])
            k += 1
        if any(x.dtype != np.float32 for x in first):
            continue
        gold = goldens(model, first)
        consts, n_tensors = constants(model)
        keep = {k: v for k, v in gold.items()
                if not k.startswith("t") or (int(k[1:]) < n_tensors and int(k[1:]) not in consts)}
        write_npz(OUT / f"{name}.npz", keep)
        written.append({"name": name, "model": str(model.relative_to(FIX)),
                        "golden": f"nonfinite/{name}.npz"})
    (OUT / "manifest.json").write_text(json.dumps({"cases": written}, indent=1) + "\n")
    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"{len(written)} cases, {total} bytes in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
