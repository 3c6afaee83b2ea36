"""`bench`: build each shared model for each engine and emulated core, run it in QEMU, measure.

Every figure comes from a run: instructions per inference are the emulated cycle count
(`-icount shift=0`: one instruction per ns, docs/protocol.md), estimated cycles price one traced
inference with the core's cost model (Cortex-M4 and M55, docs/cost-model.md), the arena is the device's
`mem` reply, flash is the linked ELF split by component (toolchain.build), and the outputs
of random inputs are compared byte for byte with the TFLM Python interpreter. MACs come
from the model (toolchain.analyze). Rows that cannot be built or run carry the reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from toolchain.errors import InputError, ToolchainError
from toolchain.files import atomic_write
from toolchain.zoo import DataError, data_file

MODELS = {  # the MLPerf Tiny reference models (kws, vww, ic, ad, str_ww), then TFLM's examples
    "kws_ref_model": "mlperf_tiny/kws_ref_model.tflite",
    "vww_96_int8": "mlperf_tiny/vww_96_int8.tflite",
    "resnet8_ic": "mlperf_tiny/pretrainedResnet_quant.tflite",
    "ad01": "mlperf_tiny/ad01_int8.tflite",
    "str_ww_ref_model": "mlperf_tiny/str_ww_ref_model.tflite",
    "person_detect": "tflm/person_detect.tflite",
    "micro_speech": "tflm/micro_speech_quantized.tflite",
    "hello_world": "tflm/hello_world_int8.tflite",
}
BOARDS = ("qemu-cortex-m4", "qemu-cortex-m7", "qemu-cortex-m55")
ENGINES = ("aot", "aot-size", "aot-portable", "tflm")  # tflm only with a TFLM tree
KERNELS = {"aot": "speed", "aot-size": "size", "aot-portable": "portable"}  # the aot rows' --kernels
INFER_TIMEOUT = 600.0


@dataclass
class BenchRow:
    model: str
    board: str
    engine: str  # aot (--kernels speed), aot-size, aot-portable, tflm-ref or tflm-cmsis-nn
    instructions: int | None = None
    estimated_cycles: int | None = None  # the core's cost model over a traced inference (docs/cost-model.md)
    macs: int | None = None
    arena_bytes: int | None = None
    flash: dict = field(default_factory=dict)  # {"model", "engine", "app", "total"} bytes
    exact: bool | None = None  # outputs == TFLM for every sample
    samples: int = 0
    error: str | None = None

    @property
    def per_mac(self) -> float | None:
        return self.instructions / self.macs if self.instructions and self.macs else None

    def to_dict(self) -> dict:
        return {**asdict(self), "instructions_per_mac": self.per_mac}


@dataclass
class BenchResult:
    rows: list[BenchRow]
    json_path: Path | None

    def ratio(self, row: BenchRow, engine: str) -> float | None:
        """row's instructions over those of `engine` on the same model and board."""
        other = next((r for r in self.rows if (r.model, r.board, r.engine) == (row.model, row.board, engine)
                      and r.instructions), None)
        return row.instructions / other.instructions if other and row.instructions else None

    def to_dict(self) -> dict:
        return {"rows": [r.to_dict() for r in self.rows]}


def _tflm_kind(tflm_dir: Path) -> str:
    return "tflm-cmsis-nn" if (tflm_dir / "third_party" / "cmsis_nn").is_dir() else "tflm-ref"


def _tflm_build_key(project: Path) -> tuple[str, ...]:
    """The generated Makefile lines that decide how the TFLM library is compiled (not which sources)."""
    lines = (project / "Makefile").read_text().splitlines()
    return tuple(line for line in lines if line.startswith(("CC :=", "CXX :=", "TARGET :=", "COMMON :=", "TFLM_", "\t"))
                 and not line.startswith("TFLM_SRCS :="))


def seed_tflm_build(project: Path, donors) -> bool:
    """Give `project` the compiled TFLM library of an already built project with the same board
    and tree (one of `donors`), so its `make` only compiles the model and app: compiling a
    TFLM tree takes minutes, and every project for a board and tree compiles it identically.
    Objects keep their times (newer than the tree's sources), so make sees them up to date."""
    import shutil

    key = _tflm_build_key(project)
    for donor in donors:
        lib = Path(donor) / "build" / "libtflm.a"
        if Path(donor) == project or not lib.is_file() or _tflm_build_key(Path(donor)) != key:
            continue
        shutil.copytree(Path(donor) / "build" / "tflm", project / "build" / "tflm", dirs_exist_ok=True)
        shutil.copy2(lib, project / "build" / "libtflm.a")
        return True
    return False


def _random_inputs(model, n: int, seed: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        sample = []
        for t in model.main.input_tensors():
            shape = tuple(t.shape)
            if t.dtype == "float32":
                sample.append(rng.standard_normal(shape).astype(np.float32))
            else:
                info = np.iinfo(t.dtype)
                sample.append(rng.integers(info.min, info.max + 1, size=shape, dtype=t.dtype))
        samples.append(sample)
    return samples


def _measure(row: BenchRow, model_path: Path, work: Path, samples, tflm_dir) -> None:
    from toolchain import build, generate
    from toolchain.boards import load_board
    from toolchain.device.costmodel import estimate_cycles
    from toolchain.device.emulator import QemuRunner
    from toolchain.profile.session import check_stack
    from toolchain.reference import tflm_run

    engine = "aot" if row.engine.startswith("aot") else "tflm"
    kernels = KERNELS.get(row.engine)
    project = work / f"{row.model}-{row.board}-{row.engine}"
    generate(model_path, board=row.board, engine=engine, out_dir=project, tflm_dir=tflm_dir, aot_kernels=kernels)
    if engine == "tflm":
        seed_tflm_build(project, sorted(work.glob(f"*-{row.board}-{row.engine}")))
    built = build(project)
    flash = built.sizes["flash"]
    row.flash = {"model": flash.get("model", 0), "engine": flash.get("engine", 0), "app": flash.get("app", 0),
                 "total": built.flash}
    expected = tflm_run(model_path, samples)
    exact = True
    with QemuRunner(built.elf, load_board(row.board), run_dir=project / "run", boot_timeout=60, timeout=60) as runner:
        client = runner.start()
        for i, sample in enumerate(samples):
            client.load_input(_input_bytes(sample))
            client.infer(1, 0, timeout=INFER_TIMEOUT)
            if i == 0:
                row.instructions = client.cycles()[0]
                mem = client.mem()
                check_stack(mem)
                row.arena_bytes = mem["arena_used"]
            want = b"".join(np.ascontiguousarray(y).tobytes() for y in expected[i])
            exact = exact and client.outputs() == want
            row.samples += 1
    row.exact = exact
    estimate = estimate_cycles(built.elf, load_board(row.board), _input_bytes(samples[0]), project / "trace")
    if estimate is not None:
        row.estimated_cycles = estimate.to_dict(row.instructions)["cycles"]


def _input_bytes(sample) -> bytes:
    return b"".join(np.ascontiguousarray(x).tobytes() for x in sample)


def bench(models=None, boards=BOARDS, engines=("aot", "aot-portable"), *, tflm_dirs=(), samples: int = 3,
          work_dir, json_path=None, seed: int = 0, progress=None) -> BenchResult:
    """Measure every (model, board, engine) combination; see the module docstring.

    Args:
        models: names from MODELS or .tflite paths (default: all shared models).
        engines: "aot" (--kernels speed), "aot-size", "aot-portable", "tflm" (needs `tflm_dirs` or TFLM_DIR).
        tflm_dirs: TFLM source trees; "tflm" adds one row per tree (reference or CMSIS-NN kernels).
        work_dir: where projects are generated and built (kept for inspection).
        json_path: write the result there (bench/results.json) when given.
        progress: called with each finished row.
    Raises:
        InputError: unknown model, board or engine; "tflm" without a TFLM tree.
    """
    from toolchain.analyze import analyze
    from toolchain.boards import load_board
    from toolchain.model import load_model

    paths, missing = {}, {}
    for m in models or MODELS:
        if m in MODELS:
            try:
                paths[m] = data_file(MODELS[m])  # ../shared/data, else the cache, else a download
            except DataError as e:  # its rows say why (offline, not fetched)
                missing[m] = e.message
            continue
        path = Path(m)
        if not path.is_file():
            raise InputError(f"unknown model '{m}'", f"use a .tflite path or one of: {', '.join(MODELS)}")
        paths[path.stem] = path
    for b in boards:
        load_board(b)
    for e in engines:
        if e not in ENGINES:
            raise InputError(f"unknown engine '{e}'", f"use one of: {', '.join(ENGINES)}")
    trees = [Path(d) for d in tflm_dirs or ([os.environ["TFLM_DIR"]] if os.environ.get("TFLM_DIR") else [])]
    if "tflm" in engines and not trees:
        raise InputError("the tflm rows need a TFLM source tree", "pass --tflm-dir DIR (or set TFLM_DIR)")
    work = Path(work_dir)
    rows = []
    for name, reason in missing.items():
        for board in boards:
            rows.append(BenchRow(name, board, "aot", error=f"model not available: {reason}"))
            if progress:
                progress(rows[-1])
    for name, path in paths.items():
        model = load_model(path)
        macs = analyze(model).to_dict()["totals"]["macs"]
        inputs = _random_inputs(model, samples, seed)
        for board in boards:
            runs = [(_tflm_kind(t), t) for t in trees] if "tflm" in engines else []
            runs = [(e, None) for e in engines if e != "tflm"] + runs
            for label, tree in runs:
                row = BenchRow(name, board, label, macs=macs)
                try:
                    _measure(row, path, work, inputs, tree)
                except ToolchainError as e:
                    row.error = e.message
                rows.append(row)
                if progress:
                    progress(row)
    result = BenchResult(rows, Path(json_path) if json_path else None)
    if json_path:
        atomic_write(json_path, json.dumps(result.to_dict(), indent=2) + "\n")
    return result
