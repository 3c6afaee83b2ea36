"""Does the model fit a board? Flash: model + engine; RAM: arena + engine.

The engine overheads are estimates (toolchain/engines.py); the arena is the
planned one: head + 32-bit tail for TFLM, the aot generator's own plan for the aot
engine, which has no interpreter state in its arena. For aot, the model's flash is what the
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
                              "pick a bigger board or a smaller model" if self.engine == "aot"
                              else "pick a bigger board, a smaller model, or the aot engine")

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
        arena, model_bytes = aot_arena_bytes(analysis, board.features), aot_model_bytes(analysis.model, board.features)
        from toolchain.codegen.project import reserved_ram

        engine_ram = reserved_ram(board, "aot", sum(t.nbytes for t in analysis.model.main.input_tensors()))
    return BoardFit(board.id, engine.name, board.flash_bytes, board.ram_bytes,
                    model_bytes + engine.flash_overhead, arena + engine_ram, model_bytes, arena,
                    engine.flash_overhead, engine_ram, engine.name in board.engines)


def aot_arena_bytes(analysis, features: dict, kernels: str = "speed") -> int:
    """The arena the aot generator plans for the model on a core with `features`
    (toolchain.codegen.aot.arena_size), or TFLM's planned head when the engine cannot lower it."""
    from toolchain.codegen.aot import arena_size
    from toolchain.codegen.aot_opt import specializer
    from toolchain.errors import NotSupportedError

    try:
        return arena_size(analysis.model, specialize=specializer(features, kernels))
    except NotSupportedError:
        return analysis.plan.head


def aot_model_bytes(model, features: dict, kernels: str = "speed") -> int:
    """Flash of the aot generator's model data on a core with `features`: the constant arrays it
    emits there for `kernels` (toolchain.codegen.aot.const_bytes, with the optimized kernels' re-layouts and
    tables), or the model's constant tensors when the engine cannot lower the model; plus ~160
    bytes per layer (its params struct, tensor descriptor, name and array alignment: 114-187
    measured on qemu-cortex-m4 and host)."""
    from toolchain.codegen.aot import const_bytes
    from toolchain.codegen.aot_opt import specializer
    from toolchain.errors import NotSupportedError

    g = model.main
    try:
        data = const_bytes(model, specialize=specializer(features, kernels))
    except NotSupportedError:
        data = sum(t.nbytes for t in g.tensors if t.is_constant)
    return data + 160 * len(g.operators)
