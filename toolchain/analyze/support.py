"""Which engines can run a model: the ops each lacks, with the layers that use them."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolchain.analyze.layers import FLOAT_TYPES
from toolchain.engines import ENGINES, Engine
from toolchain.model import Model


@dataclass
class EngineSupport:
    engine: str
    unsupported: list[dict] = field(default_factory=list)  # {"op", "reason", "layers": [{"subgraph", "index", "keras_layer"}]}

    @property
    def supported(self) -> bool:
        return not self.unsupported

    def to_dict(self) -> dict:
        return {"supported": self.supported, "unsupported": self.unsupported}


def _check(model: Model, engine: Engine) -> EngineSupport:
    found: dict[tuple[str, str], list[dict]] = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            if not engine.supports(op.op):
                reason = f"{engine.name} has no {op.op} kernel"
            elif engine.int8_only and any(sg.tensors[i].dtype in FLOAT_TYPES for i in (*op.inputs, *op.outputs)
                                          if i >= 0 and op.op not in ("QUANTIZE", "DEQUANTIZE")):
                reason = f"{engine.name} runs int8 only; this layer has float tensors"
            else:
                continue
            out = sg.tensors[op.outputs[0]].name if op.outputs else ""
            found.setdefault((op.op, reason), []).append(
                {"subgraph": sg.index, "index": op.index, "keras_layer": model.keras_layer(out)})
    return EngineSupport(engine.name, [{"op": op, "reason": reason, "layers": layers}
                                       for (op, reason), layers in found.items()])


def engine_support(model: Model) -> dict[str, EngineSupport]:
    """Support of every known engine for `model`."""
    return {name: _check(model, engine) for name, engine in ENGINES.items()}
