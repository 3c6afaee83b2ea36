"""Helium CONV_2D paths (ts_conv2d_s8_mve.c, aot_opt_mve.conv_mve; and the FULLY_CONNECTED
table, aot_opt_mve.fully_connected_mve) against the TFLM interpreter.

Two small hand-built models run on qemu-cortex-m55 with the optimized kernels, compared byte
for byte with TFLM; their layers hit every path of the kernel and its edges:

- `_fields`: receptive fields of at most 64 bytes in registers, per-channel weights: a one-channel
  3x3/s2/SAME depthwise with multiplier 6 on 64x66 (lowered to a convolution, k = 9, 6 outputs:
  a partial quad; RELU6 clamping below 127; too large for the padded copy: border windows from
  the zero-point column, inner ones gathered), 3x3/s1/SAME over 6 channels (k = 54, four
  chunks), 1x1/s1 (one run over the image, 7 outputs: the last pixel through the scratch
  buffer), 1x1/s2 and 1x1/s1 with 4 outputs (pairs of pixels; strided runs of 17: a single
  last pixel; RELU6 clamping below 127, and [-128, 127]), 3x3/s2/SAME on a 16x17 image
  (k = 36: the zero-point-padded copy), and a 3x3 over 8 channels (k = 72: im2col and
  ts_mve_gemv_rq with the generated table).
- `_wide`: fields wider than 64 bytes, two pixels per pass, odd and even chunk counts with
  both clamps: a 3x3/SAME over 16 channels on 5x9 (k = 144, rows of three chunks: in place
  inside, runs of up to three pairs, the zero-point column on the border; RELU6 clamping below
  127), 1x1s
  over 96, 80, 256 and 128 channels (in place; 45 pixels: the last pass has one), a 3x3/s2/SAME over 32
  (k = 288: window rows of six chunks, in place inside the image, from the zero-point column
  on the border; 15 pixels), a 1x1 over 96 (per-tensor, RELU6: no filter_mve
  here, the gemv with the generated table); then fields of one to three chunks by pairs of pixels: 1x1s over 24
  and 40 channels (clamp range, a single last pixel), over 8, and a 2x2/VALID over 12 (k = 48, [-128, 127]).
- `_fallbacks`: per-tensor weights, a dilated 3x3 over a wide image (window offsets beyond 8 bits:
  every window through the column; dilated copies), and a 1x1 whose shift is 0 (not in
  [-31, -1]: the gemv path with the generated {init, multiplier, left, right} table).
"""

from __future__ import annotations

import numpy as np
import pytest

from toolchain.codegen.aot_opt_mve import conv_tables, gemv_table, window_offsets

from aot_rig.spec import Spec, conv_options
from test_aot_opt import _run_on_qemu


class _Net:
    """A chain of CONV_2D / DEPTHWISE_CONV_2D layers as a make_tflite spec."""

    def __init__(self, shape, scale, zp, seed):
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

        self.s = s
        self.rng = np.random.default_rng(seed)
        spec = Spec()
        self.tensor, self.tensors, self.buffers, self.ops = spec.tensor, spec.tensors, spec.buffers, []
        self.shape, self.scale = tuple(shape), scale
        self.x = self.first = self.tensor(shape, scale, zp)

    def conv(self, out_c, k, stride, same, act="relu", depthwise=False, dilation=1, per_tensor=False,
             w_range=127, gain=60.0, out_scale=None, out_zp=None, bias_range=3000):
        s, rng = self.s, self.rng
        n, h, w, c = self.shape
        span = (k - 1) * dilation + 1
        oh, ow = (-(-h // stride), -(-w // stride)) if same else ((h - span) // stride + 1, (w - span) // stride + 1)
        wshape = (1, k, k, out_c) if depthwise else (out_c, k, k, c)
        weights = rng.integers(-w_range, w_range + 1, size=wshape, dtype=np.int8)
        w_scale = np.full(1, 0.01) if per_tensor else rng.uniform(0.005, 0.02, out_c)
        fan_in = k * k * (1 if depthwise else c)
        wt = self.tensor(wshape, w_scale, [0] * len(w_scale), weights, qdim=3 if depthwise else 0)
        bias_scale = self.scale * (w_scale if not per_tensor else np.full(out_c, w_scale[0]))
        bt = self.tensor((out_c,), bias_scale, [0] * out_c,
                         rng.integers(-bias_range, bias_range, out_c).astype(np.int32), dtype="int32")
        if out_scale is None:
            out_scale = float(self.scale * w_scale.mean() * gain * np.sqrt(fan_in) * w_range / 127)
        zp = out_zp if out_zp is not None else (-128 if act != "none" else 3)
        y = self.tensor((n, oh, ow, out_c), out_scale, zp)
        acts = {"relu": s.ActivationFunctionType.RELU, "relu6": s.ActivationFunctionType.RELU6,
                "none": s.ActivationFunctionType.NONE}
        padding = s.Padding.SAME if same else s.Padding.VALID
        options = conv_options(depthwise, padding, stride, acts[act], dilation, multiplier=out_c // c)
        self.ops.append((1 if depthwise else 0, [self.x, wt, bt], [y], *options))
        self.x, self.shape, self.scale = y, (n, oh, ow, out_c), out_scale
        return self

    def dense(self, out_n, bias_range=500):
        """RESHAPE to [1, n] then FULLY_CONNECTED (per-tensor weights) to out_n."""
        s, rng = self.s, self.rng
        n = int(np.prod(self.shape))
        shape = self.tensor((2,), 0, 0, np.array([1, n], np.int32), dtype="int32")
        flat = self.tensor((1, n), self.scale, self.tensors[self.x]["zero_point"])
        ro = s.ReshapeOptionsT()
        ro.newShape = [1, n]
        self.ops.append((2, [self.x, shape], [flat], s.BuiltinOptions.ReshapeOptions, ro))
        w = self.tensor((out_n, n), 0.01, 0, rng.integers(-127, 128, size=(out_n, n), dtype=np.int8))
        b = self.tensor((out_n,), self.scale * 0.01, 0, rng.integers(-bias_range, bias_range, out_n).astype(np.int32),
                        dtype="int32")
        out_scale = float(self.scale * 0.01 * 60 * np.sqrt(n))
        y = self.tensor((1, out_n), out_scale, 2)
        self.ops.append((3, [flat, w, b], [y], s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT()))
        self.x, self.shape, self.scale = y, (1, out_n), out_scale
        return self

    def tflite(self, make_tflite) -> bytes:
        s = self.s
        opcodes = [(s.BuiltinOperator.CONV_2D, 3, 3), (s.BuiltinOperator.DEPTHWISE_CONV_2D, 4, 3),
                   (s.BuiltinOperator.RESHAPE, 22, 1), (s.BuiltinOperator.FULLY_CONNECTED, 9, 4)]
        return make_tflite(self.tensors, self.ops, [self.first], [self.x], opcodes=opcodes, buffers=self.buffers)


def _fields(make_tflite) -> bytes:
    net = _Net((1, 64, 66, 1), 0.05, -3, seed=11)
    net.conv(6, 3, 2, True, act="relu6", depthwise=True, out_scale=0.04)  # act_max < 127: the clamp range
    net.conv(8, 3, 1, True)
    net.conv(7, 1, 1, False, act="none")
    net.conv(4, 1, 2, False, act="relu6", out_scale=0.04)  # pairs of pixels (17 a row), the clamp range
    net.conv(4, 1, 1, False)  # pairs of pixels, one run
    net.conv(8, 3, 2, True)  # 16x17x4: the zero-point-padded copy
    net.conv(5, 3, 1, False, act="none")
    return net.tflite(make_tflite)


def _fallbacks(make_tflite) -> bytes:
    net = _Net((1, 9, 40, 3), 0.05, 5, seed=12)
    net.conv(8, 3, 1, True, dilation=2, per_tensor=True)
    net.conv(12, 3, 1, False, dilation=3, act="relu6")  # k = 72, not whole chunks: the gemv
    net.conv(6, 1, 1, False, act="none", w_range=1, out_scale=float(net.scale * 0.01 / 0.6), per_tensor=True,
             bias_range=30)
    return net.tflite(make_tflite)


def _wide(make_tflite) -> bytes:
    net = _Net((1, 5, 9, 16), 0.05, -1, seed=13)
    net.conv(96, 3, 1, True, act="relu6", out_scale=0.04)  # k = 144 (9 chunks): rows in place or a border column
    net.conv(80, 1, 1, False)  # k = 96 (6 chunks: one row, three per pass) in place, 45 pixels
    net.conv(256, 1, 1, False)  # k = 80 (5 chunks)
    net.conv(128, 1, 1, False)  # k = 256 (16 chunks: four per pass)
    net.conv(32, 1, 1, False)  # k = 128 (8 chunks unrolled)
    net.conv(96, 3, 2, True)  # k = 288, rows of 6 chunks read in place (the centre) or from the column, 15 pixels
    net.conv(24, 1, 1, False, act="relu6", per_tensor=True, out_scale=0.04)  # k = 96: the gemv
    net.conv(8, 1, 1, False, act="relu6", out_scale=0.04)  # k = 24: pairs of two-chunk fields, 15 pixels
    net.conv(40, 1, 1, False)  # k = 8: pairs of one-chunk fields
    net.conv(12, 1, 1, False, act="relu6", out_scale=0.04)  # k = 40: pairs of three-chunk fields, 15 pixels
    net.conv(8, 2, 1, False)  # k = 48: pairs of three-chunk fields gathered, runs of 4
    net.dense(10)  # FULLY_CONNECTED 128 -> 10 with the generated table (a partial quad)
    return net.tflite(make_tflite)


@pytest.mark.slow
@pytest.mark.parametrize("model", [_fields, _fallbacks, _wide])
def test_conv_paths_bit_exact_on_m55(make_tflite, tmp_path, model):
    path = tmp_path / "net.tflite"
    path.write_bytes(model(make_tflite))
    got, want, project = _run_on_qemu(path, "qemu-cortex-m55", tmp_path, samples=3)
    assert len(set(want[0])) > 3, "the outputs should not all saturate"
    assert got == want
    model_c = (project / "src" / "model" / "model.c").read_text()
    if model is _fields:  # six layers with fields in registers (one padded), one through ts_mve_gemv_rq
        assert model_c.count(".chunks_mve = ") == 6 and model_c.count(".requant_mve = ") == 7
        assert ".chunks_mve = 4" in model_c and ".chunks_mve = 3" in model_c and ".gather_mve = 1" in model_c
        assert model_c.count(".padded_w_mve = ") == 1
    elif model is _wide:  # two pixels per pass
        assert ".chunks_mve = 9" in model_c and model_c.count(".chunks_mve = 6") == 1
        assert ".chunks_mve = 5" in model_c and ".chunks_mve = 18" in model_c and ".chunks_mve = 8" in model_c
        assert ".chunks_mve = 16" in model_c
        assert model_c.count(".chunks_mve = 2") == 1 and model_c.count(".chunks_mve = 3") == 2
        assert model_c.count(".requant_mve = ") == 12  # eleven convolutions, the fully connected layer
    else:  # the dilated window does not fit 8-bit offsets; k = 72 and the 1x1's shift 0 take the gemv path
        assert ".gather_mve = 0" in model_c and model_c.count(".chunks_mve = ") == 1
        assert model_c.count(".requant_mve = ") == 3


# --- host checks of the generated tables --------------------------------------------------
def test_conv_tables_layout():
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, size=(6, 20), dtype=np.int8)
    bias = rng.integers(-1000, 1000, 6)
    filt, table = conv_tables(w, bias, 7, [1 << 30] * 6, [-3, -1, -31, -2, -5, -7])
    # each quad's rows in the order 0, 2, 1, 3; rows 6, 7 are padding
    assert filt.shape == (8, 32) and (filt[[0, 2, 1, 3, 4]][:, :20] == w[[0, 1, 2, 3, 4]]).all()
    assert (filt[6, :20] == w[5]).all() and not filt[[5, 7]].any() and not filt[:, 20:].any()
    t = np.array(table).reshape(2, 3, 4)  # per quad {init, multiplier, shift}
    init = bias + 7 * w.astype(np.int64).sum(1)
    assert list(t[0, 0]) == list(init[:4]) and list(t[1, 0, :2]) == list(init[4:]) and list(t[1, 0, 2:]) == [0, 0]
    assert list(t[0, 2]) == [-3, -1, -31, -2] and list(t[1, 2]) == [-5, -7, -1, -1]
    assert conv_tables(w, bias, 7, [1 << 30], [0]) is None  # shift 0: not the fields' requantization
    assert conv_tables(np.zeros((4, 65), np.int8), None, 0, [1 << 30], [-1]) is None  # k > 64, not 16n
    assert conv_tables(np.zeros((6, 80), np.int8), None, 0, [1 << 30], [-1]) is None  # rows not 4n
    wide = rng.integers(-128, 128, size=(8, 80), dtype=np.int8)
    filt, _ = conv_tables(wide, None, 0, [1 << 30], [-1])  # [quads][chunks][4 rows][16]
    assert (filt.reshape(2, 5, 4, 16)[1, 3, 2] == wide[6, 48:64]).all()
    g = np.array(gemv_table(w, bias, 7, [5], [2])).reshape(2, 4, 4)  # {init, multiplier, left, right}
    assert list(g[0, 0]) == list(init[:4]) and list(g[0, 1]) == [5] * 4 and list(g[0, 2]) == [2] * 4
    assert list(g[0, 3]) == [0] * 4


def test_window_offsets():
    p = {"input_c": 2, "filter_h": 2, "filter_w": 3, "input_w": 10, "dilation_h": 1, "dilation_w": 2}
    offs = window_offsets(p, 16)
    assert offs[:12] == [0, 1, 4, 5, 8, 9, 20, 21, 24, 25, 28, 29] and offs[12:] == [0] * 4
    assert window_offsets(dict(p, input_w=200), 16) is None
