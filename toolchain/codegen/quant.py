"""Quantization parameters computed at generation time, exactly as TFLM's Prepare does.

TFLM mixes float32 and float64 arithmetic when it derives multipliers; each helper
names the precision it reproduces, because one ulp of difference in a real
multiplier can change the Q31 multiplier and so an output byte.
"""

from __future__ import annotations

import math

import numpy as np

from toolchain.errors import NotSupportedError

INT8_MIN, INT8_MAX = -128, 127


def f32(x) -> np.float32:
    return np.float32(x)


def round_half_away(x: float) -> int:
    """std::round / roundf: halves round away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLM QuantizeMultiplier: real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31).

    Raises:
        NotSupportedError: a negative, infinite or NaN multiplier, or one of 2^31 or more
        (scales the model validation lets through can still combine into these).
    """
    if real == 0.0:
        return 0, 0
    if not 0 < real < 2.0 ** 31:
        raise NotSupportedError(f"quantization scales combine into the real multiplier {real:g}, "
                                "which has no fixed-point form", "check the model's quantization scales")
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def quantize_value(value: float, scale: float, zero_point: int) -> int:
    """zero_point + roundf(value / scale), the division done in float32 as TFLM does."""
    return zero_point + round_half_away(float(f32(value) / f32(scale)))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """TFLM CalculateActivationRangeQuantized for an int8 output."""
    lo, hi = INT8_MIN, INT8_MAX
    if activation == "RELU":
        lo = max(lo, quantize_value(0.0, scale, zero_point))
    elif activation == "RELU6":
        lo = max(lo, quantize_value(0.0, scale, zero_point))
        hi = min(hi, quantize_value(6.0, scale, zero_point))
    elif activation == "RELU_N1_TO_1":
        lo = max(lo, quantize_value(-1.0, scale, zero_point))
        hi = min(hi, quantize_value(1.0, scale, zero_point))
    elif activation != "NONE":
        raise ValueError(f"fused activation {activation} has no int8 clamp range")
    return lo, hi


def per_channel_multipliers(input_scale: float, filter_scales, output_scale: float, channels: int):
    """Conv/depthwise/per-channel FC: double(in) * double(filter[c]) / double(out) per channel."""
    scales = list(filter_scales) if len(filter_scales) > 1 else [filter_scales[0]] * channels
    pairs = [quantize_multiplier(float(input_scale) * float(s) / float(output_scale)) for s in scales]
    return [m for m, _ in pairs], [s for _, s in pairs]


def fc_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """Per-tensor FULLY_CONNECTED: TFLM's GetQuantizedConvolutionMultipler, which takes the
    input * filter product in float32 (even when it checks the bias scale in double)."""
    product = float(f32(input_scale) * f32(filter_scale))
    return quantize_multiplier(product / float(output_scale))


def float_ratio_multiplier(num: float, den: float) -> tuple[int, int]:
    """(double)(float num / float den): how TFLM's RELU derives its multiplier."""
    return quantize_multiplier(float(f32(num) / f32(den)))


def double_ratio_multiplier(num: float, den: float) -> tuple[int, int]:
    """(double)num / (double)den: QUANTIZE int8->int8 requantization."""
    return quantize_multiplier(float(num) / float(den))


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """TFLM's reference MultiplyByQuantizedMultiplier on int32 values (ts_mbqm in ts_kernels.h)."""
    left, right = max(shift, 0), max(-shift, 0)
    x = ((x << left) + (1 << 31)) % (1 << 32) - (1 << 31)  # the left shift wraps like int32
    if x == multiplier == -(1 << 31):
        high = (1 << 31) - 1
    else:
        ab = x * multiplier
        num = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
        high = abs(num) >> 31 if num >= 0 else -(abs(num) >> 31)  # truncated toward zero
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if (high & mask) > threshold else 0)
