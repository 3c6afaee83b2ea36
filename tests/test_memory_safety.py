"""Firmware memory safety (issue 13): kernel scratch planned into the arena, a guarded stack,
small-RAM builds.

- Layers with the largest reduction depths of the MLPerf Tiny / TFLM example models and beyond
  (1x1 conv over 1,024 channels, 3x3 conv over 512 and 1,024, fully connected with k = 12,000,
  depthwise over 96x96x32) run bit-exact against the TFLM interpreter on qemu-cortex-m4 (DSP
  kernels) and qemu-cortex-m55 (Helium), with the stack's high-water mark under the README's bound.
- A stack too small for the run faults at its guard (HardFault 'stack overflow', exit 4): MPU on
  the M4, PSPLIM on the M55; a high-water mark reaching the stack size fails the run.
- `--memory-of` every real catalog board: kws_ref_model or hello_world bit-exact on
  qemu-cortex-m4 within that board's memory, or a refusal at build naming the shortfall (exit 3).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from toolchain.boards import load_board
from toolchain.build import build
from toolchain.codegen import generate
from toolchain.codegen.aot import generate_aot
from toolchain.codegen.aot_opt import specializer
from toolchain.device.emulator import QemuRunner
from toolchain.errors import DeviceError, DoesNotFitError
from toolchain.profile.session import check_stack

from aot_rig.qemu import expected, random_inputs, run_project
from aot_rig.spec import Spec, add_layer, layer_opcodes

STACK_BOUND = 1024  # README "Stack use": the high-water mark of a run (app shell + any aot kernel), bytes

# one branch per input: (input shape, its layers). The deep tensors are made inside the model:
# the protocol loads inputs at about 1 KB/s, and a 96x96x32 input plus the app's copy of it would
# not fit the M55's 512 KiB.
BRANCHES = [
    ((1, 1, 2, 1024), [{"op": "conv", "k": 1, "out": 8}]),                  # 1x1 over 1,024 channels
    ((1, 2, 2, 512), [{"op": "conv", "k": 3, "out": 8, "act": "RELU6"}]),   # 3x3 over 512 (k = 4,608)
    ((1, 2, 1, 1024), [{"op": "conv", "k": 3, "out": 4}]),                  # 3x3 over 1,024 (k = 9,216)
    ((1, 1, 375, 1), [{"op": "conv", "k": 1, "out": 32}, {"op": "fc", "out": 10}]),  # FC, k = 12,000
    ((1, 96, 96, 1), [{"op": "conv", "k": 1, "out": 32}, {"op": "dw", "k": 3, "stride": 2}]),  # dw over 96x96x32
]


def _branches(make_tflite) -> bytes:
    """BRANCHES side by side in one model: each input through its layers to its own output."""
    rng = np.random.default_rng(13)
    spec, ops, inputs, outputs = Spec(), [], [], []
    for shape, layers in BRANCHES:
        x = spec.tensor(shape, 0.05, -3)
        inputs.append(x)
        scale = 0.05
        for layer in layers:
            flat = (1, int(np.prod(shape))) if layer["op"] == "fc" else shape  # FC reads the tensor as [1, k]
            x, scale, shape = add_layer(spec, ops, rng, x, scale, flat, layer)
        outputs.append(x)
    return make_tflite(spec.tensors, ops, inputs, outputs, opcodes=layer_opcodes(), buffers=spec.buffers)


@pytest.mark.slow
@pytest.mark.parametrize("board", ["qemu-cortex-m4", "qemu-cortex-m55"])
def test_deep_layers_bit_exact_with_a_small_stack(make_tflite, tmp_path, board):
    path = tmp_path / "deep.tflite"
    path.write_bytes(_branches(make_tflite))
    project = tmp_path / board
    generate(path, board=board, engine="aot", out_dir=project)
    model_c = (project / "src" / "model" / "model.c").read_text()
    scratch = [int(n) for n in re.findall(r"_scratch_size\(&l\d+_params\) > (\d+)", model_c)]
    assert len(scratch) >= 4 and max(scratch) >= 18432  # M4: FC's int16 column 24,000; M55: 3x3/1,024's 2 x 9,216
    inputs = random_inputs(path, 1)
    got, mem = run_project(project, board, inputs)
    want = expected(path, inputs)
    assert len(set(want[0])) > 16, "the outputs should not all saturate"
    assert got == want
    print(f"{board}: scratch {max(scratch):,} B, stack {mem['stack_used']} / {mem['stack_size']} B, "
          f"arena {mem['arena_size']:,} B")
    assert 0 < mem["stack_used"] <= STACK_BOUND
    check_stack(mem)


def test_scratch_budget_keeps_the_portable_kernels(make_tflite, tmp_path):
    """Over the scratch budget a layer keeps the portable kernel (no scratch, no re-laid filter)."""
    path = tmp_path / "deep.tflite"
    path.write_bytes(_branches(make_tflite))
    fast = generate_aot(path, tmp_path / "fast", specialize=specializer({"dsp": True}))
    tight = generate_aot(path, tmp_path / "tight", specialize=specializer({"dsp": True}), scratch_budget=3000)
    fast_scratch = {index: low.scratch for index, _, low in fast.lowered}
    kept = 0
    for index, _, low in tight.lowered:
        if fast_scratch[index] > 3000:  # 3x3 over 512 and 1,024, FC 12,000: portable, and why
            assert low.scratch == 0 and "over the budget of 3,000 B" in low.fallback
        else:  # 1x1 over 1,024 (2,048 B) and over 1 channel (twice), the depthwise planes (2,216 B)
            assert low.scratch == fast_scratch[index] > 0
            kept += 1
    assert kept == 4
    assert (tmp_path / "tight" / "model.c").read_text().count(", NULL);") == 3  # portable calls: no scratch


def test_check_stack_fails_a_run_at_the_limit():
    check_stack({"stack_used": 4060, "stack_size": 4064})
    with pytest.raises(DeviceError, match="stack overflowed: the run used 4,064 of its 4,064 bytes"):
        check_stack({"stack_used": 4064, "stack_size": 4064})


@pytest.mark.slow
@pytest.mark.parametrize("board", ["qemu-cortex-m4", "qemu-cortex-m55"])
def test_stack_overflow_faults_at_the_guard(shared_data, tmp_path, board):
    """A stack shrunk below what the run needs (320 B, 64 above the guard: the linker script edited)
    faults at its guard: a HardFault report naming the overflow, never a silent pass."""
    project = tmp_path / board
    generate(shared_data / "tflm/hello_world_int8.tflite", board=board, engine="aot", out_dir=project)
    linker = project / "linker.ld"
    linker.write_text(re.sub(r"\. \+= \d+; __stack_top", ". += 320; __stack_top", linker.read_text()))
    built = build(project)
    with pytest.raises(DeviceError, match=r"HARDFAULT stack overflow: sp=0x\w+ at the guard") as e:
        with QemuRunner(built.elf, load_board(board), run_dir=project / "run", boot_timeout=30, timeout=30) as runner:
            runner.start().info()
    assert e.value.exit_code == 4


REAL_BOARDS = ["arduino-nano-33-ble", "esp32-s3-devkitc-1", "nucleo-l4r5zi", "rpi-pico", "stm32f103-bluepill",
               "stm32f4-discovery", "stm32f746g-disco"]


@pytest.mark.slow
@pytest.mark.parametrize("memory_of", REAL_BOARDS)
def test_memory_of_every_real_board(shared_data, tmp_path, memory_of):
    """kws_ref_model where the board's RAM holds it (>= 128 KiB), hello_world elsewhere, bit-exact
    on qemu-cortex-m4 linked with the board's flash/RAM sizes."""
    ram = load_board(memory_of).ram_bytes
    path = shared_data / ("mlperf_tiny/kws_ref_model.tflite" if ram >= 128 * 1024 else "tflm/hello_world_int8.tflite")
    project = tmp_path / "fw"
    generate(path, board="qemu-cortex-m4", engine="aot", out_dir=project, memory_of=memory_of)
    inputs = random_inputs(path, 1)
    got, mem = run_project(project, "qemu-cortex-m4", inputs)
    assert got == expected(path, inputs)
    check_stack(mem)


@pytest.mark.slow
def test_kws_with_the_memory_of_a_bluepill_is_refused_at_build(shared_data, tmp_path):
    project = tmp_path / "fw"
    generate(shared_data / "mlperf_tiny/kws_ref_model.tflite", board="qemu-cortex-m4", engine="aot",
             out_dir=project, memory_of="stm32f103-bluepill")
    with pytest.raises(DoesNotFitError, match=r"does not fit stm32f103-bluepill: .*RAM over by \d+ bytes"):
        build(project)
