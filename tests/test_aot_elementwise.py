"""aot SUB, MAXIMUM and MINIMUM against TFLM, byte for byte.

Keras models (Subtract, Maximum, Minimum, keras.ops with constant and [1, 1, C] operands,
the Normalization layer) converted to int8 with random calibration ranges, plus one-op
models with chosen quantization, generated with the aot engine, built with gcc (ASan/UBSan)
and run on random inputs through tests/aot_rig; one model deployed to QEMU end to end.
"""

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from aot_rig import check_model, cross_compile
from aot_rig.tiny import binary_model

from toolchain.analyze import analyze
from toolchain.codegen import quant
from toolchain.model import load_model
from toolchain.reference import tflm_run

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261205
N_INPUTS = 16
OPS = {"SUB", "MAXIMUM", "MINIMUM"}


def _calib(rng, shape, n=32):
    """Calibration data over a random asymmetric range (random scales and zero points)."""
    lo, hi = -rng.uniform(0.2, 3.0), rng.uniform(0.2, 3.0)
    return rng.uniform(lo, hi, size=(n, *shape)).astype(np.float32)


def _conv_model(seed):
    """Every form on two conv outputs: same shapes, a constant, a [1, 1, C] tensor, a scalar first."""
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    h, w, c = int(rng.integers(3, 8)), int(rng.integers(3, 8)), int(rng.integers(2, 9))
    const = rng.uniform(-1, 1, c).astype(np.float32)
    x = keras.Input((h, w, 3), batch_size=1)
    a = layers.Conv2D(c, 3, padding="same")(x)
    b = layers.Conv2D(c, 1)(x)
    outs = [layers.Subtract()([a, b]),
            layers.ReLU()(layers.Subtract()([b, a])),  # a fused RELU
            layers.Activation("relu6")(layers.Subtract()([a, layers.Conv2D(c, 1)(x)])),  # a fused RELU6
            layers.Lambda(lambda t: ops.subtract(t, const))(a),
            layers.Lambda(lambda t: t - ops.mean(t, axis=[1, 2], keepdims=True))(b),
            layers.Lambda(lambda t: ops.subtract(0.5, t))(b),
            layers.Maximum()([a, b]), layers.Minimum()([a, b]),
            layers.Lambda(lambda t: ops.maximum(t, const))(a),
            layers.Lambda(lambda t: ops.minimum(t, ops.mean(t, axis=[1, 2], keepdims=True)))(b)]
    return keras.Model(x, outs), _calib(rng, (h, w, 3))


def _normalization_model(seed):
    """keras.layers.Normalization (SUB and MUL after conversion) in front of a small classifier."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    features = int(rng.integers(3, 12))
    norm = layers.Normalization(mean=list(rng.uniform(-2, 2, features)), variance=list(rng.uniform(0.1, 4, features)))
    x = keras.Input((features,), batch_size=1)
    y = layers.Dense(4, activation="softmax")(layers.Dense(16, activation="relu")(norm(x)))
    return keras.Model(x, y), _calib(rng, (features,))


def _ops(model):
    return [op for op in model.main.operators if op.op in OPS]


@pytest.fixture(scope="module", params=[3, 8], ids=["seed3", "seed8"])
def conv_tflite(convert_keras, request):
    return convert_keras(*_conv_model(request.param))


@pytest.fixture(scope="module")
def normalization_tflite(convert_keras):
    return convert_keras(*_normalization_model(SEED % 97))


@pytest.mark.slow
def test_conv_model_matches_tflm(conv_tflite, tmp_path):
    model = load_model(conv_tflite)
    ops = _ops(model)
    assert {op.op for op in ops} == OPS
    tensors = model.main.tensors
    shapes = {tuple(tensors[op.inputs[1]].shape) for op in ops} | {tuple(tensors[op.inputs[0]].shape) for op in ops}
    assert len(shapes) >= 3, f"same shapes, [C] constants and [1, 1, 1, C] operands expected: {shapes}"
    assert any(tensors[op.inputs[0]].is_constant for op in ops if op.op == "SUB")  # 0.5 - t
    assert {op.activation for op in ops if op.op == "SUB"} >= {"NONE", "RELU", "RELU6"}
    report = check_model(model, tmp_path, n=N_INPUTS, seed=SEED, sanitize=True)
    assert report.samples == N_INPUTS
    cross_compile(report.gen_dir)  # Cortex-M4F, -Wall -Wextra -Werror
    assert (report.gen_dir / "ts_max_min_s8.o").is_file() and (report.gen_dir / "ts_add_s8.o").is_file()


@pytest.mark.slow
def test_normalization_layer_matches_tflm(normalization_tflite, tmp_path):
    model = load_model(normalization_tflite)
    assert {"SUB", "MUL"} <= set(model.op_names())
    check_model(model, tmp_path, n=N_INPUTS, seed=SEED, sanitize=True)


def _tflm_sub(v1, v2, q1, q2, qy, negate_multiplier=False):
    """TFLM's int8 SUB of two stored values (sub_common.cc Prepare, reference_ops::Sub), or
    the ADD arithmetic with input 2's multiplier negated."""
    twice = 2 * float(max(quant.f32(q1[0]), quant.f32(q2[0])))
    (m1, s1), (m2, s2) = (quant.quantize_multiplier(float(q[0]) / twice) for q in (q1, q2))
    mo, so = quant.quantize_multiplier(twice / ((1 << 20) * float(qy[0])))
    r1 = quant.multiply_by_quantized_multiplier((v1 - q1[1]) << 20, m1, s1)
    if negate_multiplier:
        raw = r1 + quant.multiply_by_quantized_multiplier((v2 - q2[1]) << 20, -m2, s2)
    else:
        raw = r1 - quant.multiply_by_quantized_multiplier((v2 - q2[1]) << 20, m2, s2)
    return min(max(quant.multiply_by_quantized_multiplier(raw, mo, so) + qy[1], -128), 127)


def test_sub_is_not_add_with_a_negated_multiplier(tmp_path):
    """Every pair of int8 values in one broadcast [256, 1] - [1, 256], with scales chosen so that
    input 2's multiplier (2053663744 = 1958523 * 2^10, shift -1) makes the doubling high multiply
    round ties: TFLM's output at (-14, 17) is what subtracting the rescaled operand gives, and
    not what ADD with a negated multiplier would; the aot kernel agrees with TFLM everywhere."""
    q1, q2, qy = (0.015625, 35), (0.014942370355129242, -38), (0.019477980211377144, 58)
    model = load_model(binary_model("SUB", [256, 1], [1, 256], q1, q2, qy))
    values = np.arange(-128, 128, dtype=np.int8)
    sample = [values.reshape(256, 1), values.reshape(1, 256)]
    tflm = np.asarray(tflm_run(model, [sample])[0][0]).reshape(256, 256)
    at = (-14 + 128, 17 + 128)
    assert tflm[at] == _tflm_sub(-14, 17, q1, q2, qy) == -24
    assert _tflm_sub(-14, 17, q1, q2, qy, negate_multiplier=True) == -23
    check_model(model, tmp_path, samples=[sample], sanitize=True)


@pytest.mark.slow
@pytest.mark.parametrize("op", sorted(OPS))
def test_broadcast_shapes_scales_and_activations(op, tmp_path):
    """Random ranks (up to 5), broadcasts on either side, scales, zero points, fused activations
    (SUB; MAXIMUM and MINIMUM share one quantization)."""
    rng = random.Random(f"{SEED}{op}")
    for k in range(6):
        out = [rng.randint(1, 5) for _ in range(rng.randint(1, 5))]
        shape1 = [d if rng.random() < 0.6 else 1 for d in out]
        shape2 = [d if rng.random() < 0.6 else 1 for d in out][rng.randint(0, len(out) - 1):]
        if rng.random() < 0.5:
            shape1, shape2 = shape2, shape1
        qs = [(rng.uniform(0.005, 0.5), rng.randint(-128, 127)) for _ in range(3)]
        act = rng.choice([0, 1, 2, 3]) if op == "SUB" else 0  # NONE, RELU, RELU_N1_TO_1, RELU6
        model = binary_model(op, shape1, shape2, *(qs if op == "SUB" else qs[:1] * 3), activation=act)
        try:
            check_model(model, tmp_path / str(k), n=N_INPUTS, seed=k)
        except AssertionError as e:
            raise AssertionError(f"{op} {shape1} {shape2} {qs} activation {act}: {e}") from None


@pytest.mark.parametrize("op", sorted(OPS))
def test_six_dimensional_broadcast(op, tmp_path):
    """TS_MAX_DIMS (6) dimensions, each operand repeated along three of them."""
    q = (0.03, -5)
    model = binary_model(op, [2, 1, 3, 1, 2, 3], [1, 2, 1, 2, 1, 3], q, (0.02, 7) if op == "SUB" else q, q)
    check_model(model, tmp_path, n=N_INPUTS, seed=SEED)


@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
@pytest.mark.parametrize("which", [0, 1, 2])
def test_max_min_with_mixed_quantization_are_refused_before_writing(op, which, tmp_path):
    from toolchain.codegen.aot import generate_aot
    from toolchain.errors import NotSupportedError

    qs = [(0.05, 3)] * 3
    qs[which] = (0.05, 4) if which == 1 else (0.04, 3)
    with pytest.raises(NotSupportedError, match="quantized differently") as e:
        generate_aot(load_model(binary_model(op, [1, 4, 4, 3], [3], *qs)), tmp_path / "gen")
    assert op in e.value.message and e.value.exit_code == 3
    assert not (tmp_path / "gen").exists()


@pytest.mark.slow
def test_analyze_reports_aot_support_and_the_portable_sub(conv_tflite):
    a = analyze(conv_tflite, board="qemu-cortex-m4", engine="aot")
    assert a.support["aot"].supported, a.support["aot"].unsupported
    # TFLM's side: MAXIMUM/MINIMUM allocate no OpData, the modeled tail is the measured one
    measured = analyze(conv_tflite, measure=True)
    assert not measured.tail_64.unknown_ops and measured.tail_64.total == measured.measured.tail
    kernels = {(k["name"].split()[0], k["kernel"], k["reason"]) for k in a.kernels if k["name"].split()[0] in OPS}
    # the DSP ADD kernel leaves SUB to the portable one; MAXIMUM/MINIMUM have only the portable kernel
    assert kernels == {("SUB", "portable", "a SUB (the optimized kernel only adds)"),
                       ("MAXIMUM", "portable", "no dsp kernel for this op"),
                       ("MINIMUM", "portable", "no dsp kernel for this op")}


@pytest.mark.slow
@pytest.mark.parametrize("board", ["qemu-cortex-m4", "qemu-cortex-m55"])
def test_deploy_on_qemu(convert_keras, tmp_path, board):
    """`tinyship deploy` of a model with every form of the three ops plus a Normalization layer
    (the DSP and Helium ADD kernels hand SUB to the portable one)."""
    import keras

    conv, calib = _conv_model(5)
    norm = keras.layers.Normalization(mean=[0.3, -0.2, 0.1], variance=[0.5, 2.0, 1.0])
    x = keras.Input(conv.input_shape[1:], batch_size=1)
    model = keras.Model(x, conv(norm(x)))
    path = convert_keras(model, calib)
    assert OPS <= set(load_model(path).op_names())
    r = subprocess.run([sys.executable, "-m", "toolchain", "deploy", str(path), "--board", board,
                        "--random", "3", "-o", str(tmp_path), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    v = json.loads(r.stdout)["validation"]
    assert (v["bit_exact"], v["compared"], v["passed"]) == (3, 3, True)
