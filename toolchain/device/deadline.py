"""Deadlines: every wait on a device is bounded by one of these, never by a per-line timeout alone.

A `Deadline` is a point in time and what it bounds ("the reply to 'infer 10 1'").
Deadlines nest: a command's deadline is cut short by the session's, and the one
that runs out first is the one an error names.
"""

from __future__ import annotations

import time


class Deadline:
    """`seconds` from now, for `what`; `parent` (another Deadline) may end it earlier."""

    def __init__(self, seconds: float, what: str, parent: "Deadline | None" = None, clock=time.monotonic):
        self.seconds, self.what, self.parent, self._clock = seconds, what, parent, clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        """Seconds left before this deadline or an enclosing one (0 once past)."""
        own = max(0.0, self._end - self._clock())
        return min(own, self.parent.remaining()) if self.parent else own

    def expired(self) -> bool:
        return self.remaining() <= 0

    def binding(self) -> "Deadline":
        """The deadline that ends first: this one or an enclosing one."""
        if self.parent is not None and self.parent.remaining() < max(0.0, self._end - self._clock()):
            return self.parent.binding()
        return self

    def within(self, seconds: float, what: str) -> "Deadline":
        """A nested deadline of `seconds` that this one may cut short."""
        return Deadline(seconds, what, parent=self, clock=self._clock)

    def describe(self) -> str:
        """'the reply to 'name' (3 s)' for the deadline that ends first."""
        d = self.binding()
        return f"{d.what} ({d.seconds:g} s)"
