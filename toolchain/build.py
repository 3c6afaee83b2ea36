"""`build`: run a generated project's builder, then split the ELF's flash and RAM by component.

Totals come from the ELF (pyelftools); the split from the linker map (which input
section of which object file landed in which output section). Over budget -> exit 3
with the shortfall; any other compiler or linker failure -> exit 6.
"""

from __future__ import annotations

import os
import re
import socket
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from toolchain import api_module, process_group
from toolchain.codegen.project import load_manifest
from toolchain.errors import BuildError, DoesNotFitError, InputError, ToolMissingError
from toolchain.files import atomic_write

COMPONENTS = ("model", "arena", "engine", "app", "C library", "stack+heap", "other")
_OVERFLOW = re.compile(r"region [`']?(\w+)'? overflowed by (\d+) bytes")
_OUT_SECTION = re.compile(r"^(\.\S+|COMMON)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+).*)?$")
_IN_SECTION = re.compile(r"^ (\.\S+|COMMON)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*))?$")
_CONT = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
BUILD_TIMEOUT = 1800


@dataclass
class BuildResult:
    project_dir: Path
    board: str
    elf: Path
    map: Path | None
    log: Path
    flash: int
    ram: int
    flash_budget: int
    ram_budget: int
    sizes: dict = field(default_factory=dict)  # {"flash": {component: bytes}, "ram": {component: bytes}}

    def to_dict(self) -> dict:
        return {"project": str(self.project_dir), "board": self.board, "elf": str(self.elf),
                "flash": {"total": self.flash, "budget": self.flash_budget, **self.sizes["flash"]},
                "ram": {"total": self.ram, "budget": self.ram_budget, **self.sizes["ram"]}}


def _run(cmd: list[str], cwd: Path, log: Path) -> str:
    """Run the builder; returns its output. Cortex-M links use --noinhibit-exec, so an
    overflowing link still writes an ELF (for the size split) and reports the overflow here.
    A deadline, Ctrl-C or SIGTERM ends the builder's whole process group (make and its compilers)."""
    try:
        r = process_group.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{' '.join(cmd)} took more than {BUILD_TIMEOUT} s", f"see {log}") from None
    atomic_write(log, f"$ {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    text = r.stdout + r.stderr
    if r.returncode == 0:
        return text
    if _OVERFLOW.search(text):
        raise DoesNotFitError(f"the firmware does not fit: {_overflow(text)}", "use a bigger board or a smaller model")
    lines = text.splitlines()
    first = next((ln for ln in lines if ": error:" in ln or ": fatal error:" in ln), None)
    first = first or next((ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else "no output")
    raise BuildError(f"build failed: {first.strip()}", f"full log: {log}")


def build(project_dir, *, jobs: int = 2, progress: Callable[[str], None] | None = None) -> BuildResult:
    """Build the project in `project_dir` and report its flash/RAM split.

    `progress(note)` hears about long steps (PlatformIO's first download of a platform).

    Raises:
        InputError: not a tinyship project. ToolMissingError: no compiler / PlatformIO.
        DoesNotFitError: the linker or the size check finds it over the board's budget.
        BuildError: any other build failure.
    """
    project_dir = Path(project_dir).resolve()
    m = load_manifest(project_dir)
    log = project_dir / "build.log"
    if m["builder"] == "platformio":
        from toolchain.device.flash import pio_executable  # beside sys.executable (the venv), else on PATH

        pio = pio_executable()
        _pio_platform_ready(project_dir, progress or (lambda note: None))
        try:
            text = _run([pio, "run", "-d", str(project_dir)], project_dir, log)
        except BuildError:
            if _NO_NETWORK.search(log.read_text(errors="replace")):
                raise _offline_error(_ini_value(project_dir, "platform"), "a download failed") from None
            raise
        elf = project_dir / ".pio" / "build" / m["board"] / "firmware.elf"
        map_path = project_dir / ".pio" / "build" / m["board"] / "firmware.map"
    else:
        cc = re.search(r"^CC := (\S+)", (project_dir / "Makefile").read_text(), re.M).group(1)
        if not shutil.which(cc):
            raise ToolMissingError(f"the compiler {cc} is not installed", "run `make setup` (installs gcc-arm-none-eabi)")
        text = _run(["make", f"-j{jobs}"], project_dir, log)
        elf, map_path = project_dir / m["elf"], project_dir / m["map"]
    flash, ram, sizes = size_report(elf, map_path if map_path.is_file() else None)
    result = BuildResult(project_dir, m["board"], elf, map_path if map_path.is_file() else None, log,
                         flash, ram, m["flash_bytes"], m["ram_bytes"], sizes)
    over = _overflow(text) or ", ".join(
        f"{what} over by {used - budget} bytes ({used} > {budget})"
        for what, used, budget in (("flash", flash, result.flash_budget), ("RAM", ram, result.ram_budget))
        if used > budget)
    if over:
        elf.unlink()  # never leave a firmware that does not fit where emulate/flash would pick it up
        err = DoesNotFitError(f"the firmware does not fit {m['memory_of'] or m['board']}: {over}",
                              "use a bigger board or a smaller model")
        err.build_result = result
        raise err
    return result


_NO_NETWORK = re.compile(r"HTTPClientError|Could not resolve host|Name or service not known|"
                         r"Temporary failure in name resolution|Network is unreachable|ConnectionError")
PIO_REGISTRY = ("api.registry.platformio.org", 443)


def _ini_value(project_dir: Path, key: str) -> str:
    found = re.search(rf"^{key}\s*=\s*(\S+)", (project_dir / "platformio.ini").read_text(), re.M)
    return found.group(1) if found else "?"


def _pio_platform_ready(project_dir: Path, progress: Callable[[str], None]) -> None:
    """Say so when PlatformIO will first download the project's platform and toolchain, and fail
    at once, not after a minute of retries, when there is no network to download them."""
    platform = _ini_value(project_dir, "platform")
    core = Path(os.environ.get("PLATFORMIO_CORE_DIR") or Path.home() / ".platformio")
    if (core / "platforms" / platform).is_dir():
        return
    progress(f"installing PlatformIO platform {platform} and its toolchain (first build for it; a download of "
             "some 100 MB into ~/.platformio)")
    try:
        socket.create_connection(PIO_REGISTRY, timeout=10).close()
    except OSError as e:
        raise _offline_error(platform, f"there is no network ({e.strerror or e})") from None


def _offline_error(platform: str, why: str) -> ToolMissingError:
    return ToolMissingError(f"PlatformIO must download the platform {platform} and its toolchain for this first "
                            f"build, and {why}",
                            f"connect to the network once (PlatformIO keeps them in ~/.platformio), or run "
                            f"`pio pkg install -g -p {platform}` on a connected machine and copy its ~/.platformio here")


BOARD_SECTION = ".tinyship.board"  # written by firmware_templates/app/app.c


def elf_board(elf) -> str | None:
    """The board id recorded in a tinyship firmware ELF, or None if it has no record.

    Raises:
        InputError: `elf` is missing or not an ELF file.
    """
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(elf, "rb") as f:
            section = ELFFile(f).get_section_by_name(BOARD_SECTION)
            return section.data().split(b"\0")[0].decode("ascii", "replace") if section else None
    except (OSError, ELFError) as e:
        raise InputError(f"{elf} is not a firmware ELF ({e})", "give the ELF that tinyship build wrote") from None


def check_elf_board(elf, board) -> None:
    """Refuse to run or flash `elf` on `board` (a Board or an id) unless it was built for it.

    Raises:
        InputError: the ELF was built for another board, or does not record its board.
    """
    board_id = getattr(board, "id", board)
    built_for = elf_board(elf)
    if built_for is None:
        raise InputError(f"{elf} does not record which board it was built for (no {BOARD_SECTION} section)",
                         f"generate and build it with tinyship for {board_id}")
    if built_for != board_id:
        raise InputError(f"{elf} was built for board '{built_for}', not '{board_id}'",
                         f"use --board {built_for}, or generate and build the model for {board_id}")


def _overflow(linker_output: str) -> str:
    """'FLASH over by N bytes, RAM over by M bytes' from the linker's messages ('' if none)."""
    found = dict(_OVERFLOW.findall(linker_output))
    return ", ".join(f"{region} over by {n} bytes" for region, n in found.items())


def size_report(elf: Path, map_path: Path | None) -> tuple[int, int, dict]:
    """(flash bytes, RAM bytes, {"flash": {component: bytes}, "ram": {...}}) of a linked ELF."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    kinds: dict[str, tuple[bool, bool]] = {}  # output section -> (in flash, in RAM)
    with open(elf, "rb") as f:
        for s in ELFFile(f).iter_sections():
            if not s["sh_flags"] & SH_FLAGS.SHF_ALLOC or s["sh_size"] == 0:
                continue
            writable = bool(s["sh_flags"] & SH_FLAGS.SHF_WRITE)
            loaded = s["sh_type"] != "SHT_NOBITS"
            kinds[s.name] = (loaded, writable)
            kinds.setdefault(f"size:{s.name}", s["sh_size"])
    flash = sum(kinds[f"size:{n}"] for n, k in kinds.items() if not n.startswith("size:") and k[0])
    ram = sum(kinds[f"size:{n}"] for n, k in kinds.items() if not n.startswith("size:") and k[1])
    split = {"flash": dict.fromkeys(COMPONENTS, 0), "ram": dict.fromkeys(COMPONENTS, 0)}
    for out, in_name, _, size, obj in _map_sections(map_path) if map_path else []:
        if in_name.startswith(".rodata.str"):
            continue  # merged across objects by the linker: left in "other"
        loaded, writable = kinds.get(out, (False, False))
        component = _component(in_name, obj)
        if loaded:
            split["flash"][component] += size
        if writable:
            split["ram"][component] += size
    for which, total in (("flash", flash), ("ram", ram)):
        split[which]["other"] += total - sum(split[which].values())
    return flash, ram, split


def _component(section: str, obj: str) -> str:
    obj = obj.replace("\\", "/")
    if obj.startswith("*") or not obj:
        return "stack+heap" if section in (".heap", ".stack") else "other"
    if "src/model/" in obj and ("_model_data" in obj or re.search(r"/model\.c\.o$", obj)):
        if section.startswith((".rodata", ".data")):
            return "model"
        if section.startswith((".bss", "COMMON")):
            return "arena"
    if "src/engine/" in obj or "src/model/" in obj or "libtflm" in obj:
        return "arena" if section.startswith(".bss") and "engine_tflm" in obj else "engine"
    if "src/" in obj:
        return "app"
    return "C library"


def _map_sections(map_path: Path):
    """Yield (output section, input section, address, size, object file) from a GNU ld map."""
    text = map_path.read_text(errors="replace")
    start = text.find("Linker script and memory map")
    lines = text[start:].splitlines() if start >= 0 else []
    out = None
    pending = None
    for ln in lines:
        if pending is not None:
            m = _CONT.match(ln)
            if m:
                yield out, pending, int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip()
            pending = None
            continue
        m = _OUT_SECTION.match(ln)
        if m:
            out = m.group(1)
            if out in (".heap", ".stack") and m.group(3):
                yield out, out, int(m.group(2), 16), int(m.group(3), 16), "*linker*"
            continue
        m = _IN_SECTION.match(ln)
        if m and out:
            if m.group(4):
                yield out, m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4).strip()
            elif m.group(2) is None:
                pending = m.group(1)


api_module(__name__)
