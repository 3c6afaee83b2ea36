"""Static activation-arena planner of the aot engine.

Every non-constant tensor gets an offset into one arena. Two tricks beat TFLM's
greedy plan: a reshape output aliases its input (no bytes, no copy), and an
element-wise op whose input dies at that op writes its output over the input
(in place). The remaining buffers are placed greedily (largest first, lowest
offset that does not collide with a buffer alive at the same time), trying a
few orders and keeping the smallest arena. A kernel's scratch (Step.scratch) is a buffer alive
during its step only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALIGN = 16


@dataclass
class Buffer:
    tensors: list  # tensor indices, or ("scratch", step) for a step's scratch
    size: int
    first: int  # first step it is alive (-1: before the first op, i.e. a model input)
    last: int
    offset: int = 0


@dataclass
class Step:
    """One op as the planner sees it."""

    inputs: list[int]  # non-constant tensor indices read
    outputs: list[int]
    alias: bool = False  # output 0 is input 0 (reshape)
    inplace: bool = False  # output 0 may overwrite input 0
    scratch: int = 0  # bytes of kernel scratch alive during this step only


@dataclass
class Plan:
    arena_size: int
    offsets: dict[int, int]  # tensor index -> arena offset
    buffers: list[Buffer] = field(default_factory=list)
    scratch: dict[int, int] = field(default_factory=dict)  # step index -> offset of its scratch


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_arena(steps: list[Step], nbytes: dict[int, int], inputs: list[int], outputs: list[int]) -> Plan:
    """Offsets for every tensor in `nbytes` (activation tensor index -> bytes)."""
    owner = {t: t for t in nbytes}  # tensor -> representative of its shared buffer

    def root(t):
        while owner[t] != t:
            t = owner[t]
        return t

    last_use = {}
    for i, s in enumerate(steps):
        for t in s.inputs:
            last_use[t] = i
    pinned = set(inputs) | set(outputs)
    for s_index, s in enumerate(steps):
        if not s.inputs or not s.outputs:
            continue
        src, dst = s.inputs[0], s.outputs[0]
        if s.alias:
            owner[dst] = root(src)
        elif s.inplace and nbytes[dst] <= nbytes[root(src)]:
            group = [t for t in nbytes if root(t) == root(src)]
            others_safe = all(t == src or root(t) != root(src) for t in s.inputs[1:])  # x*x is fine, x*view(x) not
            if others_safe and all(t not in pinned and last_use.get(t, -1) <= s_index for t in group):
                owner[dst] = root(src)

    groups: dict[int, Buffer] = {}
    for i, s in enumerate(steps):
        for t in s.inputs + s.outputs:
            r = root(t)
            b = groups.setdefault(r, Buffer([], nbytes[r], i, i))
            if t not in b.tensors:
                b.tensors.append(t)
            b.size = max(b.size, nbytes[t])
            b.first, b.last = min(b.first, i), max(b.last, i)
    for t in inputs:
        if t in nbytes:
            b = groups.setdefault(root(t), Buffer([t], nbytes[t], -1, -1))
            b.first = -1
    for t in outputs:
        if t in nbytes:
            groups[root(t)].last = len(steps)
    buffers = list(groups.values())
    scratch = {i: Buffer([("scratch", i)], s.scratch, i, i) for i, s in enumerate(steps) if s.scratch > 0}
    buffers += scratch.values()

    best = None
    orders = [
        sorted(buffers, key=lambda b: (-b.size, b.first)),
        sorted(buffers, key=lambda b: (b.first, -b.size)),
        sorted(buffers, key=lambda b: (-(b.last - b.first), -b.size)),
    ]
    for order in orders:
        offsets = _place(order)
        size = max((offsets[id(b)] + _align(b.size) for b in buffers), default=0)
        if best is None or size < best[0]:
            best = (size, offsets)
    size, offsets = best
    for b in buffers:
        b.offset = offsets[id(b)]
    tensor_offsets = {t: groups[root(t)].offset for t in nbytes if root(t) in groups}
    return Plan(size, tensor_offsets, sorted(buffers, key=lambda b: (b.offset, b.first)),
                {i: b.offset for i, b in scratch.items()})


def _place(order: list[Buffer]) -> dict[int, int]:
    placed: list[tuple[int, int, Buffer]] = []
    offsets = {}
    for b in order:
        busy = sorted((off, off + _align(o.size)) for off, _, o in placed if not (o.last < b.first or b.last < o.first))
        offset = 0
        for lo, hi in busy:
            if offset + _align(b.size) <= lo:
                break
            offset = max(offset, hi)
        offsets[id(b)] = offset
        placed.append((offset, 0, b))
    return offsets


def ascii_layout(plan: Plan, names: dict[int, str], steps: int, width: int = 48) -> list[str]:
    """Lines of an ASCII picture: one row per buffer, columns are layers (time)."""
    lines = [f"offset    bytes   layers 0..{steps - 1} ('#' = alive)"]
    for b in plan.buffers:
        row = "".join("#" if b.first <= i <= b.last else "." for i in range(steps))
        if len(row) > width:
            row = row[:width - 3] + "..."
        label = ", ".join(names[t] for t in b.tensors)
        lines.append(f"{b.offset:>7} {b.size:>8}   |{row}|  {label}")
    lines.append(f"{plan.arena_size:>7}          end of arena")
    return lines
