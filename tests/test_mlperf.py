"""MLPerf Tiny compatibility: the benchmark runner (mlcommons/tiny benchmark/runner) drives
tinyship firmware in QEMU over a pty.

The firmware boots only after the runner has opened the port (QEMU starts paused and is
continued through its monitor), as a board that resets when its port opens: its boot lines
then land in the runner's queue ahead of the reply to its first command.

`test_runner_sequence_replayed` re-states the runner's reading rules and regexes and always
runs. `test_upstream_runner_unmodified` imports the runner itself from a checkout named by
MLPERF_TINY_RUNNER (its benchmark/runner folder; not part of this repository) and is skipped
without one.
"""

import json
import os
import re
import select
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import serial

from conftest import SHARED_DATA
from toolchain.model import load_model
from toolchain.reference import tflm_invoke

pytestmark = pytest.mark.slow
KWS = SHARED_DATA / "mlperf_tiny" / "kws_ref_model.tflite"
# The runner's patterns (device_under_test.py, script.py) and its command sequence for kws01
# (main.py init_dut, then tests_performance.yaml: download, infer 70 10).
NAME = re.compile(r"^m-(name)-dut-\[([^]]+)]$")
PROFILE = re.compile(r"^m-(model|profile)-\[([^]]+)]$")
RESULTS = re.compile(r"^m-results-\[([^]]+)\]$")
LAP = re.compile(r"^m-lap-us-([0-9]+)$")
DB_BYTES = 31  # bytes per `db` command (DUT._max_bytes without a power manager)


@contextmanager
def paused_qemu_on_pty(elf):
    """(pty path, monitor address) of QEMU running `elf` on qemu-cortex-m4, paused before reset."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monitor = s.getsockname()
    proc = subprocess.Popen(["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4", "-icount", "shift=0",
                             "-nographic", "-S", "-monitor", f"tcp:{monitor[0]}:{monitor[1]},server=on,wait=off",
                             "-serial", "pty", "-kernel", str(elf)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)  # QEMU names the pty on stdout
        said = proc.stdout.readline() if ready else "nothing within 30 s"
        found = re.search(r"char device redirected to (/dev/pts/\d+)", said)
        assert found, f"QEMU did not open a pty: {said}"
        yield found.group(1), monitor
    finally:
        proc.kill()
        proc.wait(timeout=10)


def start_guest(monitor):
    with socket.create_connection(monitor, timeout=10) as m:
        m.sendall(b"cont\n")
        time.sleep(0.2)


class ReplayedRunner:
    """The runner's SerialDevice, re-stated: 115200 baud, '%' after each command, lines split at
    LF with CR and NUL dropped, a reply ends at the first line that *contains* 'm-ready', and
    nothing is ever flushed."""

    def __init__(self, port):
        self.port = serial.Serial(port, 115200, timeout=0.1)
        self.buf = ""

    def send_command(self, command, timeout=30.0):
        self.port.write(f"{command}%".encode())
        lines, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            for char in self.port.read(256).decode():
                if char == "\n":
                    if self.buf:
                        lines.append(self.buf)
                    if "m-ready" in self.buf:
                        self.buf = ""
                        return lines
                    self.buf = ""
                elif char not in "\r\0":
                    self.buf += char
        raise AssertionError(f"no m-ready after {command!r}; got {lines}")

    def load(self, data):
        replies = [self.send_command(f"db load {len(data)}")]
        for i in range(0, len(data), DB_BYTES):
            replies.append(self.send_command("db " + data[i:i + DB_BYTES].hex()))
        return replies


def _matches(pattern, lines):
    return [m.groups() for m in map(pattern.match, lines) if m]


def _results(lines):
    return [[float(v) for v in m[0].split(",")] for m in _matches(RESULTS, lines)]


@pytest.fixture(scope="module")
def kws_case(built_firmware):
    model = load_model(KWS)
    x = np.random.default_rng(1).integers(-128, 128, size=model.main.input_tensors()[0].shape, dtype=np.int8)
    q = model.main.output_tensors()[0].quantization
    expected = (tflm_invoke(model, [x])[0].astype(np.float64).ravel() - q.zero_point[0]) * q.scale[0]
    return built_firmware(KWS, "qemu-cortex-m4")[1].elf, x.tobytes(), expected


def test_runner_sequence_replayed(kws_case):
    elf, data, expected = kws_case
    with paused_qemu_on_pty(elf) as (pty, monitor):
        runner = ReplayedRunner(pty)
        start_guest(monitor)
        time.sleep(1.0)  # main.py sleeps 2 s after opening the port; the boot lines are queued by then
        reply = runner.send_command("name")
        assert reply[0].startswith("m-boot-[tinyship board=qemu-cortex-m4") and reply[-1] == "m-ready"
        assert _matches(NAME, reply) == [("name", "tinyship-qemu-cortex-m4")]
        assert sorted(_matches(PROFILE, runner.send_command("profile"))) == [("model", "kws01"),
                                                                           ("profile", "tinyship")]
        loaded = runner.load(data)
        assert loaded[0] == ["m-[Expecting 490 bytes]", "m-ready"] and loaded[-1] == ["m-load-done", "m-ready"]
        reply = runner.send_command("infer 70 10")
        (results,) = _results(reply)
        np.testing.assert_allclose(results, expected, atol=1e-6)
        t0, t1 = (int(v[0]) for v in _matches(LAP, reply))
        assert t1 > t0
        # a rejected `db load` discards the input: the next infer is an error, not the last input's scores
        assert any(line.startswith("e-[") for line in runner.send_command("db load 7"))
        reply = runner.send_command("infer 1 0")
        assert any(line.startswith("e-[no complete input") for line in reply) and not _results(reply)
        runner.load(data[:62])
        reply = runner.send_command("db zz")  # a rejected `db` chunk too
        assert any(line.startswith("e-[") for line in reply) and not _results(runner.send_command("infer 1 0"))
        runner.load(data)
        np.testing.assert_allclose(_results(runner.send_command("infer 1 0"))[0], expected, atol=1e-6)


UPSTREAM = """
import json, socket, sys, time
runner_dir, pty, host, port, data, out = sys.argv[1:]
sys.path.insert(0, runner_dir)
from device_under_test import DUT
from script import _ScriptInferStep

with DUT(pty, 115200) as dut:
    with socket.create_connection((host, int(port))) as m:  # the board boots once the port is open
        m.sendall(b"cont\\n")
        time.sleep(0.2)
    time.sleep(2)  # as main.py's init_dut
    found = {"name": dut.get_name(), "model": dut.get_model(), "profile": dut.get_profile()}
    dut.load(bytes.fromhex(data))
    found["infer"] = _ScriptInferStep._gather_infer_results(dut.infer(70, 10), "p")
with open(out, "w") as f:
    json.dump(found, f)
"""


@pytest.mark.skipif(not os.environ.get("MLPERF_TINY_RUNNER"),
                    reason="set MLPERF_TINY_RUNNER to the benchmark/runner folder of an mlcommons/tiny checkout")
def test_upstream_runner_unmodified(kws_case, tmp_path):
    runner_dir = Path(os.environ["MLPERF_TINY_RUNNER"]).resolve()
    assert (runner_dir / "device_under_test.py").is_file(), f"no device_under_test.py in {runner_dir}"
    elf, data, expected = kws_case
    (tmp_path / "drive.py").write_text(UPSTREAM)
    with paused_qemu_on_pty(elf) as (pty, monitor):
        r = subprocess.run([sys.executable, "drive.py", str(runner_dir), pty, monitor[0], str(monitor[1]), data.hex(),
                            "found.json"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    found = json.loads((tmp_path / "found.json").read_text())
    assert (found["name"], found["model"], found["profile"]) == ("tinyship-qemu-cortex-m4", "kws01", "tinyship")
    assert found["infer"]["total_inferences"] == 1
    np.testing.assert_allclose(found["infer"]["results"], expected, atol=1e-6)
    assert found["infer"]["elapsed_time"] > 0
