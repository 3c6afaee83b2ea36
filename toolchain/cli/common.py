"""Options and output helpers shared by the subcommands."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the human summary.")
board_option = click.option("--board", "board", metavar="ID", help="Board id from the catalog (see `tinyship boards`).")
kernels_option = click.option(
    "--kernels", type=click.Choice(["speed", "size", "portable"]), default=None,
    help="aot kernels: speed (DSP/Helium kernels; on DSP cores int16 weights, about twice the flash), size (int8 "
         "weights widened in registers: portable flash, about 1.3x the instructions on Cortex-M4) or portable "
         "(plain C). Default: speed, or size when the board's flash would not hold the speed layout.")
port_option = click.option("--port", metavar="URL", help="pyserial URL: /dev/ttyACM0, COM3, socket://127.0.0.1:4321, rfc2217://..., or 'auto'.")


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")
