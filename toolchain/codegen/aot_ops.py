"""Op lowering registry of the aot engine: one TFLite op -> one C kernel call.

How to add an op (the contract other modules plug into):

    from toolchain.codegen.aot_ops import Lowering, lowering

    @lowering("SOFTMAX")
    def _softmax(ctx):                      # ctx: LowerContext for one operator
        x, y = ctx.input(0), ctx.output(0)
        ctx.int8(x, y)                      # refuse anything but int8 (NotSupportedError)
        return Lowering(
            kernel="ts_softmax_s8",         # kernels/ts_softmax_s8.c, include/ts_softmax_s8.h
            params_type="ts_softmax_params_t",
            params={"rows": 1, "depth": 10, "multiplier": 123, "table": ctx.const_array("lut", "int32_t", [...])},
            args=[x, y],                    # after &params: inputs, constants, outputs
            inplace=True,                   # output may reuse input 0's arena bytes
        )

- `params` are the fields of the kernel's const parameter struct, in any order
  (emitted as C99 designated initializers): ints, floats, C expressions (str, e.g.
  a name from `ctx.const_array`/`ctx.const_tensor`) or lists (array fields).
- `args` items: an activation `Tensor` (rendered as a typed arena pointer, const for
  inputs), a `str` C expression (constants), or a list of Tensors (rendered as an
  array of const pointers, for variadic ops such as CONCATENATION).
- `kernel=None` makes the op an alias: the output shares the input's bytes and no
  code runs (RESHAPE).
- The Prepare arithmetic lives in `toolchain.codegen.quant`; reuse it.
- Lowerings raise `NotSupportedError` for configurations the kernel lacks; the
  generator collects every such reason before writing anything.
_PLUGINS = ("toolchain.codegen.aot_ops_nonlinear", "toolchain.codegen.aot_ops_elementwise",
            "toolchain.codegen.aot_ops_transpose_conv", "toolchain.codegen.aot_ops_shape")
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from toolchain.codegen import quant
from toolchain.errors import NotSupportedError
from toolchain.model import PADDINGS, Model, Operator, Tensor

_PLUGINS = ("toolchain.codegen.aot_ops_nonlinear", "toolchain.codegen.aot_ops_elementwise",
            "toolchain.codegen.aot_ops_transpose_conv", "toolchain.codegen.aot_ops_shape")
_LOWERINGS: dict[str, Callable[["LowerContext"], "Lowering"]] = {}
_plugins_loaded = False

CTYPES = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float", "uint8": "uint8_t"}


@dataclass
class Lowering:
    kernel: str | None
    params_type: str = ""
    params: dict = field(default_factory=dict)
    args: list = field(default_factory=list)
    inplace: bool = False
    header: str = ""  # defaults to include/<kernel>.h
    fallback: str = ""  # why an optimized kernel leaves this layer to the portable one (set by specializers)
    scratch: int = 0  # bytes of caller-owned scratch the call needs (the optimized kernels', aot_scratch)

    @property
    def header_name(self) -> str:
        return self.header or f"{self.kernel}.h"


@dataclass
class ConstArray:
    name: str
    ctype: str
    values: list
    comment: str = ""


def lowering(*ops: str):
    """Register the decorated function as the lowering of `ops`."""

    def register(fn):
        for op in ops:
            _LOWERINGS[op] = fn
        return fn

    return register


def find_lowering(op: str):
    """The lowering registered for builtin op `op`, or None."""
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for name in _PLUGINS:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as e:
                if e.name != name:
                    raise
    return _LOWERINGS.get(op)


class LowerContext:
    """What a lowering sees of one operator: its tensors, options, and a place for const arrays."""

    def __init__(self, model: Model, op: Operator, layer: int, consts: list[ConstArray]):
        self.model, self.op, self.layer = model, op, layer
        self.tensors = model.main.tensors
        self._consts = consts

    @property
    def options(self) -> dict:
        return self.op.options

    def input(self, i: int) -> Tensor | None:
        idx = self.op.inputs[i] if i < len(self.op.inputs) else -1
        return self.tensors[idx] if idx >= 0 else None

    def output(self, i: int) -> Tensor:
        return self.tensors[self.op.outputs[i]]

    def refuse(self, why: str):
        raise NotSupportedError(f"{self.op.op} (layer {self.layer}): {why}")

    def int8(self, *tensors: Tensor):
        for t in tensors:
            if t.dtype != "int8" or t.quantization is None:
                self.refuse(f"tensor '{t.name}' is {t.dtype}{'' if t.quantization else ' without quantization'}, "
                            "the aot engine runs int8 only")

    def qparams(self, t: Tensor) -> tuple[float, int]:
        """Per-tensor (scale, zero_point)."""
        return t.quantization.scale[0], t.quantization.zero_point[0]

    def const_array(self, tag: str, ctype: str, values, comment: str = "") -> str:
        """Emit `static const <ctype> <name>[]` in model.c; returns its name."""
        name = f"l{self.layer}_{tag}"
        self._consts.append(ConstArray(name, ctype, [v.item() if hasattr(v, "item") else v for v in values], comment))
        return name

    def const_tensor(self, t: Tensor, tag: str) -> str:
        """A constant tensor's data as a const array (flattened, row-major)."""
        if not t.is_constant:
            self.refuse(f"operand '{t.name}' must be a constant tensor")
        ctype = CTYPES.get(t.dtype)
        if ctype is None:
            self.refuse(f"constant '{t.name}' has type {t.dtype}")
        return self.const_array(tag, ctype, t.numpy().reshape(-1).tolist(), f"{t.name} {list(t.shape)}")

    def activation_range(self, t: Tensor) -> tuple[int, int]:
        scale, zp = self.qparams(t)
        try:
            return quant.activation_range(self.op.activation, scale, zp)
        except ValueError as e:
            self.refuse(str(e))


def same_padding(stride: int, dilation: int, in_size: int, filter_size: int, out_size: int) -> int:
    """TFLM ComputePaddingHeightWidth (the leading padding; VALID yields 0)."""
    effective = (filter_size - 1) * dilation + 1
    return max(((out_size - 1) * stride + effective - in_size) // 2, 0)


def _window(ctx: LowerContext, x: Tensor, y: Tensor, fh: int, fw: int) -> dict:
    o = ctx.options
    sh, sw = o.get("stride_h", 1), o.get("stride_w", 1)
    dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    _, ih, iw, _ = x.shape
    _, oh, ow, _ = y.shape
    if PADDINGS.get(o.get("padding", 1)) == "SAME":
        ph, pw = same_padding(sh, dh, ih, fh, oh), same_padding(sw, dw, iw, fw, ow)
    else:
        ph = pw = 0
    return {"stride_h": sh, "stride_w": sw, "dilation_h": dh, "dilation_w": dw, "pad_h": ph, "pad_w": pw}


def bias_array(ctx: LowerContext, b: Tensor | None) -> str:
    """The bias const array, or NULL when the op has none (int32 only: no 16x8 models)."""
    if b is None:
        return "NULL"
    if b.dtype != "int32":
        ctx.refuse(f"bias '{b.name}' is {b.dtype}, expected int32")
    return ctx.const_tensor(b, "bias")


def _conv_common(ctx: LowerContext) -> tuple[dict, list]:
    x, w, b, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.int8(x, w, y)
    if len(x.shape) != 4:
        ctx.refuse(f"input shape {list(x.shape)} is not NHWC")
    xs, xz = ctx.qparams(x)
    ys, yz = ctx.qparams(y)
    mult, shift = quant.per_channel_multipliers(xs, w.quantization.scale, ys, y.shape[3])
    lo, hi = ctx.activation_range(y)
    n, ih, iw, ic = x.shape
    _, oh, ow, oc = y.shape
    params = {
        "batches": n, "input_h": ih, "input_w": iw, "input_c": ic,
        "filter_h": w.shape[1], "filter_w": w.shape[2],
        "output_h": oh, "output_w": ow, "output_c": oc,
        **_window(ctx, x, y, w.shape[1], w.shape[2]),
        "input_offset": -xz, "output_offset": yz, "act_min": lo, "act_max": hi,
        "multiplier": ctx.const_array("mult", "int32_t", mult),
        "shift": ctx.const_array("shift", "int32_t", shift),
    }
    return params, [x, ctx.const_tensor(w, "filter"), bias_array(ctx, b), y]


@lowering("CONV_2D")
def _conv2d(ctx: LowerContext) -> Lowering:
    w = ctx.input(1)
    params, args = _conv_common(ctx)
    params["filter_c"] = w.shape[3]
    if params["input_c"] % w.shape[3]:
        ctx.refuse(f"input depth {params['input_c']} is not a multiple of the filter depth {w.shape[3]}")
    return Lowering("ts_conv2d_s8", "ts_conv2d_params_t", params, args)


@lowering("DEPTHWISE_CONV_2D")
def _depthwise(ctx: LowerContext) -> Lowering:
    params, args = _conv_common(ctx)
    params["depth_multiplier"] = params["output_c"] // params["input_c"]
    return Lowering("ts_depthwise_conv2d_s8", "ts_depthwise_conv2d_params_t", params, args)


@lowering("FULLY_CONNECTED")
def _fully_connected(ctx: LowerContext) -> Lowering:
    x, w, b, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.int8(x, w, y)
    if len(w.shape) != 2:
        ctx.refuse(f"weights shape {list(w.shape)} is not [out, in]")
    xs, xz = ctx.qparams(x)
    ys, yz = ctx.qparams(y)
    out_depth, depth = w.shape
    if w.quantization.per_channel:
        mult, shift = quant.per_channel_multipliers(xs, w.quantization.scale, ys, out_depth)
    else:
        m, s = quant.fc_multiplier(xs, w.quantization.scale[0], ys)
        mult, shift = [m], [s]
    lo, hi = ctx.activation_range(y)
    params = {
        "batches": x.size // depth, "accum_depth": depth, "output_depth": out_depth,
        "input_offset": -xz, "filter_offset": -w.quantization.zero_point[0], "output_offset": yz,
        "act_min": lo, "act_max": hi, "per_channel": int(len(mult) > 1),
        "multiplier": ctx.const_array("mult", "int32_t", mult),
        "shift": ctx.const_array("shift", "int32_t", shift),
    }
    return Lowering("ts_fully_connected_s8", "ts_fully_connected_params_t", params,
                    [x, ctx.const_tensor(w, "filter"), bias_array(ctx, b), y])


def _pool(ctx: LowerContext, kernel: str) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    if ctx.qparams(x) != ctx.qparams(y):
        ctx.refuse("input and output quantization differ")
    o = ctx.options
    fh, fw = o["filter_height"], o["filter_width"]
    lo, hi = ctx.activation_range(y)
    n, ih, iw, c = x.shape
    _, oh, ow, _ = y.shape
    win = _window(ctx, x, y, fh, fw)
    params = {
        "batches": n, "input_h": ih, "input_w": iw, "channels": c, "output_h": oh, "output_w": ow,
        "filter_h": fh, "filter_w": fw, "stride_h": win["stride_h"], "stride_w": win["stride_w"],
        "pad_h": win["pad_h"], "pad_w": win["pad_w"], "act_min": lo, "act_max": hi,
    }
    return Lowering(kernel, "ts_pool2d_params_t", params, [x, y], header="ts_pool2d_s8.h")


@lowering("AVERAGE_POOL_2D")
def _avg_pool(ctx):
    return _pool(ctx, "ts_avg_pool2d_s8")


@lowering("MAX_POOL_2D")
def _max_pool(ctx):
    return _pool(ctx, "ts_max_pool2d_s8")


def broadcast(a_shape, b_shape, out_shape, ndims: int = 6) -> dict:
    """A ts_broadcast_t initializer for operands of shapes a and b (numpy broadcasting)."""
    def pad(s):
        return [1] * (ndims - len(s)) + list(s)

    a, b, out = pad(a_shape), pad(b_shape), pad(out_shape)

    def strides(s):
        st, acc = [0] * ndims, 1
        for d in range(ndims - 1, -1, -1):
            st[d] = acc if s[d] != 1 else 0
            acc *= s[d]
        return st

    size = int(np.prod(out))
    return {"size": size, "broadcast": int(not (a == out and b == out)),
            "dims": out, "stride1": strides(a), "stride2": strides(b)}


@lowering("ADD")
def _add(ctx: LowerContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.int8(a, b, y)
    (sa, za), (sb, zb), (sy, zy) = ctx.qparams(a), ctx.qparams(b), ctx.qparams(y)
    left_shift = 20
    twice_max = 2 * float(max(quant.f32(sa), quant.f32(sb)))
    m1, s1 = quant.quantize_multiplier(float(sa) / twice_max)
    m2, s2 = quant.quantize_multiplier(float(sb) / twice_max)
    mo, so = quant.quantize_multiplier(twice_max / ((1 << left_shift) * float(sy)))
    lo, hi = ctx.activation_range(y)
    params = {
        "shape": broadcast(a.shape, b.shape, y.shape),
        "input1_offset": -za, "input2_offset": -zb, "output_offset": zy, "left_shift": left_shift,
        "input1_multiplier": m1, "input1_shift": s1, "input2_multiplier": m2, "input2_shift": s2,
        "output_multiplier": mo, "output_shift": so, "act_min": lo, "act_max": hi,
    }
    args = [ctx.const_tensor(t, f"in{i}") if t.is_constant else t for i, t in enumerate((a, b))]
    return Lowering("ts_add_s8", "ts_add_params_t", params, args + [y], inplace=not a.is_constant and a.shape == y.shape)


@lowering("MUL")
def _mul(ctx: LowerContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.int8(a, b, y)
    (sa, za), (sb, zb), (sy, zy) = ctx.qparams(a), ctx.qparams(b), ctx.qparams(y)
    m, s = quant.quantize_multiplier(float(sa) * float(sb) / float(sy))
    lo, hi = ctx.activation_range(y)
    params = {
        "shape": broadcast(a.shape, b.shape, y.shape),
        "input1_offset": -za, "input2_offset": -zb, "output_offset": zy,
        "output_multiplier": m, "output_shift": s, "act_min": lo, "act_max": hi,
    }
    args = [ctx.const_tensor(t, f"in{i}") if t.is_constant else t for i, t in enumerate((a, b))]
    return Lowering("ts_mul_s8", "ts_mul_params_t", params, args + [y], inplace=not a.is_constant and a.shape == y.shape)


@lowering("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def _reshape(ctx: LowerContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    if x.is_constant or x.nbytes != y.nbytes:
        ctx.refuse("only a reshape of an activation into the same number of bytes can alias")
    return Lowering(None)


def _requantize(ctx, x, y, mult_shift, in_zp, out_zp, lo, hi) -> Lowering:
    params = {"size": y.size, "input_zero_point": in_zp, "output_zero_point": out_zp,
              "multiplier": mult_shift[0], "shift": mult_shift[1], "act_min": lo, "act_max": hi}
    return Lowering("ts_requantize_s8", "ts_requantize_params_t", params, [x, y], inplace=True)


@lowering("QUANTIZE")
def _quantize(ctx: LowerContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(y)
    ys, yz = ctx.qparams(y)
    if x.dtype == "float32":
        params = {"size": y.size, "scale": float(ys), "zero_point": yz}
        return Lowering("ts_quantize_s8", "ts_quantize_params_t", params, [x, y])
    ctx.int8(x)
    xs, xz = ctx.qparams(x)
    return _requantize(ctx, x, y, quant.double_ratio_multiplier(xs, ys), xz, yz, quant.INT8_MIN, quant.INT8_MAX)


@lowering("DEQUANTIZE")
def _dequantize(ctx: LowerContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x)
    if y.dtype != "float32":
        ctx.refuse(f"output is {y.dtype}, only float32 is supported")
    xs, xz = ctx.qparams(x)
    return Lowering("ts_dequantize_s8", "ts_dequantize_params_t", {"size": x.size, "scale": float(xs), "zero_point": xz},
                    [x, y])


@lowering("RELU")
def _relu(ctx: LowerContext) -> Lowering:
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    (xs, xz), (ys, yz) = ctx.qparams(x), ctx.qparams(y)
    lo = max(quant.INT8_MIN, quant.quantize_value(0.0, ys, yz))
    return _requantize(ctx, x, y, quant.float_ratio_multiplier(xs, ys), xz, yz, lo, quant.INT8_MAX)


@lowering("RELU6")
def _relu6(ctx: LowerContext) -> Lowering:
    """TFLM clamps RELU6 in the input's quantization, without requantizing."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.int8(x, y)
    xs, xz = ctx.qparams(x)
    six = min(max(quant.quantize_value(6.0, xs, xz), quant.INT8_MIN), quant.INT8_MAX)
    return _requantize(ctx, x, y, (1 << 30, 1), xz, xz, xz, six)


@lowering("PAD", "PADV2")
def _pad(ctx: LowerContext) -> Lowering:
    x, pads, y = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.int8(x, y)
    if not pads.is_constant:
        ctx.refuse("paddings must be constant")
    if ctx.qparams(x) != ctx.qparams(y):
        ctx.refuse("input and output quantization differ")
    value = ctx.input(2)
    pad_value = int(value.numpy().reshape(-1)[0]) if value is not None else ctx.qparams(y)[1]
    nd = len(x.shape)
    if nd > 6:
        ctx.refuse(f"{nd} dimensions (at most 6)")
    before = [int(p) for p in pads.numpy().reshape(nd, 2)[:, 0]]
    lead = [1] * (6 - nd)
    params = {"input_dims": lead + list(x.shape), "output_dims": lead + list(y.shape),
              "before": [0] * (6 - nd) + before, "pad_value": pad_value}
    return Lowering("ts_pad_s8", "ts_pad_params_t", params, [x, y])


@lowering("CONCATENATION")
def _concatenation(ctx: LowerContext) -> Lowering:
    ins = [ctx.tensors[i] for i in ctx.op.inputs]
    y = ctx.output(0)
    ctx.int8(*ins, y)
    if any(t.is_constant for t in ins):
        ctx.refuse("constant inputs are not supported")
    axis = ctx.options.get("axis", 0) % len(y.shape)
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = int(np.prod(y.shape[axis + 1:], dtype=np.int64))
    ys, yz = ctx.qparams(y)
    mults = [quant.double_ratio_multiplier(ctx.qparams(t)[0], ys) if ctx.qparams(t) != (ys, yz) else (1 << 30, 1)
             for t in ins]
    params = {
        "num_inputs": len(ins), "outer_size": outer, "output_zero_point": yz,
        "copy_size": ctx.const_array("copy", "int32_t", [t.shape[axis] * inner for t in ins]),
        "input_zero_point": ctx.const_array("in_zp", "int32_t", [ctx.qparams(t)[1] for t in ins]),
        "multiplier": ctx.const_array("mult", "int32_t", [m for m, _ in mults]),
        "shift": ctx.const_array("shift", "int32_t", [s for _, s in mults]),
    }
    return Lowering("ts_concatenation_s8", "ts_concatenation_params_t", params, [ins, y])
