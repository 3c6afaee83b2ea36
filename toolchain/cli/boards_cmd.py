"""`tinyship boards [--json]` and `tinyship boards show ID [--json]`."""

from __future__ import annotations

import click
from rich import box
from rich.table import Table

from toolchain.cli.common import console, json_option, print_json


def _size(n: int) -> str:
    return f"{n // (1 << 20)} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n // 1024} KiB"


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def command(ctx, as_json):
    """List the board catalog (boards/*.yaml)."""
    if ctx.invoked_subcommand:
        return
    from toolchain.boards import list_boards

    boards = list_boards()
    if as_json:
        print_json([b.to_dict() for b in boards])
        return
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    # fits 80 columns; features and engines are in `tinyship boards show ID`
    for name in ("id", "core", "clock", "flash", "RAM", "runs on"):
        t.add_column(name, no_wrap=True)
    for b in boards:
        where = b.qemu["machine"] if b.qemu else ("native" if b.platform == "host" else "PlatformIO")
        clock = f"{b.clock_hz / 1e6:g} MHz" if b.clock_hz else "-"
        t.add_row(b.id, b.core, clock, _size(b.flash_bytes), _size(b.ram_bytes), where)
    console().print(t)


@command.command("show")
@click.argument("board_id", metavar="ID")
@json_option
def show(board_id, as_json):
    """Show every field of one board."""
    import yaml

    from toolchain.boards import load_board

    board = load_board(board_id)
    if as_json:
        print_json(board.to_dict())
    else:
        console().print(yaml.safe_dump(board.to_dict(), sort_keys=False).rstrip(), markup=False)
