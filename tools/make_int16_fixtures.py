#!/usr/bin/env python3
"""16x8 fixtures: the TF converter's int16-activation / int8-weight files of a representative
set of the per-op cases, with LiteRT BUILTIN_REF goldens of every tensor
(tests/fixtures/int16/).

Run from the repository root:

    /work/venv/bin/python tools/make_int16_fixtures.py [--only SUBSTR ...]

The cases, seeds, calibration samples, golden inputs and golden format are those of
tools/make_op_fixtures.py (this script reuses its machinery, with two more variants):

  int16    EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 with TFLITE_BUILTINS
           as fallback and float I/O: QUANTIZE float->int16 at the inputs, DEQUANTIZE at the
           outputs; ops without an int16 kernel stay float between DEQUANTIZE and QUANTIZE
  int16io  EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 only, with
           inference_input_type = inference_output_type = tf.int16

The float model of each case is tests/fixtures/ops/CASE_f32.tflite (same case, same seed);
the representative samples the converter consumed are recorded again and checked to be
byte for byte tests/fixtures/ops/CASE.calib.npz, which the manifest's "calib_file" names
(the 16x8 conversion iterates the dataset twice, the same samples both times). For the int16 variant, a main op that stayed
float (a float island) is accepted and recorded as such in the manifest ("main_op"
input/output types); int16io requires the main op in int16.
"""

import json
import sys
from pathlib import Path

import make_op_fixtures as mof
import tensorflow as tf

OUT = mof.REPO / "tests" / "fixtures" / "int16"

# The cases of make_op_fixtures.py that get 16x8 files: every op family the converter
# quantizes, a few shapes each.
CASES = [
    "conv2d_same", "conv2d_valid_relu", "conv2d_s2_same_relu6", "conv2d_dil2_same_relu",
    "conv2d_1x1_nobias", "conv2d_big_s2_valid",
    "dwconv_m1_same_relu6", "dwconv_m2_valid", "dwconv_m1_s2_same_relu", "dwconv_m2_dil2_same",
    "tconv_same", "tconv_s2_same_relu", "tconv_valid_nobias",
    "fc_bias", "fc_nobias_relu", "fc_keepdims",
    "bmm", "bmm_const2d",
    "add_same", "add_bcast_c", "add_same_relu", "add_const_c",
    "sub_same", "sub_bcast_hw", "sub_const_c",
    "mul_same", "mul_bcast_c", "mul_same_relu", "mul_const_c",
    "avgpool_3x3_s2_same", "maxpool_3x3_s2_same",
    "mean_hw_keepdims", "mean_last",
    "reshape", "concat_axis3", "requant_concat", "pad", "padv2", "strided_slice_strides",
    "transpose_nchw", "slice",
    "resize_bilinear", "resize_nearest",
    "softmax", "softmax_rank3", "logistic", "tanh", "relu", "relu6", "leaky_relu", "prelu",
    "hard_swish", "maximum", "minimum",
    "sqdiff_same", "rsqrt", "exp", "gelu", "div_same", "sum_hw_keepdims", "reduce_max_hw",
    "log", "split_concat", "pack_axis1", "gather_axis1", "layernorm",
]

VARIANTS = ("int16", "int16io")

_convert = mof.convert
_check_model = mof.check_model
_build_cases = mof.build_cases


def convert(case, variant, record=None):
    if variant not in VARIANTS:
        return _convert(case, variant, record)
    # The setup mirrors make_op_fixtures.convert (same samples, same tracing), with the
    # 16x8 op sets.
    mof.set_determinism()
    calib = mof.input_samples(case, mof.N_CALIB, 1)

    def rep_data():
        for i in range(mof.N_CALIB):
            if case.keras is not None:
                yield [c[i] for c in calib]
            else:
                yield {f"x{k}": c[i] for k, c in enumerate(calib)}

    if record is not None:
        rep_data = mof.recording(rep_data, record, [f"x{k}" for k in range(len(calib))])
    if case.keras is not None:
        tf.keras.backend.clear_session()
        conv = tf.lite.TFLiteConverter.from_keras_model(case.keras(case))
    else:
        shapes = case.sig or [shape for shape, _ in case.inputs]
        sig = [tf.TensorSpec(shape, tf.float32, name=f"x{i}") for i, shape in enumerate(shapes)]
        module = tf.Module()
        module.f = tf.function(case.fn, input_signature=sig)
        conv = tf.lite.TFLiteConverter.from_concrete_functions(
            [module.f.get_concrete_function()], module)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep_data
    x16 = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    if variant == "int16":
        conv.target_spec.supported_ops = [x16, tf.lite.OpsSet.TFLITE_BUILTINS]
    else:
        conv.target_spec.supported_ops = [x16]
        conv.inference_input_type = tf.int16
        conv.inference_output_type = tf.int16
    with mof.contextlib.redirect_stdout(mof.io.StringIO()):
        buf = conv.convert()
    # Some 16x8 files are refused by LiteRT itself (PADV2 with a float
    # constant value, SQUARED_DIFFERENCE in int16):
    # recorded under "not_produced" with LiteRT's message.
    try:
        it = mof.Interpreter(model_content=buf, experimental_op_resolver_type=
                             mof.OpResolverType.BUILTIN_REF)
        it.allocate_tensors()
        for d in it.get_input_details():   # some kernels refuse int16 only at run time
            k = mof.case_input_index(case, d)
            it.set_tensor(d["index"], mof.to_input_dtype(calib[k][0], d))
        it.invoke()
    except RuntimeError as e:
        raise RuntimeError("LiteRT refuses the converter's file: "
                           + " ".join(str(e).split())) from None
    return buf


def check_model(case, variant, ops):
    if variant not in VARIANTS:
        return _check_model(case, variant, ops)
    names = [o["op"] for o in ops]
    main = mof.main_ops(case, ops)
    if not main:
        return f"no {case.main_spec or case.op} in the converted model (ops: {names})"
    o = main[0]
    act = [t for i, t in zip(o["inputs"], o["input_types"])
           if i >= 0 and i not in o["const_inputs"] and t not in ("INT32", "INT64")]
    types = set(act + o["output_types"])
    if variant == "int16io":
        if types != {"INT16"}:
            return f"{case.op} is not int16: {o['input_types']} -> {o['output_types']}"
        if "FLOAT32" in [t for d in ops for t in d["input_types"] + d["output_types"] if t]:
            return "float tensors left in an int16-only model"
    elif types not in ({"INT16"}, {"FLOAT32"}):
        return f"{case.op} is mixed: {o['input_types']} -> {o['output_types']}"
    return None


_calib_arrays = mof.calib_arrays


def calib_arrays(case, record, name):
    """The 16x8 conversion iterates the representative dataset twice (TF 2.21); both
    passes must have fed the same samples, which are then recorded once."""
    assert record and all(
        len(p) == len(record[0]) and all(
            a.keys() == b.keys() and all(mof.np.array_equal(a[k], b[k]) for k in a)
            for a, b in zip(p, record[0]))
        for p in record), f"{name}: passes over the dataset differ"
    return _calib_arrays(case, record[:1], name)


def build_cases():
    by_name = {c.name: c for c in _build_cases()}
    out = []
    for n in CASES:
        c = by_name[n]
        c.variants = VARIANTS
        c.expect = None
        if c.main_spec and "INT8" in c.main_spec:
            c.main_spec = c.main_spec.replace("INT8", "INT16")
        out.append(c)
    return out


def main():
    mof.convert = convert
    mof.check_model = check_model
    mof.build_cases = build_cases
    mof.calib_arrays = calib_arrays
    mof.DEFAULT_OUT = OUT
    mof.INT8_FAMILY = mof.INT8_FAMILY + VARIANTS
    rc = mof.main()
    path = OUT / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["generator"] = "tools/make_int16_fixtures.py"
    manifest["notes"]["float_models"] = ("tests/fixtures/ops/CASE_f32.tflite: the float "
                                         "model of each case (same case and seed)")
    # The calibration samples are byte for byte the ops folder's: keep those only.
    for f in sorted(OUT.glob("*.calib.npz")):
        ops_copy = OUT.parent / "ops" / f.name
        assert ops_copy.read_bytes() == f.read_bytes(), f"{f.name} differs from {ops_copy}"
        f.unlink()
    for entry in manifest["models"].values():
        if "calib_file" in entry:
            entry["calib_file"] = "../ops/" + entry["calib_file"]
    path.write_text(mof.compact_json(manifest) + "\n")
    return rc


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
