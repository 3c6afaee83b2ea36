"""Figures the labs save (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def predictions(x, truth, series: dict, title: str):
    """Curves of model outputs over x against the truth (lab 01)."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(x, truth, color="black", lw=1, label="sin(x)")
    styles = {0: dict(lw=2, alpha=0.6), 1: dict(lw=1.5, ls="--"), 2: dict(ls="none", marker="o", ms=4, mfc="none")}
    for i, (label, y) in enumerate(series.items()):
        ax.plot(x, y, label=label, **styles[min(i, 2)])
    ax.set(xlabel="x", ylabel="y", title=title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def confusion(matrix: np.ndarray, classes, title: str):
    """A confusion matrix with counts in the cells (lab 02)."""
    fig, ax = plt.subplots(figsize=(6, 5.5))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > matrix.max() / 2 else "black")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes,
           xlabel="predicted", ylabel="true", title=title)
    return fig


def bars(labels, values, *, xlabel: str, title: str, annotate="{:,.0f}"):
    """Horizontal bars, first label on top (per-layer latency, memory by engine)."""
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.35 * len(labels)))
    y = np.arange(len(labels))
    ax.barh(y, values, color="tab:blue")
    ax.set(yticks=y, yticklabels=labels, xlabel=xlabel, title=title)
    ax.invert_yaxis()
    for yi, v in zip(y, values):
        ax.text(v, yi, " " + annotate.format(v), va="center", fontsize=8)
    ax.margins(x=0.15)
    return fig


def grouped_bars(groups, series: dict, *, ylabel: str, title: str):
    """Vertical bars, one group per entry of `groups`, one colour per series (tflm vs aot memory)."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = np.arange(len(groups))
    width = 0.8 / max(len(series), 1)
    for i, (label, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label)
    ax.set(xticks=x, xticklabels=groups, ylabel=ylabel, title=title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return fig


def arena_timeline(buffers, arena_bytes: int, title: str):
    """The arena plan: each buffer is a box from its first to its last operator, at its offset.

    `buffers` as in `analyze(...).to_dict()["arena"]["buffers"]`: scope s is operator s - 1
    running (scope 0: the inputs are written before the first operator).
    """
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for b in buffers:
        ax.broken_barh([(b["first"] - 1.4, b["last"] - b["first"] + 0.8)], (b["offset"], b["bytes"]),
                       facecolors="tab:orange" if b.get("op") is not None else "tab:blue", edgecolor="black", lw=0.5,
                       alpha=0.8)
    ax.axhline(arena_bytes, color="red", ls="--", lw=1, label=f"arena {arena_bytes:,} B")
    ax.set(xlabel="operator (-1: model input written before the first one)", ylabel="arena offset (bytes)",
           title=title)
    ax.legend(loc="upper right")
    return fig


def board_fit(rows, title: str):
    """Flash and RAM use as a share of each board's budget; red past 100 % (labs 03 and 05).

    `rows`: dicts with "board", "flash_used", "flash_total", "ram_used", "ram_total".
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.8 + 0.4 * len(rows)), sharey=True)
    y = np.arange(len(rows))
    for ax, kind in zip(axes, ("flash", "ram")):
        share = np.array([100.0 * r[f"{kind}_used"] / r[f"{kind}_total"] for r in rows])
        ax.barh(y, np.minimum(share, 110), color=["tab:red" if s > 100 else "tab:green" for s in share])
        ax.axvline(100, color="black", lw=1)
        for yi, s, r in zip(y, share, rows):
            ax.text(min(s, 110), yi, f" {s:.0f}% of {r[f'{kind}_total'] / 1024:,.0f} KiB", va="center", fontsize=8)
        label = {"flash": "flash", "ram": "RAM"}[kind]
        ax.set(xlim=(0, 160), xlabel=f"{label} needed (% of the board's)", title=f"{title}: {label}")
    axes[0].set(yticks=y, yticklabels=[r["board"] for r in rows])
    axes[0].invert_yaxis()
    return fig


def images(pictures: dict, title: str):
    """Grey images side by side with their captions (lab 05)."""
    fig, axes = plt.subplots(1, len(pictures), figsize=(3.5 * len(pictures), 3.8))
    for ax, (caption, img) in zip(np.atleast_1d(axes), pictures.items()):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(caption, fontsize=9)
        ax.axis("off")
    fig.suptitle(title)
    return fig


def reconstruction(errors: dict, title: str):
    """Per-window reconstruction error (MSE) curves (lab 04)."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (label, e) in enumerate(errors.items()):
        ax.plot(np.arange(len(e)), e, marker="os^"[i % 3], ms=4, ls="-" if i == 0 else "--", label=label)
    ax.set(xlabel="window (640 values each)", ylabel="reconstruction MSE", title=title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig
