"""`tinyship zoo [--fetch] [--json]`: where the shared models and samples of models/zoo.yaml are."""

from __future__ import annotations

import click
from rich import box
from rich.table import Table

from toolchain.cli.common import console, json_option, print_json


@click.command()
@click.option("--fetch", is_flag=True,
              help="Download the files found neither in ../shared/data nor in the cache (checked against "
                   "their sha256; the cache is $TINYSHIP_CACHE or ~/.cache/tinyship).")
@json_option
def command(fetch, as_json):
    """List the shared models and samples (models/zoo.yaml) and where each one is read from."""
    from toolchain import zoo

    if fetch:
        zoo.fetch_all(progress=lambda name: click.echo(f"downloading {name} ({zoo.catalog()[name]['url']})", err=True))
    rows = zoo.status()
    if as_json:
        print_json({"data_dir": zoo.data_dir(), "files": rows})
        return
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("file", "where", "path"):
        t.add_column(name, overflow="fold")
    for r in rows:
        t.add_row(r["file"], r["where"], str(r["path"] or r["url"]))
    out = console()
    out.print(t)
    missing = sum(r["where"] == "missing" for r in rows)
    if missing:
        out.print(f"{missing} file(s) missing: `tinyship zoo --fetch` downloads them")
