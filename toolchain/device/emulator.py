"""QEMU: boot a Cortex-M firmware ELF on the board's emulated machine.

`-icount shift=0` makes virtual time advance 1 ns per instruction, so the
firmware's cycle figures are deterministic instruction counts (labelled
"emulated"). The UART is a TCP server on a free local port; the runner connects
to it with the same pyserial `socket://` URL a user would give to `profile`.

The socket uses `wait=on`: QEMU waits for the connection before it runs the
guest. With `wait=off` the guest prints its boot banner to an unconnected socket
and QEMU drops it (measured: the banner never arrives).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from toolchain.device.runner import ProcessRunner
from toolchain.errors import InputError, ToolMissingError

QEMU = "qemu-system-arm"


def qemu_config(board) -> dict:
    """The board's `emulator.qemu` entry (machine, cpu, sysclk_hz, ...); InputError when it has none."""
    if not board.qemu:
        raise InputError(f"board '{board.id}' has no QEMU machine",
                         "pick a qemu-* board (tinyship boards), or flash a real board with tinyship flash")
    return board.qemu


class QemuRunner(ProcessRunner):
    """One QEMU process running `elf`; use as a context manager (see ProcessRunner)."""

    what = "emulator (QEMU)"

    def __init__(self, elf: str | Path, board, *, qemu: str = QEMU, **kw):
        super().__init__(**kw)
        self.elf = Path(elf)
        self.config = qemu_config(board)
        if not self.elf.is_file():
            raise InputError(f"no firmware ELF at {self.elf}", "build the project first: tinyship build DIR")
        self.qemu = shutil.which(qemu)
        if not self.qemu:
            raise ToolMissingError(f"{qemu} is not installed",
                                   "install it: sudo apt-get install qemu-system-arm (or run `make setup`)")

    def command(self, port: int) -> list[str]:
        return [self.qemu, "-M", self.config["machine"], "-cpu", self.config["cpu"],
                "-icount", "shift=0", "-nographic", "-monitor", "none",
                "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on",
                "-kernel", str(self.elf.resolve())]
