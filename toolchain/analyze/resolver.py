"""The `MicroMutableOpResolver` header that registers exactly the ops a model uses."""

from __future__ import annotations

from pathlib import Path

import jinja2

from toolchain.engines import TFLM_RESOLVER_METHODS
from toolchain.errors import NotSupportedError
from toolchain.escape import c_ident, environment
from toolchain.files import atomic_write
from toolchain.model import Model

_TEMPLATES = Path(__file__).parent / "templates"


def resolver_ops(model: Model) -> list[tuple[str, str]]:
    """(op, Add<Op> method) for each distinct op of every subgraph, in order of first use.

    Raises:
        NotSupportedError: an op (e.g. a custom one) that TFLM's resolver cannot register.
    """
    ops = model.op_names()
    missing = [op for op in ops if op not in TFLM_RESOLVER_METHODS]
    if missing:
        raise NotSupportedError(f"TFLM has no builtin kernel to register for {', '.join(missing)}",
                                "register custom ops by hand or change the model to use builtin ops")
    return [(op, TFLM_RESOLVER_METHODS[op]) for op in ops]


def render_resolver(model: Model) -> str:
    ident = c_ident(model.name.strip("_") or "model")
    env = environment(jinja2.FileSystemLoader(_TEMPLATES))
    return env.get_template("resolver.h.j2").render(
        model_name=model.name, crc32=f"{model.crc32:08x}", ops=resolver_ops(model),
        guard=f"TINYSHIP_{ident.upper()}_OP_RESOLVER_H_", guard_ns=f"{ident}_ops")


def emit_resolver(model: Model, path) -> Path:
    """Write the resolver header for `model` to `path` (atomically)."""
    return atomic_write(path, render_resolver(model))
