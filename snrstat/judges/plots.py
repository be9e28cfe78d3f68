"""Figures of a judge fit: intervals per (judge, strategy) against the simple counts, and the
isolated-against-relative simulation. Presentation only: every number comes from the fit."""

from __future__ import annotations

import numpy as np
import pandas as pd


def plot_cells(cells: pd.DataFrame, quantities=("accuracy", "flip", "first"), title: str | None = None):
    """One panel per quantity: posterior median and interval per cell (bars), raw count (cross).
    ``cells``: :meth:`snrstat.judges.JudgeFit.cell_table`."""
    import matplotlib.pyplot as plt

    table = cells.reset_index()
    labels = [f"{j} | {s}" for j, s in zip(table["judge"], table["strategy"])]
    y = np.arange(len(table))[::-1]
    fig, axes = plt.subplots(1, len(quantities), figsize=(3.2 * len(quantities) + 1.5, 0.28 * len(table) + 1.2),
                             sharey=True)
    axes = np.atleast_1d(axes)
    names = {"accuracy": "accuracy vs gold", "flip": "P(flip when swapped)", "first": "P(picks answer shown first)",
             "snr": "judge SNR"}
    for ax, q in zip(axes, quantities):
        colors = np.where(table["mode"] == "rating", "tab:orange", "tab:blue")
        ax.hlines(y, table[f"{q}_lo"], table[f"{q}_hi"], color=colors, lw=3, alpha=0.7)
        ax.plot(table[q], y, "o", color="k", ms=3)
        if f"{q}_count" in table:
            ax.plot(table[f"{q}_count"], y, "x", color="crimson", ms=5, label="count on raw verdicts")
        if q == "first":
            ax.axvline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(names.get(q, q))
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(labels, fontsize=7)
    axes[-1].legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_modes(res: pd.DataFrame, title: str | None = None):
    """Decision accuracy of isolated and relative scoring against the call-level noise
    (:func:`snrstat.judges.simulate.simulate_modes`), with 2-se bands."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    x = res.index.to_numpy(dtype=float)
    for mode, color in (("isolated", "tab:orange"), ("relative", "tab:blue")):
        ax.plot(x, res[mode], "o-", color=color, label=f"{mode} scoring")
        ax.fill_between(x, res[mode] - 2 * res[f"{mode}_se"], res[mode] + 2 * res[f"{mode}_se"], color=color, alpha=0.2)
    ax.set_xlabel("sd of the judge's per-call offset (latent units)")
    ax.set_ylabel("pairs of systems ordered right")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
