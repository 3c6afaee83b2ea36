"""`--kernels size`: the DSP kernels with int8 weights widened in registers (ts_gemm8_dsp.h).

Bit-exact against TFLM in QEMU (Cortex-M4), model flash against the portable layout, instructions
against the int16 (speed) layout, and the automatic choice on a board whose flash is too small.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from toolchain.analyze.fit import aot_model_bytes
from toolchain.boards import load_board
from toolchain.codegen.aot_opt import dsp_filter8, dsp_requant8
from toolchain.codegen.project import choose_kernels
from toolchain.model import load_model

from test_aot_opt import _network, _run_on_qemu

KWS = "mlperf_tiny/kws_ref_model.tflite"
M4 = {"dsp": True}


def test_dsp_filter8_pairs_rows_per_group_of_four():
    w = np.arange(-30, 30, dtype=np.int8).reshape(4, 15)
    laid = dsp_filter8(w)
    assert laid.dtype == np.int8 and laid.size == 4 * 16  # k padded to 16, no growth in rows
    first = laid[:16].reshape(2, 2, 4)  # pair 0: (group 0: row 0, row 1), (group 1: row 0, row 1)
    assert first[0].tolist() == [w[0, :4].tolist(), w[1, :4].tolist()]
    assert first[1].tolist() == [w[0, 4:8].tolist(), w[1, 4:8].tolist()]
    assert laid.reshape(2, 4, 2, 4)[0, 3, :, 3].tolist() == [0, 0]  # the k padding


def test_dsp_requant8_pairs_rows_and_repeats_per_tensor_values():
    assert dsp_requant8(np.array([5, -7]), [11, 12], [-3, -4], 2) == [5, -7, 11, 12, -3, -4]
    assert dsp_requant8(None, [9], [-2], 4) == [0, 0, 9, 9, -2, -2] * 2


def test_size_layout_keeps_kws_flash_at_the_portable_layout(shared_data):
    model = load_model(shared_data / KWS)
    portable, size, speed = (aot_model_bytes(model, M4, k) for k in ("portable", "size", "speed"))
    assert size <= 1.05 * portable < speed


def test_size_is_chosen_when_the_speed_layout_does_not_fit(shared_data):
    model = load_model(shared_data / KWS)
    board = load_board("qemu-cortex-m4")
    assert choose_kernels(model, board) == "speed"
    speed = aot_model_bytes(model, board.features)
    small = dataclasses.replace(board, flash_bytes=speed)  # the engine no longer fits beside it
    assert choose_kernels(model, small) == "size"


@pytest.mark.slow
def test_size_network_bit_exact_on_m4(make_tflite, tmp_path):
    """The synthetic network: im2col and pointwise convolutions with int8 weights, layers the size
    form does not serve (odd rows, small depthwise images) on the int16 layout."""
    path = tmp_path / "net.tflite"
    path.write_bytes(_network(make_tflite))
    got, want, project = _run_on_qemu(path, "qemu-cortex-m4", tmp_path, "size")
    assert len(set(want[0])) > 3, "the outputs should not all saturate"
    assert got == want
    assert "filter_dsp8" in (project / "src" / "model" / "model.c").read_text()


@pytest.mark.slow
def test_kws_size_against_speed_on_m4(shared_data, tmp_path):
    """Issue 16's acceptance: bit-exact, model flash <= 1.05x portable, instructions <= 1.3x speed."""
    from toolchain.bench import bench

    result = bench(["kws_ref_model"], ["qemu-cortex-m4"], ["aot", "aot-size"], samples=2, work_dir=tmp_path)
    rows = {r.engine: r for r in result.rows}
    assert rows["aot"].exact and rows["aot-size"].exact
    assert rows["aot-size"].instructions <= 1.3 * rows["aot"].instructions
    portable = aot_model_bytes(load_model(shared_data / KWS), M4, "portable")
    assert rows["aot-size"].flash["model"] <= 1.05 * portable
