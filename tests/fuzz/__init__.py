"""Fuzz harness: hostile models and devices against the real `tinyship` CLI.

A case is an object with `.name` (its category, e.g. "flip-bytes") and
`.run(tmp: Path) -> (outcome, detail)`, the outcome one of OUTCOMES. Modules
`tests/fuzz/models.py` and (optionally) `tests/fuzz/device.py` expose
`cases(seed, n)`; `python -m tests.fuzz.run` runs them (docs/fuzz.md).

`run_cli` runs one CLI command in a forked child of an already-imported process:
no interpreter start-up per case, yet a segfault, abort or hang only takes the
child (and its process group: compilers, emulators) down.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

OUTCOMES = ("ok", "rejected", "traceback", "hang", "crash", "exit0-broken")
FAILURES = frozenset({"traceback", "hang", "crash", "exit0-broken"})
DOCUMENTED_EXITS = frozenset({2, 3, 4, 5, 6, 7, 130, 143})  # docs/exit-codes.md, minus 1 (a bug)
MEMORY_LIMIT = 4 << 30  # bytes of address space per case: a runaway allocation fails instead of swapping
_KEEP = 64 * 1024  # bytes of stdout/stderr read back


@dataclass
class CliResult:
    argv: list[str]
    code: int | None  # exit status, None when killed at the deadline or by a signal
    signal: int | None
    timed_out: bool
    stdout: str
    stderr: str
    seconds: float


def run_cli(argv: list[str], cwd: Path, deadline: float, *, tag: str = "cli") -> CliResult:
    """`tinyship ARGV` in a forked child with cwd `cwd`, killed (with its process group) after `deadline` s."""
    cwd = Path(cwd)
    out, err = cwd / f".{tag}.stdout", cwd / f".{tag}.stderr"
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.setsid()
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
            os.chdir(cwd)
            fd_in = os.open(os.devnull, os.O_RDONLY)
            fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            fd_err = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd_in, 0)
            os.dup2(fd_out, 1)
            os.dup2(fd_err, 2)
            # the parent's sys.stdout/stderr may not be fds 1/2 (pytest's capture): write to the files
            sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", errors="replace", closefd=False)
            sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            from toolchain.cli import main

            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:  # what python itself would print for an uncaught exception
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    status = _wait(pid, start + deadline)
    with _suppress():
        os.killpg(pid, signal.SIGKILL)  # whatever the command left running (compilers, emulators)
    seconds = time.monotonic() - start
    timed_out = status is None
    if timed_out:
        with _suppress():
            os.killpg(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return CliResult(argv, None if timed_out or code < 0 else code, -code if code < 0 and not timed_out else None,
                     timed_out, _head(out), _head(err), seconds)


def _wait(pid: int, until: float):
    pause = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= until:
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], (ProcessLookupError, PermissionError))


def _head(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(_KEEP).decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def classify(r: CliResult) -> tuple[str, str]:
    """Outcome of one command: ok, rejected (documented code + one-line error), or a failure."""
    cmd = " ".join(r.argv[:1])
    if r.timed_out:
        return "hang", f"{cmd}: no exit within {r.seconds:.0f} s"
    if r.signal is not None:
        return "crash", f"{cmd}: killed by signal {r.signal} ({signal.Signals(r.signal).name})"
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    if "Traceback (most recent call last)" in r.stderr:
        return "traceback", f"{cmd}: {lines[-1][:300] if lines else '?'}"
    if r.code == 0:
        return "ok", ""
    last = lines[-1][:300] if lines else "(no message)"
    if r.code not in DOCUMENTED_EXITS:
        return "traceback", f"{cmd}: exit {r.code}: {last}"
    errors = [line for line in lines if line.startswith("tinyship: error:")]
    if len(errors) != 1 or len(errors[0]) > 2000:
        return "traceback", f"{cmd}: exit {r.code} without one bounded error line: {last}"
    return "rejected", f"{cmd}: exit {r.code}: {errors[0][:300]}"
