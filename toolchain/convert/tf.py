"""Everything that touches TensorFlow: loading Keras models, fixed-batch export, TFLiteConverter.

Imported only by `toolchain.convert.convert`, so other commands never pay for TensorFlow.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from toolchain import stops  # noqa: E402
from toolchain.convert.data import InputSpec  # noqa: E402
from toolchain.errors import ConvertError, ModelError  # noqa: E402
from toolchain.reference import capture_c_output  # noqa: E402

with capture_c_output(2):  # TensorFlow and Keras log start-up chatter from C++
    import keras
    import tensorflow as tf

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass
class Source:
    """A model ready to be exported with a batch-1 signature."""

    kind: str  # "keras", "tf_keras", "saved_model"
    obj: object  # the Keras model or the loaded SavedModel
    specs: list[InputSpec]
    notes: list[str] = field(default_factory=list)


def load(model) -> Source:
    """Resolve a path or an in-memory Keras model into a `Source`.

    Raises:
        ModelError: missing, unknown or corrupt model.
    """
    if not isinstance(model, (str, os.PathLike)):
        if not hasattr(model, "inputs") or not callable(model):
            raise ModelError(f"a {type(model).__name__} is not a Keras model",
                             "pass a keras.Model or the path of a .keras/.h5 file or SavedModel folder")
        kind = "tf_keras" if type(model).__module__.startswith("tf_keras") else "keras"
        return Source(kind, model, _keras_specs(model))
    path = Path(model)  # exists: checked by convert() before TensorFlow is imported
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise ModelError(f"{path} is a folder without saved_model.pb", "give a .keras/.h5 file or a SavedModel folder")
        return _load_saved_model(path)
    if path.suffix.lower() == ".tflite":
        raise ModelError(f"{path} is already a .tflite model",
                         "convert the Keras model it came from, or use `tinyship export`/`analyze` on it directly")
    if path.suffix.lower() not in KERAS_SUFFIXES:
        raise ModelError(f"{path} is not a Keras model (.keras, .h5) or SavedModel folder", "give the trained Keras model")
    return _load_keras_file(path)


def _load_keras_file(path: Path) -> Source:
    try:
        with capture_c_output(2):
            m = keras.models.load_model(path, compile=False)
        return Source("keras", m, _keras_specs(m))
    except Exception as e:  # noqa: BLE001 - any failure means "try the legacy loader"
        first = e
    if path.suffix.lower() != ".keras":
        try:
            with capture_c_output(2):
                import tf_keras

                m = tf_keras.models.load_model(path, compile=False)
            note = f"{path.name}: Keras 3 cannot load this legacy .h5 ({type(first).__name__}); loaded it with tf-keras"
            return Source("tf_keras", m, _keras_specs(m), [note])
        except Exception:  # noqa: BLE001
            pass
    reason = str(first).strip().splitlines()[0][:160] if str(first).strip() else type(first).__name__
    raise ModelError(f"{path} is not a loadable Keras model ({reason})",
                     "re-save it with model.save('model.keras') from the training script") from None


def _keras_specs(m) -> list[InputSpec]:
    try:
        inputs = list(m.inputs)
    except (AttributeError, ValueError):
        inputs = []
    if not inputs:
        raise ModelError("the Keras model has no defined inputs (it was never built)",
                         "start the model with keras.Input(shape=...) or call it once on data")
    return [_spec(getattr(t, "name", f"input_{i}"), t.shape, t.dtype) for i, t in enumerate(inputs)]


def _spec(name, shape, dtype) -> InputSpec:
    dims = list(tf.TensorShape(shape).as_list())
    if not dims or dims[0] not in (None, 1) or any(d is None for d in dims[1:]):
        raise ModelError(f"input '{name}' has shape {tuple(dims)}; a microcontroller needs a fixed shape with batch 1",
                         "give every input a fixed shape, e.g. keras.Input(shape=(49, 10, 1))")
    dtype = tf.as_dtype(dtype).name
    if dtype != "float32":
        raise ModelError(f"input '{name}' is {dtype}; the converter expects a float32 model input",
                         "cast inputs inside the model after a float32 keras.Input")
    return InputSpec(str(name), (1, *dims[1:]), dtype)


def _load_saved_model(path: Path) -> Source:
    try:
        with capture_c_output(2):
            loaded = tf.saved_model.load(str(path))
        fn = loaded.signatures["serving_default"]
    except (KeyError, OSError, ValueError, tf.errors.OpError) as e:
        raise ModelError(f"{path} is not a loadable SavedModel ({type(e).__name__})",
                         "export it again with model.export(path)") from None
    _, kwargs = fn.structured_input_signature
    specs = [_spec(name, s.shape, s.dtype) for name, s in sorted(kwargs.items())]
    return Source("saved_model", loaded, specs)


def export_fixed(source: Source, out: Path) -> Path:
    """Write `source` as a SavedModel whose signature has the batch-1 input shapes.

    A fixed batch lets the converter fold shapes: one RESHAPE per Flatten and
    dilated CONV_2D without SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND around it.
    """
    sig = [tf.TensorSpec(s.shape, tf.float32, name=n) for s, n in zip(source.specs, signature_names(source.specs))]
    with capture_c_output(2):
        if source.kind == "keras":
            source.obj.export(str(out), format="tf_saved_model", verbose=False,
                              input_signature=sig if len(sig) == 1 else [sig])
            return out
        if source.kind == "tf_keras":
            model = source.obj
            fn = tf.function(lambda *x: model(x[0] if len(x) == 1 else list(x), training=False), input_signature=sig)
            tf.saved_model.save(model, str(out), signatures=fn.get_concrete_function())
            return out
        serving = source.obj.signatures["serving_default"]
        names = [s.name for s in source.specs]  # the loaded signature's own argument names
        fn = tf.function(lambda *x: serving(**dict(zip(names, x))), input_signature=sig)
        module = tf.Module()
        module.loaded = source.obj
        tf.saved_model.save(module, str(out), signatures=fn.get_concrete_function())
    return out


def signature_names(specs: list[InputSpec]) -> list[str]:
    """Unique identifier-like names for the exported signature's inputs, in `specs` order.

    The converter orders the .tflite inputs by these names and calls them
    `serving_default_<name>:0`, so samples are matched to inputs by name, not position.
    """
    names = []
    for i, spec in enumerate(specs):
        name = re.sub(r"\W", "_", spec.name.split(":")[0]) or f"input_{i}"
        names.append(name if name not in names else f"{name}_{i}")
    return names


def to_tflite(saved_model: Path, *, calib=None, io: str = "int8", on_sample=None) -> bytes:
    """Convert a SavedModel: float when `calib` is None, else full-integer INT8 (per-channel weights).

    Args:
        calib: `Samples` for the representative dataset.
        io: "int8" for int8 input/output tensors, "float" to keep float32 I/O.
        on_sample: called with the number of samples fed so far (progress).
    """
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if calib is not None:
        names = signature_names(calib.specs)

        def representative():
            for i, sample in enumerate(calib.samples):
                yield {n: np.asarray(x, np.float32) for n, x in zip(names, sample)}
                if on_sample:
                    on_sample(i + 1)

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        if io == "int8":
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    try:
        with capture_c_output(2) as log:
            result = bytes(conv.convert())
    except Exception as e:  # noqa: BLE001 - the converter raises many unrelated types
        stops.check()  # it may have turned a Ctrl-C or SIGTERM into an error of its own
        lines = [ln for ln in (str(e) + "\n" + log[0]).splitlines() if "error" in ln.lower()]
        detail = (lines[0] if lines else str(e).splitlines()[0] if str(e) else type(e).__name__).strip()[:300]
        raise ConvertError(f"the TFLite converter failed: {detail}",
                           "replace the layer it names with TFLite builtin ops") from None
    stops.check()  # or lost it (raised in a destructor its gc.collect() ran) and went on
    return result


def to_tflite_pair(saved_model: str, calib, io: str) -> tuple[bytes, bytes]:
    """The float and the INT8 conversion of `saved_model`; run by `convert` in a child process
    (toolchain.isolated), which gets the count of calibration samples fed as progress."""
    from toolchain import isolated

    saved = Path(saved_model)
    return to_tflite(saved), to_tflite(saved, calib=calib, io=io, on_sample=isolated.report)
