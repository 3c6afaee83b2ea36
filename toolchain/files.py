"""Writing outputs without leaving partial files behind."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import tempfile
from pathlib import Path

from toolchain import stops


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write `data` to `path` through a temporary file in the same folder, then rename.

    The file gets the mode an ordinary write would (0666 less the umask), not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


@contextlib.contextmanager
def staged_dir(out_dir: str | os.PathLike):
    """Yield a temporary folder next to `out_dir`; on success move its files into `out_dir`.

    On any exception nothing is moved, so `out_dir` never holds a partial set of outputs.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.stage.", dir=out_dir.parent))
    try:
        yield stage
        stops.check()  # a Ctrl-C or SIGTERM that was lost on the way: commit nothing
        _commit(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _commit(stage: Path, out_dir: Path) -> None:
    """Move the staged files into `out_dir` as one step: a rename of the whole folder when
    `out_dir` is new, else file by file with SIGINT and SIGTERM held until all are in place."""
    if not out_dir.exists():
        umask = os.umask(0)
        os.umask(umask)
        stage.chmod(0o777 & ~umask)  # mkdtemp made it private
        os.rename(stage, out_dir)
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        for item in sorted(stage.rglob("*")):
            if item.is_file():
                target = out_dir / item.relative_to(stage)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(item, target)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
