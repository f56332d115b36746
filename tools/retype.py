"""Shared by the fixture generators: single-op float models from the real converter, and
their tensors retyped to integer types (kernels BUILTIN_REF has that the converter does not
emit, or parameters it would not choose) through the schema's object API."""

import contextlib
import io

import flatbuffers
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema


def float_model(fn, shapes):
    """The TF converter's float model of fn over float32 inputs x0, x1, ... of `shapes`."""
    spec = [tf.TensorSpec(s, tf.float32, name=f"x{i}") for i, s in enumerate(shapes)]
    module = tf.Module()
    module.f = tf.function(fn, input_signature=spec)
    conv = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.f.get_concrete_function()], module)
    with contextlib.redirect_stdout(io.StringIO()):
        return conv.convert()


def qparams(scale, zp):
    q = schema.QuantizationParametersT()
    q.scale = [float(scale)]
    q.zeroPoint = [int(zp)]
    return q


def retype(buf, fn, version=None):
    """The model with fn(index, tensor) applied to every tensor of subgraph 0 (object API),
    every other field kept; the first operator code's version set when given."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    for i, t in enumerate(m.subgraphs[0].tensors):
        fn(i, t)
    if version is not None:
        m.operatorCodes[0].version = version
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def int_type(dtype):
    return schema.TensorType.INT8 if dtype == "int8" else schema.TensorType.UINT8
