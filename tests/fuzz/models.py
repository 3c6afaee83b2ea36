"""Hostile models: mutants of the shared models, driven through analyze, export, generate, build and run.

A mutator turns the bytes of a seed model into a mutant, at the byte level
(truncation, flips, overwritten flatbuffer offsets and vtable entries) or at the
schema level through the TFLite object API (names, ranks, shapes, scales, zero
points, op codes, buffers, operator and graph inputs/outputs, options). A driver
runs the CLI on the mutant and checks what an exit 0 promises: valid JSON from
`analyze --json`, exported headers that compile, generated model code that
compiles, and, for the `run` driver, a project that builds and runs on the host
board without running injected code.
"""

from __future__ import annotations

import json
import math
import random
import struct
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import flatbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tests.fuzz import classify, run_cli

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # ../shared/data from the repo root
SEEDS = {  # seed model -> may it go through the (slow) build-and-run driver
    "tflm/hello_world_int8.tflite": True,
    "tflm/hello_world_float.tflite": True,
    "tflm/micro_speech_quantized.tflite": True,
    "mlperf_tiny/kws_ref_model.tflite": False,
    "mlperf_tiny/kws_ref_model_float32.tflite": False,
    "mlperf_tiny/ad01_int8.tflite": False,
    "tflm/person_detect.tflite": False,
}
MARKER = "PWNED"
INJECTIONS = [
    f'...*/ __attribute__((constructor)) static void f(void){{ system("touch {MARKER}"); }} /*',
    f'"; __attribute__((constructor)) static void g(void){{ system("touch {MARKER}"); }} static const char *s = "',
    f'x\\\n__attribute__((constructor)) static void h(void){{ system("touch {MARKER}"); }}',
    f'??/\n__attribute__((constructor)) static void k(void){{ system("touch {MARKER}"); }}',
    f'*/\n#include <stdlib.h>\n__attribute__((constructor)) static void m(void){{ system("touch {MARKER}"); }}\n/*',
    "trailing backslash \\",
    "a\"b\\c'd\te\rf\x0bg\x0ch\x1b[31mred\x1b[0m",
    "nul\x00byte",
    "ünïcödé \u202e\u2066 bidi \U0001f600 \ufeff",
    "<script>alert(1)</script><img src=x onerror=alert(2)>&amp;",
    "[env:pwn]\nbuild_flags = -include /etc/passwd\n; ",
    "${{ secrets.TOKEN }} $(touch PWNED) `touch PWNED` | rm -rf /",
    "%s%s%n%x {{ 7*7 }} {% raw %}",
    "\n",
    "",
    "A" * 5000,
]
HOSTILE_FILE_NAMES = ['a*', 'b"c', 'x??', 'sp ace$(touch PWNED)', "q'uote", 'u\u00fc\u202e', 'back\\slash', 'semi;colon']
_BOUNDARY_INTS = [0, 1, -1, 2, 3, 7, 255, 256, 65535, 1 << 16, 1 << 24, (1 << 31) - 1, -(1 << 31)]
_SCALES = [0.0, -0.0, math.inf, -math.inf, math.nan, -1.0, 1e-45, 1e-30, 1e30, 3.4e38, 1.0]


# -- byte-level mutators -------------------------------------------------------------------

def truncate(rng: random.Random, raw: bytes) -> bytes:
    return raw[:rng.choice([0, 3, 7, 8, 12, 16, 64, rng.randrange(len(raw)), len(raw) - 1])]


def flip_bytes(rng: random.Random, raw: bytes) -> bytes:
    out = bytearray(raw)
    for _ in range(rng.choice([1, 2, 4, 16, 64])):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def flip_words(rng: random.Random, raw: bytes) -> bytes:
    """Overwrite aligned 32-bit words (uoffsets, vector lengths, scalar fields) with boundary values."""
    out = bytearray(raw)
    head = min(len(out), rng.choice([256, 4096, len(out)])) // 4 * 4
    for _ in range(rng.choice([1, 2, 3, 8])):
        pos = rng.randrange(0, max(head - 4, 4), 4)
        value = rng.choice(_BOUNDARY_INTS + [len(raw), len(raw) - 4, pos, -pos])
        out[pos:pos + 4] = struct.pack("<i", value)
    return bytes(out)


def flip_vtables(rng: random.Random, raw: bytes) -> bytes:
    """Corrupt vtables: their 16-bit size fields and field offsets."""
    out = bytearray(raw)
    tables = _table_positions(raw)
    for _ in range(rng.choice([1, 2, 4])):
        if not tables:
            break
        table = rng.choice(tables)
        vtable = table - struct.unpack_from("<i", raw, table)[0]
        if not 0 <= vtable <= len(raw) - 4:
            continue
        vsize = struct.unpack_from("<H", raw, vtable)[0]
        slot = vtable + 2 * rng.randrange(max(vsize // 2, 2))
        if slot + 2 <= len(out):
            out[slot:slot + 2] = struct.pack("<H", rng.choice([0, 1, 2, 3, 4, 0x7fff, 0xffff, vsize + 2]))
    return bytes(out)


def huge_sizes(rng: random.Random, raw: bytes) -> bytes:
    """A vector length or offset claimed to be huge, or the file padded to many megabytes."""
    if rng.random() < 0.2:
        return raw + bytes(rng.choice([1 << 20, 16 << 20, 64 << 20]))
    out = bytearray(raw)
    tables = _table_positions(raw)
    pos = rng.choice(tables) if tables else 4
    pos = pos + 4 * rng.randrange(1, 8)
    if pos + 4 <= len(out):
        out[pos:pos + 4] = struct.pack("<I", rng.choice([0x7fffffff, 0xffffffff, 0x40000000, 0x10000000]))
    return bytes(out)


def _table_positions(raw: bytes) -> list[int]:
    """Plausible table starts: the root table and the targets of uoffsets found in the first 4 KB."""
    if len(raw) < 8:
        return []
    found = {struct.unpack_from("<I", raw, 0)[0]}
    for pos in range(8, min(len(raw), 4096) - 4, 4):
        target = pos + struct.unpack_from("<I", raw, pos)[0]
        if pos < target < len(raw) - 4 and target % 4 == 0:
            found.add(target)
    return sorted(p for p in found if 0 < p < len(raw) - 4)


# -- schema-level mutators (TFLite object API) -------------------------------------------

def _schema_edit(edit):
    def mutate(rng: random.Random, raw: bytes) -> bytes:
        m = schema.ModelT.InitFromPackedBuf(bytearray(raw), 0)
        edit(rng, m)
        builder = flatbuffers.Builder(len(raw) + 4096)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())
    mutate.__name__ = edit.__name__
    return mutate


def _sg(m):
    return m.subgraphs[0]


def _tensor(rng, m):
    return rng.choice(_sg(m).tensors)


def _io_tensor(rng, m):
    """Mostly the graph inputs/outputs (whose names reach the most templates), else any tensor."""
    sg = _sg(m)
    io = [int(i) for i in list(sg.inputs if sg.inputs is not None else []) + list(sg.outputs if sg.outputs is not None else [])]
    io = [i for i in io if 0 <= i < len(sg.tensors)]
    return sg.tensors[rng.choice(io)] if io and rng.random() < 0.7 else _tensor(rng, m)


@_schema_edit
def names(rng, m):
    text = rng.choice(INJECTIONS)
    where = rng.choice(["io", "io", "tensor", "all", "subgraph", "description", "metadata", "custom"])
    if where == "io":
        _io_tensor(rng, m).name = text
    elif where == "tensor":
        _tensor(rng, m).name = text
    elif where == "all":
        for t in _sg(m).tensors:
            t.name = text
    elif where == "subgraph":
        _sg(m).name = text
    elif where == "description":
        m.description = text
    elif where == "metadata":
        md = schema.MetadataT()
        md.name, md.buffer = text, 0
        m.metadata = list(m.metadata or []) + [md]
    else:
        rng.choice(m.operatorCodes).customCode = text


@_schema_edit
def ranks(rng, m):
    t = _io_tensor(rng, m)
    t.shape = [rng.choice([1, 1, 2, 3]) for _ in range(rng.choice([0, 1, 5, 6, 7, 8, 12]))]


@_schema_edit
def shapes(rng, m):
    t = _io_tensor(rng, m)
    shape = [int(d) for d in (t.shape if t.shape is not None else [])] or [1]
    if rng.random() < 0.3:
        shape = rng.choice([[1 << 15, 1 << 16], [1 << 16, 1 << 15, 1], [2, 1 << 30], [46341, 46341], [1 << 16, 1 << 16]])
    else:
        shape[rng.randrange(len(shape))] = rng.choice([0, -1, -2, 2, 1 << 20, (1 << 31) - 1, 3, 1000])
    t.shape = shape


def _quantization(rng, m):
    """The quantization parameters of a random quantized tensor of the main graph, or None."""
    quantized = [t for t in _sg(m).tensors if t.quantization is not None and t.quantization.scale is not None]
    return rng.choice(quantized).quantization if quantized else None


@_schema_edit
def scales(rng, m):
    q = _quantization(rng, m)
    if q is None:
        return
    values = [float(s) for s in q.scale]
    kind = rng.random()
    if kind < 0.7:
        values[rng.randrange(len(values))] = rng.choice(_SCALES)
    elif kind < 0.85:
        values = values + [1.0] * rng.choice([1, 3])  # per-channel count that matches nothing
    else:
        values = []
    q.scale = values
    if rng.random() < 0.3:
        q.quantizedDimension = rng.choice([-1, 4, 7, 1 << 20])


@_schema_edit
def zero_points(rng, m):
    q = _quantization(rng, m)
    if q is None:
        return
    zps = [int(z) for z in (q.zeroPoint if q.zeroPoint is not None else [0])] or [0]
    if rng.random() < 0.8:
        zps[rng.randrange(len(zps))] = rng.choice([-129, 128, 255, -32769, 1 << 40, -(1 << 40), (1 << 63) - 1])
    else:
        zps = zps + [0, 0]
    q.zeroPoint = zps


@_schema_edit
def dtypes(rng, m):
    _io_tensor(rng, m).type = rng.choice([0, 1, 2, 3, 4, 6, 7, 9, 10, 16, 17, 18, 19, 40])


@_schema_edit
def opcodes(rng, m):
    kind = rng.random()
    if kind < 0.5:
        oc = rng.choice(m.operatorCodes)
        code = rng.choice([0, 3, 4, 9, 22, 25, 32, 114, 127, 150, 200, 255, 1000])
        oc.builtinCode = code
        oc.deprecatedBuiltinCode = min(code, 127)
    elif kind < 0.75:
        rng.choice(m.operatorCodes).version = rng.choice([0, -1, 2, 7, 100])
    else:
        op = rng.choice(_sg(m).operators or [schema.OperatorT()])
        op.opcodeIndex = rng.choice([-1, len(m.operatorCodes), 1 << 20, 0])


@_schema_edit
def buffers(rng, m):
    kind = rng.random()
    if kind < 0.4:
        for b in m.buffers:
            b.data = None  # all weights gone
    elif kind < 0.6:
        full = [b for b in m.buffers if b.data is not None and len(b.data)]
        if full:
            b = rng.choice(full)
            b.data = list(b.data[:rng.randrange(len(b.data))])
    elif kind < 0.8:
        _tensor(rng, m).buffer = rng.choice([0, len(m.buffers), len(m.buffers) - 1, 1 << 20])
    else:
        m.buffers = m.buffers[:rng.randrange(1, len(m.buffers) + 1)]


@_schema_edit
def operator_io(rng, m):
    sg = _sg(m)
    if not sg.operators:
        return
    op = rng.choice(sg.operators)
    n = len(sg.tensors)
    inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
    outputs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
    kind = rng.random()
    if kind < 0.25:
        op.outputs = [int(sg.inputs[0])] if sg.inputs is not None and len(sg.inputs) else []  # writes a graph input
    elif kind < 0.45:
        op.outputs = inputs[:1] or [0]  # reads and writes one tensor (a cycle)
    elif kind < 0.6:
        op.inputs = []
    elif kind < 0.7:
        op.outputs = []
    elif kind < 0.85 and inputs:
        inputs[rng.randrange(len(inputs))] = rng.choice([-1, -2, n, n + 5, rng.randrange(n)])
        op.inputs = inputs
    else:
        op.outputs = outputs + outputs[:1]  # the same output twice


@_schema_edit
def graph_io(rng, m):
    sg = _sg(m)
    constants = [i for i, t in enumerate(sg.tensors) if 0 < t.buffer < len(m.buffers)
                 and m.buffers[t.buffer].data is not None and len(m.buffers[t.buffer].data)]
    kind = rng.random()
    if kind < 0.2:
        sg.inputs = []
    elif kind < 0.4:
        sg.outputs = []
    elif kind < 0.6 and constants:
        sg.outputs = [rng.choice(constants)]
    elif kind < 0.7:
        sg.outputs = list(sg.inputs if sg.inputs is not None else [])
    elif kind < 0.8:
        sg.inputs = list(sg.inputs if sg.inputs is not None else []) * 2
    elif kind < 0.9:
        sg.operators = []
    else:
        sg.operators = list(sg.operators or [])[1:]


@_schema_edit
def options(rng, m):
    ops = [op for op in _sg(m).operators or [] if op.builtinOptions is not None]
    if not ops:
        return
    op = rng.choice(ops)
    if rng.random() < 0.2:
        op.builtinOptionsType = rng.choice([0, 1, 2, 3, 8, 100, 127])
        return
    fields = [k for k, v in vars(op.builtinOptions).items() if isinstance(v, (int, bool))]
    if fields:
        setattr(op.builtinOptions, rng.choice(fields), rng.choice([0, -1, 5, 100, (1 << 31) - 1, -(1 << 31)]))


@_schema_edit
def subgraphs(rng, m):
    if rng.random() < 0.5:
        m.subgraphs = []
    else:
        m.subgraphs = [m.subgraphs[0]] * rng.choice([2, 5])


MUTATORS = {
    "truncate": truncate, "flip-bytes": flip_bytes, "flip-words": flip_words, "flip-vtables": flip_vtables,
    "huge-sizes": huge_sizes, "names": names, "ranks": ranks, "shapes": shapes, "scales": scales,
    "zero-points": zero_points, "dtypes": dtypes, "opcodes": opcodes, "buffers": buffers,
    "operator-io": operator_io, "graph-io": graph_io, "options": options, "subgraphs": subgraphs,
}
WEIGHTS = {"truncate": 4, "flip-bytes": 10, "flip-words": 8, "flip-vtables": 6, "huge-sizes": 3, "names": 10,
           "ranks": 5, "shapes": 6, "scales": 6, "zero-points": 4, "dtypes": 4, "opcodes": 5, "buffers": 6,
           "operator-io": 6, "graph-io": 6, "options": 5, "subgraphs": 2}
DRIVERS = {"analyze-json": 28, "analyze": 12, "export": 20, "generate": 36, "run": 4}  # relative frequency
LIGHT_DEADLINE = 60.0  # seconds for analyze/export/generate; generous: two cores shared by many jobs
RUN_DEADLINE = 300.0  # seconds for one build or host run


@lru_cache(maxsize=None)
def seed_bytes(rel: str) -> bytes:
    return (DATA / rel).read_bytes()


# -- drivers -------------------------------------------------------------------------------

def _compile(cmd: list[str], cwd: Path) -> str | None:
    """None if the compiler accepts the generated code, else its first error line."""
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace", timeout=RUN_DEADLINE)
    except subprocess.TimeoutExpired:
        return f"{cmd[0]} did not finish in {RUN_DEADLINE:.0f} s"
    if done.returncode == 0:
        return None
    errors = [line for line in done.stderr.splitlines() if "error" in line] or done.stderr.splitlines() or ["?"]
    return f"{cmd[0]} failed: {errors[0][:300]}"


def _strict_json(text: str):
    def refuse(token):
        raise ValueError(f"{token} is not JSON")
    return json.loads(text, parse_constant=refuse)


def drive(driver: str, model: Path, tmp: Path) -> tuple[str, str]:
    """Run `driver` on the model file; (outcome, detail)."""
    if driver.startswith("analyze"):
        as_json = ["--json"] if driver == "analyze-json" else []  # the human tables: rich markup in names
        r = run_cli(["analyze", str(model), *as_json, "--board", "qemu-cortex-m4"], tmp, LIGHT_DEADLINE)
        outcome, detail = classify(r)
        if outcome == "rejected" and r.code == 3:  # does not fit: the JSON still came out first
            outcome = "ok" if r.stdout.strip() else outcome
        if as_json and r.stdout.strip():
            try:
                _strict_json(r.stdout)
            except ValueError as e:
                return "exit0-broken", f"analyze --json printed invalid JSON: {e}"
        return outcome, detail
    if driver == "export":
        r = run_cli(["export", str(model), "-o", "out", "--name", "fuzz"], tmp, LIGHT_DEADLINE)
        outcome, detail = classify(r)
        if outcome == "ok":
            (tmp / "out" / "check.cc").write_text('#include "fuzz_model_data.h"\n#include "fuzz_model_io.h"\n')
            error = _compile(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-trigraphs",
                              "check.cc", "fuzz_model_data.cc"], tmp / "out")
            if error:
                return "exit0-broken", f"export: {error}"
        return outcome, detail
    r = run_cli(["generate", str(model), "--board", "host", "-o", "proj"], tmp, LIGHT_DEADLINE, tag="generate")
    outcome, detail = classify(r)
    if outcome != "ok":
        return outcome, detail
    if driver == "generate":
        error = _compile(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-Isrc", "-Isrc/model",
                          "-Isrc/engine", "-Isrc/app", "-Isrc/platform", "src/model/model.c"], tmp / "proj")
        return ("exit0-broken", f"generate said OK, {error}") if error else ("ok", "")
    r = run_cli(["build", "proj", "-j", "1"], tmp, RUN_DEADLINE, tag="build")
    outcome, detail = classify(r)
    if outcome != "ok":
        return ("exit0-broken", f"generate said OK, then {detail}") if outcome == "rejected" else (outcome, detail)
    r = run_cli(["emulate", "proj", "--board", "host", "--random", "2", "-n", "1", "--json", "-o", "report"],
                tmp, RUN_DEADLINE, tag="emulate")
    outcome, detail = classify(r)
    if list(tmp.rglob(MARKER)):
        return "exit0-broken", "INJECTED CODE RAN: the marker file exists"
    if outcome == "rejected":
        return "exit0-broken", f"generate and build said OK, then {detail}"
    return outcome, detail


@dataclass
class ModelCase:
    name: str  # mutator category
    seed_model: str
    driver: str
    rng_seed: int
    file_name: str = "model.tflite"

    def mutant(self) -> bytes:
        rng = random.Random(self.rng_seed)
        raw = seed_bytes(self.seed_model)
        for _ in range(rng.choice([1, 1, 1, 2])):
            try:
                raw = MUTATORS[self.name](rng, raw)
            except (struct.error, IndexError, ValueError, TypeError, AttributeError, OverflowError):
                break  # the object API could not even unpack/pack the previous mutant: keep it as it is
        return raw

    def run(self, tmp: Path) -> tuple[str, str]:
        model = tmp / self.file_name
        model.write_bytes(self.mutant())
        outcome, detail = drive(self.driver, model, tmp)
        return outcome, f"{self.driver} {self.seed_model} #{self.rng_seed}: {detail}" if detail else ""


def cases(seed: int, n: int):
    """`n` model cases, the same for the same seed."""
    rng = random.Random(seed)
    names, weights = list(WEIGHTS), list(WEIGHTS.values())
    drivers, driver_weights = list(DRIVERS), list(DRIVERS.values())
    for _ in range(n):
        mutator = rng.choices(names, weights)[0]
        driver = rng.choices(drivers, driver_weights)[0]
        seeds = [s for s, runnable in SEEDS.items() if runnable or driver != "run"]
        file_name = "model.tflite"
        if mutator == "names" and rng.random() < 0.3:
            file_name = rng.choice(HOSTILE_FILE_NAMES) + ".tflite"
        yield ModelCase(mutator, rng.choice(seeds), driver, rng.getrandbits(32), file_name)
