"""Optimized aot kernels (DSP on Cortex-M4, Helium on Cortex-M55) against the TFLM interpreter.

The same generated models are built for qemu-cortex-m4 and qemu-cortex-m55 with the optimized
and with the portable kernels, run in QEMU, and their outputs read back over serial are compared
byte for byte with TFLM for several random inputs. The requantization shortcut of the kernels
(ts_opt.h) is checked against the reference arithmetic on the host.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from toolchain import generate
from toolchain.codegen.aot_opt import dsp_filter, dsp_requant
from toolchain.model import load_model

from aot_rig.qemu import expected, random_inputs, run_project
from aot_rig.spec import Spec, conv_options

ENGINE = __import__("toolchain.codegen.aot", fromlist=["ENGINE_DIR"]).ENGINE_DIR
BOARDS = ("qemu-cortex-m4", "qemu-cortex-m55")


def _run_on_qemu(model_path, board, tmp_path, kernels="speed", samples=4, seed=1, inputs=None):
    """Build `model_path` for `board`, run `inputs` (default: `samples` random ones); returns (device
    outputs, TFLM outputs, project)."""
    project = tmp_path / f"{board}-{kernels}"
    generate(model_path, board=board, engine="aot", out_dir=project, aot_kernels=kernels)
    inputs = random_inputs(model_path, samples, seed) if inputs is None else inputs
    got, _ = run_project(project, board, inputs, timeout=60)
    want = expected(model_path, inputs)
    return got, want, project


# --- a synthetic network hitting the optimized paths and their edges ----------------------
def _network(make_tflite, in_c: int = 3) -> bytes:
    """CONV 3x3/s2/SAME (3 input channels: the int8 im2col path) -> DEPTHWISE 3x3 (8 ch) ->
    CONV 1x1 (12 ch, four of them constant: three dead as a quantizer leaves them, all-zero
    weights, a tiny scale and a bias near +-2^30, one with a scale so small that its multiplier
    is 0) -> DEPTHWISE 3x3/s2/VALID (12 ch: DSP fast path, Helium fallback) -> CONV 1x1 (7 ch:
    padded rows) -> RESHAPE -> FULLY_CONNECTED 28->5 (per tensor, k % 8 != 0, a dead row)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    rng = np.random.default_rng(7)
    spec = Spec()
    tensor, tensors, buffers, ops = spec.tensor, spec.tensors, spec.buffers, []

    def conv(x, in_scale, shape, out_c, k, stride, padding, depthwise=False, relu=True, dead=(), tiny=()):
        n, h, w, c = shape
        if padding == s.Padding.SAME:
            oh, ow = -(-h // stride), -(-w // stride)
        else:
            oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
        wshape = (1, k, k, out_c) if depthwise else (out_c, k, k, c)
        weights = rng.integers(-127, 128, size=wshape, dtype=np.int8)
        w_scale = rng.uniform(0.005, 0.02, out_c)
        fan_in = k * k * (1 if depthwise else c)
        out_scale = float(in_scale * w_scale.mean() * 60 * np.sqrt(fan_in))
        bias = rng.integers(-3000, 3000, out_c).astype(np.int32)
        for ch, b, target in dead:  # all-zero weights, a bias near 2^30 scaled to `target` (outputs)
            weights[ch], w_scale[ch], bias[ch] = 0, abs(target * out_scale / (in_scale * b)), b
        w_scale[list(tiny)] = 1e-13  # a multiplier below 2^-32: 0 in TFLM's Prepare
        wt = tensor(wshape, w_scale, [0] * out_c, weights, qdim=3 if depthwise else 0)
        bt = tensor((out_c,), in_scale * w_scale, [0] * out_c, bias, dtype="int32")
        y = tensor((n, oh, ow, out_c), out_scale, -128 if relu else 3)
        act = s.ActivationFunctionType.RELU if relu else s.ActivationFunctionType.NONE
        ops.append((1 if depthwise else 0, [x, wt, bt], [y], *conv_options(depthwise, padding, stride, act)))
        return y, out_scale, (n, oh, ow, out_c)

    x = tensor((1, 9, 11, in_c), 0.05, -3)
    y, sc, shape = conv(x, 0.05, (1, 9, 11, in_c), 8, 3, 2, s.Padding.SAME)
    y, sc, shape = conv(y, sc, shape, 8, 3, 1, s.Padding.SAME, depthwise=True)
    y, sc, shape = conv(y, sc, shape, 12, 1, 1, s.Padding.VALID, relu=False, tiny=(7,),
                        dead=((2, 1 << 30, 40.4), (5, -(1 << 30) + 7, -77.3), (9, 3 << 28, 1e3)))
    y, sc, shape = conv(y, sc, shape, 12, 3, 2, s.Padding.VALID, depthwise=True)
    y, sc, shape = conv(y, sc, shape, 7, 1, 1, s.Padding.VALID)
    flat_shape = tensor((2,), 0, 0, np.array([1, 28], np.int32), dtype="int32")
    flat = tensor((1, 28), sc, -128)
    ro = s.ReshapeOptionsT()
    ro.newShape = [1, 28]
    ops.append((2, [y, flat_shape], [flat], s.BuiltinOptions.ReshapeOptions, ro))
    wfc_data, bfc_data = rng.integers(-127, 128, size=(5, 28), dtype=np.int8), rng.integers(-500, 500, 5)
    wfc_data[3], bfc_data[3] = 0, 1 << 30  # a dead row: 127, past the accumulator bound
    wfc = tensor((5, 28), 0.01, 0, wfc_data)
    bfc = tensor((5,), sc * 0.01, 0, bfc_data.astype(np.int32), dtype="int32")
    out = tensor((1, 5), float(sc * 0.01 * 60 * np.sqrt(28)), 2)
    ops.append((3, [flat, wfc, bfc], [out], s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT()))
    opcodes = [(s.BuiltinOperator.CONV_2D, 3, 3), (s.BuiltinOperator.DEPTHWISE_CONV_2D, 4, 3),
               (s.BuiltinOperator.RESHAPE, 22, 1), (s.BuiltinOperator.FULLY_CONNECTED, 9, 4)]
    return make_tflite(tensors, ops, [x], [out], opcodes=opcodes, buffers=buffers)


@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("kernels", ["speed", "portable"])
def test_network_bit_exact_on_qemu(make_tflite, tmp_path, board, kernels):
    path = tmp_path / "net.tflite"
    path.write_bytes(_network(make_tflite))
    got, want, project = _run_on_qemu(path, board, tmp_path, kernels)
    assert len(set(want[0])) > 3, "the outputs should not all saturate"
    assert got == want
    opt_files = sorted(p.name for p in (project / "src" / "model").glob("*_dsp.c")) + \
        sorted(p.name for p in (project / "src" / "model").glob("*_mve.c"))
    if kernels == "portable":
        assert opt_files == []
    else:
        assert "ts_conv2d_s8_dsp.c" in opt_files and "ts_depthwise_conv2d_s8_mve.c" in opt_files
        model_c = (project / "src" / "model" / "model.c").read_text()
        # the generator re-lays the weights for the DSP-only core; Helium reads the int8 filter
        assert ("filter_dsp" in model_c) == (board == "qemu-cortex-m4")


@pytest.mark.slow
def test_single_channel_input_bit_exact_on_m4(make_tflite, tmp_path):
    """A one-channel 3x3 first layer (the DSP path packing window rows into the column, k = 9
    an odd number of groups of four), as in person_detect."""
    path = tmp_path / "net.tflite"
    path.write_bytes(_network(make_tflite, in_c=1))
    got, want, _ = _run_on_qemu(path, "qemu-cortex-m4", tmp_path)
    assert len(set(want[0])) > 3, "the outputs should not all saturate"
    assert got == want


@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("name", ["mlperf_tiny/kws_ref_model.tflite", "mlperf_tiny/ad01_int8.tflite",
                                  "tflm/person_detect.tflite"])
def test_shared_models_bit_exact_on_qemu(shared_data, tmp_path, board, name):
    got, want, _ = _run_on_qemu(shared_data / name, board, tmp_path, samples=3)
    assert got == want


def test_constant_channels_keep_the_fast_path(make_tflite):
    """The dead and zero-multiplier channels of _network are folded (weights 0, bias 4 * (out - zp),
    multiplier 2^30, shift -1), so every layer with an optimized kernel runs it (as analyze and
    generate --json report)."""
    from toolchain.codegen.aot import _lower
    from toolchain.codegen.aot_opt import model_kernels, specializer

    model = load_model(_network(make_tflite))
    layers, consts = _lower(model, specializer({"dsp": True}))
    values = {c.name: c.values for c in consts}
    conv = layers[2].lowering
    rq = np.array(values[conv.params["requant_dsp"]][:-4]).reshape(3, 16)  # per quad: bias[4], mult[4], {add, right}[4]
    for ch in (2, 5, 7, 9):
        assert rq[ch // 4, 4 + ch % 4] == 1 << 30 and rq[ch // 4, 9 + 2 * (ch % 4)] == 1
    assert abs(rq[:, :4]).max() < 3000 * 2  # doubled biases: the dead ones' 2^30 folded away
    dsp = [(k["name"].split()[0], k["kernel"], k["reason"]) for k in model_kernels(model, {"dsp": True})]
    assert dsp == [(op, "dsp", None) for op in ("CONV_2D", "DEPTHWISE_CONV_2D") * 2 + ("CONV_2D",)] + [
        ("RESHAPE", None, None), ("FULLY_CONNECTED", "dsp", None)]
    mve = model_kernels(model, {"dsp": True, "mve": True})
    assert [(k["kernel"], k["reason"]) for k in mve] == [("mve", None)] * 5 + [(None, None), ("mve", None)]
    plain = model_kernels(model, {})
    assert {k["kernel"] for k in plain} == {"portable", None} and "neither the DSP" in plain[0]["reason"]


def _keras_cnn():
    """A small Keras CNN of the usual kind: 3x3 conv, 2x2 max pool, dilated 3x3 conv, 3x3/2 SAME
    max pool, 1x1 conv, global average pooling (a MEAN), dense."""
    import keras

    keras.utils.set_random_seed(3)
    layers = keras.layers
    return keras.Sequential([
        keras.Input((28, 28, 3)),
        layers.Conv2D(16, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),
        layers.Conv2D(24, 3, dilation_rate=2, activation="relu", padding="same"),
        layers.MaxPooling2D(3, strides=2, padding="same"),
        layers.Conv2D(32, 1, activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(10),
    ])


@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
def test_keras_cnn_has_no_portable_layer(convert_keras, tmp_path, board):
    """Max pools, the MEAN of GlobalAveragePooling2D and the dilated convolution run optimized
    kernels (generate --json says so for every layer) and agree with TFLM byte for byte."""
    calib = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 3)).astype(np.float32)
    path = convert_keras(_keras_cnn(), calib)
    project = tmp_path / "p"
    layers = generate(path, board=board, engine="aot", out_dir=project).layers
    kernel = "mve" if board.endswith("m55") else "dsp"
    assert [(k["name"].split()[0], k["kernel"]) for k in layers] == [
        (op, kernel) for op in ("CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D", "CONV_2D", "MEAN",
                                "FULLY_CONNECTED")]
    got, want, _ = _run_on_qemu(path, board, tmp_path, samples=3)
    assert len(set(want[0])) > 3, "the outputs should not all saturate"
    assert got == want


@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
def test_vww_dead_channels_keep_the_fast_path(tmp_path, board):
    """MLPerf Tiny's vww_96_int8 (not in ../shared/data: from the zoo's cache or a download): its
    1x1 convolutions' dead channels are folded, so every layer but the softmax runs an optimized
    kernel, bit-exact."""
    from toolchain import zoo

    try:
        path = zoo.data_file("mlperf_tiny/vww_96_int8.tflite")
    except zoo.DataError as e:
        pytest.skip(f"needs vww_96_int8.tflite: {e}")
    kernel = "mve" if board.endswith("m55") else "dsp"
    got, want, _ = _run_on_qemu(path, board, tmp_path, samples=2)
    assert got == want
    layers = generate(path, board=board, engine="aot", out_dir=tmp_path / "json").layers
    assert {(k["name"].split()[0], k["kernel"]) for k in layers if k["kernel"] != kernel} == {
        ("RESHAPE", None), ("SOFTMAX", "portable")}


# --- host checks of the arithmetic ---------------------------------------------------------
REQUANT_CHECK = r"""
#include <stdio.h>
#include "ts_opt.h"
static uint32_t s = 12345u;
static int32_t rnd(void) { s = s * 1664525u + 1013904223u; return (int32_t)s; }
int main(void) {
    long bad = 0, n = 0;
    for (int shift = -31; shift <= 6; ++shift) {
        for (int i = 0; i < 40000; ++i) {
            int32_t m = (int32_t)(((uint32_t)rnd() >> 1) | 0x40000000u);      /* Q31 in [2^30, 2^31) */
            if (i % 97 == 0) m = 1 << 30;
            int32_t x = rnd() >> (i % 31);                                    /* every magnitude */
            if (shift < 0 && (x >= (1 << 29) || x <= -(1 << 29))) x >>= 3;     /* ts_requant's bound */
            if (i < 8) x = (int32_t[]){0, 1, -1, 2, -2, (1 << 29) - 1, -(1 << 29) + 1, -(1 << 20)}[i];
            n++;
            if (ts_requant(x, m, shift) != ts_mbqm(x, m, shift)) bad++;
            if (shift < 0 && x < (1 << 28) && x > -(1 << 28)) {
                int32_t off = (rnd() & 255) - 128;
                int64_t add = ((int64_t)1 << (-shift - 1)) + (int64_t)off * ((int64_t)1 << -shift);
                if (add >= (1 << 30) || add <= -(1 << 30)) continue;   /* dsp_requant refuses these */
                ts_rq_t q = {0, m, (int32_t)add, -shift};
                if (ts_rq_value(2 * x, &q) != ts_mbqm(x, m, shift) + off) bad++;
            }
        }
    }
    printf("%ld/%ld\n", bad, n);
    return bad != 0;
}
"""


def test_fast_requantization_equals_reference(tmp_path):
    src = tmp_path / "check.c"
    src.write_text(REQUANT_CHECK)
    exe = tmp_path / "check"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{ENGINE / 'include'}", str(src),
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("0/")


@pytest.mark.parametrize("level", ["-O0", "-O1", "-O2", "-O3", "-Os"])
def test_optimized_kernels_compile_at_every_level(tmp_path, level):
    """The kernels' asm blocks pin registers; the compiler must still allocate at any level
    (a project's -O choice is not the kernels' business)."""
    cores = {"m4": ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"], "m55": ["-mcpu=cortex-m55"]}
    sources = sorted((ENGINE / "kernels" / "opt").glob("*.c"))
    for core, flags in cores.items():
        out = tmp_path / core
        out.mkdir()
        r = subprocess.run(["arm-none-eabi-gcc", *flags, "-mthumb", "-mfloat-abi=hard", level, "-std=c99", "-Wall",
                            "-Wextra", "-Werror", f"-I{ENGINE / 'include'}", "-c",
                            *map(str, sources)],
                           cwd=out, capture_output=True, text=True)
        assert r.returncode == 0, f"{core} {level}: {r.stderr}"
        assert len(list(out.glob("*.o"))) == len(sources)


def test_dsp_filter_layout():
    w = np.arange(-60, 60, dtype=np.int16).reshape(6, 20).astype(np.int8)
    laid = dsp_filter(w)
    assert laid.dtype == np.int16 and laid.size == 8 * 24  # rows padded to 8, k to 24
    quad = laid[:16].reshape(4, 4)  # first group (k 0..3) of rows 0..3: (w0, w2, w1, w3), doubled
    assert quad.tolist() == [[2 * w[r, 0], 2 * w[r, 2], 2 * w[r, 1], 2 * w[r, 3]] for r in range(4)]
    assert not laid.reshape(2, 6, 4, 4)[1, :, 2:].any()  # padding rows are zero


def test_dsp_requant_refuses_what_the_fast_form_cannot_do():
    assert dsp_requant(None, [1 << 30], [1], 0, 4) is None  # a left shift
    assert dsp_requant(None, [1 << 30], [-30], 100, 4) is None  # the folded offset would overflow
    table = dsp_requant(np.array([5, -7]), [1 << 30, 3 << 29], [-3, -4], -128, 2)
    assert table == [10, 1 << 30, 4 - 128 * 8, 3, -14, 3 << 29, 8 - 128 * 16, 4, 0, 0, 0, 1, 0, 0, 0, 1]


# --- the benchmark -----------------------------------------------------------------------
def test_bench_cli_rejects_unknown_model(tmp_path):
    r = subprocess.run([".venv/bin/python", "bench/run.py", "--model", "nope", "--out", str(tmp_path / "r.json")],
                       capture_output=True, text=True, cwd=ENGINE.parents[2])
    assert r.returncode == 2 and "unknown model 'nope'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
@pytest.mark.usefixtures("shared_data")  # bench's named models are the shared ones
def test_bench_measures_a_run(tmp_path):
    from toolchain.bench import bench

    result = bench(["hello_world"], ["qemu-cortex-m4"], ["aot"], samples=2, work_dir=tmp_path / "w",
                   json_path=tmp_path / "results.json")
    (row,) = result.rows
    assert row.error is None and row.exact and row.samples == 2
    assert row.macs == 288 and 0 < row.instructions < 100_000 and row.arena_bytes > 0
    assert row.flash["model"] > 0 and row.flash["total"] > row.flash["engine"] > 0
    assert (tmp_path / "results.json").is_file()
