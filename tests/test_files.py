"""Outputs appear as a set or not at all (toolchain.files), even when a signal arrives mid-commit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolchain.files import staged_dir


def test_a_new_output_folder_appears_in_one_rename(tmp_path):
    out = tmp_path / "out"
    with staged_dir(out) as stage:
        for name in ("a.tflite", "b.h", "sub/c.json"):
            (stage / name).parent.mkdir(exist_ok=True)
            (stage / name).write_text(name)
        assert not out.exists()
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == ["a.tflite", "b.h", "sub/c.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no stage folder left


def test_nothing_is_written_when_the_body_fails(tmp_path):
    with pytest.raises(RuntimeError), staged_dir(tmp_path / "out") as stage:
        (stage / "a.tflite").write_text("partial")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


_SIGTERM_MID_COMMIT = """
import os, signal, sys
from toolchain import files
out = sys.argv[1]
seen, replace = [], os.replace
def replace_then_signal(src, dst):
    if not seen:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives after the first file moved
    replace(src, dst)
    seen.append(dst)
def on_term(signum, frame):
    raise SystemExit(f"SIGTERM after {len(seen)} files")
files.os.replace = replace_then_signal
signal.signal(signal.SIGTERM, on_term)
with files.staged_dir(out) as stage:
    for name in "abc":
        (stage / name).write_text(name)
"""


def test_sigterm_during_the_commit_waits_for_the_whole_set(tmp_path):
    """In a process of its own: signals reach the main thread, which pytest-xdist workers are not."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user file")
    done = subprocess.run([sys.executable, "-c", _SIGTERM_MID_COMMIT, str(out)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}, timeout=60)
    assert done.stderr.strip() == "SIGTERM after 3 files"
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "c", "keep.txt"]
