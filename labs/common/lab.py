"""The frame every lab script shares: options, step-by-step printing, outputs and report.json.

    lab = Lab("01_hello_world", __doc__)       # parses --board, --quick, --out, --port
    with lab.step("Train the sine model"):     # prints "[1] Train ..." and its duration
        ...
    lab.finish(report)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

# Quiet TensorFlow before anything imports it; one thread each, the machine may be shared.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

LABS_DIR = Path(__file__).resolve().parents[1]
DEFAULT_BOARD = "qemu-cortex-m4"


class Lab:
    """Parses the common options (--board, --quick, --out) and prints what the lab does."""

    def __init__(self, name: str, doc: str, argv=None, extra_options=None):
        parser = argparse.ArgumentParser(prog=f"labs/{name}/lab.py", description=doc.strip().splitlines()[0])
        parser.add_argument("--board", default=DEFAULT_BOARD, metavar="ID",
                            help=f"board from the catalog (default {DEFAULT_BOARD}; emulated boards run in QEMU)")
        parser.add_argument("--quick", action="store_true", help="fewer epochs and inputs (what the tests run)")
        parser.add_argument("--out", type=Path, default=LABS_DIR / name / "output",
                            help="folder for figures, models and report.json (default labs/<lab>/output)")
        parser.add_argument("--port", metavar="URL",
                            help="serial port of a real board (flashed with PlatformIO) instead of the emulator")
        if extra_options:
            extra_options(parser)
        self.args = parser.parse_args(argv)
        self.name = name
        self.title = doc.strip().splitlines()[0]
        self.out: Path = short_path(self.args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        # a pipe or a log file gets wide lines, not tables folded at 80 columns
        self.console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)
        self.figures: list[Path] = []
        self._steps = 0
        self._start = time.monotonic()
        self.console.rule(f"[bold]{self.title}")
        mode = "quick" if self.args.quick else "full"
        self.console.print(f"board [bold]{self.args.board}[/], {mode} run, outputs in {self.out}")

    @contextlib.contextmanager
    def step(self, what: str):
        """Print `what`, run the block, print how long it took."""
        self._steps += 1
        self.console.print(f"\n[bold cyan][{self._steps}][/] {what}")
        start = time.monotonic()
        yield
        self.console.print(f"    [dim]done in {time.monotonic() - start:.1f} s[/]")

    def say(self, text: str) -> None:
        self.console.print(f"    {text}")

    def table(self, title: str, columns: list[str], rows: list[list]) -> None:
        t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        for c in columns:
            t.add_column(c, justify="left" if c == columns[0] else "right")
        for r in rows:
            t.add_row(*[str(v) for v in r])
        self.console.print(t)

    def figure(self, fig, name: str) -> Path:
        """Save a matplotlib figure as `<out>/<name>.png` and close it."""
        import matplotlib.pyplot as plt

        path = self.out / f"{name}.png"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(path)
        self.say(f"figure: {path}")
        return path

    def finish(self, report: dict) -> Path:
        """Write `<out>/report.json` (the lab's figures and results) and print where everything is."""
        report = {"lab": self.name, "board": self.args.board, "quick": self.args.quick,
                  "seconds": round(time.monotonic() - self._start, 1), **report,
                  "figures": [p.name for p in self.figures]}
        path = self.out / "report.json"
        tmp = path.with_name(".report.json.tmp")
        tmp.write_text(json.dumps(report, indent=2, default=_jsonable) + "\n")
        os.replace(tmp, path)
        self.console.rule(f"[bold]done in {report['seconds']:.0f} s")
        self.console.print(f"report: {path}")
        for fig in self.figures:
            self.console.print(f"figure: {fig}")
        return path


def short_path(path: Path) -> Path:
    """`path` relative to the working folder when it lies inside it (shorter lines to read)."""
    path = path.resolve()
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def quiet_tensorflow() -> None:
    """Import TensorFlow and Keras with their C++ start-up logging swallowed."""
    from toolchain.reference import capture_c_output

    with capture_c_output(2):
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


def quant_text(tensor) -> str:
    """`real = scale * (q - zero_point)` for a per-tensor quantized tensor."""
    q = tensor.quantization
    zp = q.zero_point[0]
    return f"real = {q.scale[0]:.6f} * (q {'-' if zp >= 0 else '+'} {abs(zp)})"


def run(main) -> None:
    """Run a lab's `main()`, turning a toolchain error into one line and its exit code."""
    from toolchain.errors import ToolchainError

    try:
        main()
    except ToolchainError as e:
        print(f"lab failed: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
