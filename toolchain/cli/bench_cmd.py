"""`tinyship bench`: instructions per inference, MACs, arena and flash of the shared models on the
emulated cores, per engine, with bit-exactness against TFLM (toolchain.bench)."""

from __future__ import annotations

import click
from rich.table import Table

from toolchain.cli.common import console, json_option, print_json

DEFAULT_JSON = "bench/results.json"


@click.command()
@click.option("--model", "models", multiple=True, metavar="NAME|PATH",
              help="A bench model name (the MLPerf Tiny kws_ref_model, vww_96_int8, resnet8_ic, ad01, str_ww_ref_model; "
                   "person_detect, micro_speech, hello_world) or a .tflite; repeat for several. Default: all of them "
                   "(models neither shared nor cached are fetched, or their rows say why not).")
@click.option("--board", "boards", multiple=True, metavar="ID",
              help="Emulated board; repeat for several. Default: qemu-cortex-m4, -m7, -m55.")
@click.option("--engine", "engines", multiple=True, type=click.Choice(["aot", "aot-size", "aot-portable", "tflm"]),
              help="Engine rows (aot = --kernels speed, aot-size, aot-portable); repeat for several. Default: aot and "
                   "aot-portable (+ tflm with --tflm-dir).")
@click.option("--tflm-dir", "tflm_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="A TFLM source tree: adds the tflm engine's rows (reference or CMSIS-NN kernels, as the tree has); "
                   "repeat for several trees (e.g. one of each).")
@click.option("--samples", default=3, show_default=True, help="Random inputs compared with TFLM per row.")
@click.option("--work-dir", default="build/bench", show_default=True, type=click.Path(file_okay=False),
              help="Where the projects are generated and built.")
@click.option("--out", "json_path", default=DEFAULT_JSON, show_default=True, type=click.Path(dir_okay=False),
              help="Results file.")
@click.option("--markdown", is_flag=True, help="Print the table as Markdown (the README's performance section).")
@json_option
def command(models, boards, engines, tflm_dirs, samples, work_dir, json_path, markdown, as_json):
    """Benchmark the engines on the emulated Cortex-M cores (QEMU, -icount shift=0).

    Instruction counts are emulated (one instruction per ns of virtual time), not silicon cycles;
    "est. cycles" prices a traced inference with the core's cost model (Cortex-M4, M55:
    docs/cost-model.md), "-" for cores without one.

    Example: tinyship bench --model kws_ref_model --board qemu-cortex-m4 --engine aot --engine aot-size
    """
    from toolchain.bench import BOARDS, bench

    engines = engines or (("aot", "aot-portable") + (("tflm",) if tflm_dirs else ()))
    out = console(stderr=True)

    def progress(row):
        if not as_json:
            out.print(f"  {row.model} / {row.board} / {row.engine}: "
                      f"{row.error or f'{row.instructions:,} instructions'}")

    result = bench(models or None, boards or BOARDS, engines, tflm_dirs=tflm_dirs, samples=samples,
                   work_dir=work_dir, json_path=json_path, progress=progress)
    if as_json:
        print_json(result.to_dict())
    elif markdown:
        click.echo(markdown_table(result))
    else:
        console().print(table(result))


HEADER = ("model", "board", "engine", "instructions", "est. cycles", "MACs", "instr/MAC", "arena B",
          "flash model/engine/app B", "exact vs TFLM", "ratio")


def _cells(result, r) -> list[str]:
    if r.error:
        return [r.model, r.board, r.engine, f"not run: {r.error[:70]}"] + [""] * (len(HEADER) - 4)
    ratios = [f"{x:.3f}x portable" for x in [result.ratio(r, "aot-portable")] if x and r.engine == "aot"]
    ratios += [f"{x:.2f}x aot" for x in [result.ratio(r, "aot")] if x and r.engine == "aot-size"]
    ratios += [f"{x:.2f}x {e}" for e in ("tflm-cmsis-nn", "tflm-ref") for x in [result.ratio(r, e)]
               if x and r.engine == "aot"]
    return [r.model, r.board, r.engine, f"{r.instructions:,}",
            f"~{r.estimated_cycles:,}" if r.estimated_cycles else "-", f"{r.macs:,}", f"{r.per_mac:.2f}", f"{r.arena_bytes:,}",
            f"{r.flash['model']:,} / {r.flash['engine']:,} / {r.flash['app']:,}",
            f"yes ({r.samples})" if r.exact else f"NO ({r.samples})", ", ".join(ratios)]


def table(result) -> Table:
    t = Table(*HEADER, title="tinyship bench (QEMU -icount shift=0: emulated instruction counts; "
                             "cycles estimated by docs/cost-model.md)")
    for r in result.rows:
        t.add_row(*_cells(result, r))
    return t


def markdown_table(result) -> str:
    """The bench table as Markdown, as pasted into the README's performance section."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_cells(result, r)) + " |" for r in result.rows]
    return "\n".join(lines)
