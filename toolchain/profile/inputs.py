"""Input samples for profiling: .npy/.npz/.bin files, a folder of them, or random data.

Every sample becomes a list of int8/int16... arrays, one per model input, in the
model's quantized input type: float data is quantized with the input's scale and
zero point, integer data must already have the input's dtype. A `.bin` file is
raw little-endian float32 (as the MLPerf Tiny AD sample). A file may hold one
sample or several stacked along a leading axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.errors import InputError

SUFFIXES = (".npy", ".npz", ".bin")


@dataclass
class Samples:
    arrays: list[list[np.ndarray]]  # per sample, per model input, quantized, input-shaped
    names: list[str]
    source: str
    floats: list[list[np.ndarray]] | None = None  # the float data when the user gave floats
    labels: np.ndarray | None = None


def quantize(x: np.ndarray, tensor) -> np.ndarray:
    """Float data -> the tensor's integer type with its scale and zero point."""
    dtype = np.dtype(tensor.dtype)
    q = tensor.quantization
    if q is None or not q.scale:
        raise InputError(f"input '{tensor.name}' has no quantization parameters, cannot quantize float data",
                         "give integer data of the input's dtype")
    info = np.iinfo(dtype)
    return np.clip(np.round(x / q.scale[0]) + q.zero_point[0], info.min, info.max).astype(dtype)


def dequantize(x: np.ndarray, tensor) -> np.ndarray:
    q = tensor.quantization
    if q is None or not q.scale:
        return x.astype(np.float32)
    return ((x.astype(np.float32) - q.zero_point[0]) * q.scale[0]).astype(np.float32)


def random_samples(model, count: int, seed: int = 0) -> Samples:
    """`count` samples uniformly over each input's integer range (reproducible with `seed`)."""
    if count < 1:
        raise InputError(f"--random needs a positive count, got {count}", "e.g. --random 20")
    rng = np.random.default_rng(seed)
    arrays = [[_random_input(rng, model.main, t) for t in model.main.input_tensors()] for _ in range(count)]
    return Samples(arrays, [f"random{i}" for i in range(count)], f"random {count} (seed {seed})")


def _random_input(rng, sg, tensor) -> np.ndarray:
    """Uniform over an integer input's range; a float input (an int8 model with float I/O) uniform
    over what the QUANTIZE op that reads it can represent, else over [-1, 1]."""
    dtype = np.dtype(tensor.dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=tensor.shape, endpoint=True).astype(dtype)
    lo, hi = -1.0, 1.0
    for op in sg.operators:
        if op.op == "QUANTIZE" and op.inputs[:1] == (tensor.index,):
            out = sg.tensors[op.outputs[0]]
            q, odt = out.quantization, np.dtype(out.dtype)
            if q is not None and q.scale and np.issubdtype(odt, np.integer) and np.isfinite(q.scale[0]):
                info = np.iinfo(odt)
                lo, hi = sorted(((info.min - q.zero_point[0]) * q.scale[0], (info.max - q.zero_point[0]) * q.scale[0]))
            break
    return rng.uniform(lo, hi, size=tensor.shape).astype(dtype)


def load_samples(path: str | Path, model, labels: str | Path | None = None) -> Samples:
    """Samples from a file or a folder of files (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES)
        if not files:
            raise InputError(f"no {'/'.join(SUFFIXES)} files in {path}", "put one sample per file in the folder")
    elif path.is_file():
        files = [path]
    else:
        raise InputError(f"inputs not found: {path}", "give a .npy/.npz/.bin file, a folder of them, or --random N")
    tensors = model.main.input_tensors()
    per_input: list[list[np.ndarray]] = [[] for _ in tensors]
    names: list[str] = []
    file_labels = None
    for f in files:
        arrays, y = _read(f, len(tensors))
        count = None
        for i, (a, t) in enumerate(zip(arrays, tensors)):
            a = _stack(a, t, f)
            count = count or len(a)
            if len(a) != count:
                raise InputError(f"{f}: the inputs hold different numbers of samples", "stack the same count per input")
            per_input[i].extend(a)
        names += [f.stem] if count == 1 else [f"{f.stem}[{j}]" for j in range(count)]
        if y is not None:
            file_labels = np.concatenate([file_labels, y]) if file_labels is not None else y
    floats = None
    if all(np.issubdtype(a.dtype, np.floating) for a in per_input[0]):
        floats = [[per_input[i][j].astype(np.float32) for i in range(len(tensors))] for j in range(len(names))]
    arrays = [[_as_input(per_input[i][j], t, files[0]) for i, t in enumerate(tensors)] for j in range(len(names))]
    if labels is not None:
        file_labels = load_labels(labels)
    if file_labels is not None and len(file_labels) != len(names):
        raise InputError(f"{len(file_labels)} labels for {len(names)} samples", "give one label per sample")
    return Samples(arrays, names, str(path), floats, file_labels)


def _read(f: Path, n_inputs: int) -> tuple[list[np.ndarray], np.ndarray | None]:
    try:
        if f.suffix == ".bin":
            return [np.fromfile(f, dtype="<f4")], None
        data = np.load(f, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {f}: {e}", "give a .npy/.npz array file or raw float32 .bin") from None
    if f.suffix == ".npy":
        return [data], None
    keys = [k for k in data.files if k not in ("y", "labels")]
    if "x" in keys:
        keys = ["x"]
    if len(keys) != n_inputs:
        raise InputError(f"{f} holds arrays {keys}, the model has {n_inputs} input(s)",
                         "store one array per input (or 'x' and optional 'y' labels)")
    y = data["y"] if "y" in data.files else data["labels"] if "labels" in data.files else None
    return [data[k] for k in keys], (np.asarray(y).astype(np.int64).ravel() if y is not None else None)


def _stack(a: np.ndarray, tensor, f: Path) -> np.ndarray:
    """One file's array -> (count, *input shape)."""
    size = int(np.prod(tensor.shape))
    if a.size == 0 or a.size % size:
        raise InputError(f"{f}: {a.size} values do not make whole samples of shape {list(tensor.shape)}",
                         f"each sample needs {size} values")
    return a.reshape((-1, *tensor.shape))


def _as_input(a: np.ndarray, tensor, f: Path) -> np.ndarray:
    if np.issubdtype(a.dtype, np.floating):
        return quantize(a, tensor)
    if a.dtype != np.dtype(tensor.dtype):
        raise InputError(f"{f}: integer data of dtype {a.dtype}, the input '{tensor.name}' is {tensor.dtype}",
                         f"give float data (it is quantized) or {tensor.dtype} data")
    return a


def load_labels(path) -> np.ndarray:
    path = Path(path)
    try:
        if path.suffix in (".npy", ".npz"):
            data = np.load(path, allow_pickle=False)
            data = data[data.files[0]] if path.suffix == ".npz" else data
        else:
            data = np.loadtxt(path, dtype=np.int64, ndmin=1)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read labels {path}: {e}", "give a .npy of integer class ids or a text file") from None
    return np.asarray(data).astype(np.int64).ravel()
