"""Tensors and constant buffers of a hand-built model, in the spec form of conftest's
`make_tflite` fixture (its `tensors` and `buffers` arguments)."""

from __future__ import annotations

import numpy as np


class Spec:
    def __init__(self):
        self.tensors: list[dict] = []
        self.buffers: list[bytes] = []

    def tensor(self, shape, scale, zp=0, data=None, dtype="int8", qdim=0) -> int:
        """Add a quantized tensor (constant when `data` is given, cast to `dtype`); its index."""
        spec = {"shape": list(shape), "type": dtype, "scale": scale, "zero_point": zp, "quantized_dimension": qdim}
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data, np.dtype(dtype)).tobytes())
            spec["buffer"] = len(self.buffers)
        self.tensors.append(spec)
        return len(self.tensors) - 1


def conv_options(depthwise: bool, padding: int, stride: int, act: int, dilation: int = 1, multiplier: int = 1):
    """(BuiltinOptions type, options) of a CONV_2D or DEPTHWISE_CONV_2D; `padding` and `act` are
    schema values (Padding, ActivationFunctionType)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    if depthwise:
        o, otype = s.DepthwiseConv2DOptionsT(), s.BuiltinOptions.DepthwiseConv2DOptions
        o.depthMultiplier = multiplier
    else:
        o, otype = s.Conv2DOptionsT(), s.BuiltinOptions.Conv2DOptions
    o.padding, o.strideH, o.strideW, o.fusedActivationFunction = padding, stride, stride, act
    o.dilationHFactor = o.dilationWFactor = dilation
    return otype, o
