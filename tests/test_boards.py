"""The board catalog: schema, loader, `tinyship boards`."""

import json
import subprocess
import sys

import jsonschema
import pytest
import yaml

from toolchain.boards import BOARDS_DIR, board_ids, list_boards, load_board, resolve_board, schema
from toolchain.errors import InputError

REQUIRED = ["host", "qemu-cortex-m4", "qemu-cortex-m7", "qemu-cortex-m55", "qemu-cortex-m33", "arduino-nano-33-ble",
            "nucleo-l4r5zi", "stm32f746g-disco", "stm32f4-discovery", "stm32f103-bluepill", "rpi-pico",
            "esp32-s3-devkitc-1"]


def test_catalog_has_every_required_board():
    assert set(REQUIRED) <= set(board_ids())


@pytest.mark.parametrize("path", sorted(BOARDS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_board_file_matches_schema(path):
    data = yaml.safe_load(path.read_text())
    jsonschema.validate(data, schema())
    assert data["id"] == path.stem


def test_loaded_board_fields():
    b = load_board("qemu-cortex-m4")
    assert (b.core, b.clock_hz, b.flash_bytes, b.ram_bytes) == ("cortex-m4f", 25_000_000, 4 << 20, 4 << 20)
    assert b.qemu["machine"] == "mps2-an386" and b.qemu["uart"]["base"] == 0x40004000
    assert b.platformio is None and b.emulated and "aot" in b.engines
    nano = load_board("arduino-nano-33-ble")
    assert nano.platformio["board"] == "nano33ble" and "2341:805a" in nano.serial["usb"]
    assert not nano.emulated


def test_every_qemu_board_uses_a_distinct_machine():
    machines = [b.qemu["machine"] for b in list_boards() if b.qemu]
    assert sorted(machines) == ["mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547", "netduinoplus2",
                                "stm32vldiscovery"]


@pytest.mark.parametrize("board_id", ["stm32f4-discovery", "stm32f103-bluepill"])
def test_bare_metal_board_agrees_with_its_qemu_machine(board_id):
    from toolchain.codegen.target import stm32_core_hz

    b = load_board(board_id)
    spec = b.baremetal
    assert stm32_core_hz(b) == b.clock_hz  # the PLL factors give the board's clock
    assert (spec["memory"]["flash"]["length"], spec["memory"]["ram"]["length"]) == (b.flash_bytes, b.ram_bytes)
    assert b.qemu["uart"]["base"] == spec["uart"]["base"]  # the same USART in QEMU and on the board
    assert b.qemu["memory"]["flash"]["origin"] == spec["memory"]["flash"]["origin"] == 0x08000000


def test_unknown_board_lists_valid_ids():
    with pytest.raises(InputError) as e:
        load_board("nucleo-f999")
    assert "nucleo-f999" in str(e.value) and "qemu-cortex-m4" in str(e.value) and e.value.exit_code == 2


def test_memory_of_takes_the_other_boards_budget():
    b = resolve_board("qemu-cortex-m4", "stm32f103-bluepill")
    assert (b.flash_bytes, b.ram_bytes, b.memory_of) == (65536, 20480, "stm32f103-bluepill")
    assert b.qemu["memory"]["flash"] == {"origin": 0, "length": 65536}
    assert b.qemu["memory"]["ram"] == {"origin": 0x20000000, "length": 20480}
    assert load_board("qemu-cortex-m4").qemu["memory"]["ram"]["length"] == 4 << 20  # the catalog is untouched


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "toolchain", *args], capture_output=True, text=True, timeout=60)


def test_cli_boards_json_and_show():
    r = _cli("boards", "--json")
    assert r.returncode == 0, r.stderr
    assert {b["id"] for b in json.loads(r.stdout)} == set(board_ids())
    r = _cli("boards", "show", "rpi-pico", "--json")
    assert json.loads(r.stdout)["core"] == "cortex-m0plus"
    r = _cli("boards", "show", "nope")
    assert r.returncode == 2 and "unknown board 'nope'" in r.stderr and "Traceback" not in r.stderr
