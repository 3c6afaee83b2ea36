"""`deploy`: model -> convert (Keras) -> analyze (stop if it does not fit) -> generate ->
build -> emulate, or flash + profile -> one report.

Every stage reports through the same `progress(stage, done, total)` callback, so the CLI
shows one progress display. Offline for the `host` and qemu-* boards.
"""

from __future__ import annotations

from pathlib import Path

from toolchain import api_module
from toolchain.device.flash import UPLOAD_TIMEOUT
from toolchain.errors import InputError

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def deploy(model, *, board: str, engine: str = "aot", calib=None, labels=None, emulate: bool | None = None,
           port: str | None = None, out_dir=None, inputs=None, random: int | None = None, seed: int = 0,
           n: int = 10, warmup: int = 1, tolerance: int = 0, junit=None, timeout: float = 5.0,
           infer_timeout: float = 10.0, deadline: float | None = None, tflm_dir=None, float_model=None,
           kernels: str | None = None, memory_of: str | None = None, builder: str | None = None,
           mlperf_name: str | None = None, upload_timeout: float = UPLOAD_TIMEOUT, progress=None) -> dict:
    """Run the whole pipeline for `model` (.keras/.h5/SavedModel dir or .tflite) on `board`.

    `emulate` defaults to True for boards without PlatformIO (host, qemu-*); otherwise the
    project is flashed and profiled on `port`. Writes into `out_dir`: model/ (when converted),
    firmware/ (the project), report/ (report.json/.md/.html, device log). Returns the report dict
    with a `context.deploy` summary of the earlier stages. `memory_of` links an emulated board's
    firmware with another board's flash/RAM sizes (the link names any shortfall, exit 3).
    `upload_timeout`: seconds for the upload to a real board (see `toolchain.device.flash`).
    A Ctrl-C or SIGTERM in any stage leaves a partial report/ naming the stage (`error.stage`).
    """
    from toolchain.analyze import analyze
    from toolchain.build import build
    from toolchain.codegen import generate
    from toolchain.boards import load_board
    from toolchain.profile import static_split, stops_reported

    progress = progress or (lambda stage, done, total: None)
    model = Path(model)
    if not model.exists():
        raise InputError(f"model not found: {model}", "give a .keras/.h5 file, a SavedModel folder or a .tflite")
    b = load_board(board)
    emulate = (b.platformio is None) if emulate is None else emulate
    out = Path(out_dir or f"tinyship-{model.stem}-{board}")
    summary: dict = {"board": board, "engine": engine, "emulated": emulate, "memory_of": memory_of}

    with stops_reported(out / "report", model, {"n": n, "warmup": warmup}, {"deploy": summary}) as where:
        if model.suffix == ".tflite":
            tflite = model
        else:
            if model.suffix not in KERAS_SUFFIXES and not model.is_dir():
                raise InputError(f"cannot deploy {model.name}",
                                 "give a .keras/.h5 file, a SavedModel folder or a .tflite")
            from toolchain.convert import convert

            where["stage"] = "convert"
            converted = convert(model, out / "model", calib=calib, progress=progress)
            tflite, float_model = converted.tflite_path, float_model or converted.float_path
            summary["convert"] = {"tflite": str(tflite), "float": str(float_model), "notes": converted.notes}

        where["stage"] = "analyze"
        progress("analyze", 0, 1)
        analysis = analyze(tflite, board=board, engine=engine)
        summary["analyze"] = {"macs": analysis.macs, "params": analysis.params,
                              "fit": analysis.fit.to_dict() if analysis.fit else None}
        analysis.check_fit()
        progress("analyze", 1, 1)

        where["stage"] = "generate"
        progress("generate", 0, 1)
        project = generate(tflite, board=board, engine=engine, out_dir=out / "firmware", tflm_dir=tflm_dir,
                           aot_kernels=kernels, memory_of=memory_of, builder=builder, mlperf_name=mlperf_name)
        progress("generate", 1, 1)
        where["stage"] = "build"
        progress("build", 0, 1)
        built = build(project.dir, progress=lambda note: progress(f"build: {note}", 0, 1))
        summary["build"] = {"elf": str(built.elf), **static_split(built)}
        progress("build", 1, 1)

        options = dict(inputs=inputs, random=random, seed=seed, labels=labels, n=n, warmup=warmup,
                       tolerance=tolerance, junit=junit, timeout=timeout, infer_timeout=infer_timeout,
                       deadline=deadline, float_model=float_model, out_dir=out / "report", progress=progress,
                       context={"deploy": summary})
        if emulate:
            from toolchain.device.emulator import emulate as run_emulated

            where["stage"] = "emulate"
            return run_emulated(built.elf, board=b, model=tflite, static=static_split(built), **options)
        from toolchain.device.flash import flash
        from toolchain.profile import profile

        where["stage"] = "flash"
        progress("flash", 0, 1)
        flashed = flash(project.dir, port=port, board=board, timeout=upload_timeout)
        progress("flash", 1, 1)
        where["stage"] = "profile"
        return profile(flashed.port or port or "auto", tflite, board=b, project_dir=project.dir, **options)


api_module(__name__)
