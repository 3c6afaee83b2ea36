"""Ctrl-C and SIGTERM as exceptions that stay raised.

The CLI installs `on_signal` for SIGINT and SIGTERM: the exception it raises (KeyboardInterrupt,
or `Terminated` for SIGTERM) unwinds the stack, so `finally` blocks stop emulators and compilers
and the partial report is written. But a handler that runs while a destructor (`__del__`) runs
raises where Python ignores it (measured: TensorFlow's converter calls gc.collect(), whose
destructors call into C; a SIGTERM then was lost and convert wrote its outputs, exit 0). So the
signal is also remembered: `check()` raises it again at the checkpoints before a result is used
or an output written, and `translated()` turns the error a dependency made of it (measured: a
SIGTERM inside TensorFlow's C++ attribute lookups came out as an AttributeError) back into it.
"""

from __future__ import annotations

import contextlib
import signal

from toolchain.errors import Terminated

_pending: type[KeyboardInterrupt] | None = None


def on_signal(signum, frame) -> None:
    global _pending
    _pending = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    raise _pending()


def install() -> None:
    """Route SIGINT and SIGTERM through `on_signal` (main thread only)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)


def check() -> None:
    """Raise again a Ctrl-C or SIGTERM that arrived earlier (no-op when none did)."""
    if _pending is not None:
        raise _pending()


@contextlib.contextmanager
def translated():
    """Inside: an exception that leaves after a Ctrl-C or SIGTERM arrived leaves as that stop."""
    try:
        yield
    except Exception as e:
        if _pending is None or isinstance(e.__cause__, KeyboardInterrupt):  # no stop, or its wrapper (click's Abort)
            raise
        raise _pending() from e
