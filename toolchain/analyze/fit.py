"""Does the model fit a board? Flash: model + engine; RAM: arena + engine.

The engine overheads are estimates (toolchain/engines.py); the arena is the
planned one: head + 32-bit tail for TFLM, the head alone for the aot engine,
which has no interpreter state in its arena. For aot, the model's flash is what the
generator emits (constants + requantization tables, int16 filters on DSP cores) and
the app's input buffer counts as RAM besides the arena.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolchain.errors import DoesNotFitError


@dataclass
class BoardFit:
    board: str
    engine: str
    flash_budget: int
    ram_budget: int
    flash_needed: int
    ram_needed: int
    model_bytes: int
    arena_bytes: int
    engine_flash: int
    engine_ram: int
    engine_allowed: bool  # the board lists the engine in its catalog entry

    @property
    def flash_short(self) -> int:
        return max(0, self.flash_needed - self.flash_budget)

    @property
    def ram_short(self) -> int:
        return max(0, self.ram_needed - self.ram_budget)

    @property
    def fits(self) -> bool:
        return not self.flash_short and not self.ram_short

    def check(self) -> None:
        if self.fits:
            return
        parts = []
        if self.flash_short:
            parts.append(f"flash by {self.flash_short:,} bytes (needs {self.flash_needed:,} of {self.flash_budget:,}: "
                         f"model {self.model_bytes:,} + {self.engine} ~{self.engine_flash:,})")
        if self.ram_short:
            parts.append(f"RAM by {self.ram_short:,} bytes (needs {self.ram_needed:,} of {self.ram_budget:,}: "
                         f"arena {self.arena_bytes:,} + {self.engine} ~{self.engine_ram:,})")
        raise DoesNotFitError(f"the model does not fit {self.board}: over " + " and ".join(parts),
                              "pick a bigger board, a smaller model, or the aot engine")

    def to_dict(self) -> dict:
        return {"id": self.board, "engine": self.engine, "fits": self.fits, "engine_listed": self.engine_allowed,
                "flash": {"budget": self.flash_budget, "needed": self.flash_needed, "short": self.flash_short,
                          "model": self.model_bytes, "engine_estimate": self.engine_flash},
                "ram": {"budget": self.ram_budget, "needed": self.ram_needed, "short": self.ram_short,
                        "arena": self.arena_bytes, "engine_estimate": self.engine_ram}}


def board_fit(analysis, board_id: str) -> BoardFit:
    """Flash and RAM needs of `analysis` (an Analysis) against the catalog entry `board_id`."""
    from toolchain.boards import load_board
    from toolchain.engines import get_engine

    board = load_board(board_id)
    engine = get_engine(analysis.engine)
    if engine.name == "tflm":
        arena, model_bytes, engine_ram = analysis.arena_32, analysis.model.size, engine.ram_overhead
    else:
        arena, model_bytes = analysis.plan.head, aot_model_bytes(analysis.model, board.features)
        engine_ram = engine.ram_overhead + sum(t.nbytes for t in analysis.model.main.input_tensors())
    return BoardFit(board.id, engine.name, board.flash_bytes, board.ram_bytes,
                    model_bytes + engine.flash_overhead, arena + engine_ram, model_bytes, arena,
                    engine.flash_overhead, engine_ram, engine.name in board.engines)


def _up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def aot_model_bytes(model, features: dict) -> int:
    """Flash of the aot generator's model data: the constant tensors plus an int32 multiplier
    and shift per output channel of each CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED. On
    DSP-only cores (codegen/aot_opt.py) their filters are int16 (rows padded to 4, CONV_2D /
    FULLY_CONNECTED depth to 8) with a 16-byte requantization entry per row, assuming the fast
    path applies (an upper bound). Each layer adds ~160 bytes (its params struct, tensor
    descriptor, name and array alignment: 114-187 measured on qemu-cortex-m4 and host)."""
    dsp = bool(features.get("dsp")) and not features.get("mve")
    g = model.main
    total = sum(t.nbytes for t in g.tensors if t.is_constant) + 160 * len(g.operators)
    for op in g.operators:
        if op.op not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        w = g.tensors[op.inputs[1]]
        per_channel = w.quantization is not None and w.quantization.per_channel
        rows = w.shape[-1] if op.op == "DEPTHWISE_CONV_2D" else w.shape[0]
        total += 8 * (rows if per_channel else 1)
        if not dsp:
            continue
        if op.op == "DEPTHWISE_CONV_2D" and g.tensors[op.inputs[0]].shape[-1] != 1:
            if op.options.get("depth_multiplier", 1) == 1 and rows % 4 == 0:
                total += w.nbytes + 16 * rows  # int16 taps, one requant entry per channel
            continue
        k = w.nbytes // rows  # a one-channel depthwise layer runs as a convolution
        total += 2 * _up(rows, 4) * _up(k, 8) - w.nbytes + 16 * _up(rows, 4)
    return total
