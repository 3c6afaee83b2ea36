"""Float vs int8 quality on an evaluation set: the numbers of the quantization report.

The int8 model runs in the TFLM interpreter (the oracle the devices are held to),
the float model in LiteRT.
"""

from __future__ import annotations

import numpy as np

from toolchain.errors import CalibrationError
from toolchain.model import Model, Tensor


def quantize(x: np.ndarray, tensor: Tensor) -> np.ndarray:
    """Float -> the dtype of `tensor` with its scale and zero point (identity for float tensors)."""
    if tensor.dtype == "float32" or tensor.quantization is None:
        return np.asarray(x, dtype=tensor.dtype)
    info = np.iinfo(tensor.dtype)
    q = np.round(np.asarray(x, np.float64) / tensor.quantization.scale[0]) + tensor.quantization.zero_point[0]
    return np.clip(q, info.min, info.max).astype(tensor.dtype)


def dequantize(q: np.ndarray, tensor: Tensor) -> np.ndarray:
    if tensor.quantization is None or np.issubdtype(np.asarray(q).dtype, np.floating):
        return np.asarray(q, np.float64)
    scale, zp = tensor.quantization.scale[0], tensor.quantization.zero_point[0]
    return (np.asarray(q, np.float64) - zp) * scale


def ends_in_softmax(model: Model, output: int) -> bool:
    """Whether the op producing model output `output` is SOFTMAX (looking through a DEQUANTIZE)."""
    sg = model.main
    producers = {t: op for op in sg.operators for t in op.outputs}
    op = producers.get(sg.outputs[output])
    if op is not None and op.op == "DEQUANTIZE":
        op = producers.get(op.inputs[0])
    return op is not None and op.op == "SOFTMAX"


def compare(model: Model, float_outs, int8_outs, labels: np.ndarray | None = None) -> list[dict]:
    """Per output: RMSE, max abs error, cosine similarity; top-1 agreement and accuracy for classifiers.

    `float_outs` and `int8_outs` are lists (one per sample) of lists (one per output).
    Labels, if given, score output 0.
    """
    outputs = model.main.output_tensors()
    if labels is not None and (not outputs[0].shape or outputs[0].shape[-1] < 2):
        raise CalibrationError(f"labels were given but output 0 has shape {list(outputs[0].shape)}, not class scores",
                               "give labels only for a classifier (last dimension = number of classes)")
    metrics = []
    for k, tensor in enumerate(outputs):
        f = np.stack([np.asarray(s[k], np.float64).reshape(tensor.shape) for s in float_outs])
        q = np.stack([dequantize(s[k], tensor).reshape(tensor.shape) for s in int8_outs])
        diff = q - f
        norm = np.linalg.norm(f) * np.linalg.norm(q)
        entry = {
            "output": k,
            "name": tensor.name,
            "rmse": float(np.sqrt(np.mean(diff ** 2))),
            "max_abs_error": float(np.max(np.abs(diff))),
            "cosine": float(np.sum(f * q) / norm) if norm > 0 else float(np.array_equal(f, q)),
            "float_range": [float(f.min()), float(f.max())],
        }
        has_labels = labels is not None and k == 0
        if tensor.shape and tensor.shape[-1] > 1 and (has_labels or ends_in_softmax(model, k)):
            ft, qt = f.reshape(len(f), -1, tensor.shape[-1]).argmax(-1), q.reshape(len(q), -1, tensor.shape[-1]).argmax(-1)
            entry["top1_agreement"] = float(np.mean(ft == qt))
            if has_labels:
                y = np.asarray(labels).reshape(len(f), -1)
                entry["float_accuracy"] = float(np.mean(ft == y))
                entry["int8_accuracy"] = float(np.mean(qt == y))
        metrics.append(entry)
    return metrics
