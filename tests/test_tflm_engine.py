"""The tflm engine end to end on a real TFLM tree: generate, build, run, compare with TFLM.

Needs a TFLM source tree in TFLM_DIR (create_tflm_tree.py output, see docs/tflm-engine.md):
TFLM is not on any package registry, so without it every test here skips. With it, the
firmware built for the host and for the emulated Cortex-M4 must give the TFLM Python
interpreter's outputs byte for byte, and its flash and RAM must stay within the tflm
overheads that board fit assumes (toolchain.engines).

Compiling a TFLM tree takes minutes: each board's library is compiled once and handed to
the other projects for that board (toolchain.bench.seed_tflm_build), across sessions too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA
from toolchain import build, generate
from toolchain.bench import seed_tflm_build
from toolchain.codegen.project import tflm_sources
from toolchain.boards import load_board
from toolchain.device.emulator import runner_for
from toolchain.engines import ENGINES, TFLM_RESOLVER_METHODS
from toolchain.model import load_model
from toolchain.reference import tflm_run

KWS = SHARED_DATA / "mlperf_tiny" / "kws_ref_model.tflite"
HELLO = SHARED_DATA / "tflm" / "hello_world_int8.tflite"
TFLM_DIR = os.environ.get("TFLM_DIR")

pytestmark = pytest.mark.skipif(not TFLM_DIR, reason="needs a TFLM source tree in TFLM_DIR (create_tflm_tree.py "
                                "output, see docs/tflm-engine.md); TFLM is on no package registry and cannot be "
                                "fetched offline")


def test_tflm_sources_hold_the_kernel_of_every_resolver_method():
    """Each op tinyship can register adds the kernel source defining its Register_* function."""
    core = set(tflm_sources(TFLM_DIR, []))
    assert any(p.endswith("micro_interpreter.cc") for p in core)
    assert not any("/micro/kernels/" in p and "util" not in p and "decompress" not in p for p in core)
    for method in TFLM_RESOLVER_METHODS.values():
        kernels = [p for p in set(tflm_sources(TFLM_DIR, [method])) - core if "/micro/kernels/" in p]
        registered = [p for p in kernels if "TFLMRegistration Register_" in (Path(TFLM_DIR) / p).read_text()]
        assert registered, method


def test_tflm_sources_are_the_models_kernels():
    names = {Path(p).name for p in tflm_sources(TFLM_DIR, ["AddConv2D", "AddSoftmax"])}
    assert {"conv.cc", "conv_common.cc", "softmax.cc", "softmax_common.cc", "kernel_util.cc"} <= names
    assert not names & {"depthwise_conv.cc", "lstm_eval.cc", "svdf.cc", "pooling.cc"}
    if (Path(TFLM_DIR) / "third_party" / "cmsis_nn").is_dir():  # the CMSIS-NN functions conv and softmax call
        assert {"arm_convolve_wrapper_s8.c", "arm_softmax_s8.c", "arm_nntables.c"} <= names
        assert "arm_depthwise_conv_s8.c" not in names


@pytest.fixture(scope="module")
def tflm_project(tmp_path_factory, request):
    """`tflm_project(model, board) -> (project dir, BuildResult)`, each built once per module.

    The first project built for a board (and tree and flags) is kept in pytest's cache folder
    (.pytest_cache/d/tflm_engine) to seed later sessions' projects with its compiled library."""
    root = tmp_path_factory.mktemp("tflm")
    kept = Path(request.config.cache.mkdir("tflm_engine")) if request.config.cache else None
    cache = {}

    def _project(model: Path, board: str):
        if (model, board) not in cache:
            out = root / f"{model.stem}-{board}"
            generate(model, board=board, engine="tflm", out_dir=out, tflm_dir=TFLM_DIR)
            donors = sorted(root.glob(f"*-{board}")) + ([kept / board] if kept else [])
            seeded = seed_tflm_build(out, donors)
            cache[model, board] = (out, build(out, jobs=2))
            if kept and not seeded:  # copied whole, then renamed: another xdist worker may be reading
                tmp = kept / f".{board}-{os.getpid()}"
                shutil.copytree(out, tmp)
                shutil.rmtree(kept / board, ignore_errors=True)
                tmp.rename(kept / board)
        return cache[model, board]

    return _project


def _outputs_on_device(elf: Path, board: str, run_dir: Path, samples) -> tuple[list[bytes], list[dict]]:
    """The outputs of each sample and the `layers` reply of the last inference."""
    got = []
    with runner_for(load_board(board), elf, run_dir=run_dir, boot_timeout=60, timeout=60) as runner:
        client = runner.start()
        for sample in samples:
            client.load_input(b"".join(np.ascontiguousarray(x).tobytes() for x in sample))
            client.infer(1, 0, timeout=300)
            got.append(client.outputs())
        return got, client.layers()


def _random_samples(model_path: Path, n: int, seed: int):
    rng = np.random.default_rng(seed)
    tensors = load_model(model_path).main.input_tensors()
    return [[rng.integers(-128, 128, size=tuple(t.shape), dtype=np.int8) for t in tensors] for _ in range(n)]


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", "qemu-cortex-m4"])
@pytest.mark.parametrize("model", [KWS, HELLO], ids=["kws_ref_model", "hello_world"])
def test_tflm_firmware_matches_the_interpreter(tflm_project, model, board):
    project, built = tflm_project(model, board)
    samples = _random_samples(model, 3, seed=5)
    got, layers = _outputs_on_device(built.elf, board, project / "run", samples)
    want = [b"".join(np.ascontiguousarray(y).tobytes() for y in out) for out in tflm_run(model, samples)]
    assert got == want
    assert len(set(got)) > 1  # different inputs, different outputs: the comparison can fail
    assert len(layers) == len(load_model(model).main.operators)  # the profiler times every layer
    assert sum(layer["cycles"] for layer in layers) > 0


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
@pytest.mark.parametrize("model", [KWS, HELLO], ids=["kws_ref_model", "hello_world"])
def test_tflm_cortex_m_footprint_within_the_engine_overheads(tflm_project, model):
    """What board fit adds to model and arena for tflm must cover a real Cortex-M build."""
    _, built = tflm_project(model, "qemu-cortex-m4")
    flash, ram = built.sizes["flash"], built.sizes["ram"]
    input_bytes = sum(t.nbytes for t in load_model(model).main.input_tensors())  # added by the fit
    assert flash["engine"] > 10_000  # the interpreter and kernels are linked, not stubbed
    assert built.flash - flash.get("model", 0) <= ENGINES["tflm"].flash_overhead
    assert built.ram - ram.get("arena", 0) - input_bytes <= ENGINES["tflm"].ram_overhead
