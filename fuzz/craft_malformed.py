#!/usr/bin/env python3
"""Write the hand-made inputs of tests/fixtures/malformed/ that the fuzzer cannot reach by
mutation (memory amplification needs many coordinated tables), with TFLite's own generated
Python schema.

    tools/.venv/bin/python fuzz/craft_malformed.py

Each file is small (under 64 KB) and made the reader copy the same file bytes once per
table that referred to them, so a file of n bytes cost O(n^2) memory before the fix:

- fuzz-large-custom-options-overlap.tflite: 1500 operators whose large_custom_options all
  cover the whole file;
- fuzz-external-buffers-overlap.tflite: 1500 buffers whose offset/size ranges (64 distinct
  ones) each cover most of the file;
- fuzz-custom-code-clones.tflite: one 30000-character custom_code used by 4000 operators.

and one rejected file no mutation reached: fuzz-recursive-while.tflite, a WHILE whose body
is the subgraph it is in.
"""

import glob
import importlib.util
import os
import sys

import flatbuffers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "malformed")


def schema():
    paths = glob.glob(
        os.path.join(
            ROOT, "tools", ".venv", "lib", "python3*", "site-packages", "tensorflow",
            "lite", "python", "schema_py_generated.py",
        )
    )
    if not paths:
        sys.exit("tensorflow's schema_py_generated.py not found: run tools/setup_venv.sh")
    spec = importlib.util.spec_from_file_location("tflite_schema", paths[0])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


S = schema()
CUSTOM = 32  # BuiltinOperator.CUSTOM


def pack(model):
    b = flatbuffers.Builder(1 << 16)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def base_model(ops, buffers, codes):
    sg = S.SubGraphT()
    t = S.TensorT()
    t.shape = [1]
    t.type = 0
    t.name = "x"
    sg.tensors = [t]
    sg.inputs = [0]
    sg.outputs = [0]
    sg.operators = ops
    m = S.ModelT()
    m.version = 3
    m.operatorCodes = codes
    m.subgraphs = [sg]
    m.buffers = buffers
    return m


def custom_code(name):
    c = S.OperatorCodeT()
    c.deprecatedBuiltinCode = CUSTOM
    c.builtinCode = CUSTOM
    c.customCode = name
    c.version = 1
    return c


def with_file_size(make):
    """Build with a placeholder size, then again with the real file size (the size fields
    are fixed-width scalars, so the length does not change)."""
    first = pack(make(1 << 40))
    out = pack(make(len(first)))
    assert len(out) == len(first)
    return out


def large_custom_options_overlap(n=1500):
    def make(size):
        ops = []
        for _ in range(n):
            o = S.OperatorT()
            o.opcodeIndex = 0
            o.inputs = []
            o.outputs = []
            o.largeCustomOptionsOffset = 0
            o.largeCustomOptionsSize = size
            ops.append(o)
        return base_model(ops, [S.BufferT()], [custom_code("X")])

    return with_file_size(make)


def external_buffers_overlap(n=1500):
    def make(size):
        bufs = [S.BufferT()]
        for i in range(n):
            b = S.BufferT()  # distinct ranges: identical ones share one copy
            b.offset = 8 + i % 64
            b.size = size - 72
            bufs.append(b)
        return base_model([], bufs, [])

    return with_file_size(make)


def custom_code_clones(n=4000, name_len=30000):
    ops = []
    for _ in range(n):
        o = S.OperatorT()  # all defaults: opcode 0, no tensors
        ops.append(o)
    return pack(base_model(ops, [S.BufferT()], [custom_code("C" * name_len)]))


def recursive_while():
    """Not an amplification: a WHILE whose body is its own subgraph (infinite recursion for
    a runtime that follows it)."""
    w = S.WhileOptionsT()
    w.condSubgraphIndex = 0
    w.bodySubgraphIndex = 0
    o = S.OperatorT()
    o.opcodeIndex = 0
    o.inputs = [0]
    o.outputs = []
    o.builtinOptionsType = S.BuiltinOptions.WhileOptions
    o.builtinOptions = w
    c = S.OperatorCodeT()
    c.deprecatedBuiltinCode = S.BuiltinOperator.WHILE
    c.builtinCode = S.BuiltinOperator.WHILE
    c.version = 1
    return pack(base_model([o], [S.BufferT()], [c]))


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in [
        ("fuzz-large-custom-options-overlap.tflite", large_custom_options_overlap()),
        ("fuzz-external-buffers-overlap.tflite", external_buffers_overlap()),
        ("fuzz-custom-code-clones.tflite", custom_code_clones()),
        ("fuzz-recursive-while.tflite", recursive_while()),
    ]:
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
