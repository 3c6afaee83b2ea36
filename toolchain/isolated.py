"""Run a toolchain function in a child Python process, with a deadline.

The host interpreters (TFLM, LiteRT) are C++: a hostile or corrupt model can make them
segfault, abort or hang. In a child that only ends the child; here it becomes a
`ModelError` (exit 2) naming the model, and a hang ends at the deadline.

`call("toolchain.reference:tflm_run", raw, samples, model_name=..., timeout=...)` runs
`python -m toolchain.isolated IN OUT`: arguments and result travel as pickles in a
private temp folder (written and read only by this process and its own child).
`started(...)` runs the child while the caller does other work (generate checks the
model with TFLM while it writes the project). A child function that takes long (the TFLite
converter) tells the parent how far it got with `report(done)`; the parent passes each new
count to its `progress` callback.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from toolchain.errors import ModelError, ToolchainError

_PROGRESS = "TINYSHIP_ISOLATED_PROGRESS"  # the child's progress file, named in its environment
_INTERPRETER_FIX = "the model is corrupt or not one TFLM runs: check it with tinyship analyze"


def call(func: str, *args, model_name: str, timeout: float, what: str = "the TFLM interpreter", **failure):
    """`func` ("package.module:function") applied to `args` in a child process; its return value.

    `failure` (`error`, `fix`, `progress`) as for `started`.

    Raises:
        ModelError (or `error`): the child crashed (signal), failed, or ran past `timeout` seconds.
        ToolchainError: what `func` raised, re-raised here.
    """
    with started(func, *args, model_name=model_name, timeout=timeout, what=what, **failure) as result:
        return result()


@contextlib.contextmanager
def started(func: str, *args, model_name: str, timeout: float, what: str = "the TFLM interpreter",
            error: type[ToolchainError] = ModelError, fix: str = _INTERPRETER_FIX, progress=None):
    """`func(*args)` started in a child process; yields a function that waits for it (at most
    `timeout` s from the start) and returns or raises as `call` does. Leaving the block kills
    a child still running. A crash, failure or hang of the child raises `error` ending with `fix`;
    `progress(done)` gets each count the child `report`s while the parent waits."""
    with _spawned("", f"{what} {{}} on model '{model_name}'", timeout, error, fix, progress) as child:
        child.submit(func, args)
        yield child.result


@contextlib.contextmanager
def warmed(module: str, *, model_name: str, timeout: float, what: str, error: type[ToolchainError] = ModelError,
           fix: str = _INTERPRETER_FIX, progress=None):
    """A child process that imports `module` at once (TensorFlow takes seconds, done meanwhile on
    another core) and runs one of its functions once the caller has the arguments: yields
    `run(name, *args)`, which returns or raises as `call` does, `timeout` counting from that call."""
    with _spawned(module, f"{what} {{}} on model '{model_name}'", timeout, error, fix, progress) as child:
        def run(name: str, *args):
            child.submit(f"{module}:{name}", args)
            return child.result()

        yield run


@contextlib.contextmanager
def _spawned(preload: str, what: str, timeout: float, error, fix: str, progress):
    with tempfile.TemporaryDirectory(prefix="tinyship-isolated-") as tmp:
        child = _Child(Path(tmp), preload, what, timeout, error, fix, progress)
        try:
            yield child
        finally:
            child.stop()


def report(done: int) -> None:
    """In a child: tell the parent's `progress` callback how far the work got (no-op elsewhere)."""
    path = os.environ.get(_PROGRESS)
    if path:
        Path(path + ".new").write_text(str(done))
        os.replace(path + ".new", path)


class _Child:
    def __init__(self, tmp: Path, preload: str, what: str, timeout: float, error, fix: str, progress):
        self.job, self.out, self.err, self.timeout = tmp / "in.pickle", tmp / "out.pickle", tmp / "stderr", timeout
        self.what, self.error, self.fix, self.progress = what.format, error, fix, progress
        self.progress_file, self.done = tmp / "progress", None
        with open(self.err, "wb") as err:  # a file, not a pipe: nobody reads while the caller works
            self.proc = subprocess.Popen([sys.executable, "-m", "toolchain.isolated", str(self.job), str(self.out),
                                          preload], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, env={**os.environ, _PROGRESS: str(self.progress_file)})
        self.deadline = time.monotonic() + timeout

    def submit(self, func: str, args: tuple) -> None:
        """Hand the child its job (written whole, then renamed: the child waits for the name)."""
        staged = self.job.with_name("in.new")
        staged.write_bytes(pickle.dumps((func, args)))
        os.replace(staged, self.job)
        self.deadline = time.monotonic() + self.timeout

    def _wait(self) -> int:
        """The child's exit code; with `progress`, its reports passed on every 0.1 s and at the end."""
        while True:
            left = max(0.0, self.deadline - time.monotonic())
            try:
                code = self.proc.wait(min(left, 0.1) if self.progress else left)
            except subprocess.TimeoutExpired:
                if time.monotonic() >= self.deadline:
                    raise
                code = None
            if self.progress:
                self._pass_progress()
            if code is not None:
                return code

    def _pass_progress(self) -> None:
        from toolchain import stops

        try:
            done = int(self.progress_file.read_text())
        except (OSError, ValueError):
            return
        if done != self.done:
            self.done = done
            self.progress(done)
            stops.check()  # a stop the callback's code swallowed (docs/harness.md)

    def result(self):
        try:
            code = self._wait()
        except subprocess.TimeoutExpired:
            raise self.error(self.what(f"did not finish within {self.timeout:g} s"), self.fix) from None
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else -code
            raise self.error(self.what("crashed") + f" ({name})", self.fix)
        if code != 0 or not self.out.is_file():
            stderr = self.err.read_bytes()[-4096:].decode("utf-8", "replace")
            last = (stderr.strip().splitlines() or ["no message"])[-1][:200]
            raise self.error(self.what("failed") + f" (exit code {code}: {last})", self.fix)
        ok, value = pickle.loads(self.out.read_bytes())
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _main(inp: str, out: str, preload: str = "") -> None:
    if preload:  # a warmed child: the module first, the job when the parent has it
        importlib.import_module(preload)
    parent, job = os.getppid(), Path(inp)
    while not job.exists():
        if os.getppid() != parent:  # the parent is gone: nobody will send a job
            return
        time.sleep(0.01)
    func, args = pickle.loads(job.read_bytes())
    module, _, name = func.partition(":")
    try:
        result = (True, getattr(importlib.import_module(module), name)(*args))
    except ToolchainError as e:
        result = (False, e)
    Path(out).write_bytes(pickle.dumps(result))


if __name__ == "__main__":
    _main(*sys.argv[1:4])
