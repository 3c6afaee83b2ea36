"""CI helpers: `tinyship ci init` writes a GitHub Actions workflow that builds the
firmware for a board and runs it in QEMU or Renode with a JUnit verdict."""

from __future__ import annotations

from pathlib import Path

import jinja2

from toolchain import __version__
from toolchain.errors import InputError
from toolchain.files import atomic_write

DEFAULT_PATH = ".github/workflows/tinyship.yml"
RENODE_VERSION = "1.15.3"


def init_workflow(model: str, *, board: str = "qemu-cortex-m4", engine: str = "aot", path: str = DEFAULT_PATH,
                  install: str | None = None, random: int = 20, force: bool = False) -> Path:
    """Write the workflow for `model` (a path inside the user's repository) on `board`."""
    from toolchain.boards import load_board

    b = load_board(board)
    emulator = "qemu" if b.qemu or b.platform == "host" else "renode" if b.emulator.get("renode") else None
    if emulator is None:
        raise InputError(f"board '{board}' has no emulator, CI cannot run it", "pick a qemu-* board or one with a Renode platform")
    out = Path(path)
    if out.exists() and not force:
        raise InputError(f"{out} exists", "use --force to overwrite it")
    env = jinja2.Environment(loader=jinja2.PackageLoader("toolchain.ci", "templates"), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    text = env.get_template("github-workflow.yml.j2").render(
        model=model, board=board, engine=engine, emulator=emulator, random=random,
        install=install or f"tinyship=={__version__}", renode_version=RENODE_VERSION)
    return atomic_write(out, text)
