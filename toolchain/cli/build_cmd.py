"""`tinyship build DIR [--json]`: build a generated project and print its flash/RAM split."""

from __future__ import annotations

import click
from rich.table import Table

from toolchain.cli.common import console, json_option, print_json
from toolchain.errors import DoesNotFitError


@click.command()
@click.argument("project_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("-j", "--jobs", default=2, show_default=True, help="Parallel compile jobs.")
@json_option
def command(project_dir, jobs, as_json):
    """Build a generated project and report flash/RAM by component against the board budget.

    Exits 3, naming the shortfall, when the firmware does not fit the board (or --memory-of board).
    """
    from toolchain.build import build

    try:
        r = build(project_dir, jobs=jobs, progress=lambda note: click.echo(note, err=True))
    except DoesNotFitError as e:
        if hasattr(e, "build_result"):
            _render(e.build_result, as_json)
        raise
    _render(r, as_json)


def _render(r, as_json: bool) -> None:
    if as_json:
        print_json(r.to_dict())
        return
    t = Table("bytes", "flash", "RAM", title=f"{r.board}: {r.elf}")
    for c in r.sizes["flash"]:
        t.add_row(c, f"{r.sizes['flash'][c]:,}", f"{r.sizes['ram'][c]:,}")
    t.add_row("total", f"{r.flash:,}", f"{r.ram:,}", style="bold")
    t.add_row("budget", f"{r.flash_budget:,}", f"{r.ram_budget:,}")
    t.add_row("used", *(f"{100 * u / b:.1f}%" if b else "-" for u, b in ((r.flash, r.flash_budget),
                                                                          (r.ram, r.ram_budget))))
    console().print(t)
