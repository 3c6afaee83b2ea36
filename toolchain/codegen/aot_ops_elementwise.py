"""aot lowerings of the binary int8 ops SUB, MAXIMUM and MINIMUM (numpy broadcasting, as ADD).

SUB is ADD's kernel with its `subtract` flag: TFLM's sub_common.cc CalculateOpDataSub is
add_common.cc's Prepare line for line, and its Eval subtracts the rescaled operands. A
negated input-2 multiplier is not the same arithmetic (the doubling high multiply rounds
its ties upwards, so -(x * m) and x * -m differ by one there and now and then in the output:
tests/test_aot_elementwise.py has such a case), hence the flag.

MAXIMUM and MINIMUM in TFLM (maximum_minimum.cc) compare the stored int8 values without
any requantization, which is the float result only when both inputs are quantized like the
output: the converter gives them that; anything else is refused.
"""

from __future__ import annotations

from toolchain.codegen.aot_ops import LowerContext, Lowering, broadcast, find_lowering, lowering


@lowering("SUB")
def _sub(ctx: LowerContext) -> Lowering:
    low = find_lowering("ADD")(ctx)
    low.params["subtract"] = 1
    return low


@lowering("MAXIMUM", "MINIMUM")
def _max_min(ctx: LowerContext) -> Lowering:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.int8(a, b, y)
    if not ctx.qparams(a) == ctx.qparams(b) == ctx.qparams(y):
        ctx.refuse("inputs and output are quantized differently ({}); TFLM compares the stored values, "
                   "which is right only for one quantization".format(
                       ", ".join("scale {:g} zero point {}".format(*ctx.qparams(t)) for t in (a, b, y))))
    params = {"shape": broadcast(a.shape, b.shape, y.shape), "minimum": int(ctx.op.op == "MINIMUM")}
    args = [ctx.const_tensor(t, f"in{i}") if t.is_constant else t for i, t in enumerate((a, b))]
    return Lowering("ts_max_min_s8", "ts_max_min_params_t", params, args + [y],
                    inplace=not a.is_constant and a.shape == y.shape)
