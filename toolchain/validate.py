"""The model checks every generator relies on, run before any file is written.

`load_model` only proves that a file is a readable flatbuffer. `check_model` proves
that its main graph is something firmware can run: inputs and outputs, operators in
an order that computes every tensor before it is read (no cycle, no op writing a
graph input, a constant or another op's output), weights present, sane quantization,
at most 6 dimensions, no empty tensor, nothing over 2 GiB. `tflm_allocates` proves,
in a child process while generate writes the project, that the TFLM reference every
project is validated against reads and allocates the model: the kernels' Prepare
functions refuse more than these checks know of (a bias scale that is not input scale
x weight scale, an unknown weights format, ...).
"""

from __future__ import annotations

import contextlib
import math

from toolchain.errors import DoesNotFitError, ModelError, NotSupportedError
from toolchain.model import Model, Tensor

MAX_RANK = 6  # model_tensor_t.dims and the kernels' broadcast shapes
MAX_TENSOR_BYTES = (1 << 31) - 1  # an int32 byte count; far beyond any board
_ZERO_POINT_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "int4": (-8, 7)}
_FIX = "the model is malformed: re-convert it (tinyship convert) or re-download it"
TFLM_CHECK_TIMEOUT_S = 30.0  # seconds; TFLM allocates in milliseconds, its child process starts in ~0.2 s


def check_model(model: Model) -> Model:
    """Raise ModelError (exit 2), NotSupportedError or DoesNotFitError (exit 3) for what no
    generator can honour; return `model` unchanged otherwise."""
    for i in _used(check_structure(model).main):
        t = model.main.tensors[i]
        if len(t.shape) > MAX_RANK:
            raise NotSupportedError(f"{_name(t)} has {len(t.shape)} dimensions", f"tinyship handles at most {MAX_RANK}")
        if t.nbytes > MAX_TENSOR_BYTES or t.size > MAX_TENSOR_BYTES:
            raise DoesNotFitError(f"{_name(t)} of shape {list(t.shape)} needs {t.nbytes:,} bytes: "
                                  "it does not fit any board", "use a smaller model")
    return model


def check_structure(model: Model) -> Model:
    """The ModelError part of check_model: what makes a model malformed whatever the target
    (what `analyze` needs to describe it)."""
    sg = model.main
    if not sg.inputs or not sg.outputs:
        raise ModelError(f"the main graph has {len(sg.inputs)} input(s) and {len(sg.outputs)} output(s)", _FIX)
    if not sg.operators:
        raise ModelError("the main graph has no operators", _FIX)
    for i in _used(sg):
        _check_tensor(sg.tensors[i])
    _check_order(sg)
    return model


def _used(sg) -> list[int]:
    used = set(sg.inputs) | set(sg.outputs)
    for op in sg.operators:
        used.update(i for i in op.inputs if i >= 0)
        used.update(op.outputs)
    return sorted(used)


def _name(t: Tensor) -> str:
    return f"tensor {t.index} ('{t.name[:60]}')"


def _check_tensor(t: Tensor) -> None:
    what = _name(t)
    if 0 in t.shape:
        raise ModelError(f"{what} has an empty shape {list(t.shape)}", _FIX)
    q = t.quantization
    if q is None or t.dtype.startswith("float"):
        return
    # int32/int64 tensors (biases, axes, shapes) may carry a scale of 0: not quantized values
    smallest = 0.0 if t.dtype in ("int32", "int64") else math.ulp(0.0)
    if any(not math.isfinite(s) or s < smallest for s in q.scale):
        bad = next(s for s in q.scale if not math.isfinite(s) or s < smallest)
        raise ModelError(f"{what} has quantization scale {bad}, scales must be positive and finite", _FIX)
    lo, hi = _ZERO_POINT_RANGE.get(t.dtype, (-(1 << 31), (1 << 31) - 1))
    if any(not lo <= z <= hi for z in q.zero_point):
        bad = next(z for z in q.zero_point if not lo <= z <= hi)
        raise ModelError(f"{what} ({t.dtype}) has zero point {bad} outside [{lo}, {hi}]", _FIX)
    if len(q.zero_point) not in (1, len(q.scale)):
        raise ModelError(f"{what} has {len(q.scale)} scales but {len(q.zero_point)} zero points", _FIX)
    dim = q.quantized_dimension
    if q.per_channel and len(q.scale) != (t.shape[dim] if 0 <= dim < len(t.shape) else t.shape[-1] if t.shape else 1):
        raise ModelError(f"{what} has {len(q.scale)} per-channel scales on dimension {q.quantized_dimension} "
                         f"of shape {list(t.shape)}", _FIX)


def _check_order(sg) -> None:
    """Every tensor an operator reads exists by then; each tensor is written once, never a graph
    input or a constant; every graph output is computed; constant operands have their data."""
    ready = set(sg.inputs)
    written: set[int] = set()
    for k, op in enumerate(sg.operators):
        where = f"operator {k} ({op.op})"
        if not op.outputs or not any(i >= 0 for i in op.inputs):
            raise ModelError(f"{where} has {'no output' if not op.outputs else 'no input'}", _FIX)
        for i in op.inputs:
            if i < 0 or i in ready or sg.tensors[i].is_constant:
                continue
            t = sg.tensors[i]
            if t.is_variable:
                ready.add(i)
            elif i in sg.outputs or any(i in later.outputs for later in sg.operators[k:]):
                raise ModelError(f"{where} reads tensor {i} before it is computed (a cycle, or operators out of order)",
                                 _FIX)
            else:
                raise ModelError(f"{where} reads tensor {i} ('{t.name[:60]}'), which has no data and no producer: "
                                 "the model's weights are missing", _FIX)
        for o in op.outputs:
            t = sg.tensors[o]
            if o in sg.inputs or o in written or t.is_constant:
                kind = "a graph input" if o in sg.inputs else "a constant" if t.is_constant else "already written"
                raise ModelError(f"{where} writes tensor {o} ('{t.name[:60]}'), which is {kind}", _FIX)
            written.add(o)
            ready.add(o)
    for o in sg.outputs:
        if o not in written:
            t = sg.tensors[o]
            raise ModelError(f"graph output tensor {o} ('{t.name[:60]}') is not computed by any operator"
                             + (" (it is a constant)" if t.is_constant else ""), _FIX)


@contextlib.contextmanager
def tflm_allocates(model: Model):
    """Run TFLM's AllocateTensors on `model` in a child process while the block runs; on leaving
    the block, raise ModelError (exit 2) with TFLM's reason if it refused the model."""
    from toolchain import isolated

    with isolated.started("toolchain.validate:_tflm_allocate", model.raw, model_name=model.name,
                          timeout=TFLM_CHECK_TIMEOUT_S) as result:
        yield
        result()


def _tflm_allocate(raw: bytes) -> None:
    """(In the child) read and allocate `raw` as the reference does (its error gives TFLM's reason)."""
    from toolchain.reference import tflm_interpreter

    try:
        tflm_interpreter(raw)
    except ModelError as e:
        raise ModelError(e.message, _FIX) from None
