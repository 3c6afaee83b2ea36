"""The aot engine on the shared models: bit-exact with TFLM, arena no larger than TFLM's head,
unsupported models refused before anything is written, sources clean for a Cortex-M4F."""

from __future__ import annotations

import random
import subprocess

import numpy as np
import pytest
from aot_rig import build, check_model, cross_compile, random_samples
from conftest import SHARED_DATA as DATA
from labs.common.samples import person_input, read_ad_sample, read_bmp

from toolchain.codegen.aot import aot_sources, generate_aot
from toolchain.codegen.aot_plan import Step, plan_arena
from toolchain.errors import NotSupportedError
from toolchain.model import load_model

SHARED = {
    "hello_world_int8": DATA / "tflm" / "hello_world_int8.tflite",
    "micro_speech_quantized": DATA / "tflm" / "micro_speech_quantized.tflite",
    "person_detect": DATA / "tflm" / "person_detect.tflite",
    "kws_ref_model": DATA / "mlperf_tiny" / "kws_ref_model.tflite",
    "ad01_int8": DATA / "mlperf_tiny" / "ad01_int8.tflite",
}


def real_samples(name: str, model) -> list[list[np.ndarray]]:
    """The shared real inputs of a model: the 40 AD windows, the two person images."""
    if name == "ad01_int8":
        t = model.main.input_tensors()[0]
        scale, zp = t.quantization.scale[0], t.quantization.zero_point[0]
        windows = read_ad_sample(DATA / "mlperf_tiny" / "normal_id_01_00000000_hist_librosa.bin")
        q = np.clip(np.round(windows / scale) + zp, -128, 127).astype(np.int8)
        return [[row.reshape(t.shape)] for row in q]
    if name == "person_detect":
        return [[person_input(read_bmp(DATA / "tflm" / f))] for f in ("person.bmp", "no_person.bmp")]
    return []


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_model_bit_exact_within_tflm_head(name, tmp_path):
    model = load_model(SHARED[name])
    samples = random_samples(model, 20, seed=1) + real_samples(name, model)
    # person_detect is large: sanitizers would cost minutes, its kernels are covered by the matrix
    r = check_model(model, tmp_path, samples=samples, sanitize=name != "person_detect")
    print(f"{name}: aot arena {r.arena_size} B, TFLM head {r.tflm_head} B, saved {r.tflm_head - r.arena_size} B")


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
def test_sources_compile_for_cortex_m4(tmp_path):
    generate_aot(load_model(SHARED["kws_ref_model"]), tmp_path)
    cross_compile(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.o")) == sorted(p.stem + ".o" for p in tmp_path.glob("*.c"))


@pytest.mark.usefixtures("shared_data")
def test_sources_are_only_the_kernels_used():
    names = {p.name for p in aot_sources(SHARED["micro_speech_quantized"])}
    assert {n for n in names if n.endswith(".c")} == {
        "ts_depthwise_conv2d_s8.c", "ts_fully_connected_s8.c", "ts_softmax_s8.c"}
    assert {"ts_kernels.h", "ts_depthwise_conv2d_s8.h", "ts_fully_connected_s8.h", "ts_softmax_s8.h",
            "ts_fixedpoint.h"} <= names  # softmax includes ts_fixedpoint.h
    assert not {"ts_conv2d_s8.h", "ts_pool2d_s8.h", "ts_add_s8.h"} & names
    assert all(p.is_file() for p in aot_sources(SHARED["micro_speech_quantized"]))
    assert "ts_softmax_s8.c" not in {p.name for p in aot_sources(SHARED["ad01_int8"])}


@pytest.mark.usefixtures("shared_data")
def test_float_model_refused_before_writing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(NotSupportedError) as err:
        generate_aot(DATA / "tflm" / "hello_world_float.tflite", out)
    assert err.value.exit_code == 3
    assert "FULLY_CONNECTED" in err.value.message and "--engine tflm" in str(err.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("shared_data")
def test_generated_code_names_layers_and_draws_the_arena(tmp_path):
    result = generate_aot(SHARED["kws_ref_model"], tmp_path)
    source = (tmp_path / "model.c").read_text()
    assert result.layers[0] == "CONV_2D " + result.layers[0].split(" ", 1)[1]
    for i, layer in enumerate(result.layers):
        assert f"/* {i}: {layer}" in source
    assert f"Activation arena ({result.arena_size} bytes" in source
    assert "RESHAPE" in source and "alias" in source  # the reshape costs neither bytes nor code
    assert f"#define MODEL_ARENA_SIZE   {result.arena_size}" in (tmp_path / "model.h").read_text()


@pytest.mark.usefixtures("shared_data")
def test_layer_api_hooks_names_and_outputs(tmp_path):
    result = generate_aot(SHARED["micro_speech_quantized"], tmp_path)
    exe = build(tmp_path, sanitize=True, main="api_check.c")
    lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert lines[-1] == "order 1 ok 1"
    rows = [line.split("|") for line in lines[:-1]]
    assert [r[1] for r in rows] == result.layers
    assert [r[4:] for r in rows] == [["1", "1"]] * len(result.layers)  # one begin and one end per layer
    model = load_model(SHARED["micro_speech_quantized"])
    last = model.main.tensors[model.main.operators[-1].outputs[0]]
    assert rows[-1][2:4] == [str(last.nbytes), "1"]  # the last layer's output is the model output


def _random_graph(rng: random.Random):
    """A random op sequence over activation tensors: element-wise, reshapes and two-input ops."""
    nbytes, steps, alive = {0: rng.randint(1, 64)}, [], [0]
    for _ in range(rng.randint(1, 12)):
        t = len(nbytes)
        kind = rng.choice(["op", "alias", "inplace", "binary"])
        src = rng.choice(alive)
        ins = [src, rng.choice(alive)] if kind == "binary" else [src]
        nbytes[t] = nbytes[src] if kind in ("alias", "inplace") else rng.randint(1, 64)
        steps.append(Step(ins, [t], alias=kind == "alias", inplace=kind in ("inplace", "binary")))
        alive.append(t)
    return steps, nbytes


def test_arena_plan_never_overlaps_live_tensors():
    rng = random.Random(7)
    for _ in range(300):
        steps, nbytes = _random_graph(rng)
        outputs = [len(nbytes) - 1] + ([rng.choice(list(nbytes))] if rng.random() < 0.5 else [])
        plan = plan_arena(steps, nbytes, [0], outputs)
        live = {t: [-1 if t == 0 else None, -1] for t in nbytes}
        for i, s in enumerate(steps):
            for t in s.outputs:
                live[t][0] = i
            for t in s.inputs:
                live[t][1] = i
        for t in outputs:
            live[t][1] = len(steps)
        group = {t: t for t in nbytes}  # reshape chains share bytes and are never written
        for s in steps:
            if s.alias:
                group[s.outputs[0]] = group[s.inputs[0]]
        for a in nbytes:
            for b in nbytes:
                if a >= b or live[a][1] < 0 and a not in outputs or live[b][1] < 0 and b not in outputs:
                    continue
                bytes_overlap = plan.offsets[a] < plan.offsets[b] + nbytes[b] and plan.offsets[b] < plan.offsets[a] + nbytes[a]
                lo, hi = max(live[a][0], live[b][0]), min(live[a][1], live[b][1])
                if not bytes_overlap or lo > hi or group[a] == group[b]:
                    continue
                # sharing is allowed only where b overwrites a in place at a's last use
                writer = steps[live[b][0]]
                assert lo == hi == live[b][0] == live[a][1] and writer.inplace, (steps, nbytes, plan)
                assert group[writer.inputs[0]] == group[a] and a not in outputs and a != 0, (steps, nbytes, plan)
        assert plan.arena_size >= max(nbytes.values())
