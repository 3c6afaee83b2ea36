"""The cycle cost model (toolchain.device.costmodel, docs/cost-model.md): blocks priced by the
core's table, QEMU trace logs parsed into the inference window, and one real traced run."""

from __future__ import annotations

import pytest

from toolchain.device.costmodel import REFILL, CostModel, Insn, cost_model, parse_trace

M4, M55 = CostModel("cortex-m4f"), CostModel("cortex-m55")


def _block(*lines: str) -> list[Insn]:
    out = []
    for line in lines:
        op, _, args = line.partition(" ")
        out.append(Insn(op, args.strip(), 4))
    return out


def test_m4_prices_loads_multiples_and_taken_branches_as_the_trm():
    # LDM of four: 1 + 4; two neighbouring LDRs: 2 + 1 (pipelined); SMLAD 1; BNE: 1, + P when taken
    block = _block("ldmia r0!, {r4, r5, r6, r8}", "ldr r1, [r2]", "ldr r3, [r2, #4]", "smlad r0, r4, r1, r0",
                   "bne 0x100")
    assert M4.block(block) == (5 + 3 + 1 + 1, REFILL)
    assert M4.block(_block("push {r4, r5, lr}", "bl 0x200")) == (4 + 1 + REFILL, 0)
    assert M4.block(_block("sdiv r0, r1, r2", "pop {r4, pc}")) == (7 + 3 + REFILL, 0)


def test_m55_overlaps_memory_and_arithmetic_beats_and_prices_gathers_by_element():
    pair = _block("vldrb.s8 q0, [r0], #16", "vmladava.s8 r2, q0, q1")
    assert M55.block(pair) == (2 + 1, 0)
    same = _block("vmladava.s8 r2, q0, q1", "vmladava.s8 r3, q0, q2")
    assert M55.block(same) == (2 + 2, 0)
    assert M55.block(_block("vldrb.u8 q0, [r0, q1]")) == (16, 0)
    assert M55.block(_block("vadd.i32 q0, q0, q1", "letp lr, 0x100")) == (2 + 1, 0)  # no refill


def test_cores_without_a_published_table_have_no_model():
    assert cost_model("cortex-m7") is None and cost_model("cortex-m33") is None
    assert cost_model("cortex-m4f") is not None


LOG = """\
Trace 0: 0x7f0000000100 [00000000/00000100/00000110/ff020200] main
IN: engine_invoke
0x00000200:  b510       push     {r4, lr}
0x00000202:  f000 f801  bl       #0x208

Trace 0: 0x7f0000000200 [00000000/00000200/00000110/ff020200] engine_invoke
IN: kernel
0x00000208:  6801       ldr      r1, [r0]
0x0000020a:  3801       subs     r0, #1
0x0000020c:  d1fc       bne      #0x208

Trace 0: 0x7f0000000300 [00000000/00000208/00000110/ff020200] kernel
Trace 0: 0x7f0000000300 [00000000/00000208/00000110/ff020200] kernel
Trace 0: 0x7f0000000300 [00000000/00000208/00000110/ff020200] kernel
IN: kernel
0x0000020e:  4770       bx       lr

Trace 0: 0x7f0000000400 [00000000/0000020e/00000110/ff020200] kernel
Trace 0: 0x7f0000000100 [00000000/00000100/00000110/ff020200] main
Trace 0: 0x7f0000000200 [00000000/00000200/00000110/ff020200] engine_invoke
"""


def test_trace_window_runs_from_engine_invoke_to_the_app_and_counts_taken_branches():
    est = parse_trace(LOG.splitlines(), M4, entry=0x200, app=[(0x100, 0x120)])
    assert est.instructions == 2 + 3 * 3 + 1  # the second call, after the app ran, is not counted
    # push 3 + bl (1 + P); the loop: ldr 2 + subs 1 + bne 1, taken twice (+ P), then falls through;
    # bx lr 1 + P
    assert est.cycles == (3 + 1 + REFILL) + 3 * 4 + 2 * REFILL + (1 + REFILL)


@pytest.mark.slow
def test_traced_kws_matches_the_measured_instruction_count(shared_data, tmp_path):
    from toolchain.bench import bench

    result = bench(["kws_ref_model"], ["qemu-cortex-m4"], ["aot"], samples=1, work_dir=tmp_path)
    (row,) = result.rows
    assert row.exact and row.estimated_cycles
    assert 1.2 < row.estimated_cycles / row.instructions < 2.5  # LDM-heavy DSP loops: 1 + N cycles
    from toolchain.boards import load_board
    from toolchain.device.costmodel import estimate_cycles

    project = tmp_path / "kws_ref_model-qemu-cortex-m4-aot"
    est = estimate_cycles(project / "build" / "firmware.elf", load_board("qemu-cortex-m4"), bytes(490),
                          tmp_path / "trace")
    assert abs(est.instructions - row.instructions) / row.instructions < 0.01
