"""tinyship export: byte-exact C array, I/O constants, cross-compiles, no TensorFlow, errors."""

import subprocess
import sys

import pytest

from conftest import SHARED_DATA
from toolchain.cli import main
from toolchain.export import export
from toolchain.model import load_model


TFLM = SHARED_DATA / "tflm"
pytestmark = pytest.mark.usefixtures("shared_data")

ROUND_TRIP = r"""
#include <cstdint>
#include <cstdio>
#include "{name}_model_data.h"
#include "{name}_model_io.h"

int main(int argc, char **argv) {{
    (void)argc;
    FILE *f = std::fopen(argv[1], "wb");
    if (!f || std::fwrite({name}_model_data, 1, {name}_model_data_len, f) != {name}_model_data_len) return 1;
    std::fclose(f);
    const int in_dims[] = {G}_INPUT0_DIMS;
    {G}_OUTPUT0_CTYPE out0 = 0;
    std::printf("%u %d %lx %d %d %.9g %d %zu %.9g %d %s\n", {name}_model_data_len,
                (int)((uintptr_t){name}_model_data % 16), (unsigned long){G}_MODEL_CRC32, {G}_INPUT0_NDIMS,
                in_dims[{G}_INPUT0_NDIMS - 1], (double){G}_INPUT0_SCALE, {G}_INPUT0_ZERO_POINT, sizeof out0,
                (double){G}_OUTPUT0_SCALE, {G}_OUTPUT0_ZERO_POINT, {G}_OUTPUT0_DTYPE);
    return 0;
}}
"""

C_USER = """
#include "{name}_model_data.h"
#include "{name}_model_io.h"
unsigned int model_bytes(void) {{ return {name}_model_data_len + {G}_MODEL_SIZE * 0u + {G}_INPUT0_BYTES; }}
"""


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.mark.parametrize("model", ["person_detect.tflite", "hello_world_float.tflite"])
def test_round_trip_is_byte_exact_and_constants_match(model, tmp_path):
    src = f"{TFLM}/{model}"
    result = export(src, tmp_path, name="m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m_model_data.cc", "m_model_data.h", "m_model_io.h"]
    (tmp_path / "main.cc").write_text(ROUND_TRIP.format(name="m", G="M"))
    _run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-o", tmp_path / "rt", tmp_path / "main.cc",
          tmp_path / "m_model_data.cc"])
    fields = _run([tmp_path / "rt", tmp_path / "back.tflite"]).split()
    assert (tmp_path / "back.tflite").read_bytes() == open(src, "rb").read()
    m = load_model(src)
    inp, out = m.main.input_tensors()[0], m.main.output_tensors()[0]
    q_in = inp.quantization if inp.dtype != "float32" else None
    q_out = out.quantization if out.dtype != "float32" else None
    assert fields == [
        str(m.size), "0", f"{m.crc32:x}", str(len(inp.shape)), str(inp.shape[-1]),
        f"{q_in.scale[0] if q_in else 0.0:.9g}", str(q_in.zero_point[0] if q_in else 0),
        "1" if out.dtype == "int8" else "4", f"{q_out.scale[0] if q_out else 0.0:.9g}",
        str(q_out.zero_point[0] if q_out else 0), out.dtype,
    ]
    assert result.crc32 == m.crc32 and result.size == m.size


def test_cross_compiles_for_cortex_m4_with_section(tmp_path):
    from elftools.elf.elffile import ELFFile

    export(f"{TFLM}/hello_world_int8.tflite", tmp_path, name="hw", section=".rodata.model")
    flags = ["-mcpu=cortex-m4", "-mthumb", "-Wall", "-Wextra", "-Werror", "-c"]
    _run(["arm-none-eabi-g++", "-std=c++17", *flags, "-o", tmp_path / "data.o", tmp_path / "hw_model_data.cc"])
    (tmp_path / "user.c").write_text(C_USER.format(name="hw", G="HW"))
    _run(["arm-none-eabi-gcc", "-std=c99", "-pedantic", *flags, "-o", tmp_path / "user.o", tmp_path / "user.c"])
    with open(tmp_path / "data.o", "rb") as f:
        section = ELFFile(f).get_section_by_name(".rodata.model")
        assert section is not None and section.data_size == load_model(f"{TFLM}/hello_world_int8.tflite").size
        assert section["sh_addralign"] >= 16


PROBE = """
import sys, time
from toolchain.cli import main
t = time.process_time()  # CPU time: other jobs on the shared cores do not count
try:
    main({argv!r})
except SystemExit as e:
    code = e.code
print(code, "tensorflow" in sys.modules, time.process_time() - t, file=sys.stderr)
"""


def _probe(*argv):
    r = subprocess.run([sys.executable, "-c", PROBE.format(argv=[str(a) for a in argv])],
                       capture_output=True, text=True, timeout=120)
    code, tf_loaded, seconds = r.stderr.split("\n")[-2].split()
    return r, int(code), tf_loaded == "True", float(seconds)


def test_export_and_help_never_import_tensorflow_and_export_is_fast(tmp_path):
    r, code, tf_loaded, seconds = _probe("export", f"{TFLM}/person_detect.tflite", "-o", tmp_path, "--json")
    assert (code, tf_loaded) == (0, False), r.stderr
    assert seconds < 1.0, r.stderr
    assert '"crc32"' in r.stdout and (tmp_path / "person_detect_model_data.cc").exists()
    r, code, tf_loaded, _ = _probe("--help")
    assert (code, tf_loaded) == (0, False) and "export" in r.stdout


def _fails(capsys, out, *argv):
    with pytest.raises(SystemExit) as e:
        main(["export", *map(str, argv), "-o", str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("tinyship: error:") and err.count("\n") == 1, err
    assert not out.exists() or not any(out.iterdir())
    return err


def test_errors_exit_2_without_partial_files(tmp_path, capsys):
    out = tmp_path / "out"
    assert "not found" in _fails(capsys, out, tmp_path / "missing.tflite")
    (tmp_path / "notes.tflite").write_text("hello, not a model")
    assert "not a TFLite flatbuffer" in _fails(capsys, out, tmp_path / "notes.tflite")
    raw = open(f"{TFLM}/hello_world_int8.tflite", "rb").read()
    (tmp_path / "cut.tflite").write_bytes(raw[:600])
    assert "corrupt" in _fails(capsys, out, tmp_path / "cut.tflite")
    assert "C identifier" in _fails(capsys, out, f"{TFLM}/hello_world_int8.tflite", "--name", "9lives")
    assert "section" in _fails(capsys, out, f"{TFLM}/hello_world_int8.tflite", "--section", 'x") int y; //')


def test_default_name_is_a_c_identifier(tmp_path):
    src = tmp_path / "1st-model.tflite"
    src.write_bytes(open(f"{TFLM}/hello_world_int8.tflite", "rb").read())
    assert export(src, tmp_path / "o").name == "m_1st_model"
