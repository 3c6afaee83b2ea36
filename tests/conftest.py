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


# --- analyze / model reader (issue 3) ---------------------------------------------------
@_pytest.fixture
def make_tflite():
    """Factory fixture: build a small .tflite flatbuffer (bytes) from a plain spec, for reader edge cases.

    `make_tflite(tensors, ops, inputs, outputs, opcodes=None, buffers=None, subgraphs=None, metadata=None)`:
    tensors: list of dicts {shape, type ("int8"...), buffer (index), scale, zero_point, name, variable};
    ops: list of (opcode index, [inputs], [outputs]) or (opcode index, [inputs], [outputs], options_type, options);
    opcodes: list of (builtin_code, deprecated_builtin_code, version), default [(FULLY_CONNECTED, 9, 1)];
    buffers: list of bytes (buffer 0 is the empty sentinel; default just that);
    subgraphs: extra subgraphs as (tensors, ops, inputs, outputs); metadata: {name: buffer index}.
    """
    import flatbuffers
    import numpy as np
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    types = {k.lower(): v for k, v in vars(s.TensorType).items() if k.isupper()}

    def subgraph(tensors, ops, inputs, outputs):
        sg = s.SubGraphT()
        sg.tensors = []
        for i, spec in enumerate(tensors):
            t = s.TensorT()
            t.shape = list(spec.get("shape", [1]))
            t.type = types[spec.get("type", "int8")]
            t.buffer = spec.get("buffer", 0)
            t.name = spec.get("name", f"t{i}")
            t.isVariable = spec.get("variable", False)
            if "scale" in spec:
                q = s.QuantizationParametersT()
                q.scale = list(np.atleast_1d(spec["scale"]).astype(float))
                q.zeroPoint = list(np.atleast_1d(spec.get("zero_point", 0)).astype(int))
                q.quantizedDimension = spec.get("quantized_dimension", 0)
                t.quantization = q
            sg.tensors.append(t)
        sg.operators = []
        for op_spec in ops:
            op = s.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = op_spec[0], list(op_spec[1]), list(op_spec[2])
            if len(op_spec) > 3:
                op.builtinOptionsType, op.builtinOptions = op_spec[3], op_spec[4]
            sg.operators.append(op)
        sg.inputs, sg.outputs = list(inputs), list(outputs)
        return sg

    def make(tensors, ops, inputs, outputs, opcodes=None, buffers=None, subgraphs=(), metadata=None):
        m = s.ModelT()
        m.version = 3
        m.operatorCodes = []
        for builtin, deprecated, version in opcodes or [(s.BuiltinOperator.FULLY_CONNECTED, 9, 1)]:
            oc = s.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = builtin, deprecated, version
            m.operatorCodes.append(oc)
        m.subgraphs = [subgraph(tensors, ops, inputs, outputs)] + [subgraph(*extra) for extra in subgraphs]
        m.buffers = []
        for data in [b""] + list(buffers or []):
            b = s.BufferT()
            b.data = list(data) if data else None
            m.buffers.append(b)
        if metadata:
            m.metadata = []
            for name, index in metadata.items():
                md = s.MetadataT()
                md.name, md.buffer = name, index
                m.metadata.append(md)
        builder = flatbuffers.Builder(1024)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    return make


# --- shared models and samples (models/zoo.yaml; issue 15) ------------------------------
from toolchain import zoo as _zoo

# Where the shared files are read from: ../shared/data beside the checkout, else the cache
# ($TINYSHIP_CACHE or ~/.cache/tinyship, same layout), filled by `make data` or the fixture below.
SHARED_DATA = _zoo.data_dir()


@_pytest.fixture(scope="session")
def shared_data():
    """SHARED_DATA with every file of models/zoo.yaml in it, fetched once if need be.

    Every test that needs the shared files asks for this fixture (or `kws`, or marks its module
    with usefixtures("shared_data")): without the files and without network each such test is
    skipped with the reason and the fix, instead of failing on a missing file.
    """
    try:
        return _zoo.fetch_all()
    except _zoo.DataError as e:
        _pytest.skip(f"needs the shared models: {e}")


@_pytest.fixture(scope="session")
def kws(shared_data):
    """MLPerf Tiny's keyword-spotting model, the workhorse of the device tests."""
    return shared_data / "mlperf_tiny" / "kws_ref_model.tflite"


# --- firmware (issue 5) ------------------------------------------------------------
@_pytest.fixture(scope="session")
def built_firmware(tmp_path_factory):
    """Factory fixture: `built_firmware(model_path, board, engine="aot") -> (project dir, BuildResult)`.

    Generates and builds each (model, board, engine) once per session (per xdist worker).
    """
    from toolchain import build, generate

    root = tmp_path_factory.mktemp("firmware")
    cache = {}

    def _built(model, board, engine="aot"):
        key = (str(model), board, engine)
        if key not in cache:
            out = root / f"{_Path(model).stem}-{board}-{engine}"
            generate(model, board=board, engine=engine, out_dir=out)
            cache[key] = (out, build(out))
        return cache[key]

    return _built
