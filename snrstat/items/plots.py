"""Figures of an item fit (matplotlib; each function returns the Figure)."""

from __future__ import annotations

import numpy as np


def plot_scores(fit, level: float | None = None):
    """Each model's population score (median and interval) with its observed accuracy and the
    interval of its score on this item set, best model on top."""
    import matplotlib.pyplot as plt

    sc = fit.scores(level).iloc[::-1]
    y = np.arange(len(sc))
    fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(sc) + 1.2))
    ax.hlines(y, sc["population_lo"], sc["population_hi"], color="C0", lw=2, label="population of items")
    ax.hlines(y + 0.25, sc["items_lo"], sc["items_hi"], color="C1", lw=2, label="this item set")
    ax.plot(sc["population_median"], y, "o", color="C0", ms=4)
    ax.plot(sc["observed"], y + 0.25, "|", color="k", ms=8, label="observed accuracy")
    ax.set_yticks(y, sc.index, fontsize=7)
    ax.set_xlabel(f"accuracy ({100 * (level or fit.level):.0f}% intervals)")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_items_needed(fit, gaps=(0.01, 0.02, 0.03, 0.05, 0.1), power: float = 0.8):
    """Items a paired comparison needs against the accuracy gap (median and interval)."""
    import matplotlib.pyplot as plt

    rows = [fit.items_needed(g, power=power, max_draws=200) for g in gaps]
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    med = [r["items_median"] for r in rows]
    ax.fill_between(gaps, [r["items_lo"] for r in rows], [r["items_hi"] for r in rows], alpha=0.3)
    ax.plot(gaps, med, "o-")
    ax.axhline(rows[0]["benchmark_items"], color="k", ls="--", lw=1, label="this benchmark")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("accuracy gap between two models")
    ax.set_ylabel(f"items for power {power:.1f}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
