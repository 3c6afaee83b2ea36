"""Device fuzz cases: `tinyship profile` against a fake serial device with a random fault.

The device is tests/fake_device.py, a MOCK on purpose: the faults are a physical board's,
and no physical board can exist here. A case passes when `profile` either completes
(exit 0; fault "none", or one the harness tolerates; exit 7 when the outputs are wrong) or stops
with a documented exit code and one error line within its deadline, leaving a report that does
not claim to be running or complete.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from tests.fake_device import FAULTS, FakeDevice
from tests.fuzz import classify, run_cli
from tests.fuzz.models import DATA

WEIGHT = 0.04  # share of the cases next to the model cases (weight 1): each device case takes seconds
MODEL = "tflm/hello_world_int8.tflite"
DEADLINE = 90.0  # seconds for one profile run, far above its own --deadline


@dataclass
class DeviceCase:
    name: str  # the fault, a key of tests.fake_device.FAULTS
    after: int  # commands answered normally before the fault
    rng_seed: int
    driver: str = "profile"

    def run(self, tmp: Path) -> tuple[str, str]:
        size = random.Random(self.rng_seed).choice([1 << 10, 1 << 20, 16 << 20])
        with FakeDevice(DATA / MODEL, self.name, after=self.after, size=size, seed=self.rng_seed) as dev:
            r = run_cli(["profile", "--port", dev.port, "--model", str(DATA / MODEL), "--random", "1", "-n", "1",
                         "--timeout", "2", "--infer-timeout", "2", "--deadline", "20", "-o", "report"],
                        tmp, DEADLINE, tag="profile")
        outcome, detail = classify(r)
        report = tmp / "report" / "report.json"
        if outcome in ("ok", "rejected") and report.is_file():
            status = json.loads(report.read_text()).get("status")
            if status == "running" or (outcome == "rejected" and status == "complete" and r.code != 7):
                return "exit0-broken", f"{self.name} after {self.after}: exit {r.code} left report status {status!r}"
        return outcome, f"{self.name} after {self.after} #{self.rng_seed}: {detail}" if detail else ""


def cases(seed: int, n: int):
    """`n` device cases, the same for the same seed."""
    rng = random.Random(seed ^ 0xDE71CE)
    faults = sorted(FAULTS)
    for _ in range(n):
        yield DeviceCase(rng.choice(faults), rng.choice([0, 0, 1, 2, 3, 5]), rng.getrandbits(32))
