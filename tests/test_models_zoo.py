"""The model zoo index (models/zoo.yaml) against the shared files, and the example training scripts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import SHARED_DATA as SHARED
from toolchain.model import load_model

ROOT = Path(__file__).resolve().parents[1]
ZOO = yaml.safe_load((ROOT / "models" / "zoo.yaml").read_text())
FILES = [e for e in ZOO["models"] + ZOO["samples"] if "file" in e]
SHARED_FILES = [e for e in FILES if e.get("shared", True)]  # shared: false = only fetched into the cache


def test_every_entry_names_its_task_source_licence_and_input():
    names = [m["name"] for m in ZOO["models"]]
    assert len(names) == len(set(names))
    for m in ZOO["models"]:
        assert m["task"] and m["source"] in ZOO["sources"], m["name"]
        assert ZOO["sources"][m["source"]]["licence"] == "Apache-2.0"
        assert m["input"]["shape"] and m["input"]["dtype"], m["name"]
        if m["source"] == "tinyship":
            assert (ROOT / m["path"]).is_file(), m["path"]
    for s in ZOO["samples"]:
        assert s["model"] in names, s["file"]


@pytest.mark.skipif(not (SHARED / "SHA256SUMS").is_file(), reason=f"needs {SHARED}/SHA256SUMS (the shared folder's "
                    "published checksums); a cache filled by `tinyship zoo --fetch` has none")
def test_zoo_covers_every_shared_file_with_its_published_sha256():
    sums = dict(reversed(line.split()) for line in (SHARED / "SHA256SUMS").read_text().splitlines() if line.strip())
    assert {e["file"] for e in SHARED_FILES} == set(sums)
    for e in SHARED_FILES:
        assert e["sha256"] == sums[e["file"]], e["file"]


@pytest.mark.usefixtures("shared_data")
@pytest.mark.parametrize("entry", SHARED_FILES, ids=[e["file"] for e in SHARED_FILES])
def test_shared_file_exists_with_its_sha256(entry):
    assert hashlib.sha256((SHARED / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]


@pytest.mark.usefixtures("shared_data")
@pytest.mark.parametrize("m", [m for m in ZOO["models"] if m.get("file", "").endswith(".tflite")], ids=lambda m: m["name"])
def test_tflite_input_and_output_specs_match_the_model(m):
    from toolchain.zoo import cache_dir

    path = SHARED / m["file"] if m.get("shared", True) else cache_dir() / m["file"]
    if not path.is_file():
        pytest.skip(f"{m['file']} is not in the cache (tinyship zoo --fetch)")
    graph = load_model(path).main
    (inp,), (out,) = graph.input_tensors(), graph.output_tensors()
    assert [list(inp.shape), inp.dtype] == [m["input"]["shape"], m["input"]["dtype"]]
    assert [list(out.shape), out.dtype] == [m["output"]["shape"], m["output"]["dtype"]]


@pytest.mark.usefixtures("shared_data")
def test_ad01_h5_input_spec_matches_its_keras_config():
    import h5py

    entry = next(m for m in ZOO["models"] if m["name"] == "ad01")
    with h5py.File(SHARED / entry["file"], "r") as f:
        layers = json.loads(f.attrs["model_config"])["config"]["layers"]
    assert layers[0]["config"]["batch_input_shape"][1:] == entry["input"]["shape"][1:]
    assert layers[-1]["config"]["units"] == entry["output"]["shape"][1]


@pytest.mark.slow
def test_digits_training_is_deterministic_and_writes_its_outputs(tmp_path):
    import keras

    from models.digits.train import train

    weights = []
    for run in ("a", "b"):
        path = train(tmp_path / run, epochs=1)
        assert {p.name for p in path.parent.iterdir()} == {"digits.keras", "calib.npy", "test.npz"}
        weights.append(keras.models.load_model(path).get_weights())
    assert all(np.array_equal(x, y) for x, y in zip(*weights))
    test = np.load(tmp_path / "a" / "test.npz")
    assert test["x"].shape == (360, 8, 8, 1) and set(test["y"]) == set(range(10))
