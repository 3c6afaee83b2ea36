"""The report's plots as inline SVG strings (matplotlib, headless)."""

from __future__ import annotations

import io


def plots(report: dict) -> dict[str, str]:
    """{'latency': svg, 'layers': svg, 'memory': svg}; None for a plot without data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matplotlib.ticker import FuncFormatter, MaxNLocator

    plain = FuncFormatter(lambda v, _: f"{v:,.0f}")  # 2,657,840, not 2.6578 with a "1e6" offset

    def count_axis(axis):
        axis.set_major_locator(MaxNLocator(5))  # few enough ticks that 7-digit labels never touch
        axis.set_major_formatter(plain)

    out = dict.fromkeys(("latency", "layers", "memory"))
    unit = "instructions" if (report.get("latency") or {}).get("cycles_are") == "instructions" else "cycles"
    cycles = [c for s in report["samples"] for c in s["cycles"]]
    if cycles:
        fig, ax = plt.subplots(figsize=(6, 2.6))
        ax.hist(cycles, bins=min(30, max(5, len(set(cycles)))), color="#3b75af")
        ax.set_xlabel(f"{unit} per inference")
        ax.set_ylabel("inferences")
        count_axis(ax.xaxis)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        out["latency"] = _svg(fig, plt)
    layers = report["layers"]
    if layers:
        fig, ax = plt.subplots(figsize=(7, 0.25 * len(layers) + 1))
        ax.barh([f"{l['i']} {l['name']}"[:40] for l in layers], [l["cycles"] for l in layers], color="#519e3e")
        ax.invert_yaxis()
        ax.set_xlabel(unit)
        count_axis(ax.xaxis)
        ax.tick_params(axis="y", labelsize=7)
        out["layers"] = _svg(fig, plt)
    mem = report["memory"]
    bars = [(name, used, size) for name, used, size in
            (("arena", mem.get("arena_used"), mem.get("arena_size")), ("stack", mem.get("stack_used"), mem.get("stack_size")))
            if size]
    if bars:
        fig, ax = plt.subplots(figsize=(6, 1.6))
        names = [b[0] for b in bars]
        ax.barh(names, [b[2] for b in bars], color="#dddddd", label="allocated")
        ax.barh(names, [b[1] or 0 for b in bars], color="#ef8636", label="used")
        ax.set_xlabel("bytes")
        count_axis(ax.xaxis)
        # above the axes, so it never hides a bar
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=7, frameon=False)
        out["memory"] = _svg(fig, plt)
    return out


def _svg(fig, plt) -> str:
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG is inlined in HTML
