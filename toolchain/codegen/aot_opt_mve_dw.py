"""Generation-time tables of the Helium depthwise kernel (kernels/opt/ts_depthwise_conv2d_s8_mve.c).

The kernel's fast path sums a channel's window with one VMLADAV.S8 of sixteen int8 lanes
(the taps gathered from a per-channel plane of the input), so it needs per channel:
  filter_mve  [channels][16] int8: the channel's taps in lanes 0..taps-1, zeros after;
  requant_mve [channels][4] int32: {bias + input_offset * sum(w), multiplier, shift, output_offset},
the first entry wrapped to int32 as TFLM's int32 accumulation wraps.
Layers with a depth multiplier other than 1 or more than 16 taps are left alone (the kernel's
other paths read the int8 filter as lowered).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from toolchain.codegen.aot_ops import Lowering

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


def specialize_depthwise_mve(ctx, low: Lowering, consts: list) -> Lowering:
    """Add filter_mve / requant_mve to a DEPTHWISE_CONV_2D with depth multiplier 1 and at most
    16 taps; other lowerings are returned unchanged."""
    if low.kernel != "ts_depthwise_conv2d_s8":
        return low
    p = low.params
    taps, channels = p["filter_h"] * p["filter_w"], p["output_c"]
    if p.get("depth_multiplier") != 1 or taps > LANES:
        return low
    values = {c.name: c.values for c in consts}
    if low.args[1] not in values:
        return low
    w = np.array(values[low.args[1]], np.int8).reshape(taps, channels)
    b = ctx.input(2)
    bias = b.numpy().reshape(-1).astype(np.int64) if b is not None else None
    filt, table = depthwise_mve_tables(w, bias, p["input_offset"], values[p["multiplier"]], values[p["shift"]],
                                       p["output_offset"])
    params = dict(p, filter_mve=ctx.const_array("filter_mve", "int8_t", filt, "taps per channel in 16 lanes"),
                  requant_mve=ctx.const_array("requant_mve", "int32_t", table,
                                              "{bias + input_offset * sum(w), multiplier, shift, output_offset}"))
    return replace(low, params=params)
