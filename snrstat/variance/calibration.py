"""Simulation-based calibration of :func:`snrstat.variance.fit_variance` (Talts et al. 2018).

For each design, draw the parameters from the fit's own priors, simulate records with
:func:`snrstat.variance.simulate` (binomial item sampling, so the default ``logit_normal``
approximation is checked too), fit, and record whether the central 50% and 90% credible
intervals cover the truth, and the truth's rank among the posterior draws. Over many data
sets the coverage must match the nominal level within binomial error: a coverage far from
nominal is a bug (science.md section 5).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from snrstat.variance.simulate import simulate
from snrstat.variance.spec import Priors

#: Quantities whose coverage is checked (when the design has them).
QUANTITIES = ("sigma_model", "sigma_seed", "sigma_order", "sigma_ckpt", "signal", "noise", "snr", "snr_pop")
LEVELS = (0.5, 0.9)


@dataclass(frozen=True)
class SBCDesign:
    """A simulation design: sizes and which noise components exist."""

    name: str
    n_models: int
    n_seeds: int = 1
    n_orders: int = 1
    n_ckpt: int = 5
    n_items: int = 1000

    @property
    def components(self) -> tuple[str, ...]:
        comps = ["model"]
        if self.n_seeds > 1:
            comps.append("seed")
        if self.n_orders > 1:
            comps.append("data_order")
        if self.n_ckpt > 1:
            comps.append("ckpt")
        return tuple(comps)


#: The three designs of the calibration study (issue 4).
DESIGNS = (
    SBCDesign("25x3seeds x5ckpt", n_models=25, n_seeds=3, n_ckpt=5),
    SBCDesign("10x1seed x30ckpt", n_models=10, n_seeds=1, n_ckpt=30),
    SBCDesign("6x3seeds x2orders x5ckpt", n_models=6, n_seeds=3, n_orders=2, n_ckpt=5),
)


def draw_truth(design: SBCDesign, priors: Priors, rng: np.random.Generator) -> dict:
    """Link-scale parameters from the fit's priors (0 for components the design lacks)."""
    half = lambda s: float(abs(rng.normal(0.0, s)))
    comps = design.components
    return {
        "mu": float(rng.normal(0.0, priors.mu)),
        "sigma_model": half(priors.model),
        "sigma_seed": half(priors.noise) if "seed" in comps else 0.0,
        "sigma_order": half(priors.noise) if "data_order" in comps else 0.0,
        "sigma_ckpt": half(priors.noise) if "ckpt" in comps else 0.0,
    }


def run_sbc(designs=DESIGNS, n_per_design: int = 35, *, draws: int = 500, tune: int = 500, chains: int = 4,
            seed: int = 20250, likelihood: str = "logit_normal", progress: bool = True) -> pd.DataFrame:
    """One row per (data set, quantity): truth, posterior median, interval coverage, rank.

    Data sets of one design share a compiled graph (they differ only in data). Columns:
    ``design, dataset, quantity, truth, median, in50, in90, rank`` (the number of posterior
    draws below the truth, out of ``n_draws``), ``n_draws``, ``ok`` (sampler diagnostics)
    and ``seconds`` (fit wall time).
    """
    from snrstat.variance.api import fit_variance

    priors = Priors.default("logit")
    rows = []
    rng = np.random.default_rng(seed)
    done, total = 0, len(designs) * n_per_design
    for d in designs:
        for i in range(n_per_design):
            theta = draw_truth(d, priors, rng)
            frame, truth = simulate(n_models=d.n_models, n_seeds=d.n_seeds, n_orders=d.n_orders, n_ckpt=d.n_ckpt,
                                    n_items=d.n_items, crossed=True, likelihood="binomial",
                                    random_seed=int(rng.integers(2**31)), **theta)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_variance(frame, likelihood=likelihood, components=d.components, priors=priors,
                                   random_seed=int(rng.integers(2**31)), draws=draws, tune=tune, chains=chains,
                                   progress=False)
            secs = time.perf_counter() - t0
            post = fit.idata.posterior
            for q in QUANTITIES:
                if q not in post or (q.startswith("sigma_") and q[6:] not in _short(d.components)):
                    continue
                x = post[q].values.ravel()
                tv = truth[q]
                lo50, hi50, lo90, hi90 = np.quantile(x, [0.25, 0.75, 0.05, 0.95])
                rows.append({"design": d.name, "dataset": i, "quantity": q, "truth": tv, "median": np.median(x),
                             "in50": lo50 <= tv <= hi50, "in90": lo90 <= tv <= hi90,
                             "rank": int((x < tv).sum()), "n_draws": x.size, "ok": fit.diagnostics.ok,
                             "seconds": secs})
            done += 1
            if progress:
                print(f"  fit {done}/{total} ({d.name} #{i + 1}/{n_per_design}): {secs:.1f} s, target_accept "
                      f"{fit.settings['target_accept']}, diagnostics {'ok' if fit.diagnostics.ok else 'FAILED'}",
                      flush=True)
    return pd.DataFrame(rows)


def _short(components) -> set[str]:
    return {{"data_order": "order"}.get(c, c) for c in components}


def coverage_table(results: pd.DataFrame, by=("quantity",), alpha: float = 0.01) -> pd.DataFrame:
    """Coverage of the 50% and 90% intervals with two-sided binomial acceptance bounds.

    ``ok50``/``ok90`` say whether the count of covering intervals lies inside the central
    ``1 - alpha`` range of Binomial(n, level): a miss is evidence of miscalibration.
    """
    g = results.groupby(list(by))
    out = pd.DataFrame({"n": g.size(), "cover50": g["in50"].mean(), "cover90": g["in90"].mean()})
    for level in LEVELS:
        tag = f"{int(level * 100)}"
        n = out["n"].to_numpy()
        lo = stats.binom.ppf(alpha / 2, n, level) / n
        hi = stats.binom.isf(alpha / 2, n, level) / n
        out[f"lo{tag}"], out[f"hi{tag}"] = lo, hi
        cov = out[f"cover{tag}"].to_numpy()
        out[f"ok{tag}"] = (cov >= lo) & (cov <= hi)
    return out


def rank_uniformity(results: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Chi-square test that the normalised ranks of each quantity are uniform (SBC's check)."""
    rows = {}
    for q, sub in results.groupby("quantity"):
        u = sub["rank"].to_numpy() / sub["n_draws"].to_numpy()
        counts = np.histogram(u, bins=bins, range=(0, 1))[0]
        rows[q] = {"n": len(u), "chi2": float(stats.chisquare(counts).statistic),
                   "p": float(stats.chisquare(counts).pvalue)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("quantity")
