"""Renode: generate the `.resc` script and the Robot Framework smoke test, then run them.

Renode cannot be installed on every machine (it is not on these build hosts), so
generation is separate from running and the run path is short: the robot test
first (fails fast on a fault line), then the profiling session over the script's
server-socket UART.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jinja2

from toolchain.device.runner import ProcessRunner, free_port
from toolchain.errors import DeviceError, InputError, ToolMissingError
from toolchain.escape import environment

INSTALL_HINT = ("install Renode (https://renode.io: the portable Linux package, or `pip install renode-run` "
                "then `renode-run download`) so that `renode` and `renode-test` are on PATH")
RESC, ROBOT = "tinyship.resc", "tinyship.robot"


def renode_config(board) -> dict:
    cfg = board.emulator.get("renode")
    if not cfg:
        raise InputError(f"board '{board.id}' has no Renode platform (Renode does not model its serial port)",
                         "pick a board whose catalog entry has emulator.renode (tinyship boards)")
    return cfg


def generate_renode(elf: str | Path, board, out_dir: str | Path, *, port: int = 3456, timeout: int = 30) -> dict:
    """Write tinyship.resc and tinyship.robot for `elf` on `board` into `out_dir`; return their paths.

    Raises:
        InputError: the board has no Renode platform, or `elf` was built for another board.
    """
    from toolchain.build import check_elf_board

    cfg = renode_config(board)
    check_elf_board(elf, board)
    env = environment(jinja2.PackageLoader("toolchain.device", "templates"))
    elf, out_dir = Path(elf).resolve(), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    values = dict(board=board, elf=elf, elf_name=elf.name, platform=cfg["platform"], uart=cfg["uart"], port=port,
                  timeout=timeout, resc_name=RESC, robot_name=ROBOT)
    files = {}
    for name in (RESC, ROBOT):
        files[name] = out_dir / name
        files[name].write_text(env.get_template(f"{name}.j2").render(**values))
    return files


class RenodeRunner(ProcessRunner):
    """Renode running the generated script; its socket terminal drops output sent before we
    connect, so the runner checks the device with `name` instead of waiting for the banner."""

    what = "emulator (Renode)"
    expect_banner = False

    def __init__(self, elf, board, *, renode: str, **kw):
        super().__init__(**kw)
        self.elf, self.board, self.renode = Path(elf), board, renode

    def command(self, port: int) -> list[str]:
        resc = generate_renode(self.elf, self.board, self.run_dir, port=port)[RESC]
        # monitor on a telnet port of its own (stdin is not a terminal); untested here: no Renode
        return [self.renode, "--disable-xwt", "-P", str(free_port()), "-e", f"include @{resc}"]


def run_robot(robot: Path, renode_test: str, timeout: float = 300) -> None:
    """Run the smoke test; DeviceError naming the log when it fails."""
    log = robot.with_suffix(".log.txt")
    with open(log, "wb") as out:
        try:
            done = subprocess.run([renode_test, str(robot)], cwd=robot.parent, stdout=out, stderr=out, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"renode-test did not finish within {timeout:g} s", f"see {log}") from None
    if done.returncode != 0:
        raise DeviceError(f"the Renode smoke test failed (exit {done.returncode})", f"see {log}")


def renode_tools(generated_in: Path) -> tuple[str, str]:
    """Paths of `renode` and `renode-test`, or ToolMissingError with the install hint."""
    renode, renode_test = shutil.which("renode"), shutil.which("renode-test")
    if not (renode and renode_test):
        raise ToolMissingError(f"Renode is not installed (renode / renode-test not on PATH); "
                               f"{RESC} and {ROBOT} were written to {generated_in}", INSTALL_HINT)
    return renode, renode_test
