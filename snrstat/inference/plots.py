"""Sampler diagnostics as pictures, following ArviZ conventions: rank plots and the energy plot.

The numbers (R-hat, ESS, divergences, BFMI) and their thresholds are the inference core's
(:func:`snrstat.inference.diagnose`).
"""

from __future__ import annotations

import arviz as az
import matplotlib.pyplot as plt
import numpy as np

def plot_rank(idata, var_names, title: str = ""):
    """Rank plots (Vehtari et al. 2021): uniform bars per chain mean the chains mix."""
    axes = np.atleast_1d(az.plot_rank(idata, var_names=var_names, kind="vlines", figsize=(3 * len(var_names), 2.6)))
    fig = axes.flat[0].figure
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_energy(idata, title: str = ""):
    """Marginal vs transition energy: the two should overlap (BFMI near 1)."""
    ax = az.plot_energy(idata, figsize=(4, 2.6))
    if title:
        ax.set_title(title, fontsize=10)
    return ax.figure


def plot_fit_diagnostics(idata, var_names, title: str = ""):
    """One row per fit: a rank plot per quantity, then the energy plot (if sample stats exist).

    Small multiples keep a report with dozens of fits readable: every fit gets the same
    panels in the same places."""
    has_energy = "energy" in getattr(idata, "sample_stats", {})
    n = len(var_names) + has_energy
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.2), squeeze=False)
    axes = axes[0]
    az.plot_rank(idata, var_names=list(var_names), kind="vlines", ax=axes[: len(var_names)])
    for ax in axes[: len(var_names)]:
        ax.set_title(ax.get_title(), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("rank", fontsize=7)
    if has_energy:
        az.plot_energy(idata, ax=axes[-1], legend=False, textsize=7)
        bfmi = np.atleast_1d(az.bfmi(idata))
        axes[-1].set_title(f"energy (min BFMI {bfmi.min():.2f})", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def close(fig) -> None:
    plt.close(fig)
