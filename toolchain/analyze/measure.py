"""Ask the real TFLM interpreter how much arena a model needs (the oracle for the plan).

Like SiLabs MLTK's arena-size search: allocate and invoke with a shrinking arena
(binary search) and keep the smallest that works, then read head and tail from
the RecordingMicroAllocator report that `print_allocations()` writes to fd 2.
These are 64-bit host figures.

The search runs in a child process (`toolchain.isolated`, as the host reference of
profile does): TFLM is C++ and a corrupt model can crash it, which must end in a clean
error here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from toolchain.errors import ModelError
from toolchain.model import Model

_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_CATEGORY = re.compile(r"'([^']+)' used (\d+) bytes with alignment overhead \(requested (\d+) bytes for (\d+)")
MAX_STEPS = 16
TIMEOUT_S = 300


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


def measure_arena(model: Model) -> Measurement:
    """Binary-search the smallest working arena (at most MAX_STEPS interpreter runs past the bracket).

    Raises:
        ModelError: TFLM refuses the model, fails on it, crashes or runs past TIMEOUT_S.
    """
    from toolchain import isolated

    result = isolated.call("toolchain.analyze.measure:_search", model.raw, model_name=model.name, timeout=TIMEOUT_S)
    if "error" in result:
        raise ModelError(f"TFLM cannot run this model: {result['error']}",
                         "only models TFLM runs (int8 or pure float, supported ops) can be measured")
    return Measurement(**result)


def _try(raw: bytes, inputs, arena: int, log: list | None = None):
    """The interpreter if the model allocates and invokes with `arena` bytes, else None."""
    from tflite_micro.python.tflite_micro import runtime

    from toolchain.reference import capture_c_output

    it = None
    with capture_c_output(2) as box:  # TFLM logs allocation failures on stderr
        try:
            it = runtime.Interpreter.from_bytes(raw, arena_size=arena)
            for i, x in enumerate(inputs):
                it.set_input(x, i)
            it.invoke()
        except Exception:  # noqa: BLE001 - any failure inside TFLM or its Python wrapper means "does not run"
            it = None
    if log is not None:
        log.append(box[0])
    return it


def _search(raw: bytes) -> dict:
    """The measurement as a dict, or {"error": TFLM's first message} (runs in a `toolchain.isolated` child)."""
    import numpy as np

    from toolchain.model import load_model
    from toolchain.reference import capture_c_output

    model = load_model(raw)

    inputs = [np.zeros(t.shape, dtype=t.dtype) for t in model.main.input_tensors()]
    big = max(1 << 22, 16 * model.size)
    log: list[str] = []
    if _try(model.raw, inputs, big, log) is None:
        return {"error": next((ln.strip() for ln in log[0].splitlines() if ln.strip()), "no message")}
    lo, hi = 0, 1 << 12  # lo: known to fail (or zero), hi: known to work
    while hi < big and _try(model.raw, inputs, hi) is None:
        lo, hi = hi, hi * 2
    steps = 0
    while hi - lo > 16 and steps < MAX_STEPS:
        mid = (lo + hi) // 2 // 16 * 16
        if mid <= lo:
            break
        if _try(model.raw, inputs, mid) is None:
            lo = mid
        else:
            hi = mid
        steps += 1
    it = _try(model.raw, inputs, hi)
    with capture_c_output(2) as box:
        it.print_allocations()
    values = {k: int(v) for k, v in _LINE.findall(box[0])}
    cats = {name: {"used": int(u), "requested": int(r), "count": int(c)} for name, u, r, c in _CATEGORY.findall(box[0])}
    return {"min_arena": hi, "head": values.get("head", 0), "tail": values.get("tail", 0),
            "total": values.get("total", 0), "categories": cats, "steps": steps}

