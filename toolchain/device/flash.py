"""`flash`: upload a built PlatformIO project to its board (`pio run -t upload`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from toolchain.errors import DeviceError, InputError, ToolMissingError


@dataclass
class FlashResult:
    project: str
    board: str
    port: str | None
    port_note: str | None
    log: str


def pio_executable() -> str:
    """`pio` next to this Python (the venv) or on PATH."""
    local = Path(sys.executable).with_name("pio")
    found = str(local) if local.is_file() else shutil.which("pio")
    if not found:
        raise ToolMissingError("PlatformIO (pio) is not installed", "pip install platformio (or run `make setup`)")
    return found


def flash(project_dir, *, port: str | None = None, board: str | None = None, timeout: float = 600) -> FlashResult:
    """Upload `project_dir` with PlatformIO; `port` may be a device path, URL or 'auto'.

    Raises:
        InputError: not a tinyship project, or a board without PlatformIO (emulated / host).
        ToolMissingError, DeviceError: PlatformIO missing, or the upload failed (board absent...).
    """
    from toolchain.boards import load_board
    from toolchain.codegen.project import load_manifest
    from toolchain.device.ports import resolve_port

    project_dir = Path(project_dir)
    manifest = load_manifest(project_dir)
    board_obj = load_board(board or manifest["board"])
    if manifest["builder"] != "platformio" or board_obj.platformio is None:
        raise InputError(f"board '{board_obj.id}' is not flashed: it runs in an emulator or natively",
                         f"use tinyship emulate {project_dir} --board {board_obj.id}")
    url, note = resolve_port(port, board_obj) if port else (None, None)
    cmd = [pio_executable(), "run", "-d", str(project_dir), "-t", "upload"] + (["--upload-port", url] if url else [])
    log = project_dir / "flash.log"
    with open(log, "wb") as out:
        try:
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"PlatformIO upload did not finish within {timeout:g} s", f"see {log}") from None
    if done.returncode != 0:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        raise DeviceError(f"PlatformIO upload to {board_obj.name} failed: {tail}",
                          f"check the board is connected (or give --port); full log: {log}")
    return FlashResult(str(project_dir), board_obj.id, url, note, str(log))
