"""Profiling reports: `report.json` (schema.json, docs/report.md), `report.md`, `report.html`.

The HTML is self-contained: its plots are inline SVG drawn by matplotlib, no
scripts, no external resources.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jinja2

from toolchain.escape import environment
from toolchain.files import atomic_write

SCHEMA_PATH = Path(__file__).with_name("schema.json")


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = environment(jinja2.PackageLoader("toolchain.report", "templates"), trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=False, html=jinja2.select_autoescape(["html.j2"]))
    env.filters["num"] = _num
    return env


def _num(value, digits: int = 1) -> str:
    """Thousands separators for big numbers, `digits` decimals for small fractional ones, '-' for None."""
    if value is None:
        return "-"
    if isinstance(value, float) and abs(value) < 1000 and not value.is_integer():  # a median of counts: 80, not 80.0
        return f"{value:.{digits}f}"
    return f"{round(value):,}"


def write_report(report: dict, out_dir) -> dict:
    """Write report.json, report.md and report.html into `out_dir`; return {kind: path}."""
    from toolchain.report.plots import plots

    out_dir = Path(out_dir)
    files = {kind: str(out_dir / f"report.{kind}") for kind in ("json", "md", "html")}
    report = {**report, "files": files}
    atomic_write(files["json"], json.dumps(report, indent=2, default=_jsonable) + "\n")
    atomic_write(files["md"], _env().get_template("report.md.j2").render(r=report))
    atomic_write(files["html"], _env().get_template("report.html.j2").render(r=report, plots=plots(report)))
    return files


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
