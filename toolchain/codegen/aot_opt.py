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

from toolchain.codegen import aot_scratch
from toolchain.codegen.aot import _INCLUDE, ENGINE_DIR, _lower
from toolchain.codegen.aot_ops import Lowering
from toolchain.codegen.quant import multiply_by_quantized_multiplier
from toolchain.errors import NotSupportedError

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


def acc_bound(w: np.ndarray, bias) -> int:
    """The largest |accumulator| of a [rows, k] int8 filter's rows: 255 * sum(|w|) + |bias|
    (|x + input offset| <= 255), what ts_requant's bound ACC_LIMIT is checked against."""
    sums = np.abs(w.astype(np.int64)).sum(axis=1) * 255
    if bias is not None:
        sums = sums + np.abs(bias.astype(np.int64))
    return int(sums.max(initial=0))


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


def dsp_depthwise_channels(w: np.ndarray) -> np.ndarray:
    """A [taps, channels] int8 depthwise filter as int16 for the DSP kernel's channel-by-channel path
    (dsp_depthwise_scalar): per output channel, its taps; doubled as dsp_filter."""
    return (w.astype(np.int16) * 2).T.reshape(-1)


def dsp_depthwise_scalar(p: dict) -> bool:
    """Whether the DSP depthwise kernel runs this layer channel by channel (its dw_scalar): a depth
    multiplier above 1, or channels not a multiple of 4."""
    return p["depth_multiplier"] != 1 or p["output_c"] % 4 != 0


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
    bias = bias_values(low, consts)
    values = {c.name: c.values for c in consts}
    w = np.array(values[low.args[1]], np.int8)  # the filter as lowered (OHWI, 1HWC or [out, in])
    planes = False
    if low.kernel == "ts_depthwise_conv2d_s8":
        rows, k = p["output_c"], p["filter_h"] * p["filter_w"]
        scalar = dsp_depthwise_scalar(p)
        planes = dsp_depthwise_planes(p) and not scalar
        square3 = p["filter_h"] == 3 and p["filter_w"] == 3
        layout = (dsp_depthwise_channels if scalar else dsp_depthwise3x3_filter if planes
                  else dsp_depthwise_pairs if square3 else dsp_depthwise_filter)
        filt = layout(w.reshape(k, rows))
    else:
        rows = p.get("output_c", p.get("output_depth"))
        k = w.size // rows
        if p.get("filter_c", p.get("input_c")) != p.get("input_c"):
            return replace(low, fallback="grouped convolution (the DSP kernel has none)")
        if p.get("filter_offset", 0) != 0:
            return replace(low, fallback="weights with a zero point (the DSP kernel needs symmetric weights)")
        filt = dsp_filter(w.reshape(rows, k))
    bound = acc_bound(w.reshape(k, rows).T if low.kernel == "ts_depthwise_conv2d_s8" else w.reshape(rows, k), bias)
    if bound >= ACC_LIMIT:
        return replace(low, fallback=f"accumulators may reach {bound:,} (255 * sum|w| + |bias| of a row): "
                                     "beyond the DSP requantization's bound 2^29")
    rq_bias = bias
    if low.kernel == "ts_depthwise_conv2d_s8" and scalar:  # the input offset folded: acc = bias + offset * sum(w)
        rq_bias = (bias if bias is not None else 0) + p["input_offset"] * w.reshape(k, rows).astype(np.int64).sum(0)
    table = dsp_requant(rq_bias, values[p["multiplier"]], values[p["shift"]], p["output_offset"], rows)
    if table is None:
        return replace(low, fallback="a requantization outside the DSP kernel's form (a left shift, or the "
                                     "output offset overflowing the rounding term)")
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


def filter_rows(low: Lowering, consts: list) -> np.ndarray | None:
    """The int8 filter of a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED lowering as
    [output channels, k] (a copy), or None for other lowerings or a filter not in `consts`."""
    values = {c.name: c.values for c in consts}
    if low.kernel not in _GEMM | {"ts_depthwise_conv2d_s8"} or low.args[1] not in values:
        return None
    w = np.array(values[low.args[1]], np.int8)
    if low.kernel == "ts_depthwise_conv2d_s8":
        return w.reshape(-1, low.params["output_c"]).T.copy()
    return w.reshape(low.params.get("output_c", low.params.get("output_depth")), -1)


def bias_values(low: Lowering, consts: list) -> np.ndarray | None:
    """The int32 bias of a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED lowering (its third
    argument) as int64, or None when it has none."""
    values = {c.name: c.values for c in consts}
    return np.array(values[low.args[2]], np.int64) if low.args[2] in values else None


def fold_constant_channels(ctx, low: Lowering, consts: list) -> Lowering:
    """Give every constant output channel of a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED
    (all-zero weights, or a zero multiplier: a quantizer's dead channels, whose scale of ~1e-9
    and bias of ~2^30 would put the layer outside the optimized kernels' accumulator bound)
    the requantization of its constant output instead: weights 0, bias 4 * (out - zero point),
    multiplier 2^30 and shift -1, which every kernel maps exactly to `out` =
    clamp(requantize(bias) + zero point), the value TFLM computes for it."""
    w = filter_rows(low, consts)
    p = low.params
    if w is None or p.get("filter_offset", 0) != 0:
        return low
    values = {c.name: c.values for c in consts}
    rows = w.shape[0]
    mult = np.resize(np.array(values[p["multiplier"]], np.int64), rows)
    shift = np.resize(np.array(values[p["shift"]], np.int64), rows)
    dead = ~w.any(axis=1) | (mult == 0)
    if not dead.any():
        return low
    bias = bias_values(low, consts)
    bias = np.zeros(rows, np.int64) if bias is None else bias
    zp = p["output_offset"]
    for r in np.flatnonzero(dead):
        out = multiply_by_quantized_multiplier(int(bias[r]), int(mult[r]), int(shift[r])) + zp
        bias[r] = 4 * (min(max(out, p["act_min"]), p["act_max"]) - zp)
    w[dead] = 0
    mult[dead], shift[dead] = 1 << 30, -1
    filt = w.T if low.kernel == "ts_depthwise_conv2d_s8" else w
    names = (low.args[1], low.args[2], p["multiplier"], p["shift"])
    consts[:] = [c for c in consts if c.name not in names]
    note = f"{int(dead.sum())} constant channels folded"
    args = [low.args[0], ctx.const_array("filter", "int8_t", filt.reshape(-1), note),
            ctx.const_array("bias", "int32_t", bias, note), *low.args[3:]]
    params = dict(p, multiplier=ctx.const_array("mult", "int32_t", mult),
                  shift=ctx.const_array("shift", "int32_t", shift))
    if "per_channel" in params:
        params["per_channel"] = 1
    return replace(low, params=params, args=args)


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
    KERNEL_CHOICES entry: one-channel depthwise layers become convolutions, constant channels are
    folded, and DSP-only cores get the int16 re-layouts (speed) or int8 weights (size); each
    lowering then carries the scratch its optimized kernel needs (aot_scratch). None for
    portable kernels."""
    if kernels == "portable":
        return None
    if features.get("mve"):
        from toolchain.codegen.aot_opt_mve import specialize_mve

        fast, scratch = specialize_mve, aot_scratch.mve
    elif features.get("dsp"):
        size = kernels == "size"

        def fast(ctx, low, consts):
            return specialize_dsp(ctx, fold_constant_channels(ctx, depthwise_as_conv(ctx, low, consts), consts),
                                  consts, size)

        scratch = aot_scratch.dsp
    else:
        return None

    def specialize(ctx, low: Lowering, consts: list) -> Lowering:
        low = fast(ctx, low, consts)
        return replace(low, scratch=scratch(low.kernel, low.params)) if low.kernel else low

    return specialize


_POOL_WINDOW = {"dsp": 1 << 23, "mve": 4088}  # TS_AVG_DSP_MAX_WINDOW, TS_AVG_MVE_MAX_RECIP


def _rows_plannable(shape: dict) -> bool:
    """Whether ts_rows_plan (ts_opt.h) walks a broadcast shape as rows of one run against a run or
    a repeated element (its merge of dimensions, in Python)."""
    if not shape["broadcast"]:
        return True
    dims, s1, s2 = [], [], []
    for d, a, b in zip(shape["dims"], shape["stride1"], shape["stride2"]):
        if d == 1:
            continue
        if dims and s1[-1] == a * d and s2[-1] == b * d:
            dims[-1], s1[-1], s2[-1] = dims[-1] * d, a, b
        else:
            dims.append(d), s1.append(a), s2.append(b)
    return not dims or (s1[-1] + s2[-1] != 0 and (s1[-1] | s2[-1]) <= 1)


def _add_refusal(p: dict, variant: str) -> str:
    """Why the optimized ADD (kernels/opt/ts_add_s8_<variant>.c) runs the portable kernel, or ""."""
    if p.get("subtract"):
        return "a SUB (the optimized kernel only adds)"
    inputs_ok = all((m == 1 << 30 and s == 0) or -31 <= s <= -1
                    for m, s in ((p["input1_multiplier"], p["input1_shift"]),
                                 (p["input2_multiplier"], p["input2_shift"])))
    right = -p["output_shift"]
    if variant == "dsp":
        add = (1 << (right - 1)) + p["output_offset"] * (1 << right) if 1 <= right <= 31 else 1 << 40
        ok = p["left_shift"] == 20 and abs(add) < 1 << 30
    else:
        ok = 1 <= p["left_shift"] <= 22 and 1 <= right <= 31
    if not (ok and inputs_ok):
        return "a requantization outside the optimized kernel's form"
    return "" if _rows_plannable(p["shape"]) else "a broadcast the optimized kernel does not walk as rows"


def kernel_choice(low: Lowering, features: dict, portable: bool = False) -> tuple[str | None, str]:
    """(kernel, reason) for one layer as lowered and specialized for a core with `features`:
    "dsp" / "mve" when an optimized kernel runs it, else "portable" and why (None and "" for a
    layer that runs no code: a reshape). `portable`: the project was asked for portable kernels.
    Mirrors the run-time checks of kernels/opt/*.c."""
    variant = "mve" if features.get("mve") else "dsp" if features.get("dsp") else None
    if low.kernel is None:
        return None, ""
    if portable:
        return "portable", "portable kernels requested"
    if variant is None:
        return "portable", "the core has neither the DSP extension nor Helium"
    if not (OPT_DIR / f"{low.kernel}_{variant}.c").is_file():
        return "portable", f"no {variant} kernel for this op"
    p = low.params
    reason = low.fallback
    if low.kernel == "ts_avg_pool2d_s8":
        window = min(p["filter_h"], p["input_h"]) * min(p["filter_w"], p["input_w"])
        if window > _POOL_WINDOW[variant]:
            reason = f"a window of {window} elements (the {variant} kernel takes at most {_POOL_WINDOW[variant]})"
    if low.kernel == "ts_add_s8":
        reason = _add_refusal(p, variant)
    if low.kernel == "ts_mean_s8" and not (p["reduced_ndims"] == 1 and p["kept_ndims"] >= 1
                                           and p["kept_strides"][p["kept_ndims"] - 1] == 1):
        reason = "a reduction other than over outer axes of contiguous kept ones (ts_mean_channels_inner)"
    return ("portable", reason) if reason else (variant, "")


def layer_kernels(lowered, features: dict, portable: bool = False) -> list[dict]:
    """Which kernel runs each layer, for `generate --json` and `analyze --board`: per
    (operator index, layer name, Lowering), {"index", "name", "kernel", "reason"} (kernel_choice;
    reason None when an optimized kernel runs it)."""
    rows = []
    for index, name, low in lowered:
        kernel, reason = kernel_choice(low, features, portable)
        rows.append({"index": index, "name": name, "kernel": kernel, "reason": reason or None})
    return rows


def model_kernels(model, features: dict) -> list[dict] | None:
    """layer_kernels of `model` lowered for a core with `features`; None when the aot engine
    cannot lower it."""
    try:
        layers, _ = _lower(model, specializer(features))
    except NotSupportedError:
        return None
    return layer_kernels([(l.index, l.name, l.lowering) for l in layers], features)
