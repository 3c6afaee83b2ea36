"""Calibration and evaluation samples: loading and checking against the model inputs.

No TensorFlow here. A sample is a list with one float32 array per model input,
shaped like that input (batch dimension 1 included).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.errors import CalibrationError

RANDOM = "random"
RANDOM_SAMPLES = 100


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]  # batch dimension first, always 1
    dtype: str


@dataclass
class Samples:
    samples: list[list[np.ndarray]]  # in the order of `specs`
    specs: list[InputSpec]
    source: str  # where they came from, for the report
    random: bool = False

    def __len__(self) -> int:
        return len(self.samples)


def load_samples(source, specs: list[InputSpec], *, key: str | None = None, what: str = "calibration") -> Samples:
    """Load `source` (.npy, .npz, folder of .npy, array, iterable, or "random") as samples for `specs`.

    Raises:
        CalibrationError: unreadable data, or a shape or dtype that does not match the model input.
    """
    if isinstance(source, str) and source == RANDOM:
        rng = np.random.default_rng(0)
        samples = [[rng.standard_normal(s.shape).astype(np.float32) for s in specs] for _ in range(RANDOM_SAMPLES)]
        return Samples(samples, specs, RANDOM, random=True)
    if isinstance(source, (str, Path)):
        path = Path(source)
        return Samples(_split(_read_path(path, key, what), specs, f"{what} data {path}"), specs, str(path))
    if isinstance(source, np.ndarray):
        return Samples(_split(source, specs, f"{what} array"), specs, "array")
    try:
        items = list(source)
    except TypeError:
        raise CalibrationError(f"{what} data of type {type(source).__name__} is not usable",
                               "give a .npy/.npz file, a folder of .npy samples, an array or an iterable of samples") from None
    samples = []
    for i, item in enumerate(items):
        arrays = list(item) if isinstance(item, (list, tuple)) else [item]
        if len(arrays) != len(specs):
            raise CalibrationError(f"{what} sample {i} has {len(arrays)} arrays but the model has {len(specs)} inputs",
                                   "give one array per model input in each sample")
        samples.append([_one(a, s, f"{what} sample {i}") for a, s in zip(arrays, specs)])
    if not samples:
        raise CalibrationError(f"the {what} iterable is empty", "give at least one sample (100-500 is typical)")
    return Samples(samples, specs, "iterable")


def _read_path(path: Path, key: str | None, what: str) -> np.ndarray:
    if not path.exists():
        raise CalibrationError(f"{what} data not found: {path}", "check the path")
    try:
        if path.is_dir():
            files = sorted(path.glob("*.npy"))
            if not files:
                raise CalibrationError(f"{what} folder {path} holds no .npy files", "put one sample per .npy file in it")
            return np.stack([np.load(f, allow_pickle=False) for f in files])
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if not z.files:
                    raise CalibrationError(f"{what} archive {path} is empty", "save the samples into it with np.savez")
                if key is not None and key not in z.files:
                    raise CalibrationError(f"{what} archive {path} has no array {key!r} (it has {', '.join(z.files)})",
                                           "pass one of those names as the key")
                return z[key if key is not None else z.files[0]]
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
    except CalibrationError:
        raise
    except (ValueError, OSError, EOFError) as e:
        raise CalibrationError(f"cannot read {what} data {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
                               "save it with numpy.save / numpy.savez") from None
    raise CalibrationError(f"{what} data {path} is not a .npy, .npz or folder of .npy files",
                           "save the samples with numpy.save (N x input shape)")


def _split(array: np.ndarray, specs: list[InputSpec], what: str) -> list[list[np.ndarray]]:
    """An (N, *input shape without batch) array -> N samples of a single-input model."""
    if len(specs) != 1:
        raise CalibrationError(f"the model has {len(specs)} inputs but {what} is a single array",
                               "pass an iterable of samples from Python, each a list with one array per input")
    spec = specs[0]
    feature = spec.shape[1:]
    _check_dtype(array, spec, what)
    if array.ndim == len(feature) + 2 and array.shape[1] == 1:
        array = array[:, 0]
    if tuple(array.shape[1:]) != feature or array.shape[0] == 0:
        raise CalibrationError(
            f"{what} has shape {tuple(array.shape)} but input '{spec.name}' needs (N, {', '.join(map(str, feature))})",
            "reshape the data to N samples of the model's input shape")
    return [[np.asarray(a, dtype=np.float32).reshape(spec.shape)] for a in array]


def _one(array, spec: InputSpec, what: str) -> np.ndarray:
    array = np.asarray(array)
    _check_dtype(array, spec, what)
    if array.size != int(np.prod(spec.shape)) or array.shape not in (spec.shape, spec.shape[1:]):
        raise CalibrationError(f"{what} has shape {tuple(array.shape)} but input '{spec.name}' is {spec.shape}",
                               "give each sample in the model's input shape")
    return array.astype(np.float32).reshape(spec.shape)


def _check_dtype(array: np.ndarray, spec: InputSpec, what: str) -> None:
    if not np.issubdtype(array.dtype, np.floating):
        raise CalibrationError(f"{what} has dtype {array.dtype} but input '{spec.name}' is {spec.dtype}",
                               "give float samples preprocessed exactly as for training (e.g. x.astype('float32') / 255)")
