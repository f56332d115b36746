"""Fixtures written by ai-edge-quantizer 0.10, for the reader's leniency.

ai-edge-quantizer rewrites the buffer table but copies the deprecated `metadata_buffer`
list unchanged, so its output names buffers past the end of the table whenever the input
had that list (real MediaPipe models do). LiteRT never reads `metadata_buffer` and loads
these files; litequant must too (a warning in `inspect`, the list kept as it is).

The input is `tests/fixtures/cnn_float32.tflite` with `metadata_buffer` set to the buffers
of its metadata entries, as old converters wrote it. It is quantized with the
`weight_only_wi8_afp32` recipe (int8 weights, DEQUANTIZE to float at run time; every kernel
on the path is float or DEQUANTIZE). Written to `tests/fixtures/aeq/`:

  cnn_weight_only_wi8.tflite   the quantizer's file, as it wrote it
  cnn_weight_only_wi8.npz      LiteRT BUILTIN_REF results on held-out samples 0..3, each at
                               batch 1, stacked: input_0, output_0 and every non-constant
                               tensor as t{index} (the golden format of make_fixtures.py)

The `dynamic_wi8_afp32` recipe's file has the same defect, but runs hybrid per-channel
CONV_2D/DEPTHWISE_CONV_2D, which litequant does not compute as LiteRT yet (issue 9,
item 2), so it is not a fixture here; the script prints whether it loads.

Run:  /work/venv/bin/python tools/make_aeq_fixtures.py      (needs ai-edge-quantizer==0.10.0)
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import flatbuffers  # noqa: E402
import numpy as np  # noqa: E402
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402
from ai_edge_quantizer import quantizer, recipe  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from npz_fixed import write_npz  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
OUT = FIX / "aeq"


def with_metadata_buffer(src, dst):
    m = schema.ModelT.InitFromPackedBuf(src.read_bytes(), 0)
    m.metadataBuffer = [md.buffer for md in m.metadata]
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    dst.write_bytes(bytes(b.Output()))


def quantize(src, name, dst):
    q = quantizer.Quantizer(str(src))
    q.load_quantization_recipe(getattr(recipe, name)())
    q.quantize().export_model(str(dst), overwrite=True)


def goldens(path, x):
    m = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    tensors, buffers = m.subgraphs[0].tensors, m.buffers
    constant = {
        i for i, t in enumerate(tensors) if t.buffer != 0 and buffers[t.buffer].data is not None
    }
    gold = {"input_0": [], "output_0": []}
    for s in range(x.shape[0]):
        it = Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=True,
        )
        it.allocate_tensors()
        inp = it.get_input_details()[0]
        it.set_tensor(inp["index"], x[s : s + 1].astype(np.float32))
        it.invoke()
        gold["input_0"].append(x[s : s + 1].astype(np.float32))
        gold["output_0"].append(it.get_tensor(it.get_output_details()[0]["index"]))
        for d in it.get_tensor_details():
            i = d["index"]
            try:
                v = it.get_tensor(i)
            except ValueError:
                continue
            if i == inp["index"] or i in constant or v is None:
                continue
            gold.setdefault(f"t{i}", []).append(v.copy())
    return {k: np.stack(v) for k, v in gold.items()}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = OUT / "_input.tflite"
    with_metadata_buffer(FIX / "cnn_float32.tflite", tmp)
    try:
        dst = OUT / "cnn_weight_only_wi8.tflite"
        quantize(tmp, "weight_only_wi8_afp32", dst)
        m = schema.ModelT.InitFromPackedBuf(dst.read_bytes(), 0)
        print(f"{dst.name}: {len(m.buffers)} buffers, metadata_buffer {list(m.metadataBuffer)}")
        assert max(m.metadataBuffer) >= len(m.buffers), "the defect did not reproduce"
        x = np.load(FIX / "digits_holdout.npz")["x"][:4]
        write_npz(OUT / "cnn_weight_only_wi8.npz", goldens(dst, x))
        dyn = OUT / "_dynamic.tflite"
        quantize(tmp, "dynamic_wi8_afp32", dyn)
        m = schema.ModelT.InitFromPackedBuf(dyn.read_bytes(), 0)
        print(
            f"dynamic_wi8_afp32 (not kept): {len(m.buffers)} buffers, "
            f"metadata_buffer {list(m.metadataBuffer)}"
        )
        dyn.unlink()
    finally:
        tmp.unlink(missing_ok=True)
    for f in sorted(OUT.iterdir()):
        print(f"  {f.relative_to(ROOT)}  {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
