"""The tflm engine's PlatformIO projects compile for their boards against the TFLM tree, without PlatformIO.

Needs a TFLM source tree in TFLM_DIR (as tests/test_tflm_engine.py; docs/tflm-engine.md). For each
PlatformIO board with an Arm core, kws_ref_model is generated with the tflm engine and what `pio run`
compiles from the project is compiled with arm-none-eabi-gcc: lib/tflm (the tree's copy; without
-Werror, not our code), src/engine, src/model and src/app (-Wall -Wextra -Werror), with the board's
target flags (its yaml: those of its Arduino core, e.g. -mfloat-abi=softfp on the Nano 33 BLE), -Os
as the cores build, and the project's own platformio.ini build_flags less its build_unflags.

Not linked, and the Arduino core is not compiled: it is not available offline. The platform layer
(src/platform/platform_arduino.cpp) is compiled against a shim Arduino.h written by this test that
only declares the core calls it makes (Serial, micros): a check of its syntax and types, not of the
core. ESP32 boards are skipped: there is no Xtensa compiler here. Objects are kept in pytest's cache
folder keyed by compiler, flags and source, so only what changed is compiled again.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from toolchain import generate
from toolchain.boards import list_boards

TFLM_DIR = os.environ.get("TFLM_DIR")
KWS = SHARED_DATA / "mlperf_tiny" / "kws_ref_model.tflite"
CC, CXX = "arm-none-eabi-gcc", "arm-none-eabi-g++"
ARDUINO_SHIM = """// Compile-check shim written by tests/test_tflm_platformio.py, NOT the Arduino core: it only
// declares the core calls the platform layer makes, so that its syntax and types are checked.
#pragma once
#include <stddef.h>
#include <stdint.h>
class ShimSerial {
 public:
  void begin(unsigned long baud);
  int available();
  int read();
  size_t write(const uint8_t *data, size_t n);
  explicit operator bool() const;
};
extern ShimSerial Serial;
unsigned long micros(void);
"""
PIO_BOARDS = [b for b in list_boards() if b.platformio]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not TFLM_DIR, reason="needs a TFLM source tree in TFLM_DIR (`tinyship tflm-tree DIR`, "
                                 "or create_tflm_tree.py offline: docs/tflm-engine.md)"),
              pytest.mark.skipif(not shutil.which(CC), reason="needs arm-none-eabi-gcc (make setup)")]


def _pio_flags(project: Path) -> tuple[list[str], list[str]]:
    """(C flags, C++ flags) of the project's platformio.ini: its build_flags less its build_unflags,
    without the linker's; -std=c++ flags for C++ only (as PlatformIO hands them out)."""
    ini = configparser.ConfigParser(comment_prefixes=(";", "#"), inline_comment_prefixes=None)
    ini.read(project / "platformio.ini")
    env = ini[next(s for s in ini.sections() if s.startswith("env:"))]
    unflags = set(env.get("build_unflags", "").split())
    flags = [f for f in env["build_flags"].split() if f not in unflags and not f.startswith("-Wl,")]
    cxx_only = [f for f in flags if f.startswith("-std=") and "++" in f]
    return [f for f in flags if f not in cxx_only] + ["-std=gnu11"], flags


def _headers_digest(folder: Path) -> bytes:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.h*")):
        h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.digest()


def _compile(jobs: list[tuple[list[str], Path]], project: Path, cache: Path) -> list[str]:
    """Compile each (command without -c/-o, source) in `project` (its relative -I paths resolve
    from there, as under `pio run`); the first lines of each failure. An object is cached under
    the digest of its command, source and the headers it can see."""
    lib_headers = _headers_digest(project / "lib")
    src_headers = lib_headers + _headers_digest(project / "src")

    def one(job):
        cmd, src = job
        headers = src_headers if (project / "src") in src.parents else lib_headers
        key = hashlib.sha256("\0".join(cmd).encode() + headers + src.read_bytes()).hexdigest()[:24]
        obj = cache / f"{key}.o"
        if obj.is_file():
            return None
        tmp = cache / f".{key}.{os.getpid()}.o"
        r = subprocess.run(cmd + ["-c", str(src), "-o", str(tmp)], capture_output=True, text=True, timeout=600,
                           cwd=project)
        if r.returncode:
            return f"{src.relative_to(project)}: {(r.stderr or r.stdout)[:600]}"
        tmp.replace(obj)
        return None

    with ThreadPoolExecutor(2) as pool:
        return [e for e in pool.map(one, jobs) if e]


@pytest.mark.parametrize("board", PIO_BOARDS, ids=lambda b: b.id)
def test_tflm_project_compiles_for_the_board(board, tmp_path, request):
    if not board.compiler["cc"].startswith("arm-none-eabi"):
        pytest.skip(f"{board.id}: no {board.compiler['cc']} here (only arm-none-eabi-gcc); its TFLM library, "
                    "engine and app are the ones the Arm boards compile")
    project = tmp_path / "p"
    generate(KWS, board=board.id, engine="tflm", out_dir=project, tflm_dir=TFLM_DIR, builder="platformio")
    lib = project / "lib" / "tflm"
    assert (lib / "library.json").is_file() and not (project / "Makefile").exists()
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "Arduino.h").write_text(ARDUINO_SHIM)
    cflags, cxxflags = _pio_flags(project)
    target = board.compiler["cflags"] + ["-Os", "-ffunction-sections", "-fdata-sections"]
    cxx = [CXX, *target, "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", *cxxflags]
    ours = ["-Wall", "-Wextra", "-Werror"]
    lib_sources = sorted(p for p in lib.rglob("*") if p.suffix in (".c", ".cc", ".cpp"))
    assert any(p.name == "micro_interpreter.cc" for p in lib_sources) and any(p.name == "conv.cc" for p in lib_sources)
    jobs = [([CC, *target, *cflags] if p.suffix == ".c" else cxx, p) for p in lib_sources]
    # our sources -Werror clean; TFLM's headers as system headers there, as the Makefile has them
    ours_c, ours_cxx = ([f"-isystem{f[2:]}" if f.startswith("-Ilib/") else f for f in cmd] for cmd in
                        ([CC, *target, *cflags, *ours], [*cxx, *ours, "-I", str(shim)]))
    for p in sorted((project / "src").rglob("*")):
        if p.suffix == ".c":
            jobs.append((ours_c, p))
        elif p.suffix in (".cc", ".cpp"):
            jobs.append((ours_cxx, p))
    assert {"engine_tflm.cc", "app.c", "platform_arduino.cpp"} <= {p.name for _, p in jobs}
    errors = _compile(jobs, project, Path(request.config.cache.mkdir("tflm_platformio")))
    assert not errors, "\n".join(errors[:5])
