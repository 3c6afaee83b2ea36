"""`tinyship profile`: profile and validate a model on a device; also the shared profiling
options and rendering used by `emulate` and `deploy`."""

from __future__ import annotations

import contextlib
import functools

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from toolchain.cli.common import board_option, console, json_option, port_option, print_json


def profile_options(f):
    """The options every profiling verb takes (inputs, runs, report, CI)."""
    options = [
        click.option("--inputs", type=click.Path(exists=True), help="Samples: .npy/.npz/.bin file or a folder of them (floats are quantized)."),
        click.option("--random", "random", type=int, metavar="N", help="N random int8 samples instead of --inputs (default 10)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed for --random."),
        click.option("--labels", type=click.Path(exists=True), help="Class ids (.npy or text) for accuracy: device vs int8 and float host."),
        click.option("--float-model", type=click.Path(exists=True), help="Float .tflite for the float host accuracy with --labels."),
        click.option("-n", "n", type=int, default=10, show_default=True, help="Timed inferences per sample."),
        click.option("--warmup", type=int, default=1, show_default=True, help="Warm-up inferences per sample."),
        click.option("--tolerance", type=int, default=0, show_default=True, help="Largest accepted |device - host| in quantized units."),
        click.option("-o", "out_dir", type=click.Path(file_okay=False), help="Write report.json/.md/.html (and device.log) here."),
        click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML (one case per input + the verdict)."),
        click.option("--timeout", type=float, default=5.0, show_default=True,
                     help="Seconds for each command's whole reply (a device that keeps printing cannot extend it)."),
        click.option("--infer-timeout", type=float, default=10.0, show_default=True,
                     help="Extra seconds per inference for `infer` (its first line still within --timeout)."),
        click.option("--deadline", type=float, metavar="SECONDS",
                     help="Seconds for all device commands of the run together (default: the sum of the command deadlines)."),
        json_option,
    ]
    for option in reversed(options):
        f = option(f)
    return f


@contextlib.contextmanager
def progress_display(enabled: bool):
    """A rich progress bar on stderr; yields the `progress(stage, done, total)` callback."""
    if not enabled:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console(stderr=True), transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def render(report: dict, as_json: bool) -> None:
    """The summary table (or the report as JSON)."""
    if as_json:
        print_json(report)
        return
    out = console()
    lat, val, mem, dev = report["latency"], report["validation"], report["memory"], report["device"]
    table = Table(title=f"{report['model']['name']} on {dev.get('board') or dev['url']} ({dev.get('engine') or '?'})",
                  show_header=False)
    if report["context"].get("port_note"):
        table.add_row("port", report["context"]["port_note"])
    if lat:
        c, us = lat["cycles"], lat["us"]
        spread = f"(min {c['min']:,.0f}, p90 {c['p90']:,.0f}, max {c['max']:,.0f}, std {c['std']:,.1f})"
        if lat["cycles_are"] == "instructions":  # QEMU counts instructions, not time
            table.add_row(f"latency ({lat['label']})", f"median {c['median']:,.0f} instructions (QEMU)  {spread}")
            est = lat.get("estimated")
            if est:
                at = (f"; ~{est['ms']['median']:,.2f} ms at {est['clock_hz'] / 1e6:g} MHz (estimated)"
                      if est["ms"] else "")
                table.add_row("estimated", f"~{est['cycles']['median']:,.0f} cycles (estimated, cost model){at}")
        else:
            table.add_row(f"latency ({lat['label']})", f"median {c['median']:,.0f} {lat['cycles_are']} = "
                          f"{us['median']:,.1f} µs  {spread}")
    if mem.get("arena_size"):
        table.add_row("arena", f"{mem.get('arena_used') or 0:,} / {mem['arena_size']:,} bytes used")
    if mem.get("stack_size"):
        table.add_row("stack", f"{mem.get('stack_used') or 0:,} / {mem['stack_size']:,} bytes (high-water mark)")
    for region, split in (mem.get("static") or {}).items():
        parts = ", ".join(f"{k} {v:,}" for k, v in split.items() if k not in ("total", "budget") and v)
        table.add_row(f"{region} (build)", f"{split['total']:,} / {split['budget']:,} bytes ({parts})")
    if report["layers"]:
        top = max(report["layers"], key=lambda l: l["cycles"])
        table.add_row("slowest layer", f"{top['i']} {top['name']}: {100 * top['share']:.1f} %")
    if val:
        verdict = "[green]PASS[/]" if val["passed"] else "[red]FAIL[/]"
        table.add_row("validation vs TFLM", f"{verdict}  {val['bit_exact']}/{val['compared']} bit-exact, "
                      f"max diff {val['max_abs_diff']}, top-1 agree {val['top1_agree']}/{val['compared']}")
        if val["first_divergence"]:
            d = val["first_divergence"]
            table.add_row("first divergence", f"sample {d['sample']}, output index {d['output_index']}"
                          + (f", first diverging layer {d['layer']} ({d['layer_name']})" if d.get("layer") is not None else ""))
        if val["accuracy"]:
            a = val["accuracy"]
            fl = f"{100 * a['float_host']:.1f} %" if a["float_host"] is not None else "-"
            table.add_row("accuracy", f"device {100 * a['device']:.1f} %, int8 host {100 * a['int8_host']:.1f} %, float host {fl}")
    if report.get("files"):
        table.add_row("report", report["files"]["html"])
    out.print(table)


def run_with_display(as_json: bool, fn, **kwargs) -> dict:
    """Call a profiling API function with a progress bar, then render its report.

    Raises:
        ValidationFailed: the device's outputs differ from the TFLM reference (exit 7), after the report.
    """
    with progress_display(not as_json) as progress:
        report = fn(progress=progress, **kwargs)
    render(report, as_json)
    check_validation(report)
    return report


def check_validation(report: dict) -> None:
    """Raise ValidationFailed when the completed run's outputs differ from the reference beyond the tolerance."""
    from toolchain.errors import ValidationFailed

    val = report.get("validation")
    if not val or val["passed"]:
        return
    d = val["first_divergence"] or {}
    layer = f", first diverging layer {d['layer']} ({d['layer_name']})" if d.get("layer") is not None else ""
    where = (report.get("files") or {}).get("json")
    raise ValidationFailed(
        f"the device's outputs differ from the TFLM reference: {val['compared'] - val['bit_exact']} of "
        f"{val['compared']} samples not bit-exact, max diff {val['max_abs_diff']} > --tolerance {val['tolerance']} "
        f"(first at sample {d.get('sample')}, output index {d.get('output_index')}{layer})"
        + (f"; report: {where}" if where else ""),
        "rebuild and flash the firmware from this model; if it persists, report the model and board "
        "(or accept a difference with --tolerance N)")


@click.command("profile")
@port_option
@click.option("--model", "model", required=True, type=click.Path(exists=True, dir_okay=False), help="The .tflite the device should run.")
@click.option("--project", "project_dir", type=click.Path(exists=True, file_okay=False), help="Built project dir: adds its static flash/RAM split.")
@board_option
@profile_options
def command(port, model, project_dir, board, as_json, **options):
    """Profile MODEL on the device at --port and validate it against the TFLM host interpreter."""
    from toolchain.boards import load_board
    from toolchain.profile import profile

    run_with_display(as_json, functools.partial(profile, port or "auto", model), project_dir=project_dir,
                     board=load_board(board) if board else None, **options)
