"""Optimized variants of the aot kernels (firmware_templates/engines/aot/kernels/opt).

A project for a core with the DSP extension or Helium carries, next to the portable
kernels, `include/ts_opt.h` and the `kernels/opt/<kernel>_dsp.c` / `_mve.c` files of the
kernels its model uses; ts_opt.h picks the variant at compile time from the core's
features (docs in ts_opt.h). The portable kernels stay the fallback and the oracle.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from toolchain.codegen.aot import _INCLUDE, ENGINE_DIR
from toolchain.codegen.aot_ops import Lowering

OPT_DIR = ENGINE_DIR / "kernels" / "opt"
# speed: the DSP kernels' int16 weight layouts (about twice the int8 flash); size: int8 weights widened in
# registers (ts_gemm8_dsp.h); portable: the plain C kernels. Helium cores run int8 weights either way.
KERNEL_CHOICES = ("speed", "size", "portable")


def opt_sources(kernels: list[str], features: dict) -> list[Path]:
    """ts_opt.h, the optimized sources of `kernels` and the headers they include; [] for
    cores without the DSP extension or MVE."""
    if not (features.get("dsp") or features.get("mve")):
        return []
    sources = sorted(p for k in kernels for p in OPT_DIR.glob(f"{k}_*.c"))
    include = ENGINE_DIR / "include"
    headers = {"ts_opt.h": include / "ts_opt.h"}
    todo = [include / "ts_opt.h", *sources]
    while todo:
        for name in _INCLUDE.findall(todo.pop().read_text()):
            path = include / name
            if path.is_file() and name not in headers:
                headers[name] = path
                todo.append(path)
    return sorted(headers.values()) + sources if sources else []


ACC_LIMIT = 1 << 29  # ts_requant's bound on |accumulator| (ts_opt.h)
_GEMM = {"ts_conv2d_s8", "ts_fully_connected_s8"}


def _quads(rows: int) -> int:
    return -(-rows // 4) * 4


def dsp_filter(w: np.ndarray) -> np.ndarray:
    """A [rows, k] int8 filter widened to int16 in the layout of ts_gemv_dsp (ts_gemm_dsp.h).

    Rows are padded to a multiple of 4 and k to a multiple of 8 with zeros; for each quad of
    rows and each group of four k: row 0 (w0, w2, w1, w3), row 1 (...), row 2, row 3.
    """
    rows, k = w.shape
    padded = np.zeros((_quads(rows), -(-k // 8) * 8), np.int16)
    padded[:rows, :k] = w.astype(np.int16) * 2  # doubled: the kernels requantize 2 * acc (ts_rq_t)
    quads = padded.reshape(padded.shape[0] // 4, 4, padded.shape[1] // 4, 4)[..., [0, 2, 1, 3]]
    return quads.transpose(0, 2, 1, 3).reshape(-1)


def dsp_filter8(w: np.ndarray) -> np.ndarray:
    """A [rows, k] int8 filter (rows even) for ts_gemm8_dsp.h: k padded to a multiple of 4 with zeros,
    per pair of rows, per group of four k, row 0's four bytes then row 1's."""
    rows, k = w.shape
    padded = np.zeros((rows, -(-k // 4) * 4), np.int8)
    padded[:, :k] = w
    return padded.reshape(rows // 2, 2, -1, 4).transpose(0, 2, 1, 3).reshape(-1)


def dsp_depthwise_filter(w: np.ndarray) -> np.ndarray:
    """A [taps, channels] int8 depthwise filter as int16: per channel quad, per tap, (c0, c2, c1, c3)."""
    quads = (w.astype(np.int16) * 2).reshape(w.shape[0], -1, 4)[..., [0, 2, 1, 3]]  # doubled, as dsp_filter
    return quads.transpose(1, 0, 2).reshape(-1)


def dsp_depthwise_pairs(w: np.ndarray) -> np.ndarray:
    """A [9, channels] int8 3x3 depthwise filter as int16 for the DSP kernel's pixel-by-pixel path:
    per channel quad, taps in pairs (0 1) (2 3) (4 5) (6 7), each as (w_t, w_t+1) per channel, then
    tap 8 as dsp_depthwise_filter lays a tap out ((c0, c2), (c1, c3)); doubled as dsp_filter."""
    w2 = (w.astype(np.int16) * 2).reshape(9, -1, 4)  # [tap, quad, channel]
    pairs = w2[:8].reshape(4, 2, -1, 4).transpose(2, 0, 3, 1)  # [quad, pair, channel, (t, t+1)]
    last = w2[8][:, [0, 2, 1, 3]]  # [quad, 4]
    return np.concatenate([pairs.reshape(pairs.shape[0], -1), last], axis=1).reshape(-1)


def dsp_depthwise3x3_filter(w: np.ndarray) -> np.ndarray:
    """A [9, channels] int8 3x3 depthwise filter as int16 for the DSP kernel's channel planes:
    per channel, per window row, (w0, w1, w2, 0), doubled as dsp_filter."""
    rows = np.zeros((w.shape[1], 3, 4), np.int16)
    rows[:, :, :3] = (w.astype(np.int16) * 2).T.reshape(-1, 3, 3)
    return rows.reshape(-1)


def dsp_depthwise_planes(p: dict) -> bool:
    """Whether the DSP depthwise kernel runs this layer by channel planes (params planes_dsp):
    3x3, undilated, equal strides 1 with at least 64 output pixels or 2 with at least 100
    (smaller images cost less pixel by pixel)."""
    s, pixels = p["stride_h"], p["output_h"] * p["output_w"]
    return (p["filter_h"] == 3 and p["filter_w"] == 3 and p["dilation_h"] == 1 and p["dilation_w"] == 1
            and p["stride_w"] == s and ((s == 1 and pixels >= 64) or (s == 2 and pixels >= 100)))


def dsp_requant(bias, multipliers, shifts, output_offset: int, rows: int) -> list[int] | None:
    """[quads(rows)][4] {2 * bias, multiplier, add, right} for ts_rq_t, or None when a channel
    falls outside the fast form (shift >= 0, or the folded offset could overflow)."""
    table = []
    for r in range(_quads(rows)):
        if r >= rows:
            table += [0, 0, 0, 1]
            continue
        m, shift = int(multipliers[r % len(multipliers)]), int(shifts[r % len(shifts)])
        if shift >= 0 or shift < -31:
            return None
        right = -shift
        add = (1 << (right - 1)) + output_offset * (1 << right)
        if abs(add) >= 1 << 30:
            return None
        table += [2 * int(bias[r]) if bias is not None else 0, m, add, right]
    return table


def dsp_requant_quads(table: list[int]) -> list[int]:
    """dsp_requant's table re-laid per quad of rows for the gemv (ts_rq4_t in ts_gemm_dsp.h):
    four biases, four multipliers, then {add, right} per row; then four words of 0 (the pointwise
    block loads the next quad's biases after each quad, past the last one too)."""
    quads = np.array(table, np.int64).reshape(-1, 4, 4)  # [quad][row]{bias, multiplier, add, right}
    laid = np.concatenate([quads[:, :, 0], quads[:, :, 1], quads[:, :, 2:].reshape(-1, 8)], axis=1).reshape(-1)
    return laid.tolist() + [0, 0, 0, 0]


def dsp_requant8(bias, multipliers, shifts, rows: int) -> list[int]:
    """Per pair of rows {bias[2], multiplier[2], shift[2]} for ts_gemm8_dsp.h (per-tensor values
    repeated): the portable requantization's bytes, one LDM each for the biases and the rest."""
    def per_row(v):
        return np.resize(np.asarray(v, np.int64), rows).reshape(-1, 2)

    b = per_row(bias if bias is not None else [0])
    return np.concatenate([b, per_row(multipliers), per_row(shifts)], axis=1).reshape(-1).tolist()


def _size_dsp(ctx, low: Lowering, consts: list, w: np.ndarray, rows: int, k: int, planes: bool,
              bias) -> Lowering | None:
    """The int8-weight form of a lowering the DSP kernels serve (`--kernels size`), or None where it
    has none (odd rows, a fully connected depth not a multiple of 4, depthwise layers off the channel
    planes: those keep the int16 layout)."""
    p = low.params
    if low.kernel == "ts_depthwise_conv2d_s8":
        return replace(low, params=dict(p, planes_dsp=1, int8_dsp=1)) if planes else None
    if rows % 2 or (low.kernel == "ts_fully_connected_s8" and k % 4):
        return None
    values = {c.name: c.values for c in consts}
    table = dsp_requant8(bias, values[p["multiplier"]], values[p["shift"]], rows)
    consts[:] = [c for c in consts if c.name not in (low.args[1], low.args[2], p["multiplier"], p["shift"])]
    params = dict(p, multiplier="NULL", shift="NULL",
                  filter_dsp8=ctx.const_array("filter_dsp8", "int8_t", dsp_filter8(w.reshape(rows, k)),
                                              f"{low.args[1]} in pairs of rows (ts_gemm8_dsp.h)"),
                  requant_dsp=ctx.const_array("requant_dsp8", "int32_t", table,
                                              "per pair of rows {bias[2], multiplier[2], shift[2]}"))
    return replace(low, params=params, args=[low.args[0], "NULL", "NULL", *low.args[3:]])


def specialize_dsp(ctx, low: Lowering, consts: list, size: bool = False) -> Lowering:
    """Re-lay CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weights and requantization for
    the DSP kernels where their fast path applies (else the lowering is left alone and the
    portable kernel runs). The int8 filter is dropped: the call passes NULL. With `size`, int8
    weights where the kernels widen them in registers (_size_dsp)."""
    if low.kernel not in _GEMM | {"ts_depthwise_conv2d_s8"}:
        return low
    p = low.params
    b = ctx.input(2)
    bias = b.numpy().reshape(-1).astype(np.int64) if b is not None else None
    values = {c.name: c.values for c in consts}
    w = np.array(values[low.args[1]], np.int8)  # the filter as lowered (OHWI, 1HWC or [out, in])
    planes = False
    if low.kernel == "ts_depthwise_conv2d_s8":
        rows, k = p["output_c"], p["filter_h"] * p["filter_w"]
        if p["depth_multiplier"] != 1 or rows % 4 or p["dilation_h"] != 1 or p["dilation_w"] != 1:
            return low
        planes = dsp_depthwise_planes(p)
        square3 = p["filter_h"] == 3 and p["filter_w"] == 3
        layout = dsp_depthwise3x3_filter if planes else dsp_depthwise_pairs if square3 else dsp_depthwise_filter
        filt = layout(w.reshape(k, rows))
    else:
        rows = p.get("output_c", p.get("output_depth"))
        k = w.size // rows
        if p.get("filter_c", p.get("input_c")) != p.get("input_c") or p.get("filter_offset", 0) != 0:
            return low
        filt = dsp_filter(w.reshape(rows, k))
    if k * 128 * 255 + (int(np.abs(bias).max(initial=0)) if bias is not None else 0) >= ACC_LIMIT:
        return low
    table = dsp_requant(bias, values[p["multiplier"]], values[p["shift"]], p["output_offset"], rows)
    if table is None:
        return low
    sized = _size_dsp(ctx, low, consts, w, rows, k, planes, bias) if size else None
    if sized is not None:
        return sized
    if low.kernel in _GEMM:
        table = dsp_requant_quads(table)
    consts[:] = [c for c in consts if c.name != low.args[1]]
    what = "as 3x3 taps in rows for the channel planes" if planes else "widened for SMLAD"
    if planes:
        p = dict(p, planes_dsp=1)
    params = dict(p, filter_dsp=ctx.const_array("filter_dsp", "int16_t", filt, f"{low.args[1]} {what}"),
                  requant_dsp=ctx.const_array("requant_dsp", "int32_t", table,
                                              "per quad of rows {2 * bias[4], multiplier[4], {add, right}[4]}"
                                              if low.kernel in _GEMM else "{2 * bias, multiplier, add, right}"))
    return replace(low, params=params, args=[low.args[0], "NULL", *low.args[2:]])


def depthwise_as_conv(ctx, low: Lowering, consts: list) -> Lowering:
    """A DEPTHWISE_CONV_2D of a one-channel input (depth multiplier = output channels, the
    first layer of MobileNets) is a CONV_2D with filter [channels, h, w, 1]: lower it so, the
    optimized convolutions then run it (the portable depthwise kernel would)."""
    if low.kernel != "ts_depthwise_conv2d_s8" or low.params["input_c"] != 1:
        return low
    w = ctx.input(1)
    taps, channels = w.shape[1] * w.shape[2], w.shape[3]
    consts[:] = [c for c in consts if c.name != low.args[1]]
    filt = ctx.const_array("filter", "int8_t", w.numpy().reshape(taps, channels).T.reshape(-1),
                           f"{w.name} as a [{channels}, {w.shape[1]}, {w.shape[2]}, 1] convolution filter")
    params = {k: v for k, v in low.params.items() if k != "depth_multiplier"}
    params["filter_c"] = 1
    return replace(low, kernel="ts_conv2d_s8", params_type="ts_conv2d_params_t", params=params,
                   args=[low.args[0], filt, *low.args[2:]])


def specializer(features: dict, kernels: str = "speed"):
    """The generator's `specialize` hook for a core with the DSP extension or Helium and a
    KERNEL_CHOICES entry: one-channel depthwise layers become convolutions, and DSP-only cores get
    the int16 re-layouts (speed) or int8 weights (size); None for portable kernels."""
    if kernels == "portable":
        return None
    if features.get("mve"):
        from toolchain.codegen.aot_opt_mve import specialize_mve

        return specialize_mve
    if features.get("dsp"):
        size = kernels == "size"
        return lambda ctx, low, consts: specialize_dsp(ctx, depthwise_as_conv(ctx, low, consts), consts, size)
    return None
