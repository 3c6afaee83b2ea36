"""aot lowerings of the nonlinear int8 ops: SOFTMAX, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, MEAN.

Each function is the Prepare of the TFLM kernel of the same op (the file named in
its docstring), redone in Python at generation time with the same float32/float64
mix, so that the C kernel (Eval only) matches TFLM byte for byte.
"""

from __future__ import annotations

import math

import numpy as np

from toolchain.codegen import quant
from toolchain.codegen.aot_ops import LowerContext, Lowering, lowering

_MAX_DIMS = 6  # TS_MAX_DIMS in ts_kernels.h


def _input_to_q4(ctx: LowerContext, scale: float) -> dict:
    """logistic_common.cc / tanh.cc: input rescaled to Q4.27, saturation radius."""
    q, left_shift = math.frexp(float(scale) * float(1 << 27))
    multiplier = quant.round_half_away(q * (1 << 31))
    if multiplier == 1 << 31 or left_shift < 0:
        ctx.refuse(f"input scale {scale} is outside the range TFLM's fixed-point arithmetic handles")
    radius = math.floor(15.0 * (1 << 27) / (1 << left_shift))
    return {"input_multiplier": multiplier, "input_left_shift": left_shift, "input_range_radius": radius}


@lowering("SOFTMAX")
def _softmax(ctx: LowerContext) -> Lowering:
    """softmax_common.cc CalculateSoftmaxParams (int8 -> int8)."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    xs, _ = ctx.qparams(x)
    if ctx.qparams(y) != (1.0 / 256, -128):
        ctx.refuse("output scale {:g}, zero point {} is not the 1/256, -128 int8 softmax requires".format(*ctx.qparams(y)))
    beta = float(ctx.options.get("beta", 1.0))
    real = min(beta * float(xs) * float(1 << 26), float((1 << 31) - 1))
    multiplier, left_shift = quant.quantize_multiplier(real)
    if real <= 1.0 or left_shift < 0:
        ctx.refuse(f"beta * input scale = {beta * xs:g} is too small for TFLM's int8 softmax")
    diff_min = -math.floor(31.0 * (1 << 26) / (1 << left_shift))
    depth = x.shape[-1] if x.shape else 1
    params = {"outer_size": x.size // depth, "depth": depth, "input_multiplier": multiplier,
              "input_left_shift": left_shift, "diff_min": diff_min}
    return Lowering("ts_softmax_s8", "ts_softmax_params_t", params, [x, y], inplace=True)


@lowering("LOGISTIC")
def _logistic(ctx: LowerContext) -> Lowering:
    """logistic_common.cc CalculateArithmeticOpDataLogistic (int8)."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    xs, xz = ctx.qparams(x)
    if ctx.qparams(y)[1] != -128:
        ctx.refuse(f"output zero point {ctx.qparams(y)[1]} is not -128")
    params = {"size": x.size, "input_offset": -xz, **_input_to_q4(ctx, xs)}
    return Lowering("ts_logistic_s8", "ts_fx_act_params_t", params, [x, y], inplace=True, header="ts_fx_act_s8.h")


@lowering("TANH")
def _tanh(ctx: LowerContext) -> Lowering:
    """tanh.cc TanhPrepare (int8); TFLM assumes an output of scale 1/128, zero point 0."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    xs, xz = ctx.qparams(x)
    params = {"size": x.size, "input_offset": -xz, **_input_to_q4(ctx, xs)}
    return Lowering("ts_tanh_s8", "ts_fx_act_params_t", params, [x, y], inplace=True, header="ts_fx_act_s8.h")


def _q15_multiplier(ctx: LowerContext, real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplier then DownScaleInt32ToInt16Multiplier (hard_swish_common.cc)."""
    m32, exponent = quant.quantize_multiplier(real)
    if not -15 <= exponent <= 15:
        ctx.refuse(f"{what} multiplier {real:g} is outside what TFLM's 16-bit arithmetic handles")
    m16 = 32767 if m32 >= (1 << 31) - 1 - (1 << 15) else (m32 + (1 << 15)) >> 16
    return m16, exponent


@lowering("HARD_SWISH")
def _hard_swish(ctx: LowerContext) -> Lowering:
    """hard_swish_common.cc HardSwishPrepare (int8): float32 scale ratios, Q15 multipliers."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    (xs, xz), (ys, yz) = ctx.qparams(x), ctx.qparams(y)
    hires_scale = quant.f32(1.0 / 128.0) * quant.f32(xs)
    reluish_scale = quant.f32(3.0) / quant.f32(32768.0)
    out_m, out_e = _q15_multiplier(ctx, float(hires_scale / quant.f32(ys)), "output")
    if out_e > 0:
        ctx.refuse(f"output multiplier exponent {out_e} > 0 (TFLM rejects it too)")
    relu_m, relu_e = _q15_multiplier(ctx, float(hires_scale / reluish_scale), "relu-ish")
    params = {"size": x.size, "input_offset": -xz, "output_offset": yz,
              "output_multiplier": out_m, "output_multiplier_exponent": out_e,
              "reluish_multiplier": relu_m, "reluish_multiplier_exponent": relu_e}
    return Lowering("ts_hard_swish_s8", "ts_hard_swish_params_t", params, [x, y], inplace=True)


@lowering("LEAKY_RELU")
def _leaky_relu(ctx: LowerContext) -> Lowering:
    """leaky_relu_common.cc CalculateOpDataLeakyRelu (int8): both ratios in float32."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    (xs, xz), (ys, yz) = ctx.qparams(x), ctx.qparams(y)
    alpha_real = float(quant.f32(xs) * quant.f32(ctx.options.get("alpha", 0.2)) / quant.f32(ys))
    alpha_m, alpha_s = quant.quantize_multiplier(abs(alpha_real))
    identity_m, identity_s = quant.float_ratio_multiplier(xs, ys)
    params = {"size": x.size, "input_offset": -xz, "output_offset": yz,
              "multiplier_identity": identity_m, "shift_identity": identity_s,
              "multiplier_alpha": -alpha_m if alpha_real < 0 else alpha_m, "shift_alpha": alpha_s}
    return Lowering("ts_leaky_relu_s8", "ts_leaky_relu_params_t", params, [x, y], inplace=True)


def split_axes(shape, axes) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(kept, reduced) lists of (dim, input stride): size-1 axes dropped, same-kind neighbours merged."""
    strides = [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape))]
    runs: list[list] = []  # [dim, stride, reduced]
    for i, d in enumerate(shape):
        if d == 1:
            continue
        if runs and runs[-1][2] == (i in axes):
            runs[-1][0] *= d
            runs[-1][1] = strides[i]
        else:
            runs.append([d, strides[i], i in axes])
    return [(d, s) for d, s, r in runs if not r], [(d, s) for d, s, r in runs if r]


def reduction(ctx: LowerContext) -> tuple[list[int], dict]:
    """The reduced axes of a MEAN/REDUCE_MAX-like op (axis operand 1) and the kernel's axis-split fields."""
    x, axis = ctx.input(0), ctx.input(1)
    if axis is None or not axis.is_constant:
        ctx.refuse("the axis operand must be constant")
    nd = len(x.shape)
    axes = sorted({int(a) % nd for a in axis.numpy().reshape(-1)}) if nd else []
    kept, reduced = split_axes(x.shape, set(axes))
    if len(kept) > _MAX_DIMS or len(reduced) > _MAX_DIMS:
        ctx.refuse(f"input shape {list(x.shape)} splits into more than {_MAX_DIMS} axis groups")

    def padded(values):  # fixed-size C arrays, never an empty initializer
        values = list(values)
        return values + [0] * (_MAX_DIMS - len(values))

    return axes, {"kept_ndims": len(kept), "kept_dims": padded(d for d, _ in kept),
                  "kept_strides": padded(s for _, s in kept), "reduced_ndims": len(reduced),
                  "reduced_dims": padded(d for d, _ in reduced), "reduced_strides": padded(s for _, s in reduced)}


@lowering("MEAN")
def _mean(ctx: LowerContext) -> Lowering:
    """reduce_common.cc PrepareMeanOrSumHelper, plus the 1/count folding of reduce.h QuantizedMeanOrSum."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    axes, split = reduction(ctx)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    (xs, xz), (ys, yz) = ctx.qparams(x), ctx.qparams(y)
    multiplier, shift = quant.double_ratio_multiplier(xs, ys)
    pre_shift = min(count.bit_length() - 1, 32, 31 + shift)
    multiplier, shift = (multiplier << pre_shift) // count, shift - pre_shift
    params = {**split, "input_offset": -xz, "output_offset": yz, "multiplier": multiplier, "shift": shift}
    return Lowering("ts_mean_s8", "ts_mean_params_t", params, [x, y])
