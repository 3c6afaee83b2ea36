"""`tinyship analyze MODEL.tflite`: a thin layer over `toolchain.analyze.analyze`."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from toolchain.cli.common import board_option, console, json_option, print_json
from toolchain.escape import terminal


@click.command("analyze")
@click.argument("model", type=click.Path(dir_okay=True, path_type=str))
@board_option
@click.option("--engine", type=click.Choice(["tflm", "aot"]), default="tflm", show_default=True,
              help="Engine whose RAM/flash needs --board checks.")
@json_option
@click.option("--html", "html_path", metavar="FILE", help="Also write a self-contained HTML page with plots.")
@click.option("--measure", is_flag=True, help="Also find the smallest arena the real TFLM interpreter needs (host).")
@click.option("--emit-resolver", "resolver_path", metavar="FILE.h",
              help="Write a MicroMutableOpResolver header registering exactly the model's ops.")
def command(model, board, engine, as_json, html_path, measure, resolver_path):
    """Ops, MACs, params, arena plan, op resolver, engine support and board fit of MODEL."""
    from toolchain.analyze import analyze

    result = analyze(model, board=board, engine=engine, measure=measure)
    if resolver_path:
        from toolchain.analyze.resolver import emit_resolver

        emit_resolver(result.model, resolver_path)
    if html_path:
        from toolchain.analyze.html import write_html

        write_html(result, html_path)
    if as_json:
        print_json(result.to_dict())
    else:
        _render(result.to_dict())
    result.check_fit()


def _render(d: dict) -> None:
    out = console()
    t = d["totals"]
    out.print(f"[bold]{_plain(d['model']['name'])}[/]: {d['model']['bytes']:,} bytes, {t['layers']} layers, "
              f"{t['params']:,} params, {t['macs']:,} MACs, weights {t['weights_bytes']:,} bytes, "
              + ("[green]fully int8[/]" if t["fully_int8"] else "[red]not fully int8[/]"))
    a = d["arena"]
    timeline = a["timeline"]
    layers = Table(title="Layers", title_justify="left")
    for name, justify in (("#", "right"), ("op", "left"), ("Keras layer", "left"), ("output", "left"),
                          ("params", "right"), ("MACs", "right"), ("live arena", "right")):
        layers.add_column(name, justify=justify)
    kernels = any("kernel" in layer for layer in d["layers"])
    if kernels:
        layers.add_column("aot kernel", justify="left")
    for layer, row in zip(d["layers"], timeline):
        peak = layer["index"] == a["peak_layer"]
        cells = [str(layer["index"]), _plain(f"{layer['op']} v{layer['version']}"), _plain(layer["keras_layer"] or ""),
                 f"{layer['output_shape']} {layer['dtype']}", f"{layer['params']:,}", f"{layer['macs']:,}",
                 f"{row['live_bytes']:,}" + (" [bold yellow]peak[/]" if peak else "")]
        if kernels:
            reason = _plain(layer.get("reason") or "")
            cells.append((layer.get("kernel") or "-") + (f" [yellow]({reason})[/]" if reason else ""))
        layers.add_row(*cells)
    out.print(layers)
    arena = Table(title="Arena (TFLM greedy plan)", title_justify="left", show_header=False)
    arena.add_column(justify="left")
    arena.add_column(justify="right")
    arena.add_row("head (planned)", f"{a['head']:,}")
    arena.add_row("tail, 32-bit target (estimate)", f"{a['tail_32']['bytes']:,}")
    arena.add_row("total, 32-bit target", f"{a['total_32']:,}")
    arena.add_row("tail, 64-bit host (estimate)", f"{a['tail_64']['bytes']:,}")
    if d["measured"]:
        m = d["measured"]
        arena.add_row("measured on host: head / tail", f"{m['head']:,} / {m['tail']:,}")
        arena.add_row("measured smallest working arena", f"{m['min_arena']:,}")
    arena.add_row("peak layer", str(a["peak_layer"]))
    out.print(arena)
    for note in a["notes"] + d["notes"]:
        out.print(f"[yellow]note:[/] {_plain(note)}")
    engines = Table(title="Engines", title_justify="left")
    engines.add_column("engine")
    engines.add_column("support")
    for name, s in d["engines"].items():
        text = "[green]all ops[/]" if s["supported"] else "\n".join(
            f"[red]{_plain(u['op'])}[/]: {_plain(u['reason'])} (layers {', '.join(str(x['index']) for x in u['layers'])})"
            for u in s["unsupported"])
        engines.add_row(name, text)
    out.print(engines)
    if d["board"]:
        b = d["board"]
        fit = Table(title=f"Board {b['id']} ({b['engine']})", title_justify="left")
        for name in ("", "needed", "budget", "short"):
            fit.add_column(name, justify="right")
        for key in ("flash", "ram"):
            r = b[key]
            fit.add_row(key if key == "flash" else "RAM", f"{r['needed']:,}", f"{r['budget']:,}",
                        f"[red]{r['short']:,}[/]" if r["short"] else "0")
        out.print(fit)


def _plain(text: str) -> str:
    """Model text (names, reasons quoting them) shown as is: no rich markup, no control characters."""
    return escape(terminal(text))
