"""Host reference interpreters: TFLM (the oracle for int8) and LiteRT (float models).

The TFLM Python interpreter (`tflite_micro`) is what device outputs and the aot
engine are compared against, byte for byte. LiteRT differs from TFLM by +-1 on
some int8 outputs, so it is used only for float models.

`isolated` runs any of these in a child process with a deadline (`toolchain.isolated`):
profile, emulate and deploy use it, so a model that crashes or hangs the C++
interpreter ends in exit 2 naming the model, not in a dead tinyship.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

from toolchain.errors import ModelError

REFERENCE_TIMEOUT_S = 120.0  # seconds for one isolated reference run (TFLM takes ms per sample)


def _model_bytes(model) -> bytes:
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    if hasattr(model, "raw"):
        return model.raw
    return Path(model).read_bytes()


def tflm_interpreter(model, arena_size: int | None = None):
    """A TFLM interpreter for `model` (path, bytes or `toolchain.model.Model`).

    Raises:
        ModelError: TFLM refuses the model; the message gives TFLM's reason (its log), e.g.
            "Didn't find op for builtin opcode 'TILE'" (Keras 3's UpSampling2D converts to TILE).
    """
    from tflite_micro.python.tflite_micro import runtime

    model = _as_model(model)
    with capture_c_output(2) as log:
        try:
            return runtime.Interpreter.from_bytes(model.raw, arena_size=arena_size or _arena_size(model))
        except RuntimeError as e:
            error = (str(e).strip().splitlines() or [type(e).__name__])[0]
    reason = "; ".join(line.strip().rstrip(".") for line in log[0].splitlines() if line.strip())[:300]
    raise ModelError(f"TFLM cannot allocate the model ({reason or error})",
                     "TFLM, the reference devices are checked against, must run it: replace the layer behind the op "
                     "it names, or re-convert the model (tinyship convert)")


def _arena_size(model) -> int:
    """Bytes of arena for the host TFLM: 10x the model (its tail), at least 1 MiB, plus room for every
    activation at once, so that a model with large activations and few weights runs too."""
    activations = sum(t.nbytes for sg in model.subgraphs for t in sg.tensors if not t.is_constant)
    return max(len(model.raw) * 10, 1 << 20) + activations


def tflm_invoke(model, inputs, interpreter=None) -> list[np.ndarray]:
    """Run one inference; `inputs` is a list with one array per model input (already quantized).

    Returns one array per model output, shaped as the model declares.
    """
    model = _as_model(model)
    it = interpreter or tflm_interpreter(model)
    for i, x in enumerate(inputs):
        it.set_input(np.ascontiguousarray(x), i)
    it.invoke()
    return [np.array(it.get_output(i), copy=True) for i in range(len(model.main.outputs))]


def tflm_run(model, samples) -> list[list[np.ndarray]]:
    """Run several inferences (`samples`: iterable of input lists) on one interpreter.
    In an isolated child, each one done is `report`ed to the parent."""
    from toolchain.isolated import report

    model = _as_model(model)  # read and parsed once, not per sample
    it = tflm_interpreter(model)
    results = []
    for sample in samples:
        results.append(tflm_invoke(model, sample, interpreter=it))
        report(len(results))
    return results


def tflm_layer_outputs(model, sample) -> list[np.ndarray]:
    """The first output of every operator when TFLM runs `sample` (all tensors preserved)."""
    from tflite_micro.python.tflite_micro import runtime

    model = _as_model(model)
    it = runtime.Interpreter.from_bytes(model.raw, arena_size=_arena_size(model),
                                        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    for i, x in enumerate(sample):
        it.set_input(np.ascontiguousarray(x), i)
    it.invoke()
    return [np.array(it.GetTensor(op.outputs[0], 0)["tensor_data"], copy=True) for op in model.main.operators]


def isolated(func: str, model, *args, timeout: float = REFERENCE_TIMEOUT_S, what: str = "the TFLM interpreter",
             progress=None):
    """`func(model bytes, *args)` (a function of this module) in a child process; `progress(done)`
    gets the count of inferences done (`tflm_run`) while it runs.

    Raises:
        ModelError: the interpreter crashed, failed or ran past `timeout` s on the model (exit 2).
    """
    from toolchain import isolated as child

    name = getattr(model, "name", None) or (Path(model).name if isinstance(model, (str, Path)) else "model")
    return child.call(f"toolchain.reference:{func}", _model_bytes(model), *args, model_name=name, timeout=timeout,
                      what=what, progress=progress)


def _as_model(model):
    from toolchain.model import Model, load_model

    return model if isinstance(model, Model) else load_model(model)


def litert_run(model, samples) -> list[list[np.ndarray]]:
    """Run a (float or int8) model through LiteRT; `samples` as for `tflm_run`."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=_model_bytes(model))
    it.allocate_tensors()
    ins, outs = it.get_input_details(), it.get_output_details()
    results = []
    for sample in samples:
        for d, x in zip(ins, sample):
            it.set_tensor(d["index"], np.asarray(x, dtype=d["dtype"]).reshape(d["shape"]))
        it.invoke()
        results.append([it.get_tensor(d["index"]).copy() for d in outs])
    return results


@contextlib.contextmanager
def capture_c_output(fd: int = 1):
    """Capture what C code writes to file descriptor `fd` (TFLM's allocation report).

    Yields a one-element list that holds the captured text after the block.
    """
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(fd)
    box = [""]
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield box
        finally:
            try:
                import ctypes

                ctypes.CDLL(None).fflush(None)
            except OSError:
                pass
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            box[0] = tmp.read().decode("utf-8", "replace")
