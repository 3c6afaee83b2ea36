"""`generate`: a model + a board + an engine -> a self-contained firmware project.

Layout (every builder):
    src/app/        the protocol shell (firmware_templates/app)
    src/platform/   board glue (firmware_templates/platform/<board.platform>, plus the UART's folder on cortex-m)
    src/engine/     the engine adapter (tflm, or aot on the generated model)
    src/model/      the model: generated aot model.c/.h + kernels, or the exported TFLite array
    src/tinyship_config.h, tinyship.json (what `build` needs to know), NAME.tflite (the model it runs)
Make builds (host, QEMU and bare-metal STM32 boards) get a Makefile (+ linker.ld on Cortex-M);
PlatformIO builds get platformio.ini (toolchain.codegen.target picks the builder).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from toolchain.boards import Board, resolve_board
from toolchain.errors import InputError, NotSupportedError
from toolchain.escape import c_ident, environment
from toolchain.files import staged_dir
from toolchain.model import Model, load_model
from toolchain.validate import check_model, tflm_allocates

TEMPLATES = Path(__file__).resolve().parents[2] / "firmware_templates"
ENGINES = ("aot", "tflm")
MANIFEST = "tinyship.json"
ARENA_MARGIN = 0.10   # on top of the analyzer's plan, for the tflm engine
TFLM_TREE_HELP = ("give a TFLM source tree with --tflm-dir DIR or TFLM_DIR: `tinyship tflm-tree DIR` makes one "
                  "(add --cmsis-nn for CMSIS-NN kernels); offline, run TFLM's create_tflm_tree.py as "
                  "docs/tflm-engine.md says")


@dataclass
class Project:
    dir: Path
    board: Board
    engine: str
    model_name: str
    crc32: int
    builder: str  # "make" or "platformio"
    files: list[Path]
    kernels: str | None = None  # the aot engine's kernel set (aot_opt.KERNEL_CHOICES)
    layers: list[dict] | None = None  # aot: which kernel runs each layer and why (aot_opt.layer_kernels)


def _env() -> jinja2.Environment:
    return environment(jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, lstrip_blocks=True)


def _model_name(model: Model) -> str:
    """The model's name as the firmware prints it: a C string, and never containing `m-ready`
    (an MLPerf Tiny runner ends a reply at any line that contains it)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", model.name).replace("m-ready", "m_ready")


def _tflm_dir(tflm_dir, board: Board) -> str:
    """The TFLM tree every tflm project builds from (PlatformIO ones copy it as lib/tflm)."""
    tflm_dir = tflm_dir or os.environ.get("TFLM_DIR")
    if not tflm_dir:
        raise InputError(f"the tflm engine on {board.id} needs a TFLM source tree", TFLM_TREE_HELP)
    path = Path(tflm_dir).resolve()
    if not (path / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
        raise InputError(f"{path} is not a TFLM source tree (no tensorflow/lite/micro/micro_interpreter.h)",
                         TFLM_TREE_HELP)
    return str(path)


def _tflm_arena(model: Model, board: Board, cmsis_nn: bool = False) -> tuple[int, int, int]:
    """(arena size, planned bytes, margin): the analyzer's plan (head + tail) plus ARENA_MARGIN,
    plus, for a CMSIS-NN tree, what its kernels take from the arena besides (_cmsis_nn_extra)."""
    from toolchain.analyze.arena import plan_arena
    from toolchain.analyze.tail import HOST_64, TARGET_32, estimate_tail

    target = HOST_64 if board.platform == "host" else TARGET_32
    planned = plan_arena(model).head + estimate_tail(model, target).total
    planned += _cmsis_nn_extra(model) if cmsis_nn else 0
    margin = max(1024, int(planned * ARENA_MARGIN)) + 15 & ~15
    return planned + margin, planned, margin


def _cmsis_nn_extra(model: Model) -> int:
    """An upper bound of the arena CMSIS-NN kernels take besides the reference kernels' plan:
    the largest scratch buffer of one op (im2col columns for CONV_2D, up to four of them, int8
    on Helium or int16 on DSP cores; CH_IN_BLOCK_MVE = 124 channels x the window, four times,
    for DEPTHWISE_CONV_2D on Helium, or its int16 window copy on DSP; an int32 row for
    AVERAGE_POOL_2D), without reusing the space of dead tensors; plus, for every CONV_2D and
    FULLY_CONNECTED, a persistent int32 per output channel (kernel sums, Helium) and 16 bytes
    of alignment per buffer. Bounds from the CMSIS-NN *_get_buffer_size functions."""
    g = model.main
    scratch, persistent = 0, 0
    for op in g.operators:
        shapes = [g.tensors[i].shape for i in op.inputs if i >= 0]
        if op.op == "CONV_2D" and len(shapes) > 1:
            out_c, kh, kw, in_c = shapes[1]
            scratch = max(scratch, 4 * (in_c * kh * kw + 16) + 16)
            persistent += 4 * out_c + 16
        elif op.op == "DEPTHWISE_CONV_2D" and len(shapes) > 1:
            _, kh, kw, out_c = shapes[1]
            in_c = shapes[0][-1]
            scratch = max(scratch, 4 * 124 * kh * kw + 16, 2 * in_c * kh * kw + 16, 4 * (kh * kw + 16) + 16)
        elif op.op == "AVERAGE_POOL_2D" and shapes:
            scratch = max(scratch, 4 * shapes[0][-1] + 16)
        elif op.op == "FULLY_CONNECTED" and len(shapes) > 1:
            persistent += 4 * shapes[1][0] + 16
    return scratch + persistent


def _copy(src_dir: Path, dst_dir: Path) -> None:
    """Copy the plain (non-template) files of a firmware_templates folder."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted(p for p in src_dir.iterdir() if p.is_file() and not p.name.endswith(".j2")):
        shutil.copyfile(f, dst_dir / f.name)


def generate(model, *, board: str, engine: str = "aot", out_dir, memory_of: str | None = None,
             tflm_dir=None, aot_kernels: str | None = None, builder: str | None = None,
             mlperf_name: str | None = None) -> Project:
    """Write a firmware project for `model` on `board` into `out_dir` (all or nothing).

    `aot_kernels` (toolchain.codegen.aot_opt.KERNEL_CHOICES): "speed" (the DSP/Helium kernels,
    int16 weight layouts on DSP cores), "size" (int8 weights widened in registers) or "portable"
    (the plain C kernels); None: speed, or size when the board's flash would not hold the speed
    layout (choose_kernels).
    `builder`: "make" or "platformio"; default make, except on boards that build only with PlatformIO.
    `mlperf_name`: the model name `profile` answers (kws01, vww01, ic01, ad01); default: that of a
    known MLPerf Tiny reference model (toolchain.mlperf), else the model's own name.

    Raises:
        InputError: unknown board/engine, missing TFLM tree. NotSupportedError: the board
        does not run the engine, or the aot engine lacks an op of the model.
    """
    model = check_model(model if isinstance(model, Model) else load_model(model))
    from toolchain.codegen.target import bare_metal, platform_dirs, resolve_builder

    b, builder = resolve_builder(resolve_board(board, memory_of), builder)
    if engine not in ENGINES:
        raise InputError(f"unknown engine '{engine}'", f"use one of: {', '.join(ENGINES)}")
    if engine not in b.engines:
        raise NotSupportedError(f"board {b.id} does not run the {engine} engine",
                                f"use one of: {', '.join(b.engines)}")
    if memory_of and (b.baremetal or not b.qemu) and b.platform != "host":
        raise InputError("--memory-of applies to emulated boards", "flash a real board with its own memory")
    from toolchain.codegen.aot_opt import KERNEL_CHOICES

    if aot_kernels is not None and aot_kernels not in KERNEL_CHOICES:
        raise InputError(f"unknown aot kernel set '{aot_kernels}'", f"use one of: {', '.join(KERNEL_CHOICES)}")
    kernels = (aot_kernels or choose_kernels(model, b)) if engine == "aot" else None
    tflm_path = _tflm_dir(tflm_dir, b) if engine == "tflm" else None
    layers = None
    out_dir = Path(out_dir)
    name = _model_name(model)
    from toolchain.mlperf import mlperf_name as to_mlperf

    mlperf = to_mlperf(name, mlperf_name)
    ctx = {"board": b, "engine": engine, "model_name": name, "mlperf_name": mlperf or name, "model_file": model.path.name if model.path else name,
           "crc32": model.crc32, "input_bytes": sum(t.nbytes for t in model.main.input_tensors()),
           "tflm_dir": tflm_path, "cxx": b.compiler["cc"].replace("gcc", "g++")}
    if b.platform == "cortex-m":
        ctx.update(bare_metal(b), **_stack_heap(b, engine))
    env = _env()
    with staged_dir(out_dir) as stage, tflm_allocates(model):  # the reference must run what we generate
        src = stage / "src"
        (stage / f"{name}.tflite").write_bytes(model.raw)  # what the firmware runs, for profile/validate
        _copy(TEMPLATES / "app", src / "app")
        for folder in platform_dirs(b):
            _copy(TEMPLATES / "platform" / folder, src / "platform")
        if engine == "aot":
            from toolchain.codegen.aot import generate_aot
            from toolchain.codegen.aot_opt import layer_kernels, opt_sources, specializer

            generated = generate_aot(model, src / "model", specialize=specializer(b.features, kernels),
                                     scratch_budget=_scratch_budget(model, b, ctx))
            layers = layer_kernels(generated.lowered, b.features, portable=kernels == "portable")
            if kernels != "portable":
                for f in opt_sources(generated.kernels, b.features):
                    shutil.copyfile(f, src / "model" / f.name)
            _copy(TEMPLATES / "engines" / "aot_adapter", src / "engine")
        else:
            from toolchain.export import export

            exported = export(stage / f"{name}.tflite", src / "model", name=c_ident(name))
            from toolchain.codegen import tflm_lib

            arena, planned, margin = _tflm_arena(model, b, tflm_lib.is_cmsis_nn(tflm_path))
            resolver = _resolver(model)
            ctx.update(export_name=exported.name, arena_size=arena, arena_plan=planned, arena_margin=margin,
                       resolver=resolver, tflm_sources=tflm_sources(tflm_path, resolver), layer_names=_layer_names(model),
                       num_inputs=len(model.main.inputs), num_outputs=len(model.main.outputs),
                       tflm_flags=tflm_lib.build_flags(tflm_path), cxx_std=tflm_lib.CXX_STD,
                       old_cxx_stds=tflm_lib.OLD_CXX_STDS)
            if builder == "platformio":
                tflm_lib.write_library(tflm_path, ctx["tflm_sources"], stage)
            (src / "engine").mkdir()
            (src / "engine" / "engine_tflm.cc").write_text(env.get_template("engines/tflm/engine_tflm.cc.j2").render(ctx))
        (src / "tinyship_config.h").write_text(env.get_template("project/tinyship_config.h.j2").render(ctx))
        sources = sorted(str(p.relative_to(stage)) for p in src.rglob("*") if p.suffix in (".c", ".cc", ".cpp"))
        ctx["include_dirs"] = ["src", "src/app", "src/platform", "src/engine", "src/model"]
        ctx["sources"] = sources
        if builder == "platformio":
            (stage / "platformio.ini").write_text(env.get_template("project/platformio.ini.j2").render(ctx))
        else:
            (stage / "Makefile").write_text(env.get_template("project/Makefile.j2").render(ctx))
            if b.platform == "cortex-m":
                (stage / "linker.ld").write_text(env.get_template("platform/cortex-m/linker.ld.j2").render(ctx))
        manifest = {"board": board, "memory_of": memory_of, "engine": engine, "kernels": kernels, "model": name,
                    "crc32": model.crc32, "mlperf_name": mlperf,
                    "builder": builder, "platform": b.platform, "flash_bytes": b.flash_bytes,
                    "ram_bytes": b.ram_bytes, "elf": "build/firmware.elf", "map": "build/firmware.map"}
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        (stage / "README.md").write_text(env.get_template("project/README.md.j2").render(ctx))
        files = sorted(p.relative_to(stage) for p in stage.rglob("*") if p.is_file())
    return Project(out_dir, b, engine, name, model.crc32, builder, [out_dir / f for f in files], kernels,
                   layers)


def choose_kernels(model: Model, board: Board) -> str:
    """"speed", or "size" on a DSP core whose flash would not hold the model's int16 weight layout
    with the engine (the board fit's model flash, toolchain.analyze.fit.aot_model_bytes)."""
    if not board.features.get("dsp") or board.features.get("mve") or not board.flash_bytes:
        return "speed"
    from toolchain.analyze.fit import aot_model_bytes
    from toolchain.engines import get_engine

    need = aot_model_bytes(model, board.features) + get_engine("aot").flash_overhead
    return "size" if need > board.flash_bytes else "speed"


def _stack_heap(board: Board, engine: str) -> dict:
    """Stack and C-library heap reserved in RAM: the stack generous where RAM is plentiful, small
    otherwise (the aot kernels' scratch is in the arena: an inference takes about 1 KiB, README).
    The app formats numbers itself and the aot engine allocates nothing: no heap. The tflm engine
    keeps one for its C++ runtime; newlib's malloc takes its first ~4 KiB from sbrk at once."""
    big, tiny = board.ram_bytes >= 256 * 1024, board.ram_bytes <= 32 * 1024
    heap = 0 if engine == "aot" else 8192 if big else 4096
    # tiny boards: 2 KiB (hello_world on stm32f103-bluepill: 772 bytes used, measured), so their
    # firmware also runs in QEMU's 8 KiB stm32vldiscovery
    return {"stack_size": 16384 if big else 2048 if tiny else 4096, "heap_size": heap}


APP_RAM = 4608  # the app's and the C library's static data besides the input buffer (engines.py: 1.6 + 2.5 kB)
HANDLER_STACK = 512  # .handler_stack, linker.ld.j2


def _scratch_budget(model: Model, board: Board, ctx: dict) -> int | None:
    """Bytes of kernel scratch one aot layer may take on `board`: its RAM less the stacks, heap,
    the app's static data, the input buffer and the activations (the arena without scratch);
    None off bare-metal Cortex-M (the host). Layers whose optimized kernel needs more run the
    portable kernel (toolchain.codegen.aot.generate_aot)."""
    if board.platform != "cortex-m" or not board.ram_bytes:
        return None
    from toolchain.codegen.aot import arena_size

    reserved = reserved_ram(board, "aot", ctx["input_bytes"])
    return max(0, board.ram_bytes - reserved - arena_size(model))


def reserved_ram(board: Board, engine: str, input_bytes: int) -> int:
    """RAM a firmware takes besides its tensor arena: stacks, heap, the app's static data and the
    input buffer (board fit and the scratch budget use the same sum)."""
    layout = _stack_heap(board, engine)
    return layout["stack_size"] + layout["heap_size"] + HANDLER_STACK + APP_RAM + input_bytes


def _resolver(model: Model) -> list[str]:
    """The MicroMutableOpResolver calls registering the model's ops."""
    from toolchain.engines import TFLM_RESOLVER_METHODS

    missing = [op for op in model.op_names() if op not in TFLM_RESOLVER_METHODS]
    if missing:
        raise NotSupportedError(f"TFLM has no kernel for {', '.join(missing)}",
                                "change the model to use builtin ops TFLM supports (tinyship analyze lists them)")
    return [TFLM_RESOLVER_METHODS[op] for op in model.op_names()]


_KERNELS = "tensorflow/lite/micro/kernels"
_CMSIS_NN = "third_party/cmsis_nn/Source"


@functools.lru_cache(maxsize=4096)
def _source_text(path: Path) -> str:
    return path.read_text(errors="replace")


@functools.lru_cache(maxsize=8)
def _tree_index(root: Path) -> tuple[list[Path], list[Path], dict[str, Path]]:
    """(kernel sources, core sources, {CMSIS-NN function: the .c defining it}) of a TFLM tree."""
    kernels = sorted((root / _KERNELS).rglob("*.cc"))
    core = sorted(p for p in (root / "tensorflow").rglob("*") if p.suffix in (".cc", ".c")
                  and (root / _KERNELS) not in p.parents)
    defined = {}
    for c in sorted((root / _CMSIS_NN).rglob("*.c")):
        for fn in re.findall(r"^(?!static)\w[\w \t*]*?\b(arm_\w+)\s*\(", _source_text(c), re.M):
            defined.setdefault(fn, c)
    return kernels, core, defined


def tflm_sources(tflm_dir, methods: list[str]) -> list[str]:
    """The sources of the TFLM tree a model registering `methods` links, relative to the tree.

    Compiling a whole tree takes minutes; most of it is kernels the model never registers.
    So: every library source outside micro/kernels, plus the kernels that define the
    `Register_*` functions the resolver's `methods` call (micro_mutable_op_resolver.h), plus,
    transitively, each `X.cc`/`X_common.cc` of a kernels/X.h header they include. In a
    CMSIS-NN tree, the CMSIS-NN C files defining the `arm_*` functions those kernels call,
    transitively, and arm_nntables.c. Signal-processing ops (signal/) are never registered.
    """
    root = Path(tflm_dir).resolve()
    kernels, core, defined = _tree_index(root)
    header = root / "tensorflow/lite/micro/micro_mutable_op_resolver.h"
    resolver = _source_text(header) if header.is_file() else ""  # a partial tree: its core only
    wanted = set()
    for m in methods:
        body = re.search(rf"TfLiteStatus {m}\((.*?)\n  }}", resolver, re.S)
        wanted |= set(re.findall(r"\b(Register_\w+)\(\)", body.group(1))) if body else set()
    chosen = {p for p in kernels if any(re.search(rf"^TFLMRegistration {r}\(\)", _source_text(p), re.M)
                                        for r in wanted)}
    todo, seen = list(chosen) + core, set()
    while todo:  # kernel headers included -> their sources
        for h in re.findall(rf'#include "{_KERNELS}/(\w+)\.h"', _source_text(todo.pop())):
            if h in seen:
                continue
            seen.add(h)
            header = root / _KERNELS / f"{h}.h"
            todo += [header] if header.is_file() else []
            for src in (root / _KERNELS / f"{h}.cc", root / _KERNELS / f"{h}_common.cc"):
                if src.is_file() and src not in chosen:
                    chosen.add(src)
                    todo.append(src)
    files = core + sorted(chosen)
    if defined:  # a CMSIS-NN tree
        picked = set((root / _CMSIS_NN).rglob("arm_nntables.c"))  # tables, no functions
        todo = list(chosen) + list(picked)
        while todo:
            for fn in set(re.findall(r"\b(arm_\w+)\s*\(", _source_text(todo.pop()))):
                c = defined.get(fn)
                if c and c not in picked:
                    picked.add(c)
                    todo.append(c)
        files += sorted(picked)
    return [str(p.relative_to(root)) for p in files]


def _layer_names(model: Model) -> list[str]:
    """'OP layer' per operator, as the aot engine names them (escaped by the template)."""
    names = []
    for op in model.main.operators:
        label = model.op_label(model.main, op)
        names.append(f"{op.op} {label}".strip())
    return names


def load_manifest(project_dir) -> dict:
    path = Path(project_dir) / MANIFEST
    if not path.is_file():
        raise InputError(f"{project_dir} is not a tinyship project (no {MANIFEST})",
                         "generate one first: tinyship generate MODEL.tflite --board ID -o DIR")
    return json.loads(path.read_text())
