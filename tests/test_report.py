"""Reports from real runs: schema, Markdown, self-contained HTML rendered by headless Chromium, JUnit."""

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from toolchain.device.emulator import emulate
from toolchain.errors import DeviceTimeout
from toolchain.report import schema
from toolchain.report.junit import junit_xml

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs(built_firmware, shared_data, tmp_path_factory):
    """A complete report (kws on QEMU) and a partial one (host firmware that goes silent)."""
    kws = shared_data / "mlperf_tiny" / "kws_ref_model.tflite"
    complete = tmp_path_factory.mktemp("complete")
    emulate(built_firmware(kws, "qemu-cortex-m4")[0], board="qemu-cortex-m4", model=kws, random=3, n=2,
            warmup=0, out_dir=complete)
    partial = tmp_path_factory.mktemp("partial")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYSHIP_FAULT", "silent")
        mp.setenv("TINYSHIP_FAULT_AFTER", "7")  # info + one sample (6 commands), then nothing
        with pytest.raises(DeviceTimeout):
            emulate(built_firmware(kws, "host")[1].elf, board="host", model=kws, random=3, n=1, warmup=0,
                    timeout=0.5, out_dir=partial)
    return {"complete": complete, "partial": partial}


@pytest.mark.parametrize("kind", ["complete", "partial"])
def test_report_json_follows_the_schema(runs, kind):
    report = json.loads((runs[kind] / "report.json").read_text())
    jsonschema.validate(report, schema())
    assert report["status"] == kind
    assert set(report["files"]) == {"json", "md", "html"}


def test_complete_report_figures(runs):
    r = json.loads((runs["complete"] / "report.json").read_text())
    assert r["latency"]["label"] == "emulated" and r["latency"]["cycles_are"] == "instructions"
    assert r["latency"]["cycles"]["count"] == 6
    assert r["memory"]["static"]["flash"]["total"] > 0 and r["memory"]["stack_used"] > 0
    assert r["context"]["command"][0].endswith("qemu-system-arm")
    md = (runs["complete"] / "report.md").read_text()
    assert "bit-exact outputs: **3 of 3 samples**" in md and "## Layers" in md and "(emulated)" in md
    assert "top-1 agreement: 3 of 3 samples" in md and "flash by component (bytes): model " in md
    assert f"{round(r['latency']['cycles']['median']):,}" in md


def test_html_reads_plainly(runs):
    """Plain axis numbers (matplotlib's SVG keeps each label as a comment), whole instruction counts,
    the build's flash/RAM split, top-1 as an agreement count, files as readable as any other."""
    html = (runs["complete"] / "report.html").read_text()
    labels = re.findall(r"<!-- (.*?) -->", html)
    assert "instructions per inference" in labels and not any(re.fullmatch(r"1e\d+|×10.*", t) for t in labels)
    assert any(re.fullmatch(r"\d{1,3}(,\d{3})+", t) for t in labels)  # e.g. 2,657,600
    assert not re.search(r"<td>\d+\.0</td>", html)  # 80, not 80.0
    split = html[html.index('id="build-split"'):]
    assert all(f"<th>{part}</th>" in split[:split.index("</table>")] for part in ("model", "engine", "arena", "stack+heap"))
    assert "top-1 agreement</td><td>3 of 3 samples" in html and "SOFTMAX softmax" in html
    umask = os.umask(0)
    os.umask(umask)
    assert {(runs["complete"] / f"report.{k}").stat().st_mode & 0o777 for k in ("json", "md", "html")} == {0o666 & ~umask}


def test_schema_is_documented():
    doc = (ROOT / "docs" / "report.md").read_text()
    missing = [key for key in schema()["required"] if f"`{key}`" not in doc]
    assert not missing


def _chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is missing: `make setup` installs it (apt-get install chromium)"
    return exe


def _render(html: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """(DOM after load, console messages) from headless Chromium with a fresh profile."""
    r = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                        "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout, re.findall(r"CONSOLE[^\]]*\] (.*)", r.stderr)


def test_html_renders_without_console_errors(runs, tmp_path):
    # the check itself can fail: a page with a script error is caught
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    assert any("undefinedFunction" in m for m in _render(bad, tmp_path / "a")[1])
    doms = {}
    for kind in ("complete", "partial"):
        html = runs[kind] / "report.html"
        assert not re.search(r"""(src|href)=["']?(https?:|//)""", html.read_text())  # self-contained
        doms[kind], console = _render(html, tmp_path / kind)
        assert console == []
        assert ("Partial run" in doms[kind]) == (kind == "partial")
    assert doms["complete"].count("<svg") >= 3 and 'id="layers"' in doms["complete"] and "PASS" in doms["complete"]


def test_junit_fails_beyond_tolerance(runs):
    report = json.loads((runs["complete"] / "report.json").read_text())
    ok = junit_xml(report)
    assert 'tests="4" failures="0" errors="0"' in ok
    worse = copy.deepcopy(report)  # one output off by 2: fails at tolerance 1, passes at 2
    worse["samples"][1].update(max_abs_diff=2, first_mismatch=5, bit_exact=False)
    worse["validation"].update(max_abs_diff=2, passed=False, tolerance=1)
    xml = junit_xml(worse)
    assert 'failures="2"' in xml and "up to 2 (tolerance 1), first at output index 5" in xml
    worse["validation"].update(passed=True, tolerance=2)
    assert 'failures="0"' in junit_xml(worse)
    partial = junit_xml(json.loads((runs["partial"] / "report.json").read_text()))
    assert 'errors="1"' in partial and "DeviceTimeout" in partial
