"""Optimized AVERAGE_POOL_2D, MAX_POOL_2D, MEAN and ADD kernels (DSP on Cortex-M4, Helium on
Cortex-M55) against TFLM.

One hand-built model per board holds every case as its own branch (several inputs, one
output per branch), so that one build and one QEMU session cover them: average pools that
are global or windowed, SAME-padded (border windows with fewer elements), strided, over
1, 3, 8, 13, 17 and 64 channels, two batches, with RELU / RELU6 clamps, windows of 256
elements (the int16 lanes' limit), of more (int16 sums of sub-windows widened to int32)
and of 4100 (beyond the Helium reciprocal's range: the portable kernel); max pools over the
same shapes (2x2, 3x3 SAME with strides, 4x2, 3x1 windows; 1, 3, 8, 13, 17, 64 channels: the
groups of sixteen, eight, four and the byte tail; two batches; RELU / RELU6 clamps; a global
window); MEANs over height and width (GlobalAveragePooling2D, keep_dims both ways, 3 to 64
channels, 272 pixels: more than one halfword run, two batches), over height alone (two outer
axes) and over channels (not channels-innermost: the portable kernel); ADDs of equal
shapes with different scales and zero points (either operand the larger scale, or equal
scales), in place, with clamps, odd element counts, and broadcasts (per channel, scalar,
operand 1 broadcast, along outer dimensions of both operands). Inputs are random plus the extremes (all -128,
all 127), compared byte for byte.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from toolchain.boards import load_board
from toolchain.codegen.aot_opt import model_kernels
from toolchain.model import load_model

from aot_rig.spec import Spec
from test_aot_opt import _run_on_qemu

BOARDS = ("qemu-cortex-m4", "qemu-cortex-m55")


def _model(make_tflite) -> bytes:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    rng = np.random.default_rng(11)
    spec = Spec()
    tensor, tensors, buffers, ops, inputs, outputs = spec.tensor, spec.tensors, spec.buffers, [], [], []
    act = {None: s.ActivationFunctionType.NONE, "relu": s.ActivationFunctionType.RELU,
           "relu6": s.ActivationFunctionType.RELU6}

    def model_input(shape, scale, zp):
        inputs.append(tensor(shape, scale, zp))
        return inputs[-1]

    def pool(x, fh, fw, sh, sw, same, activation=None, output=True, op=1):
        shape, scale, zp = tensors[x]["shape"], tensors[x]["scale"], tensors[x]["zero_point"]
        n, h, w, c = shape
        oh, ow = (-(-h // sh), -(-w // sw)) if same else ((h - fh) // sh + 1, (w - fw) // sw + 1)
        y = tensor((n, oh, ow, c), scale, zp)
        o = s.Pool2DOptionsT()
        o.padding = s.Padding.SAME if same else s.Padding.VALID
        o.strideH, o.strideW, o.filterHeight, o.filterWidth = sh, sw, fh, fw
        o.fusedActivationFunction = act[activation]
        ops.append((op, [x], [y], s.BuiltinOptions.Pool2DOptions, o))
        if output:
            outputs.append(y)
        return y

    def max_pool(*args, **kw):
        return pool(*args, **kw, op=2)

    def mean(x, axes, keep, scale, zp):
        shape = tensors[x]["shape"]
        y = tensor([1 if d in axes else n for d, n in enumerate(shape)] if keep else
                   [n for d, n in enumerate(shape) if d not in axes], scale, zp)
        axis = tensor((len(axes),), 0, 0, np.array(axes, np.int32), dtype="int32")
        o = s.ReducerOptionsT()
        o.keepDims = keep
        ops.append((3, [x, axis], [y], s.BuiltinOptions.ReducerOptions, o))
        outputs.append(y)

    def add(a, b, out_shape, scale, zp, activation=None):
        y = tensor(out_shape, scale, zp)
        o = s.AddOptionsT()
        o.fusedActivationFunction = act[activation]
        ops.append((0, [a, b], [y], s.BuiltinOptions.AddOptions, o))
        outputs.append(y)
        return y

    def const(shape, scale, zp):
        return tensor(shape, scale, zp, rng.integers(-128, 128, size=shape))

    a = model_input((1, 7, 9, 17), 0.05, -3)
    b = model_input((1, 5, 5, 64), 0.04, 5)
    c = model_input((1, 6, 6, 3), 0.1, 0)
    d = model_input((1, 4, 10, 1), 0.02, -128)
    e = model_input((2, 5, 6, 8), 0.03, 7)                      # two batches
    g = model_input((1, 3, 4, 13), 0.06, 2)
    big = model_input((1, 17, 16, 3), 0.05, 1)
    wide = model_input((1, 20, 20, 5), 0.05, -7)
    long = model_input((1, 1, 4100, 2), 0.05, 3)
    col = model_input((1, 4, 1, 8), 0.04, -6)
    a2 = model_input((1, 7, 9, 17), 0.11, 9)
    b2 = model_input((1, 5, 5, 64), 0.04, -20)

    # --- AVERAGE_POOL_2D ---
    pool(a, 7, 9, 1, 1, False)                   # global, 63 elements, 17 channels
    pool(a, 3, 3, 2, 2, True, "relu6")           # SAME borders, strides, RELU6
    pool(b, 5, 5, 1, 1, False)                   # global over 64 channels (as kws)
    pool(b, 3, 3, 1, 1, True, "relu")            # every border window size
    pool(c, 3, 3, 1, 1, True)                    # 3 channels: 4, 6 and 9 elements
    pool(d, 2, 3, 1, 2, False)                   # 1 channel, strides 1x2
    pool(e, 4, 2, 2, 1, True, "relu")            # 8 channels, a 4x2 window
    pool(g, 2, 2, 1, 1, False)                   # 13 channels
    pool(big, 17, 16, 1, 1, False)               # 272 elements in one run: int16 sums of sub-runs
    pool(big, 16, 16, 1, 1, False)               # 256 elements: the int16 lanes' limit
    pool(wide, 17, 17, 3, 3, True, "relu")       # 81..289 elements: small and large windows
    pool(long, 1, 4100, 1, 1, False)             # 4100 elements: beyond Helium's exact reciprocal
    # --- MAX_POOL_2D ---
    max_pool(a, 2, 2, 2, 2, False)               # 17 channels: sixteen + the byte tail
    max_pool(a, 3, 3, 2, 2, True, "relu6")       # SAME borders, strides, RELU6
    max_pool(b, 3, 3, 1, 1, True, "relu")        # 64 channels, every border window size
    max_pool(c, 3, 3, 2, 1, True)                # 3 channels: bytes only
    max_pool(d, 3, 1, 1, 1, False)               # 1 channel, a 3x1 window
    max_pool(e, 4, 2, 2, 1, True, "relu")        # 8 channels, two batches, a 4x2 window
    max_pool(g, 2, 2, 1, 1, False)               # 13 channels: eight, four, one
    max_pool(wide, 20, 20, 1, 1, False)          # a global window
    # --- MEAN ---
    mean(a, [1, 2], True, 0.03, 4)               # GlobalAveragePooling2D(keepdims=True), 17 channels
    mean(b, [1, 2], False, 0.02, -9)             # 64 channels, another output scale
    mean(big, [1, 2], False, 0.05, 1)            # 272 pixels: two halfword runs on the DSP
    mean(e, [1, 2], False, 0.01, -3)             # two batches: an outer axis
    mean(g, [1], True, 0.06, 2)                  # height alone: outer axes N, W
    mean(c, [3], False, 0.1, 0)                  # over channels: the portable kernel
    # --- ADD ---
    add(a, a2, (1, 7, 9, 17), 0.13, -4)                          # input 2 the larger scale, 1071 elements
    add(a2, a, (1, 7, 9, 17), 0.2, 3, "relu6")                   # input 1 the larger scale, RELU6
    add(b, b2, (1, 5, 5, 64), 0.07, -10, "relu")                 # equal scales, RELU
    p = pool(g, 1, 1, 1, 1, False, output=False)                 # an intermediate: the ADD may reuse it
    add(p, g, (1, 3, 4, 13), 0.09, 1)                            # in place (156 elements)
    add(e, const((8,), 0.02, -5), (2, 5, 6, 8), 0.05, 0)         # per-channel broadcast
    add(c, const((1,), 0.3, 4), (1, 6, 6, 3), 0.35, -2, "relu")  # scalar broadcast
    add(const((1, 1, 1, 13), 0.08, 3), g, (1, 3, 4, 13), 0.1, 6)  # operand 1 broadcast
    add(e, const((1, 1, 6, 1), 0.05, 0), (2, 5, 6, 8), 0.06, 2)  # rows of 8 against one repeated element
    add(col, const((1, 1, 6, 8), 0.03, 1), (1, 4, 6, 8), 0.05, -3)  # both operands repeated on outer dimensions
    add(const((1, 4, 6, 1), 0.03, 1), col, (1, 4, 6, 8), 0.05, 5, "relu6")  # operand 1 repeated in rows
    opcodes = [(s.BuiltinOperator.ADD, 0, 1), (s.BuiltinOperator.AVERAGE_POOL_2D, 1, 2),
               (s.BuiltinOperator.MAX_POOL_2D, 17, 2), (s.BuiltinOperator.MEAN, 40, 2)]
    return make_tflite(tensors, ops, inputs, outputs, opcodes=opcodes, buffers=buffers)


def _samples(model, count=3, seed=5):
    """Random inputs, then every input all -128 and all 127."""
    rng = np.random.default_rng(seed)
    shapes = [tuple(t.shape) for t in model.main.input_tensors()]
    samples = [[rng.integers(-128, 128, size=sh, dtype=np.int8) for sh in shapes] for _ in range(count)]
    return samples + [[np.full(sh, v, np.int8) for sh in shapes] for v in (-128, 127)]


@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
def test_pool_and_add_bit_exact_on_qemu(make_tflite, tmp_path, board):
    path = tmp_path / "pool_add.tflite"
    path.write_bytes(_model(make_tflite))
    got, want, project = _run_on_qemu(path, board, tmp_path, inputs=_samples(load_model(path)))
    names = {p.name for p in (project / "src" / "model").glob("*.c")}
    suffix = "mve" if board.endswith("m55") else "dsp"
    assert {f"ts_{op}_s8_{suffix}.c" for op in ("avg_pool2d", "max_pool2d", "mean", "add")} <= names
    model_c = (project / "src" / "model" / "model.c").read_text()
    assert len(set(want[0])) > 50, "the outputs should not all saturate"
    assert got == want
    portable = [(k["name"].split()[0], k["reason"]) for k in model_kernels(load_model(path), load_board(board).features)
                if k["kernel"] == "portable"]
    assert portable == [("AVERAGE_POOL_2D", "a window of 4100 elements (the mve kernel takes at most 4088)")] * (
        suffix == "mve") + [("MEAN", "a reduction other than over outer axes of contiguous kept ones "
                                     "(ts_mean_channels_inner)")]
    # the in-place ADD: its output is its first operand's arena bytes
    assert re.search(r"ts_add_s8\(&l\d+_params, ARENA\(const int8_t, (\d+)\), [^;]*ARENA\(int8_t, \1\)\)", model_c)


# --- host checks of the division arithmetic --------------------------------------------
def _tflm_average(total, count):
    """TFLM's int8 AveragePool rounding: (sum +- count/2) / count, truncated toward zero."""
    half = count // 2
    return np.where(total > 0, (total + half) // count, -((half - total) // count))


def test_dsp_pool_reciprocal_is_exact():
    """ts_avg_pool2d_s8_dsp.c ts_avg_store4: floor(n * ceil(2^24 / count) / 2^24) - 128, n the
    biased unsigned halfword, equals TFLM's average for every count <= 256 and every sum."""
    for count in range(1, 257):
        total = np.arange(-128 * count, 127 * count + 1, dtype=np.int64)
        n = total + 128 * count + count // 2 - ((total < 0) & (count % 2 == 0))
        assert n.min() >= 0 and n.max() < 1 << 16
        m = -(-(1 << 24) // count)
        assert int(n.max()) * m < 1 << 32
        assert np.array_equal((n * m >> 24) - 128, _tflm_average(total, count)), count


def test_mve_pool_reciprocal_bound():
    """ts_avg_pool2d_s8_mve.c: floor(n * ceil(2^31 / count) / 2^31) = floor(n / count) for
    n <= 128 * count + count / 2 while that bound times (m * count - 2^31) < 2^31: true for
    every count up to TS_AVG_MVE_MAX_RECIP = 4088 (which assumes the worst m * count - 2^31,
    count - 1); spot-checked on every sum of a few counts."""
    def exact(count):
        e = -(-(1 << 31) // count) * count - (1 << 31)
        return (128 * count + count // 2) * e < 1 << 31
    assert all(exact(c) for c in range(1, 4089))
    for count in (1, 2, 3, 125, 255, 256, 257, 1000, 4087, 4088):
        total = np.arange(-128 * count, 127 * count + 1, dtype=np.int64)
        m = -(-(1 << 31) // count)
        q = (np.abs(total) + count // 2) * 2 * m >> 32  # VMULH.U32 of 2n and m
        assert np.array_equal(np.where(total < 0, -q, q), _tflm_average(total, count)), count
