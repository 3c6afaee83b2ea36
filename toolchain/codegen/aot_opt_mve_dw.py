"""Generation-time tables of the Helium depthwise kernel (kernels/opt/ts_depthwise_conv2d_s8_mve.c).

The kernel's fast path sums a channel's window with one VMLADAV.S8 of sixteen int8 lanes
(the taps gathered from a per-channel plane of the input), so it needs per channel:
  filter_mve  [channels][16] int8: the channel's taps in lanes 0..taps-1, zeros after;
  requant_mve [channels][4] int32: {bias + input_offset * sum(w), multiplier, shift, output_offset},
the first entry wrapped to int32 as TFLM's int32 accumulation wraps.
and plane_k, how the kernel fills its planes (an estimate made here once instead of at every
call; plane_rows() mirrors the kernel's geometry). Layers the plane path does not take (a depth
multiplier other than 1, more than 16 taps, too few output pixels, ...) get the pixel path's
tables instead (depthwise_pixel_tables: sixteen channels per vector).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from toolchain.codegen.aot_ops import Lowering
from toolchain.codegen.aot_opt import bias_values

LANES = 16  # int8 lanes of a Helium vector: the most taps one VMLADAV.S8 sums


def depthwise_mve_tables(w: np.ndarray, bias, input_offset: int, multipliers, shifts, output_offset: int):
    """(filter_mve, requant_mve) of a [taps, channels] int8 filter (see the module doc)."""
    taps, channels = w.shape
    filt = np.zeros((channels, LANES), np.int8)
    filt[:, :taps] = w.T
    sums = w.astype(np.int64).sum(axis=0)
    init = (np.asarray(bias, np.int64) if bias is not None else np.zeros(channels, np.int64)) + input_offset * sums
    init = ((init + (1 << 31)) % (1 << 32)) - (1 << 31)  # int32 wrap-around
    table = np.zeros((channels, 4), np.int64)
    table[:, 0] = init
    table[:, 1] = [int(multipliers[c % len(multipliers)]) for c in range(channels)]
    table[:, 2] = [int(shifts[c % len(shifts)]) for c in range(channels)]
    table[:, 3] = output_offset
    return filt.reshape(-1), table.reshape(-1)


GROUPS, PLANE = 48, 512  # the kernel's TS_MVE_DW_GROUPS and TS_MVE_DW_PLANE (defaults)


def plane_rows(p: dict, k: int) -> tuple[int, int]:
    """The kernel's plane_rows(): (output rows per band, plane row length) with k channels a plane,
    rows 0 where the plane path does not apply."""
    ow, oh = p["output_w"], p["output_h"]
    last_x = (ow - 1) * p["stride_w"] - p["pad_w"] + (p["filter_w"] - 1) * p["dilation_w"]
    wp = p["pad_w"] + max(last_x + 1, p["input_w"])
    reach = (p["filter_h"] - 1) * p["dilation_h"] * wp + (p["filter_w"] - 1) * p["dilation_w"]
    ext = (p["filter_h"] - 1) * p["dilation_h"] + 1
    if (p["input_c"] < 1 or p["filter_h"] * p["filter_w"] > 16 or (reach + 1) * k - 1 > 255 or p["input_c"] > 8191
            or oh * ow < 4 or ow > 4 * GROUPS or ext * wp * k > PLANE):
        return 0, wp
    rows = min((PLANE // (wp * k) - ext) // p["stride_h"] + 1, GROUPS * 4 // ow, oh)
    if rows * ow < 4:
        return 0, wp
    bands = -(-oh // rows)
    even = -(-oh // bands)
    return (even if even * ow >= 4 else rows), wp


def fill_cost(p: dict, rows: int, k: int) -> int:
    """Estimated instructions of the kernel's plane fills (k = 0: by the offset table; else by rows,
    k channels a plane), per-channel and per-band overheads and recomputed rows."""
    bands, w, ch = -(-p["output_h"] // rows), p["input_w"], p["input_c"]
    in_rows = (rows - 1) * p["stride_h"] + (p["filter_h"] - 1) * p["dilation_h"] + 1
    if k == 0:
        fill = ch * (5 * ((in_rows * w + 7) // 8) + 27)
    else:
        row = 7 if w * k <= 16 else 7 + 4 * ((w * k + 15) // 16)  # one predicated vector, or a loop
        fill = ch // k * (9 + in_rows * row) + ch * 24
    plane = in_rows * (p["output_w"] * p["stride_w"] + p["filter_w"]) * max(k, 1)
    return bands * (fill + 200 + plane // 4) + (bands * rows - p["output_h"]) * p["output_w"] * ch * 5


def plane_k(p: dict) -> int:
    """How the kernel fills its planes (its fill_mode()): K channels a plane by rows, or -1 by the
    offset table (0 where the plane path does not apply), the fewest estimated instructions."""
    rows, _ = plane_rows(p, 1)
    if rows == 0:
        return 0
    best, cost = -1, fill_cost(p, rows, 0)
    for k in (1, 2, 4, 8, 16):
        if p["input_c"] % k or (16 // k - 1) * p["input_c"] + k - 1 > 255:
            continue
        r, _ = plane_rows(p, k)
        if r and fill_cost(p, r, k) < cost:
            best, cost = k, fill_cost(p, r, k)
    return best


def depthwise_pixel_tables(w: np.ndarray, bias, input_offset: int, multipliers, shifts, depth_multiplier: int):
    """(filter_px, requant_px) of a [taps, channels] int8 filter for the kernel's pixel path:
    the filter in groups of sixteen channels (eight past the last sixteen, or all with a depth
    multiplier), per group per tap its channels' weights, the last group zero-padded; per group
    of eight channels {init 8, multiplier 8, left shift 8, right shift 8}, even channels first,
    init = bias + input_offset * sum(w) wrapped to int32."""
    taps, channels = w.shape
    ch8 = -(-channels // 8) * 8
    ch16 = channels // 16 * 16 if depth_multiplier == 1 else 0
    filt = np.zeros(taps * ch8, np.int8)
    table = np.zeros(4 * ch8, np.int64)
    init = (np.asarray(bias, np.int64) if bias is not None else np.zeros(channels, np.int64)) \
        + input_offset * w.astype(np.int64).sum(axis=0)
    init = ((init + (1 << 31)) % (1 << 32)) - (1 << 31)
    for c in range(channels):
        first, width, lane = (c - c % 16, 16, c % 8) if c < ch16 else (c - c % 8, 8, c % 8)
        filt[first * taps + np.arange(taps) * width + c - first] = w[:, c]
        shift = int(shifts[c % len(shifts)])
        slot = c // 8 * 32 + lane % 2 * 4 + lane // 2
        table[[slot, slot + 8, slot + 16, slot + 24]] = [init[c], int(multipliers[c % len(multipliers)]),
                                                          max(shift, 0), min(shift, 0)]
    return filt, table


def specialize_depthwise_mve(ctx, low: Lowering, consts: list) -> Lowering:
    """Add the tables of the Helium kernel's path to a DEPTHWISE_CONV_2D: filter_mve /
    requant_mve / plane_k for the plane path (depth multiplier 1, at most 16 taps, a geometry
    plane_rows() takes), else filter_px / requant_px for the pixel path; a filter computed at
    run time is left to the portable kernel, with the reason."""
    if low.kernel != "ts_depthwise_conv2d_s8":
        return low
    p = low.params
    taps, channels = p["filter_h"] * p["filter_w"], p["output_c"]
    values = {c.name: c.values for c in consts}
    if low.args[1] not in values:
        return replace(low, fallback="a filter computed at run time (the Helium kernel lays it out when generating)")
    w = np.array(values[low.args[1]], np.int8).reshape(taps, channels)
    bias = bias_values(low, consts)
    mult, shift = values[p["multiplier"]], values[p["shift"]]
    k = plane_k(p) if p.get("depth_multiplier") == 1 and taps <= LANES else 0
    if k:
        filt, table = depthwise_mve_tables(w, bias, p["input_offset"], mult, shift, p["output_offset"])
        return replace(low, params=dict(
            p, filter_mve=ctx.const_array("filter_mve", "int8_t", filt, "taps per channel in 16 lanes"),
            requant_mve=ctx.const_array("requant_mve", "int32_t", table,
                                        "{bias + input_offset * sum(w), multiplier, shift, output_offset}"),
            plane_k=k))
    filt, table = depthwise_pixel_tables(w, bias, p["input_offset"], mult, shift, p["depth_multiplier"])
    return replace(low, params=dict(
        p, filter_px=ctx.const_array("filter_px", "int8_t", filt, "per channel group, per tap, its weights"),
        requant_px=ctx.const_array("requant_px", "int32_t", table,
                                   "per 8 channels {init, multiplier, left, right shift} x 8, even channels first")))
