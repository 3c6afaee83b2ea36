"""Operand shapes each aot op needs, checked before it is lowered.

The kernels index the arena by the shapes baked into model.c, so an operator whose
tensors disagree (a conv output of the wrong size, a weight matrix that does not
match its input) would read or write outside its buffers. TFLM's Prepare refuses
such models; so does this check, with a ModelError naming the operator.
"""

from __future__ import annotations

import math

import numpy as np

from toolchain.codegen.aot_ops_shape import slice_axes
from toolchain.errors import ModelError
from toolchain.model import PADDINGS, Tensor

# op -> inputs that must be present (index < n and not -1)
_REQUIRED_INPUTS = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "ADD": 2, "MUL": 2, "SUB": 2,
                    "MAXIMUM": 2, "MINIMUM": 2, "PAD": 2, "PADV2": 2, "MEAN": 2, "TRANSPOSE_CONV": 3,
                    "REDUCE_MAX": 2, "RESIZE_NEAREST_NEIGHBOR": 2, "STRIDED_SLICE": 4}
_ELEMENTWISE = {"QUANTIZE", "DEQUANTIZE", "RELU", "RELU6", "LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU"}


def check_operands(ctx) -> None:
    """Raise ModelError when the tensors of `ctx.op` cannot be what the op computes."""
    op = ctx.op
    need = _REQUIRED_INPUTS.get(op.op, 1)
    if not op.outputs or len(op.inputs) < need or any(i < 0 for i in op.inputs[:need]):
        _bad(ctx, f"needs {need} input(s) and an output, has inputs {list(op.inputs)} and outputs {list(op.outputs)}")
    check = _CHECKS.get(op.op)
    if check is None and op.op in _ELEMENTWISE:
        check = _same_size
    if check is not None:
        check(ctx, ctx.input(0), ctx.output(0))


def _bad(ctx, why: str):
    raise ModelError(f"{ctx.op.op} (layer {ctx.layer}): {why}",
                     "the model is malformed (TFLM would refuse it too): re-convert it")


def _rank(ctx, t: Tensor, rank: int, what: str) -> None:
    if len(t.shape) != rank:
        _bad(ctx, f"{what} has shape {list(t.shape)}, expected {rank} dimensions")


def _same_size(ctx, x: Tensor, y: Tensor) -> None:
    if x.size != y.size:
        _bad(ctx, f"input {list(x.shape)} and output {list(y.shape)} differ in size")


def _softmax(ctx, x, y):
    if x.shape != y.shape or not x.shape:
        _bad(ctx, f"input {list(x.shape)} and output {list(y.shape)} differ")


def _out_size(padding: str, size: int, window: int, stride: int, dilation: int) -> int:
    """TFLM ComputeOutSize."""
    effective = (window - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size + stride - effective) // stride


def _spatial(ctx, x, y, fh: int, fw: int) -> None:
    o = ctx.options
    strides = (o.get("stride_h", 1), o.get("stride_w", 1))
    dilations = (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1))
    if min(strides + dilations + (fh, fw)) < 1:
        _bad(ctx, f"strides {strides}, dilations {dilations} and window {fh}x{fw} must be positive")
    padding = PADDINGS.get(o.get("padding", 1))
    if padding is None:
        _bad(ctx, f"unknown padding {o.get('padding')}")
    want = [_out_size(padding, x.shape[1 + k], (fh, fw)[k], strides[k], dilations[k]) for k in range(2)]
    if list(y.shape[1:3]) != want or y.shape[0] != x.shape[0] or min(want) < 1:
        _bad(ctx, f"output {list(y.shape)} does not follow from input {list(x.shape)}, window {fh}x{fw}, "
                  f"strides {strides}, dilations {dilations}, {padding} padding")


def _bias(ctx, channels: int, index: int = 2) -> None:
    b = ctx.input(index)
    if b is not None and b.size != channels:
        _bad(ctx, f"bias has {b.size} values for {channels} output channels")


def _scales(ctx, w: Tensor, channels: int) -> None:
    """Per-channel weights: one scale per output channel (the kernels index them by channel)."""
    q = w.quantization
    if q is not None and q.per_channel and len(q.scale) != channels:
        _bad(ctx, f"weights have {len(q.scale)} per-channel scales for {channels} output channels")


def _conv(ctx, x, y):
    w = ctx.input(1)
    for t, what in ((x, "input"), (w, "filter"), (y, "output")):
        _rank(ctx, t, 4, what)
    if ctx.op.op == "CONV_2D":
        if y.shape[3] != w.shape[0] or w.shape[3] < 1 or x.shape[3] % w.shape[3]:
            _bad(ctx, f"filter {list(w.shape)} does not fit input {list(x.shape)} and output {list(y.shape)}")
    elif w.shape[0] != 1 or y.shape[3] != w.shape[3] or x.shape[3] < 1 or y.shape[3] % x.shape[3]:
        _bad(ctx, f"depthwise filter {list(w.shape)} does not fit input {list(x.shape)} and output {list(y.shape)}")
    _spatial(ctx, x, y, w.shape[1], w.shape[2])
    _bias(ctx, y.shape[3])
    _scales(ctx, w, y.shape[3])


def _transpose_conv(ctx, output_shape, y):
    """Inputs (output shape, filter [O, H, W, I], input, bias); the kernel bounds-checks every
    input position, so the input's spatial size need not follow from the output's."""
    w, x = ctx.input(1), ctx.input(2)
    for t, what in ((x, "input"), (w, "filter"), (y, "output")):
        _rank(ctx, t, 4, what)
    if w.shape[0] != y.shape[3] or w.shape[3] != x.shape[3] or x.shape[0] != y.shape[0]:
        _bad(ctx, f"filter {list(w.shape)} does not fit input {list(x.shape)} and output {list(y.shape)}")
    o = ctx.options
    strides = (o.get("stride_h", 1), o.get("stride_w", 1))
    if min(strides) < 1 or PADDINGS.get(o.get("padding", 0)) is None:
        _bad(ctx, f"strides {strides} must be positive and padding {o.get('padding')} SAME or VALID")
    _bias(ctx, y.shape[3], index=3)
    _scales(ctx, w, y.shape[3])


def _fully_connected(ctx, x, y):
    w = ctx.input(1)
    _rank(ctx, w, 2, "weights")
    out_depth, depth = w.shape
    # TFLM takes the output depth from the output's last dimension: a scalar output makes it read outside
    # the shape (fuzz seed 12 #244: generate said OK, then TFLM's outputs differed from the device's)
    if depth < 1 or x.size % depth or not y.shape or y.shape[-1] != out_depth or y.size != x.size // depth * out_depth:
        _bad(ctx, f"weights {list(w.shape)} do not fit input {list(x.shape)} and output {list(y.shape)}")
    _bias(ctx, out_depth)
    _scales(ctx, w, out_depth)


def _pool(ctx, x, y):
    _rank(ctx, x, 4, "input")
    _rank(ctx, y, 4, "output")
    if x.shape[3] != y.shape[3]:
        _bad(ctx, f"input {list(x.shape)} and output {list(y.shape)} differ in channels")
    _spatial(ctx, x, y, ctx.options.get("filter_height", 0), ctx.options.get("filter_width", 0))


def _broadcast(ctx, a, y):
    b = ctx.input(1)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        shape = None
    if shape != tuple(y.shape):
        _bad(ctx, f"inputs {list(a.shape)} and {list(b.shape)} do not broadcast to the output {list(y.shape)}")


def _pad(ctx, x, y):
    pads = ctx.input(1)
    if len(x.shape) != len(y.shape) or pads.shape != (len(x.shape), 2) or not pads.is_constant:
        _bad(ctx, f"paddings {list(pads.shape)} do not fit input {list(x.shape)} and output {list(y.shape)}")
    p = pads.numpy().reshape(-1, 2)
    if (p < 0).any() or [int(d + a + b) for d, (a, b) in zip(x.shape, p)] != list(y.shape):
        _bad(ctx, f"paddings {p.tolist()} of input {list(x.shape)} do not give the output {list(y.shape)}")


def _concatenation(ctx, x, y):
    ins = [ctx.tensors[i] for i in ctx.op.inputs if i >= 0]
    nd = len(y.shape)
    axis = ctx.options.get("axis", 0)
    if not nd or not -nd <= axis < nd or any(len(t.shape) != nd for t in ins):
        _bad(ctx, f"axis {axis} or input ranks do not fit the output {list(y.shape)}")
    axis %= nd
    rest = [d for k, d in enumerate(y.shape) if k != axis]
    if any([d for k, d in enumerate(t.shape) if k != axis] != rest for t in ins) or \
            sum(t.shape[axis] for t in ins) != y.shape[axis]:
        _bad(ctx, f"inputs {[list(t.shape) for t in ins]} do not concatenate to {list(y.shape)} on axis {axis}")


def _mean(ctx, x, y):
    axis = ctx.input(1)
    if not axis.is_constant or not x.shape:
        return  # the lowering refuses it
    nd = len(x.shape)
    axes = {int(a) for a in axis.numpy().reshape(-1)}
    if any(not -nd <= a < nd for a in axes):
        _bad(ctx, f"axes {sorted(axes)} out of range for input {list(x.shape)}")
    count = math.prod(x.shape[a % nd] for a in axes)
    if count < 1 or y.size * count != x.size:
        _bad(ctx, f"output {list(y.shape)} is not input {list(x.shape)} reduced over axes {sorted(axes)}")


def _resize(ctx, x, y):
    size = ctx.input(1)
    if not size.is_constant or len(x.shape) != 4:
        return  # the lowering refuses it
    want = [x.shape[0], *(int(v) for v in size.numpy().reshape(-1)), x.shape[3]]
    if list(y.shape) != want or min(want) < 1:
        _bad(ctx, f"output {list(y.shape)} is not input {list(x.shape)} resized to {want[1:-1]}")


def _strided_slice(ctx, x, y):
    operands = [ctx.input(i) for i in (1, 2, 3)]
    o = ctx.options
    if any(not t.is_constant or t.size != len(x.shape) for t in operands) or 0 in operands[2].numpy() \
            or o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0) or o.get("offset", False):
        return  # the lowering refuses it
    begin, end, strides = ([int(v) for v in t.numpy().reshape(-1)] for t in operands)
    shrink = o.get("shrink_axis_mask", 0)
    if any(shrink >> k & 1 and s < 0 for k, s in enumerate(strides)):
        return  # the lowering refuses it
    axes = slice_axes(x.shape, begin, end, strides, o.get("begin_mask", 0), o.get("end_mask", 0), shrink)
    if math.prod(n for _, n, _ in axes) != y.size:
        _bad(ctx, f"output {list(y.shape)} is not the {[n for _, n, _ in axes]} elements input {list(x.shape)} "
                  f"sliced by begin {begin}, end {end}, strides {strides} gives")


_CHECKS = {"CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "FULLY_CONNECTED": _fully_connected,
           "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool, "ADD": _broadcast, "MUL": _broadcast,
           "SUB": _broadcast, "MAXIMUM": _broadcast, "MINIMUM": _broadcast,
           "PAD": _pad, "PADV2": _pad, "CONCATENATION": _concatenation, "MEAN": _mean, "SOFTMAX": _softmax,
           "TRANSPOSE_CONV": _transpose_conv, "REDUCE_MAX": _mean, "RESIZE_NEAREST_NEIGHBOR": _resize,
           "STRIDED_SLICE": _strided_slice}
