"""Faults of a physical board, acted out by tests/fake_device.py on a pty (a mock: no board
can exist on this machine). Each ends in exit code 4 with one line naming what happened,
within the deadline the options state, and a partial report."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fake_device import FakeDevice
from toolchain.device import protocol as p
from toolchain.profile import profile

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(shared_data):
    return shared_data / "tflm" / "hello_world_int8.tflite"


def _profile_cli(dev, model, out, *extra):
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "toolchain", "profile", "--port", dev.port, "--model", str(model),
                        "--random", "2", "-n", "1", "--warmup", "0", "-o", str(out), *extra],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    return r, time.monotonic() - t0


def _partial(out: Path) -> dict:
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "partial" and report["error"]["exit_code"] == 4
    assert (out / "report.json").stat().st_size < 20_000  # bounded, whatever the device sent
    return report


@pytest.mark.slow
@pytest.mark.parametrize("fault,size,message", [
    # 3 commands answered (info, db load, db), then the fault during `infer 1 0`: deadline 1 + 1 x 1 s
    ("busy", 0, r"did not finish its reply within 2 s: awaited 'm-ready' after 'infer 1 0'; last received: m-\[still busy\]"),
    ("frozen", 0, r"did not answer within 1 s: awaited 'm-ready' after 'infer 1 0'"),
    ("huge-line", 16 << 20, r"a line longer than 4,194,304 bytes \(starting 'm-zzzz"),
    ("hardfault-midline", 0, r"HardFault during 'infer 1 0': e-\[HARDFAULT pc=0x0800abcd"),
])
def test_cli_stops_a_misbehaving_device_within_its_deadline(tiny, tmp_path, fault, size, message):
    with FakeDevice(tiny, fault=fault, after=3, size=size or 1 << 20) as dev:
        r, seconds = _profile_cli(dev, tiny, tmp_path, "--timeout", "1", "--infer-timeout", "1")
    assert r.returncode == 4, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyship: error:") and len(lines[0]) < 600, r.stderr
    assert re.search(message, lines[0]), lines[0]
    report = _partial(tmp_path)
    assert re.search(message, report["error"]["message"])
    assert report["run"]["deadline_s"] > 0
    # the fault's own deadline (<= 2 s) plus start-up and the host reference, never minutes
    assert seconds < 30, seconds  # measured 4-7 s on an idle machine


def test_a_device_that_prints_forever_hits_the_session_deadline(tiny, tmp_path):
    with FakeDevice(tiny, fault="busy", after=3) as dev:
        t0 = time.monotonic()
        with pytest.raises(p.DeviceError, match=r"the session deadline \(1.5 s, --deadline\) ran out"):
            profile(dev.port, tiny, random=2, n=1, warmup=0, timeout=30, deadline=1.5, out_dir=tmp_path)
        assert time.monotonic() - t0 < 20  # 1.5 s after the host reference; the 30 s command timeout never comes
    _partial(tmp_path)


@pytest.mark.parametrize("fault,match", [
    ("info-list", r"malformed info reply: \[1, 2\], expected a JSON object"),
    ("crc-string", r"info.model_crc32 reply: '0x[0-9a-f]{8}', expected an integer"),
    ("cpu-hz-inf", r"info.cpu_hz reply: inf, expected a finite number"),
    ("info-nan", "malformed info reply: not JSON"),
    ("deep-json", r"malformed info reply: not JSON: '\[\[\[.*more bytes"),
    ("mem-list", r"malformed mem reply: \[1, 2\]"),
    ("cycles-string", r"malformed cycles reply: '\[\"12\"\]'"),
    ("results-nan", "malformed results reply: not finite"),
    ("layers-bad", r"malformed layers\[0\] reply: .*expected an object with 'cycles'"),
    ("garbage", "garbage from the device during 'info'"),
    ("reset", r"the device reset during 'info' \(boot banner seen again"),
])
def test_malformed_replies_are_device_errors_with_a_partial_report(tiny, tmp_path, fault, match):
    with FakeDevice(tiny, fault=fault) as dev:
        with pytest.raises(p.DeviceError, match=match) as e:
            profile(dev.port, tiny, random=2, n=1, warmup=0, timeout=2, out_dir=tmp_path)
    assert e.value.exit_code == 4 and len(str(e.value)) < 400
    _partial(tmp_path)
    assert "Partial run" in (tmp_path / "report.html").read_text()


def test_boot_noise_then_a_correct_device_passes(tiny, tmp_path):
    with FakeDevice(tiny, fault="boot-noise") as dev:
        report = profile(dev.port, tiny, random=2, n=2, warmup=1, timeout=2, out_dir=tmp_path)
    assert report["status"] == "complete" and report["validation"]["passed"]
    assert report["validation"]["bit_exact"] == 2


def test_wrong_outputs_are_exit_7_after_a_complete_report(tiny, tmp_path):
    """A device whose outputs differ from TFLM (one byte off by one: a kernel bug) completes its run, the
    report says FAIL, and the command exits 7 with one line naming the first divergence (it exited 0).
    Within --tolerance 1 the same run passes."""
    with FakeDevice(tiny, fault="wrong-output") as dev:
        r, _ = _profile_cli(dev, tiny, tmp_path / "strict")
        lenient, _ = _profile_cli(dev, tiny, tmp_path / "lenient", "--tolerance", "1")
    assert r.returncode == 7, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines == [f"tinyship: error: the device's outputs differ from the TFLM reference: 2 of 2 samples not "
                     f"bit-exact, max diff 1 > --tolerance 0 (first at sample 0, output index 0); report: "
                     f"{tmp_path / 'strict' / 'report.json'}; rebuild and flash the firmware from this model; if it "
                     f"persists, report the model and board (or accept a difference with --tolerance N)"], r.stderr
    report = json.loads((tmp_path / "strict" / "report.json").read_text())
    assert report["status"] == "complete" and report["validation"]["passed"] is False
    assert lenient.returncode == 0, lenient.stderr
