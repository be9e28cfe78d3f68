"""Figures of variance fits: components per task (forest plot) and posterior SNR against the
paper's point estimate. Each takes fits (objects with ``summary()``) and returns a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

COMPONENT_COLORS = {"sigma_model": "#1b9e77", "sigma_seed": "#d95f02", "sigma_order": "#7570b3",
                    "sigma_ckpt": "#e7298a", "sigma_binom": "#66a61e"}


def plot_components(fits: dict, level: float = 0.9, title: str = "Variance components (score scale)"):
    """Forest plot: for every task, the median and ``level`` interval of each sigma."""
    tasks = list(fits)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(tasks) * 1.6 + 1.2))
    offsets = np.linspace(-0.3, 0.3, len(COMPONENT_COLORS))
    for (name, color), off in zip(COMPONENT_COLORS.items(), offsets):
        ys, med, lo, hi = [], [], [], []
        for i, task in enumerate(tasks):
            s = fits[task].summary(level)
            if name in s.index:
                ys.append(i + off)
                med.append(s.loc[name, "median"])
                lo.append(s.loc[name, "lo"])
                hi.append(s.loc[name, "hi"])
        if ys:
            ax.errorbar(med, ys, xerr=[np.subtract(med, lo), np.subtract(hi, med)], fmt="o", ms=3,
                        color=color, label=name.replace("sigma_", ""), lw=1)
    return _finish_forest(fig, ax, tasks, f"sd on the score scale (median, {level:.0%} interval)", title)


def plot_snr(fits: dict, level: float = 0.9, title: str = "Posterior SNR against the paper's point estimate"):
    """Posterior SNR (finite-population and superpopulation) with intervals; point estimate as a cross."""
    tasks = list(fits)
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(tasks) + 1.4))
    for i, task in enumerate(tasks):
        s = fits[task].summary(level)
        for row, off, color, label in (("snr", -0.15, "#1f77b4", "posterior SNR"),
                                       ("snr_pop", 0.15, "#9ecae1", "superpopulation SNR")):
            if row in s.index:
                m, lo, hi = s.loc[row, ["median", "lo", "hi"]]
                ax.errorbar([m], [i + off], xerr=[[m - lo], [hi - m]], fmt="o", ms=3, color=color,
                            label=label if i == 0 else None, lw=1)
        if "snr" in s.index and np.isfinite(s.loc["snr", "point"]):
            ax.plot(s.loc["snr", "point"], i, "x", color="black", label="paper point estimate" if i == 0 else None)
    return _finish_forest(fig, ax, tasks, f"SNR (median, {level:.0%} interval)", title)


def _finish_forest(fig, ax, tasks, xlabel: str, title: str):
    """One row per task, top to bottom, on a log axis (spreads span orders of magnitude)."""
    ax.set_yticks(range(len(tasks)), tasks)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_intervals(table, *, value: str, point: str | None = None, xlabel: str = "", title: str = ""):
    """Generic interval plot of a table with columns median/lo/hi (rows = labels)."""
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(table) + 1.4))
    y = np.arange(len(table))
    med = table["median"].to_numpy(float)
    ax.errorbar(med, y, xerr=[med - table["lo"].to_numpy(float), table["hi"].to_numpy(float) - med],
                fmt="o", ms=3, lw=1, label=value)
    if point and point in table:
        ax.plot(table[point].to_numpy(float), y, "x", color="black", label="paper point estimate")
    ax.set_yticks(y, [str(i) for i in table.index])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_selection(curve, *, n_full: int, full_snr: float | None = None, title: str = "Subtask selection"):
    """SNR of the aggregate of the top-k subtasks against k: posterior order (posterior median
    SNR) and the paper's point order (point SNR); the full suite as a horizontal line."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(curve["k"], curve["snr_posterior_order"], "o-", ms=3, lw=1,
            label="top k by posterior SNR (posterior median)")
    ax.plot(curve["k"], curve["point_snr_point_order"], "x--", ms=4, lw=1, color="black",
            label="top k by point SNR (paper, point SNR)")
    if full_snr is not None:
        ax.axhline(full_snr, color="grey", lw=0.8, ls=":", label=f"all {n_full} subtasks (posterior median)")
    ax.set_xlabel("k (subtasks kept)")
    ax.set_ylabel("SNR of the aggregate")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
