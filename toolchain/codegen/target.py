"""What a generated project targets: its builder, its platform glue and, for bare-metal Cortex-M
make builds, the memory map, serial port and clocks its linker script and config header get.

A board with a `baremetal` section (the STM32 boards) builds with make by default: its serial
port is a plain USART, so it needs neither PlatformIO nor an Arduino core, and the same ELF runs
in QEMU's STM32 machines. `--builder platformio` still gives the Arduino project.
"""

from __future__ import annotations

import dataclasses

from toolchain.boards import Board
from toolchain.errors import InputError

BUILDERS = ("make", "platformio")
PERIPHERALS = {"cmsdk-apb": "cmsdk", "stm32-usart": "stm32"}  # UART kind -> firmware_templates/platform/<dir>
_PORTS = "ABCDEFGHIJK"


def resolve_builder(board: Board, builder: str | None = None) -> tuple[Board, str]:
    """(the board as that builder sees it, the builder): make on a `baremetal` board is the
    cortex-m platform without PlatformIO.

    Raises:
        InputError: unknown builder, or one the board does not support.
    """
    if builder is None:
        builder = "platformio" if board.platformio and not board.baremetal else "make"
    if builder not in BUILDERS:
        raise InputError(f"unknown builder '{builder}'", f"use one of: {', '.join(BUILDERS)}")
    if builder == "platformio" and not board.platformio:
        raise InputError(f"board {board.id} has no PlatformIO build", "leave --builder out (make)")
    if builder == "make" and board.platformio and not board.baremetal:
        raise InputError(f"board {board.id} builds only with PlatformIO (its serial port needs the Arduino core)",
                         "use --builder platformio, or leave --builder out")
    if builder == "make" and board.baremetal:
        stm32_core_hz(board)
        board = dataclasses.replace(board, platform="cortex-m", platformio=None)
    return board, builder


def platform_dirs(board: Board) -> list[str]:
    """The firmware_templates/platform folders a project for `board` (as resolve_builder gives it) copies."""
    if board.platform != "cortex-m":
        return [board.platform]
    return ["cortex-m", PERIPHERALS[bare_metal(board)["uart"]["kind"]]]


def bare_metal(board: Board) -> dict:
    """Template context of a cortex-m make build: memory, uart, systick_hz, and stm32 (or None).

    `systick_hz` is the SysTick rate in the board's QEMU machine, where the firmware counts
    SysTick (QEMU models no DWT): instructions = ticks x 1e9 / systick_hz.
    """
    spec = board.baremetal
    if not spec:
        q = board.qemu
        return {"memory": q["memory"], "uart": q["uart"], "systick_hz": q["sysclk_hz"], "stm32": None}
    uart, clock = spec["uart"], spec["clock"]
    stm32 = {"family": int(spec["family"][len("stm32f"):]), "clock": clock, "apb": int(uart["bus"][-1]),
             "uart_apb_div": clock[f"{uart['bus']}_div"], "af": uart.get("af", 0),
             "tx": (_PORTS.index(uart["tx"][1]), int(uart["tx"][2:])),
             "rx": (_PORTS.index(uart["rx"][1]), int(uart["rx"][2:]))}
    return {"memory": spec["memory"], "uart": uart, "stm32": stm32,
            "systick_hz": board.qemu["sysclk_hz"] if board.qemu else board.clock_hz}


def stm32_core_hz(board: Board) -> int:
    """The core clock the board's PLL factors give; InputError if it is not the board's clock_hz."""
    spec = board.baremetal
    clock, pll = spec["clock"], spec["clock"]["pll"]
    try:
        hz = (clock["hse_hz"] // pll["m"] * pll["n"] // pll["p"] if spec["family"] == "stm32f4"
              else clock["hse_hz"] * pll["mul"])
    except KeyError as e:
        raise InputError(f"boards/{board.id}.yaml: baremetal.clock.pll lacks {e}",
                         "stm32f4 takes m, n, p, q; stm32f1 takes mul (boards/schema.json)") from None
    if hz != board.clock_hz:
        raise InputError(f"boards/{board.id}.yaml: the PLL gives {hz} Hz, clock_hz says {board.clock_hz}",
                         "fix baremetal.clock.pll or clock_hz")
    return hz
