"""Ask the real TFLM interpreter how much arena a model needs (the oracle for the plan).

Like SiLabs MLTK's arena-size search: allocate and invoke with a shrinking arena
(binary search) and keep the smallest that works, then read head and tail from
the RecordingMicroAllocator report that `print_allocations()` writes to fd 2.
These are 64-bit host figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from toolchain.errors import ModelError
from toolchain.model import Model
from toolchain.reference import capture_c_output

_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_CATEGORY = re.compile(r"'([^']+)' used (\d+) bytes with alignment overhead \(requested (\d+) bytes for (\d+)")
MAX_STEPS = 16


@dataclass
class Measurement:
    min_arena: int  # smallest arena size (bytes) with which TFLM allocates and invokes
    head: int
    tail: int
    total: int
    categories: dict[str, dict] = field(default_factory=dict)  # tail categories as TFLM records them
    steps: int = 0

    def to_dict(self) -> dict:
        return {"min_arena": self.min_arena, "head": self.head, "tail": self.tail, "total": self.total,
                "categories": self.categories, "search_steps": self.steps}


def _try(model: Model, arena: int, log: list | None = None):
    """The interpreter if `model` allocates and invokes with `arena` bytes, else None."""
    from tflite_micro.python.tflite_micro import runtime

    it = None
    with capture_c_output(2) as box:  # TFLM logs allocation failures on stderr
        try:
            it = runtime.Interpreter.from_bytes(model.raw, arena_size=arena)
            for i, t in enumerate(model.main.input_tensors()):
                it.set_input(np.zeros(t.shape, dtype=t.dtype), i)
            it.invoke()
        except (RuntimeError, ValueError):
            it = None
    if log is not None:
        log.append(box[0])
    return it


def measure_arena(model: Model) -> Measurement:
    """Binary-search the smallest working arena (at most MAX_STEPS interpreter runs past the bracket)."""
    big = max(1 << 22, 16 * model.size)
    log: list[str] = []
    if _try(model, big, log) is None:
        why = next((ln.strip() for ln in log[0].splitlines() if ln.strip()), "no message")
        raise ModelError(f"TFLM cannot run this model: {why}",
                         "only models TFLM runs (int8 or pure float, supported ops) can be measured")
    lo, hi = 0, 1 << 12  # lo: known to fail (or zero), hi: known to work
    while hi < big and _try(model, hi) is None:
        lo, hi = hi, hi * 2
    steps = 0
    while hi - lo > 16 and steps < MAX_STEPS:
        mid = (lo + hi) // 2 // 16 * 16
        if mid <= lo:
            break
        if _try(model, mid) is None:
            lo = mid
        else:
            hi = mid
        steps += 1
    it = _try(model, hi)
    with capture_c_output(2) as box:
        it.print_allocations()
    values = {k: int(v) for k, v in _LINE.findall(box[0])}
    cats = {name: {"used": int(u), "requested": int(r), "count": int(c)} for name, u, r, c in _CATEGORY.findall(box[0])}
    return Measurement(hi, values.get("head", 0), values.get("tail", 0), values.get("total", 0), cats, steps)
