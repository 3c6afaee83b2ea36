"""aot lowering of TRANSPOSE_CONV (Keras Conv2DTranspose, Conv1DTranspose), int8 per-channel.

The Prepare of TFLM's transpose_conv.cc: inputs are (output shape, filter [O, H, W, I],
input, bias); the padding is derived from the output size (the convolution this op
transposes maps the output onto the input), and the multipliers are those of a conv.
"""

from __future__ import annotations

from toolchain.codegen import quant
from toolchain.codegen.aot_ops import LowerContext, Lowering, bias_array, lowering, same_padding
from toolchain.model import PADDINGS


def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // b
    return q if a >= 0 else -q


def transpose_padding(padding: str, stride: int, output_size: int, filter_size: int) -> int:
    """TFLM ComputePaddingHeightWidth(stride, 1, output_size, filter_size): the leading padding
    of the convolution from the output back to the input, whose size TFLM recomputes from the
    output size (ComputeOutSize) rather than taking the input tensor's."""
    if padding == "SAME":
        size = _c_div(output_size + stride - 1, stride)
    else:
        size = _c_div(output_size + stride - filter_size, stride)
    return same_padding(stride, 1, output_size, filter_size, size)


@lowering("TRANSPOSE_CONV")
def _transpose_conv(ctx: LowerContext) -> Lowering:
    w, x, b, y = ctx.input(1), ctx.input(2), ctx.input(3), ctx.output(0)
    ctx.int8(x, w, y)
    o = ctx.options
    padding = PADDINGS.get(o.get("padding", 0))
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    n, ih, iw, ic = x.shape
    _, oh, ow, oc = y.shape
    _, fh, fw, _ = w.shape
    xs, xz = ctx.qparams(x)
    ys, yz = ctx.qparams(y)
    mult, shift = quant.per_channel_multipliers(xs, w.quantization.scale, ys, oc)
    lo, hi = ctx.activation_range(y)  # TFLM applies the fused activation (older TFLM ignored it)
    params = {
        "batches": n, "input_h": ih, "input_w": iw, "input_c": ic, "filter_h": fh, "filter_w": fw,
        "output_h": oh, "output_w": ow, "output_c": oc, "stride_h": sh, "stride_w": sw,
        "pad_h": transpose_padding(padding, sh, oh, fh), "pad_w": transpose_padding(padding, sw, ow, fw),
        "input_offset": -xz, "output_offset": yz, "act_min": lo, "act_max": hi,
        "multiplier": ctx.const_array("mult", "int32_t", mult),
        "shift": ctx.const_array("shift", "int32_t", shift),
    }
    return Lowering("ts_transpose_conv2d_s8", "ts_transpose_conv2d_params_t", params,
                    [x, ctx.const_tensor(w, "filter"), bias_array(ctx, b), y])
