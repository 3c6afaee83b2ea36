"""Checks on a converted model: every op int8, and the static batch-1 graph a microcontroller runs."""

from __future__ import annotations

from toolchain.model import Model

# What the converter emits for a dynamic batch (Flatten) or an unfolded dilation.
DYNAMIC_SHAPE_OPS = ("SHAPE", "STRIDED_SLICE", "PACK", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND")
_FLOAT = ("float32", "float16", "float64")


def float_ops(model: Model) -> list[dict]:
    """Ops that compute in float. QUANTIZE on a float model input and DEQUANTIZE on a
    model output are the edges of a float-I/O model, not float compute."""
    sg = model.main
    found = []
    for op in sg.operators:
        ins = [sg.tensors[i] for i in op.inputs if i >= 0]
        outs = [sg.tensors[i] for i in op.outputs]
        if op.op == "QUANTIZE" and all(t.dtype not in _FLOAT for t in outs):
            continue
        if op.op == "DEQUANTIZE" and all(t.dtype not in _FLOAT for t in ins):
            continue
        if any(t.dtype in _FLOAT for t in ins + outs):
            found.append(_entry(model, op))
    return found


def ops_tflm_lacks(model: Model) -> list[dict]:
    """Ops TFLM has no kernel for (e.g. TILE, which Keras 3's UpSampling2D becomes): the reference
    every device is checked against could not run the model."""
    from toolchain.engines import TFLM_RESOLVER_METHODS

    return [_entry(model, op) for op in model.main.operators if op.op not in TFLM_RESOLVER_METHODS]


def _entry(model: Model, op) -> dict:
    outs = [model.main.tensors[i] for i in op.outputs]
    layer = model.keras_layer(outs[0].name) if outs else None
    return {"index": op.index, "op": op.op, "layer": layer or (outs[0].name if outs else "?")}


def dynamic_shape_ops(model: Model) -> list[str]:
    """The run-time shape ops of the graph. A STRIDED_SLICE of data (Cropping2D, tensor slicing)
    is not one: only a slice of an int32 shape (what a dynamic Flatten computes) is."""
    found = [op.op for sg in model.subgraphs for op in sg.operators if op.op in DYNAMIC_SHAPE_OPS and
             (op.op != "STRIDED_SLICE" or sg.tensors[op.inputs[0]].dtype == "int32")]
    return list(dict.fromkeys(found))


def describe(ops: list[dict]) -> str:
    return ", ".join(dict.fromkeys(f"{o['op']} (layer {o['layer']})" for o in ops))
