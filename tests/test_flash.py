"""`tinyship flash` of bare-metal STM32 projects through OpenOCD or pyOCD.

Neither tool nor a board with its ST-LINK exists here, so the tests check the command lines
against the tools' documented usage (OpenOCD's `program FILE verify reset exit` script,
`pyocd load --target T FILE`) and run `flash` against stand-in executables on PATH that
record their arguments and answer as the real tool does without a probe. Those stand-ins
are the only mocks: they stand for the physical board.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from toolchain import build, generate
from toolchain.boards import load_board
from toolchain.device.flash import flash, probe_command
from toolchain.errors import DeviceError, InputError, ToolMissingError

ROOT = Path(__file__).resolve().parents[1]
HELLO = SHARED_DATA / "tflm" / "hello_world_int8.tflite"


def test_probe_commands_follow_the_tools_usage(tmp_path):
    elf = tmp_path / "build" / "firmware.elf"
    f4, f1 = load_board("stm32f4-discovery"), load_board("stm32f103-bluepill")
    assert probe_command(elf, f4, "openocd") == [
        "openocd", "-f", "interface/stlink.cfg", "-f", "target/stm32f4x.cfg",
        "-c", f"program {{{elf.resolve()}}} verify reset exit"]
    assert probe_command(elf, f1, "openocd")[4] == "target/stm32f1x.cfg"
    assert probe_command(elf, f4, "pyocd") == ["pyocd", "load", "--target", "stm32f407vg", str(elf.resolve())]
    assert probe_command(elf, f1, "pyocd")[3] == "stm32f103c8"
    with pytest.raises(InputError, match="cannot take the path"):
        probe_command(tmp_path / "a{b}" / "fw.elf", f4, "openocd")
    with pytest.raises(InputError, match="unknown flash tool"):
        probe_command(elf, f4, "stlink")


def _stand_in(bin_dir: Path, name: str, rc: int, say: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > \"{bin_dir}/{name}.args\"\necho '{say}'\nexit {rc}\n")
    tool.chmod(0o755)
    return bin_dir


@pytest.fixture(scope="module")
def f4_project(tmp_path_factory):
    out = tmp_path_factory.mktemp("flash") / "hello-f4"
    generate(HELLO, board="stm32f4-discovery", out_dir=out)
    build(out)
    return out


@pytest.mark.slow
def test_flash_runs_the_probe_tool_on_the_boards_elf(f4_project, tmp_path, monkeypatch):
    bins = _stand_in(tmp_path / "bin", "pyocd", 0, "0001234 I Loading ... [load_cmd]")
    monkeypatch.setenv("PATH", f"{bins}{os.pathsep}/usr/bin:/bin")  # no openocd: pyocd is taken
    result = flash(f4_project)
    assert (result.tool, result.board) == ("pyocd", "stm32f4-discovery")
    args = (bins / "pyocd.args").read_text().split()
    assert args == ["load", "--target", "stm32f407vg", str((f4_project / "build" / "firmware.elf").resolve())]


@pytest.mark.slow
def test_flash_failures_are_one_line_errors(f4_project, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(ToolMissingError, match="neither OpenOCD nor pyOCD is installed.*apt-get install openocd"):
        flash(f4_project)
    bins = _stand_in(tmp_path / "bin", "openocd", 1, "Error: open failed")  # OpenOCD without an ST-LINK
    monkeypatch.setenv("PATH", f"{bins}{os.pathsep}/usr/bin:/bin")
    with pytest.raises(DeviceError, match="openocd writing ST STM32F4DISCOVERY failed: Error: open failed") as e:
        flash(f4_project, tool="openocd")
    assert e.value.exit_code == 4 and (f4_project / "flash.log").is_file()
    # an ELF built for another board is refused before any tool runs
    r = subprocess.run([sys.executable, "-m", "toolchain", "flash", str(f4_project), "--board", "stm32f103-bluepill",
                        "--tool", "openocd"], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "built for board 'stm32f4-discovery', not 'stm32f103-bluepill'" in r.stderr
    assert "Traceback" not in r.stderr
    assert json.loads((f4_project / "tinyship.json").read_text())["builder"] == "make"
