"""`tinyship generate MODEL.tflite --board ID [--engine aot|tflm] -o DIR`."""

from __future__ import annotations

import click

from toolchain.cli.common import (board_option, builder_option, console, json_option, kernels_option,
                                  mlperf_name_option, print_json)


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@board_option
@click.option("--engine", type=click.Choice(["aot", "tflm"]), default="aot", show_default=True,
              help="Inference engine: tinyship's ahead-of-time C code, or the TFLite Micro interpreter.")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Project folder to write.")
@click.option("--memory-of", metavar="BOARD", help="Link with another board's flash/RAM sizes (emulated boards).")
@click.option("--tflm-dir", type=click.Path(file_okay=False), envvar="TFLM_DIR",
              help="TFLM source tree (as create_tflm_tree.py writes it) for tflm on Makefile boards. [env: TFLM_DIR]")
@kernels_option
@builder_option
@mlperf_name_option
@json_option
def command(model, board, engine, out_dir, memory_of, tflm_dir, kernels, builder, mlperf_name, as_json):
    """Drop MODEL into a self-contained firmware project for a board and engine.

    Example: tinyship generate kws.tflite --board qemu-cortex-m4 --kernels size -o kws-m4
    """
    from toolchain.codegen import generate

    if not board:
        raise click.UsageError("--board is required (see `tinyship boards`)")
    p = generate(model, board=board, engine=engine, out_dir=out_dir, memory_of=memory_of, tflm_dir=tflm_dir,
                 aot_kernels=kernels, builder=builder, mlperf_name=mlperf_name)
    if as_json:
        print_json({"dir": str(p.dir), "board": p.board.id, "memory_of": p.board.memory_of, "engine": p.engine,
                    "kernels": p.kernels, "model": p.model_name, "crc32": p.crc32, "builder": p.builder,
                    "files": [str(f.relative_to(p.dir)) for f in p.files], "layers": p.layers})
        return
    how = "pio run" if p.builder == "platformio" else "make"
    kernels = f", {p.kernels} kernels" if p.kernels else ""
    console().print(f"{p.dir}: {p.model_name} on {p.board.id} ({p.engine}{kernels}), {len(p.files)} files; "
                    f"build with `tinyship build {p.dir}` (runs {how})")
