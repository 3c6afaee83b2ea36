"""aot nonlinear kernels (SOFTMAX, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, MEAN) against TFLM, byte for byte.

Keras models with randomized shapes and quantization ranges are converted to int8,
generated with the aot engine, built with gcc (plain -O2 and with ASan/UBSan) and
run on random inputs plus one input holding every int8 value, through tests/aot_rig.
"""

import numpy as np
import pytest
from aot_rig import build, check_model, cross_compile, random_samples, run

from toolchain.codegen.aot_ops_nonlinear import split_axes
from toolchain.model import load_model
from toolchain.reference import tflm_run

NONLINEAR = {"SOFTMAX", "LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU", "MEAN"}


def _calib(rng, shape, span, n=64):
    """Calibration data over a random asymmetric range around 0 (so random scales and zero points).

    A range far from 0 can leave HARD_SWISH an output scale TFLM itself refuses.
    """
    lo, hi = -rng.uniform(0.1, 1.0) * span, rng.uniform(0.1, 1.0) * span
    return rng.uniform(lo, hi, size=(n, *shape)).astype(np.float32)


def _image_model(seed, span):
    """Every op on an NHWC input; MEAN as GlobalAveragePooling2D and keras.ops.mean both ways."""
    import keras
    from keras import layers, ops

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(2, 7)), int(rng.integers(1, 6)), int(rng.integers(2, 13)))
    alphas = rng.choice([0.01, 0.1, 0.2, 0.3, 0.5, 0.9, 1.7], 2, replace=False)
    x = keras.Input(shape)
    outs = [layers.Softmax()(x), layers.Activation("sigmoid")(x), layers.Activation("tanh")(x),
            layers.Activation("hard_swish")(x), layers.LeakyReLU(negative_slope=float(alphas[0]))(x),
            layers.LeakyReLU(negative_slope=float(alphas[1]))(x), layers.GlobalAveragePooling2D()(x),
            layers.Lambda(lambda t: ops.mean(t, axis=[1, 2], keepdims=True))(x),
            layers.Lambda(lambda t: ops.mean(t, axis=-1))(x),
            layers.Lambda(lambda t: ops.mean(t, axis=[1, 3], keepdims=True))(x)]
    return keras.Model(x, outs), _calib(rng, shape, span)


def _sequence_model(seed):
    """The ops behind FULLY_CONNECTED layers (other scales and zero points), on a [T, F] input."""
    import keras
    from keras import layers, ops

    rng = np.random.default_rng(seed)
    steps, features = int(rng.integers(2, 9)), int(rng.integers(2, 17))
    x = keras.Input((steps, features))

    def dense(t):
        return layers.Dense(int(rng.integers(2, 12)))(t)

    flat = layers.Flatten()(x)
    outs = [layers.Softmax()(dense(flat)), layers.Activation("sigmoid")(dense(flat)),
            layers.Activation("tanh")(dense(flat)), layers.Activation("hard_swish")(dense(flat)),
            layers.LeakyReLU(negative_slope=0.25)(dense(flat)), layers.Softmax()(x),
            layers.Lambda(lambda t: ops.mean(t, axis=1))(x)]
    return keras.Model(x, outs), _calib(rng, (steps, features), span=6.0)


def _every_value(model):
    """One input in which each int8 value occurs (the whole domain of the element-wise ops)."""
    t = model.main.input_tensors()[0]
    return [np.resize(np.arange(-128, 128, dtype=np.int8), t.shape)]


# (seed, calibration span): a wide range drives LOGISTIC/TANH into saturation (|x| >= 7.5),
# a narrow one gives HARD_SWISH a right-shifting "relu-ish" multiplier
@pytest.fixture(scope="module", params=[(11, 16.0), (5, 0.6)], ids=["wide", "narrow"])
def image_tflite(convert_keras, request):
    return convert_keras(*_image_model(*request.param))


@pytest.fixture(scope="module")
def sequence_tflite(convert_keras):
    return convert_keras(*_sequence_model(seed=23))


@pytest.mark.slow
def test_image_model_matches_tflm(image_tflite, tmp_path):
    model = load_model(image_tflite)
    ops = model.main.operators
    assert NONLINEAR <= {op.op for op in ops}
    assert {op.options["keep_dims"] for op in ops if op.op == "MEAN"} == {True, False}
    samples = random_samples(model, 24, seed=1) + [_every_value(model)]
    report = check_model(model, tmp_path, samples=samples, sanitize=True)
    assert report.samples == 25
    # the same sources built without sanitizers (plain -O2) agree too
    plain = run(build(report.gen_dir, sanitize=False), model, samples)
    for got, want in zip(plain, tflm_run(model, samples)):
        assert all(g.tobytes() == np.asarray(w).reshape(g.shape).tobytes() for g, w in zip(got, want))
    cross_compile(report.gen_dir)  # Cortex-M4F, -Wall -Wextra -Werror
    assert all((report.gen_dir / f"ts_{k}_s8.o").is_file()
               for k in ("softmax", "logistic", "tanh", "hard_swish", "leaky_relu", "mean"))


@pytest.mark.slow
def test_sequence_model_matches_tflm(sequence_tflite, tmp_path):
    model = load_model(sequence_tflite)
    assert NONLINEAR <= {op.op for op in model.main.operators}
    samples = random_samples(model, 24, seed=2) + [_every_value(model)]
    check_model(model, tmp_path, samples=samples, sanitize=True)


def test_mean_axis_split_merges_neighbours_and_drops_unit_axes():
    # global average pool over H, W of [1, 5, 4, 6]: one reduced run of 20 with stride 6
    assert split_axes((1, 5, 4, 6), {1, 2}) == ([(6, 1)], [(20, 6)])
    assert split_axes((1, 5, 4, 6), {1, 3}) == ([(4, 6)], [(5, 24), (6, 1)])
    assert split_axes((1, 5, 1, 6), {3}) == ([(5, 6)], [(6, 1)])
    assert split_axes((2, 3), {0, 1}) == ([], [(6, 1)])


# --- single-op cases with chosen quantization (built with make_tflite, no converter) ---------

def _op_cases(rng):
    """(op, input shape, (in scale, in zp), output shape, (out scale, out zp), option, axes) rows.

    Reaches what Keras models do not: softmax beta != 1, negative and > 1 leaky alphas,
    extreme scales, duplicate/negative MEAN axes, size-1 reduced axes, a full reduction.
    """
    def zp():
        return int(rng.integers(-100, 100))

    cases = []
    for shape, beta, scale in [((1, 10), 1.0, 0.1), ((2, 3, 7), 0.5, 0.02), ((1, 2, 2, 5), 2.0, 0.5),
                               ((1, 33), 1.0, 0.001)]:
        cases.append(("SOFTMAX", shape, (scale, zp()), shape, (1 / 256, -128), beta, None))
    for scale, shape in zip((0.003, 0.05, 0.2, 1.0), [(1, 4, 64), (3, 7, 50)] * 2):  # direct and tabulated
        cases.append(("LOGISTIC", shape, (scale, zp()), shape, (1 / 256, -128), None, None))
        cases.append(("TANH", shape, (scale, zp()), shape, (1 / 128, 0), None, None))
    for scale in (0.004, 0.03, 0.1):
        out = (scale * rng.uniform(0.3, 1.5), zp())
        cases.append(("HARD_SWISH", (1, 16, 16), (scale, zp()), (1, 16, 16), out, None, None))
    for alpha in (-0.5, 0.01, 0.3, 2.0):
        scale = rng.uniform(0.01, 0.2)
        cases.append(("LEAKY_RELU", (2, 128), (scale, zp()), (2, 128), (scale * rng.uniform(0.5, 2), zp()), alpha,
                      None))
    for shape, axes, keep, out_shape in [((1, 4, 5, 3), [1, 2], True, (1, 1, 1, 3)), ((1, 4, 5, 3), [-1], False, (1, 4, 5)),
                                         ((2, 3, 4, 5), [0, 2, 2], False, (3, 5)), ((3, 1, 4), [1], True, (3, 1, 4)),
                                         ((2, 3, 4), [0, 1, 2], False, (1,)), ((1, 7, 9, 40), [1, 2], False, (1, 40))]:
        scale = rng.uniform(0.01, 0.2)
        cases.append(("MEAN", shape, (scale, zp()), out_shape, (scale * rng.uniform(0.2, 1.2), zp()), keep, axes))
    return cases


def _single_op_model(make_tflite, cases) -> bytes:
    """One model, one independent input -> op -> output chain per case."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    codes = {name: getattr(s.BuiltinOperator, name) for name in NONLINEAR}
    opcodes = sorted(codes.values())
    tensors, ops, inputs, outputs, buffers = [], [], [], [], []
    for op, shape, (in_s, in_z), out_shape, (out_s, out_z), option, axes in cases:
        x, y = len(tensors), len(tensors) + 1
        tensors += [{"shape": shape, "scale": in_s, "zero_point": in_z},
                    {"shape": out_shape, "scale": out_s, "zero_point": out_z}]
        op_inputs, options = [x], ()
        if op == "SOFTMAX":
            o = s.SoftmaxOptionsT()
            o.beta = option
            options = (s.BuiltinOptions.SoftmaxOptions, o)
        elif op == "LEAKY_RELU":
            o = s.LeakyReluOptionsT()
            o.alpha = option
            options = (s.BuiltinOptions.LeakyReluOptions, o)
        elif op == "MEAN":
            buffers.append(np.array(axes, np.int32).tobytes())
            op_inputs.append(len(tensors))
            tensors.append({"shape": [len(axes)], "type": "int32", "buffer": len(buffers)})
            o = s.ReducerOptionsT()
            o.keepDims = option
            options = (s.BuiltinOptions.ReducerOptions, o)
        ops.append((opcodes.index(codes[op]), op_inputs, [y], *options))
        inputs.append(x)
        outputs.append(y)
    return make_tflite(tensors, ops, inputs, outputs, opcodes=[(c, c, 1) for c in opcodes], buffers=buffers)


@pytest.mark.slow
def test_single_op_cases_match_tflm(make_tflite, tmp_path):
    cases = _op_cases(np.random.default_rng(7))
    model = load_model(_single_op_model(make_tflite, cases))
    assert [op.op for op in model.main.operators] == [c[0] for c in cases]
    every = [np.resize(np.arange(-128, 128, dtype=np.int8), t.shape) for t in model.main.input_tensors()]
    check_model(model, tmp_path, samples=random_samples(model, 24, seed=3) + [every], sanitize=True)


@pytest.mark.parametrize("case, reason", [
    (("SOFTMAX", (1, 8), (0.1, 0), (1, 8), (0.1, 0), 1.0, None), "not the 1/256, -128"),
    (("LOGISTIC", (1, 8), (0.1, 0), (1, 8), (1 / 256, 0), None, None), "zero point 0 is not -128"),
    (("HARD_SWISH", (1, 8), (0.5, 0), (1, 8), (0.001, 0), None, None), "exponent"),
])
def test_unsupported_quantization_is_refused_before_writing(make_tflite, tmp_path, case, reason):
    from toolchain.codegen.aot import generate_aot
    from toolchain.errors import NotSupportedError

    with pytest.raises(NotSupportedError, match=reason) as e:
        generate_aot(_single_op_model(make_tflite, [case]), tmp_path / "gen")
    assert case[0] in e.value.message and e.value.exit_code == 3
    assert not (tmp_path / "gen").exists()
