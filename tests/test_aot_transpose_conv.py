"""aot TRANSPOSE_CONV (Keras Conv2DTranspose, Conv1DTranspose) against TFLM, byte for byte.

Keras models whose layers cover strides 1-3, kernels 1-5 (even ones too), SAME and VALID,
with and without bias, several channel counts and per-channel weight scales are converted
to int8, generated with the aot engine, built with gcc under ASan/UBSan and run on random
inputs through tests/aot_rig; the fused activations through edited copies of a model.
"""

import json
import subprocess
import sys
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from aot_rig import check_model, cross_compile, random_samples
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from toolchain.analyze import analyze
from toolchain.codegen.aot import generate_aot
from toolchain.codegen.aot_ops_transpose_conv import transpose_padding
from toolchain.errors import NotSupportedError
from toolchain.model import ACTIVATIONS, load_model
from toolchain.reference import tflm_run

ACTIVATION_CODES = {name: code for code, name in ACTIVATIONS.items()}


def _randomize(model, rng):
    """Weights of random per-output-channel scales (so per-channel multipliers differ), random biases."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel = rng.normal(0, 1, weights[0].shape)
        kernel *= rng.uniform(0.05, 2.0, weights[0].shape[-2]).reshape(-1, 1)  # [..., filters, in]
        layer.set_weights([kernel.astype(np.float32)] +
                          [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in weights[1:]])
    return model


def _calib(rng, shape, n=48):
    lo, hi = -rng.uniform(0.2, 3.0), rng.uniform(0.2, 3.0)
    return rng.uniform(lo, hi, size=(n, *shape)).astype(np.float32)


def _grid_model(stride, seed):
    """One Conv2DTranspose branch per kernel size 1-5 and padding, on one input; bias off on every
    third branch, random channel counts."""
    import keras
    from keras import layers

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(3, 7)), int(rng.integers(3, 7)), int(rng.integers(1, 9)))
    x = keras.Input(shape)
    outs = []
    for i, (k, padding) in enumerate((k, p) for k in range(1, 6) for p in ("same", "valid")):
        outs.append(layers.Conv2DTranspose(int(rng.integers(1, 12)), k, strides=stride, padding=padding,
                                           use_bias=i % 3 != 2)(x))
    return _randomize(keras.Model(x, outs), rng), _calib(rng, shape)


def _decoder_model(seed):
    """An autoencoder: Conv2D down, Conv2DTranspose up with fused and separate ReLUs, non-square
    kernels and strides, a bias-less layer, a LeakyReLU in between."""
    import keras
    from keras import layers

    rng = np.random.default_rng(seed)
    x = keras.Input((12, 10, 3))
    h = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(8, (4, 2), strides=(2, 1), padding="same", use_bias=False)(h)
    h = layers.ReLU()(h)
    h = layers.Conv2DTranspose(6, (2, 3), strides=(1, 2), padding="valid")(h)
    h = layers.LeakyReLU(negative_slope=0.2)(h)
    y = layers.Conv2DTranspose(3, 5, strides=1, padding="same", activation="relu")(h)
    return _randomize(keras.Model(x, y), rng), _calib(rng, (12, 10, 3))


def _conv1d_model(seed):
    import keras
    from keras import layers

    rng = np.random.default_rng(seed)
    x = keras.Input((9, 5))
    outs = [layers.Conv1DTranspose(6, 3, strides=2, padding="same", activation="relu")(x),
            layers.Conv1DTranspose(4, 4, strides=3, padding="valid", use_bias=False)(x),
            layers.Conv1DTranspose(7, 2, strides=1, padding="same")(x)]
    return _randomize(keras.Model(x, outs), rng), _calib(rng, (9, 5))


def _ops(path) -> list[str]:
    return [op.op for op in load_model(path).main.operators]


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_kernel_sizes_and_paddings(convert_keras, tmp_path, stride):
    path = convert_keras(*_grid_model(stride, seed=10 + stride))
    assert _ops(path).count("TRANSPOSE_CONV") == 10
    report = check_model(path, tmp_path / "gen", n=12)
    assert report.samples == 12
    cross_compile(report.gen_dir)  # -Wall -Wextra -Werror for the Cortex-M4F too


def test_decoder(convert_keras, tmp_path):
    path = convert_keras(*_decoder_model(seed=3))
    model = load_model(path)
    tconvs = [op for op in model.main.operators if op.op == "TRANSPOSE_CONV"]
    assert len(tconvs) == 4
    assert {op.activation for op in tconvs} == {"RELU", "NONE"}  # relu fused into some of them
    assert any(len(op.inputs) == 3 or op.inputs[3] < 0 for op in tconvs)  # a bias-less one
    check_model(path, tmp_path / "gen", n=20)


def test_conv1d_transpose(convert_keras, tmp_path):
    path = convert_keras(*_conv1d_model(seed=4))
    assert _ops(path).count("TRANSPOSE_CONV") == 3
    check_model(path, tmp_path / "gen", n=20)


def _with_activation(path, activation: str) -> bytes:
    """The model at `path` with every TRANSPOSE_CONV's fused activation set to `activation`."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(path.read_bytes()), 0)
    for op in m.subgraphs[0].operators:
        if isinstance(op.builtinOptions, schema.TransposeConvOptionsT):
            op.builtinOptions.fusedActivationFunction = ACTIVATION_CODES[activation]
    b = flatbuffers.Builder(4096)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.fixture(scope="module")
def conv1d_tflite(convert_keras):
    return convert_keras(*_conv1d_model(seed=4))


@pytest.mark.parametrize("activation", ["RELU", "RELU6", "RELU_N1_TO_1"])
def test_fused_activations(conv1d_tflite, tmp_path, activation):
    """TFLM clamps to the fused activation's range (these clamps change its output: the output zero
    points are not at the range's ends), so the aot kernel does too."""
    edited = load_model(_with_activation(conv1d_tflite, activation))
    plain = load_model(_with_activation(conv1d_tflite, "NONE"))
    samples = random_samples(plain, 4)
    changed = [not np.array_equal(a, b) for a, b in zip(tflm_run(edited, samples)[0], tflm_run(plain, samples)[0])]
    assert any(changed)  # the test can fail: the clamp matters
    check_model(edited, tmp_path / "gen", samples=samples)


def test_unsupported_activation_is_refused_before_writing(conv1d_tflite, tmp_path):
    with pytest.raises(NotSupportedError) as e:
        generate_aot(load_model(_with_activation(conv1d_tflite, "TANH")), tmp_path / "out")
    assert "TRANSPOSE_CONV" in e.value.message and "TANH" in e.value.message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("padding, stride, out, k, pad", [
    ("SAME", 2, 10, 3, 0),   # the output rows of a 5-row input: conv of 10 rows back to 5 pads 0 before
    ("SAME", 2, 10, 4, 1),
    ("SAME", 1, 7, 5, 2),
    ("SAME", 3, 9, 2, 0),
    ("VALID", 2, 11, 3, 0),
    ("VALID", 3, 4, 5, 0),
    ("VALID", 4, 1, 12, 1),  # an output shorter than the filter: C division truncates toward zero (floor: 0)
])
def test_padding_from_the_output_size(padding, stride, out, k, pad):
    assert transpose_padding(padding, stride, out, k) == pad


def test_analyze_models_the_tflm_arena_and_aot_support(convert_keras):
    path = convert_keras(*_decoder_model(seed=3))
    a = analyze(path, engine="aot", measure=True)
    assert a.plan.head == a.measured.head  # the int32 scratch TFLM requests is planned
    assert a.tail_64.total == a.measured.tail  # and its OpData and per-channel arrays counted
    assert not any("TRANSPOSE_CONV" in n for n in a.notes + a.plan.notes)
    assert a.support["aot"].unsupported == []
    model = load_model(path)
    for layer, op in zip(a.layers, model.main.operators):
        if op.op == "TRANSPOSE_CONV":
            w, x = (model.main.tensors[i] for i in op.inputs[1:3])
            assert layer.macs == x.size * w.shape[0] * w.shape[1] * w.shape[2] > 0


@pytest.mark.slow
def test_deploy_on_qemu(convert_keras, tmp_path):
    path = convert_keras(*_decoder_model(seed=3))
    r = subprocess.run([sys.executable, "-m", "toolchain", "deploy", str(path), "--board", "qemu-cortex-m4",
                        "--random", "3", "-n", "1", "--warmup", "0", "-o", str(tmp_path), "--json"],
                       capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=600)
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)["validation"]
    assert (v["bit_exact"], v["compared"], v["passed"]) == (3, 3, True)
