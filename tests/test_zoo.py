"""The shared models and samples (toolchain.zoo): shared folder, checksummed cache, download, fetch."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys

import pytest

from toolchain import zoo

NAME = "tflm/person.bmp"


def _fake_download(payloads: dict, calls: list):
    def download(url):
        calls.append(url)
        return payloads[url]
    return download


@pytest.fixture(scope="module")
def payloads(shared_data):
    """The real bytes of every catalog file, keyed by its upstream URL (what a download would give)."""
    return {zoo.catalog()[name]["url"]: (shared_data / name).read_bytes() for name in zoo.shared_names()}


def test_data_file_prefers_the_shared_folder(tmp_path, payloads):
    (tmp_path / NAME).parent.mkdir(parents=True)
    (tmp_path / NAME).write_bytes(b"anything")
    assert zoo.data_file(NAME, shared=tmp_path, cache=tmp_path / "cache", download=None) == tmp_path / NAME


def test_data_file_downloads_from_the_pinned_commit_checks_and_caches(tmp_path, payloads):
    calls = []
    got = zoo.data_file(NAME, shared=tmp_path / "none", cache=tmp_path / "cache", download=_fake_download(payloads, calls))
    assert got == tmp_path / "cache" / NAME and hashlib.sha256(got.read_bytes()).hexdigest() == zoo.catalog()[NAME]["sha256"]
    assert calls == ["https://raw.githubusercontent.com/tensorflow/tflite-micro/90b983c2b3f1480642e040bbd2ddb37b998f3424/"
                     "tensorflow/lite/micro/examples/person_detection/testdata/person.bmp"]
    assert stat.S_IMODE(got.stat().st_mode) == 0o666 & ~_umask()  # an ordinary file, not mkstemp's 0600
    again = zoo.data_file(NAME, shared=tmp_path / "none", cache=tmp_path / "cache", download=_fake_download({}, calls))
    assert again == got and len(calls) == 1  # served from the cache, not downloaded again


def test_data_file_refuses_a_wrong_checksum_and_caches_nothing(tmp_path):
    url = zoo.catalog()[NAME]["url"]
    with pytest.raises(zoo.DataError, match="sha256"):
        zoo.data_file(NAME, shared=tmp_path, cache=tmp_path / "cache", download=_fake_download({url: b"not a bmp"}, []))
    assert not (tmp_path / "cache" / NAME).exists()


def test_data_file_replaces_a_corrupt_cached_copy(tmp_path, payloads):
    cached = tmp_path / "cache" / NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated")
    calls = []
    zoo.data_file(NAME, shared=tmp_path, cache=tmp_path / "cache", download=_fake_download(payloads, calls))
    assert len(calls) == 1 and hashlib.sha256(cached.read_bytes()).hexdigest() == zoo.catalog()[NAME]["sha256"]


def _offline(calls):
    def download(url):
        calls.append(url)
        raise OSError("network unreachable")
    return download


def test_offline_failure_is_one_line_naming_the_reason_and_the_fix(tmp_path):
    with pytest.raises(zoo.DataError, match=r"tflm/person.bmp is in neither .*network unreachable.*zoo --fetch.*TINYSHIP_CACHE"):
        zoo.data_file(NAME, shared=tmp_path, cache=tmp_path / "cache", download=_offline([]))


def test_fetch_all_fills_the_cache_once_and_fails_fast_offline(tmp_path, payloads):
    calls, names = [], []
    root = zoo.fetch_all(shared=tmp_path / "none", cache=tmp_path / "cache", download=_fake_download(payloads, calls),
                         progress=names.append)
    assert root == tmp_path / "cache" and names == zoo.shared_names() and len(calls) == len(names)
    assert zoo.fetch_all(shared=tmp_path / "none", cache=root, download=_offline(calls)) == root  # all cached
    assert len(calls) == len(names)
    offline = []
    with pytest.raises(zoo.DataError):
        zoo.fetch_all(shared=tmp_path / "none", cache=tmp_path / "empty", download=_offline(offline))
    assert len(offline) == 1  # stops at the first file, not one network timeout per file


def test_zoo_cli_lists_where_each_file_is(tmp_path):
    env = {**os.environ, "TINYSHIP_CACHE": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "toolchain", "zoo", "--json"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["files"]
    assert [row["file"] for row in rows] == list(zoo.catalog())
    expected = "shared" if zoo.SHARED_DATA.is_dir() else "missing"  # the cache given is empty
    assert {row["where"] for row in rows if row["file"] in zoo.shared_names()} == {expected}
    assert {row["where"] for row in rows if row["file"] not in zoo.shared_names()} <= {"missing"}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
