"""`tinyship tflm-tree`: the pinned commit, and its one-line errors (no network here: the offline path)."""

import socket
import subprocess
import sys

import pytest

from toolchain.errors import InputError
from toolchain.tflm_tree import make_tree, wheel_commit


def _online() -> bool:
    try:
        socket.create_connection(("github.com", 443), timeout=5).close()
        return True
    except OSError:
        return False


def _tinyship(*args):
    return subprocess.run([sys.executable, "-m", "toolchain", "tflm-tree", *args], capture_output=True, text=True,
                          timeout=120)


def test_commit_is_the_one_the_pinned_wheel_was_built_from():
    from importlib import metadata

    commit = wheel_commit()
    assert 7 <= len(commit) <= 40 and int(commit, 16) >= 0
    assert f"[{commit}](https://github.com/tensorflow/tflite-micro" in metadata.metadata("tflite_micro").get_payload()


def test_a_folder_with_files_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        make_tree(tmp_path)
    with pytest.raises(InputError, match="is not a git commit"):
        make_tree(tmp_path / "new", commit="main; rm -rf /")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    r = _tinyship(str(tmp_path))
    assert r.returncode == 2 and "not empty" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(_online(), reason="github.com is reachable here: the offline path cannot run")
def test_offline_says_no_network_and_where_the_offline_recipe_is(tmp_path):
    r = _tinyship(str(tmp_path / "tree"), "--json")
    assert r.returncode == 4 and r.stdout == "" and "Traceback" not in r.stderr
    assert "no network" in r.stderr and "docs/tflm-engine.md" in r.stderr
    assert not any(tmp_path.iterdir())  # no partial tree, no clone left behind
