"""Generation-time specializations for the Helium (MVE) kernels (Cortex-M55).

`specialize_mve` is the generator's `specialize` hook for Helium cores (see
toolchain.codegen.aot_opt.specializer): one-channel depthwise layers become convolutions,
constant channels are folded (aot_opt.fold_constant_channels),
depthwise layers get their tables (aot_opt_mve_dw), convolutions theirs (`conv_mve`), fully
connected layers their requantization table (`fully_connected_mve`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from toolchain.codegen.aot_ops import Lowering
from toolchain.codegen.aot_opt import bias_values

MAX_FIELD = 64  # receptive fields kept in q0..q3 by ts_conv2d_s8_mve.c
PADDED_BYTES = 4096  # the largest zero-point-padded image copy ts_conv2d_s8_mve.c puts in its scratch


def specialize_mve(ctx, low: Lowering, consts: list) -> Lowering:
    from toolchain.codegen.aot_opt import depthwise_as_conv, fold_constant_channels
    from toolchain.codegen.aot_opt_mve_dw import specialize_depthwise_mve

    low = fold_constant_channels(ctx, depthwise_as_conv(ctx, low, consts), consts)
    low = specialize_depthwise_mve(ctx, low, consts)
    low = conv_mve(ctx, low, consts)
    low = fully_connected_mve(ctx, low, consts)
    return low


def _int32(v: np.ndarray) -> np.ndarray:
    """Wrapped to int32, as the kernels' int32 accumulators."""
    return ((np.asarray(v, np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int64)


def window_offsets(p: dict, lanes: int) -> list[int] | None:
    """The byte offsets of a CONV_2D window's taps (filter order: rows, columns, channels)
    from its first tap in the image, 0 beyond k; None when one exceeds 8 bits."""
    ic, fh, fw = p["input_c"], p["filter_h"], p["filter_w"]
    fy, fx, ch = np.meshgrid(np.arange(fh), np.arange(fw), np.arange(ic), indexing="ij")
    offs = ((fy * p["dilation_h"] * p["input_w"] + fx * p["dilation_w"]) * ic + ch).reshape(-1)
    if offs.max(initial=0) > 255:
        return None
    return offs.tolist() + [0] * (lanes - offs.size)


def padded_image(p: dict) -> tuple[int, int] | None:
    """(height, width) of the image padded with the zero point on every side a window reaches,
    when there is padding and the padded image fits PADDED_BYTES (ts_conv2d_s8_mve.c copies it
    to the stack: every window is then inside); else None."""
    span_h = (p["filter_h"] - 1) * p["dilation_h"] + 1
    span_w = (p["filter_w"] - 1) * p["dilation_w"] + 1
    bottom = max(0, (p["output_h"] - 1) * p["stride_h"] + span_h - p["input_h"] - p["pad_h"])
    right = max(0, (p["output_w"] - 1) * p["stride_w"] + span_w - p["input_w"] - p["pad_w"])
    if p["pad_h"] == p["pad_w"] == bottom == right == 0:
        return None
    h, w = p["input_h"] + p["pad_h"] + bottom, p["input_w"] + p["pad_w"] + right
    return (h, w) if h * w * p["input_c"] <= PADDED_BYTES else None


def conv_tables(w: np.ndarray, bias, input_offset: int, multipliers, shifts) -> tuple[np.ndarray, list[int]] | None:
    """ts_conv2d_s8_mve.c's filter_mve and requant_mve: per quad {init[4], multiplier[4], shift[4]}
    with init = bias + input_offset * sum(w); the [rows, k] filter zero-padded to
    [quads * 4, chunks * 16] for k <= 64 (fields in registers; each quad's rows in the order
    0, 2, 1, 3), for k > 64 a multiple of 16 and
    rows a multiple of 4 (two pixels per pass) laid [quads][chunks][4 rows][16]. None otherwise,
    or when a shift is outside [-31, -1]."""
    rows, k = w.shape
    m = np.asarray(multipliers, np.int64)[np.arange(rows) % len(multipliers)]
    s = np.asarray(shifts, np.int64)[np.arange(rows) % len(shifts)]
    if s.min() < -31 or s.max() > -1 or (k > MAX_FIELD and (k % 16 or rows % 4)):
        return None
    quads, chunks = -(-rows // 4), -(-k // 16)
    filt = np.zeros((quads * 4, chunks * 16), np.int8)
    filt[:rows, :k] = w
    if k > MAX_FIELD:
        filt = filt.reshape(quads, 4, chunks, 16).transpose(0, 2, 1, 3).reshape(quads * 4, chunks * 16)
    else:  # rows 0, 2, 1, 3 of each quad (the kernels fill lanes 0, 2 then 1, 3)
        filt = filt.reshape(quads, 4, chunks * 16)[:, [0, 2, 1, 3]].reshape(quads * 4, chunks * 16)
    init = np.zeros(quads * 4, np.int64)
    init[:rows] = _int32((bias if bias is not None else 0) + input_offset * w.astype(np.int64).sum(1))
    mult = np.zeros(quads * 4, np.int64)
    mult[:rows] = m
    shift = np.full(quads * 4, -1, np.int64)
    shift[:rows] = s
    table = np.stack([init, mult, shift]).reshape(3, quads, 4).transpose(1, 0, 2).reshape(-1)
    return filt, table.tolist()


def gemv_table(w: np.ndarray, bias, input_offset: int, multipliers, shifts) -> list[int]:
    """ts_mve_rq_table's table (ts_mve.h) for ts_mve_gemv_rq: per quad {init, multiplier, left, right}."""
    rows, _ = w.shape
    quads = -(-rows // 4)
    t = np.zeros((quads * 4, 4), np.int64)
    t[:rows, 0] = _int32((bias if bias is not None else 0) + input_offset * w.astype(np.int64).sum(1))
    t[:rows, 1] = np.asarray(multipliers, np.int64)[np.arange(rows) % len(multipliers)]
    s = np.asarray(shifts, np.int64)[np.arange(rows) % len(shifts)]
    t[:rows, 2] = np.maximum(s, 0)
    t[:rows, 3] = np.minimum(s, 0)
    return t.reshape(quads, 4, 4).transpose(0, 2, 1).reshape(-1).tolist()


def conv_mve(ctx, low: Lowering, consts: list) -> Lowering:
    """A CONV_2D (not grouped) gets its requantization table (its bias, multipliers and shifts are
    dropped) and, where conv_tables applies, the re-laid filter (the int8 filter is dropped too:
    the call passes NULL) and for fields of at most 64 bytes the gather offsets. Grouped
    convolutions are left alone (the portable kernel runs)."""
    if low.kernel != "ts_conv2d_s8":
        return low
    p = low.params
    if p["filter_c"] != p["input_c"]:
        return replace(low, fallback="grouped convolution (the Helium kernel has none)")
    values = {c.name: c.values for c in consts}
    rows = p["output_c"]
    w = np.array(values[low.args[1]], np.int8).reshape(rows, -1)
    bias = bias_values(low, consts)
    mult, shift = values[p["multiplier"]], values[p["shift"]]
    fields = conv_tables(w, bias, p["input_offset"], mult, shift)
    if fields is None:
        table = ctx.const_array("requant_mve", "int32_t", gemv_table(w, bias, p["input_offset"], mult, shift),
                                "per quad {init = bias + offset * sum(w), multiplier, left, right}")
        return _tables_only(low, consts, dict(p, requant_mve=table), keep_filter=True)
    filt, table = fields
    lanes = filt.shape[1]
    if lanes > MAX_FIELD:  # two pixels per pass: no offsets
        params = dict(p, filter_mve=ctx.const_array("filter_mve", "int8_t", filt.reshape(-1),
                                                    "per quad of rows, per 16-byte chunk: four rows' chunks"),
                      requant_mve=ctx.const_array("requant_mve", "int32_t", table,
                                                  "per quad {init = bias + offset * sum(w), multiplier, shift}"),
                      chunks_mve=lanes // 16)
        return _tables_only(low, consts, params)
    padded = padded_image(p)
    window = window_offsets(dict(p, input_w=padded[1]) if padded else p, lanes)
    if window is None and padded:
        padded, window = None, window_offsets(p, lanes)
    column = list(range(w.shape[1])) + [0] * (lanes - w.shape[1])
    params = dict(
        p,
        filter_mve=ctx.const_array("filter_mve", "int8_t", filt.reshape(-1), "filter rows zero-padded to 16-byte chunks"),
        requant_mve=ctx.const_array("requant_mve", "int32_t", table, "per quad {init = bias + offset * sum(w), multiplier, shift}"),
        offsets_mve=ctx.const_array("offsets_mve", "uint8_t", (window or column) + column, "window, column gather offsets"),
        chunks_mve=lanes // 16,
        gather_mve=int(window is not None),
    )
    if padded:
        params.update(padded_h_mve=padded[0], padded_w_mve=padded[1])
    return _tables_only(low, consts, params)


def _tables_only(low: Lowering, consts: list, params: dict, keep_filter: bool = False) -> Lowering:
    """`low` with `params`, the bias, multipliers and shifts (in the generated tables now) and
    unless `keep_filter` the int8 filter dropped from the constants: the kernel gets NULL."""
    args = list(low.args)
    dropped = {params["multiplier"], params["shift"], args[2]} | (set() if keep_filter else {args[1]})
    consts[:] = [c for c in consts if c.name not in dropped]
    params = dict(params, multiplier="NULL", shift="NULL")
    args[2] = "NULL"
    if not keep_filter:
        args[1] = "NULL"
    return replace(low, params=params, args=args)


def fully_connected_mve(ctx, low: Lowering, consts: list) -> Lowering:
    """A FULLY_CONNECTED with int8 weights (no filter offset) gets ts_mve_rq_table's table (its
    bias, multipliers and shifts are dropped)."""
    if low.kernel != "ts_fully_connected_s8":
        return low
    if low.params["filter_offset"] != 0:
        return replace(low, fallback="weights with a zero point (the Helium kernel needs symmetric weights)")
    p = low.params
    values = {c.name: c.values for c in consts}
    w = np.array(values[low.args[1]], np.int8).reshape(p["output_depth"], p["accum_depth"])
    bias = bias_values(low, consts)
    table = gemv_table(w, bias, p["input_offset"], values[p["multiplier"]], values[p["shift"]])
    params = dict(p, requant_mve=ctx.const_array("requant_mve", "int32_t", table,
                                                 "per quad {init = bias + offset * sum(w), multiplier, left, right}"))
    return _tables_only(low, consts, params, keep_filter=True)
