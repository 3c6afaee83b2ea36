"""Generated firmware running for real: the host binary and QEMU boards answer the protocol,
and their outputs equal the TFLM Python interpreter's, bit for bit."""

import numpy as np
import pytest

from conftest import SHARED_DATA
from labs.common.samples import read_bmp
from toolchain.boards import load_board
from toolchain.device.emulator import runner_for
from toolchain.model import load_model
from toolchain.reference import tflm_invoke

KWS = SHARED_DATA / "mlperf_tiny" / "kws_ref_model.tflite"
PERSON = SHARED_DATA / "tflm" / "person_detect.tflite"
BOARDS = ["host", "qemu-cortex-m4", "qemu-cortex-m7", "qemu-cortex-m55", "qemu-cortex-m33"]


def _run(built, board, tmp_path):
    _, result = built
    return runner_for(load_board(board), result.elf, run_dir=tmp_path / "run", infer_timeout=60)


def _random_input(model, seed=0):
    t = model.main.input_tensors()[0]
    return np.random.default_rng(seed).integers(-128, 128, size=t.shape, dtype=np.int8)


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
def test_kws_answers_the_protocol_and_matches_tflm(board, built_firmware, tmp_path):
    model = load_model(KWS)
    x = _random_input(model)
    ref = tflm_invoke(model, [x])[0]
    out_t = model.main.output_tensors()[0]
    with _run(built_firmware(KWS, board), board, tmp_path) as run:
        c = run.client
        assert c.name() == f"tinyship-{board}"
        assert c.profile() == {"profile": "tinyship", "model": "kws01"}  # its MLPerf Tiny name
        info = c.info()
        assert (info["board"], info["engine"], info["model"], info["model_crc32"]) == (
            board, "aot", "kws_ref_model", model.crc32)
        assert info["emulated"] is (board != "host") and info["timer"] == ("host" if board == "host" else "systick")
        assert info["inputs"][0]["shape"] == [1, 49, 10, 1] and info["inputs"][0]["bytes"] == 490
        assert info["outputs"][0]["dtype"] == "int8" and info["layers"] == len(model.main.operators)
        c.load_input(x.tobytes())
        reply = c.infer(1, 0)
        assert c.outputs() == ref.tobytes()
        q = out_t.quantization
        expected = (ref.astype(np.float64).ravel() - q.zero_point[0]) * q.scale[0]
        assert reply.results == c.results()
        np.testing.assert_allclose(reply.results, expected, atol=1e-6)
        layers = c.layers()
        assert [l["i"] for l in layers] == list(range(info["layers"]))
        assert all(l["cycles"] > 0 for l in layers) and sum(l["cycles"] for l in layers) <= c.cycles()[0]
        mem = c.mem()  # host too: its app thread runs on a painted stack
        assert 0 < mem["stack_used"] < mem["stack_size"] and mem["arena_size"] == info["arena_size"]


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
def test_emulated_cycles_are_instruction_counts(built_firmware, tmp_path):
    """Under -icount shift=0 one instruction is 1 ns: lap-us and cycles must agree."""
    with _run(built_firmware(KWS, "qemu-cortex-m4"), "qemu-cortex-m4", tmp_path) as run:
        reply = run.client.infer(2, 1)
        cycles = run.client.cycles()
    assert len(cycles) == 2 and cycles[0] == pytest.approx(cycles[1], rel=1e-3)
    assert 1e6 < cycles[0] < 1e9
    assert reply.elapsed_us * 1000 == pytest.approx(sum(cycles), rel=0.02)


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
def test_person_detect_on_m4_matches_tflm_bit_for_bit(built_firmware, tmp_path):
    model = load_model(PERSON)
    images = [(read_bmp(SHARED_DATA / "tflm" / f).astype(np.int16) - 128).astype(np.int8).reshape(1, 96, 96, 1)
              for f in ("person.bmp", "no_person.bmp")]
    with _run(built_firmware(PERSON, "qemu-cortex-m4"), "qemu-cortex-m4", tmp_path) as run:
        c = run.client
        for x in images:
            c.load_input(x.tobytes())
            c.infer(1, 0)
            assert c.outputs() == tflm_invoke(model, [x])[0].tobytes()
        last = len(model.main.operators) - 1
        assert c.dump(last) == c.outputs()  # the last layer's output is the model output


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", "qemu-cortex-m4"])
def test_garbage_never_wedges_the_device(board, built_firmware, tmp_path):
    model = load_model(KWS)
    x = _random_input(model, seed=1)
    rng = np.random.default_rng(7)
    garbage = bytes(rng.integers(0, 256, 1500, dtype=np.uint8))
    with _run(built_firmware(KWS, board), board, tmp_path) as run:
        c = run.client
        port = c.transport._port  # raw bytes: the protocol client only sends well-formed commands
        port.write(garbage + b"%" + b"x" * 1500 + b"%" + b"frobnicate 1 2%")
        port.flush()
        seen = []
        while (line := c.transport.read_line(3.0)) is not None:
            seen.append(line)
        assert "e-[command too long]" in seen and "e-[unknown command]" in seen
        assert not any(line.startswith("m-boot") for line in seen)  # no reset
        c.load_input(x.tobytes())
        c.infer(1, 0)
        assert c.outputs() == tflm_invoke(model, [x])[0].tobytes()
        assert c.name() == f"tinyship-{board}"


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
def test_hardfault_prints_one_recognizable_line(tmp_path):
    """A bus fault inside an inference ends in `e-[HARDFAULT pc=... lr=... cfsr=...]`."""
    from toolchain import build, generate
    from toolchain.device.protocol import HardFaultError

    out = tmp_path / "fw"
    generate(SHARED_DATA / "tflm" / "hello_world_int8.tflite", board="qemu-cortex-m4", out_dir=out)
    adapter = out / "src" / "engine" / "engine_aot.c"
    text = adapter.read_text()
    assert "int engine_invoke(void) { return model_invoke(); }" in text
    adapter.write_text(text.replace("int engine_invoke(void) { return model_invoke(); }",
                                    "int engine_invoke(void) { return *(volatile int *)0xF0000000u; }"))
    result = build(out)
    with runner_for(load_board("qemu-cortex-m4"), result.elf, run_dir=tmp_path / "run") as run:
        with pytest.raises(HardFaultError, match=r"HARDFAULT pc=0x[0-9a-f]{8} lr=0x[0-9a-f]{8} cfsr=0x[0-9a-f]{8}"):
            run.client.infer(1, 0)


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
def test_aot_arena_used_is_the_plans_extent(built_firmware, tmp_path):
    """micro_speech's last arena buffer ends 8 bytes short of the 16-byte aligned arena size:
    arena_used reports the plan's extent, not the array's size."""
    micro = SHARED_DATA / "tflm" / "micro_speech_quantized.tflite"
    built = built_firmware(micro, "host")
    header = (built[0] / "src" / "model" / "model.h").read_text()
    with _run(built, "host", tmp_path) as run:
        mem, info = run.client.mem(), run.client.info()
    assert f"MODEL_ARENA_SIZE   {mem['arena_size']} " in header and f"MODEL_ARENA_USED   {mem['arena_used']} " in header
    assert info["arena_used"] == mem["arena_used"]
    widest = max(t["bytes"] for t in info["inputs"] + info["outputs"])
    assert widest <= mem["arena_used"] < mem["arena_size"] < mem["arena_used"] + 16
