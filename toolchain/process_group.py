"""External programs (make and its compilers, uploaders, emulators) in their own process group.

A SIGTERM sent to tinyship alone, a Ctrl-C, or a deadline must stop the program and everything it
started (make's compilers, PlatformIO's uploader). Each program leads a new process group; `end`
sends SIGTERM to the whole group (make deletes the target it was writing), then SIGKILL after a
grace period. On Linux the kernel also SIGKILLs the leader when tinyship dies without cleaning up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

from toolchain import stops


def die_with_parent() -> None:
    """Runs in the child before exec: on Linux, have the kernel SIGKILL it when the parent dies,
    so even a SIGKILLed tinyship leaves no orphan emulator or compiler driver behind."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def popen(cmd: list[str], **kw) -> subprocess.Popen:
    """`subprocess.Popen(cmd, **kw)` as the leader of a new process group (see `end`), unless a
    Ctrl-C or SIGTERM was lost on the way (toolchain.stops): then it raises that instead."""
    stops.check()
    return subprocess.Popen(cmd, start_new_session=True,
                            preexec_fn=die_with_parent if sys.platform == "linux" else None, **kw)


def end(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """End `proc`'s process group: SIGTERM, up to `grace` s for the leader to exit, then SIGKILL
    to whatever of the group is left. Harmless on a group that has already gone."""
    _signal_group(proc, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def run(cmd: list[str], *, timeout: float, **kw) -> subprocess.CompletedProcess:
    """Like `subprocess.run(cmd, timeout=timeout, **kw)`, but in a new process group that is ended
    (`end`) when the deadline passes or an exception (Ctrl-C, SIGTERM) interrupts the wait.

    Raises:
        subprocess.TimeoutExpired: `cmd` ran past `timeout` seconds (its group is ended first).
    """
    with popen(cmd, **kw) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            end(proc)
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
