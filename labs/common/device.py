"""Put a model on the lab's board and run inputs through it with `toolchain.deploy`."""

from __future__ import annotations

from pathlib import Path

from labs.common.lab import short_path


def run_on_device(lab, tflite: Path, inputs: Path | None = None, *, random: int | None = None, engine: str = "aot",
                  n: int = 3, warmup: int = 1, float_model: Path | None = None, labels=None, tflm_dir=None) -> dict:
    """analyze (fit check) -> generate -> build -> boot in QEMU (or flash `--port`) -> run every sample
    of `inputs` (or `random` seeded random inputs).

    Returns the harness report (docs/report.md); its files go to `<lab out>/device_<model>_<engine>/`.
    """
    from toolchain import deploy

    out = lab.out / f"device_{Path(tflite).stem}_{engine}"
    report = deploy(tflite, board=lab.args.board, engine=engine, port=lab.args.port, inputs=inputs, random=random,
                    labels=labels, n=n, warmup=warmup, float_model=float_model, tflm_dir=tflm_dir, out_dir=out,
                    progress=_Progress(lab))
    static = report["memory"]["static"]
    elf = short_path(Path(report["context"]["deploy"]["build"]["elf"]))
    lab.say(f"firmware {elf} ({engine} engine): "
            f"flash {static['flash']['total']:,} B, RAM {static['ram']['total']:,} B; reports in {out / 'report'}")
    return report


def profile_rows(report: dict) -> list[list[str]]:
    """The headline figures of a harness report, as rows for `Lab.table`."""
    lat, mem, v = report["latency"], report["memory"], report["validation"]
    static = mem["static"]
    return [
        ["latency per inference (median)", f"{lat['cycles']['median']:,.0f} {lat['cycles_are']} ({lat['label']})"],
        ["arena used / stack used", f"{mem['arena_used']:,} B / {mem['stack_used']:,} B"],
        ["firmware flash / RAM", f"{static['flash']['total']:,} B / {static['ram']['total']:,} B"],
        ["  of which model (flash)", f"{static['flash']['model']:,} B"],
        ["bit-exact vs host TFLM", f"{v['bit_exact']}/{v['compared']} (max diff {v['max_abs_diff']})"],
    ]


class _Progress:
    """Print each pipeline stage of `deploy` once, when it completes."""

    def __init__(self, lab):
        self.lab, self.done = lab, set()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if done == total and total and stage not in self.done:
            self.done.add(stage)
            self.lab.say(f"[green]ok[/] {stage}" + (f" ({total})" if total > 1 else ""))
