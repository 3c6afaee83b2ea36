"""Harness robustness on the real host firmware and its TINYSHIP_FAULT injection: each fault
ends with exit code 4, a message naming what happened, and a partial report."""

import json
import re
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from toolchain.device.runner import HostRunner
from toolchain.device.transport import PortGoneError
from toolchain.model import load_model
from toolchain.profile import run_session, select_samples

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
# `info`, then 6 commands per sample (db load, db, infer, cycles, outputs, layers):
# the fault starts right after the second sample.
AFTER_TWO_SAMPLES = 1 + 2 * 6


@pytest.fixture(scope="module")
def host_elf(built_firmware, kws):
    return built_firmware(kws, "host")[1].elf


def _partial(report_dir: Path, samples: int) -> dict:
    report = json.loads((report_dir / "report.json").read_text())
    assert report["status"] == "partial" and report["error"]["exit_code"] == 4
    assert len(report["samples"]) == samples and report["validation"]["compared"] == samples
    assert report["validation"]["bit_exact"] == samples and report["validation"]["passed"] is False
    assert "Partial run" in (report_dir / "report.html").read_text()
    return report


@pytest.mark.parametrize("fault,message", [
    ("garbage", "garbage from the device during 'db load 490'"),
    ("reset", r"the device reset during 'db load 490' \(boot banner seen again"),
    ("silent", "did not answer within 1 s: awaited 'm-ready' after 'db load 490'"),
])
def test_injected_fault_exits_4_with_partial_report(host_elf, kws, tmp_path, fault, message):
    env = {**os.environ, "TINYSHIP_FAULT": fault, "TINYSHIP_FAULT_AFTER": str(AFTER_TWO_SAMPLES)}
    r = subprocess.run([sys.executable, "-m", "toolchain", "emulate", str(host_elf), "--board", "host",
                        "--model", str(kws), "--random", "5", "-n", "1", "--warmup", "0", "--timeout", "1",
                        "-o", str(tmp_path), "--junit", str(tmp_path / "junit.xml")],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 4, r.stderr
    assert "Traceback" not in r.stderr
    assert re.search(message, r.stderr), r.stderr
    report = _partial(tmp_path, 2)
    assert re.search(message, report["error"]["message"])
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count("<testcase") == 3 and "<error" in junit


def test_port_that_disappears(host_elf, kws, tmp_path):
    model = load_model(kws)
    with HostRunner(host_elf, run_dir=tmp_path) as runner:
        def pull_the_plug(stage, done, total):
            if stage == "infer" and done == 2:
                os.kill(runner.proc.pid, signal.SIGKILL)

        with pytest.raises(PortGoneError, match=r"port socket://127\.0\.0\.1:\d+ disappeared") as e:
            run_session(runner.client, model, select_samples(model, random=5), n=1, warmup=0,
                        out_dir=tmp_path, progress=pull_the_plug)
    assert e.value.exit_code == 4
    _partial(tmp_path, 2)
