"""`tinyship export MODEL.tflite -o OUT/ [--name NAME] [--section SECTION]` (no TensorFlow)."""

from __future__ import annotations

import click

from toolchain.cli.common import console, json_option, print_json


@click.command()
@click.argument("tflite", metavar="MODEL.tflite", type=click.Path(path_type=str))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--name", help="C identifier prefix (default: the file name).")
@click.option("--section", metavar="SECTION", help="Linker section for the model array, e.g. .rodata.model.")
@json_option
def command(tflite, out_dir, name, section, as_json):
    """Write the model as a 16-byte aligned C array (NAME_model_data.h/.cc) and its I/O constants (NAME_model_io.h)."""
    from toolchain.export import export

    result = export(tflite, out_dir, name=name, section=section)
    if as_json:
        print_json({"name": result.name, "crc32": f"0x{result.crc32:08x}", "size": result.size,
                    "files": [str(f) for f in result.files]})
        return
    out = console()
    out.print(f"{result.name}: {result.size:,} bytes, CRC32 0x{result.crc32:08x}")
    for f in result.files:
        out.print(f"wrote {f}")
