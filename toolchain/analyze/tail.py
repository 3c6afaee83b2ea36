"""The persistent part of the TFLM arena ("tail"), estimated for a given target.

TFLM allocates at the top of the arena, growing down, everything that lives as
long as the interpreter: its allocator objects, one TfLiteEvalTensor per tensor,
one NodeAndRegistration per operator, each operator's parsed builtin options and
its kernel's OpData (plus per-channel multipliers), scratch-buffer handles,
variable tensors and the TfLiteTensor structs of the model inputs and outputs.
We replay that allocation sequence of TFLM (commit 90b983c, reference kernels)
with struct layouts computed for the target's pointer size. Struct contents are
facts read from TFLM's headers; the code is our own.

Two targets matter: the 32-bit device (plain MicroInterpreter, no compression
support) and the 64-bit host (the `tflite_micro` Python package: a recording
allocator, built with compression support), which `--measure` checks exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolchain.analyze.arena import ALIGNMENT, eval_tensor_bytes, scratch_requests
from toolchain.model import Model, Operator, Subgraph


@dataclass(frozen=True)
class Target:
    name: str
    pointer: int  # bytes
    enum: int  # sizeof a C enum: 1 with arm-none-eabi-gcc's default -fshort-enums, 4 on the host
    recording: bool  # RecordingMicroAllocator (the Python interpreter) instead of MicroAllocator
    compression: bool  # built with USE_TFLM_COMPRESSION
    builtin_data: tuple[tuple[str, str], ...] = ()  # (op, layout) where this build's parsed options differ

    def layout(self, fields: str) -> tuple[int, int]:
        """(sizeof, alignof) of a C struct whose fields are coded one letter each:
        p pointer/size_t/intptr_t, d double, i 32-bit int/float, e C enum, h int16, b bool/int8/uint8 enum class.
        A '|' starts the fields that exist only with compression support."""
        plain, _, extra = fields.partition("|")
        code = plain + (extra if self.compression else "")
        sizes = {"p": self.pointer, "e": self.enum, "d": 8, "i": 4, "h": 2, "b": 1}
        offset, align = 0, 1
        for ch in code.replace(" ", ""):
            n = sizes[ch]
            offset = _up(offset, n) + n
            align = max(align, n)
        return _up(offset, align), align


TARGET_32 = Target("cortex-m (32-bit, arm-none-eabi-gcc)", 4, 1, recording=False, compression=False)
# The tflite_micro wheel is newer than 90b983c: its ParseFullyConnected allocates 32 bytes, 8-aligned
# (read from the wheel's machine code), where 90b983c's TfLiteFullyConnectedParams has 16.
HOST_64 = Target("host (64-bit, tflite_micro package)", 8, 4, recording=True, compression=True,
                 builtin_data=(("FULLY_CONNECTED", "eebbe pp"),))

# Allocator objects (vtable pointers included).
_SINGLE_ARENA_ALLOCATOR = "pp ppppp p i"
_RECORDING_ARENA_EXTRA = "pppp"
_GREEDY_PLANNER = "p ii pppp ii p b"
_MICRO_ALLOCATOR = "p pp p p b p p p"
_RECORDED_ALLOCATION = "ppp"
_BUILTIN_DATA_ALLOCATOR = "pp"
_SUBGRAPH_ALLOCATIONS = "pp|p"
_EVAL_TENSOR = "ppe"
_NODE_AND_REGISTRATION = "pppppp i p"
_TFLITE_TENSOR = "ep ii p p p e e b"  # TF_LITE_STATIC_MEMORY layout
_AFFINE_QUANTIZATION = "ppi"

# Parsed builtin options (flatbuffer_conversions.cc); ops not listed allocate none.
_BUILTIN_DATA = {
    "CONV_2D": "eiieiie", "DEPTHWISE_CONV_2D": "eiiieii", "FULLY_CONNECTED": "eebbe", "AVERAGE_POOL_2D": "eiiiie iiii",
    "MAX_POOL_2D": "eiiiie iiii", "L2_POOL_2D": "eiiiie iiii", "RESHAPE": "iiiiiiii i", "SOFTMAX": "i", "ADD": "eb",
    "SUB": "eb", "MUL": "e", "CONCATENATION": "ie", "MEAN": "b", "SUM": "b", "REDUCE_MAX": "b", "REDUCE_MIN": "b",
    "REDUCE_PROD": "b", "LEAKY_RELU": "i", "SQUEEZE": "iiiiiiii i", "STRIDED_SLICE": "iiiiib", "PACK": "ii",
    "UNPACK": "ii", "SPLIT": "i", "SPLIT_V": "i", "GATHER": "ii", "TRANSPOSE_CONV": "eiiee", "SHAPE": "e",
    "DIV": "e", "ARG_MAX": "e", "ARG_MIN": "e", "RESIZE_BILINEAR": "bb", "RESIZE_NEAREST_NEIGHBOR": "bb",
}
_OPDATA_CONV = "iiii iiiii pp ii i|ii"
# Kernel OpData allocated in Init (always with the arena alignment).
_OPDATA = {
    "CONV_2D": _OPDATA_CONV, "DEPTHWISE_CONV_2D": _OPDATA_CONV, "FULLY_CONNECTED": "iiiiiiii i pp b|ii",
    "AVERAGE_POOL_2D": "iiii iiii", "MAX_POOL_2D": "iiii iiii", "L2_POOL_2D": "iiii iiii",
    "SOFTMAX": "d iiiiiii ppppp", "ADD": "b iiiiiiiiiiiiii", "SUB": "b iiiiiiiiiiiiii", "MUL": "iiiiiiiii",
    "QUANTIZE": "id iii", "DEQUANTIZE": "di iii", "RELU": "b iiiiii", "RELU6": "ii", "LEAKY_RELU": "iiiiii",
    "HARD_SWISH": "hhh i h i hh", "LOGISTIC": "iiii", "TANH": "iiii", "MEAN": "iiiiiiiiiii", "SUM": "iiiiiiiiiii",
    "REDUCE_MAX": "iiiiiiiiiii", "REDUCE_MIN": "iiiiiiiiiii", "CONCATENATION": "b pp h i i|iiiiiiiiii",
    "PAD": "b iiiii b iiiii b i", "PADV2": "b iiiii b iiiii b i",
    "STRIDED_SLICE": "b iiiii b iiiii b iiiii hhhhh",
    "TRANSPOSE_CONV": "b hhhh hhhh iiiiiiiii ii pp|ii",  # ConvParams, two scratch indexes, per-channel arrays
}


def _up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


@dataclass
class TailEstimate:
    target: str
    total: int
    categories: dict[str, int]  # bytes per category, alignment overhead included
    unknown_ops: list[str]  # ops whose kernel allocations are not modeled

    def to_dict(self) -> dict:
        return {"target": self.target, "bytes": self.total, "categories": self.categories,
                "unmodeled_ops": self.unknown_ops}


class _Tail:
    """Replays persistent allocations from a 16-aligned arena end, growing down."""

    def __init__(self):
        self.tail = 0
        self.categories: dict[str, int] = {}

    def alloc(self, category: str, size: int, align: int) -> None:
        new = (self.tail - size) // align * align  # AlignPointerDown(tail - size)
        self.categories[category] = self.categories.get(category, 0) + self.tail - new
        self.tail = new

    def struct(self, category: str, target: Target, fields: str, count: int = 1) -> None:
        size, align = target.layout(fields)
        self.alloc(category, size * count, align)


def estimate_tail(model: Model, target: Target) -> TailEstimate:
    """Bytes of the arena tail TFLM allocates for `model` on `target`."""
    t = _Tail()
    unknown: list[str] = []
    # MicroAllocator::Create: buffer allocator, memory planner, allocator.
    arena_alloc = _SINGLE_ARENA_ALLOCATOR + (_RECORDING_ARENA_EXTRA if target.recording else "")
    allocator = _MICRO_ALLOCATOR
    if target.recording:
        recorded = 7 + (1 if target.compression else 0)
        allocator += " p" + _RECORDED_ALLOCATION * recorded
    t.struct("allocator objects", target, arena_alloc)
    t.struct("allocator objects", target, _GREEDY_PLANNER)
    t.struct("allocator objects", target, allocator)
    # StartModelAllocation.
    t.struct("allocator objects", target, _BUILTIN_DATA_ALLOCATOR)
    t.struct("allocator objects", target, _SUBGRAPH_ALLOCATIONS, len(model.subgraphs))
    for sg in model.subgraphs:
        t.struct("TfLiteEvalTensor", target, _EVAL_TENSOR, len(sg.tensors))
    for sg in model.subgraphs:
        if sg.operators:
            t.struct("NodeAndRegistration", target, _NODE_AND_REGISTRATION, len(sg.operators))
    # Builtin options, then kernel Init, then kernel Prepare, over all subgraphs.
    ops = [(sg, op) for sg in model.subgraphs for op in sg.operators]
    builtin_data = _BUILTIN_DATA | dict(target.builtin_data)
    for _, op in ops:
        if builtin_data.get(op.op):
            t.struct("builtin options", target, builtin_data[op.op])
    for _, op in ops:
        if op.op in _OPDATA:
            t.alloc("kernel OpData", target.layout(_OPDATA[op.op])[0], ALIGNMENT)
        elif op.op not in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "SHAPE", "MAXIMUM", "MINIMUM") and op.op not in unknown:
            unknown.append(op.op)
    for sg, op in ops:
        for n in _prepare_allocations(sg, op):
            t.alloc("kernel OpData", n, ALIGNMENT)
    # FinishModelAllocation: scratch handles and variable tensors.
    n_scratch = sum(len(scratch_requests(sg, op)) for sg, op in ops)
    if n_scratch:
        t.struct("scratch buffer handles", target, "p", n_scratch)
    for sg in model.subgraphs:
        for tensor in sg.tensors:
            if tensor.is_variable:
                t.alloc("variable tensors", eval_tensor_bytes(tensor), ALIGNMENT)
    # The interpreter's input and output TfLiteTensors.
    for indexes in (model.main.inputs, model.main.outputs):
        t.alloc("I/O tensors", target.pointer * len(indexes), ALIGNMENT)
        for i in indexes:
            t.struct("I/O tensors", target, _TFLITE_TENSOR)
            q = model.main.tensors[i].quantization
            if q is not None and q.scale:
                t.struct("I/O tensors", target, _AFFINE_QUANTIZATION)
                t.alloc("I/O tensors", 4 + 4 * len(q.scale), 4)
    return TailEstimate(target.name, -t.tail, t.categories, unknown)


def _prepare_allocations(sg: Subgraph, op: Operator) -> list[int]:
    """Persistent buffers a reference kernel allocates in Prepare: per-channel multipliers and shifts."""
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV") and len(op.inputs) >= 2:
        w = sg.tensors[op.inputs[1]]
        channels = w.shape[3 if op.op == "DEPTHWISE_CONV_2D" else 0] if len(w.shape) == 4 else 0
        return [4 * channels] * 2
    if op.op == "FULLY_CONNECTED" and len(op.inputs) >= 2:
        q = sg.tensors[op.inputs[1]].quantization
        if q is not None and len(q.scale) > 1:
            return [4 * len(q.scale)] * 2
    if op.op == "SOFTMAX" and sg.tensors[op.inputs[0]].dtype == "int16":
        return [2 * 513] * 2
    return []
