"""Run a toolchain function in a child Python process, with a deadline.

The host interpreters (TFLM, LiteRT) are C++: a hostile or corrupt model can make them
segfault, abort or hang. In a child that only ends the child; here it becomes a
`ModelError` (exit 2) naming the model, and a hang ends at the deadline.

`call("toolchain.reference:tflm_run", raw, samples, model_name=..., timeout=...)` runs
`python -m toolchain.isolated IN OUT`: arguments and result travel as pickles in a
private temp folder (written and read only by this process and its own child).
"""

from __future__ import annotations

import importlib
import pickle
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from toolchain.errors import ModelError, ToolchainError


def call(func: str, *args, model_name: str, timeout: float, what: str = "the TFLM interpreter"):
    """`func` ("package.module:function") applied to `args` in a child process; its return value.

    Raises:
        ModelError: the child crashed (signal), failed, or ran past `timeout` seconds.
        ToolchainError: what `func` raised, re-raised here.
    """
    with tempfile.TemporaryDirectory(prefix="tinyship-isolated-") as tmp:
        inp, out = Path(tmp) / "in.pickle", Path(tmp) / "out.pickle"
        inp.write_bytes(pickle.dumps((func, args)))
        try:
            r = subprocess.run([sys.executable, "-m", "toolchain.isolated", str(inp), str(out)],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ModelError(f"{what} did not finish within {timeout:g} s on model '{model_name}'",
                             "the model may make it loop: check the model (tinyship analyze)") from None
        if r.returncode < 0:
            name = signal.Signals(-r.returncode).name if -r.returncode in signal.valid_signals() else -r.returncode
            raise ModelError(f"{what} crashed on model '{model_name}' ({name})",
                             "the model is corrupt or not one TFLM runs: check it with tinyship analyze")
        if r.returncode != 0 or not out.is_file():
            last = (r.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1][:200]
            raise ModelError(f"{what} failed on model '{model_name}' (exit code {r.returncode}: {last})",
                             "the model is corrupt or not one TFLM runs: check it with tinyship analyze")
        ok, value = pickle.loads(out.read_bytes())
    if not ok:
        raise value
    return value


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
