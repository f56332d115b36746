#!/usr/bin/env python3
"""Score files that tools/accuracy.py wrote on fresh crops: is a 16-crop score stable?

    /work/venv/bin/python tools/accuracy_fresh.py MODEL N SEED FILE [FILE ...]

MODEL: a model name of the harness (its float32.tflite and the FILEs under --data's
target/accuracy/MODEL); N crops drawn as the harness draws them (same photos, same
normalisation) with SEED (the harness calibrates on seed 1 and scores on seed 2). Prints per
FILE the worst output's relative RMSE over all N crops and over each chunk of 16.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import accuracy as A  # noqa: E402


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    name, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    d = A.ROOT / "target" / "accuracy" / name
    lo, hi = A.MEDIAPIPE[name] if name in A.MEDIAPIPE else (-1.0, 1.0)
    shape = A.input_shape(d / "float32.tflite")
    xs = A.crops(A.source_photos(), n, shape[:2], seed, lo, hi)
    ref, rn = A.run_all(d / "float32.tflite", xs)
    for f in sys.argv[4:]:
        got, gn = A.run_all(d / f, xs)
        whole = max(o["rel_rmse"] for o in A.score(ref, rn, got, gn))
        chunks = []
        for c in range(0, n, 16):
            r2 = {k: v[c:c + 16] for k, v in ref.items()}
            g2 = {k: v[c:c + 16] for k, v in got.items()}
            chunks.append(max(o["rel_rmse"] for o in A.score(r2, rn, g2, gn)))
        print(f"{name} {f}: {n} crops, seed {seed}: {100 * whole:.2f}%  per 16: "
              + " ".join(f"{100 * c:.1f}" for c in chunks), flush=True)


if __name__ == "__main__":
    main()
