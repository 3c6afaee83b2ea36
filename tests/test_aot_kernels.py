"""Per-kernel matrix of the aot engine: small Keras models with randomized layer
configurations (shapes, strides, paddings, dilations, depth multipliers, activations),
converted to int8, generated, built with gcc under ASan/UBSan and compared byte for byte
with TFLM on 24 random inputs. Many configurations share one model (one branch each) so
that a handful of conversions covers the matrix. Configurations the converter never emits
(arbitrary scale pairs, broadcast patterns, ranks, PADV2) use one-op models built with the
TFLite schema (aot_rig.tiny)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from aot_rig import check_model, cross_compile
from aot_rig.tiny import binary_model, fully_connected_model, one_op_model, pad_model

from toolchain.analyze import analyze
from toolchain.codegen import quant
from toolchain.codegen.aot import generate_aot
from toolchain.errors import NotSupportedError
from toolchain.model import load_model

SEED = 20261127
N_INPUTS = 24


def _act(rng: random.Random):
    return rng.choice([None, "relu", "relu6"])


def _window(rng: random.Random, kernel: tuple[int, int]) -> dict:
    """Strides or a dilation (Keras allows one or the other). Dilated convolutions only with
    SAME padding and a kernel wider than 1: otherwise the converter rewrites them into
    SPACE_TO_BATCH_ND + CONV_2D + BATCH_TO_SPACE_ND."""
    if rng.random() < 0.6 or max(kernel) == 1:
        return dict(kernel_size=kernel, strides=rng.randint(1, 3), dilation_rate=1,
                    padding=rng.choice(["same", "valid"]))
    return dict(kernel_size=kernel, strides=1, dilation_rate=rng.randint(2, 3), padding="same")


def conv_model(seed: int):
    """CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, MAX_POOL_2D in random configurations."""
    import keras

    rng = random.Random(seed)
    keras.utils.set_random_seed(seed)
    channels = rng.randint(1, 8)
    x = keras.Input((rng.randint(9, 15), rng.randint(9, 15), channels), batch_size=1)
    outs, configs = [], [("input", x.shape)]
    for _ in range(5):
        k = (rng.randint(1, 4), rng.randint(1, 4))
        groups = rng.choice([1, 1] + [g for g in (2, 3) if channels % g == 0])  # grouped: filter depth < input depth
        cfg = dict(**_window(rng, k), activation=_act(rng), use_bias=rng.random() < 0.8, groups=groups)
        outs.append(keras.layers.Conv2D(groups * rng.randint(1, 3), **cfg)(x))
        configs.append(("conv", cfg))
    for _ in range(5):
        cfg = dict(**_window(rng, (rng.randint(1, 4), rng.randint(1, 4))), depth_multiplier=rng.randint(1, 3),
                   activation=_act(rng))
        outs.append(keras.layers.DepthwiseConv2D(**cfg)(x))
        configs.append(("depthwise", cfg))
    for layer in (keras.layers.AveragePooling2D, keras.layers.MaxPooling2D) * 3:
        cfg = dict(pool_size=(rng.randint(1, 4), rng.randint(1, 4)), strides=(rng.randint(1, 3), rng.randint(1, 3)),
                   padding=rng.choice(["same", "valid"]))
        outs.append(layer(**cfg)(x))
        configs.append((layer.__name__, cfg))
    return keras.Model(x, outs), configs


def elementwise_model(seed: int):
    """ADD, MUL (same shapes, broadcast, constants, fused activations), RELU, RELU6, PAD,
    CONCATENATION, RESHAPE, FULLY_CONNECTED."""
    import keras

    rng = random.Random(seed)
    keras.utils.set_random_seed(seed)
    x = keras.Input((6, 7, 8), batch_size=1)
    a = keras.layers.Conv2D(8, 1)(x)
    b = keras.layers.Conv2D(8, 3, padding="same")(x)
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True)(b)
    scale = np.array([rng.uniform(-2, 2) for _ in range(8)], np.float32)
    shift = np.array([rng.uniform(-1, 1) for _ in range(8)], np.float32)
    outs = [
        keras.layers.Add()([a, b]),
        keras.layers.ReLU()(keras.layers.Add()([a, x])),
        keras.layers.Multiply()([a, b]),
        keras.layers.Multiply()([b, pooled]),                       # broadcast of [1, 1, 1, 8]
        keras.layers.Add()([a, pooled]),
        keras.layers.Lambda(lambda t: t * scale + shift)(x),      # constant operands
        keras.layers.ReLU()(x),
        keras.layers.ReLU(max_value=6.0)(x),
        keras.layers.ZeroPadding2D(((rng.randint(0, 2), rng.randint(0, 2)), (rng.randint(0, 3), 1)))(a),
        keras.layers.Concatenate(axis=rng.choice([1, 2, 3]))([a, b]),
        keras.layers.Concatenate()([keras.layers.ReLU()(x), a, b]),
        keras.layers.Dense(10, activation="relu")(keras.layers.Flatten()(b)),
        keras.layers.Reshape((42, 8))(keras.layers.Dense(8)(keras.layers.Reshape((42, 8))(x))),
    ]
    return keras.Model(x, outs), []


def _calib(model, n: int = 64, seed: int = 0) -> np.ndarray:
    shape = model.inputs[0].shape[1:]
    return np.random.default_rng(seed).normal(0, 1, (n, *shape)).astype(np.float32)


@pytest.fixture(scope="module")
def matrix_models(convert_keras):
    built = {
        "conv": conv_model(SEED),
        "conv2": conv_model(SEED + 1),
        "conv3": conv_model(SEED + 2),
        "elementwise": elementwise_model(SEED),
        "elementwise2": elementwise_model(SEED + 1),
    }
    return {name: (convert_keras(m, _calib(m)), cfg) for name, (m, cfg) in built.items()}


def _ops(path) -> set[str]:
    return set(load_model(path).op_names())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["conv", "conv2", "conv3", "elementwise", "elementwise2"])
def test_kernel_matrix_bit_exact(matrix_models, name, tmp_path):
    path, configs = matrix_models[name]
    try:
        r = check_model(path, tmp_path, n=N_INPUTS, seed=SEED)
    except AssertionError as e:
        raise AssertionError(f"{e}\nlayer configurations: {configs}") from None
    print(f"{name}: aot arena {r.arena_size} B, TFLM head {r.tflm_head} B, saved {r.tflm_head - r.arena_size} B")
    cross_compile(tmp_path)  # the same sources, clean for a Cortex-M4F


@pytest.mark.slow
def test_matrix_covers_the_core_kernels(matrix_models):
    ops = set().union(*(_ops(p) for p, _ in matrix_models.values()))
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "MUL", "RELU", "RELU6", "PAD",
            "CONCATENATION", "RESHAPE", "FULLY_CONNECTED"} <= ops


@pytest.mark.slow
def test_float_io_quantize_dequantize(convert_keras, tmp_path):
    import keras

    keras.utils.set_random_seed(SEED)
    x = keras.Input((9, 5, 3), batch_size=1)
    y = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(x)
    model = keras.Model(x, keras.layers.Dense(3)(keras.layers.Flatten()(y)))
    path = convert_keras(model, _calib(model), io="float")
    assert {"QUANTIZE", "DEQUANTIZE"} <= _ops(path)
    check_model(path, tmp_path, n=N_INPUTS, seed=SEED)
    cross_compile(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("op", ["QUANTIZE", "RELU", "RELU6"])
def test_requantizing_unary_ops(op, tmp_path):
    """int8 -> int8 rescaling with random scale pairs, ratios above 1 (left shift) included."""
    rng = random.Random(f"{SEED}{op}")
    for k in range(4):
        input_q = (rng.uniform(0.005, 0.5), rng.randint(-128, 127))
        output_q = (input_q[0] * rng.choice([rng.uniform(0.05, 0.9), rng.uniform(1.1, 20)]), rng.randint(-128, 127))
        model = one_op_model(op, (1, rng.randint(1, 300)), input_q, output_q)
        try:
            check_model(model, tmp_path / str(k), n=N_INPUTS, seed=k)
        except AssertionError as e:
            raise AssertionError(f"{op} {input_q} -> {output_q}: {e}") from None


@pytest.mark.slow
def test_fully_connected_with_and_without_bias(tmp_path):
    """Per-tensor FULLY_CONNECTED, 512 deep (wide accumulators), random scales and zero points."""
    rng = random.Random(SEED)
    for k in range(4):
        input_q = (rng.uniform(0.01, 0.1), rng.randint(-20, 20))
        output_q = (rng.uniform(5, 40), rng.randint(-10, 10))
        model = fully_connected_model(512, 64, input_q, rng.uniform(0.001, 0.01), output_q, bias=k % 2 == 0, seed=k)
        check_model(model, tmp_path / str(k), n=N_INPUTS, seed=k)


@pytest.mark.slow
@pytest.mark.parametrize("op", ["PAD", "PADV2"])
def test_pad_any_rank(op, tmp_path):
    """PAD fills with the zero point, PADV2 with its constant; 1 to 5 dimensions."""
    rng = random.Random(f"{SEED}{op}")
    for rank in range(1, 6):
        shape = [rng.randint(1, 5) for _ in range(rank)]
        paddings = [(rng.randint(0, 2), rng.randint(0, 2)) for _ in range(rank)]
        q = (rng.uniform(0.01, 0.5), rng.randint(-100, 100))
        model = pad_model(shape, paddings, q, rng.randint(-128, 127) if op == "PADV2" else None)
        try:
            check_model(model, tmp_path / str(rank), n=N_INPUTS, seed=rank)
        except AssertionError as e:
            raise AssertionError(f"{op} {shape} {paddings}: {e}") from None


@pytest.mark.slow
@pytest.mark.parametrize("op", ["ADD", "MUL"])
def test_binary_broadcast_shapes_and_scales(op, tmp_path):
    """Random ranks, broadcast patterns (either side), scales, zero points and fused activations."""
    rng = random.Random(f"{SEED}{op}")
    for k in range(5):
        out = [rng.randint(1, 5) for _ in range(rng.randint(1, 5))]
        shape1 = [d if rng.random() < 0.6 else 1 for d in out]
        shape2 = [d if rng.random() < 0.6 else 1 for d in out][rng.randint(0, len(out) - 1):]  # lower rank too
        qs = [(rng.uniform(0.01, 0.5), rng.randint(-128, 127)) for _ in range(3)]
        model = binary_model(op, shape1, shape2, *qs, activation=rng.choice([0, 1, 3]))
        try:
            check_model(model, tmp_path / str(k), n=N_INPUTS, seed=k)
        except AssertionError as e:
            raise AssertionError(f"{op} {shape1} {shape2} {qs}: {e}") from None


def test_quantize_multiplier_matches_tflm_definition():
    assert quant.quantize_multiplier(0.0) == (0, 0)
    assert quant.quantize_multiplier(0.5) == (1 << 30, 0)
    assert quant.quantize_multiplier(1.0) == (1 << 30, 1)
    # q * 2^31 rounds up to 2^31: TFLM halves the multiplier and bumps the shift
    assert quant.quantize_multiplier(1 - 2.0 ** -40) == (1 << 30, 1)
    assert quant.quantize_multiplier(2.0 ** -40) == (0, 0)  # below 2^-31: flushed to zero
    m, s = quant.quantize_multiplier(0.0123)
    assert 1 << 30 <= m < 1 << 31 and abs(m * 2.0 ** (s - 31) - 0.0123) < 1e-9


@pytest.mark.slow
def test_in_place_residual_beats_tflm_arena(convert_keras, tmp_path):
    """Element-wise ops written over their dying input: a residual chain needs fewer bytes than TFLM plans."""
    import keras

    keras.utils.set_random_seed(SEED)
    x = keras.Input((16, 16, 8), batch_size=1)
    y = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    y = keras.layers.Add()([keras.layers.Conv2D(8, 1)(y), y])
    y = keras.layers.ReLU()(keras.layers.Multiply()([y, y]))
    model = keras.Model(x, keras.layers.Conv2D(4, 1)(y))
    r = check_model(convert_keras(model, _calib(model)), tmp_path, n=N_INPUTS, seed=SEED)
    print(f"residual: aot arena {r.arena_size} B, TFLM head {r.tflm_head} B, saved {r.tflm_head - r.arena_size} B")
    assert r.arena_size < r.tflm_head
    fit = analyze(convert_keras(model, _calib(model)), board="host", engine="aot").fit
    assert fit.arena_bytes == r.arena_size  # the board fit counts the aot plan, not TFLM's head


@pytest.mark.slow
def test_unsupported_ops_are_named_and_nothing_is_written(convert_keras, tmp_path):
    import keras

    keras.utils.set_random_seed(SEED)
    x = keras.Input((12, 12, 3), batch_size=1)
    y = keras.layers.Permute((2, 1, 3))(x)  # TRANSPOSE: TFLM has it, the aot engine not
    model = keras.Model(x, keras.layers.Conv2D(4, 3)(y))
    path = convert_keras(model, _calib(model))
    out = tmp_path / "gen"
    with pytest.raises(NotSupportedError) as err:
        generate_aot(path, out)
    assert err.value.exit_code == 3
    unsupported = set(load_model(path).op_names()) - {"CONV_2D"}
    assert unsupported and all(op in err.value.message for op in unsupported)
    assert "--engine tflm" in err.value.fix
    assert list(tmp_path.iterdir()) == []
