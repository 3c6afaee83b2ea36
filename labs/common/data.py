"""Find the shared models and samples, or fetch them from their public upstream.

Every file is named by its path under `shared/data/` (e.g. "tflm/person.bmp") and
listed, with its upstream and sha256, in `models/zoo.yaml`. Lookup order:
  1. `<repo>/../shared/data/<file>` (resolved from this file, not the working folder);
  2. `~/.cache/tinyship/<file>` (or `$TINYSHIP_CACHE`), if its sha256 matches;
  3. a download from the raw GitHub URL at the pinned commit, checked, then cached.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from functools import lru_cache
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
ZOO = REPO_ROOT / "models" / "zoo.yaml"
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


class DataError(RuntimeError):
    """A data file is neither shared, cached nor downloadable with the right checksum."""


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict]:
    """`file -> {"url", "sha256"}` for every model and sample in models/zoo.yaml that has a file."""
    zoo = yaml.safe_load(ZOO.read_text())
    entries = {}
    for item in zoo["models"] + zoo["samples"]:
        if "file" in item:
            src = zoo["sources"][item["source"]]
            url = RAW_URL.format(repo=src["repo"], commit=src["commit"], path=item["path"])
            entries[item["file"]] = {"url": url, "sha256": item["sha256"]}
    return entries


def cache_dir() -> Path:
    return Path(os.environ.get("TINYSHIP_CACHE", Path.home() / ".cache" / "tinyship"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_file(name: str, *, shared: Path = SHARED_DATA, cache: Path | None = None, download=None) -> Path:
    """The local path of shared file `name`, fetching it into the cache if needed.

    `download(url) -> bytes` defaults to urllib; it is a parameter so the caching
    logic can be exercised offline.
    """
    if name not in catalog():
        raise DataError(f"unknown data file {name!r}; known: {', '.join(sorted(catalog()))}")
    entry = catalog()[name]
    local = shared / name
    if local.is_file():
        return local
    cached = (cache or cache_dir()) / name
    if cached.is_file() and sha256(cached) == entry["sha256"]:
        return cached
    try:
        data = (download or _download)(entry["url"])
    except OSError as e:
        raise DataError(f"{name} is not in {shared} and could not be downloaded from {entry['url']} ({e}); "
                        f"copy it to {cached}") from None
    got = hashlib.sha256(data).hexdigest()
    if got != entry["sha256"]:
        raise DataError(f"{entry['url']} has sha256 {got}, expected {entry['sha256']}; not cached")
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(cached.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, cached)
    return cached


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()
