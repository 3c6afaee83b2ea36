"""Options and output helpers shared by the subcommands."""

from __future__ import annotations

import json
import math
import sys

import click
from rich.console import Console

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the human summary.")
board_option = click.option("--board", "board", metavar="ID", help="Board id from the catalog (see `tinyship boards`).")
kernels_option = click.option(
    "--kernels", type=click.Choice(["speed", "size", "portable"]), default=None,
    help="aot kernels: speed (DSP/Helium kernels; on DSP cores int16 weights, about twice the flash), size (int8 "
         "weights widened in registers: portable flash, about 1.3x the instructions on Cortex-M4) or portable "
         "(plain C). Default: speed, or size when the board's flash would not hold the speed layout.")
mlperf_name_option = click.option(
    "--mlperf-name", type=click.Choice(["kws01", "vww01", "ic01", "ad01"]),
    help="Model name the firmware answers to `profile`, by which the MLPerf Tiny runner picks its test. "
         "Default: inferred for the reference models (kws_ref_model -> kws01, vww_96 -> vww01, "
         "pretrainedResnet -> ic01, ad01 -> ad01), else the model's own name.")
builder_option = click.option(
    "--builder", type=click.Choice(["make", "platformio"]),
    help="make (bare-metal Makefile: the default wherever the board has one, e.g. the STM32 boards) or "
         "platformio (the Arduino core).")
port_option = click.option("--port", metavar="URL", help="pyserial URL: /dev/ttyACM0, COM3, socket://127.0.0.1:4321, rfc2217://..., or 'auto'.")


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


def print_json(obj) -> None:
    """Strict JSON: NaN and infinities (from a hostile model's scales) become null."""
    json.dump(finite(obj), sys.stdout, indent=2, sort_keys=False, default=str, allow_nan=False)
    sys.stdout.write("\n")


# The examples every `--help` ends with, per command path; the lab 01 outputs (`make demo`) and
# the shared models (`tinyship zoo`) make them runnable as written.
_M = "labs/01_hello_world/output"
EXAMPLES = {
    "tinyship": [f"tinyship deploy {_M}/sine.keras --calib {_M}/calib.npy --board qemu-cortex-m4 -o deploy/",
                 "tinyship convert --help"],
    "convert": [f"tinyship convert {_M}/sine.keras --calib {_M}/calib.npy -o out/"],
    "export": ["tinyship export out/sine.tflite -o out/ --section .rodata.model"],
    "analyze": ["tinyship analyze out/sine.tflite --board arduino-nano-33-ble",
                "tinyship analyze model.tflite --engine aot --json"],
    "boards": ["tinyship boards", "tinyship boards show qemu-cortex-m4"],
    "boards show": ["tinyship boards show stm32f4-discovery --json"],
    "generate": ["tinyship generate out/sine.tflite --board qemu-cortex-m4 -o fw/",
                 "tinyship generate model.tflite --board stm32f4-discovery --builder platformio -o fw/"],
    "build": ["tinyship build fw/", "tinyship build fw/ --json"],
    "flash": ["tinyship flash fw/ --port /dev/ttyACM0", "tinyship flash fw/ --tool openocd --upload-timeout 120"],
    "emulate": ["tinyship emulate fw/ --random 20", "tinyship emulate fw/ --inputs samples.npy --junit junit.xml"],
    "profile": ["tinyship profile --port /dev/ttyACM0 --model out/sine.tflite --random 20",
                "tinyship profile --port socket://127.0.0.1:4321 --model model.tflite --inputs x.npy --labels y.npy"],
    "deploy": [f"tinyship deploy {_M}/sine.keras --calib {_M}/calib.npy --board qemu-cortex-m4 -o deploy/",
               "tinyship deploy model.tflite --board arduino-nano-33-ble --port /dev/ttyACM0"],
    "bench": ["tinyship bench --model hello_world --board qemu-cortex-m4 --engine aot"],
    "ci": ["tinyship ci init models/kws.tflite --board qemu-cortex-m4"],
    "ci init": ["tinyship ci init models/kws.tflite --board qemu-cortex-m4",
                "tinyship ci init model.tflite --install 'git+https://github.com/ORG/tinyship@COMMIT'"],
    "tflm-tree": ["tinyship tflm-tree ~/tflm-tree-ref", "tinyship tflm-tree ~/tflm-tree-cmsis --cmsis-nn --json"],
    "zoo": ["tinyship zoo", "tinyship zoo --fetch"],
}


def with_examples(command: click.Command, path: str = "tinyship") -> click.Command:
    """Append EXAMPLES[path] to `command`'s --help (its epilog), and likewise for its subcommands."""
    if path in EXAMPLES:
        lines = "\n".join(f"  {line}" for line in EXAMPLES[path])
        command.epilog = "\b\nExamples:\n" + lines  # \b: click keeps the lines as written
    for name, sub in getattr(command, "commands", {}).items():
        with_examples(sub, f"{path} {name}")
    return command


def finite(obj):
    """`obj` with every non-finite float replaced by None (numpy scalars and arrays become Python values)."""
    if hasattr(obj, "tolist"):
        obj = obj.tolist()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj
