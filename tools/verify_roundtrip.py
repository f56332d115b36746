#!/usr/bin/env python3
"""Check that litequant's reader + writer round-trip every fixture faithfully.

Run from the repository root (needs the `roundtrip` example: it reads a .tflite
with the Rust library and writes it back):

    tools/.venv/bin/python tools/verify_roundtrip.py [--only NAME ...]

For each fixture listed in tests/fixtures/fixtures.json:
  1. `cargo run --release --quiet --example roundtrip -- IN OUT` into a temp dir.
  2. Runnable fixtures: run OUT in LiteRT with the golden inputs
       - BUILTIN_REF resolver: every key of golden/NAME.npz (outputs, and the
         t{index} intermediates of the int8 variants) must be np.array_equal;
       - default resolver (optimized kernels / XNNPACK): OUT's outputs must be
         np.array_equal to IN's outputs under the same resolver (the goldens are
         reference-kernel results, which the optimized float kernels do not
         reproduce bit for bit).
     Non-runnable fixtures (custom_op): LiteRT must still parse OUT and fail
     with the same error as IN, and the model structure must be equal.
  3. Structure: both files are unpacked with the schema's Python object API and
     compared field by field, after normalising OperatorCode (effective code =
     max(builtin_code, deprecated_builtin_code)) and treating an absent vector
     like an empty one. Any difference fails the fixture (a flipped weight bit
     can leave the 4 golden outputs unchanged, so the runtime check alone is
     too weak); with --lenient-structure differences are only reported for
     runnable fixtures.
  4. Only when a fixture passes is OUT copied to tests/fixtures/roundtrip/NAME.tflite.

Prints a table and exits non-zero if any fixture fails.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


# ----------------------------------------------------------------------------- LiteRT

def make_interpreter(path, ref):
    kw = dict(model_path=str(path), num_threads=1)
    if ref:
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_REF
        kw["experimental_preserve_all_tensors"] = True
    return Interpreter(**kw)


def run(path, inputs, ref, tensor_keys=()):
    """inputs: dict input_K -> [N, ...] stacked arrays. Returns stacked outputs (+ t keys)."""
    it = make_interpreter(path, ref)
    it.allocate_tensors()
    ins, outs = it.get_input_details(), it.get_output_details()
    n = next(iter(inputs.values())).shape[0]
    acc = {}
    for s in range(n):
        for k, d in enumerate(ins):
            it.set_tensor(d["index"], inputs[f"input_{k}"][s])
        it.invoke()
        for k, d in enumerate(outs):
            acc.setdefault(f"output_{k}", []).append(it.get_tensor(d["index"]).copy())
        for key in tensor_keys:
            try:
                v = np.array(it.get_tensor(int(key[1:])), copy=True)
            except Exception as e:  # noqa: BLE001 - reported as a mismatch
                v = f"get_tensor failed: {e}"
            acc.setdefault(key, []).append(v)
    out = {}
    for k, v in acc.items():
        out[k] = v if any(isinstance(x, str) for x in v) else np.stack(v)
    return out


def compare(expected, got, keys):
    bad = []
    for k in keys:
        e, g = expected.get(k), got.get(k)
        if isinstance(g, list) or e is None or g is None:
            bad.append(f"{k}: missing/unreadable")
        elif e.dtype != g.dtype or e.shape != g.shape:
            bad.append(f"{k}: {g.dtype}{list(g.shape)} != {e.dtype}{list(e.shape)}")
        elif not np.array_equal(e, g):
            diff = np.abs(e.astype(np.float64) - g.astype(np.float64))
            bad.append(f"{k}: max|diff| {diff.max():.3g} at {int((diff > 0).sum())} elems")
    return bad


def load_error(path):
    try:
        make_interpreter(path, ref=True).allocate_tensors()
        return None
    except Exception as e:  # noqa: BLE001
        return str(e).strip().splitlines()[0]


# ----------------------------------------------------------------------------- structure

def unpack(path):
    return schema.ModelT.InitFromPackedBuf(bytearray(Path(path).read_bytes()), 0)


def normalise(m):
    """Replace what a writer may legitimately renumber by what it stands for: op code
    indices by the effective (code, custom code, version), buffer indices by the bytes they
    hold (an empty buffer and no buffer are the same), so that only meaning is compared."""
    def code_of(oc):
        return (max(oc.builtinCode, oc.deprecatedBuiltinCode), oc.customCode, oc.version)

    def data_of(index):
        d = m.buffers[index].data if index < len(m.buffers or []) else None
        return None if d is None or len(d) == 0 else bytes(np.asarray(d, dtype=np.uint8))

    codes = [code_of(oc) for oc in m.operatorCodes or []]
    for sg in m.subgraphs or []:
        for op in sg.operators or []:
            op.opcodeIndex = codes[op.opcodeIndex]
        for t in sg.tensors or []:
            t.buffer = data_of(t.buffer)
    for md in m.metadata or []:
        md.buffer = data_of(md.buffer)
    m.metadataBuffer = [data_of(b) for b in m.metadataBuffer or []]
    m.operatorCodes = None
    m.buffers = None
    return m


def struct_diff(a, b, path="model", out=None, limit=8):
    """Differences between two object-API trees (first `limit`)."""
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    empty = lambda x: x is None or (hasattr(x, "__len__") and not isinstance(x, (str, bytes)) and len(x) == 0)  # noqa: E731
    if empty(a) and empty(b):
        return out
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        aa, bb = np.asarray(a), np.asarray(b)
        if aa.shape != bb.shape or not np.array_equal(aa, bb):
            out.append(f"{path}: arrays differ ({aa.dtype}{list(aa.shape)} vs {bb.dtype}{list(bb.shape)})")
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} vs {len(b)}")
            return out
        for i, (x, y) in enumerate(zip(a, b)):
            struct_diff(x, y, f"{path}[{i}]", out, limit)
        return out
    if hasattr(a, "__dict__") and hasattr(b, "__dict__") and type(a) is type(b):
        for k in sorted(set(vars(a)) | set(vars(b))):
            struct_diff(getattr(a, k, None), getattr(b, k, None), f"{path}.{k}", out, limit)
        return out
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return out
    if a != b:
        out.append(f"{path}: {a!r:.60} vs {b!r:.60}")
    return out


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="round-trip fixtures through litequant")
    ap.add_argument("--fixtures", type=Path, default=FIXTURES)
    ap.add_argument("--only", nargs="*", help="fixture names (default: all)")
    ap.add_argument("--lenient-structure", action="store_true",
                    help="report structural differences of runnable fixtures "
                         "without failing them")
    args = ap.parse_args()
    fx = args.fixtures
    manifest = json.loads((fx / "fixtures.json").read_text())
    names = args.only or list(manifest["fixtures"])
    dest = fx / "roundtrip"

    # Build once so per-file runs are quick and build errors are shown plainly.
    build = subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "roundtrip"],
                           cwd=REPO)
    if build.returncode != 0:
        print("cargo build --example roundtrip failed", file=sys.stderr)
        return 2

    rows, failed = [], False
    with tempfile.TemporaryDirectory(prefix="litequant-roundtrip-") as tmp:
        for name in names:
            entry = manifest["fixtures"][name]
            src = fx / entry["file"]
            out = Path(tmp) / entry["file"]
            notes, ok = [], True
            p = subprocess.run(["cargo", "run", "--release", "--quiet", "--example", "roundtrip",
                                "--", str(src), str(out)],
                               cwd=REPO, capture_output=True, text=True)
            if p.returncode != 0 or not out.exists():
                msg = (p.stderr.strip().splitlines() or ["no output file"])[-1]
                rows.append((name, "FAIL", "-", "-", "-", f"roundtrip example: {msg}"))
                failed = True
                continue
            same_bytes = out.read_bytes() == src.read_bytes()

            sdiff = struct_diff(normalise(unpack(src)), normalise(unpack(out)))
            struct = ("equal" if not sdiff else
                      f"{len(sdiff)}{'+' if len(sdiff) >= 8 else ''} diff(s)")
            if sdiff:
                notes.append("struct: " + "; ".join(sdiff[:3]))

            if entry.get("runnable") and entry.get("goldens"):
                gold = dict(np.load(fx / entry["golden_file"]))
                inputs = {k: v for k, v in gold.items() if k.startswith("input_")}
                check_keys = [k for k in gold if not k.startswith("input_")]
                t_keys = [k for k in check_keys if k.startswith("t")]
                try:
                    got = run(out, inputs, ref=True, tensor_keys=t_keys)
                    bad = compare(gold, got, check_keys)
                except Exception as e:  # noqa: BLE001
                    bad = [f"LiteRT: {str(e).strip().splitlines()[0]}"]
                ref = "ok" if not bad else "MISMATCH"
                notes += [f"ref {b}" for b in bad[:4]]
                ok &= not bad
                try:
                    want = run(src, inputs, ref=False)
                    got = run(out, inputs, ref=False)
                    bad = compare(want, got, list(want))
                except Exception as e:  # noqa: BLE001
                    bad = [f"LiteRT: {str(e).strip().splitlines()[0]}"]
                dflt = "ok" if not bad else "MISMATCH"
                notes += [f"default {b}" for b in bad[:4]]
                ok &= not bad
                if sdiff and not args.lenient_structure:
                    ok = False
            else:
                e_src, e_out = load_error(src), load_error(out)
                ref = dflt = "n/a"
                if e_src != e_out:
                    notes.append(f"LiteRT error changed: {e_src!r} -> {e_out!r}")
                    ok = False
                if sdiff:
                    ok = False
            if same_bytes:
                notes.insert(0, "byte-identical")
            if ok:
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(out, dest / entry["file"])
            failed |= not ok
            rows.append((name, "ok" if ok else "FAIL", ref, dflt, struct, " | ".join(notes)))

    hdr = ("fixture", "result", "ref", "default", "structure", "notes")
    w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(5)]
    print("  ".join(h.ljust(w[i]) for i, h in enumerate(hdr[:5])) + "  " + hdr[5])
    for r in rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r[:5])) + "  " + r[5])
    n_ok = sum(r[1] == "ok" for r in rows)
    print(f"\n{n_ok}/{len(rows)} fixtures round-trip; passing files copied to {dest}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
