"""The non-persistent arena ("head") as TFLite Micro plans it.

Reproduces, from the flatbuffer alone, what TFLM (commit 90b983c) does in
`MicroAllocator::CommitStaticMemoryPlan`: tensor lifetimes over allocation scopes
(`AllocationInfoBuilder`), the scratch buffers reference kernels request in
Prepare, the offline plan in the `OfflineMemoryAllocation` metadata if present,
and the offsets chosen by `GreedyMemoryPlanner`. Facts taken from TFLM's sources;
the code is our own.

Scopes: the subgraph inputs are created at scope 0, operator i of the main
subgraph runs at scope i + 1 (control-flow subgraphs get their own scopes), and
the subgraph outputs live until the last scope.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property

from toolchain.errors import ModelError
from toolchain.model import Model, Operator, Subgraph, Tensor

ALIGNMENT = 16  # MicroArenaBufferAlignment()
MAX_BUFFERS = 2048  # far more than any microcontroller model; bounds the quadratic planner on hostile files
ONLINE = -1  # kOnlinePlannedBuffer
OFFLINE_METADATA = "OfflineMemoryAllocation"
_CONTROL_FLOW = {"IF": ("then_subgraph_index", "else_subgraph_index"), "WHILE": ("cond_subgraph_index", "body_subgraph_index"),
                 "CALL_ONCE": ("init_subgraph_index",)}
_TYPE_SIZE = {"float32": 4, "float16": 2, "float64": 8, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4,
              "uint32": 4, "int64": 8, "uint64": 8, "bool": 1, "complex64": 8, "complex128": 16, "int4": 1, "bfloat16": 2}
# Ops whose TFLM kernels request scratch buffers we do not model (the head may then be low).
UNMODELED_SCRATCH = frozenset({"ADD_N", "MIRROR_PAD", "SVDF", "UNIDIRECTIONAL_SEQUENCE_LSTM",
                               "CUSTOM:TFLite_Detection_PostProcess"})


def align_up(n: int, a: int = ALIGNMENT) -> int:
    return (n + a - 1) // a * a


@dataclass
class Buffer:
    """One entry of the memory plan: a tensor or a kernel's scratch buffer."""

    name: str
    size: int  # bytes, aligned to 16
    first: int  # first scope in which it is live
    last: int  # last scope in which it is live
    subgraph: int
    tensor: int | None = None  # tensor index, None for a scratch buffer
    op: int | None = None  # operator that requested the scratch buffer
    offline_offset: int = ONLINE
    offset: int = -1


@dataclass
class ArenaPlan:
    buffers: list[Buffer]
    head: int  # bytes of the non-persistent arena
    scopes: int  # number of allocation scopes (main subgraph: operators + 1)
    offline: bool
    notes: list[str]

    @cached_property
    def _live(self) -> list[list[Buffer]]:
        live: list[list[Buffer]] = [[] for _ in range(self.scopes)]
        for b in self.buffers:
            for s in range(max(b.first, 0), min(b.last, self.scopes - 1) + 1):
                live[s].append(b)
        return live

    def live_at(self, scope: int) -> list[Buffer]:
        return self._live[scope] if 0 <= scope < self.scopes else []

    def extent_at(self, scope: int) -> int:
        """How far into the arena the buffers live at `scope` reach."""
        return max((b.offset + b.size for b in self.live_at(scope)), default=0)

    @property
    def peak_scope(self) -> int:
        """The first operator scope at which the planned buffers reach furthest into the arena.

        Scope 0 (only the inputs exist) never exceeds scope 1, so it is not a candidate."""
        scopes = range(1, self.scopes) if self.scopes > 1 else range(self.scopes)
        return max(scopes, key=lambda s: (self.extent_at(s), -s), default=0)


def eval_tensor_bytes(t: Tensor) -> int:
    """TfLiteEvalTensorByteLength: element count times the element size."""
    return t.size * _TYPE_SIZE.get(t.dtype, 0)


def scratch_requests(sg: Subgraph, op: Operator) -> list[int]:
    """Bytes of each scratch buffer the TFLM reference kernel of `op` requests in Prepare."""
    t = sg.tensors
    if op.op in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD") and len(op.inputs) >= 2:
        x, axis, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
        sizes = [4 * len(x.shape), 4 * axis.size]
        if op.op in ("MEAN", "SUM") and x.dtype in ("int8", "int16"):
            sizes.insert(0, 4 * out.size)
        return sizes
    if op.op == "TRANSPOSE_CONV" and len(op.inputs) >= 3:
        # the products are scattered into an int32 (int8 input) or int64 (int16) copy of the output,
        # and an int16 bias is widened into an int64 one
        x, out = t[op.inputs[2]], t[op.outputs[0]]
        b = t[op.inputs[3]] if len(op.inputs) > 3 and op.inputs[3] >= 0 else None
        if x.dtype == "int8":
            return [4 * out.size]
        if x.dtype == "int16":
            return [8 * out.size] + ([8 * b.size] if b is not None and b.dtype == "int16" else [])
        return []
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(op.inputs) >= 2:
        w = t[op.inputs[1]]
        if w.dtype == "int4":
            return [w.size]
    return []


def offline_offsets(model: Model) -> list[int] | None:
    raw = model.metadata.get(OFFLINE_METADATA)
    if not raw or len(raw) < 12:
        return None
    count = struct.unpack_from("<I", raw, 8)[0]
    if len(raw) < 12 + 4 * count:
        return None
    return list(struct.unpack_from(f"<{count}i", raw, 12))


def plan_arena(model: Model) -> ArenaPlan:
    """The buffers TFLM plans in the head of the arena, with their offsets."""
    notes: list[str] = []
    offline = offline_offsets(model)
    n_tensors = sum(len(sg.tensors) for sg in model.subgraphs)
    if offline is not None and len(offline) != n_tensors:
        notes.append(f"offline plan lists {len(offline)} offsets for {n_tensors} tensors: TFLM rejects it, ignored")
        offline = None
    # One lifetime record per tensor of every subgraph, then one per scratch buffer.
    info: list[list] = []  # [first, last] per tensor, flat over subgraphs
    base = []
    for sg in model.subgraphs:
        base.append(len(info))
        info.extend([-1, -1] for _ in sg.tensors)
    requests = []  # (subgraph, op, bytes) in Prepare order
    for sg in model.subgraphs:
        for op in sg.operators:
            if op.op in UNMODELED_SCRATCH:
                notes.append(f"{op.op} (op {op.index}) may request scratch buffers that are not modeled")
            requests.extend((sg.index, op.index, n) for n in scratch_requests(sg, op))
    scratch = [[-1, -1] for _ in requests]
    scope = [0]

    def first(rec, s):
        if rec[0] == -1:
            rec[0] = s

    def mark(si: int):
        sg = model.subgraphs[si]
        recs = info[base[si]:base[si] + len(sg.tensors)]
        for i in sg.inputs:
            first(recs[i], scope[0])
            recs[i][1] = scope[0]
        for op in sg.operators:
            scope[0] += 1
            for i in op.outputs:
                first(recs[i], scope[0])
            start = scope[0]
            for key in _CONTROL_FLOW.get(op.op, ()):
                child = op.options.get(key, -1)
                if 0 <= child < len(model.subgraphs):
                    scope[0] += 1
                    mark(child)
            for i in op.inputs:
                if i >= 0:
                    recs[i][1] = scope[0]
            for i in op.outputs:
                recs[i][1] = scope[0]
            for k, (rsg, rop, _) in enumerate(requests):
                if rsg == si and rop == op.index:
                    first(scratch[k], start)
                    scratch[k][1] = scope[0]
        for i in sg.outputs:
            first(recs[i], scope[0])
            recs[i][1] = scope[0]

    mark(0)
    buffers = []
    flat = 0
    for sg in model.subgraphs:
        for t in sg.tensors:
            off = offline[flat] if offline else ONLINE
            nbytes = eval_tensor_bytes(t)
            needed = t.data is None and not t.is_variable and nbytes != 0
            if t.is_variable and off != ONLINE:
                needed = True
            if needed:
                f, last = info[flat]
                buffers.append(Buffer(t.name or f"tensor {t.index}", align_up(nbytes), f, last, sg.index,
                                      tensor=t.index, offline_offset=off))
            flat += 1
    for (rsg, rop, n), (f, last) in zip(requests, scratch):
        op = model.subgraphs[rsg].operators[rop]
        buffers.append(Buffer(f"scratch of {op.op} (op {rop})", align_up(n), f, last, rsg, op=rop))
    if len(buffers) > MAX_BUFFERS:
        raise ModelError(f"{len(buffers)} buffers to plan in the arena, more than any microcontroller model has "
                         f"(limit {MAX_BUFFERS})", "check that this is the right model")
    head = greedy_plan(buffers)
    return ArenaPlan(buffers, head, scope[0] + 1, offline is not None, notes)


def greedy_plan(buffers: list[Buffer]) -> int:
    """Assign `offset` to each buffer exactly as TFLM's GreedyMemoryPlanner does; return the arena size.

    Offline-planned buffers come first at their fixed offsets; the others are taken
    largest first (ties: the one added last first, from TFLM's fill-from-tail order
    and stable bubble sort) and put in the first gap, in offset order, that is free
    over their whole lifetime.
    """
    if not buffers:
        return 0
    fixed = [i for i, b in enumerate(buffers) if b.offline_offset != ONLINE]
    online = [i for i, b in enumerate(buffers) if b.offline_offset == ONLINE][::-1]
    online.sort(key=lambda i: -buffers[i].size)  # stable, like ReverseSortInPlace
    placed: list[Buffer] = []  # ordered by offset; equal offsets keep insertion order
    for k, i in enumerate(fixed + online):
        b = buffers[i]
        if b.offline_offset != ONLINE:
            offset = b.offline_offset
        elif k == 0:
            offset = 0
        else:
            offset = 0
            for other in placed:
                if other.first > b.last or b.first > other.last:
                    continue
                if other.offset - offset >= b.size:
                    break
                offset = max(offset, other.offset + other.size)
        b.offset = offset
        pos = len(placed)
        if placed and placed[0].offset > offset:
            pos = 0
        else:
            for j in range(1, len(placed)):
                if placed[j].offset > offset:
                    pos = j
                    break
        placed.insert(pos, b)
    return max(b.offset + b.size for b in buffers)
