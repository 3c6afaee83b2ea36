"""`tinyship flash DIR [--port URL] [--tool openocd|pyocd]`: write a built project to its board."""

from __future__ import annotations

import dataclasses

import click

from toolchain.cli.common import board_option, console, json_option, port_option, print_json


@click.command("flash")
@click.argument("project_dir", type=click.Path(file_okay=False))
@port_option
@board_option
@click.option("--tool", type=click.Choice(["openocd", "pyocd"]),
              help="Debug-probe tool for bare-metal (make) projects. Default: whichever is installed, OpenOCD first.")
@json_option
def command(project_dir, port, board, tool, as_json):
    """Write the built project DIR to its board: PlatformIO projects by `pio run -t upload`,
    bare-metal STM32 projects by OpenOCD (`program ... verify reset exit`) or `pyocd load`
    through the board's ST-LINK. Emulated boards: use `tinyship emulate`.

    Example: tinyship flash kws-f4 && tinyship profile --port /dev/ttyUSB0 --model kws-f4/kws_ref_model.tflite --project kws-f4
    """
    from toolchain.device.flash import flash

    result = flash(project_dir, port=port, board=board, tool=tool)
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    out = console()
    if result.port_note:
        out.print(result.port_note)
    out.print(f"flashed {result.project} to {result.board} with {result.tool}"
              + (f"; serial port {result.port}" if result.port else ""))
