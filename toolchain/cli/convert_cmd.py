"""`tinyship convert MODEL -o OUT/ --calib DATA [...]`."""

from __future__ import annotations

import contextlib
import os

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from toolchain.cli.common import console, json_option, print_json

TASKS = {"calibrate": "calibrating (converter)", "evaluate": "evaluating int8 in TFLM"}


@click.command()
@click.argument("model", type=click.Path(path_type=str))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--calib", metavar="DATA", help="Calibration samples: .npy (N x input shape), .npz, folder of .npy, or 'random'.")
@click.option("--calib-key", metavar="KEY", help="Array of the --calib .npz to use (default: the first).")
@click.option("--eval", "eval_data", metavar="DATA", help="Samples to compare float and int8 on (default: the calibration set).")
@click.option("--labels", metavar="LABELS", help=".npy of integer class ids for --eval: reports accuracy.")
@click.option("--io", type=click.Choice(["int8", "float"]), default="int8", show_default=True,
              help="Input/output tensor type; 'float' keeps QUANTIZE/DEQUANTIZE at the edges.")
@click.option("--name", help="Base name of the outputs (default: the model file name).")
@click.option("--allow-float-ops", is_flag=True, help="Keep ops the converter left in float instead of failing.")
@json_option
def command(model, out_dir, calib, calib_key, eval_data, labels, io, name, allow_float_ops, as_json):
    """Convert a Keras model (.keras, .h5, SavedModel folder) to a fully INT8 .tflite.

    Writes OUT/NAME.tflite, OUT/NAME_float.tflite and OUT/NAME_quant_report.json.
    """
    from toolchain.convert import convert

    with _progress(enabled=not as_json) as progress:
        result = convert(model, out_dir, calib=calib, eval_data=eval_data, labels=labels, io=io, name=name,
                         calib_key=calib_key, allow_float_ops=allow_float_ops, progress=progress)
    if as_json:
        print_json({**result.report, "files": [str(result.tflite_path), str(result.float_path),
                                               str(result.report_path)]})
        return
    _summary(result)


@contextlib.contextmanager
def _progress(enabled: bool):
    if not enabled:
        yield None
        return
    # The converter's C++ output on fd 2 is captured while it runs: draw on a copy of fd 2.
    stream = os.fdopen(os.dup(2), "w")
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=Console(file=stream, highlight=False), transient=True)
    tasks = {}

    def update(task, done, total):
        if not tasks:
            bars.start()  # only once there is something to show
        if task not in tasks:
            tasks[task] = bars.add_task(TASKS.get(task, task), total=total)
        bars.update(tasks[task], completed=done)

    with stream:
        try:
            yield update
        finally:
            if tasks:
                bars.stop()


def _summary(result) -> None:
    r = result.report
    out = console()
    for note in r["notes"]:
        out.print(f"note: {note}")
    size = r["size"]
    out.print(f"[bold]{r['name']}[/]: float {size['float_bytes']:,} B -> int8 {size['int8_bytes']:,} B "
              f"({100 / size['ratio']:.0f}% of float), {r['io']} I/O")
    out.print("ops: " + ", ".join(f"{op} x{n}" for op, n in r["ops"].items()))
    ev = r["evaluation"]
    optional = [(key, head) for key, head in (("top1_agreement", "top-1 agree"), ("float_accuracy", "acc float"),
                                              ("int8_accuracy", "acc int8")) if any(key in m for m in r["metrics"])]
    t = Table("output", "shape", "RMSE", "max |err|", "cosine", *(head for _, head in optional),
              title=f"float vs int8 on {ev['samples']} samples ({ev['source']})")
    for m, o in zip(r["metrics"], r["outputs"]):
        t.add_row(str(m["output"]), "x".join(map(str, o["shape"])), f"{m['rmse']:.4g}", f"{m['max_abs_error']:.4g}",
                  f"{m['cosine']:.5f}", *(_pct(m.get(key)) for key, _ in optional))
    out.print(t)
    for w in r["warnings"]:
        out.print(f"[yellow]warning:[/] {w}")
    for path in (result.tflite_path, result.float_path, result.report_path):
        out.print(f"wrote {path}")


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
