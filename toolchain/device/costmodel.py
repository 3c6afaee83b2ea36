"""Estimated cycles: a per-instruction cost model of the core applied to what QEMU executed.

QEMU counts instructions (`-icount shift=0`), not cycles. One traced inference (`-d
in_asm,exec,nochain`: every translated block's instructions once, then every block executed)
gives the instruction mix of that inference; each instruction is priced by the core's table
(docs/cost-model.md: Cortex-M4 from its TRM, Cortex-M55 Helium by beats) and the sum is the
estimated cycle count. The inference is the blocks from the entry of `engine_invoke` to the
first block back in the app's code (src/app), interrupts included, as the instruction count is.
Zero wait-state memory is assumed, as the TRM's figures are: flash wait states and caches of a
real board add to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from toolchain.device.emulator import QemuRunner
from toolchain.errors import DeviceError

REFILL = 2  # P, the TRM's pipeline refill after a taken branch: 1 to 3 cycles
DIVIDE = 7  # SDIV/UDIV: 2 to 12 cycles by the operands' magnitude

_LINE = re.compile(r"^0x([0-9a-f]+):\s+([0-9a-f]{4})(?: ([0-9a-f]{4}))?\s+(\S+)\s*(.*)$")
_EXEC = re.compile(r"^Trace \d+: (0x[0-9a-f]+) \[[0-9a-f]+/([0-9a-f]+)/")
_COND = "(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)"
_VECTOR = re.compile(r"\bq[0-7]\b")


@dataclass(frozen=True)
class Insn:
    op: str  # the mnemonic without width (.w/.n)
    args: str
    size: int  # bytes


def _base(op: str) -> str:
    return op.split(".")[0]


def _regs(args: str) -> int:
    m = re.search(r"\{([^}]*)\}", args)
    if not m:
        return 1
    n = 0
    for part in m.group(1).split(","):
        lo, _, hi = part.strip().partition("-")
        n += int(hi[1:]) - int(lo[1:]) + 1 if hi and lo[1:].isdigit() and hi[1:].isdigit() else 1
    return n


def _writes_pc(op: str, args: str) -> bool:
    return "pc" in args.split(",")[0] or (op.startswith(("pop", "ldm")) and "pc" in args)


def _m4_scalar(insn: Insn, prev: str | None) -> tuple[int, str]:
    """(cycles, class) of a scalar instruction on the Cortex-M4 (TRM table 3-1), branch refill
    left to the caller; `prev` is the previous instruction's class (loads and stores pipeline)."""
    op, args = _base(insn.op), insn.args
    single = re.fullmatch(rf"(?:ldr|str)(?:b|h|sb|sh|ex|exb|exh|t|bt|ht)?{_COND}?", op)
    if single:
        return (1 if prev == "single" else 2), "single"
    if re.fullmatch(rf"(?:ldr|str)d{_COND}?", op):
        return 3, "multi"
    if re.fullmatch(rf"(?:ldm|stm|push|pop)(?:ia|db|fd|ea)?{_COND}?", op):
        return 1 + _regs(args), "multi"
    if op.startswith(("vldm", "vstm", "vpush", "vpop")):
        return 1 + _regs(args), "multi"
    if op in ("vldr", "vstr"):
        return (3 if insn.args.startswith("d") else 2), "multi"
    if op in ("sdiv", "udiv"):
        return DIVIDE, "alu"
    if op in ("vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"):
        return 3, "alu"
    if op in ("vdiv", "vsqrt"):
        return 14, "alu"
    if op in ("tbb", "tbh"):
        return 2, "branch"
    return 1, "alu"


def _branch(insn: Insn) -> str | None:
    """'always' for a branch that always leaves the block, 'cond' for one that may fall through."""
    op = _base(insn.op)
    if op in ("b", "bl", "blx", "bx", "tbb", "tbh") or _writes_pc(op, insn.args):
        return "always"
    if re.fullmatch(rf"b{_COND}|cbn?z|le|letp|wls|wlstp", op):
        return "cond"
    return None


def _m55_vector(insn: Insn, prev: str | None) -> tuple[int, str]:
    """(cycles, class) of a Helium instruction on the dual-beat Cortex-M55: four beats, two a
    cycle; one of the other class (memory / arithmetic) overlaps its predecessor by a cycle;
    a gather or scatter moves one element a cycle."""
    op = insn.op
    memory = re.match(r"v(ld|st)", op) is not None
    kind = "vmem" if memory else "valu"
    if memory and re.search(r"\[\s*q[0-7]|,\s*q[0-7]", insn.args):  # vector of offsets
        size = re.search(r"(8|16|32|64)$", op)
        return 128 // int(size.group(1)) if size else 4, kind
    if prev in ("vmem", "valu") and prev != kind:
        return 1, kind
    return 2, kind


class CostModel:
    """The cycle table of one core family: `cortex-m4` (also M4F) or `cortex-m55`."""

    def __init__(self, core: str):
        self.core = core
        self.helium = core.startswith("cortex-m55")

    def block(self, insns: list[Insn]) -> tuple[int, int]:
        """(cycles of the block when its last branch falls through, extra cycles when taken)."""
        cycles, prev = 0, None
        for insn in insns:
            if self.helium and insn.op.startswith("v") and _VECTOR.search(insn.args):
                c, prev = _m55_vector(insn, prev)
            elif self.helium and _base(insn.op) in ("le", "letp", "dls", "dlstp", "wls", "wlstp"):
                c, prev = 1, "alu"  # low-overhead loops: the loop end is predicted, no refill
            else:
                c, prev = _m4_scalar(insn, prev)
            cycles += c
        last = _branch(insns[-1]) if insns else None
        if self.helium and insns and _base(insns[-1].op) in ("le", "letp"):
            return cycles, 0
        if last == "always":
            return cycles + REFILL, 0
        return cycles, REFILL if last == "cond" else 0


def cost_model(core: str) -> CostModel | None:
    """The model of `core` (a board's `core`), or None where no public timing table exists
    (Cortex-M7 and M33 publish none: dual issue and their pipelines are not tabulated)."""
    if core.startswith(("cortex-m4", "cortex-m55")):
        return CostModel(core)
    return None


@dataclass
class Estimate:
    instructions: int  # traced in the inference window
    cycles: int
    core: str

    @property
    def cpi(self) -> float:
        return self.cycles / self.instructions if self.instructions else 0.0

    def to_dict(self, instructions: float | None = None, clock_hz: int | None = None) -> dict:
        """The estimate for `instructions` (the measured count; default the traced one)."""
        n = instructions or self.instructions
        cycles = n * self.cpi
        return {"core": self.core, "traced_instructions": self.instructions, "cycles_per_instruction": self.cpi,
                "instructions": n, "cycles": round(cycles), "clock_hz": clock_hz,
                "ms": cycles * 1e3 / clock_hz if clock_hz else None, "model": "docs/cost-model.md"}


def text_ranges(map_path: Path, part: str) -> list[tuple[int, int]]:
    """Address ranges of the code the linker took from objects whose path contains `part`."""
    from toolchain.build import _map_sections

    return [(addr, addr + size) for out, name, addr, size, obj in _map_sections(map_path)
            if name.startswith(".text") and part in obj.replace("\\", "/") and size]


def symbol_address(elf: Path, name: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if sym.name == name:
                return sym["st_value"] & ~1
    raise DeviceError(f"{elf} has no symbol {name}", "rebuild the project with tinyship build")


def parse_trace(lines, model: CostModel, entry: int, app: list[tuple[int, int]]) -> Estimate:
    """Price the inference in a QEMU `in_asm,exec,nochain` log (an iterable of lines).

    A block is priced when translated (its listing follows "IN:"); the next execution at its
    address binds it to QEMU's host pointer, which later executions name (a block translated
    again, e.g. split by icount, gets a new pointer). A block's last branch is taken when the
    next block executed does not start where it ends."""
    fresh: dict[int, tuple[int, int, int, int]] = {}  # pc -> (instructions, cycles, extra if taken, end)
    bound: dict[tuple[str, int], tuple[int, int, int, int]] = {}
    listing: list[Insn] | None = None
    start = 0
    inside, last = False, None
    instructions = cycles = 0
    for line in lines:
        if line.startswith("IN:"):
            listing = []
            continue
        if listing is not None:
            m = _LINE.match(line)
            if m:
                start = int(m.group(1), 16) if not listing else start
                op = m.group(4)
                listing.append(Insn(op[:-2] if op.endswith((".w", ".n")) else op, m.group(5), 4 if m.group(3) else 2))
                continue
            if listing:
                c, taken = model.block(listing)
                fresh[start] = (len(listing), c, taken, start + sum(i.size for i in listing))
            listing = None
        e = _EXEC.match(line)
        if not e:
            continue
        pc, key = int(e.group(2), 16), (e.group(1), int(e.group(2), 16))
        if pc in fresh:
            bound[key] = fresh.pop(pc)
        if last is not None:
            n, c, taken, end = last
            instructions += n
            cycles += c + (taken if pc != end else 0)
            last = None
        if not inside:
            inside = pc == entry
        elif any(lo <= pc < hi for lo, hi in app):
            break
        if inside:
            last = bound.get(key)
            if last is None:
                raise DeviceError(f"the QEMU trace executes a block at 0x{pc:x} it never listed",
                                  "this QEMU's -d in_asm,exec output is not understood; report it")
    if last is not None:
        n, c, taken, _ = last
        instructions, cycles = instructions + n, cycles + c + taken
    return Estimate(instructions, cycles, model.core)


class _TracingQemu(QemuRunner):
    """QemuRunner logging every translated block and every block executed to `log`."""

    def __init__(self, elf, board, log: Path, **kw):
        super().__init__(elf, board, **kw)
        self.log = log

    def command(self, port: int) -> list[str]:
        cmd = super().command(port)
        return cmd[:1] + ["-d", "in_asm,exec,nochain", "-D", str(self.log)] + cmd[1:]


def estimate_cycles(elf, board, input_bytes: bytes, run_dir, *, timeout: float = 600.0) -> Estimate | None:
    """Run one inference of `elf` (its project's build/firmware.map beside it) on `board`'s QEMU
    machine with the trace on and price it; None for a core without a cost model."""
    model = cost_model(board.core)
    if model is None or not board.qemu:
        return None
    elf, run_dir = Path(elf), Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "qemu-trace.log"
    entry = symbol_address(elf, "engine_invoke")
    app = text_ranges(elf.with_suffix(".map"), "src/app/")
    try:
        with _TracingQemu(elf, board, log, run_dir=run_dir, boot_timeout=60, timeout=60) as runner:
            client = runner.start()
            client.load_input(input_bytes)
            client.infer(1, 0, timeout=timeout)
        with open(log, errors="replace") as lines:
            return parse_trace(lines, model, entry, app)
    finally:
        log.unlink(missing_ok=True)
