"""`tflm-tree`: make the TFLM source tree the tflm engine builds from, with TFLM's own script.

The tree must be the TFLM the pinned `tflite-micro` wheel (the Python oracle) was built from, so
the commit comes from that wheel's metadata. This clones tflite-micro at that commit (git, a
blobless clone) and runs its tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py,
which downloads flatbuffers, gemmlowp, ruy and kissfft (and CMSIS-NN and CMSIS with
`cmsis_nn`). Needs the network; docs/tflm-engine.md gives the offline recipe.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from toolchain.errors import DeviceError, InputError, ToolMissingError

REPO = "https://github.com/tensorflow/tflite-micro"
SCRIPT = "tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py"
OFFLINE = "see docs/tflm-engine.md for the offline alternative"
TIMEOUT = 1800  # s, for the whole tree


def wheel_commit() -> str:
    """The tflite-micro commit the installed `tflite-micro` wheel was built from (its PyPI description)."""
    from importlib import metadata

    try:
        text = metadata.metadata("tflite_micro").get_payload() or ""
    except metadata.PackageNotFoundError:
        raise ToolMissingError("the tflite-micro wheel is not installed", "pip install -e . (it is pinned there)") from None
    found = re.search(r"built from commit\s*\[([0-9a-f]{7,40})\]", text)
    if not found:
        raise ToolMissingError("the tflite-micro wheel does not say which commit it was built from",
                               "give the commit with --commit")
    return found.group(1)


def make_tree(out_dir, *, cmsis_nn: bool = False, commit: str | None = None,
              progress: Callable[[str], None] | None = None, timeout: float = TIMEOUT) -> dict:
    """Write a TFLM tree into `out_dir` (a new or empty folder; all or nothing); returns
    {"dir", "commit", "kernels"}.

    Raises:
        InputError: `out_dir` holds files. ToolMissingError: no git, no network, no Pillow.
        DeviceError: git or create_tflm_tree.py failed or ran past `timeout` seconds.
    """
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(f"{out_dir} already exists and is not empty", "give a new folder for the tree")
    commit = commit or wheel_commit()
    if not re.fullmatch(r"[0-9a-f]{7,40}", commit):
        raise InputError(f"'{commit}' is not a git commit", "give 7 to 40 hex digits")
    git = shutil.which("git")
    if not git:
        raise ToolMissingError("git is not installed", f"install git; {OFFLINE}")
    try:
        import PIL  # noqa: F401  create_tflm_tree.py converts TFLM's example images with it
    except ImportError:
        raise ToolMissingError("create_tflm_tree.py needs Pillow", "pip install pillow") from None
    try:
        socket.create_connection(("github.com", 443), timeout=10).close()
    except OSError as e:
        raise ToolMissingError(f"no network: cannot reach github.com ({e.strerror or e})", OFFLINE) from None
    say = progress or (lambda note: None)
    deadline = time.monotonic() + timeout
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.", dir=out_dir.parent) as work:
        checkout, tree = Path(work) / "tflite-micro", Path(work) / "tree"
        say(f"cloning {REPO} at {commit}")
        _run([git, "clone", "--quiet", "--filter=blob:none", "--no-checkout", REPO, str(checkout)], work, deadline)
        _run([git, "-c", "advice.detachedHead=false", "checkout", "--quiet", commit], checkout, deadline)
        say(f"running {SCRIPT}{' (CMSIS-NN kernels)' if cmsis_nn else ''}: it downloads flatbuffers, gemmlowp, ruy, "
            f"kissfft{', CMSIS-NN and CMSIS' if cmsis_nn else ''}")
        options = ["--makefile_options=OPTIMIZED_KERNEL_DIR=cmsis_nn"] if cmsis_nn else []
        _run([sys.executable, SCRIPT, *options, str(tree)], checkout, deadline)
        if not (tree / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
            raise DeviceError(f"{SCRIPT} wrote no TFLM tree", "run it by hand in a tflite-micro checkout to see why")
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(tree, out_dir)
    return {"dir": str(out_dir), "commit": commit, "kernels": "cmsis_nn" if cmsis_nn else "reference"}


def _run(cmd: list[str], cwd, deadline: float) -> None:
    """Run one step; its make calls `python3`, which must be this interpreter (numpy, Pillow)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    left = deadline - time.monotonic()
    try:
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=max(left, 1))
    except subprocess.TimeoutExpired:
        raise DeviceError(f"{' '.join(cmd[:3])} ran past the deadline", f"give more time (--timeout); {OFFLINE}") from None
    if r.returncode:
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DeviceError(f"{' '.join(cmd[:3])} failed (exit {r.returncode}): {tail[0]}", OFFLINE)
