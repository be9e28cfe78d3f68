"""Simulated item-level data from the item model's own generative process (for calibration).

:func:`simulate_items` draws every parameter from the priors of :class:`ItemPriors` (so that
simulation-based calibration, Talts et al. 2018, checks the whole fit) unless a value is given,
then answers: one record per (model, run, checkpoint, item).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from snrstat.items.design import ItemPriors


def simulate_items(
    *,
    n_models: int = 6,
    n_items: int = 200,
    n_categories: int = 4,
    runs_per_model: int = 1,
    ckpts_per_run: int = 1,
    n_options: int | None = None,
    twopl: bool = False,
    interaction: bool = False,
    priors: ItemPriors | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict]:
    """A tidy item-level frame and the true parameters (dict of arrays) that generated it."""
    pr = priors or ItemPriors()
    rng = np.random.default_rng(seed)
    hn = lambda s, size=None: np.abs(rng.normal(0, s, size))  # noqa: E731 - half-normal draw
    sigma_theta = hn(pr.theta)
    theta = rng.normal(0, sigma_theta, n_models)
    theta = theta - theta.mean()  # the model's ZeroSumNormal abilities
    mu_b = rng.normal(0, pr.location)
    tau = rng.gamma(2.0, pr.category / 2.0)
    zc = rng.normal(0, 1, n_categories)
    mu_c = mu_b + tau * (zc - zc.mean()) if n_categories > 1 else np.array([mu_b])  # zero-sum deviations
    sigma_c = hn(pr.item, n_categories)
    # balanced, fixed categories: simulated data sets of one design share their index arrays,
    # so one compiled model serves them all
    cat = np.arange(n_items) * n_categories // n_items
    b = mu_c[cat] + sigma_c[cat] * rng.normal(0, 1, n_items)
    truth = {"theta": theta, "sigma_theta": sigma_theta, "mu_b": mu_b, "tau": tau, "mu_c": mu_c,
             "sigma_c": sigma_c, "b": b, "item_category": cat}
    a = np.ones(n_items)
    if twopl:
        sigma_a = hn(pr.discrimination)
        a = np.exp(sigma_a * rng.normal(0, 1, n_items))
        truth.update(sigma_a=sigma_a, a=a)
    delta = np.zeros((n_models, n_categories))
    if interaction:
        sigma_mc = hn(pr.interaction)
        delta = sigma_mc * rng.normal(0, 1, (n_models, n_categories))
        # the model's doubly zero-sum interaction (theta is each model's mean over categories)
        delta = delta - delta.mean(0, keepdims=True) - delta.mean(1, keepdims=True) + delta.mean()
        truth.update(sigma_mc=sigma_mc, delta=delta)
    sigma_run = hn(pr.training) if runs_per_model > 1 else 0.0
    sigma_ckpt = hn(pr.training) if ckpts_per_run > 1 else 0.0
    if runs_per_model > 1:
        truth["sigma_run"] = sigma_run
    if ckpts_per_run > 1:
        truth["sigma_ckpt"] = sigma_ckpt
    g = 0.0 if n_options is None else 1.0 / n_options
    models = [f"m{i:02d}" for i in range(n_models)]
    cats = [f"c{c}" for c in range(n_categories)]
    parts = []
    for m in range(n_models):
        for r in range(runs_per_model):
            u = rng.normal(0, sigma_run) if runs_per_model > 1 else 0.0
            for c in range(ckpts_per_run):
                w = rng.normal(0, sigma_ckpt) if ckpts_per_run > 1 else 0.0
                eta = a * (theta[m] + delta[m, cat] + u + w - b)
                y = rng.random(n_items) < g + (1 - g) * special.expit(eta)
                parts.append(pd.DataFrame({
                    "task": "sim", "subtask": np.array(cats)[cat], "metric": "acc", "model": models[m],
                    "seed": str(r) if runs_per_model > 1 else None,
                    "step": (c + 1) * 100 if ckpts_per_run > 1 else None,
                    "item": [f"q{i:04d}" for i in range(n_items)], "value": y.astype(float)}))
    truth["models"] = models
    truth["guess"] = g
    return pd.concat(parts, ignore_index=True), truth
