"""aot REDUCE_MAX, RESIZE_NEAREST_NEIGHBOR and STRIDED_SLICE against TFLM, byte for byte.

Keras models (GlobalMaxPooling, keras.ops.max, Resizing "nearest", Cropping, slicing) are
converted to int8; single-op models built with make_tflite reach what Keras does not emit
(align_corners, masks, negative strides, shrink axes). All run through tests/aot_rig:
generated C built with gcc, ASan/UBSan included, compared with the TFLM interpreter.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from aot_rig import check_model, cross_compile, random_samples

from toolchain.analyze import analyze
from toolchain.codegen.aot import generate_aot
from toolchain.codegen.aot_ops_shape import slice_axes
from toolchain.errors import NotSupportedError
from toolchain.model import load_model

SHAPE_OPS = {"REDUCE_MAX", "RESIZE_NEAREST_NEIGHBOR", "STRIDED_SLICE"}
ROOT = Path(__file__).resolve().parents[1]


def _calib(rng, shape, n=32):
    lo, hi = -rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0)
    return rng.uniform(lo, hi, size=(n, *shape)).astype(np.float32)


def _ops(model):
    return [op.op for op in model.main.operators]


# --- Keras models ---------------------------------------------------------------------------

def _reduce_max_model(seed):
    """GlobalMaxPooling2D both ways and keras.ops.max over several axis sets, on an NHWC input."""
    import keras
    from keras import layers, ops

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(2, 8)), int(rng.integers(2, 7)), int(rng.integers(2, 12)))  # size 1: an identity
    x = keras.Input(shape)
    outs = [layers.GlobalMaxPooling2D()(x), layers.GlobalMaxPooling2D(keepdims=True)(x),
            layers.Lambda(lambda t: ops.max(t, axis=-1))(x),
            layers.Lambda(lambda t: ops.max(t, axis=[1, 3], keepdims=True))(x),
            layers.Lambda(lambda t: ops.max(t, axis=2, keepdims=True))(x),
            layers.Lambda(lambda t: ops.max(t, axis=[1, 2, 3]))(x)]
    return keras.Model(x, outs), _calib(rng, shape)


def _sequence_max_model(seed):
    import keras
    from keras import layers, ops

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(2, 20)), int(rng.integers(2, 16)))
    x = keras.Input(shape)
    h = layers.Dense(int(rng.integers(3, 9)))(x)
    outs = [layers.GlobalMaxPooling1D()(h), layers.Lambda(lambda t: ops.max(t, axis=-1, keepdims=True))(h)]
    return keras.Model(x, outs), _calib(rng, shape)


def _resize_model(seed):
    """Resizing(interpolation="nearest") up and down, integer and non-integer ratios."""
    import keras
    from keras import layers

    rng = np.random.default_rng(seed)
    h, w, c = int(rng.integers(2, 12)), int(rng.integers(2, 12)), int(rng.integers(1, 5))
    x = keras.Input((h, w, c))
    sizes = [(2 * h, 3 * w), (max(1, h // 2), max(1, w // 3)), (int(rng.integers(1, 25)), int(rng.integers(1, 25))),
             (h + 1, max(1, w - 1))]
    outs = [layers.Resizing(oh, ow, interpolation="nearest")(x) for oh, ow in sizes]
    return keras.Model(x, outs), _calib(rng, (h, w, c))


def _slice_model(seed):
    """Cropping2D/1D and tensor slicing with steps, negative indices and reversal."""
    import keras
    from keras import layers

    rng = np.random.default_rng(seed)
    h, w, c = int(rng.integers(6, 14)), int(rng.integers(6, 14)), int(rng.integers(2, 6))
    x = keras.Input((h, w, c))
    seq = layers.Reshape((h * w, c))(x)
    outs = [layers.Cropping2D(((1, 2), (2, 1)))(x), layers.Cropping2D((int(rng.integers(0, 3)), 1))(x),
            layers.Cropping1D((3, int(rng.integers(1, 5))))(seq),
            layers.Lambda(lambda t: t[:, 1:-1:2, ::3, :])(x),
            layers.Lambda(lambda t: t[:, ::-1, -4:, 1:])(x),
            layers.Lambda(lambda t: t[:, 2, :, ::-2])(x),
            layers.Lambda(lambda t: t[:, -5:-1, 1])(x)]
    return keras.Model(x, outs), _calib(rng, (h, w, c))


@pytest.mark.slow
@pytest.mark.parametrize("build, seed", [(_reduce_max_model, 3), (_reduce_max_model, 8), (_sequence_max_model, 4),
                                         (_resize_model, 5), (_resize_model, 12), (_slice_model, 6),
                                         (_slice_model, 9)],
                         ids=["max-a", "max-b", "max-1d", "resize-a", "resize-b", "slice-a", "slice-b"])
def test_keras_model_matches_tflm(convert_keras, tmp_path, build, seed):
    path = convert_keras(*build(seed))
    model = load_model(path)
    ops = set(_ops(model))
    assert ops & SHAPE_OPS, ops
    report = json.loads((path.parent / "model_quant_report.json").read_text())
    assert not any("shapes at run time" in w for w in report["warnings"]), report["warnings"]  # constant slices
    a = analyze(path, board="qemu-cortex-m4", engine="aot")
    assert a.support["aot"].supported, a.support["aot"].unsupported
    assert {(layer["op"], layer["kernel"]) for layer in a.to_dict()["layers"] if layer["op"] in SHAPE_OPS} == \
        {(op, "portable") for op in ops & SHAPE_OPS}
    if "REDUCE_MAX" in ops:
        assert {o.options["keep_dims"] for o in model.main.operators if o.op == "REDUCE_MAX"} == {True, False}
    report = check_model(model, tmp_path, samples=random_samples(model, 16, seed=seed), sanitize=True)
    assert report.samples == 16
    cross_compile(report.gen_dir)  # Cortex-M4F, -Wall -Wextra -Werror


# --- single-op models (make_tflite) -----------------------------------------------------------

def _single_op_model(make_tflite, cases) -> bytes:
    """One input -> op -> output chain per case: (op, in shape, out shape, int32 operands, options, (scale, zp)s)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    codes = {name: getattr(s.BuiltinOperator, name) for name in SHAPE_OPS}
    opcodes = sorted(codes.values())
    tensors, ops, inputs, outputs, buffers = [], [], [], [], []
    for op, shape, out_shape, operands, options, quant in cases:
        (in_s, in_z), (out_s, out_z) = quant or ((0.05, -3), (0.05, -3))
        x, y = len(tensors), len(tensors) + 1
        tensors += [{"shape": shape, "scale": in_s, "zero_point": in_z},
                    {"shape": out_shape, "scale": out_s, "zero_point": out_z}]
        op_inputs = [x]
        for values in operands:
            buffers.append(np.array(values, np.int32).tobytes())
            op_inputs.append(len(tensors))
            tensors.append({"shape": [len(values)], "type": "int32", "buffer": len(buffers)})
        if op == "REDUCE_MAX":
            o = s.ReducerOptionsT()
            o.keepDims = options
            kind = s.BuiltinOptions.ReducerOptions
        elif op == "RESIZE_NEAREST_NEIGHBOR":
            o = s.ResizeNearestNeighborOptionsT()
            o.alignCorners, o.halfPixelCenters = options
            kind = s.BuiltinOptions.ResizeNearestNeighborOptions
        else:
            o = s.StridedSliceOptionsT()
            o.beginMask, o.endMask, o.shrinkAxisMask = options[:3]
            o.ellipsisMask = options[3] if len(options) > 3 else 0
            kind = s.BuiltinOptions.StridedSliceOptions
        ops.append((opcodes.index(codes[op]), op_inputs, [y], kind, o))
        inputs.append(x)
        outputs.append(y)
    return make_tflite(tensors, ops, inputs, outputs, opcodes=[(c, c, 1) for c in opcodes], buffers=buffers)


def _check_cases(make_tflite, tmp_path, cases, seed):
    model = load_model(_single_op_model(make_tflite, cases))
    assert _ops(model) == [c[0] for c in cases]
    check_model(model, tmp_path, samples=random_samples(model, 8, seed=seed), sanitize=True)
    return model


def _resize_cases(rng, flags):
    cases = []
    for _ in range(12):
        n, c = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        h, w = int(rng.integers(1, 14)), int(rng.integers(1, 14))
        oh, ow = int(rng.integers(1, 30)), int(rng.integers(1, 30))  # up, down, non-integer ratios, size 1
        cases.append(("RESIZE_NEAREST_NEIGHBOR", (n, h, w, c), (n, oh, ow, c), [[oh, ow]], flags, None))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("flags", [(False, False), (False, True), (True, False), (True, True)],
                         ids=["plain", "half-pixel", "align-corners", "both"])
def test_resize_nearest_options_match_tflm(make_tflite, tmp_path, flags):
    rng = np.random.default_rng(sum(2 ** i * f for i, f in enumerate(flags)))
    cases = _resize_cases(rng, flags)
    cases += [("RESIZE_NEAREST_NEIGHBOR", (1, 7, 3, 2), (1, 1, 1, 2), [[1, 1]], flags, None),
              ("RESIZE_NEAREST_NEIGHBOR", (1, 1, 1, 3), (1, 5, 4, 3), [[5, 4]], flags, None),
              ("RESIZE_NEAREST_NEIGHBOR", (1, 13, 11, 1), (1, 29, 3, 1), [[29, 3]], flags, None)]
    _check_cases(make_tflite, tmp_path, cases, seed=1)


def _slice_case(rng):
    """A random STRIDED_SLICE of rank 1-4: any begin/end (out of range too), strides +-1..3, masks."""
    nd = int(rng.integers(1, 5))
    shape = [int(v) for v in rng.integers(1, 7, nd)]
    begin = [int(rng.integers(-d - 2, d + 2)) for d in shape]
    end = [int(rng.integers(-d - 2, d + 2)) for d in shape]
    strides = [int(rng.choice([-3, -2, -1, 1, 1, 2, 3])) for _ in shape]
    begin_mask, end_mask = int(rng.integers(0, 2 ** nd)), int(rng.integers(0, 2 ** nd))
    shrink = int(rng.integers(0, 2 ** nd)) if rng.random() < 0.4 else 0
    for k, d in enumerate(shape):  # a shrunk axis takes one valid index, with a positive stride
        if shrink >> k & 1:
            begin[k], strides[k] = int(rng.integers(-d, d)), abs(strides[k])
    # the output shape the generator's index arithmetic gives; TFLM's Prepare refuses the model if it disagrees
    axes = slice_axes(shape, begin, end, strides, begin_mask, end_mask, shrink)
    out = [n for k, (_, n, _) in enumerate(axes) if not shrink >> k & 1]
    return ("STRIDED_SLICE", shape, out, [begin, end, strides], (begin_mask, end_mask, shrink), None)


@pytest.mark.slow
def test_strided_slice_cases_match_tflm(make_tflite, tmp_path):
    rng = np.random.default_rng(17)
    cases = []
    while len(cases) < 60:
        case = _slice_case(rng)
        if np.prod(case[2]) > 0:
            cases.append(case)
    cases.append(("STRIDED_SLICE", (3, 4, 5, 6), (3, 2, 5, 2), [[0, -1, 0, 5], [3, 0, 5, 0], [1, -2, 1, -3]],
                  (0, 0, 0), None))
    _check_cases(make_tflite, tmp_path, cases, seed=2)


@pytest.mark.slow
def test_reduce_max_cases_match_tflm(make_tflite, tmp_path):
    cases = [("REDUCE_MAX", shape, out, [axes], keep, None) for shape, axes, keep, out in [
        ((1, 4, 5, 3), [1, 2], True, (1, 1, 1, 3)), ((2, 3, 4, 5), [0, 2, 2], False, (3, 5)),
        ((3, 1, 4), [1], True, (3, 1, 4)), ((2, 3, 4), [0, 1, 2], False, (1,)), ((2, 3, 4), [-1, 0], False, (3,)),
        ((1, 9, 7, 40), [1, 2], False, (1, 40)), ((2, 2, 3, 2, 3), [1, 3], True, (2, 1, 3, 1, 3))]]
    _check_cases(make_tflite, tmp_path, cases, seed=3)


@pytest.mark.parametrize("case, reason", [
    (("REDUCE_MAX", (1, 4, 4, 3), (1, 3), [[1, 2]], False, ((0.05, 0), (0.1, 0))), "quantization differ"),
    (("REDUCE_MAX", (1, 4, 4, 3), (1, 3), [[1, 2]], False, ((0.05, 0), (0.05, 4))), "quantization differ"),
    (("STRIDED_SLICE", (2, 6), (2, 3), [[0, 0], [2, 3], [1, 1]], (0, 0, 0, 1), None), "ellipsis_mask"),
    (("STRIDED_SLICE", (2, 6), (2, 3), [[0, 0], [2, 3], [1, 0]], (0, 0, 0), None), "stride is 0"),
    (("STRIDED_SLICE", (2, 6), (6,), [[1, 0], [2, 6], [-1, 1]], (0, 0, 1), None), "shrunk with a negative stride"),
    (("STRIDED_SLICE", (2, 6), (6,), [[2, 0], [3, 6], [1, 1]], (0, 0, 1), None), "begin 2 of axis 0 is outside"),
    (("STRIDED_SLICE", (1, 2, 2, 2, 2), (1, 2, 2, 2, 2), [[0] * 5, [1, 2, 2, 2, 2], [1] * 5], (0, 0, 0), None),
     "rank 1 to 4"),
])
def test_unsupported_configurations_are_refused_before_writing(make_tflite, tmp_path, case, reason):
    with pytest.raises(NotSupportedError, match=reason) as e:
        generate_aot(_single_op_model(make_tflite, [case]), tmp_path / "gen")
    assert case[0] in e.value.message and e.value.exit_code == 3
    assert not (tmp_path / "gen").exists()


@pytest.mark.slow
def test_deploy_on_qemu_is_bit_exact(tmp_path):
    """`tinyship deploy` of a Keras model using all three ops (Resizing, Cropping2D, GlobalMaxPooling2D)."""
    import keras
    from keras import layers

    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((10, 12, 3)), layers.Conv2D(6, 3, activation="relu"),
                              layers.Resizing(13, 7, interpolation="nearest"), layers.Cropping2D(((2, 1), (1, 2))),
                              layers.GlobalMaxPooling2D(), layers.Dense(4)])
    model.save(tmp_path / "shapes.keras")
    np.save(tmp_path / "calib.npy", rng.normal(size=(32, 10, 12, 3)).astype(np.float32))
    r = subprocess.run([sys.executable, "-m", "toolchain", "deploy", str(tmp_path / "shapes.keras"),
                        "--board", "qemu-cortex-m4", "--calib", str(tmp_path / "calib.npy"), "--random", "3",
                        "-n", "1", "--warmup", "0", "-o", str(tmp_path / "out"), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert SHAPE_OPS <= set(load_model(report["context"]["deploy"]["convert"]["tflite"]).op_names())
    v = report["validation"]
    assert (v["bit_exact"], v["compared"], v["passed"]) == (3, 3, True)


@pytest.mark.parametrize("flags", [(False, False), (False, True), (True, False), (True, True)],
                         ids=["plain", "half-pixel", "align-corners", "both"])
def test_nearest_source_indices_match_tflm_over_many_sizes(make_tflite, flags):
    """The generator's source-row table (nearest_sources) equals the row TFLM copies, for every
    input height 1-32 and output height 1-64: up, down and non-integer ratios (the columns use the
    same function). Input row r holds the value r - 128, so each output value names its source."""
    from toolchain.codegen.aot_ops_shape import nearest_sources
    from toolchain.reference import tflm_run

    outs = range(1, 65)
    for in_h in range(1, 33):
        cases = [("RESIZE_NEAREST_NEIGHBOR", (1, in_h, 1, 1), (1, oh, 1, 1), [[oh, 1]], flags, ((1.0, 0), (1.0, 0)))
                 for oh in outs]
        model = load_model(_single_op_model(make_tflite, cases))
        rows = (np.arange(in_h) - 128).astype(np.int8).reshape(1, in_h, 1, 1)
        got = tflm_run(model, [[rows] * len(cases)])[0]
        for oh, y in zip(outs, got):
            assert list(np.asarray(y, dtype=int).reshape(-1) + 128) == nearest_sources(in_h, oh, *flags), (in_h, oh)
