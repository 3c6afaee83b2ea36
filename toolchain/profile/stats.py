"""Latency statistics and output comparison: pure functions over numbers."""

from __future__ import annotations

import numpy as np


def summarize(values) -> dict | None:
    """min, median, p90, max, mean, std of a list of numbers (None when empty)."""
    if len(values) == 0:
        return None
    a = np.asarray(values, dtype=np.float64)
    return {"count": int(a.size), "min": float(a.min()), "median": float(np.median(a)),
            "p90": float(np.percentile(a, 90)), "max": float(a.max()), "mean": float(a.mean()), "std": float(a.std())}


def compare(device: list[np.ndarray], host: list[np.ndarray]) -> dict:
    """One sample's outputs, device vs host reference, in quantized units."""
    diffs = [np.abs(d.astype(np.int64) - h.astype(np.int64)).ravel() for d, h in zip(device, host)]
    flat = np.concatenate(diffs) if diffs else np.zeros(0, np.int64)
    mismatch = np.flatnonzero(flat)
    return {
        "bit_exact": bool(mismatch.size == 0),
        "max_abs_diff": int(flat.max()) if flat.size else 0,
        "mismatches": int(mismatch.size),
        "first_mismatch": int(mismatch[0]) if mismatch.size else None,
        "top1_device": int(np.argmax(device[0])),
        "top1_host": int(np.argmax(host[0])),
    }
