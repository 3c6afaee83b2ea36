"""Scratch bytes of the optimized aot kernels, computed at generation time.

Kernels never keep layer-sized buffers on the stack: a kernel that needs scratch declares a
`<kernel>_scratch_size(params)` companion in its header and takes a `void *scratch` argument;
the generator plans the bytes into the arena, alive during that layer only. Each function
here is the Python twin of one C companion (kernels/opt/<kernel>_dsp.c or _mve.c) and must
give at least its figure: the generated model_init() compares them and fails rather than
let a kernel write past its scratch. The portable kernels need none.
"""

from __future__ import annotations

import re
from functools import lru_cache

DW_PLANES_BYTES = 2048  # TS_DW_PLANES_BYTES, ts_depthwise_conv2d_s8_dsp.c
DW_LINES_BYTES = 4 * (DW_PLANES_BYTES // 48)  # TS_DW_LINES_BYTES
MVE_DW_PLANE, MVE_DW_GROUPS = 512, 48  # TS_MVE_DW_PLANE, TS_MVE_DW_GROUPS, ts_depthwise_conv2d_s8_mve.c
MVE_DW_PLANES_SCRATCH = MVE_DW_PLANE + 2 * (MVE_DW_PLANE + 8) + 4 * 5 * MVE_DW_GROUPS
POINTER = 4  # bytes of a pointer on Cortex-M


def _up16(n: int) -> int:
    return (n + 15) // 16 * 16


@lru_cache(maxsize=None)
def takes_scratch(kernel: str, header: str) -> bool:
    """Whether `kernel` takes a scratch argument: its header declares `<kernel>_scratch_size`."""
    from toolchain.codegen.aot import ENGINE_DIR

    path = ENGINE_DIR / "include" / header
    return path.is_file() and re.search(rf"\b{kernel}_scratch_size\s*\(", path.read_text()) is not None


def dsp(kernel: str, p: dict) -> int:
    """Scratch of the DSP-extension variant of `kernel` with generated params `p` (int16 weights
    filter_dsp, or with `--kernels size` int8 ones: filter_dsp8, int8_dsp)."""
    if p.get("filter_dsp8"):
        if kernel == "ts_conv2d_s8":
            return 36 * ((p["filter_h"] * p["filter_w"] * p["input_c"] + 3) >> 2) + 4 + p["output_c"]
        return 16 * (p["accum_depth"] >> 2) + p["output_depth"]
    if not (p.get("filter_dsp") and p.get("requant_dsp")) and not p.get("int8_dsp"):
        return 0
    if kernel == "ts_conv2d_s8":
        k8 = (p["filter_h"] * p["filter_w"] * p["input_c"] + 7) & ~7
        return 2 * k8 + (k8 + 4 if p["input_c"] & 3 else 0)
    if kernel == "ts_fully_connected_s8":
        return 2 * ((p["accum_depth"] + 7) & ~7)
    if kernel == "ts_depthwise_conv2d_s8":
        if p.get("planes_dsp"):
            return DW_PLANES_BYTES + DW_LINES_BYTES
        return p["input_c"] + (4 + POINTER) * p["filter_h"] * p["filter_w"]
    return 0


def mve(kernel: str, p: dict) -> int:
    """Scratch of the Helium variant of `kernel` with generated params `p`."""
    if kernel == "ts_conv2d_s8":
        k, oc = p["filter_h"] * p["filter_w"] * p["input_c"], p["output_c"]
        if p.get("filter_mve") and p["chunks_mve"] <= 4:
            padded = p["padded_h_mve"] * p["padded_w_mve"] * p["input_c"] if p.get("padded_w_mve") else 0
            return 64 + _up16(oc + 3) + _up16(padded)
        if p.get("filter_mve"):
            return 2 * p["chunks_mve"] * 16 + oc
        if p["filter_c"] != p["input_c"]:
            return 0
        return _up16(k) + (0 if p.get("requant_mve") else (oc + 3) // 4 * 64)
    if kernel == "ts_fully_connected_s8":
        return 0 if p["filter_offset"] or p.get("requant_mve") else (p["output_depth"] + 3) // 4 * 64
    if kernel == "ts_depthwise_conv2d_s8":
        if p.get("filter_mve") and p.get("plane_k", 0) != 0:
            return MVE_DW_PLANES_SCRATCH
        if p.get("filter_px"):
            return 8 * p["filter_h"] * p["filter_w"] + 3 * (-(-p["output_c"] // 8) * 8)
    return 0
