"""Bare-metal STM32 builds (plain make, no PlatformIO) run in QEMU's STM32 machines through the harness.

The same ELF is the one `tinyship flash` writes to the board; QEMU models no RCC, so there the
firmware takes its HSI fallback, and no DWT, so it counts SysTick (instructions).
"""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from toolchain.boards import load_board
from toolchain.device.emulator import QemuRunner, emulate
from toolchain.errors import InputError

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
HELLO = SHARED_DATA / "tflm" / "hello_world_int8.tflite"


def _emulate_json(target, board, model, run_dir):
    r = subprocess.run([sys.executable, "-m", "toolchain", "emulate", str(target), "--board", board, "--model",
                        str(model), "--random", "2", "-n", "2", "--warmup", "0", "--run-dir", str(run_dir), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_stm32f4_discovery_runs_kws_bit_exact_in_netduinoplus2(built_firmware, kws, tmp_path):
    project, built = built_firmware(kws, "stm32f4-discovery")
    assert json.loads((project / "tinyship.json").read_text())["builder"] == "make"
    report = _emulate_json(project, "stm32f4-discovery", kws, tmp_path / "f4")
    assert report["status"] == "complete"
    assert report["validation"]["bit_exact"] == report["validation"]["compared"] == 2
    assert report["device"]["board"] == "stm32f4-discovery" and report["device"]["timer"] == "systick"
    assert report["device"]["emulated"] is True
    cmd = report["context"]["command"]
    assert cmd[cmd.index("-M") + 1] == "netduinoplus2"
    assert cmd[cmd.index("-serial"):cmd.index("-serial") + 3] == ["-serial", "null", "-serial"]  # USART2
    # Same kernels and flags as qemu-cortex-m4: a wrong SysTick rate (168 MHz) would be off by far more
    f4 = report["latency"]["cycles"]["median"]
    m4 = emulate(built_firmware(kws, "qemu-cortex-m4")[1].elf, board="qemu-cortex-m4", model=kws, random=1, n=1,
                 warmup=0, run_dir=tmp_path / "m4")["latency"]["cycles"]["median"]
    assert abs(f4 - m4) < 0.005 * m4, (f4, m4)


@pytest.mark.usefixtures("shared_data")
def test_stm32f103_bluepill_runs_hello_world_bit_exact_in_stm32vldiscovery(built_firmware, tmp_path):
    """The bluepill firmware (64 KiB / 20 KiB board) fits QEMU's STM32F100 (8 KiB RAM) with
    hello_world; a firmware that does not is refused before QEMU starts."""
    project, built = built_firmware(HELLO, "stm32f103-bluepill")
    ld = (project / "linker.ld").read_text()
    assert "ORIGIN = 0x08000000, LENGTH = 65536" in ld and "ORIGIN = 0x20000000, LENGTH = 20480" in ld
    report = _emulate_json(project, "stm32f103-bluepill", HELLO, tmp_path / "f1")
    assert report["validation"]["bit_exact"] == report["validation"]["compared"] == 2
    cmd = report["context"]["command"]
    assert cmd[cmd.index("-M") + 1] == "stm32vldiscovery" and cmd.count("-serial") == 1  # USART1
    assert report["device"]["emulated"] is True and report["memory"]["stack_used"] < report["memory"]["stack_size"]
    board = load_board("stm32f103-bluepill")  # the same machine with 4 KiB of RAM: too small
    q = board.qemu
    small = {**q, "memory": {**q["memory"], "ram": {"origin": 0x20000000, "length": 4096}}}
    with pytest.raises(InputError, match=r"outside QEMU stm32vldiscovery's memory \(RAM 0x20000000, 4096 bytes\)"):
        QemuRunner(built.elf, dataclasses.replace(board, emulator={**board.emulator, "qemu": small}), run_dir=tmp_path)
