"""Ahead-of-time C code generator: a parsed int8 .tflite -> model.c / model.h + kernels.

Prepare happens here (quantization parameters, shapes, the arena plan); the C
kernels under firmware_templates/engines/aot only evaluate. The generated API is
fixed in docs/contracts.md.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import jinja2

from toolchain.codegen.aot_ops import CTYPES, ConstArray, LowerContext, Lowering, find_lowering
from toolchain.codegen.aot_plan import Step, ascii_layout, plan_arena
from toolchain.codegen.aot_scratch import takes_scratch
from toolchain.codegen.aot_shapes import check_operands
from toolchain.errors import NotSupportedError
from toolchain.escape import environment
from toolchain.files import staged_dir
from toolchain.model import Model, Tensor, load_model
from toolchain.validate import check_model

ENGINE_DIR = Path(__file__).resolve().parents[2] / "firmware_templates" / "engines" / "aot"
_INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)
_PER_LINE = {"int8_t": 24, "uint8_t": 24, "int16_t": 16, "int32_t": 8, "float": 6}


@dataclass
class AotResult:
    out_dir: Path
    files: list[Path]  # everything written: model.c, model.h and the kernel sources
    arena_size: int
    layers: list[str]
    kernels: list[str]
    sources: list[Path] = field(default_factory=list)  # kernel files copied from firmware_templates
    lowered: list[tuple[int, str, Lowering]] = field(default_factory=list)  # (operator, name, lowering) per layer


@dataclass
class _Layer:
    index: int
    name: str
    op: str
    lowering: Lowering
    output: Tensor


def _cvalue(v, indent: int = 0) -> str:
    """A Python value as a C initializer (dicts become designated initializers)."""
    if isinstance(v, dict):
        pad = "    " * (indent + 1)
        items = ",\n".join(f"{pad}.{k} = {_cvalue(x, indent + 1)}" for k, x in v.items())
        return "{\n" + items + ",\n" + "    " * indent + "}"
    if isinstance(v, (list, tuple)):
        return "{ " + ", ".join(_cvalue(x) for x in v) + " }"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float):
        text = f"{v:.9g}"  # 9 significant digits round-trip a float32
        return text + ("f" if "." in text or "e" in text else ".0f")
    return str(v)


def _lower(model: Model, specialize=None, scratch_budget: int | None = None) -> tuple[list[_Layer], list[ConstArray]]:
    """Lower every operator, collecting all refusals before failing. A specialized lowering whose
    scratch exceeds `scratch_budget` bytes is dropped for the plain one (the portable kernel, no scratch)."""
    sg = model.main
    layers, consts, problems = [], [], {}
    for i, op in enumerate(sg.operators):
        fn = find_lowering(op.op)
        if fn is None:
            problems.setdefault(op.op, "not implemented")
            continue
        ctx = LowerContext(model, op, i, consts)
        check_operands(ctx)
        try:
            low = fn(ctx)
            if specialize is not None:
                plain = list(consts)
                fast = specialize(ctx, low, consts)
                if scratch_budget is not None and fast.scratch > scratch_budget:
                    consts[:] = plain
                    low = replace(low, fallback=f"its optimized kernel needs {fast.scratch:,} B of scratch, "
                                                f"over the budget of {scratch_budget:,} B")
                else:
                    low = fast
        except NotSupportedError as e:
            problems.setdefault(op.op, e.message)
            continue
        out = sg.tensors[op.outputs[0]]
        layers.append(_Layer(i, f"{op.op} {model.op_label(sg, op)}", op.op, low, out))
    for t in sg.input_tensors() + sg.output_tensors():
        if t.dtype not in CTYPES:
            problems.setdefault(f"{t.dtype} model input/output", f"tensor '{t.name}' is {t.dtype}")
    if problems:
        detail = "; ".join(f"{op}: {why}" if why != "not implemented" else op for op, why in problems.items())
        raise NotSupportedError(f"the aot engine does not support {detail}",
                                "use `--engine tflm`, which interprets any TFLM-supported model")
    return layers, consts


def _activation_tensors(model: Model) -> dict[int, int]:
    sg = model.main
    used = set(sg.inputs) | set(sg.outputs)
    for op in sg.operators:
        used.update(i for i in op.inputs if i >= 0)
        used.update(op.outputs)
    return {i: sg.tensors[i].nbytes for i in sorted(used) if not sg.tensors[i].is_constant}


def _steps(model: Model, layers: list[_Layer], nbytes: dict[int, int]) -> list[Step]:
    ops = model.main.operators
    return [Step([i for i in ops[l.index].inputs if i in nbytes], [o for o in ops[l.index].outputs if o in nbytes],
                 alias=l.lowering.kernel is None, inplace=l.lowering.inplace, scratch=l.lowering.scratch)
            for l in layers]


def _arg(a, outputs: set[int], offsets: dict[int, int]) -> str:
    if isinstance(a, Tensor):
        ctype = CTYPES[a.dtype]
        const = "" if a.index in outputs else "const "
        return f"ARENA({const}{ctype}, {offsets[a.index]})"
    if isinstance(a, list):
        return "(const int8_t *const[]){ " + ", ".join(_arg(t, outputs, offsets) for t in a) + " }"
    return str(a)


def _shape(t: Tensor) -> str:
    return "[" + "x".join(map(str, t.shape)) + "]"


def _tensor_view(t: Tensor, offset: int) -> dict:
    q = t.quantization
    return {"name": t.name, "offset": offset, "bytes": t.nbytes, "dims": list(t.shape) or [1], "dtype": t.dtype,
            "scale": float(q.scale[0]) if q and t.dtype != "float32" else 0.0,
            "zero_point": q.zero_point[0] if q and t.dtype != "float32" else 0}


def _env() -> jinja2.Environment:
    env = environment(jinja2.FileSystemLoader(ENGINE_DIR), trim_blocks=True, lstrip_blocks=True)
    env.filters["cvalue"] = _cvalue
    return env


def kernel_files(kernels: list[str], headers: list[str]) -> list[Path]:
    """The kernel sources of `kernels` plus every engine header they include, transitively."""
    include = ENGINE_DIR / "include"
    sources = [ENGINE_DIR / "kernels" / f"{k}.c" for k in kernels]
    needed: dict[str, Path] = {}
    todo = [include / "ts_kernels.h"] + [include / h for h in headers] + sources
    while todo:
        path = todo.pop()
        if path.name in needed:
            continue
        needed[path.name] = path
        for name in _INCLUDE.findall(path.read_text()):
            if (include / name).is_file():
                todo.append(include / name)
    return sorted((p for p in needed.values() if p.suffix == ".h"), key=lambda p: p.name) + sources


_CTYPE_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "int32_t": 4, "float": 4}


def const_bytes(model, *, specialize=None) -> int:
    """Bytes of the constant arrays the generator emits for `model` (weights, re-laid filters,
    requantization tables), with the same `specialize` hook as generate_aot.

    Raises:
        NotSupportedError: an op or tensor type the engine lacks.
    """
    model = model if isinstance(model, Model) else load_model(model)
    _, consts = _lower(model, specialize)
    return sum(len(c.values) * _CTYPE_BYTES[c.ctype] for c in consts)


def arena_size(model, *, specialize=None, scratch_budget: int | None = None) -> int:
    """Bytes of the arena generate_aot plans for `model`, kernel scratch included (same
    `specialize` hook and `scratch_budget`).

    Raises:
        NotSupportedError: an op or tensor type the engine lacks.
    """
    model = model if isinstance(model, Model) else load_model(model)
    return _plan(model, _lower(model, specialize, scratch_budget)[0])[0].arena_size


def _plan(model: Model, layers: list[_Layer]):
    """The arena plan of `layers` and the bytes of each activation tensor it places."""
    sg = model.main
    nbytes = _activation_tensors(model)
    return plan_arena(_steps(model, layers, nbytes), nbytes, list(sg.inputs), list(sg.outputs)), nbytes


def aot_sources(model) -> list[Path]:
    """Kernel .c/.h files under firmware_templates a project must copy to run `model`."""
    model = model if isinstance(model, Model) else load_model(model)
    layers, _ = _lower(model)
    lows = [l.lowering for l in layers if l.lowering.kernel]
    return kernel_files(sorted({l.kernel for l in lows}), sorted({l.header_name for l in lows}))


def generate_aot(model, out_dir, *, specialize=None, scratch_budget: int | None = None) -> AotResult:
    """Write model.c, model.h and the kernels `model` uses into `out_dir`.

    `specialize(ctx, lowering, consts) -> Lowering`, if given, may rewrite each lowering
    for a target (weight re-layouts of the optimized kernels, toolchain.codegen.aot_opt);
    where its kernel's scratch exceeds `scratch_budget` bytes the layer keeps the portable path.

    Raises:
        NotSupportedError: an op or tensor type the engine lacks (nothing is written).
    """
    model = check_model(model if isinstance(model, Model) else load_model(model))
    sg = model.main
    layers, consts = _lower(model, specialize, scratch_budget)
    plan, nbytes = _plan(model, layers)
    lows = [l.lowering for l in layers if l.lowering.kernel]
    kernels = sorted({l.kernel for l in lows})
    headers = sorted({l.header_name for l in lows})
    views = []
    for step, l in enumerate(layers):
        op = sg.operators[l.index]
        outputs = set(op.outputs)
        shapes = " + ".join(_shape(sg.tensors[i]) for i in op.inputs if i >= 0 and not sg.tensors[i].is_constant)
        args = [_arg(a, outputs, plan.offsets) for a in l.lowering.args]
        scratch = l.lowering.scratch
        if l.lowering.kernel and takes_scratch(l.lowering.kernel, l.lowering.header_name):
            args.append(f"ARENA(void, {plan.scratch[step]})" if scratch else "NULL")
        views.append({"index": l.index, "name": l.name, "kernel": l.lowering.kernel, "inplace": l.lowering.inplace,
                      "shapes": f"{shapes} -> {_shape(l.output)}", "scratch": scratch,
                      "params_type": l.lowering.params_type, "params": l.lowering.params, "args": args,
                      "output": _tensor_view(l.output, plan.offsets[l.output.index])})
    names = {t: f"t{t} {sg.tensors[t].name.split(';')[0][:40]}" for t in nbytes}
    names.update({("scratch", i): f"scratch of layer {l.index} ({l.lowering.kernel})" for i, l in enumerate(layers)})
    ctx = {
        "name": model.name, "source": model.path.name if model.path else "<bytes>", "crc32": model.crc32,
        "arena_size": plan.arena_size, "arena_used": max((b.offset + b.size for b in plan.buffers), default=0),
        "layout": ascii_layout(plan, names, len(layers)),
        "scratch_max": max((l.lowering.scratch for l in layers), default=0),
        "headers": headers, "consts": consts, "per_line": _PER_LINE, "layers": views,
        "inputs": [_tensor_view(t, plan.offsets[t.index]) for t in sg.input_tensors()],
        "outputs": [_tensor_view(t, plan.offsets[t.index]) for t in sg.output_tensors()],
    }
    env = _env()
    sources = kernel_files(kernels, headers)
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as stage:
        (stage / "model.h").write_text(env.get_template("model.h.j2").render(ctx))
        (stage / "model.c").write_text(env.get_template("model.c.j2").render(ctx))
        for src in sources:
            shutil.copyfile(src, stage / src.name)
    files = [out_dir / "model.c", out_dir / "model.h"] + [out_dir / s.name for s in sources]
    return AotResult(out_dir, files, plan.arena_size, [l.name for l in layers], kernels, sources,
                     [(l.index, l.name, l.lowering) for l in layers])
