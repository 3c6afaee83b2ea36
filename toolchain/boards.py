"""The board catalog: one YAML file per board in `boards/`, described by `boards/schema.json`.

Board facts live in those files only; code and templates read them from a `Board`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from toolchain.errors import InputError

BOARDS_DIR = Path(__file__).resolve().parent.parent / "boards"
SCHEMA_PATH = BOARDS_DIR / "schema.json"


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    vendor: str
    mcu: str
    core: str
    features: dict
    clock_hz: int
    flash_bytes: int
    ram_bytes: int
    platform: str  # firmware_templates/platform/<platform>
    compiler: dict
    platformio: dict | None
    serial: dict
    emulator: dict
    engines: tuple[str, ...]
    notes: str = ""
    baremetal: dict | None = None  # the plain-make build of a real board (boards/schema.json)
    memory_of: str | None = None  # id of the board whose flash/RAM budget this one takes

    @property
    def qemu(self) -> dict | None:
        return self.emulator.get("qemu")

    @property
    def emulated(self) -> bool:
        return self.qemu is not None

    def with_memory_of(self, other: Board) -> Board:
        """This board with the flash and RAM budget of `other` (so the linker rejects what would not fit there)."""
        emulator = self.emulator
        if self.qemu:
            mem = {name: dict(region) for name, region in self.qemu["memory"].items()}
            mem["flash"]["length"] = min(mem["flash"]["length"], other.flash_bytes)
            mem["ram"]["length"] = min(mem["ram"]["length"], other.ram_bytes)
            emulator = {**self.emulator, "qemu": {**self.qemu, "memory": mem}}
        return dataclasses.replace(self, flash_bytes=other.flash_bytes, ram_bytes=other.ram_bytes,
                                   emulator=emulator, memory_of=other.id)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"engines": list(self.engines)}


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def board_ids() -> list[str]:
    return sorted(p.stem for p in BOARDS_DIR.glob("*.yaml"))


@lru_cache(maxsize=None)
def load_board(board_id: str) -> Board:
    """The board `board_id` from the catalog.

    Raises:
        InputError: unknown id (the message lists the valid ones) or a malformed board file.
    """
    path = BOARDS_DIR / f"{board_id}.yaml"
    if not board_id or "/" in board_id or not path.is_file():
        raise InputError(f"unknown board '{board_id}'",
                         f"use one of: {', '.join(board_ids())} (see `tinyship boards`)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise InputError(f"{path} is not valid YAML ({str(e).splitlines()[0]})", "fix the board file") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a board description", "fix the YAML file")
    missing = [k for k in schema()["required"] if k not in data]
    unknown = [k for k in data if k not in schema()["properties"]]
    if missing or unknown or data.get("id") != board_id:
        raise InputError(f"{path}: missing {missing}, unknown {unknown}, or id != file name",
                         "fix the board file against boards/schema.json")
    return Board(**{**data, "engines": tuple(data["engines"])})


def list_boards() -> list[Board]:
    """All boards of the catalog, sorted by id."""
    return [load_board(i) for i in board_ids()]


def resolve_board(board_id: str, memory_of: str | None = None) -> Board:
    """`load_board`, then take the memory budget of `memory_of` if given."""
    board = load_board(board_id)
    return board.with_memory_of(load_board(memory_of)) if memory_of else board
