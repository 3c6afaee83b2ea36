"""Run the fuzz cases: `python -m tests.fuzz.run --cases N --seed S [--jobs J] [--json]`.

Gathers cases from tests/fuzz/models.py and, when present, tests/fuzz/device.py
(each exposes `cases(seed, n)`), runs them on J worker processes, prints the
per-category outcome counts and exits 1 if any case failed (docs/fuzz.md).
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from tests.fuzz import FAILURES, OUTCOMES

SOURCES = ("tests.fuzz.models", "tests.fuzz.device")
_CASES: list = []  # set before the workers fork; they inherit it


def gather(seed: int, n: int, only: str | None = None) -> list:
    """`n` cases split evenly over the case modules found (a module may weigh itself with WEIGHT)."""
    modules = []
    for name in SOURCES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
    total = sum(getattr(m, "WEIGHT", 1) for m in modules)
    out, left = [], n
    for k, m in enumerate(modules):
        share = left if k == len(modules) - 1 else round(n * getattr(m, "WEIGHT", 1) / total)
        out += list(m.cases(seed, share))
        left -= share
    return [c for c in out if only is None or c.name == only or only in getattr(c, "driver", "")]


def _preload() -> None:
    """Import what the CLI commands import, once per worker, so that forked cases start fast."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    for name in ("toolchain.cli", "toolchain.model", "toolchain.analyze", "toolchain.analyze.tail",
                 "toolchain.analyze.arena", "toolchain.codegen", "toolchain.codegen.aot", "toolchain.export",
                 "toolchain.build", "toolchain.cli.analyze_cmd", "toolchain.cli.export_cmd",
                 "toolchain.cli.generate_cmd", "toolchain.cli.build_cmd"):
        importlib.import_module(name)


def _run_one(index: int, keep: str | None) -> tuple[int, str, str, float]:
    case = _CASES[index]
    tmp = Path(tempfile.mkdtemp(prefix=f"fuzz-{index}-"))
    start = time.monotonic()
    try:
        outcome, detail = case.run(tmp)
    except Exception as e:  # the harness itself failed: count it, never hide it
        outcome, detail = "traceback", f"harness error in {case.name}: {type(e).__name__}: {e}"
    seconds = time.monotonic() - start
    if outcome in FAILURES and keep:
        shutil.copytree(tmp, Path(keep) / f"{index}-{case.name}", symlinks=True, dirs_exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return index, outcome, detail, seconds


def run(cases: list, jobs: int = 2, keep: str | None = None, progress=None) -> list[dict]:
    """Run `cases`; one dict per case: index, category, driver, outcome, detail, seconds."""
    global _CASES
    _CASES = cases
    results = []
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs, initializer=_preload, maxtasksperchild=200) as pool:
        for index, outcome, detail, seconds in pool.imap_unordered(
                _run_one_star, [(i, keep) for i in range(len(cases))]):
            results.append({"index": index, "category": cases[index].name, "driver": cases[index].driver,
                            "outcome": outcome, "detail": detail, "seconds": round(seconds, 3)})
            if progress:
                progress(len(results), len(cases), results[-1])
    return sorted(results, key=lambda r: r["index"])


def _run_one_star(args):
    return _run_one(*args)


def summary(results: list[dict]) -> dict:
    totals = Counter(r["outcome"] for r in results)
    return {"cases": len(results), "outcomes": {o: totals[o] for o in OUTCOMES},
            "failures": sum(totals[o] for o in FAILURES),
            "by_category": _counts(results, "category"), "by_driver": _counts(results, "driver")}


def _counts(results: list[dict], key: str) -> dict:
    table: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        table[r[key]][r["outcome"]] += 1
    return {c: {o: table[c][o] for o in OUTCOMES} for c in sorted(table)}


def format_table(s: dict, key: str = "category") -> str:
    """The outcome counts per category (mutator or device fault) or per driver, as a Markdown table."""
    header = [key, *OUTCOMES, "total"]
    rows = [[c, *(str(counts[o]) for o in OUTCOMES), str(sum(counts.values()))] for c, counts in s[f"by_{key}"].items()]
    rows.append(["TOTAL", *(str(s["outcomes"][o]) for o in OUTCOMES), str(s["cases"])])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *map(line, rows)])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=300, help="number of cases (default 300)")
    p.add_argument("--seed", type=int, default=0, help="seed: the same seed runs the same cases")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--only", metavar="CATEGORY", help="run only the cases of this category or driver")
    p.add_argument("--keep", metavar="DIR", help="copy the working folder of every failing case here")
    p.add_argument("--json", action="store_true", help="print the summary and the failures as JSON")
    args = p.parse_args(argv)
    cases = gather(args.seed, args.cases, args.only)
    start = time.monotonic()

    def progress(done, total, r):
        if not args.json and (done % 50 == 0 or done == total or r["outcome"] in FAILURES):
            mark = f"  {r['outcome'].upper()}: {r['detail'][:200]}" if r["outcome"] in FAILURES else ""
            print(f"[{done}/{total}] {time.monotonic() - start:.0f} s{mark}", file=sys.stderr, flush=True)

    results = run(cases, args.jobs, args.keep, progress)
    s = summary(results)
    s["seed"], s["seconds"] = args.seed, round(time.monotonic() - start, 1)
    failed = [r for r in results if r["outcome"] in FAILURES]
    if args.json:
        print(json.dumps({**s, "failed": failed}, indent=2))
    else:
        print(format_table(s))
        print()
        print(format_table(s, "driver"))
        print(f"{s['cases']} cases, seed {args.seed}, {s['seconds']} s, {s['failures']} failures")
        for r in failed:
            print(f"  FAIL #{r['index']} {r['category']} {r['outcome']}: {r['detail']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
