"""A self-contained HTML page for an analysis: tables plus matplotlib plots inlined as SVG."""

from __future__ import annotations

import io
from pathlib import Path

import jinja2

from toolchain.escape import environment
from toolchain.files import atomic_write

_TEMPLATES = Path(__file__).parent / "templates"


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})  # same input, same page
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG sits inside HTML


def _plots(analysis) -> tuple[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = analysis.layers
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.bar([layer.index for layer in layers], [layer.macs for layer in layers], color="#3b6ea8")
    ax.set_xlabel("layer")
    ax.set_ylabel("MACs")
    macs = _svg(fig)
    plt.close(fig)

    plan = analysis.plan
    fig, ax = plt.subplots(figsize=(10, 4))
    colors = plt.get_cmap("tab20")
    for k, b in enumerate(plan.buffers):
        if b.first < 0 or b.size == 0:
            continue
        ax.add_patch(plt.Rectangle((b.first - 0.45, b.offset), b.last - b.first + 0.9, b.size,
                                   facecolor=colors(k % 20), edgecolor="black", linewidth=0.3))
    peak = plan.peak_scope
    ax.axvline(peak, color="#b00020", linestyle="--", linewidth=1, label=f"peak: layer {analysis.peak_layer}")
    ax.set_xlim(-0.5, max(plan.scopes - 0.5, 0.5))
    ax.set_ylim(0, max(plan.head, 1))
    ax.set_xlabel("allocation scope (0: inputs, i + 1: layer i)")
    ax.set_ylabel("arena offset (bytes)")
    ax.legend(loc="upper right")
    timeline = _svg(fig)
    plt.close(fig)
    return macs, timeline


def render_html(analysis) -> str:
    macs_svg, timeline_svg = _plots(analysis)
    env = environment(jinja2.FileSystemLoader(_TEMPLATES), html=True)
    return env.get_template("report.html.j2").render(d=analysis.to_dict(), macs_svg=macs_svg, timeline_svg=timeline_svg)


def write_html(analysis, path) -> Path:
    """Write the page for `analysis` to `path` (atomically)."""
    return atomic_write(path, render_html(analysis))
