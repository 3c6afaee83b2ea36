"""`tinyship flash DIR [--port URL]`: PlatformIO upload of a generated project."""

from __future__ import annotations

import dataclasses

import click

from toolchain.cli.common import board_option, console, json_option, port_option, print_json


@click.command("flash")
@click.argument("project_dir", type=click.Path(file_okay=False))
@port_option
@board_option
@json_option
def command(project_dir, port, board, as_json):
    """Upload the built project DIR to its board with PlatformIO (emulated boards: use `tinyship emulate`)."""
    from toolchain.device.flash import flash

    result = flash(project_dir, port=port, board=board)
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    out = console()
    if result.port_note:
        out.print(result.port_note)
    out.print(f"flashed {result.project} to {result.board}" + (f" on {result.port}" if result.port else ""))
