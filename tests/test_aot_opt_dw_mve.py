"""The Helium depthwise kernel (kernels/opt/ts_depthwise_conv2d_s8_mve.c) against TFLM.

Chains of DEPTHWISE_CONV_2D layers, built for qemu-cortex-m55 with the optimized kernels, run
in QEMU and compared byte for byte with the TFLM interpreter. The chains hit the plane path
(one channel at a time, windows gathered from a padded plane, four output pixels per vector)
with its edges: channel counts 4, 5, 8, 12, 24 and 64, strides 1 and 2, SAME and VALID,
3x3, 4x4 (16 taps, asymmetric SAME padding) and dilated windows, even output widths (one
gather per pair of pixels) and odd ones, images where every pixel is a border pixel, images
split into several bands (the last one overlapping), planes filled by table and by rows
with 1, 2, 4, 8 and 16 channels interleaved (the generator's plane_k), left and right
requantization shifts, per-channel and per-tensor scales, RELU, RELU6 and no clamp; and the
pixel path (5x5 windows, fewer than four output pixels; 6 and 30 channels: tail-predicated
groups of eight; depth multipliers 2 and 5: every channel gathered; a 15-tap window reducing a
column to one pixel); and 1-D windows over a column of 40 channels, dilated or not, strided, in pairs. The generated
tables are checked on the host.
"""

from __future__ import annotations

import numpy as np
import pytest

from toolchain.boards import load_board
from toolchain.codegen.aot_opt import model_kernels
from toolchain.codegen.aot_opt_mve_dw import depthwise_mve_tables, plane_k
from toolchain.model import load_model

from aot_rig.spec import Spec, conv_options
from test_aot_opt import _run_on_qemu

BOARD = "qemu-cortex-m55"


def _chain(make_tflite, shape, layers, per_tensor=False, seed=3) -> bytes:
    """A chain of depthwise layers from an input of `shape` (NHWC). Each layer is a dict:
    k (window, int or (h, w)), stride, padding ("SAME"/"VALID"), act ("RELU", "RELU6",
    "NONE"), dilation, multiplier, ratio (the requantization scale: (lo, hi) drawn per channel; default
    small, right shifts), wmax (the weights' magnitude), bias (its magnitude)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    rng = np.random.default_rng(seed)
    spec = Spec()
    tensor, tensors, buffers, ops = spec.tensor, spec.tensors, spec.buffers, []

    n, h, w, c = shape
    scale = 0.05
    x = first = tensor(shape, scale, -3)
    for i, layer in enumerate(layers):
        kh, kw = (layer["k"], layer["k"]) if isinstance(layer["k"], int) else layer["k"]
        stride, dil = layer.get("stride", 1), layer.get("dilation", 1)
        same = layer.get("padding", "SAME") == "SAME"
        if same:
            oh, ow = -(-h // stride), -(-w // stride)
        else:
            oh, ow = (h - (kh - 1) * dil - 1) // stride + 1, (w - (kw - 1) * dil - 1) // stride + 1
        wmax, mult = layer.get("wmax", 127), layer.get("multiplier", 1)
        c *= mult
        weights = rng.integers(-wmax, wmax + 1, size=(1, kh, kw, c), dtype=np.int8)
        lo, hi = layer.get("ratio", (0.004, 0.02))
        ratio = rng.uniform(lo, hi, 1 if per_tensor else c)
        out_scale = scale * layer.get("out", 0.9)
        w_scale = ratio * out_scale / scale
        wt = tensor(weights.shape, list(w_scale), [0] * len(w_scale), weights, qdim=3)
        bt = tensor((c,), list(scale * np.resize(w_scale, c)), [0] * c,
                    rng.integers(-layer.get("bias", 2000), layer.get("bias", 2000), c).astype(np.int32),
                    dtype="int32")
        act = layer.get("act", "RELU")
        zp = {"RELU": -128, "RELU6": -100, "NONE": 5}[act]
        y = tensor((n, oh, ow, c), out_scale, zp)
        padding = s.Padding.SAME if same else s.Padding.VALID
        fused = getattr(s.ActivationFunctionType, act)
        ops.append((0, [x, wt, bt], [y], *conv_options(True, padding, stride, fused, dil, mult)))
        x, scale, h, w = y, out_scale, oh, ow
    return make_tflite(tensors, ops, [first], [x], opcodes=[(s.BuiltinOperator.DEPTHWISE_CONV_2D, 4, 3)],
                       buffers=buffers)


LEFT = {"ratio": (0.3, 1.6), "wmax": 1}  # requantization scales around 1: shifts -1, 0 and 1
# right shifts over 22 (the kernel's third variant); the bias dominates the output, so a FAR
# layer hides errors of the layers before it: last in its chain
FAR = {"ratio": (2e-8, 9e-8), "bias": 1 << 30}
# (the c64 chain's last layer has right shifts 20 to 23: both sides of that bound)

CHAINS = {
    # 8 channels (person_detect's first depthwise): every window shape and padding
    "c8": ((1, 12, 13, 8), [
        {"k": 3}, {"k": 3, "stride": 2, "act": "RELU6"}, {"k": 3, "padding": "VALID", "act": "NONE"},
        {"k": 4, "act": "NONE"}, {"k": 3, "dilation": 2, "act": "NONE"}, {"k": 3, "dilation": 3}, {"k": 5, "act": "NONE"},
        {"k": 4, "stride": 2, "padding": "VALID"}], False),
    # 4 channels, per tensor; left shifts; (1, 3) and (3, 1) windows
    "c4": ((1, 10, 9, 4), [
        {"k": 3, **LEFT, "act": "NONE"}, {"k": (1, 3), "stride": 2, "padding": "VALID", "act": "RELU6"},
        {"k": (3, 1), "act": "NONE"}, {"k": 3, "stride": 2}], True),
    # 12 channels: a 2x2 image (every pixel a border pixel), then one output pixel (other paths)
    "c12": ((1, 2, 2, 12), [{"k": 3, "act": "NONE"}, {"k": 3, **LEFT, "act": "NONE"},
                            {"k": 3, "stride": 2, "act": "NONE"}], False),
    # 24 channels, per tensor, odd sizes, both shifts
    "c24": ((1, 7, 6, 24), [{"k": 3, "stride": 2, "act": "NONE"}, {"k": 3, **LEFT, "act": "RELU6"},
                            {"k": 3, **FAR, "act": "NONE"}], True),
    # 64 channels, kws' shape; mixed shifts
    "c64": ((1, 25, 5, 64), [{"k": 3}, {"k": 3, "ratio": (0.05, 1.2), "wmax": 3, "act": "NONE"},
                             {"k": 3, "ratio": (1e-7, 8e-7), "bias": 1 << 28, "act": "NONE"}], False),
    # 5 channels, an image split into bands (the last one overlapping the one before)
    "c5": ((1, 41, 33, 5), [{"k": 3, "act": "NONE"}, {"k": 3, "stride": 2, "act": "NONE"},
                            {"k": 3, "padding": "VALID", "act": "RELU6"}], False),
    # even output widths: pairs of pixels per gather (strides 1 and 2, every requantization)
    "pairs": ((1, 11, 16, 12), [{"k": 3, "act": "NONE"}, {"k": 3, "stride": 2, "act": "RELU6"},
                                {"k": 3, **LEFT, "act": "NONE"}, {"k": 3, "padding": "VALID", "act": "NONE"},
                                {"k": 1, "act": "NONE"}, {"k": (2, 2), "stride": 2, "act": "NONE"}], True),
    "pairs_bands": ((1, 41, 34, 4), [{"k": 3, "act": "NONE"}], False),
    "pairs_far": ((1, 5, 6, 8), [{"k": 3, **FAR, "act": "NONE"}], False),
    # 16 channels a plane, the pairs' lanes reaching byte 255
    "c32": ((1, 3, 4, 32), [{"k": 3, "act": "NONE"}, {"k": 3, "stride": 2, "act": "NONE"}], False),
    # the pixel path's tail groups and gathers: 6 channels 5x5 (8 lanes, 6 stored), depth multipliers
    # 5 (30 channels) and 2 (60), then 30 channels 5x5 (sixteen, eight, six)
    "odd": ((1, 9, 10, 6), [{"k": 5, "act": "NONE"}, {"k": 3, "multiplier": 5, "act": "RELU6"},
                            {"k": 5, "act": "NONE"}, {"k": 3, "multiplier": 2, "stride": 2, "padding": "VALID"}],
            False),
    # a keyword spotter's 1-D depthwise layers (str_ww): 40 channels (sixteen, sixteen, eight), 3 taps,
    # dilated 5 taps, 6 taps (vertically adjacent windows in pairs), then 15 taps reducing 15 rows to
    # one pixel (the pixel path, generated tables)
    "seq": ((1, 30, 1, 40), [{"k": (3, 1), "padding": "VALID", "act": "NONE"},
                             {"k": (5, 1), "dilation": 2, "padding": "VALID", "act": "NONE"},
                             {"k": (6, 1), "padding": "VALID", "act": "RELU6"},
                             {"k": (15, 1), "padding": "VALID", "act": "NONE"}], False),
    # columns in vertical pairs with strides 2 (padded) and 3
    "column": ((1, 41, 1, 32), [{"k": (4, 1), "stride": 2, "act": "NONE"},
                                {"k": (7, 1), "stride": 3, "padding": "VALID", "act": "NONE"}], True),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CHAINS))
def test_depthwise_chains_bit_exact_on_m55(make_tflite, tmp_path, name):
    shape, layers, per_tensor = CHAINS[name]
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(_chain(make_tflite, shape, layers, per_tensor))
    got, want, project = _run_on_qemu(path, BOARD, tmp_path, samples=2)
    assert len(set(want[0])) > 3, "the outputs should not all saturate"
    assert got == want
    # the plane tables (the odd chain's windows are all for the pixel path), and no portable layer
    assert ("filter_mve" in (project / "src" / "model" / "model.c").read_text()) == (name != "odd")
    assert {k["kernel"] for k in model_kernels(load_model(path), load_board(BOARD).features)} == {"mve"}


def test_plane_k_covers_every_fill(make_tflite, tmp_path):
    """The chains above exercise the table fill and every K of the fill by rows (generated only)."""
    import re

    from toolchain import generate

    seen = set()
    for name, (shape, layers, per_tensor) in CHAINS.items():
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(_chain(make_tflite, shape, layers, per_tensor))
        generate(path, board=BOARD, engine="aot", out_dir=tmp_path / name, aot_kernels="speed")
        model_c = (tmp_path / name / "src" / "model" / "model.c").read_text()
        seen |= {int(k) for k in re.findall(r"\.plane_k = (-?\d+)", model_c)}
    assert {-1, 1, 2, 4, 8, 16} <= seen, seen


def test_tables():
    """filter_mve: the taps of a channel in lanes, zeros after; requant_mve: init wraps to int32."""
    w = np.array([[1, -2], [3, 4], [-5, 6]], np.int8)  # [taps, channels]
    filt, table = depthwise_mve_tables(w, [10, (1 << 31) - 1], -7, [100, 200], [-3, 2], 9)
    assert list(filt[:16]) == [1, 3, -5] + [0] * 13 and list(filt[16:]) == [-2, 4, 6] + [0] * 13
    assert list(table[:4]) == [10 - 7 * (1 + 3 - 5), 100, -3, 9]
    assert table[4] == (1 << 31) - 1 - 7 * 8 and list(table[5:]) == [200, 2, 9]
    wrapped = depthwise_mve_tables(w, [0, (1 << 31) - 1], 7, [1], [0], 0)[1]
    assert wrapped[4] == (1 << 31) - 1 + 7 * 8 - (1 << 32)


def test_pixel_tables():
    """filter_px: sixteen channels a tap, then eight; requant_px: per eight channels even ones first."""
    from toolchain.codegen.aot_opt_mve_dw import depthwise_pixel_tables

    w = np.arange(2 * 20, dtype=np.int8).reshape(2, 20)  # [taps, channels]: 16 + a group of 8 (4 used)
    shifts = [-(c % 3) + 1 for c in range(20)]
    filt, table = depthwise_pixel_tables(w, list(range(20)), 3, list(range(100, 120)), shifts, 1)
    assert list(filt[:16]) == list(range(16)) and list(filt[16:32]) == list(range(20, 36))
    assert list(filt[32:40]) == [16, 17, 18, 19, 0, 0, 0, 0] and list(filt[40:48]) == [36, 37, 38, 39, 0, 0, 0, 0]
    assert list(table[:8]) == [c + 3 * (2 * c + 20) for c in (0, 2, 4, 6, 1, 3, 5, 7)]
    assert list(table[8:16]) == [100 + c for c in (0, 2, 4, 6, 1, 3, 5, 7)]
    assert list(table[16:24]) == [max(shifts[c], 0) for c in (0, 2, 4, 6, 1, 3, 5, 7)]
    assert list(table[24:32]) == [min(shifts[c], 0) for c in (0, 2, 4, 6, 1, 3, 5, 7)]
    assert len(table) == 4 * 24 and list(table[72:80]) == [116, 118, 0, 0, 117, 119, 0, 0]  # channels 20-23 pad
