"""Generation-time specializations for the Helium (MVE) kernels (Cortex-M55).

`specialize_mve` is the generator's `specialize` hook for Helium cores (see
toolchain.codegen.aot_opt.specializer): one-channel depthwise layers become convolutions.
"""

from __future__ import annotations

from toolchain.codegen.aot_ops import Lowering


def specialize_mve(ctx, low: Lowering, consts: list) -> Lowering:
    from toolchain.codegen.aot_opt import depthwise_as_conv
    from toolchain.codegen.aot_opt_mve_dw import specialize_depthwise_mve

    low = depthwise_as_conv(ctx, low, consts)
    low = specialize_depthwise_mve(ctx, low, consts)
    return low
