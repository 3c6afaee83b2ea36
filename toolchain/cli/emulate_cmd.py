"""`tinyship emulate DIR|ELF [--board ID]`: boot the firmware in QEMU (or Renode) and profile it."""

from __future__ import annotations

import functools

import click

from toolchain.cli.profile_cmd import profile_options, run_with_display


@click.command("emulate")
@click.argument("target", type=click.Path(exists=True))
@click.option("--board", metavar="ID",
              help="Board id: a qemu-* board, host, an STM32 board with a QEMU machine (stm32f4-discovery: "
                   "netduinoplus2, stm32f103-bluepill: stm32vldiscovery), or a board with a Renode platform "
                   "(default: the board the firmware was built for).")
@click.option("--emulator", type=click.Choice(["qemu", "renode"]), default="qemu", show_default=True,
              help="qemu for the qemu-* boards (and the native host board); renode for boards with a Renode platform.")
@click.option("--model", "model", type=click.Path(exists=True, dir_okay=False), help="The .tflite the firmware runs (default: the one in DIR).")
@click.option("--run-dir", type=click.Path(file_okay=False), help="Keep the command line, emulator stderr and device log here (default: -o DIR).")
@profile_options
def command(target, board, emulator, model, run_dir, as_json, **options):
    """Boot TARGET (a built project DIR or its ELF) and run the profiling flow on it.

    Cycle figures from QEMU (-icount shift=0) are instruction counts, labelled "emulated".
    """
    from toolchain.device.emulator import emulate

    run_with_display(as_json, functools.partial(emulate, target), board=board, emulator=emulator, model=model,
                     run_dir=run_dir, **options)
