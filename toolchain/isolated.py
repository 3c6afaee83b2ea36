"""Run a toolchain function in a child Python process, with a deadline.

The host interpreters (TFLM, LiteRT) are C++: a hostile or corrupt model can make them
segfault, abort or hang. In a child that only ends the child; here it becomes a
`ModelError` (exit 2) naming the model, and a hang ends at the deadline.

`call("toolchain.reference:tflm_run", raw, samples, model_name=..., timeout=...)` runs
`python -m toolchain.isolated IN OUT`: arguments and result travel as pickles in a
private temp folder (written and read only by this process and its own child).
`started(...)` runs the child while the caller does other work (generate checks the
model with TFLM while it writes the project).
"""

from __future__ import annotations

import contextlib
import importlib
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from toolchain.errors import ModelError, ToolchainError


def call(func: str, *args, model_name: str, timeout: float, what: str = "the TFLM interpreter"):
    """`func` ("package.module:function") applied to `args` in a child process; its return value.

    Raises:
        ModelError: the child crashed (signal), failed, or ran past `timeout` seconds.
        ToolchainError: what `func` raised, re-raised here.
    """
    with started(func, *args, model_name=model_name, timeout=timeout, what=what) as result:
        return result()


@contextlib.contextmanager
def started(func: str, *args, model_name: str, timeout: float, what: str = "the TFLM interpreter"):
    """`func(*args)` started in a child process; yields a function that waits for it (at most
    `timeout` s from the start) and returns or raises as `call` does. Leaving the block kills
    a child still running."""
    with tempfile.TemporaryDirectory(prefix="tinyship-isolated-") as tmp:
        child = _Child(Path(tmp), func, args, what, model_name, timeout)
        try:
            yield child.result
        finally:
            child.stop()


class _Child:
    def __init__(self, tmp: Path, func: str, args: tuple, what: str, model_name: str, timeout: float):
        self.out, self.err, self.timeout = tmp / "out.pickle", tmp / "stderr", timeout
        self.what = lambda verb: f"{what} {verb} on model '{model_name}'"
        (tmp / "in.pickle").write_bytes(pickle.dumps((func, args)))
        with open(self.err, "wb") as err:  # a file, not a pipe: nobody reads while the caller works
            self.proc = subprocess.Popen([sys.executable, "-m", "toolchain.isolated", str(tmp / "in.pickle"),
                                          str(self.out)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err)
        self.deadline = time.monotonic() + timeout

    def result(self):
        fix = "the model is corrupt or not one TFLM runs: check it with tinyship analyze"
        try:
            code = self.proc.wait(max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise ModelError(self.what(f"did not finish within {self.timeout:g} s"),
                             "the model may make it loop: check the model (tinyship analyze)") from None
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else -code
            raise ModelError(self.what("crashed") + f" ({name})", fix)
        if code != 0 or not self.out.is_file():
            stderr = self.err.read_bytes()[-4096:].decode("utf-8", "replace")
            last = (stderr.strip().splitlines() or ["no message"])[-1][:200]
            raise ModelError(self.what("failed") + f" (exit code {code}: {last})", fix)
        ok, value = pickle.loads(self.out.read_bytes())
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _main(inp: str, out: str) -> None:
    func, args = pickle.loads(Path(inp).read_bytes())
    module, _, name = func.partition(":")
    try:
        result = (True, getattr(importlib.import_module(module), name)(*args))
    except ToolchainError as e:
        result = (False, e)
    Path(out).write_bytes(pickle.dumps(result))


if __name__ == "__main__":
    _main(*sys.argv[1:3])
