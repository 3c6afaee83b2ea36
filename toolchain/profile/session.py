"""A profiling plan run against a connected `DeviceClient`.

Handshake (stale-firmware check) -> for each sample: upload, infer N after W
warm-ups, read cycles/outputs/layers -> memory -> validation against the TFLM
host interpreter. The report is filled as the run goes, so when the device fails
half way the figures gathered so far are kept and the report is marked partial.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from toolchain import __version__, stops
from toolchain.device.protocol import DeviceRefusedError, clip, db_commands, line_limit
from toolchain.errors import DeviceError, InputError, StaleFirmwareError, ToolchainError
from toolchain.profile import stats
from toolchain.profile.inputs import Samples, dequantize

# Float results kept per sample in the report (a 400,000-value output made a 16 MB report.json);
# the validation compares every output byte all the same.
RESULTS_KEPT = 4096

SCHEMA_ID = "tinyship-report/1"
DEVICE_KEYS = ("board", "engine", "model", "model_crc32", "cpu_hz", "timer", "emulated", "arena_size", "arena_used",
               "layers")  # taken from the `info` reply


class Session:
    """Args:
        model: the `toolchain.model.Model` the firmware should run.
        samples: `Samples` to run.
        n, warmup: timed inferences and warm-ups per sample.
        tolerance: largest accepted |device - host| in quantized units (0 = bit-exact).
        float_model: optional float .tflite for the float host accuracy (with labels).
        static: the build's flash/RAM split (bytes per section), when known.
        progress: optional callable(stage, done, total).
        deadline: seconds for all device commands together (default: `planned_seconds`, the
            sum of the plan's command deadlines).
    """

    def __init__(self, model, samples: Samples, *, n: int = 10, warmup: int = 1, tolerance: int = 0,
                 float_model=None, progress=None, url: str = "", context: dict | None = None,
                 static: dict | None = None, deadline: float | None = None):
        if n < 1 or warmup < 0:
            raise InputError(f"need -n >= 1 and --warmup >= 0, got {n} and {warmup}", "e.g. -n 10 --warmup 1")
        if deadline is not None and not deadline > 0:
            raise InputError(f"--deadline must be a positive number of seconds, got {deadline}", "e.g. --deadline 600")
        self.deadline = deadline
        self.model, self.samples = model, samples
        self.n, self.warmup, self.tolerance = n, warmup, tolerance
        self.float_model = float_model
        self.progress = progress or (lambda stage, done, total: None)
        self.reference: list[list[np.ndarray]] = []
        self._first_divergence: int | None = None  # searched once, on the first diverging sample
        self.report = new_report(
            {"path": str(model.path) if model.path else None, "name": model.name, "crc32": model.crc32,
             "bytes": model.size},
            {"n": n, "warmup": warmup, "inputs": len(samples.names), "source": samples.source},
            context=context, url=url, static=static)

    # -- the plan --------------------------------------------------------------------
    def run(self, client) -> dict:
        """Run the whole plan; on an error, Ctrl-C or SIGTERM the report is marked partial and it is re-raised."""
        try:
            with stops.translated():
                self.reference = self._host_reference()
                seconds = self.deadline or self.planned_seconds(client)
                self.report["run"]["deadline_s"] = seconds
                client.session = client.deadline(seconds, "the session")
                graph = self.model.main
                client.allow_lines(line_limit(max(t.nbytes for t in graph.tensors),
                                              sum(t.size for t in graph.output_tensors())))
                self._handshake(client)
                total = len(self.samples.names)
                for j, name in enumerate(self.samples.names):
                    self.progress("infer", j, total)
                    self._run_sample(client, j, name)
                self.progress("infer", total, total)
                mem = client.mem()
                self.report["memory"].update(mem)
                check_stack(mem)
                self.report["status"] = "complete"
        except BaseException as e:  # Ctrl-C, SIGTERM (Terminated), or a bug: the report says the run stopped
            mark_stopped(self.report, e, "profile")
            raise
        finally:
            client.session = None
            self._summarize()
        return self.report

    def planned_seconds(self, client) -> float:
        """The sum of the command deadlines of this plan: what the session may take at most."""
        per_sample = (len(db_commands(bytes(self._input_bytes()))) + 3) * client.timeout \
            + client.infer_seconds(self.n, self.warmup)
        dumps = len(self.model.main.operators) * client.dump_seconds()  # at most once, for a diverging sample
        return 1 + 2 * client.timeout + len(self.samples.names) * per_sample + dumps

    def _input_bytes(self) -> int:
        return sum(t.nbytes for t in self.model.main.input_tensors())

    def _host_reference(self) -> list[list[np.ndarray]]:
        from toolchain.reference import isolated

        self.progress("reference", 0, 1)
        return isolated("tflm_run", self.model, self.samples.arrays)

    def _handshake(self, client) -> None:
        client.greet()
        info = client.info()
        dev = self.report["device"]
        dev.update({k: info.get(k) for k in DEVICE_KEYS})
        dev["inputs"], dev["outputs"] = info.get("inputs", []), info.get("outputs", [])
        if info.get("model_crc32") != self.model.crc32:
            raise StaleFirmwareError(
                f"the device runs model '{info.get('model')}' (crc32 0x{info.get('model_crc32') or 0:08x}), "
                f"not {self.model.name} (crc32 0x{self.model.crc32:08x})",
                "rebuild and flash the firmware for this model (tinyship deploy MODEL --board ID)")
        want = self._input_bytes()
        got = sum(i.get("bytes", 0) for i in dev["inputs"])
        if got != want:
            raise StaleFirmwareError(f"the device expects {got} input bytes, the model {want}",
                                     "rebuild and flash the firmware for this model")

    def _run_sample(self, client, j: int, name: str) -> None:
        sample = self.samples.arrays[j]
        client.load_input(b"".join(np.ascontiguousarray(x).tobytes() for x in sample))
        reply = client.infer(self.n, self.warmup)
        entry = {"index": j, "name": name, "cycles": client.cycles(),
                 "lap_us": reply.elapsed_us / self.n, "results": reply.results[:RESULTS_KEPT]}
        if len(reply.results) > RESULTS_KEPT:
            entry["results_total"] = len(reply.results)
        outputs = self._split_outputs(client.outputs())
        entry.update(stats.compare(outputs, self.reference[j]))
        if self.samples.labels is not None:
            entry["label"] = int(self.samples.labels[j])
        entry["layers"] = client.layers()
        if not entry["bit_exact"] and self._first_divergence is None:
            self._first_divergence = self._diverging_layer(client, sample)
            entry["diverging_layer"] = self._first_divergence
        self.report["samples"].append(entry)

    def _diverging_layer(self, client, sample) -> int | None:
        """The first layer whose output differs from TFLM's, found with `dump L` (aot engine,
        one layer per model operator); None where the engine cannot dump."""
        ops = self.model.main.operators
        if self.report["device"].get("engine") != "aot" or self.report["device"].get("layers") != len(ops):
            return None
        from toolchain.reference import isolated

        for i, expected in enumerate(isolated("tflm_layer_outputs", self.model, sample)):
            try:
                got = client.dump(i)
            except DeviceRefusedError:
                return None
            if got != expected.tobytes():
                return i
        return None

    def _split_outputs(self, raw: bytes) -> list[np.ndarray]:
        tensors, out, offset = self.model.main.output_tensors(), [], 0
        if len(raw) != sum(t.nbytes for t in tensors):
            raise StaleFirmwareError(f"the device returned {len(raw)} output bytes, the model has "
                                     f"{sum(t.nbytes for t in tensors)}", "rebuild and flash the firmware for this model")
        for t in tensors:
            out.append(np.frombuffer(raw[offset:offset + t.nbytes], dtype=t.dtype).reshape(t.shape))
            offset += t.nbytes
        return out

    # -- summary ---------------------------------------------------------------------
    def _summarize(self) -> None:
        r, samples = self.report, self.report["samples"]
        dev = r["device"]
        cycles = [c for s in samples for c in s["cycles"]]
        hz = dev.get("cpu_hz") or 0
        to_us = (lambda c: c * 1e6 / hz) if hz else (lambda c: c / 1e3)  # the host counts ns
        r["latency"] = None if not cycles else {
            "label": "emulated" if dev.get("emulated") else "measured",
            "cycles_are": "instructions" if dev.get("emulated") else ("ns" if dev.get("timer") == "host" else "cycles"),
            "cpu_hz": hz,
            "cycles": stats.summarize(cycles),
            "us": stats.summarize([to_us(c) for c in cycles]),
            "lap_us": stats.summarize([s["lap_us"] for s in samples]),
        }
        estimate = r["context"].get("estimate")
        if r["latency"] and estimate and dev.get("emulated"):  # the cost model's cycles (docs/cost-model.md)
            cpi, clock = estimate["cycles_per_instruction"], estimate["clock_hz"]
            r["latency"]["estimated"] = {
                "cycles": stats.summarize([c * cpi for c in cycles]), "clock_hz": clock,
                "ms": stats.summarize([c * cpi * 1e3 / clock for c in cycles]) if clock else None}
        r["layers"] = _layer_table(samples)
        for key in ("arena_size", "arena_used"):  # from `info` when `mem` was not reached
            if r["memory"][key] is None:
                r["memory"][key] = dev[key]
        r["validation"] = self._validation(samples)

    def _validation(self, samples: list[dict]) -> dict | None:
        if not samples:
            return None
        exact = sum(s["bit_exact"] for s in samples)
        max_diff = max(s["max_abs_diff"] for s in samples)
        v = {
            "reference": "tflm",
            "compared": len(samples),
            "bit_exact": exact,
            "max_abs_diff": max_diff,
            "top1_agree": sum(s["top1_device"] == s["top1_host"] for s in samples),
            "tolerance": self.tolerance,
            "passed": max_diff <= self.tolerance and self.report["status"] == "complete",
            "first_divergence": next(({"sample": s["index"], "output_index": s["first_mismatch"],
                                       "layer": s.get("diverging_layer"),
                                       "layer_name": self._layer_name(s.get("diverging_layer"))}
                                      for s in samples if not s["bit_exact"]), None),
            "accuracy": None,
        }
        if self.samples.labels is not None:
            v["accuracy"] = self._accuracy(samples)
        return v

    def _layer_name(self, layer: int | None) -> str | None:
        names = {row["i"]: row["name"] for row in self.report["layers"]}
        return names.get(layer) if layer is not None else None

    def _accuracy(self, samples: list[dict]) -> dict:
        labels = self.samples.labels[: len(samples)]
        acc = {
            "device": float(np.mean([s["top1_device"] == y for s, y in zip(samples, labels)])),
            "int8_host": float(np.mean([np.argmax(o[0]) == y for o, y in zip(self.reference, labels)])),
            "float_host": None,
        }
        if self.float_model is not None:
            from toolchain.reference import isolated

            floats = self.samples.floats or [[dequantize(x, t) for x, t in zip(s, self.model.main.input_tensors())]
                                             for s in self.samples.arrays]
            out = isolated("litert_run", Path(self.float_model), floats[: len(samples)], what="LiteRT")
            acc["float_host"] = float(np.mean([np.argmax(o[0]) == y for o, y in zip(out, labels)]))
        return acc


def new_report(model: dict, run: dict, *, context: dict | None = None, url: str = "",
               static: dict | None = None) -> dict:
    """A report (schema.json) with nothing measured yet: status "running", the `model` and `run` given."""
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "tinyship", "version": __version__},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "status": "running",
        "error": None,
        "context": context or {},
        "device": {"url": url, **dict.fromkeys(DEVICE_KEYS), "inputs": [], "outputs": []},
        "model": model,
        "run": run,
        "samples": [],
        "latency": None,
        "layers": [],
        "memory": {**dict.fromkeys(("arena_size", "arena_used", "stack_size", "stack_used")), "static": static},
        "validation": None,
    }


def mark_stopped(report: dict, error: BaseException, stage: str) -> None:
    """Mark `report` partial, with what stopped it in which `stage`: a ToolchainError (its exit code),
    Ctrl-C (130), SIGTERM (143) or anything else (1, a bug)."""
    if isinstance(error, ToolchainError):
        message, code = str(error), error.exit_code
    elif isinstance(error, KeyboardInterrupt):
        code = getattr(error, "exit_code", 130)
        message = "terminated (SIGTERM)" if code == 143 else "interrupted (Ctrl-C)"
    else:
        message, code = clip(str(error), 300), 1
    report["status"] = "partial"
    report["error"] = {"type": type(error).__name__, "message": message, "exit_code": code, "stage": stage}


def _layer_table(samples: list[dict]) -> list[dict]:
    """Per-layer cycles, median over the samples, with each layer's share of the total."""
    per = [s["layers"] for s in samples if s.get("layers")]
    if not per:
        return []
    rows = []
    for i, layer in enumerate(per[0]):
        cycles = float(np.median([p[i]["cycles"] for p in per if i < len(p)]))
        rows.append({"i": layer.get("i", i), "name": layer.get("name", ""), "cycles": cycles})
    total = sum(r["cycles"] for r in rows) or 1
    for r in rows:
        r["share"] = r["cycles"] / total
    return rows


def check_stack(mem: dict) -> None:
    """Fail a run whose painted stack high-water mark (the `mem` reply) reached the stack's size:
    the stack may have overflowed, and the run's results cannot be trusted.

    Raises:
        DeviceError: stack_used >= stack_size.
    """
    used, size = mem.get("stack_used"), mem.get("stack_size")
    if used is not None and size and used >= size:
        raise DeviceError(f"the stack overflowed: the run used {used:,} of its {size:,} bytes",
                          "report it with the model: the aot kernels keep their scratch in the arena, "
                          "so an inference needs about 1 KiB of stack")
