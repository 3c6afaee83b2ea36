"""The `tinyship` command: a thin layer over the Python API of the same verbs.

Subcommands live in `toolchain/cli/<verb>_cmd.py`, each exposing `command`, and are
imported only when invoked, so `tinyship --help` and non-converting commands never
import TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

import click

from toolchain.cli.common import with_examples
from toolchain import stops
from toolchain.errors import ToolchainError
from toolchain.escape import terminal

# verb -> (module, one-line help shown by `tinyship --help`)
COMMANDS = {
    "convert": ("convert_cmd", "Keras model -> INT8 .tflite + float .tflite + quantization report."),
    "export": ("export_cmd", ".tflite -> aligned C array and I/O header."),
    "analyze": ("analyze_cmd", "Ops, MACs, params, arena plan, op resolver, engine support, board fit."),
    "boards": ("boards_cmd", "List the board catalog or show one board."),
    "generate": ("generate_cmd", "Drop a model into a firmware project for a board and engine."),
    "build": ("build_cmd", "Build a generated project and report its flash/RAM split."),
    "flash": ("flash_cmd", "Upload a built project to a board (PlatformIO)."),
    "emulate": ("emulate_cmd", "Boot firmware in QEMU (or Renode) and profile it."),
    "profile": ("profile_cmd", "Profile and validate a model running on a device."),
    "deploy": ("deploy_cmd", "convert -> analyze -> generate -> build -> flash/emulate -> profile."),
    "bench": ("bench_cmd", "Benchmark engines on the emulated cores."),
    "ci": ("ci_cmd", "CI helpers (e.g. write a GitHub Actions workflow)."),
    "tflm-tree": ("tflm_tree_cmd", "Make the TFLM source tree the tflm engine builds from (git + create_tflm_tree.py)."),
    "zoo": ("zoo_cmd", "Where the shared models and samples are; --fetch downloads them."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name, (mod, _) in COMMANDS.items() if _module_exists(mod)]

    def get_command(self, ctx, name):
        if name not in COMMANDS or not _module_exists(COMMANDS[name][0]):
            return None
        module = importlib.import_module(f"toolchain.cli.{COMMANDS[name][0]}")
        return with_examples(module.command, name)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(mod: str) -> bool:
    return importlib.util.find_spec(f"toolchain.cli.{mod}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tinyship")
def cli():
    """tinyship: train in Keras, run measured on a microcontroller.

    Exit codes: 0 ok, 1 internal error, 2 bad input, 3 does not fit / not
    supported, 4 device/emulator/tool failure, 5 stale firmware, 6 build failed,
    7 device outputs differ from the TFLM reference, 130 interrupted (Ctrl-C),
    143 terminated (SIGTERM).
    """


with_examples(cli)


def _interrupted(e: BaseException) -> None:
    """One line for a Ctrl-C or SIGTERM: what stopped, in which stage, where the partial report is."""
    stop = e if isinstance(e, KeyboardInterrupt) else e.__cause__
    code = getattr(stop, "exit_code", 130)
    report = getattr(stop, "report", None) or {}
    stage = (report.get("error") or {}).get("stage")
    where = (report.get("files") or {}).get("json")
    click.echo(f"tinyship: {'terminated (SIGTERM)' if code == 143 else 'interrupted'}"
               + (f" during {stage}" if stage else "") + "; tools stopped"
               + (f", partial report in {terminal(where)}" if where else ""), err=True)
    sys.exit(code)


def main(argv=None):
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        stops.install()  # SIGTERM unwinds like Ctrl-C: cleanup and reports run
    try:
        with stops.translated():
            cli.main(args=argv, prog_name="tinyship", standalone_mode=False)
    except ToolchainError as e:
        click.echo(f"tinyship: error: {terminal(e)}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort as e:  # click wraps KeyboardInterrupt (and Terminated) in Abort
        _interrupted(e)
    except click.ClickException as e:
        e.show()
        sys.exit(2 if e.exit_code in (1, 2) else e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt as e:
        _interrupted(e)
    sys.exit(0)
