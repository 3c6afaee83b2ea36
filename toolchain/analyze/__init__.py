"""`tinyship analyze`: what a .tflite model costs and where it can run.

Layers, MACs and params; TFLM's arena plan (head) and persistent part (tail);
the op resolver; which engines support it; whether it fits a board. Never imports
TensorFlow: the model is read from its flatbuffer (toolchain.model).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolchain import api_module
from toolchain.analyze.arena import ALIGNMENT, ArenaPlan, align_up, plan_arena
from toolchain.analyze.fit import BoardFit, board_fit
from toolchain.analyze.layers import Layer, constant_tensors, is_fully_int8, layers_of
from toolchain.analyze.measure import Measurement, measure_arena
from toolchain.analyze.support import EngineSupport, engine_support
from toolchain.analyze.tail import HOST_64, TARGET_32, TailEstimate, estimate_tail
from toolchain.model import Model, load_model
from toolchain.validate import check_structure

SCHEMA_VERSION = 1

__all__ = ["Analysis", "analyze"]


@dataclass
class Analysis:
    model: Model
    engine: str
    layers: list[Layer]
    plan: ArenaPlan
    tail_32: TailEstimate
    tail_64: TailEstimate
    support: dict[str, EngineSupport]
    fit: BoardFit | None = None
    measured: Measurement | None = None
    notes: list[str] = field(default_factory=list)
    kernels: list[dict] | None = None  # aot on a board: which kernel runs each layer (aot_opt.layer_kernels)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(t.size for t in constant_tensors(self.model))

    @property
    def weights_bytes(self) -> int:
        return sum(t.nbytes for t in constant_tensors(self.model))

    @property
    def fully_int8(self) -> bool:
        return is_fully_int8(self.model)

    @property
    def arena_32(self) -> int:
        """Head + 32-bit tail, what TFLM's `arena_used_bytes()` reports on a Cortex-M."""
        return align_up(self.plan.head + self.tail_32.total, ALIGNMENT)

    @property
    def peak_layer(self) -> int | None:
        """Index of the operator at which the planned arena is fullest (None: before any op)."""
        scope = self.plan.peak_scope
        return scope - 1 if 1 <= scope <= len(self.layers) else None

    def check_fit(self) -> None:
        """Raise DoesNotFitError if a board was given and the model does not fit it."""
        if self.fit is not None:
            self.fit.check()

    def timeline(self) -> list[dict]:
        """Per operator: the planned buffers live while it runs and how far into the arena they reach."""
        rows = []
        for layer in self.layers:
            scope = layer.index + 1
            live = self.plan.live_at(scope)
            rows.append({"layer": layer.index, "op": layer.op, "live_bytes": sum(b.size for b in live),
                         "extent": self.plan.extent_at(scope),
                         "live": [b.tensor if b.tensor is not None else f"scratch:{b.op}" for b in live]})
        return rows

    def _layer_dict(self, layer: Layer) -> dict:
        d = layer.to_dict()
        if self.kernels is not None:
            choice = next((k for k in self.kernels if k["index"] == layer.index), {"kernel": None, "reason": None})
            d.update(kernel=choice["kernel"], reason=choice["reason"])
        return d

    def to_dict(self) -> dict:
        """The `--json` document (schema in docs/analyze.md)."""
        m = self.model
        return {
            "schema_version": SCHEMA_VERSION,
            "model": {"name": m.name, "path": str(m.path) if m.path else None, "bytes": m.size,
                      "crc32": f"{m.crc32:08x}", "subgraphs": len(m.subgraphs), "ops": m.op_names(),
                      "inputs": [_io(t) for t in m.main.input_tensors()],
                      "outputs": [_io(t) for t in m.main.output_tensors()]},
            "totals": {"layers": len(self.layers), "params": self.params, "macs": self.macs,
                       "weights_bytes": self.weights_bytes, "flatbuffer_bytes": m.size, "fully_int8": self.fully_int8},
            "layers": [self._layer_dict(layer) for layer in self.layers],
            "arena": {
                "head": self.plan.head,
                "tail_32": self.tail_32.to_dict(),
                "tail_64": self.tail_64.to_dict(),
                "total_32": self.arena_32,
                "total_64": align_up(self.plan.head + self.tail_64.total, ALIGNMENT),
                "alignment": ALIGNMENT,
                "peak_layer": self.peak_layer,
                "offline_plan": self.plan.offline,
                "buffers": [{"name": b.name, "tensor": b.tensor, "op": b.op, "subgraph": b.subgraph, "bytes": b.size,
                             "first": b.first, "last": b.last, "offset": b.offset} for b in self.plan.buffers],
                "timeline": self.timeline(),
                "notes": self.plan.notes,
            },
            "measured": self.measured.to_dict() if self.measured else None,
            "engine": self.engine,
            "engines": {name: s.to_dict() for name, s in self.support.items()},
            "board": self.fit.to_dict() if self.fit else None,
            "notes": self.notes,
        }


def _io(t) -> dict:
    q = t.quantization
    return {"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
            "scale": q.scale[0] if q and not q.per_channel else None,
            "zero_point": q.zero_point[0] if q and not q.per_channel else None}


def analyze(model, *, board: str | None = None, engine: str = "tflm", measure: bool = False) -> Analysis:
    """Analyze `model` (path, bytes or `Model`) for `engine`, optionally against `board`.

    `measure=True` also runs the TFLM interpreter to find the smallest working arena.
    A board the model does not fit is reported in `.fit`; `check_fit()` raises for it.

    Raises:
        ModelError: not a readable .tflite (exit code 2).
        InputError: unknown engine or board (exit code 2).
    """
    from toolchain.engines import get_engine

    get_engine(engine)
    m = check_structure(model if isinstance(model, Model) else load_model(model))
    result = Analysis(m, engine, layers_of(m), plan_arena(m), estimate_tail(m, TARGET_32), estimate_tail(m, HOST_64),
                      engine_support(m))
    if result.tail_32.unknown_ops:
        result.notes.append("the tail estimate leaves out the kernel OpData of "
                            + ", ".join(result.tail_32.unknown_ops) + " (not modeled)")
    if len(m.subgraphs) > 1:
        result.notes.append(f"{len(m.subgraphs)} subgraphs: layers list the main one, the arena plan covers all")
    if board is not None:
        result.fit = board_fit(result, board)
        if not result.fit.engine_allowed:
            result.notes.append(f"the catalog does not list engine {engine} for board {board}")
        if engine == "aot":
            from toolchain.boards import load_board
            from toolchain.codegen.aot_opt import model_kernels

            result.kernels = model_kernels(m, load_board(board).features)
    if measure:
        result.measured = measure_arena(m)
    return result


api_module(__name__)
