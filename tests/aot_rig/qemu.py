"""Run a generated aot project on a QEMU board and the same inputs through the TFLM
interpreter (the oracle), for the optimized-kernel and memory-safety tests."""

from __future__ import annotations

import numpy as np

from toolchain.boards import load_board
from toolchain.build import build
from toolchain.device.emulator import QemuRunner
from toolchain.model import load_model
from toolchain.reference import tflm_run


def random_inputs(model_path, n: int, seed: int = 1) -> list[list[np.ndarray]]:
    """`n` samples of random int8 data for each input of the model."""
    rng = np.random.default_rng(seed)
    return [[rng.integers(-128, 128, size=tuple(t.shape), dtype=np.int8)
             for t in load_model(model_path).main.input_tensors()] for _ in range(n)]


def expected(model_path, inputs) -> list[bytes]:
    """The TFLM interpreter's outputs for `inputs`, one byte string per sample."""
    return [b"".join(np.ascontiguousarray(y).tobytes() for y in out) for out in tflm_run(model_path, inputs)]


def run_project(project, board: str, inputs, timeout: float = 120) -> tuple[list[bytes], dict]:
    """Build `project`, run `inputs` in QEMU: (outputs per sample, the `mem` reply)."""
    built = build(project)
    got = []
    with QemuRunner(built.elf, load_board(board), run_dir=project / "run", boot_timeout=60, timeout=timeout) as runner:
        client = runner.start()
        for sample in inputs:
            client.load_input(b"".join(x.tobytes() for x in sample))
            client.infer(1, 0, timeout=300)
            got.append(client.outputs())
        mem = client.mem()
    return got, mem
