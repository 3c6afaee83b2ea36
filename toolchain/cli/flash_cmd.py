"""`tinyship flash DIR [--port URL] [--tool openocd|pyocd] [--upload-timeout SECONDS]`: write a project to its board."""

from __future__ import annotations

import dataclasses

import click

from toolchain.cli.common import board_option, console, json_option, port_option, print_json
from toolchain.device.flash import UPLOAD_TIMEOUT, flash


@click.command("flash")
@click.argument("project_dir", type=click.Path(file_okay=False))
@port_option
@board_option
@click.option("--tool", type=click.Choice(["openocd", "pyocd"]),
              help="Debug-probe tool for bare-metal (make) projects. Default: whichever is installed, OpenOCD first.")
@click.option("--upload-timeout", type=float, default=UPLOAD_TIMEOUT, show_default=True, metavar="SECONDS",
              help="Deadline for the upload tool (PlatformIO, OpenOCD, pyOCD): past it the tool and its children "
                   "are stopped and flash exits 4.")
@json_option
def command(project_dir, port, board, tool, upload_timeout, as_json):
    """Write the built project DIR to its board: PlatformIO projects by `pio run -t upload`,
    bare-metal STM32 projects by OpenOCD (`program ... verify reset exit`) or `pyocd load`
    through the board's ST-LINK. Emulated boards: use `tinyship emulate`.

    The upload must finish within --upload-timeout seconds (default 600).

    Example: tinyship flash kws-f4 && tinyship profile --port /dev/ttyUSB0 --model kws-f4/kws_ref_model.tflite --project kws-f4
    """
    result = flash(project_dir, port=port, board=board, tool=tool, timeout=upload_timeout)
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    out = console()
    if result.port_note:
        out.print(result.port_note)
    out.print(f"flashed {result.project} to {result.board} with {result.tool}"
              + (f"; serial port {result.port}" if result.port else ""))
