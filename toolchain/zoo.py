"""The shared models and samples (models/zoo.yaml): find them, or fetch them from their public upstream.

Every file is named by its path under `shared/data/` (e.g. "tflm/person.bmp") and listed,
with its upstream and sha256, in `models/zoo.yaml`. Lookup order for one file:
  1. `<repo>/../shared/data/<file>` (resolved from this package, not the working folder);
  2. `$TINYSHIP_CACHE/<file>` (default `~/.cache/tinyship/<file>`), if its sha256 matches;
  3. a download from the raw GitHub URL at the pinned commit, checked, then cached.
The cache has the layout of the shared folder, so a copy of that folder can serve as the cache.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import yaml

from toolchain.errors import ToolchainError
from toolchain.files import atomic_write

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
ZOO = REPO_ROOT / "models" / "zoo.yaml"
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


class DataError(ToolchainError):
    """A data file is neither shared, cached nor downloadable with the right checksum."""

    exit_code = 4


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict]:
    """`file -> {"url", "sha256"}` for every model and sample in models/zoo.yaml that has a file."""
    zoo = yaml.safe_load(ZOO.read_text())
    entries = {}
    for item in zoo["models"] + zoo["samples"]:
        if "file" in item:
            src = zoo["sources"][item["source"]]
            url = RAW_URL.format(repo=src["repo"], commit=src["commit"], path=item["path"])
            entries[item["file"]] = {"url": url, "sha256": item["sha256"], "shared": item.get("shared", True)}
    return entries


def shared_names() -> list[str]:
    """The catalog files of the shared folder (the others, `shared: false`, are benchmark models
    fetched into the cache when first used)."""
    return [name for name, entry in catalog().items() if entry["shared"]]


def cache_dir() -> Path:
    return Path(os.environ.get("TINYSHIP_CACHE") or Path.home() / ".cache" / "tinyship")


def data_dir(shared: Path = SHARED_DATA, cache: Path | None = None) -> Path:
    """The one folder the files are read from: the shared folder when there is one, else the cache."""
    return shared if shared.is_dir() else (cache or cache_dir())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_file(name: str, *, shared: Path = SHARED_DATA, cache: Path | None = None,
              download: Callable[[str], bytes] | None = None,
              progress: Callable[[str], None] = lambda name: None) -> Path:
    """The local path of shared file `name`, fetching it into the cache if needed.

    `download(url) -> bytes` defaults to urllib; it is a parameter so the caching
    logic can be exercised offline. `progress(name)` is called before a download.
    """
    entry = _entry(name)
    local = shared / name
    if local.is_file():
        return local
    cache = cache or cache_dir()
    cached = cache / name
    if cached.is_file() and sha256(cached) == entry["sha256"]:
        return cached
    progress(name)
    try:
        data = (download or _download)(entry["url"])
    except OSError as e:
        raise DataError(f"{name} is in neither {shared} nor {cache}, "
                        f"and downloading it failed ({getattr(e, 'reason', e)})",
                        "go online and run `tinyship zoo --fetch` (or `make data`), or set TINYSHIP_CACHE to a folder "
                        "holding the files (laid out as shared/data: tflm/..., mlperf_tiny/...)") from None
    got = hashlib.sha256(data).hexdigest()
    if got != entry["sha256"]:
        raise DataError(f"{entry['url']} has sha256 {got}, expected {entry['sha256']}; not cached")
    return atomic_write(cached, data)


def fetch_all(*, shared: Path = SHARED_DATA, cache: Path | None = None,
              download: Callable[[str], bytes] | None = None,
              progress: Callable[[str], None] = lambda name: None) -> Path:
    """Make `data_dir()` hold every shared catalog file (downloading what the cache lacks); return it.

    Stops at the first file that cannot be had (DataError), so an offline machine fails once, fast.
    """
    root = data_dir(shared, cache)
    if root != shared:
        for name in shared_names():
            data_file(name, shared=shared, cache=root, download=download, progress=progress)
    return root


def status(shared: Path = SHARED_DATA, cache: Path | None = None) -> list[dict]:
    """Where each catalog file is: {"file", "where": "shared" | "cache" | "missing", "path"}."""
    cache = cache or cache_dir()
    rows = []
    for name, entry in catalog().items():
        if (shared / name).is_file():
            rows.append({"file": name, "where": "shared", "path": shared / name})
        elif (cache / name).is_file() and sha256(cache / name) == entry["sha256"]:
            rows.append({"file": name, "where": "cache", "path": cache / name})
        else:
            rows.append({"file": name, "where": "missing", "path": None, "url": entry["url"]})
    return rows


def _entry(name: str) -> dict:
    if name not in catalog():
        raise DataError(f"unknown data file {name!r}", f"use one of: {', '.join(sorted(catalog()))}")
    return catalog()[name]


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()
