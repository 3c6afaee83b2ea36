# --- convert (issue 2) -----------------------------------------------------------
import hashlib as _hashlib
import os as _os

import pytest as _pytest

# TensorFlow reads these when it starts: keep conversions to one core each (2 cores shared).
_os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
_os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@_pytest.fixture(scope="session")
def convert_keras(tmp_path_factory):
    """Factory fixture: `convert_keras(model, calib, **convert_kwargs) -> Path` of the INT8 .tflite.

    `model` is an in-memory Keras model (or a model path); `calib` an array of N samples
    shaped (N, *input shape without batch), or any other `toolchain.convert` calib form.
    Extra keyword arguments go to `toolchain.convert.convert` (e.g. io="float").
    Results are cached for the session, keyed by the model's config and weights and the
    calibration data, so converting the same model twice costs nothing.
    """
    import numpy as np

    from toolchain.convert import convert

    root = tmp_path_factory.mktemp("convert_keras")
    cache = {}

    def _convert(model, calib, **kwargs):
        h = _hashlib.sha256()
        if isinstance(model, (str, _os.PathLike)):
            h.update(str(model).encode())
        else:
            h.update(model.to_json().encode())
            for w in model.get_weights():
                h.update(np.ascontiguousarray(w).tobytes())
        h.update(np.ascontiguousarray(calib).tobytes() if isinstance(calib, np.ndarray) else repr(calib).encode())
        h.update(repr(sorted(kwargs.items())).encode())
        key = h.hexdigest()[:16]
        if key not in cache:
            cache[key] = convert(model, root / key, calib=calib, name="model", **kwargs).tflite_path
        return cache[key]

    return _convert


# --- labs and models (issue 7) ----------------------------------------------------
import sys as _sys
from pathlib import Path as _Path

# labs/ and models/ are script folders, not installed packages: make `labs.common` and
# `models.digits.train` importable from the repo root.
_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))
