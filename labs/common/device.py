"""Put a model on the lab's board and run inputs through it: generate -> build -> emulate."""

from __future__ import annotations

from pathlib import Path

from toolchain.errors import InputError


def run_on_device(lab, tflite: Path, inputs: Path, *, engine: str = "aot", n: int = 3, warmup: int = 1,
                  float_model: Path | None = None, labels=None) -> dict:
    """Generate and build the firmware for `lab.args.board`, boot it, run every sample of `inputs`.

    Returns the harness report (docs/report.md) with the static sizes of the build added
    as `report["build"]`; the report files go to `<lab out>/device_<engine>/`.
    """
    from toolchain import build, emulate, generate, load_board

    board = load_board(lab.args.board)
    if not (board.emulated or board.id == "host"):
        raise InputError(f"the labs run the firmware in an emulator; board '{board.id}' has none",
                         "pick a qemu-* board, or flash it with `tinyship deploy MODEL --board ID --port URL`")
    project_dir = lab.out / f"firmware_{engine}"
    generate(tflite, board=board.id, engine=engine, out_dir=project_dir)
    built = build(project_dir)
    sizes = _sizes(built.sizes)
    lab.say(f"generated and built {built.elf} ({engine} engine): "
            f"flash {sizes['flash']:,} B, RAM {sizes['ram']:,} B")
    report = emulate(project_dir, board=board.id, model=tflite, inputs=inputs, labels=labels, n=n, warmup=warmup,
                     float_model=float_model, out_dir=lab.out / f"device_{engine}")
    report["build"] = sizes
    return report


def _sizes(sizes) -> dict:
    return sizes.to_dict() if hasattr(sizes, "to_dict") else dict(sizes)
