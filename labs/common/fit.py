"""The "will it fit?" survey of a model over the whole board catalog (labs 03 and 05)."""

from __future__ import annotations

ENGINES = ("aot", "tflm")


def fit_rows(tflite, engine: str) -> list[dict]:
    """One row per catalog board: flash/RAM needed by `tflite` with `engine` against the board's budget."""
    from toolchain import analyze, list_boards

    rows = []
    for board in list_boards():
        fit = analyze(tflite, board=board.id, engine=engine).fit.to_dict()
        rows.append({"board": board.id, "core": board.core, "engine": engine, "fits": fit["fits"],
                     "engine_listed": fit["engine_listed"],
                     "flash_used": fit["flash"]["needed"], "flash_total": fit["flash"]["budget"],
                     "ram_used": fit["ram"]["needed"], "ram_total": fit["ram"]["budget"]})
    return rows


def survey(lab, tflite, name: str) -> dict[str, list[dict]]:
    """Fit `tflite` on every board with each engine: one table, one flash/RAM bar figure per engine."""
    from labs.common import plots

    fits = {engine: fit_rows(tflite, engine) for engine in ENGINES}
    rows = []
    for i, base in enumerate(fits[ENGINES[0]]):
        row = [base["board"], base["core"], f"{base['flash_total'] / 1024:,.0f}", f"{base['ram_total'] / 1024:,.0f}"]
        for engine in ENGINES:
            r = fits[engine][i]
            verdict = "[green]fits[/]" if r["fits"] else "[red]no[/]"
            row += [f"{r['flash_used'] / 1024:,.0f} / {r['ram_used'] / 1024:,.0f}",
                    verdict + ("" if r["engine_listed"] else " (not offered)")]
        rows.append(row)
    columns = ["board", "core", "flash KiB", "RAM KiB"]
    for engine in ENGINES:
        columns += [f"{engine}: needs flash / RAM", engine]
    lab.table(f"Will {name} fit? (KiB; engine overheads are the analyzer's estimates)", columns, rows)
    for engine in ENGINES:
        lab.figure(plots.board_fit(fits[engine], f"{name} ({engine})"), f"board_fit_{engine}")
    return fits
