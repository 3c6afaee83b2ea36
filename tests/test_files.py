"""Outputs appear as a set or not at all (toolchain.files), even when a signal arrives mid-commit."""

from __future__ import annotations

import os
import signal

import pytest

from toolchain import files
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


def test_sigterm_during_the_commit_waits_for_the_whole_set(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user file")
    seen = []
    replace = os.replace

    def replace_then_signal(src, dst):
        if not seen:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives after the first file moved
        replace(src, dst)
        seen.append(os.path.basename(dst))

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"SIGTERM after {len(seen)} files")

    monkeypatch.setattr(files.os, "replace", replace_then_signal)
    old = signal.signal(signal.SIGTERM, on_term)
    try:
        with pytest.raises(KeyboardInterrupt, match="after 3 files"), staged_dir(out) as stage:
            for name in ("a", "b", "c"):
                (stage / name).write_text(name)
    finally:
        signal.signal(signal.SIGTERM, old)
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "c", "keep.txt"]
