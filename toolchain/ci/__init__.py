"""CI helpers: `tinyship ci init` writes a GitHub Actions workflow that builds the
firmware for a board and runs it in QEMU or Renode with a JUnit verdict."""

from __future__ import annotations

import subprocess
from pathlib import Path

import jinja2

from toolchain.errors import InputError
from toolchain.escape import environment, terminal
from toolchain.files import atomic_write

DEFAULT_PATH = ".github/workflows/tinyship.yml"
RENODE_VERSION = "1.15.3"
CHECKOUT = Path(__file__).resolve().parents[2]  # the tinyship source tree this package runs from


def init_workflow(model: str, *, board: str = "qemu-cortex-m4", engine: str = "aot", path: str = DEFAULT_PATH,
                  install: str | None = None, random: int = 20, force: bool = False) -> Path:
    """Write the workflow for `model` (a path inside the user's repository) on `board`."""
    from toolchain.boards import load_board

    b = load_board(board)
    emulator = "qemu" if b.qemu or b.platform == "host" else "renode" if b.emulator.get("renode") else None
    if emulator is None:
        raise InputError(f"board '{board}' has no emulator, CI cannot run it", "pick a qemu-* board or one with a Renode platform")
    if terminal(model) != model:
        raise InputError(f"model path {terminal(model)!r} holds control characters", "rename the model file")
    out = Path(path)
    if out.exists() and not force:
        raise InputError(f"{out} exists", "use --force to overwrite it")
    env = environment(jinja2.PackageLoader("toolchain.ci", "templates"))
    text = env.get_template("github-workflow.yml.j2").render(
        model=model, board=board, engine=engine, emulator=emulator, random=random,
        install=install or default_install(out), renode_version=RENODE_VERSION)
    return atomic_write(out, text)


def default_install(workflow: Path) -> str:
    """What CI pip-installs: tinyship is on no package index, so its source. "." when the workflow
    lives in the tinyship checkout itself, else the checkout's git remote at its current commit.

    Raises:
        InputError: neither is known (the fix: --install SPEC).
    """
    if workflow.resolve().is_relative_to(CHECKOUT):
        return "."
    url, commit = _git("remote", "get-url", "origin"), _git("rev-parse", "HEAD")
    if not (url and commit):
        raise InputError(f"CI cannot tell where to install tinyship from: it is not on PyPI and {CHECKOUT} "
                         "has no git remote 'origin'",
                         "pass --install SPEC, e.g. --install 'git+https://github.com/ORG/tinyship@COMMIT'")
    if url.startswith("git@"):  # scp-like 'git@github.com:org/repo.git'
        url = "ssh://" + url.replace(":", "/", 1)
    return f"git+{url}@{commit}"


def _git(*args) -> str | None:
    try:
        r = subprocess.run(["git", "-C", str(CHECKOUT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None
