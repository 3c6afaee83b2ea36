"""Hostile models (issue 12): names that try to inject code, models the generators cannot honour,
model paths that are not files. Every refusal is a one-line error with its documented exit code
and leaves no output behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from toolchain import generate
from toolchain.errors import DoesNotFitError, ModelError, NotSupportedError
from toolchain.escape import c_comment, c_string
from toolchain.model import load_model

REPO = Path(__file__).resolve().parents[1]
PAYLOAD = '...*/ __attribute__((constructor)) static void f(void){ system("touch PWNED"); } /*'
VARIANTS = [
    '"; __attribute__((constructor)) static void g(void){ system("touch PWNED"); } static const char *s = "',
    'x\\\n__attribute__((constructor)) static void h(void){ system("touch PWNED"); }',
    '??/\n__attribute__((constructor)) static void k(void){ system("touch PWNED"); }',
    "nul\x00 ünï \u202e <script>alert(1)</script> \\",
]


def cli(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "toolchain", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def renamed(src: Path, names: dict[str, str]) -> bytes:
    """`src` with its graph input, output and every other tensor renamed (TFLite object API)."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(src.read_bytes()), 0)
    sg = m.subgraphs[0]
    for k, t in enumerate(sg.tensors):
        t.name = names["other"][k % len(names["other"])]
    sg.tensors[sg.inputs[0]].name = names["input"]
    sg.tensors[sg.outputs[0]].name = names["output"]
    m.description = names["other"][0]
    b = flatbuffers.Builder(4096)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.mark.slow
def test_injected_names_stay_inert_on_the_host(shared_data, tmp_path):
    """The issue's model: generate, build and `emulate --board host` succeed and no injected code runs."""
    model = tmp_path / "evil*model??.tflite"
    model.write_bytes(renamed(shared_data / "tflm" / "hello_world_int8.tflite",
                              {"input": PAYLOAD, "output": VARIANTS[0], "other": VARIANTS}))
    for args in (("generate", model, "--board", "host", "-o", "proj"), ("build", "proj"),
                 ("emulate", "proj", "--board", "host", "--random", "2", "-n", "1", "--json", "-o", "report"),
                 ("export", model, "-o", "exported", "--name", "evil")):
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr[-2000:])
    assert not list(tmp_path.rglob("PWNED")), "the injected constructor ran"
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["validation"]["passed"] and report["validation"]["compared"] == 2
    model_c = (tmp_path / "proj" / "src" / "model" / "model.c").read_text()
    assert c_comment(PAYLOAD) in model_c and PAYLOAD not in model_c
    assert "__attribute__((constructor))" in c_comment(PAYLOAD)  # inert text, not code: gcc built it as a comment
    (tmp_path / "exported" / "check.cc").write_text('#include "evil_model_data.h"\n#include "evil_model_io.h"\n')
    subprocess.run(["g++", "-std=c++17", "-trigraphs", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "check.cc",
                    "evil_model_data.cc"], cwd=tmp_path / "exported", check=True)


def test_c_string_keeps_every_byte_and_cannot_break_out(tmp_path):
    """Compiled and run on the host: each escaped literal holds exactly the UTF-8 bytes of its name."""
    names = [PAYLOAD, *VARIANTS, "\x7f\x01 é"]
    body = "\n".join(f'    {{ static const char s[] = "{c_string(n)}"; fwrite(s, 1, sizeof s - 1, stdout); '
                     f'fputc(0xff, stdout); }}  /* {c_comment(n)} */' for n in names)
    (tmp_path / "t.c").write_text(f"#include <stdio.h>\nint main(void)\n{{\n{body}\n    return 0;\n}}\n")
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "t.c", "-o", "t"], cwd=tmp_path, check=True)
    out = subprocess.run([str(tmp_path / "t")], capture_output=True, check=True).stdout
    assert out.split(b"\xff")[:-1] == [n.encode("utf-8") for n in names]


def _fc_model(make_tflite, **edit):
    """int8 FULLY_CONNECTED [1,4] x [3,4] + bias -> [1,3], with `edit` applied to the tensor specs."""
    tensors = [{"shape": [1, 4], "scale": 0.1, "zero_point": 0, "name": "in"},
               {"shape": [3, 4], "buffer": 1, "scale": 0.02, "name": "w"},
               {"shape": [3], "type": "int32", "buffer": 2, "scale": 0.002, "name": "b"},
               {"shape": [1, 3], "scale": 0.05, "zero_point": 1, "name": "out"}]
    for index, fields in edit.get("tensors", {}).items():
        tensors[index].update(fields)
    buffers = edit.get("buffers", [bytes(range(12)), np.arange(3, dtype=np.int32).tobytes()])
    return make_tflite(tensors, edit.get("ops", [(0, [0, 1, 2], [3])]), edit.get("inputs", [0]),
                       edit.get("outputs", [3]), buffers=buffers)


BAD_MODELS = {
    "no outputs": ({"outputs": []}, ModelError),
    "no inputs": ({"inputs": []}, ModelError),
    "no operators": ({"ops": []}, ModelError),
    "rank 7": ({"tensors": {3: {"shape": [1, 1, 1, 1, 1, 1, 3]}}}, NotSupportedError),
    "zero-size dimension": ({"tensors": {0: {"shape": [0, 4]}}}, ModelError),
    "output fed back into the input": ({"ops": [(0, [0, 1, 2], [0])], "outputs": [0]}, ModelError),
    "constant tensor as output": ({"outputs": [1]}, ModelError),
    "all buffer data removed": ({"buffers": []}, ModelError),
    "scale 0": ({"tensors": {3: {"scale": 0.0}}}, ModelError),
    "scale inf": ({"tensors": {0: {"scale": float("inf")}}}, ModelError),
    "scale nan": ({"tensors": {1: {"scale": float("nan")}}}, ModelError),
    "negative scale": ({"tensors": {0: {"scale": -0.1}}}, ModelError),
    "zero point out of range": ({"tensors": {3: {"zero_point": 300}}}, ModelError),
    "2^31-element tensor": ({"tensors": {0: {"shape": [1 << 15, 1 << 16]}}}, DoesNotFitError),
    "wrong output shape": ({"tensors": {3: {"shape": [1, 5]}}}, ModelError),
}


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_generate_refuses_what_it_cannot_honour(case, make_tflite, tmp_path):
    edit, error = BAD_MODELS[case]
    model = tmp_path / "m.tflite"
    model.write_bytes(_fc_model(make_tflite, **edit))
    with pytest.raises(error):
        generate(model, board="host", out_dir=tmp_path / "proj")
    assert not (tmp_path / "proj").exists() and [p.name for p in tmp_path.iterdir()] == ["m.tflite"]


def test_the_unedited_fc_model_generates(make_tflite, tmp_path):
    """The base of BAD_MODELS is fine: each refusal above is due to its one edit."""
    model = tmp_path / "m.tflite"
    model.write_bytes(_fc_model(make_tflite))
    assert (generate(model, board="host", out_dir=tmp_path / "proj").dir / "src" / "model" / "model.c").is_file()


def test_cli_refusals_are_one_line_with_their_exit_code(make_tflite, tmp_path):
    for case, code in (("scale nan", 2), ("rank 7", 3), ("2^31-element tensor", 3)):
        model = tmp_path / "m.tflite"
        model.write_bytes(_fc_model(make_tflite, **BAD_MODELS[case][0]))
        done = cli("generate", model, "--board", "host", "-o", "proj", cwd=tmp_path)
        assert done.returncode == code, (case, done.stderr)
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("tinyship: error: "), done.stderr


def test_json_output_is_strict_json(make_tflite, tmp_path, capsys):
    """A NaN scale is refused by analyze (exit 2); any non-finite number left becomes null."""
    from toolchain.cli.common import print_json

    model = tmp_path / "m.tflite"
    model.write_bytes(_fc_model(make_tflite, tensors={0: {"scale": float("nan")}}))
    done = cli("analyze", model, "--json", cwd=tmp_path)
    assert done.returncode == 2 and "scale nan" in done.stderr and done.stdout == ""
    print_json({"a": float("nan"), "b": [np.float32("inf"), 1.5], "c": np.array([-np.inf])})

    def refuse(token):
        raise AssertionError(f"{token} in JSON output")
    assert json.loads(capsys.readouterr().out, parse_constant=refuse) == {"a": None, "b": [None, 1.5], "c": [None]}


def test_model_paths_that_are_not_files_fail_fast(tmp_path):
    fifo = tmp_path / "pipe.tflite"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.tflite"
    with open(huge, "wb") as f:
        f.truncate(3 << 30)  # sparse: 3 GiB reported, nothing written
    for path, words in ((fifo, "not a regular file"), (Path("/dev/zero"), "not a regular file"),
                        (tmp_path, "is a folder"), (huge, "too large")):
        with pytest.raises(ModelError, match=words):
            load_model(path)
    done = cli("analyze", fifo, "--json", cwd=tmp_path)  # would block forever reading the pipe
    assert done.returncode == 2 and "not a regular file" in done.stderr


def _hello_world_edited(shared_data, edit) -> bytes:
    """hello_world_int8 with `edit(model)` applied through the TFLite object API."""
    m = schema.ModelT.InitFromPackedBuf(bytearray((shared_data / "tflm" / "hello_world_int8.tflite").read_bytes()), 0)
    edit(m)
    b = flatbuffers.Builder(4096)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _bias_scale(m):  # the second FULLY_CONNECTED's bias (tensor 3): scale 1e30, not input x weight scale
    m.subgraphs[0].tensors[3].quantization.scale = [1e30]


def _weights_format(m):  # the second FULLY_CONNECTED: a weights format TFLM does not know
    m.subgraphs[0].operators[1].builtinOptions.weightsFormat = -1


def _scalar_output(m):  # the last FULLY_CONNECTED writes a rank-0 output (fuzz seed 12 #244, mutator ranks)
    sg = m.subgraphs[0]
    sg.tensors[sg.outputs[0]].shape = []


def _signature_defs_offset(shared_data) -> bytes:
    """hello_world_int8 whose root table's signature_defs offset points into other data (as fuzz
    case flip-words #2759898661 made it): TFLM's Python reader fails on it with struct.error."""
    raw = bytearray((shared_data / "tflm" / "hello_world_int8.tflite").read_bytes())
    tab = schema.Model.GetRootAs(raw, 0)._tab
    field = tab.Pos + tab.Offset(18)  # vtable slot 18: signature_defs (the only field nothing else reads)
    raw[field:field + 4] = (255).to_bytes(4, "little")
    return bytes(raw)


TFLM_REFUSES = {  # fuzz seed 12, cases #887, #2334, #1176: generate said OK, then the TFLM reference failed
    "bias scale": (lambda d: _hello_world_edited(d, _bias_scale), r"TFLM cannot allocate the model \(.*scale_diff / output_scale"),
    "weights format": (lambda d: _hello_world_edited(d, _weights_format),
                       r"TFLM cannot allocate the model \(Unhandled fully-connected weights format\)"),
    "signature defs": (_signature_defs_offset, "an offset points outside the file"),
}


@pytest.mark.parametrize("case", sorted(TFLM_REFUSES))
def test_generate_refuses_what_the_tflm_reference_cannot_run(case, shared_data, tmp_path):
    from tflite_micro.python.tflite_micro import runtime

    make, message = TFLM_REFUSES[case]
    model = tmp_path / "m.tflite"
    model.write_bytes(make(shared_data))
    load_model(shared_data / "tflm" / "hello_world_int8.tflite")  # the seed itself is fine
    with pytest.raises(Exception):  # the premise: the oracle cannot read or allocate the mutant
        runtime.Interpreter.from_bytes(model.read_bytes(), arena_size=1 << 20)
    done = cli("generate", model, "--board", "host", "-o", "proj", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("tinyship: error: "), done.stderr
    assert re.search(message, done.stderr), done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["m.tflite"]


def _big_add(make_tflite, path: Path, n: int) -> Path:
    """ADD of two [1, n] int8 tensors: a 400-byte model with 3n bytes of activations."""
    spec = [{"shape": [1, n], "scale": 0.1, "name": f"t{i}"} for i in range(3)]
    path.write_bytes(make_tflite(spec, [(0, [0, 1], [2], schema.BuiltinOptions.AddOptions, schema.AddOptionsT())],
                                 [0, 1], [2], opcodes=[(schema.BuiltinOperator.ADD, 0, 1)]))
    return path


def test_the_tflm_check_leaves_room_for_large_activations(make_tflite, tmp_path):
    """ADD of two [1, 400000] int8 tensors: a 400-byte model with 1.2 MB of activations, beyond the
    reference's former arena (10x the model, at least 1 MiB). Generate accepts it and TFLM runs it."""
    from toolchain.reference import tflm_run

    n = 400_000
    model = _big_add(make_tflite, tmp_path / "add.tflite", n)
    assert generate(model, board="host", out_dir=tmp_path / "proj").dir.is_dir()
    x = np.full((1, n), 3, dtype=np.int8)
    assert (tflm_run(model, [[x, x]])[0][0] == 6).all()


@pytest.mark.slow
def test_an_output_longer_than_the_default_line_cap_runs(make_tflite, tmp_path):
    """400,000 output values make an `m-results-[...]` line of ~4.4 MB, over the 4 MiB lines accepted
    before the model is known (this failed with exit 4): the session allows what its model can send.
    The report keeps the first 4,096 results and counts the rest."""
    model = _big_add(make_tflite, tmp_path / "add.tflite", 400_000)
    done = cli("deploy", model, "--board", "host", "--random", "1", "-n", "1", "-o", "out", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["validation"]["bit_exact"] == 1 and report["status"] == "complete"
    sample = report["samples"][0]
    assert len(sample["results"]) == 4096 and sample["results_total"] == 400_000
    line = next(x for x in (tmp_path / "out" / "report" / "device.log").read_text().splitlines()
                if x.startswith("< m-results-["))  # the log clips it: "... (N more bytes)"
    clipped = re.search(r"\(([\d,]+) more bytes\)$", line)
    assert len(line) + int(clipped[1].replace(",", "")) > 4 << 20


def test_a_fully_connected_scalar_output_is_refused(shared_data, tmp_path):
    """TFLM reads a FULLY_CONNECTED's depth from the output's last dimension, so with a rank-0 output it
    computes something else than the aot engine: generate said OK and the run was not bit-exact (found by
    the fuzz sample once validation failures became exit 7). Now exit 2 before anything is written."""
    model = tmp_path / "m.tflite"
    model.write_bytes(_hello_world_edited(shared_data, _scalar_output))
    done = cli("generate", model, "--board", "host", "-o", "proj", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("tinyship: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "do not fit input [1, 16] and output []" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["m.tflite"]


def test_options_of_another_op_are_refused(shared_data, tmp_path):
    """TFLM runs an op whose options table has another type with default options; aot read the foreign
    table's fields (fuzz seed 13 #1300: a DEPTHWISE_CONV_2D with Conv2DOptions, 2 of 2 samples not
    bit-exact, found once validation failures became exit 7). The reader refuses it: exit 2."""
    def conv_options(m):
        op = m.subgraphs[0].operators[0]
        old = op.builtinOptions
        op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.Conv2DOptions, schema.Conv2DOptionsT()
        op.builtinOptions.fusedActivationFunction = old.fusedActivationFunction

    model = tmp_path / "m.tflite"
    model.write_bytes(_hello_world_edited(shared_data, conv_options))
    done = cli("generate", model, "--board", "host", "-o", "proj", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "operator 0 (FULLY_CONNECTED) carries Conv2DOptions, not its FullyConnectedOptions" in done.stderr
    assert done.stderr.count("\n") == 1 and [p.name for p in tmp_path.iterdir()] == ["m.tflite"]
