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
KERNEL_CHOICES = ("optimized", "portable")


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


def dsp_filter(w: np.ndarray) -> np.ndarray:
    """A [rows, k] int8 filter widened to int16 in the layout of ts_gemv_dsp (ts_gemm_dsp.h).

    Rows are padded to a multiple of 4 and k to a multiple of 8 with zeros; for each quad of
    rows and each group of four k: row 0 (w0, w2, w1, w3), row 1 (...), row 2, row 3.
    """
    rows, k = w.shape
    padded = np.zeros((-(-rows // 4) * 4, -(-k // 8) * 8), np.int16)
    padded[:rows, :k] = w
    quads = padded.reshape(padded.shape[0] // 4, 4, padded.shape[1] // 4, 4)[..., [0, 2, 1, 3]]
    return quads.transpose(0, 2, 1, 3).reshape(-1)


def _bounded(bias, k: int) -> bool:
    limit = ACC_LIMIT - k * 128 * 255
    return limit > 0 and (bias is None or int(np.abs(bias.numpy().astype(np.int64)).max(initial=0)) < limit)


def specialize_dsp(ctx, low: Lowering, consts: list) -> Lowering:
    """Re-lay CONV_2D / FULLY_CONNECTED filters for the DSP kernels where their fast path applies.

    The int8 filter is dropped (the call passes NULL): the kernel reads `params.filter_dsp`.
    """
    if low.kernel not in ("ts_conv2d_s8", "ts_fully_connected_s8"):
        return low
    w = ctx.input(1)
    rows, k = w.shape[0], int(np.prod(w.shape[1:]))
    if low.kernel == "ts_conv2d_s8" and low.params["filter_c"] != low.params["input_c"]:
        return low
    if low.kernel == "ts_fully_connected_s8" and low.params["filter_offset"] != 0:
        return low
    if not _bounded(ctx.input(2), k):
        return low
    name = low.args[1]
    consts[:] = [c for c in consts if c.name != name]
    values = dsp_filter(w.numpy().reshape(rows, k))
    params = dict(low.params, filter_dsp=ctx.const_array("filter_dsp", "int16_t", values, f"{w.name} for SMLAD"))
    return replace(low, params=params, args=[low.args[0], "NULL", *low.args[2:]])


def specializer(features: dict):
    """The generator's `specialize` hook for a core: DSP-only cores get the int16 re-layouts."""
    return specialize_dsp if features.get("dsp") and not features.get("mve") else None
