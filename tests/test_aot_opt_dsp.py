"""The DSP-extension kernels (kernels/opt/*_dsp.c, Cortex-M4) against TFLM.

Small chains of layers built for qemu-cortex-m4 with the optimized kernels, run in QEMU and
compared byte for byte with the TFLM interpreter. The depthwise chains hit the 3x3 channel-plane
line loop and its edges: 4, 8, 12 and 64 channels, strides 1 and 2, SAME and VALID, lines along
image rows and along image columns (chosen by shape), lines of 1-3 outputs (scratch), lines
ending in a single output or in a group of four overlapping the one before (at an odd position:
three LDRs), bands of planes (a wide image), lines too long for any band (the C fallback),
tiny images where every pixel is a border pixel, per-tensor and per-channel scales, RELU6 (a
clamp inside int8) and the int8 range; dilated windows and channel counts not in quads or depth
multipliers above 1 go through the tap tables. The gemv chains hit the assembly gemv (unrolled pairs,
the eight-group loop, the all-pixels pointwise block) and the one-channel window reads. The
generator's layouts are checked on the host.
"""

from __future__ import annotations

import numpy as np
import pytest

from toolchain.codegen.aot_opt import dsp_depthwise3x3_filter, dsp_depthwise_pairs, dsp_requant, dsp_requant_quads

from aot_rig.spec import Spec, add_layer, layer_opcodes
from test_aot_opt import _run_on_qemu

BOARD = "qemu-cortex-m4"


def _chain(make_tflite, shape, layers, seed=5) -> bytes:
    """Layers applied in turn to an input of `shape` (NHWC); each layer a dict of aot_rig.spec.add_layer
    (op "dw" or "conv", with dilation and multiplier (depthwise) where given)."""
    rng = np.random.default_rng(seed)
    spec, ops = Spec(), []
    x = first = spec.tensor(shape, 0.05, -3)
    scale = 0.05
    for layer in layers:
        x, scale, shape = add_layer(spec, ops, rng, x, scale, shape, layer)
    return make_tflite(spec.tensors, ops, [first], [x], opcodes=layer_opcodes(), buffers=spec.buffers)


def _check(make_tflite, tmp_path, shape, layers, samples=2):
    path = tmp_path / "net.tflite"
    path.write_bytes(_chain(make_tflite, shape, layers))
    got, want, project = _run_on_qemu(path, BOARD, tmp_path, samples=samples)
    assert len(set(want[0])) > 4, "the outputs should not all saturate"
    assert got == want
    return project


# (name, input shape, layers, how many of them run by channel planes)
DW = [
    # kws-like: 25 x 5, lines along columns (25 = 6 groups + a single last output)
    ("columns_single", (1, 25, 5, 8), [{"op": "dw"}, {"op": "dw", "act": "RELU6"}], 2),
    # lines along rows of 13 (a single last output), per-tensor scale; then rows of 11 (the last
    # group overlapping the one before, at an odd position: three LDRs)
    ("rows_tails", (1, 9, 13, 12), [{"op": "dw", "act": "RELU6"}, {"op": "dw", "per_tensor": True},
                                    {"op": "dw", "padding": "VALID"}, {"op": "dw", "act": "RELU6"}], 4),
    # stride 2 along columns of 13 (a single last output)
    ("stride2_single", (1, 26, 18, 4), [{"op": "dw", "stride": 2, "act": "RELU6"}], 1),
    # columns too long for the planes' budget: rows of 3 outputs (one group each, via the scratch)
    ("short_lines", (1, 200, 3, 4), [{"op": "dw"}], 1),
    # a wide image split into bands of planes; stride 2 (VALID, 14 x 34 outputs), 64 channels
    ("bands", (1, 30, 70, 4), [{"op": "dw", "act": "RELU6"}, {"op": "conv", "out": 64},
                               {"op": "dw", "stride": 2, "padding": "VALID"}], 2),
    # lines too long for the planes' budget both ways: the planes' layout read pixel by pixel in C
    ("too_wide", (1, 86, 86, 4), [{"op": "dw", "act": "RELU6"}], 1),
    # small images, pixel by pixel (taps in pairs, SMLAD): stride 2 SAME and VALID, 12 channels,
    # 4x3 (every pixel a border pixel), down to 1x1
    ("pixels", (1, 9, 11, 12), [{"op": "dw", "stride": 2}, {"op": "dw", "padding": "VALID", "act": "RELU6"},
                                {"op": "dw", "per_tensor": True}], 0),
    ("tiny", (1, 4, 3, 8), [{"op": "dw"}, {"op": "dw", "padding": "VALID", "act": "RELU6"},
                            {"op": "dw", "stride": 2}, {"op": "dw", "per_tensor": True}], 0),
    # dilated windows through the tap tables: 3x3 at dilation 2 (SAME: windows over every border)
    # and 3 (VALID, stride 2, RELU6), a 2x3 window at dilation 2
    ("dilated", (1, 11, 13, 8), [{"op": "dw", "dilation": 2}, {"op": "dw", "k": (2, 3), "dilation": 2},
                                 {"op": "dw", "dilation": 3, "padding": "VALID", "stride": 2, "act": "RELU6"}], 0),
    # channel by channel: 3 channels, depth multipliers 2 and 3 (6 and 18 channels), a 5x5 window
    ("channels", (1, 7, 9, 3), [{"op": "dw"}, {"op": "dw", "multiplier": 2, "act": "RELU6"},
                                {"op": "dw", "k": 5, "stride": 2, "per_tensor": True},
                                {"op": "dw", "k": (2, 3), "multiplier": 3, "padding": "VALID"}], 0),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,shape,layers,planes", DW, ids=[d[0] for d in DW])
def test_depthwise_3x3_bit_exact(make_tflite, tmp_path, name, shape, layers, planes):
    project = _check(make_tflite, tmp_path, shape, layers, samples=1 if name == "too_wide" else 2)
    # the layers meant for the channel planes got their layout (and no others)
    assert (project / "src" / "model" / "model.c").read_text().count("for the channel planes") == planes


@pytest.mark.slow
def test_dilated_convolutions_bit_exact(make_tflite, tmp_path):
    """Dilated CONV_2D windows (gathered tap by tap, inside the image without the zero-point fill):
    one input channel at dilation 2 (SAME), 8 channels at dilation 3, 12 at dilation 2 (VALID,
    stride 2), 5 channels (not a multiple of 4) with a 2x3 window at dilation 2, RELU6."""
    _check(make_tflite, tmp_path, (1, 14, 13, 1), [
        {"op": "conv", "k": 3, "out": 8, "dilation": 2},
        {"op": "conv", "k": 3, "out": 12, "dilation": 3, "act": "RELU6"},
        {"op": "conv", "k": 3, "out": 5, "dilation": 2, "padding": "VALID", "stride": 2},
        {"op": "conv", "k": (2, 3), "out": 8, "dilation": 2, "per_tensor": True},
    ], samples=2)


def test_depthwise3x3_filter_layout():
    w = np.arange(-40, 32, dtype=np.int8).reshape(9, 8)  # [taps, channels]
    laid = dsp_depthwise3x3_filter(w).reshape(8, 3, 4)
    for c in range(8):
        for r in range(3):
            assert laid[c, r].tolist() == [2 * w[3 * r, c], 2 * w[3 * r + 1, c], 2 * w[3 * r + 2, c], 0]


@pytest.mark.slow
def test_gemv_bit_exact(make_tflite, tmp_path):
    """The all-assembly gemv: up to k = 256 the fully unrolled pairs of groups entered at a
    computed pair: k = 9 (one-channel 3x3, an odd number of groups: the k8 zero group), 8, 16,
    13 (gathered), 64, 108 (3x3 over 12 channels), 7; above, the loop of eight groups: k = 260
    (65 groups, the trailing zero group skipped); 16, 13, 64, 12, 7, 260 and 6 rows (a last quad
    of fewer than four rows); RELU6 inside int8 (the C clamp path), per-tensor scales."""
    _check(make_tflite, tmp_path, (1, 9, 8, 1), [
        {"op": "conv", "k": 3, "out": 8, "stride": 2},
        {"op": "conv", "out": 16, "act": "RELU6"},
        {"op": "conv", "out": 13},
        {"op": "conv", "out": 64, "per_tensor": True},
        {"op": "conv", "out": 12},
        {"op": "conv", "k": 3, "out": 7, "act": "RELU6", "per_tensor": True},
        {"op": "conv", "out": 260},
        {"op": "conv", "out": 6},
    ], samples=3)


@pytest.mark.slow
def test_pointwise_widening_bit_exact(make_tflite, tmp_path):
    """The all-pixels pointwise block widens each pixel by unrolled blocks of sixteen channels
    entered at a computed block (an even number of eights: k = 16, the last block only; 256, all
    sixteen; 32) or eight channels a step (odd: k = 8, 24); its requantization packs each quad's
    four outputs into one word and preloads the next quad's biases (3, 4, 64 and 6 quads a
    pixel, per-tensor and per-channel scales)."""
    _check(make_tflite, tmp_path, (1, 5, 3, 8), [
        {"op": "conv", "out": 16},
        {"op": "conv", "out": 256},
        {"op": "conv", "out": 24, "per_tensor": True},
        {"op": "conv", "out": 32},
        {"op": "conv", "out": 12},
    ], samples=2)


@pytest.mark.slow
def test_one_channel_windows_bit_exact(make_tflite, tmp_path):
    """One-channel convolutions read a word per window row: a kws-like 10x4 window at stride 2
    with SAME padding (windows over every border: rows of zero points, partial words), and 3x3
    at stride 1 (the last row's word at the end of the image) and VALID."""
    _check(make_tflite, tmp_path, (1, 13, 9, 1), [{"op": "conv", "k": (10, 4), "out": 12, "stride": 2}],
           samples=3)
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    _check(make_tflite, tmp_path / "b", (1, 7, 6, 1), [{"op": "conv", "k": 3, "out": 8},
                                                      {"op": "conv", "k": 1, "out": 4}], samples=3)
    _check(make_tflite, tmp_path / "c", (1, 6, 7, 1), [{"op": "conv", "k": 3, "out": 5, "padding": "VALID",
                                                       "act": "RELU6"}], samples=3)


def test_depthwise_pairs_layout():
    w = np.arange(-40, 32, dtype=np.int8).reshape(9, 8)  # [taps, channels]
    laid = dsp_depthwise_pairs(w).reshape(2, 36)  # per quad: four pairs of taps x four channels, tap 8
    for q in range(2):
        c = 4 * q
        pairs = [[2 * w[t, c + i], 2 * w[t + 1, c + i]] for t in (0, 2, 4, 6) for i in range(4)]
        assert laid[q, :32].tolist() == [v for pair in pairs for v in pair]
        assert laid[q, 32:].tolist() == [2 * w[8, c], 2 * w[8, c + 2], 2 * w[8, c + 1], 2 * w[8, c + 3]]


def test_requant_quads_layout():
    table = dsp_requant(np.array([5, -7, 9, 11, 13]), [1 << 30] * 5, [-3, -4, -5, -6, -7], -128, 5)
    quads = dsp_requant_quads(table)
    rows = np.array(table).reshape(8, 4)  # {2 * bias, multiplier, add, right} per row, rows padded to 8
    for q in range(2):
        laid = quads[16 * q:16 * q + 16]
        assert laid[:4] == rows[4 * q:4 * q + 4, 0].tolist() and laid[4:8] == rows[4 * q:4 * q + 4, 1].tolist()
        assert laid[8:] == rows[4 * q:4 * q + 4, 2:].reshape(-1).tolist()
    # the padding the pointwise block's preload of the next quad's biases reads after the last quad
    assert len(quads) == 36 and quads[32:] == [0, 0, 0, 0]
