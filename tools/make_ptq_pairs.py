"""Extra converter pairs (float32 / dynamic / float16) that pin down the converter's
dynamic-range and float16 rules beyond the committed fixtures. Run with tools/.venv python:
    tools/.venv/bin/python tools/make_ptq_pairs.py tests/fixtures/ptq
Writes OUTDIR/{name}_{f32,hybrid,f16}.tflite. litequant reproduced all of them exactly
(except e12: control flow, a documented difference)."""
import os, sys, io, contextlib, numpy as np
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
import tensorflow as tf
OUT = sys.argv[1]

def convert(name, fn, shapes, modes=('f32', 'hybrid', 'f16')):
    sig = [tf.TensorSpec(s, tf.float32, name=f"x{i}") for i, s in enumerate(shapes)]
    for mode in modes:
        module = tf.Module(); module.f = tf.function(fn, input_signature=sig)
        conv = tf.lite.TFLiteConverter.from_concrete_functions([module.f.get_concrete_function()], module)
        if mode != 'f32':
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode == 'f16':
            conv.target_spec.supported_types = [tf.float16]
        with contextlib.redirect_stdout(io.StringIO()):
            b = conv.convert()
        open(f'{OUT}/{name}_{mode}.tflite', 'wb').write(b)

def rha(v): return np.sign(v) * np.floor(np.abs(v) + 0.5)
rng = np.random.default_rng(7)

# e1: FC weights crafted on rounding ties where double/float formulas disagree, plus
# near-zero channels (0, 1e-7, 4e-7, 6e-7, 5e-7); no bias (hidden no-value constant).
def craft(a, n):
    out = []; sd = np.float64(a) / 127; sf = np.float32(sd); inv = np.float32(1.0 / np.float64(sf))
    for _ in range(200000):
        if len(out) >= n: break
        x = np.float32((rng.integers(-126, 126) + 0.5) * sd)
        for _ in range(rng.integers(0, 3)):
            x = np.nextafter(x, np.float32(-np.inf)) if rng.random() < 0.5 else np.nextafter(x, np.float32(np.inf))
        qs = {rha(np.float64(x) / sd), rha(np.float32(x * inv)), rha(np.float32(x / sf)), rha(np.float64(x) / np.float64(sf))}
        if len(qs) > 1: out.append(x)
    return out
W1 = (rng.standard_normal((64, 32)) * 0.2).astype(np.float32)
for c in range(32):
    a = np.abs(W1[:, c]).max(); vals = craft(a, 40)
    idx = [i for i in range(64) if abs(W1[i, c]) < a][:len(vals)]
    for i, v in zip(idx, vals): W1[i, c] = v
W1[:, 0] = 0; W1[:, 1] = 0; W1[5, 1] = 1e-7; W1[:, 2] = 0; W1[7, 2] = -4e-7
W1[:, 3] = 0; W1[3, 3] = 6e-7; W1[9, 3] = -2e-7; W1[:, 4] = 0; W1[1, 4] = 5e-7
convert('e1', lambda x: tf.matmul(x, W1), [(1, 64)])
# e3: the size threshold: 1024 elements quantized, 1023 not.
W3a = (rng.standard_normal((64, 16)) * 0.3).astype(np.float32)
W3b = (rng.standard_normal((33, 31)) * 0.3).astype(np.float32)
convert('e3', lambda x, y: (tf.matmul(x, W3a), tf.matmul(y, W3b)), [(1, 64), (1, 33)], ('f32', 'hybrid'))
# e4: a BATCH_MATMUL weight also read by an ADD (stays float for the ADD).
W4 = (rng.standard_normal((2, 64, 16)) * 0.3).astype(np.float32)
convert('e4', lambda a, b: (tf.linalg.matmul(a, W4), b + W4), [(2, 4, 64), (2, 64, 16)])
# e5: one conv weight and bias shared by two convolutions (unnamed constants).
W5 = (rng.standard_normal((3, 3, 16, 8)) * 0.3).astype(np.float32)
B5 = (rng.standard_normal((8,)) * 0.3).astype(np.float32)
convert('e5', lambda x, y: (tf.nn.bias_add(tf.nn.conv2d(x, W5, 1, 'SAME'), B5),
                            tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(y, W5, 1, 'SAME'), B5))),
        [(1, 5, 5, 16), (1, 6, 6, 16)])
# e6: FULLY_CONNECTED with one unit (one scale = per channel, version 12).
W6 = (rng.standard_normal((1024, 1)) * 0.3).astype(np.float32)
convert('e6', lambda x: tf.matmul(x, W6), [(1, 1024)], ('f32', 'hybrid'))
# e7: conv / depthwise / dense stack, one dense without bias.
r = np.random.default_rng(11)
W7a = (r.standard_normal((3, 3, 8, 32)) * 0.3).astype(np.float32); B7a = (r.standard_normal((32,)) * 0.3).astype(np.float32)
W7b = (r.standard_normal((3, 3, 32, 1)) * 0.3).astype(np.float32); B7b = (r.standard_normal((32,)) * 0.3).astype(np.float32)
W7c = (r.standard_normal((512, 20)) * 0.1).astype(np.float32); B7c = (r.standard_normal((20,)) * 0.3).astype(np.float32)
W7d = (r.standard_normal((20, 10)) * 0.1).astype(np.float32)
def f7(x):
    y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, W7a, 1, 'SAME'), B7a))
    y = tf.nn.relu6(tf.nn.bias_add(tf.nn.depthwise_conv2d(y, W7b, [1, 1, 1, 1], 'SAME'), B7b))
    y = tf.nn.relu(tf.matmul(tf.reshape(y, [1, -1]), W7c) + B7c)
    return tf.nn.softmax(tf.matmul(y, W7d))
convert('e7', f7, [(1, 4, 4, 8)])
# e8: two FULLY_CONNECTED without bias; e9: one, its output used twice.
r = np.random.default_rng(12)
Wa = (r.standard_normal((64, 64)) * 0.1).astype(np.float32); Wb = (r.standard_normal((64, 32)) * 0.1).astype(np.float32)
Wc = (r.standard_normal((32, 40)) * 0.1).astype(np.float32); Bc = (r.standard_normal((40,)) * 0.1).astype(np.float32)
convert('e8', lambda x: tf.matmul(tf.matmul(x, Wa), Wb), [(1, 64)], ('f32', 'hybrid'))
convert('e9', lambda x: (tf.matmul(x, Wc) + Bc, tf.matmul(x, Wc)), [(1, 32)], ('f32', 'hybrid'))
# e10: float16 edge values (1e5, 65519, 65520, subnormals, ties) and a constant that is
# also an output.
W10 = np.array([[1e5, -1e5, 65519.0, 65520.0, 6e-8, 3e-8, 2.9802322e-08, -5.96e-8, 1e-3, 0.1,
                 1/3, -2/3, 1e-10, -0.0, 7.0, 65504.0]] * 4, dtype=np.float32).T
B10 = np.linspace(-1, 1, 4).astype(np.float32)
convert('e10', lambda x: (tf.matmul(x, W10) + B10, tf.identity(tf.constant(B10)) + 0.0), [(1, 16)])
# e11: a conv weight whose TF tensor is also read by an ADD.
W11 = (np.random.default_rng(3).standard_normal((8, 8, 8, 8)) * 0.2).astype(np.float32)
convert('e11', lambda x, y: (tf.nn.conv2d(x, W11, 1, 'VALID'), y + W11), [(1, 9, 9, 8), (8, 8, 8, 8)])
# e12: control flow (WHILE): a documented difference.
r = np.random.default_rng(21)
W12 = (r.standard_normal((32, 32)) * 0.1).astype(np.float32); B12 = (r.standard_normal((32,)) * 0.1).astype(np.float32)
W13 = (r.standard_normal((32, 32)) * 0.1).astype(np.float32)
def f12(x):
    _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.nn.relu(tf.matmul(y, W12) + B12)), [tf.constant(0), x])
    return tf.matmul(y, W13) + B12
convert('e12', f12, [(1, 32)])
# e13: TRANSPOSE_CONV without bias whose output is the model's (the hidden no-value
# constant); e14: with bias and RELU, then a second one without bias inside the model.
r = np.random.default_rng(31)
W13t = (r.standard_normal((3, 3, 8, 16)) * 0.2).astype(np.float32)
convert('e13', lambda x: tf.nn.conv2d_transpose(x, W13t, [1, 8, 8, 8], 2, 'SAME'), [(1, 4, 4, 16)])
W14a = (r.standard_normal((2, 2, 16, 32)) * 0.2).astype(np.float32); B14a = (r.standard_normal((16,)) * 0.3).astype(np.float32)
W14b = (r.standard_normal((3, 3, 8, 16)) * 0.2).astype(np.float32)
def f14(x):
    y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d_transpose(x, W14a, [1, 6, 6, 16], 2, 'VALID'), B14a))
    return tf.nn.conv2d_transpose(y, W14b, [1, 8, 8, 8], 1, 'VALID') * 2.0
convert('e14', f14, [(1, 3, 3, 32)])
