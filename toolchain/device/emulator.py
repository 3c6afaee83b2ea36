"""QEMU: boot a Cortex-M firmware ELF on the board's emulated machine.

`-icount shift=0` makes virtual time advance 1 ns per instruction, so the
firmware's cycle figures are deterministic instruction counts (labelled
"emulated"). The UART is a TCP server on a free local port; the runner connects
to it with the same pyserial `socket://` URL a user would give to `profile`.

The socket uses `wait=on`: QEMU waits for the connection before it runs the
guest. With `wait=off` the guest prints its boot banner to an unconnected socket
and QEMU drops it (measured: the banner never arrives). `nodelay=on` sends the
UART's byte-sized writes at once (measured: 57 -> 19 ms per command round trip).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from toolchain.device.runner import ProcessRunner
from toolchain.errors import DeviceError, InputError, ToolMissingError

QEMU = "qemu-system-arm"


def qemu_config(board) -> dict:
    """The board's `emulator.qemu` entry (machine, cpu, sysclk_hz, ...); InputError when it has none."""
    if not board.qemu:
        raise InputError(f"board '{board.id}' has no QEMU machine",
                         "pick a qemu-* board (tinyship boards), or flash a real board with tinyship flash")
    return board.qemu


def check_fits_machine(elf: Path, config: dict) -> None:
    """InputError when a section of `elf` lies outside the QEMU machine's flash and RAM (a board
    firmware whose RAM exceeds the machine's, e.g. 20 KiB on stm32vldiscovery's 8 KiB)."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    regions = config["memory"].values()
    with open(elf, "rb") as f:
        for s in ELFFile(f).iter_sections():
            start, size = s["sh_addr"], s["sh_size"]
            if not s["sh_flags"] & SH_FLAGS.SHF_ALLOC or not size:
                continue
            if not any(r["origin"] <= start and start + size <= r["origin"] + r["length"] for r in regions):
                ram = config["memory"]["ram"]
                raise InputError(f"{elf.name}: section {s.name} (0x{start:08x}-0x{start + size - 1:08x}) is outside "
                                 f"QEMU {config['machine']}'s memory (RAM 0x{ram['origin']:08x}, {ram['length']} bytes)",
                                 "use a smaller model (a smaller stack/heap), or run it on the board")


class QemuRunner(ProcessRunner):
    """One QEMU process running `elf`; use as a context manager (see ProcessRunner)."""

    what = "emulator (QEMU)"

    def __init__(self, elf: str | Path, board, *, qemu: str = QEMU, **kw):
        super().__init__(**kw)
        self.elf = Path(elf)
        self.config = qemu_config(board)
        if not self.elf.is_file():
            raise InputError(f"no firmware ELF at {self.elf}", "build the project first: tinyship build DIR")
        check_fits_machine(self.elf, self.config)
        self.qemu = shutil.which(qemu)
        if not self.qemu:
            raise ToolMissingError(f"{qemu} is not installed",
                                   "install it: sudo apt-get install qemu-system-arm (or run `make setup`)")

    def command(self, port: int) -> list[str]:
        # the machine wires its UARTs to -serial in order: the ones before the board's get none
        before = ["-serial", "null"] * self.config["uart"].get("serial", 0)
        return [self.qemu, "-M", self.config["machine"], "-cpu", self.config["cpu"],
                "-icount", "shift=0", "-nographic", "-monitor", "none", *before,
                "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on",
                "-kernel", str(self.elf.resolve())]


def _estimate(firmware: Path, board, samples, run_dir: Path) -> dict | None:
    """The cost model's figures for one traced inference of the first sample (docs/cost-model.md),
    or None: a core without a model, an ELF without its linker map, or a run that fails (the
    profiling session then reports why)."""
    from toolchain.device.costmodel import estimate_cycles

    if not firmware.with_suffix(".map").is_file():
        return None
    sample = b"".join(x.tobytes() for x in samples.arrays[0]) if samples.arrays else None
    try:
        found = estimate_cycles(firmware, board, sample, run_dir / "trace") if sample is not None else None
    except DeviceError:
        return None
    return found.to_dict(clock_hz=board.clock_hz) if found else None


def runner_for(board, firmware: str | Path, emulator: str = "qemu", **kw):
    """The runner that executes `firmware` for `board`: the host binary, QEMU or Renode."""
    from toolchain.device.runner import HostRunner

    if emulator == "renode":
        from toolchain.device import renode

        files = renode.generate_renode(firmware, board, kw["run_dir"])
        tool, tester = renode.renode_tools(kw["run_dir"])
        renode.run_robot(files[renode.ROBOT], tester)
        return renode.RenodeRunner(firmware, board, renode=tool, **kw)
    if emulator != "qemu":
        raise InputError(f"unknown emulator '{emulator}'", "use --emulator qemu or --emulator renode")
    if board.platform == "host":
        return HostRunner(firmware, **kw)
    if board.qemu:
        return QemuRunner(firmware, board, **kw)
    raise InputError(f"board '{board.id}' cannot be emulated with QEMU",
                     "use --emulator renode if it has a Renode platform, or tinyship flash DIR then tinyship profile --port URL")


def resolve_firmware(target: str | Path, model=None) -> tuple[Path, Path, dict | None]:
    """(firmware binary, model .tflite, static flash/RAM split) for a project DIR or an ELF.

    A project DIR is built first (incremental); the model is `model`, else the manifest's
    `model_path`, else the one .tflite next to the firmware.
    """
    target = Path(target)
    sizes = None
    if target.is_dir():
        from toolchain.build import build
        from toolchain.profile import static_split

        result = build(target)
        firmware, sizes = Path(result.elf), static_split(result)
        where = target
    elif target.is_file():
        firmware, where = target, target.parent
    else:
        raise InputError(f"no project folder or firmware file at {target}", "give the DIR from tinyship generate, or its ELF")
    if model is None and target.is_dir():
        from toolchain.codegen.project import load_manifest

        model = load_manifest(target).get("model_path")
    if model is None:
        found = sorted(where.glob("*.tflite"))
        if len(found) != 1:
            raise InputError(f"cannot tell which model {target} runs ({len(found)} .tflite files next to it)",
                             "give it with --model M.tflite")
        model = found[0]
    return firmware, Path(model), sizes


def emulate(target, *, board=None, model=None, emulator: str = "qemu", run_dir=None, inputs=None, random=None,
            seed: int = 0, labels=None, out_dir=None, junit=None, timeout: float = 5.0,
            infer_timeout: float = 10.0, progress=None, context: dict | None = None, static: dict | None = None,
            **options) -> dict:
    """Boot the firmware of `target` (project DIR or ELF) for `board` and profile it.

    `board` (an id or a Board) defaults to the one the firmware was built for.

    `emulator`: "qemu" (the qemu-* boards; the `host` board runs natively) or "renode" (the
    .resc/.robot files are written to `run_dir` first, then ToolMissingError if Renode is absent).
    Other keyword options are those of `toolchain.profile`; `context` is merged into the
    report's context, `static` (the build's section sizes) is used when `target` is an ELF.
    Returns the report dict. A Ctrl-C or SIGTERM while it builds DIR or starts the emulator still
    writes a partial report to `out_dir`, naming that stage (`build`, `emulate`).

    Raises:
        DeviceError: the firmware faulted, hung, reset or the emulator died (exit 4);
            the report in `out_dir` then holds the results so far, marked partial.
        ToolMissingError: QEMU or Renode is not installed (exit 4).
    """
    from toolchain.boards import load_board
    from toolchain.build import check_elf_board, elf_board
    from toolchain.model import load_model
    from toolchain.profile import run_session, select_samples, stops_reported

    counts = {"n": options.get("n", 10), "warmup": options.get("warmup", 1)}
    with stops_reported(out_dir, model or target, counts, context or {}) as where:
        where["stage"] = "build" if Path(target).is_dir() else "emulate"
        firmware, model_path, sizes = resolve_firmware(target, model)
        where["stage"] = "emulate"
        if board is None:
            board = elf_board(firmware)
            if board is None:
                raise InputError(f"{firmware} does not record which board it was built for", "give --board ID")
        board = load_board(board) if isinstance(board, str) else board
        check_elf_board(firmware, board)
        model = load_model(model_path)
        samples = select_samples(model, inputs=inputs, random=random, seed=seed, labels=labels)
        run_dir = Path(run_dir or out_dir or tempfile.mkdtemp(prefix="tinyship-run-"))
        estimate = _estimate(firmware, board, samples, run_dir) if emulator == "qemu" and board.qemu else None
        runner = runner_for(board, firmware, emulator, run_dir=run_dir, timeout=timeout, infer_timeout=infer_timeout)
        with runner:
            context = {"command": runner.cmd, "run_dir": str(runner.run_dir), "firmware": str(firmware), **(context or {})}
            if estimate:
                context["estimate"] = estimate
            try:
                return run_session(runner.client, model, samples, out_dir=out_dir, junit=junit, progress=progress,
                                   url=runner.url, context=context, static=sizes or static, **options)
            except DeviceError as e:
                exit_note = runner.exit_note()
                if exit_note:
                    raise type(e)(f"{e.message}; {exit_note}", e.fix) from None
                raise
