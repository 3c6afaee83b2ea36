"""`tinyship ci init`: write a GitHub Actions workflow that runs the model in an emulator."""

from __future__ import annotations

import click

from toolchain.cli.common import console


@click.group("ci")
def command():
    """CI helpers."""


@command.command("init")
@click.argument("model")
@click.option("--board", default="qemu-cortex-m4", show_default=True, metavar="ID", help="Emulated board to run on (QEMU or Renode).")
@click.option("--engine", type=click.Choice(["aot", "tflm"]), default="aot", show_default=True)
@click.option("-o", "path", default=".github/workflows/tinyship.yml", show_default=True, help="Workflow file to write.")
@click.option("--install", metavar="PIP_SPEC",
              help="What CI pip-installs as tinyship (not on PyPI): default '.' when the workflow is written inside "
                   "the tinyship checkout, else git+<this checkout's origin>@<its commit>.")
@click.option("--random", type=int, default=20, show_default=True, help="Random samples per CI run.")
@click.option("--force", is_flag=True, help="Overwrite an existing workflow.")
def init(model, board, engine, path, install, random, force):
    """Write a workflow that builds MODEL (a .tflite in your repository) and validates it in an emulator."""
    from toolchain.ci import init_workflow

    out = init_workflow(model, board=board, engine=engine, path=path, install=install, random=random, force=force)
    console().print(f"wrote {out}: builds {model} for {board} and runs `tinyship emulate` with a JUnit verdict")
