"""Keras model -> fully INT8 .tflite (+ float .tflite and a quantization report).

`convert` is the only entry point that imports TensorFlow, and only when called.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from toolchain import api_module, isolated
from toolchain.convert import check, quality
from toolchain.convert.data import load_samples
from toolchain.errors import CalibrationError, ConvertError, InputError, ModelError
from toolchain.files import staged_dir
from toolchain.model import Model, Tensor, load_model

# progress(task, done, total): task is "calibrate" or "evaluate"
ProgressFn = Callable[[str, int, int], None]

# TensorFlow's converter runs in a child process (toolchain.isolated): its calibrator crashes
# on some models (measured: SIGSEGV on a Keras LSTM(8) over 20 steps, TF 2.x), which would
# otherwise end tinyship without a word. Large models take minutes; an hour is a hang.
CONVERT_TIMEOUT_S = 3600.0
CONVERTER_CRASH_FIX = ("a TensorFlow bug triggered by one of the model's layers: replace unusual layers "
                       "(an LSTM or GRU: try unroll=True) and convert again")


@dataclass
class ConvertResult:
    tflite_path: Path
    float_path: Path
    report_path: Path
    report: dict

    @property
    def notes(self) -> list[str]:
        return self.report["notes"]


def convert(model, out_dir, *, calib=None, eval_data=None, labels=None, io: str = "int8", name: str | None = None,
            calib_key: str | None = None, allow_float_ops: bool = False, progress: ProgressFn | None = None
            ) -> ConvertResult:
    """Convert a Keras model to a fully INT8 TFLite model with a fixed batch of 1.

    Args:
        model: path of a .keras/.h5 file or SavedModel folder, or an in-memory Keras model.
        out_dir: folder that receives NAME.tflite, NAME_float.tflite and NAME_quant_report.json.
        calib: calibration samples: .npy/.npz path, folder of .npy samples, array, iterable of
            samples, or "random" (poor quality; flagged in the report).
        eval_data: samples to measure float vs int8 on, in the same forms (default: `calib`).
        labels: integer class ids (.npy path or array) for `eval_data`, to report accuracy.
        io: "int8" (int8 input/output tensors) or "float" (float I/O with QUANTIZE/DEQUANTIZE).
        name: base name of the outputs (default: the model file name, or "model").
        calib_key: which array of a .npz to use (default: the first).
        allow_float_ops: keep ops the converter left in float instead of failing.
        progress: callback for progress bars.

    Raises:
        InputError / ModelError / CalibrationError (exit 2), ConvertError (exit 3).
    """
    if io not in ("int8", "float"):
        raise InputError(f"unknown I/O type {io!r}", "use io='int8' or io='float'")
    name = name or (_stem(model) if isinstance(model, (str, os.PathLike)) else "model")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise InputError(f"name {name!r} is not usable as a file name", "use letters, digits, '_', '-' or '.'")
    if isinstance(model, (str, os.PathLike)) and not os.path.exists(model):
        raise ModelError(f"model not found: {model}", "check the path")
    if calib is None:
        raise CalibrationError(
            "calibration data is required: int8 quantization fixes each tensor's range from real inputs, "
            "and ranges guessed without them clip or waste the 256 int8 levels",
            "pass 100-500 representative training inputs (--calib samples.npy), or --calib random for a "
            "throw-away model")
    report_progress = progress or (lambda *_: None)

    with isolated.warmed("toolchain.convert.tf", model_name=name, timeout=CONVERT_TIMEOUT_S,
                         what="the TFLite converter", error=ConvertError, fix=CONVERTER_CRASH_FIX,
                         progress=lambda n: report_progress("calibrate", n, len(calib_set))) as converter:
        from toolchain.convert import tf as tfc  # TensorFlow from here on (and meanwhile in the converter's child)

        source = tfc.load(model)
        calib_set = load_samples(calib, source.specs, key=calib_key, what="calibration")
        eval_set = calib_set if eval_data is None else load_samples(eval_data, source.specs, what="evaluation")
        label_ids = _labels(labels, len(eval_set)) if labels is not None else None
        with tempfile.TemporaryDirectory(prefix="tinyship-convert-") as tmp:
            saved = tfc.export_fixed(source, Path(tmp) / "saved_model")
            float_bytes, int8_bytes = converter("to_tflite_pair", str(saved), calib_set, io)
    int8_model, float_model = load_model(int8_bytes), load_model(float_bytes)
    lacking = check.ops_tflm_lacks(int8_model)
    if lacking:
        raise ConvertError(f"TFLM has no kernel for {check.describe(lacking)}",
                           "replace those layers (an UpSampling2D by Resizing(h, w, interpolation='nearest')) "
                           "so that TFLM and the devices can run the model")
    floats = check.float_ops(int8_model)
    if floats and not allow_float_ops:
        raise ConvertError(f"{len(floats)} op(s) stayed in float: {check.describe(floats)}",
                           "replace those layers with int8-capable ones, or pass --allow-float-ops")

    names = tfc.signature_names(source.specs)
    metrics = _evaluate(int8_model, float_model, eval_set, names, label_ids, report_progress)
    report = _report(name, model, source, io, calib_set, eval_set, int8_model, float_model, floats, metrics)
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as stage:
        (stage / f"{name}.tflite").write_bytes(int8_bytes)
        (stage / f"{name}_float.tflite").write_bytes(float_bytes)
        (stage / f"{name}_quant_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return ConvertResult(out_dir / f"{name}.tflite", out_dir / f"{name}_float.tflite",
                         out_dir / f"{name}_quant_report.json", report)


def _stem(path) -> str:
    p = Path(path)
    return re.sub(r"[^A-Za-z0-9_.-]", "_", p.name if p.is_dir() else p.stem)


def _labels(labels, count: int) -> np.ndarray:
    if isinstance(labels, (str, os.PathLike)):
        try:
            labels = np.load(labels, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise CalibrationError(f"cannot read labels {labels}: {type(e).__name__}",
                                   "save integer class ids with numpy.save") from None
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape[0:1] != (count,):
        raise CalibrationError(f"labels are {labels.dtype} of shape {labels.shape}; need {count} integer class ids",
                               "give one int class id per evaluation sample")
    return labels


def _input_order(model: Model, names: list[str]) -> list[int]:
    """For each model input, the index of its array in a sample (matched by signature name)."""
    by_name = {f"serving_default_{n}:0": i for i, n in enumerate(names)}
    order = [by_name.get(t.name) for t in model.main.input_tensors()]
    return order if sorted(order, key=str) == list(range(len(names))) else list(range(len(names)))


def _evaluate(int8_model: Model, float_model: Model, eval_set, names, labels, progress) -> list[dict]:
    from toolchain.reference import isolated

    n = len(eval_set)
    int8_inputs = int8_model.main.input_tensors()
    int8_order, float_order = _input_order(int8_model, names), _input_order(float_model, names)

    quantized = [[quality.quantize(s[j], t) for j, t in zip(int8_order, int8_inputs)] for s in eval_set.samples]
    float_outs = isolated("litert_run", float_model, [[s[j] for j in float_order] for s in eval_set.samples],
                          what="LiteRT")
    int8_outs = isolated("tflm_run", int8_model, quantized, progress=lambda done: progress("evaluate", done, n))
    return quality.compare(int8_model, float_outs, int8_outs, labels)


def _tensor_info(t: Tensor) -> dict:
    q = t.quantization
    return {"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
            "scale": q.scale[0] if q else None, "zero_point": q.zero_point[0] if q else None}


def _report(name, model, source, io, calib_set, eval_set, int8_model, float_model, floats, metrics) -> dict:
    warnings = []
    if calib_set.random:
        warnings.append("calibrated on random data: activation ranges are guesses, expect poor int8 accuracy")
    dynamic = check.dynamic_shape_ops(int8_model)
    if dynamic:
        warnings.append(f"the graph computes shapes at run time ({', '.join(dynamic)})")
    if floats:
        warnings.append(f"ops left in float: {check.describe(floats)}")
    return {
        "name": name,
        "source": str(model) if isinstance(model, (str, os.PathLike)) else "in-memory Keras model",
        "loader": source.kind,
        "io": io,
        "size": {"float_bytes": float_model.size, "int8_bytes": int8_model.size,
                 "ratio": round(float_model.size / int8_model.size, 3)},
        "crc32": f"0x{int8_model.crc32:08x}",
        "calibration": {"source": calib_set.source, "samples": len(calib_set), "random": calib_set.random},
        "evaluation": {"source": eval_set.source, "samples": len(eval_set)},
        "inputs": [_tensor_info(t) for t in int8_model.main.input_tensors()],
        "outputs": [_tensor_info(t) for t in int8_model.main.output_tensors()],
        "ops": dict(Counter(op.op for op in int8_model.main.operators)),
        "float_ops": floats,
        "metrics": metrics,
        "notes": list(source.notes),
        "warnings": warnings,
    }


api_module(__name__)
