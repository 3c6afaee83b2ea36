"""`tinyship build`: real compilers, the size split, and the budget check."""

import json
import subprocess
import sys

import pytest

from conftest import SHARED_DATA
from toolchain import build, generate, load_model
from toolchain.build import COMPONENTS
from toolchain.errors import DoesNotFitError, InputError

KWS = SHARED_DATA / "mlperf_tiny" / "kws_ref_model.tflite"
PERSON = SHARED_DATA / "tflm" / "person_detect.tflite"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "toolchain", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", "qemu-cortex-m4"])
def test_size_split_adds_up(board, built_firmware):
    project, r = built_firmware(KWS, board)
    assert r.elf.is_file() and r.map.is_file()
    for which, total in (("flash", r.flash), ("ram", r.ram)):
        assert set(r.sizes[which]) == set(COMPONENTS)
        assert sum(r.sizes[which].values()) == total
    weights = sum(t.nbytes for t in load_model(KWS).main.tensors if t.data)
    # weights + requantization parameters; the DSP kernels keep filters as int16 (up to 2x)
    assert weights <= r.sizes["flash"]["model"] <= weights * 3
    assert all(v >= 0 for split in r.sizes.values() for v in split.values())
    assert r.sizes["flash"]["engine"] > 0 and r.sizes["flash"]["app"] > 0 and r.sizes["flash"]["C library"] > 0
    if board != "host":
        assert r.sizes["ram"]["stack+heap"] > 0 and r.sizes["ram"]["arena"] >= 16000


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
def test_cli_build_json_reports_budget(built_firmware):
    project, _ = built_firmware(KWS, "qemu-cortex-m4")
    r = _cli("build", str(project), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["flash"]["budget"] == 4 << 20 and 0 < report["flash"]["total"] < report["flash"]["budget"]


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
def test_person_detect_over_bluepill_budget_exits_3_with_shortfall(tmp_path):
    out = tmp_path / "p"
    generate(PERSON, board="qemu-cortex-m4", memory_of="stm32f103-bluepill", out_dir=out)
    r = _cli("build", str(out))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "does not fit stm32f103-bluepill" in r.stderr and "FLASH over by" in r.stderr and "RAM over by" in r.stderr
    assert "model" in r.stdout and "C library" in r.stdout and "65,536" in r.stdout  # the split is printed
    assert not (out / "build" / "firmware.elf").exists()
    with pytest.raises(DoesNotFitError) as e:
        build(out)
    assert e.value.build_result.flash > 65536 and e.value.exit_code == 3


def test_not_a_project_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not a tinyship project"):
        build(tmp_path)
    r = _cli("build", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.usefixtures("shared_data")
def test_compile_error_is_a_build_error(tmp_path):
    generate(SHARED_DATA / "tflm" / "hello_world_int8.tflite", board="host", out_dir=tmp_path)
    with open(tmp_path / "src" / "app" / "app.c", "a") as f:
        f.write("\nint broken(void) { return undeclared_name; }\n")
    r = _cli("build", str(tmp_path))
    assert r.returncode == 6 and "undeclared_name" in r.stderr and "build.log" in r.stderr


# The tflm engine's builds (host and Cortex-M, against a real TFLM tree): tests/test_tflm_engine.py


@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", "qemu-cortex-m4"])
@pytest.mark.usefixtures("shared_data")
def test_elf_records_its_board(board, built_firmware, tmp_path):
    from toolchain.build import check_elf_board, elf_board

    elf = built_firmware(KWS, board)[1].elf
    assert elf_board(elf) == board
    check_elf_board(elf, board)
    with pytest.raises(InputError, match=f"built for board '{board}', not 'stm32f4-discovery'.*--board {board}"):
        check_elf_board(elf, "stm32f4-discovery")


def test_elf_without_board_record_is_refused(tmp_path):
    from toolchain.build import check_elf_board

    bare = tmp_path / "bare.elf"
    src = tmp_path / "bare.c"
    src.write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", str(src), "-o", str(bare)], check=True)
    with pytest.raises(InputError, match=r"does not record which board.*\.tinyship\.board"):
        check_elf_board(bare, "host")
    (tmp_path / "text.elf").write_text("not an elf")
    with pytest.raises(InputError, match="is not a firmware ELF"):
        check_elf_board(tmp_path / "text.elf", "host")


@pytest.mark.usefixtures("shared_data")
def test_platformio_first_build_offline_says_what_and_why_at_once(tmp_path, monkeypatch):
    """No activated venv (PATH without it): pio is found beside the interpreter. A platform not yet
    downloaded is announced, and without network the build stops at once with the reason and the fix
    (the registry is pointed at a closed local port: the same refusal as no network, on any machine)."""
    import time

    import toolchain.build as b
    from toolchain.device.runner import free_port
    from toolchain.errors import ToolMissingError

    generate(SHARED_DATA / "tflm" / "hello_world_int8.tflite", board="stm32f4-discovery", builder="platformio",
             out_dir=tmp_path / "p")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("PLATFORMIO_CORE_DIR", str(tmp_path / "pio-core"))
    monkeypatch.setattr(b, "PIO_REGISTRY", ("127.0.0.1", free_port()))
    notes, start = [], time.monotonic()
    with pytest.raises(ToolMissingError, match=r"download the platform ststm32 .*no network.*pio pkg install") as e:
        build(tmp_path / "p", progress=notes.append)
    assert time.monotonic() - start < 10 and e.value.exit_code == 4
    assert len(notes) == 1 and "installing PlatformIO platform ststm32" in notes[0]
