"""`tinyship tflm-tree DIR [--cmsis-nn] [--commit SHA] [--json]`."""

from __future__ import annotations

import click

from toolchain.cli.common import json_option, print_json


@click.command()
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--cmsis-nn", is_flag=True, help="TFLM's CMSIS-NN kernels (Cortex-M DSP/Helium) instead of the reference kernels.")
@click.option("--commit", metavar="SHA", help="tflite-micro commit. Default: the one the pinned tflite-micro wheel was built from.")
@click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True, help="Seconds for the whole tree.")
@json_option
def command(out_dir, cmsis_nn, commit, timeout, as_json):
    """Make the TFLM source tree that --engine tflm builds from (--tflm-dir DIR or TFLM_DIR).

    Clones tflite-micro at the commit of the pinned tflite-micro wheel (the Python oracle tinyship
    compares firmware with) and runs its create_tflm_tree.py, which downloads TFLM's third-party
    code. Needs git and the network; without them, docs/tflm-engine.md says how to make the tree
    offline. DIR must be new or empty.
    """
    from toolchain.tflm_tree import make_tree

    tree = make_tree(out_dir, cmsis_nn=cmsis_nn, commit=commit, timeout=timeout,
                     progress=lambda note: click.echo(note, err=True))
    if as_json:
        print_json(tree)
    else:
        click.echo(f"TFLM tree ({tree['kernels']} kernels, tflite-micro {tree['commit']}) in {tree['dir']}; "
                   f"use it with --tflm-dir {tree['dir']}")
