"""Per-layer figures: output shape, parameters and multiply-accumulates."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from toolchain.model import Model, Operator, Subgraph

FLOAT_TYPES = frozenset({"float32", "float16", "float64", "bfloat16"})


@dataclass
class Layer:
    index: int
    op: str
    version: int
    output_shape: list[int]
    dtype: str  # of the first output
    params: int  # elements of the constant inputs (weights, bias)
    macs: int
    keras_layer: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def op_macs(sg: Subgraph, op: Operator) -> int:
    """Multiply-accumulates of one inference of `op` (0 for ops that do no MACs)."""
    if not op.outputs or len(op.inputs) < 2 or op.inputs[1] < 0:
        return 0
    out = sg.tensors[op.outputs[0]]
    w = sg.tensors[op.inputs[1]]
    if op.op == "CONV_2D" and len(w.shape) == 4:  # filter [Cout, kh, kw, Cin]
        return out.size * w.shape[1] * w.shape[2] * w.shape[3]
    if op.op == "DEPTHWISE_CONV_2D" and len(w.shape) == 4:  # filter [1, kh, kw, Cout]
        return out.size * w.shape[1] * w.shape[2]
    if op.op == "FULLY_CONNECTED" and len(w.shape) == 2:  # weights [units, depth]
        return out.size * w.shape[1]
    if op.op == "TRANSPOSE_CONV" and len(op.inputs) >= 3:  # inputs: output shape, filter, input
        w, x = sg.tensors[op.inputs[1]], sg.tensors[op.inputs[2]]
        return x.size * math.prod(w.shape[:3]) if len(w.shape) == 4 else 0
    if op.op == "BATCH_MATMUL":
        a = sg.tensors[op.inputs[0]]
        k = a.shape[-2] if op.options.get("adj_x") and len(a.shape) >= 2 else (a.shape[-1] if a.shape else 1)
        return out.size * k
    return 0


def layers_of(model: Model) -> list[Layer]:
    """One `Layer` per operator of the main subgraph, in execution order."""
    sg = model.main
    result = []
    for op in sg.operators:
        out = sg.tensors[op.outputs[0]] if op.outputs else None
        params = sum(sg.tensors[i].size for i in op.inputs if i >= 0 and sg.tensors[i].is_constant)
        result.append(Layer(op.index, op.op, op.version, list(out.shape) if out else [], out.dtype if out else "",
                            params, op_macs(sg, op), model.op_layer(sg, op)))
    return result


def constant_tensors(model: Model):
    """Each constant tensor once (tensors sharing a buffer are counted once)."""
    seen = set()
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.is_constant and t.buffer not in seen:
                seen.add(t.buffer)
                yield t


def is_fully_int8(model: Model) -> bool:
    """No float tensor anywhere, and every operator outputs int8."""
    if any(t.dtype in FLOAT_TYPES for sg in model.subgraphs for t in sg.tensors):
        return False
    return all(sg.tensors[i].dtype == "int8" for sg in model.subgraphs for op in sg.operators for i in op.outputs)
