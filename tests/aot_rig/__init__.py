"""Host test rig of the aot engine: generate C from a .tflite, build it with gcc, feed it
inputs and compare its outputs byte for byte with the TFLM Python interpreter (the oracle).

    from aot_rig import check_model
    report = check_model(tflite_bytes, tmp_path, samples=None, n=20)   # asserts bit-exactness

Used by tests/test_aot_*.py (core and nonlinear kernels alike).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.codegen.aot import generate_aot
from toolchain.model import Model, load_model
from toolchain.reference import capture_c_output, tflm_interpreter, tflm_run

RIG_DIR = Path(__file__).resolve().parent
WARNINGS = ["-Wall", "-Wextra", "-Werror"]
HOST_FLAGS = ["-std=c99", "-O2", *WARNINGS]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
ARM_FLAGS = ["-std=c99", "-O2", *WARNINGS, "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]


@dataclass
class RigReport:
    samples: int
    arena_size: int  # the aot arena
    tflm_head: int  # TFLM's planned head for the same model
    gen_dir: Path
    exe: Path


def tflm_head(model) -> int:
    """The activation-arena head TFLM plans for `model`, from its allocation report."""
    it = tflm_interpreter(model)
    with capture_c_output(2) as box:
        it.print_allocations()
    match = re.search(r"Arena allocation head (\d+) bytes", box[0])
    assert match, f"no head in TFLM's allocation report:\n{box[0][:500]}"
    return int(match.group(1))


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, **kw)
    if res.returncode != 0:
        err = res.stderr.decode(errors="replace") if isinstance(res.stderr, bytes) else res.stderr
        raise AssertionError(f"{' '.join(map(str, cmd[:3]))}... failed ({res.returncode}):\n{err[-4000:]}")
    return res


def build(gen_dir: Path, *, sanitize: bool = False, main: str = "runner.c") -> Path:
    """Compile the generated sources plus a main program of this folder into an executable."""
    exe = gen_dir / (Path(main).stem + ("_asan" if sanitize else ""))
    sources = sorted(str(p) for p in gen_dir.glob("*.c")) + [str(RIG_DIR / main)]
    _run(["gcc", *HOST_FLAGS, *(SANITIZE if sanitize else []), f"-I{gen_dir}", "-o", str(exe), *sources, "-lm"])
    return exe


def cross_compile(gen_dir: Path) -> None:
    """Compile every generated source for a Cortex-M4F (objects only: no board runtime here)."""
    for src in sorted(gen_dir.glob("*.c")):
        _run(["arm-none-eabi-gcc", *ARM_FLAGS, f"-I{gen_dir}", "-c", "-o", str(src.with_suffix(".o")), str(src)])


def run(exe: Path, model: Model, samples) -> list[list[np.ndarray]]:
    """Feed all samples to the runner in one process; outputs shaped and typed as the model says."""
    ins, outs = model.main.input_tensors(), model.main.output_tensors()
    blob = b"".join(np.ascontiguousarray(x, dtype=t.dtype).tobytes() for s in samples for x, t in zip(s, ins))
    env = {"ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "print_stacktrace=1"}
    data = _run([str(exe)], input=blob, env=env, timeout=600).stdout
    results, pos = [], 0
    for _ in samples:
        sample = []
        for t in outs:
            arr = np.frombuffer(data[pos:pos + t.nbytes], dtype=t.dtype).reshape(t.shape)
            sample.append(arr)
            pos += t.nbytes
        results.append(sample)
    assert pos == len(data), f"runner wrote {len(data)} bytes, expected {pos}"
    return results


def random_samples(model: Model, n: int, seed: int = 0) -> list[list[np.ndarray]]:
    """n random inputs covering the full int8 range (uniform floats in [-1, 1] for float inputs)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        sample = []
        for t in model.main.input_tensors():
            if t.dtype == "float32":
                sample.append(rng.uniform(-1, 1, t.shape).astype(np.float32))
            else:
                info = np.iinfo(t.dtype)
                sample.append(rng.integers(info.min, info.max, t.shape, endpoint=True, dtype=t.dtype))
        out.append(sample)
    return out


def check_model(tflite, work_dir: Path, *, samples=None, n: int = 20, sanitize: bool = True,
                seed: int = 0) -> RigReport:
    """Generate, build and run `tflite` (path, bytes or Model); assert outputs equal TFLM's
    and the aot arena is no larger than TFLM's head."""
    model = tflite if isinstance(tflite, Model) else load_model(tflite)
    samples = samples if samples is not None else random_samples(model, n, seed)
    gen_dir = Path(work_dir)
    result = generate_aot(model, gen_dir)
    exe = build(gen_dir, sanitize=sanitize)
    got = run(exe, model, samples)
    want = tflm_run(model, samples)
    for k, (g, w) in enumerate(zip(got, want)):
        for j, (a, b) in enumerate(zip(g, w)):
            b = np.asarray(b).reshape(a.shape)
            if a.tobytes() != b.tobytes():
                bad = np.flatnonzero(a.reshape(-1) != b.reshape(-1))
                raise AssertionError(f"sample {k} output {j}: {bad.size} of {a.size} values differ, first at "
                                     f"{bad[0]}: aot {a.reshape(-1)[bad[0]]} vs TFLM {b.reshape(-1)[bad[0]]}")
    head = tflm_head(model)
    assert result.arena_size <= head, f"aot arena {result.arena_size} B > TFLM head {head} B"
    return RigReport(len(samples), result.arena_size, head, gen_dir, exe)
