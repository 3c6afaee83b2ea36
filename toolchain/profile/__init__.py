"""Profile and validate a model on a device: `toolchain.profile(port, model, ...)`.

The session logic (toolchain/profile/session.py) also serves `emulate` and `deploy`,
which connect to an emulator or the host firmware instead of a user-given port.
"""

from __future__ import annotations

import contextlib
import zlib
from pathlib import Path

from toolchain import api_module, stops
from toolchain.profile.inputs import Samples, load_labels, load_samples, random_samples
from toolchain.profile.session import Session, mark_stopped, new_report

__all__ = ["profile", "run_session", "select_samples", "static_split", "stops_reported", "Session", "Samples"]


def select_samples(model, *, inputs=None, random: int | None = None, seed: int = 0, labels=None) -> Samples:
    """The samples to run: `inputs` (file or folder) or `random` count; default 10 random."""
    if inputs is not None and random is not None:
        from toolchain.errors import InputError

        raise InputError("both --inputs and --random given", "use one of them")
    if inputs is not None:
        return load_samples(inputs, model, labels)
    samples = random_samples(model, random if random is not None else 10, seed)
    if labels is not None:
        samples.labels = load_labels(labels)
    return samples


def static_split(built) -> dict:
    """The report's `memory.static` from a `BuildResult`: flash and RAM totals, budgets, components."""
    d = built.to_dict()
    return {"flash": d["flash"], "ram": d["ram"]}


def run_session(client, model, samples: Samples, *, out_dir=None, junit=None, **options) -> dict:
    """Run a `Session` on `client`; write the report (and JUnit XML) even when the run fails.
    A Ctrl-C or SIGTERM leaves with that report as its `report` (the CLI names its path)."""
    session = Session(model, samples, **options)
    try:
        return session.run(client)
    except KeyboardInterrupt as e:
        e.report = session.report
        raise
    finally:
        if out_dir is not None:
            from toolchain.report import write_report

            session.report["files"] = write_report(session.report, out_dir)
        if junit is not None:
            from toolchain.report.junit import write_junit

            write_junit(session.report, junit)


@contextlib.contextmanager
def stops_reported(out_dir, model, run: dict, context: dict):
    """For the stages of a command before its profiling session (convert, build, ...): yields a dict
    whose "stage" the caller keeps current. A Ctrl-C or SIGTERM in there that no session reported
    writes a partial report to `out_dir` if given (status "partial", `error.stage`, no samples) and leaves
    with it as its `report`, as `run_session` does. `model` is the model file given."""
    where = {"stage": "start"}
    try:
        with stops.translated():
            yield where
    except KeyboardInterrupt as e:
        if out_dir is not None and getattr(e, "report", None) is None:
            path = Path(model)
            data = path.read_bytes() if path.is_file() else b""
            report = new_report({"path": str(path), "name": path.name, "crc32": zlib.crc32(data), "bytes": len(data)},
                                {**run, "inputs": 0, "source": f"not started (stopped during {where['stage']})"},
                                context=context)
            mark_stopped(report, e, where["stage"])
            from toolchain.report import write_report

            report["files"] = write_report(report, out_dir)
            e.report = report
        raise


def profile(port: str, model, *, inputs=None, random: int | None = None, seed: int = 0, labels=None,
            n: int = 10, warmup: int = 1, out_dir=None, project_dir=None, float_model=None,
            tolerance: int = 0, junit=None, board=None, timeout: float = 5.0, infer_timeout: float = 10.0,
            deadline: float | None = None, progress=None, context: dict | None = None) -> dict:
    """Profile `model` on the device at `port` (a pyserial URL or 'auto') and return the report dict.

    Deadlines (docs/harness.md): each command's reply within `timeout` s (`infer`: its first
    line within `timeout`, all of it within `timeout` + `infer_timeout` per inference); all
    commands together within `deadline` s (default: the sum of those).

    Raises:
        StaleFirmwareError: the device runs another model (exit 5).
        DeviceError: the device failed, reset, went silent or the port vanished (exit 4);
            the report written to `out_dir` then holds the results so far, marked partial.
        A Ctrl-C or SIGTERM while it rebuilds `project_dir` writes a partial report naming stage `build`.
    """
    from toolchain.device.client import DeviceClient
    from toolchain.device.ports import resolve_port
    from toolchain.device.transport import Transport
    from toolchain.model import load_model

    with stops_reported(out_dir, model, {"n": n, "warmup": warmup}, context or {}) as where:
        model = load_model(model)
        samples = select_samples(model, inputs=inputs, random=random, seed=seed, labels=labels)
        url, note = resolve_port(port, board)
        log = Path(out_dir) / "device.log" if out_dir else None
        context = {**({"port_note": note} if note else {}), **(context or {})}
        static = None
        if project_dir:
            from toolchain.build import build

            where["stage"] = "build"
            context["project"] = str(project_dir)
            static = static_split(build(project_dir))
        where["stage"] = "profile"
        with Transport(url, log_path=log, connect_timeout=timeout) as transport:
            client = DeviceClient(transport, timeout=timeout, infer_timeout=infer_timeout)
            return run_session(client, model, samples, out_dir=out_dir, junit=junit, n=n, warmup=warmup,
                               tolerance=tolerance, float_model=float_model, progress=progress, url=url,
                               context=context, static=static, deadline=deadline)


api_module(__name__)
