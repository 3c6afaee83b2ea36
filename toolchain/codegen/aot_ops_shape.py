"""aot lowerings of the int8 ops that select or move values: REDUCE_MAX, RESIZE_NEAREST_NEIGHBOR, STRIDED_SLICE.

None of them computes a new value: TFLM copies raw int8 bytes (REDUCE_MAX compares
them), so the kernels are bit-exact by construction once the generator picks the same
source elements. Each function redoes the index arithmetic of the TFLM kernel named
in its docstring at generation time; the C kernels only copy.
"""

from __future__ import annotations

import math

import numpy as np

from toolchain.codegen.aot_ops import LowerContext, Lowering, lowering
from toolchain.codegen.aot_ops_nonlinear import reduction

_SLICE_MAX_DIMS = 4  # TFLM strided_slice_common.cc: "input dim should not exceed 4"
_C_DIMS = 6  # TS_MAX_DIMS in ts_kernels.h


def _constant_ints(ctx: LowerContext, i: int, what: str) -> list[int]:
    t = ctx.input(i)
    if t is None or not t.is_constant or t.dtype != "int32":
        ctx.refuse(f"the {what} operand must be a constant int32 tensor")
    return [int(v) for v in t.numpy().reshape(-1)]


@lowering("REDUCE_MAX")
def _reduce_max(ctx: LowerContext) -> Lowering:
    """reduce_common.cc EvalMaxHelper: raw int8 maximum, input and output scales must be equal."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    if ctx.qparams(x) != ctx.qparams(y):
        ctx.refuse("input and output quantization differ (TFLM's int8 REDUCE_MAX keeps the input's)")
    if x.size == 0:
        ctx.refuse(f"input shape {list(x.shape)} is empty")
    _, split = reduction(ctx)
    return Lowering("ts_reduce_max_s8", "ts_reduce_max_params_t", split, [x, y])


def nearest_sources(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> list[int]:
    """reference_ops GetNearestNeighbor for every output index, in TFLM's float32 arithmetic."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5 if half_pixel_centers else 0.0)
    sources = []
    for i in range(out_size):
        v = float((f32(i) + offset) * scale)  # a float32 value: exact in float64
        # std::round (TfLiteRound) with align_corners, std::floor otherwise
        s = int(math.copysign(math.floor(abs(v) + 0.5), v)) if align_corners else math.floor(v)
        s = min(s, in_size - 1)
        sources.append(max(s, 0) if half_pixel_centers else s)
    return sources


@lowering("RESIZE_NEAREST_NEIGHBOR")
def _resize_nearest(ctx: LowerContext) -> Lowering:
    """resize_nearest_neighbor.cc: NHWC, constant size; the int8 values are copied as they are."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    size = _constant_ints(ctx, 1, "size")
    if len(x.shape) != 4 or len(y.shape) != 4 or len(size) != 2:
        ctx.refuse(f"input {list(x.shape)} and size {size} are not an NHWC image and [height, width]")
    n, ih, iw, c = x.shape
    o = ctx.options
    flags = bool(o.get("align_corners", False)), bool(o.get("half_pixel_centers", False))
    params = {"batches": n, "input_h": ih, "input_w": iw, "channels": c, "output_h": size[0], "output_w": size[1],
              "source_row": ctx.const_array("rows", "int32_t", nearest_sources(ih, size[0], *flags)),
              "source_col": ctx.const_array("cols", "int32_t", nearest_sources(iw, size[1], *flags))}
    return Lowering("ts_resize_nearest_s8", "ts_resize_nearest_params_t", params, [x, y])


def slice_axes(shape, begin, end, strides, begin_mask: int, end_mask: int, shrink_mask: int) \
        -> list[tuple[int, int, int]]:
    """(start, count, stride) per axis: strided_slice_logic.h StartForAxis/StopForAxis, as in range()."""
    lowest, highest = -(1 << 31), (1 << 31) - 1
    axes = []
    for k, size in enumerate(shape):
        stride = strides[k]
        lo, hi = (0, size) if stride > 0 else (-1, size - 1)
        start = begin[k]
        if begin_mask >> k & 1:
            start = lowest if stride > 0 else highest
        start = start + size if start < 0 else start
        start = min(max(start, lo), hi)
        if shrink_mask >> k & 1:
            stop = start + 1
        else:
            stop = end[k]
            if end_mask >> k & 1:
                stop = highest if stride > 0 else lowest
            stop = stop + size if stop < 0 else stop
            stop = min(max(stop, lo), hi)
        axes.append((start, len(range(start, stop, stride)), stride))
    return axes


@lowering("STRIDED_SLICE")
def _strided_slice(ctx: LowerContext) -> Lowering:
    """strided_slice.cc with constant begin/end/strides; ellipsis and new axes are left to the converter."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    o = ctx.options
    if o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0) or o.get("offset", False):
        ctx.refuse("ellipsis_mask, new_axis_mask and offset are not supported")
    nd = len(x.shape)
    begin, end, strides = (_constant_ints(ctx, i, what) for i, what in ((1, "begin"), (2, "end"), (3, "strides")))
    if not 1 <= nd <= _SLICE_MAX_DIMS or not len(begin) == len(end) == len(strides) == nd:
        ctx.refuse(f"input {list(x.shape)} with {len(begin)} begin indices (rank 1 to {_SLICE_MAX_DIMS}, one each)")
    if 0 in strides:
        ctx.refuse("a stride is 0")
    shrink = o.get("shrink_axis_mask", 0)
    if any(shrink >> k & 1 and strides[k] < 0 for k in range(nd)):
        ctx.refuse("an axis is shrunk with a negative stride (TFLM then copies no element: its output is undefined)")
    axes = slice_axes(x.shape, begin, end, strides, o.get("begin_mask", 0), o.get("end_mask", 0), shrink)
    for k, (first, n, stride) in enumerate(axes):
        if n and not (0 <= first < x.shape[k] and 0 <= first + (n - 1) * stride < x.shape[k]):
            ctx.refuse(f"begin {begin[k]} of axis {k} is outside the input {list(x.shape)}")
    counts = [n for _, n, _ in axes]
    if y.size == 0:
        ctx.refuse(f"the slice selects no element of input {list(x.shape)}")
    in_strides = [int(np.prod(x.shape[k + 1:], dtype=np.int64)) for k in range(nd)]
    start = sum(s * st for (s, _, _), st in zip(axes, in_strides))
    steps = [stride * st for (_, _, stride), st in zip(axes, in_strides)]
    # axes of one element move nothing: drop them (and keep at least one)
    kept = [(n, st) for n, st in zip(counts, steps) if n > 1] or [(1, 1)]
    pad = [0] * (_C_DIMS - len(kept))
    params = {"start": start, "ndims": len(kept), "counts": [n for n, _ in kept] + pad,
              "steps": [st for _, st in kept] + pad}
    return Lowering("ts_strided_slice_s8", "ts_strided_slice_params_t", params, [x, y])
