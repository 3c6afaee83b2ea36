"""`flash`: write a built project to its board: PlatformIO projects with `pio run -t upload`,
bare-metal make projects (STM32) with OpenOCD or pyOCD through the board's debug probe.

The ELF must have been built for the board (toolchain.build.check_elf_board).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from toolchain import process_group
from toolchain.errors import DeviceError, InputError, ToolMissingError

TOOLS = ("openocd", "pyocd")
UPLOAD_TIMEOUT = 600  # seconds for one upload (PlatformIO, OpenOCD or pyOCD), --upload-timeout


@dataclass
class FlashResult:
    project: str
    board: str
    port: str | None
    port_note: str | None
    log: str
    tool: str = "platformio"


def pio_executable() -> str:
    """`pio` next to this Python (the venv) or on PATH."""
    local = Path(sys.executable).with_name("pio")
    found = str(local) if local.is_file() else shutil.which("pio")
    if not found:
        raise ToolMissingError("PlatformIO (pio) is not installed", "pip install platformio (or run `make setup`)")
    return found


def probe_command(elf: Path, board, tool: str) -> list[str]:
    """The command that writes `elf` to `board`'s flash through its debug probe, verifies it and
    starts it: OpenOCD's `program` script, or `pyocd load`.

    Raises:
        InputError: unknown tool, or a path OpenOCD's Tcl cannot quote.
    """
    spec = board.baremetal["flash"]
    elf = str(Path(elf).resolve())
    if tool == "openocd":
        if any(c in elf for c in "{}\\"):
            raise InputError(f"OpenOCD cannot take the path {elf} (braces or backslashes)", "move the project elsewhere")
        return ["openocd", *(a for cfg in spec["openocd"] for a in ("-f", cfg)),
                "-c", f"program {{{elf}}} verify reset exit"]
    if tool == "pyocd":
        return ["pyocd", "load", "--target", spec["pyocd"], elf]
    raise InputError(f"unknown flash tool '{tool}'", f"use one of: {', '.join(TOOLS)}")


def _probe_tool(tool: str | None) -> str:
    """`tool`, or the first of OpenOCD and pyOCD that is installed."""
    if tool not in (None, *TOOLS):
        raise InputError(f"unknown flash tool '{tool}'", f"use one of: {', '.join(TOOLS)}")
    for name in (tool,) if tool else TOOLS:
        if shutil.which(name):
            return name
    raise ToolMissingError(f"{tool} is not installed" if tool else "neither OpenOCD nor pyOCD is installed",
                           "sudo apt-get install openocd, or pip install pyocd")


def _run(cmd: list[str], log: Path, timeout: float, what: str) -> None:
    """Run the upload tool with its output in `log`; past `timeout` s its process group is ended."""
    with open(log, "wb") as out:
        try:
            done = process_group.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"{what} did not finish within {timeout:g} s (stopped)",
                              f"check the board is connected and powered, or allow more with --upload-timeout; "
                              f"log: {log}") from None
    if done.returncode != 0:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        raise DeviceError(f"{what} failed: {tail}", f"check the board and its probe are connected; full log: {log}")


def flash(project_dir, *, port: str | None = None, board: str | None = None, tool: str | None = None,
          timeout: float = UPLOAD_TIMEOUT) -> FlashResult:
    """Write `project_dir`'s firmware to its board; `port` (PlatformIO upload port, a device path,
    URL or 'auto') is also what `profile` will use. `tool`: openocd or pyocd for make projects
    (default: whichever is installed). The upload tool gets `timeout` seconds, then its process
    group is ended (DeviceError).

    Raises:
        InputError: not a tinyship project, an emulated/host board, an ELF built for another board.
        ToolMissingError, DeviceError: the tool is missing, or the upload failed or ran past
            `timeout` (board absent...).
    """
    if not timeout > 0:
        raise InputError(f"--upload-timeout must be a positive number of seconds, got {timeout}",
                         f"e.g. --upload-timeout {UPLOAD_TIMEOUT}")
    from toolchain.boards import load_board
    from toolchain.build import check_elf_board
    from toolchain.codegen.project import load_manifest
    from toolchain.device.ports import resolve_port

    project_dir = Path(project_dir)
    manifest = load_manifest(project_dir)
    board_obj = load_board(board or manifest["board"])
    platformio = manifest["builder"] == "platformio" and board_obj.platformio is not None
    if not platformio and not board_obj.baremetal:
        raise InputError(f"board '{board_obj.id}' is not flashed: it runs in an emulator or natively",
                         f"use tinyship emulate {project_dir} --board {board_obj.id}")
    url, note = resolve_port(port, board_obj) if port else (None, None)
    log = project_dir / "flash.log"
    if platformio:
        elf = project_dir / ".pio" / "build" / manifest["board"] / "firmware.elf"
        if elf.is_file():
            check_elf_board(elf, board_obj)
        cmd = [pio_executable(), "run", "-d", str(project_dir), "-t", "upload"] + (["--upload-port", url] if url else [])
        _run(cmd, log, timeout, f"PlatformIO upload to {board_obj.name}")
        return FlashResult(str(project_dir), board_obj.id, url, note, str(log))
    elf = project_dir / manifest["elf"]
    if not elf.is_file():
        raise InputError(f"no firmware at {elf}", f"build it first: tinyship build {project_dir}")
    check_elf_board(elf, board_obj)
    tool = _probe_tool(tool)
    _run(probe_command(elf, board_obj, tool), log, timeout, f"{tool} writing {board_obj.name}")
    return FlashResult(str(project_dir), board_obj.id, url, note, str(log), tool)
