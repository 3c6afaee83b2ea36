"""`tinyship generate`: every board x engine, determinism, no partial output, PlatformIO config."""

import json
import shutil
import subprocess
import sys

import pytest

from conftest import SHARED_DATA
from toolchain import generate
from toolchain.boards import list_boards
from toolchain.errors import InputError, NotSupportedError

HELLO = SHARED_DATA / "tflm" / "hello_world_int8.tflite"
KWS = SHARED_DATA / "mlperf_tiny" / "kws_ref_model.tflite"
pytestmark = pytest.mark.usefixtures("shared_data")
PIO = shutil.which("pio") or str(__import__("pathlib").Path(sys.executable).with_name("pio"))


@pytest.fixture(scope="module")
def tflm_tree(tmp_path_factory):
    """A folder shaped like a TFLM tree: generation only checks it is one (building needs a real tree)."""
    root = tmp_path_factory.mktemp("tflm_tree")
    (root / "tensorflow" / "lite" / "micro").mkdir(parents=True)
    (root / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").write_text("")
    return root


def _files(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("board", [b for b in list_boards()], ids=lambda b: b.id)
def test_every_board_generates_for_every_engine(board, tmp_path, tflm_tree):
    for engine in board.engines:
        out = tmp_path / engine
        p = generate(KWS, board=board.id, engine=engine, out_dir=out, tflm_dir=tflm_tree)
        files = _files(out)
        manifest = json.loads(files["tinyship.json"])
        assert (manifest["board"], manifest["engine"], manifest["crc32"]) == (board.id, engine, p.crc32)
        assert files["kws_ref_model.tflite"] == KWS.read_bytes()
        config = files["src/tinyship_config.h"].decode()
        assert f'#define TS_BOARD_ID "{board.id}"' in config and "#define TS_INPUT_BYTES 490u" in config
        assert f"0x{p.crc32:08x}" in config
        assert "src/app/app.c" in files and any(f.startswith("src/platform/") for f in files)
        if engine == "aot":
            assert "src/model/model.c" in files and "src/engine/engine_aot.c" in files
        else:
            assert "src/engine/engine_tflm.cc" in files and "src/model/kws_ref_model_model_data.cc" in files
            assert b"resolver.AddDepthwiseConv2D()" in files["src/engine/engine_tflm.cc"]
        if board.platformio and not board.baremetal:
            assert "platformio.ini" in files and "Makefile" not in files
        else:  # host, QEMU and bare-metal STM32 boards build with make by default
            assert "Makefile" in files and ("linker.ld" in files) == (board.platform != "host")
            assert manifest["builder"] == "make"


@pytest.mark.parametrize("board", ["stm32f4-discovery", "stm32f103-bluepill"])
def test_stm32_board_builds_with_make_or_platformio(board, tmp_path):
    generate(HELLO, board=board, out_dir=tmp_path / "make")
    files = _files(tmp_path / "make")
    assert {"src/platform/platform_cortex_m.c", "src/platform/board_stm32.c"} <= set(files)
    assert "src/platform/uart_cmsdk.c" not in files
    assert "ORIGIN = 0x08000000" in files["linker.ld"].decode()
    config = files["src/tinyship_config.h"].decode()
    assert "#define TS_USE_DWT 1" in config and "TS_STM32_FAMILY" in config
    p = generate(HELLO, board=board, out_dir=tmp_path / "pio", builder="platformio")
    assert p.builder == "platformio" and (tmp_path / "pio" / "platformio.ini").is_file()
    assert (tmp_path / "pio" / "src" / "platform" / "platform_arduino.cpp").is_file()


def test_builder_the_board_lacks_is_refused(tmp_path):
    with pytest.raises(InputError, match="builds only with PlatformIO"):
        generate(HELLO, board="arduino-nano-33-ble", out_dir=tmp_path / "a", builder="make")
    with pytest.raises(InputError, match="has no PlatformIO build"):
        generate(HELLO, board="qemu-cortex-m4", out_dir=tmp_path / "b", builder="platformio")
    with pytest.raises(InputError, match="unknown builder"):
        generate(HELLO, board="host", out_dir=tmp_path / "c", builder="cmake")
    assert not any(tmp_path.iterdir())


def test_generation_is_deterministic(tmp_path):
    a = generate(KWS, board="qemu-cortex-m4", out_dir=tmp_path / "a")
    b = generate(KWS, board="qemu-cortex-m4", out_dir=tmp_path / "b")
    assert _files(a.dir) == _files(b.dir)


def test_linker_script_takes_memory_of(tmp_path):
    generate(HELLO, board="qemu-cortex-m4", out_dir=tmp_path, memory_of="stm32f103-bluepill")
    ld = (tmp_path / "linker.ld").read_text()
    assert "ORIGIN = 0x00000000, LENGTH = 65536" in ld and "ORIGIN = 0x20000000, LENGTH = 20480" in ld
    assert json.loads((tmp_path / "tinyship.json").read_text())["ram_bytes"] == 20480


def test_tflm_without_tree_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.delenv("TFLM_DIR", raising=False)
    with pytest.raises(InputError, match="create_tflm_tree.py"):
        generate(KWS, board="qemu-cortex-m4", engine="tflm", out_dir=tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_failures_leave_no_partial_output(tmp_path):
    with pytest.raises(InputError, match="unknown board"):
        generate(KWS, board="qemu-cortex-m99", out_dir=tmp_path / "p")
    with pytest.raises(NotSupportedError):  # the aot engine refuses a float model
        generate(SHARED_DATA / "tflm" / "hello_world_float.tflite", board="host", out_dir=tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_cli_exit_codes(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "toolchain", "generate", *args], capture_output=True,
                              text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})

    r = run(str(KWS), "--board", "host", "-o", str(tmp_path / "ok"), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert "src/model/model.c" in doc["files"]
    assert doc["layers"][0] == {"index": 0, "name": "CONV_2D conv2d", "kernel": "portable",
                                "reason": "the core has neither the DSP extension nor Helium"}
    r = run(str(KWS), "--board", "qemu-cortex-m4", "--engine", "tflm", "-o", str(tmp_path / "t"))
    assert r.returncode == 2 and "TFLM source tree" in r.stderr and "Traceback" not in r.stderr
    r = run(str(tmp_path / "missing.tflite"), "--board", "host", "-o", str(tmp_path / "m"))
    assert r.returncode == 2 and not (tmp_path / "m").exists()


def test_platformio_project_config_parses_offline(tmp_path, tflm_tree):
    generate(KWS, board="arduino-nano-33-ble", engine="tflm", out_dir=tmp_path, tflm_dir=tflm_tree)
    r = subprocess.run([PIO, "project", "config", "-d", str(tmp_path), "--json-output"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    env = dict(dict(json.loads(r.stdout))["env:arduino-nano-33-ble"])
    assert (env["platform"], env["board"], env["framework"]) == ("nordicnrf52", "nano33ble", ["arduino"])
    assert "lib_deps" not in env  # TFLM is the tree's copy in lib/tflm, found by PlatformIO's LDF
    assert {"-std=gnu++17", "-DTF_LITE_STATIC_MEMORY", "-Ilib/tflm", "-Ilib/tflm/third_party/flatbuffers/include"} <= set(
        env["build_flags"]) and "-std=gnu++14" in env["build_unflags"]
    library = json.loads((tmp_path / "lib" / "tflm" / "library.json").read_text())
    assert library["build"]["srcDir"] == "." and (tmp_path / "lib/tflm/tensorflow/lite/micro/micro_interpreter.h").is_file()


def test_mlperf_name_inferred_or_given(tmp_path):
    from toolchain.mlperf import mlperf_name

    assert [mlperf_name(n) for n in ("kws_ref_model", "ad01_int8", "vww_96_int8", "pretrainedResnet_quant",
                                     "hello_world_int8")] == ["kws01", "ad01", "vww01", "ic01", None]
    generate(KWS, board="host", out_dir=tmp_path / "kws")
    assert '#define TS_MLPERF_NAME "kws01"' in (tmp_path / "kws" / "src" / "tinyship_config.h").read_text()
    generate(HELLO, board="host", out_dir=tmp_path / "hello", mlperf_name="ad01")
    assert json.loads((tmp_path / "hello" / "tinyship.json").read_text())["mlperf_name"] == "ad01"
    generate(HELLO, board="host", out_dir=tmp_path / "own")
    assert '#define TS_MLPERF_NAME "hello_world_int8"' in (tmp_path / "own" / "src" / "tinyship_config.h").read_text()
    with pytest.raises(InputError, match="unknown MLPerf Tiny model name 'kws02'"):
        generate(HELLO, board="host", out_dir=tmp_path / "bad", mlperf_name="kws02")
    assert not (tmp_path / "bad").exists()
