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


def add_layer(spec: Spec, ops: list, rng, x: int, scale: float, shape, layer: dict):
    """Append one CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED with random int8 weights reading
    tensor `x` (NHWC `shape`, or [batches, k] for "fc") to `ops`; returns (output tensor, its scale,
    its shape). Ops use opcode 0 conv, 1 depthwise, 2 fully connected (LAYER_OPCODES). `layer`: op
    ("conv", "dw", "fc"), k (window: int or (h, w)), out (conv/fc output channels), stride, padding
    ("SAME"/"VALID"), act ("RELU6", "NONE", "RELU"), per_tensor (one weight scale), dilation,
    multiplier (depthwise). Scales keep the outputs spread over int8."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    op = layer["op"]
    act = layer.get("act", "NONE")
    out_scale, zp = 0.05, -128 if act != "NONE" else 5  # RELU6 clamps inside int8 (act_max = -8)
    if op == "fc":
        (n, c), out_c = shape, layer["out"]
        wshape, fan_in, oshape = (out_c, c), c, (n, out_c)
    else:
        dw = op == "dw"
        n, h, w, c = shape
        k, stride, dil = layer.get("k", 3 if dw else 1), layer.get("stride", 1), layer.get("dilation", 1)
        kh, kw = (k, k) if isinstance(k, int) else k
        mult = layer.get("multiplier", 1)
        out_c = c * mult if dw else layer["out"]
        if layer.get("padding", "SAME") == "SAME":
            pad, oh, ow = s.Padding.SAME, -(-h // stride), -(-w // stride)
        else:
            pad, oh, ow = s.Padding.VALID, (h - (kh - 1) * dil - 1) // stride + 1, (w - (kw - 1) * dil - 1) // stride + 1
        wshape = (1, kh, kw, out_c) if dw else (out_c, kh, kw, c)
        fan_in, oshape = kh * kw * (1 if dw else c), (n, oh, ow, out_c)
    weights = rng.integers(-127, 128, size=wshape, dtype=np.int8)
    nscale = 1 if layer.get("per_tensor") or op == "fc" else out_c
    w_scale = out_scale / (scale * 50 * np.sqrt(fan_in)) * rng.uniform(0.5, 1.5, nscale)
    wt = spec.tensor(wshape, w_scale, [0] * nscale, weights, qdim=3 if op == "dw" and nscale > 1 else 0)
    bias = rng.integers(-2000, 2000, out_c).astype(np.int32)
    b_scale = scale * (w_scale if nscale > 1 else np.repeat(w_scale, out_c))
    bt = spec.tensor((out_c,), b_scale, [0] * out_c, bias, dtype="int32")
    y = spec.tensor(oshape, out_scale, zp)
    fused = getattr(s.ActivationFunctionType, act)
    if op == "fc":
        o = s.FullyConnectedOptionsT()
        o.fusedActivationFunction = fused
        ops.append((2, [x, wt, bt], [y], s.BuiltinOptions.FullyConnectedOptions, o))
    else:
        ops.append((1 if dw else 0, [x, wt, bt], [y], *conv_options(dw, pad, stride, fused, dil, mult)))
    return y, out_scale, oshape


def layer_opcodes():
    """The opcodes add_layer's ops refer to."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    return [(s.BuiltinOperator.CONV_2D, 3, 3), (s.BuiltinOperator.DEPTHWISE_CONV_2D, 4, 3),
            (s.BuiltinOperator.FULLY_CONNECTED, 9, 4)]
