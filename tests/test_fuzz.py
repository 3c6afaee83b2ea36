"""A fixed-seed sample of the fuzz suite (docs/fuzz.md): hostile models (and, when tests/fuzz/device.py
exists, hostile devices) end in a clean result or a one-line refusal, never a traceback, hang,
native crash or an exit 0 whose build or run then fails. `make fuzz` runs 3,000 cases."""

from __future__ import annotations

import pytest

from tests.fuzz import FAILURES
from tests.fuzz.run import gather, run, summary

CASES, SEED = 300, 12


@pytest.mark.slow
def test_fuzz_sample_has_no_failures():
    results = run(gather(SEED, CASES), jobs=2)
    s = summary(results)
    failed = [f"#{r['index']} {r['category']} {r['outcome']}: {r['detail']}" for r in results if r["outcome"] in FAILURES]
    assert not failed, "\n".join(failed)
    assert s["cases"] == CASES
    # the sample exercises both sides: mutants that still work and mutants that are refused
    assert s["outcomes"]["ok"] >= CASES // 10 and s["outcomes"]["rejected"] >= CASES // 10, s
